//! The Seamless SSO ("desktop SSO") registration service: where Entra Connect hands Entra the
//! key of the `AZUREADSSOACC` computer account. Facts from AADInternals (`Set-AADIntDesktopSSO`,
//! `Set-AADIntDesktopSSOEnabled`, `Get-AADIntDesktopSSO`) and its Python port (`set_desktop_sso`):
//! `POST https://{tenant}.registration.msappproxy.net/register/{EnableDesktopSsoFlag |
//! EnableDesktopSso | GetDesktopSsoStatus}`, an XML body holding an administrator's access token
//! for `https://proxy.cloudwebappproxy.net/registerapp` (client `cb1056e2-…`, Azure AD Connect).

use std::time::Duration;

use zeroize::Zeroizing;

use super::auth::AccessToken;
use super::nbfx::from_xml;

/// Azure AD Connect's public client, which the registration service's tokens are issued to.
pub const CONNECT_CLIENT_ID: &str = "cb1056e2-e479-49de-ae31-7812af012ed8";
/// The v2 scope of the registration service's tokens.
pub const REGISTER_APP_SCOPE: &str = "https://proxy.cloudwebappproxy.net/registerapp/.default";
const NS_REGISTRATION: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.RegistrationCommons.Registration";
const NS_SECURITY: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.Security.AadSecurity";
const NS_INSTANCE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Why a registration call failed. Never carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum DesktopSsoError {
    #[error("cannot reach the Seamless SSO registration service at {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("the Seamless SSO registration service refused {operation} (HTTP {status}): {message}")]
    Refused { operation: &'static str, status: u16, message: String },
    #[error("the Seamless SSO registration service's answer to {operation} is not understood: {reason}")]
    BadResponse { operation: &'static str, reason: String },
}

/// The tenant's state as `GetDesktopSsoStatus` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopSsoStatus {
    pub enabled: bool,
    pub domains: Vec<String>,
}

/// The registration service, called with one administrator's token (for this command only).
pub struct RegistrationService {
    http: reqwest::Client,
    base: String,
    token: AccessToken,
}

/// Microsoft's service is per tenant (`{tenant}.registration.msappproxy.net`); any other
/// authority (the emulator) serves it under its own base URL.
pub fn service_base(authority: &str, tenant_id: &str) -> String {
    if authority.trim_end_matches('/').eq_ignore_ascii_case(super::auth::DEFAULT_AUTHORITY) {
        format!("https://{tenant_id}.registration.msappproxy.net")
    } else {
        authority.trim_end_matches('/').to_owned()
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl RegistrationService {
    pub fn new(http: reqwest::Client, base: &str, token: AccessToken) -> RegistrationService {
        RegistrationService { http, base: base.trim_end_matches('/').to_owned(), token }
    }

    fn token_element(&self) -> String {
        format!(
            "<AuthenticationToken xmlns=\"{NS_SECURITY}\">{}</AuthenticationToken>",
            escape(self.token.secret_jwt())
        )
    }

    /// The tenant-wide switch (`EnableDesktopSsoFlag`).
    pub async fn set_enabled(&self, enable: bool) -> Result<(), DesktopSsoError> {
        let body = Zeroizing::new(format!(
            "<DesktopSsoEnablementRequest xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\">{}<Enable>{enable}</Enable></DesktopSsoEnablementRequest>",
            self.token_element()
        ));
        let answer = self.post("EnableDesktopSsoFlag", body).await?;
        success("EnableDesktopSsoFlag", &answer)
    }

    /// Registers (or re-keys) the domain with the account's password (`EnableDesktopSso`,
    /// Enable = true). Entra derives the AES key from it with the account's salt.
    pub async fn register_domain(&self, computer: &str, domain: &str, secret: &str) -> Result<(), DesktopSsoError> {
        let body = Zeroizing::new(format!(
            "<DesktopSsoRequest xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\">{}<ComputerName>{}</ComputerName><DomainName>{}</DomainName><Enable>true</Enable><Secret>{}</Secret></DesktopSsoRequest>",
            self.token_element(),
            escape(computer),
            escape(domain),
            Zeroizing::new(escape(secret)).as_str()
        ));
        let answer = self.post("EnableDesktopSso", body).await?;
        success("EnableDesktopSso", &answer)
    }

    /// Removes the domain's registration (`EnableDesktopSso`, Enable = false).
    pub async fn unregister_domain(&self, computer: &str, domain: &str) -> Result<(), DesktopSsoError> {
        let body = Zeroizing::new(format!(
            "<DesktopSsoRequest xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\">{}<ComputerName>{}</ComputerName><DomainName>{}</DomainName><Enable>false</Enable></DesktopSsoRequest>",
            self.token_element(),
            escape(computer),
            escape(domain)
        ));
        let answer = self.post("EnableDesktopSso", body).await?;
        success("EnableDesktopSso", &answer)
    }

    /// `GetDesktopSsoStatus`.
    pub async fn status(&self) -> Result<DesktopSsoStatus, DesktopSsoError> {
        const OP: &str = "GetDesktopSsoStatus";
        let body = Zeroizing::new(format!(
            "<TokenAuthenticationRequest xmlns=\"{NS_SECURITY}\" xmlns:i=\"{NS_INSTANCE}\"><AuthenticationToken>{}</AuthenticationToken></TokenAuthenticationRequest>",
            escape(self.token.secret_jwt())
        ));
        let answer = self.post(OP, body).await?;
        let root =
            from_xml(&answer).map_err(|e| DesktopSsoError::BadResponse { operation: OP, reason: e.to_string() })?;
        let view = root.view();
        if view.child_text(NS_REGISTRATION, "IsSuccessful").as_deref().map(str::trim) != Some("true") {
            let message = view.child_text(NS_REGISTRATION, "ErrorMessage").unwrap_or_default();
            return Err(DesktopSsoError::Refused { operation: OP, status: 200, message });
        }
        let enabled = view.child_text(NS_REGISTRATION, "Enable").as_deref().map(str::trim) == Some("true");
        let domains = view
            .child(NS_REGISTRATION, "Domains")
            .map(|d| d.children().map(|c| c.text().trim().to_owned()).filter(|t| !t.is_empty()).collect())
            .unwrap_or_default();
        Ok(DesktopSsoStatus { enabled, domains })
    }

    /// One POST; the body (with the token, maybe the secret) is wiped once sent.
    async fn post(&self, operation: &'static str, body: Zeroizing<String>) -> Result<String, DesktopSsoError> {
        let url = format!("{}/register/{operation}", self.base);
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/xml; charset=utf-8")
            .timeout(Duration::from_secs(60))
            .body(body.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| DesktopSsoError::Transport { url: url.clone(), reason: e.to_string() })?;
        drop(body);
        let status = response.status();
        let text = response.text().await.map_err(|e| DesktopSsoError::Transport { url, reason: e.to_string() })?;
        if !status.is_success() {
            let message = from_xml(&text)
                .ok()
                .and_then(|r| r.view().child_text(NS_REGISTRATION, "ErrorMessage"))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(DesktopSsoError::Refused { operation, status: status.as_u16(), message });
        }
        Ok(text)
    }
}

/// A `DesktopSsoEnablementResult`: IsSuccessful must be true.
fn success(operation: &'static str, answer: &str) -> Result<(), DesktopSsoError> {
    let root = from_xml(answer).map_err(|e| DesktopSsoError::BadResponse { operation, reason: e.to_string() })?;
    let view = root.view();
    if !view.is(NS_REGISTRATION, "DesktopSsoEnablementResult") {
        return Err(DesktopSsoError::BadResponse { operation, reason: "not a DesktopSsoEnablementResult".into() });
    }
    if view.child_text(NS_REGISTRATION, "IsSuccessful").as_deref().map(str::trim) == Some("true") {
        Ok(())
    } else {
        let message = view.child_text(NS_REGISTRATION, "ErrorMessage").unwrap_or_default();
        Err(DesktopSsoError::Refused { operation, status: 200, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_per_tenant_at_microsoft_and_the_authority_elsewhere() {
        assert_eq!(service_base("https://login.microsoftonline.com/", "t1"), "https://t1.registration.msappproxy.net");
        assert_eq!(service_base("http://127.0.0.1:8080/", "t1"), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_result_is_successful_only_when_it_says_so() {
        let ok = format!(
            "<DesktopSsoEnablementResult xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\"><ErrorMessage i:nil=\"true\"/><IsSuccessful>true</IsSuccessful></DesktopSsoEnablementResult>"
        );
        assert!(success("EnableDesktopSso", &ok).is_ok());
        let refused = ok
            .replace("<IsSuccessful>true", "<IsSuccessful>false")
            .replace("<ErrorMessage i:nil=\"true\"/>", "<ErrorMessage>no</ErrorMessage>");
        assert!(matches!(
            success("EnableDesktopSso", &refused),
            Err(DesktopSsoError::Refused { message, .. }) if message == "no"
        ));
        assert!(success("EnableDesktopSso", "<Other/>").is_err());
        assert_eq!(escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
