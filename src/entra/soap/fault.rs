//! SOAP faults: what a fault element says, and which kind of failure it is. The texts of
//! several kinds are not documented, so the patterns are configurable.

use crate::entra::nbfx::ElementRef;

/// The parts of a fault the client looks at, read by local name (the detail namespaces are
/// not documented).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawFault {
    /// `s:Code/s:Value` (SOAP 1.1: `faultcode`).
    pub code: Option<String>,
    /// `s:Code/s:Subcode/s:Value`, e.g. `a:ActionNotSupported`.
    pub subcode: Option<String>,
    /// `s:Reason/s:Text` (SOAP 1.1: `faultstring`); empty when absent.
    pub reason: String,
    /// Local name of the first element in `s:Detail`.
    pub detail: Option<String>,
    /// Text of the first `ErrorDescription` anywhere in the response.
    pub error_description: Option<String>,
    /// `BindingRedirectionFault/Url`.
    pub redirect_url: Option<String>,
}

/// A fault, by what the client must do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// Insufficient role: re-authenticate with a suitable account.
    #[error(
        "Entra denied access (the account needs the Global Administrator or Directory Synchronization Accounts role): {message}"
    )]
    AccessDenied { message: String },
    /// The token was refused as expired or invalid: a fresh token may help.
    #[error("Entra refused the access token: {message}")]
    TokenRejected { message: String },
    /// `BindingRedirectionFault`: the tenant is served by another host.
    #[error("Entra redirected the request to {url}")]
    Redirect { url: String },
    /// The service asks to slow down.
    #[error("Entra is throttling requests: {message}")]
    Throttled { message: String },
    /// Directory synchronisation is not enabled for the tenant.
    #[error("directory synchronisation is not activated for this tenant: {message}")]
    SyncNotActivated { message: String },
    /// The service no longer accepts the client build.
    #[error("Entra no longer accepts this client build: {message}")]
    OutdatedClient { message: String },
    /// The service could not deserialise the request: an encoder bug or an API change.
    #[error("Entra could not read the request (formatter fault): {message}")]
    Deserialization { message: String },
    /// A fault carrying an `ErrorDescription`.
    #[error("Entra reported an error: {description}")]
    Service { description: String, reason: String },
    /// Any other fault.
    #[error("Entra answered with a SOAP fault{}: {reason}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Other { code: Option<String>, reason: String },
}

/// Case-insensitive substrings that identify fault kinds in the reason text or the
/// `ErrorDescription`. The defaults hold the texts known from the open-source ports and guesses
/// for the unknown ones; deployments can extend them without a new release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRules {
    pub access_denied: Vec<String>,
    pub token_rejected: Vec<String>,
    pub throttled: Vec<String>,
    pub sync_not_activated: Vec<String>,
    pub outdated_client: Vec<String>,
    pub deserialization: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for FaultRules {
    fn default() -> Self {
        FaultRules {
            access_denied: strings(&["Access to Azure Active Directory has been denied"]),
            token_rejected: strings(&[
                "token has expired",
                "token is expired",
                "expired token",
                "lifetime validation failed",
                "invalid token",
                "token is not valid",
            ]),
            throttled: strings(&["throttl"]),
            sync_not_activated: strings(&["Identity synchronization is not yet activated"]),
            outdated_client: strings(&[
                "DirSyncBuildNumber",
                "build number",
                "client version is not supported",
                "version is no longer supported",
                "blacklisted",
                "minimum supported version",
                "upgrade to the latest version",
            ]),
            deserialization: strings(&["The formatter threw an exception", "error while trying to deserialize"]),
        }
    }
}

impl FaultRules {
    /// Which kind of fault `raw` is.
    pub fn classify(&self, raw: &RawFault) -> Fault {
        if let Some(url) = &raw.redirect_url {
            return Fault::Redirect { url: url.clone() };
        }
        let message = match &raw.error_description {
            Some(d) if raw.reason.is_empty() => d.clone(),
            _ => raw.reason.clone(),
        };
        let haystack = format!("{}\n{}", raw.reason, raw.error_description.as_deref().unwrap_or("")).to_lowercase();
        let hit = |patterns: &[String]| patterns.iter().any(|p| !p.is_empty() && haystack.contains(&p.to_lowercase()));
        if hit(&self.throttled) {
            Fault::Throttled { message }
        } else if hit(&self.access_denied) {
            Fault::AccessDenied { message }
        } else if hit(&self.token_rejected) {
            Fault::TokenRejected { message }
        } else if hit(&self.sync_not_activated) {
            Fault::SyncNotActivated { message }
        } else if hit(&self.outdated_client) {
            Fault::OutdatedClient { message }
        } else if hit(&self.deserialization) {
            Fault::Deserialization { message }
        } else if let Some(description) = &raw.error_description {
            Fault::Service { description: description.clone(), reason: raw.reason.clone() }
        } else {
            Fault::Other { code: raw.subcode.clone().or_else(|| raw.code.clone()), reason: raw.reason.clone() }
        }
    }
}

impl RawFault {
    /// Reads a `Fault` element (SOAP 1.2, or 1.1 as a courtesy); `envelope` is searched for an
    /// `ErrorDescription` anywhere, as the ports do.
    pub fn read(fault: &ElementRef<'_>, envelope: &ElementRef<'_>) -> RawFault {
        let code = fault.children().find(|c| c.local_name() == "Code");
        let value_of = |e: &ElementRef<'_>| child_local(e, "Value").map(|v| v.text().trim().to_owned());
        let reason = child_local(fault, "Reason")
            .and_then(|r| child_local(&r, "Text"))
            .or_else(|| child_local(fault, "faultstring"))
            .map(|t| t.text().trim().to_owned())
            .unwrap_or_default();
        let detail = child_local(fault, "Detail").or_else(|| child_local(fault, "detail"));
        RawFault {
            code: code.as_ref().and_then(value_of).or_else(|| child_local(fault, "faultcode").map(|c| c.text())),
            subcode: code.as_ref().and_then(|c| child_local(c, "Subcode")).as_ref().and_then(value_of),
            reason,
            detail: detail.as_ref().and_then(|d| d.children().next()).map(|e| e.local_name().to_owned()),
            error_description: find_local(envelope, "ErrorDescription").map(|e| e.text().trim().to_owned()),
            redirect_url: find_local(envelope, "BindingRedirectionFault")
                .and_then(|b| child_local(&b, "Url"))
                .map(|u| u.text().trim().to_owned())
                .filter(|u| !u.is_empty()),
        }
    }
}

/// First child with this local name, whatever its namespace.
pub(crate) fn child_local<'a>(element: &ElementRef<'a>, local: &str) -> Option<ElementRef<'a>> {
    element.children().find(|c| c.local_name() == local)
}

/// First descendant (depth first, document order) with this local name.
pub(crate) fn find_local<'a>(root: &ElementRef<'a>, local: &str) -> Option<ElementRef<'a>> {
    let mut stack = vec![root.clone()];
    while let Some(element) = stack.pop() {
        if element.local_name() == local {
            return Some(element);
        }
        let children: Vec<_> = element.children().collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(reason: &str) -> RawFault {
        RawFault { reason: reason.to_owned(), ..RawFault::default() }
    }

    #[test]
    fn classifies_the_known_texts() {
        let rules = FaultRules::default();
        assert!(matches!(rules.classify(&raw(crate::entra::soap::ACCESS_DENIED_TEXT)), Fault::AccessDenied { .. }));
        assert!(matches!(rules.classify(&raw("Request was Throttled, retry later")), Fault::Throttled { .. }));
        assert!(matches!(
            rules.classify(&raw("Identity synchronization is not yet activated for this company.")),
            Fault::SyncNotActivated { .. }
        ));
        assert!(matches!(
            rules.classify(&raw("The formatter threw an exception while trying to deserialize the message: x")),
            Fault::Deserialization { .. }
        ));
        assert!(matches!(
            rules.classify(&raw("The DirSyncBuildNumber 1.5.29.0 is blacklisted")),
            Fault::OutdatedClient { .. }
        ));
        assert!(matches!(rules.classify(&raw("Security token has expired")), Fault::TokenRejected { .. }));
        let other = rules.classify(&RawFault {
            subcode: Some("a:ActionNotSupported".into()),
            reason: "no such action".into(),
            ..RawFault::default()
        });
        assert_eq!(other, Fault::Other { code: Some("a:ActionNotSupported".into()), reason: "no such action".into() });
    }

    #[test]
    fn redirect_and_description_win_over_plain_reason() {
        let rules = FaultRules::default();
        let redirect = RawFault { redirect_url: Some("https://x/p.svc".into()), ..raw("moved") };
        assert_eq!(rules.classify(&redirect), Fault::Redirect { url: "https://x/p.svc".into() });
        let described = RawFault { error_description: Some("object too big".into()), ..raw("failed") };
        assert_eq!(
            rules.classify(&described),
            Fault::Service { description: "object too big".into(), reason: "failed".into() }
        );
        // The description alone can classify the fault.
        let throttled_detail = RawFault { error_description: Some("Tenant is being throttled".into()), ..raw("") };
        assert_eq!(rules.classify(&throttled_detail), Fault::Throttled { message: "Tenant is being throttled".into() });
    }

    #[test]
    fn rules_are_configurable() {
        let rules = FaultRules { outdated_client: vec!["please update".into()], ..FaultRules::default() };
        assert!(matches!(rules.classify(&raw("Please update your client")), Fault::OutdatedClient { .. }));
        assert!(matches!(rules.classify(&raw("DirSyncBuildNumber too old")), Fault::Other { .. }));
    }
}
