//! `samba-entra-sync register-app --config FILE [--dry-run]`: sets up application-based sign-in
//! as Entra Connect's wizard does. An administrator signs in once (device
//! code, Microsoft Graph Command Line Tools, delegated Graph scopes; the token stays in memory),
//! then through Microsoft Graph: find or create the application `SambaEntraSync_<host>` with a
//! certificate made on this DC, its service principal, and the sync app's
//! `ADSynchronization.ReadWrite.All` role for it; the config switches to `method = "certificate"`
//! and a client-credentials token plus `GetCompanyConfiguration` prove it. Every step is
//! idempotent, so a second run (or a run after a failure) creates nothing twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value as J, json};

use super::{CliResult, Failure};
use crate::config::{AuthMethodConfig, Config};
use crate::entra::auth::Clock as _;
use crate::entra::auth::rotation::AppKeyRecord;
use crate::entra::auth::{
    AccessToken, AppCredential, AuthSettings, DeviceCodePrompt, SYNC_SERVICE_APP_ID, SystemClock, TokenSource,
    device_code_access_token, generate_credential, graph_base,
};
use crate::entra::http::http_client;

/// Microsoft Graph Command Line Tools: a first-party public client that may call Graph.
pub(crate) const GRAPH_CLI_CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
/// The id of `ADSynchronization.ReadWrite.All` on the sync app (Learn `authenticate-application-id`).
pub(crate) const SYNC_APP_ROLE_ID: &str = "ab43b826-2c7a-4aff-9ecd-d0629d0ca6a9";
const SYNC_APP_ROLE: &str = "ADSynchronization.ReadWrite.All";
/// The delegated Graph permissions the steps need.
const GRAPH_SCOPES: &str = "https://graph.microsoft.com/Application.ReadWrite.All \
                            https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All openid profile";
const APPLICATION_RIGHTS: &str = "the delegated permission Application.ReadWrite.All and a role that may manage \
     applications (Application Administrator, Cloud Application Administrator, Hybrid Identity Administrator or \
     Global Administrator)";
const ROLE_RIGHTS: &str = "the delegated permission AppRoleAssignment.ReadWrite.All and the role Hybrid Identity \
     Administrator or Global Administrator";

#[derive(clap::Args, Debug)]
pub struct RegisterAppArgs {
    /// The daemon's config file; [entra.auth] is rewritten (a backup is kept).
    #[arg(long, value_name = "FILE", default_value = "/etc/samba-entra-sync/config.toml")]
    pub config: PathBuf,
    /// Print the Graph calls it would make and change nothing (no sign-in).
    #[arg(long)]
    pub dry_run: bool,
    /// Microsoft Graph's base URL (default: https://graph.microsoft.com, or the authority when
    /// [entra] authority is not Microsoft's, e.g. the emulator).
    #[arg(long, value_name = "URL")]
    pub graph: Option<String>,
    /// The application's display name (default: SambaEntraSync_<short host name>).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `samba-entra-sync register-app`.
pub fn run(args: &RegisterAppArgs) -> CliResult {
    let config = super::config::load(&args.config)?;
    let plan = Plan::new(args, &config)?;
    if args.dry_run {
        plan.print_dry_run();
        return Ok(());
    }
    super::runtime()?.block_on(plan.execute(&args.config))
}

/// What the command works on.
struct Plan {
    graph: String,
    name: String,
    certificate: PathBuf,
    private_key: PathBuf,
    settings: AuthSettings,
    /// `[entra.auth] certificate_validity`.
    validity: Duration,
    /// Where the daemon keeps the application's object id and key id (for renewals).
    state_db: PathBuf,
}

fn short_host_name() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let short = host.trim().split('.').next().unwrap_or("").to_owned();
    if short.is_empty() { "localhost".to_owned() } else { short }
}

impl Plan {
    fn new(args: &RegisterAppArgs, config: &Config) -> Result<Plan, Failure> {
        let settings = crate::sync::settings::auth_settings(config);
        let graph = args.graph.clone().unwrap_or_else(|| graph_base(&settings.authority));
        // The key and certificate live next to the token cache (the daemon's state directory).
        let dir =
            config.entra.auth.token_cache.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Ok(Plan {
            graph: graph.trim_end_matches('/').to_owned(),
            name: args.name.clone().unwrap_or_else(|| format!("SambaEntraSync_{}", short_host_name())),
            certificate: dir.join("app.pem"),
            private_key: dir.join("app.key"),
            settings,
            validity: config.entra.auth.certificate_validity,
            state_db: config.state.db.clone(),
        })
    }

    fn print_dry_run(&self) {
        let g = &self.graph;
        let n = &self.name;
        println!("register-app --dry-run: nothing is signed in, made or written. It would:");
        println!(
            "  sign in an administrator: device code at {} (client {GRAPH_CLI_CLIENT}, scopes {GRAPH_SCOPES})",
            self.settings.device_code_endpoint()
        );
        println!(
            "  use or make the key {} (mode 0600) and certificate {} (RSA 2048, SHA-256, {} days)",
            self.private_key.display(),
            self.certificate.display(),
            self.validity.as_secs() / 86_400
        );
        println!("  GET  {g}/v1.0/applications?$filter=displayName eq '{n}'");
        println!(
            "  POST {g}/v1.0/applications {{displayName: {n}, keyCredentials: [the certificate]}}  (only if none exists)"
        );
        println!(
            "  PATCH {g}/v1.0/applications/<id> {{keyCredentials: [the new certificate]}}  (only if this DC's certificate had expired)"
        );
        println!("  GET  {g}/v1.0/servicePrincipals?$filter=appId eq '<the application's appId>'");
        println!("  POST {g}/v1.0/servicePrincipals {{appId}}  (only if none exists)");
        println!("  GET  {g}/v1.0/servicePrincipals?$filter=appId eq '{SYNC_SERVICE_APP_ID}'");
        println!("  GET  {g}/v1.0/servicePrincipals/<sync app's id>/appRoleAssignedTo");
        println!(
            "  POST {g}/v1.0/servicePrincipals/<sync app's id>/appRoleAssignedTo {{appRoleId: {SYNC_APP_ROLE_ID} ({SYNC_APP_ROLE})}}  (only if not yet granted)"
        );
        println!(
            "  record the application's object id and the certificate's key id in {} (for automatic renewal)",
            self.state_db.display()
        );
        println!(
            "  rewrite [entra.auth] of the config: method = \"certificate\", client_id, certificate, private_key (backup kept)"
        );
        println!(
            "  prove it: a client-credentials token at {} and GetCompanyConfiguration",
            self.settings.token_endpoint()
        );
    }

    async fn execute(&self, config_path: &Path) -> CliResult {
        let http = http_client(&self.settings.http_settings()).map_err(Failure::usage)?;
        // Loading the pair checks that the key and the certificate belong together.
        let (credential, cert_der, fresh) = self.key_pair()?;
        let token = device_code_access_token(&self.settings, GRAPH_CLI_CLIENT, GRAPH_SCOPES, &http, print_prompt)
            .await
            .map_err(|e| Failure::runtime(format!("the administrator's sign-in failed: {e}")))?;
        println!("signed in the administrator (the token is used for this command only and not stored)");
        let graph = Graph { http: http.clone(), base: self.graph.clone(), token };

        let application = self.application(&graph, &cert_der, fresh).await?;
        let app_id = str_of(&application, "appId")?;
        self.record(&application, &app_id, &credential, &cert_der, fresh)?;
        let principal = service_principal(&graph, &app_id).await?;
        grant_sync_role(&graph, &principal).await?;
        drop(graph);
        drop(credential);

        let backup = self.rewrite_config(config_path, &app_id)?;
        match backup {
            Some(b) => println!(
                "config: {} now signs in as application {app_id} (backup: {})",
                config_path.display(),
                b.display()
            ),
            None => println!("config: {} already signs in as application {app_id}", config_path.display()),
        }
        self.prove(config_path).await
    }

    /// Records what the daemon needs to renew the certificate by itself: the application's object
    /// id and the key id of this DC's certificate (the daemon cannot read its application).
    fn record(
        &self,
        application: &J,
        app_id: &str,
        credential: &AppCredential,
        cert_der: &[u8],
        fresh: bool,
    ) -> CliResult {
        let thumbprint = hex::encode_upper(sha1_of(cert_der));
        let key_id = application
            .get("keyCredentials")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .find(|k| {
                k.get("customKeyIdentifier").and_then(J::as_str).is_some_and(|c| c.eq_ignore_ascii_case(&thumbprint))
            })
            .and_then(|k| k.get("keyId").and_then(J::as_str))
            .ok_or_else(|| {
                Failure::runtime(format!("Microsoft Graph does not show the key id of the certificate {thumbprint}"))
            })?;
        let record = AppKeyRecord {
            app_id: app_id.to_owned(),
            object_id: str_of(application, "id")?,
            key_id: key_id.to_owned(),
            thumbprint: credential.thumbprint().to_owned(),
        };
        let store = crate::sync::state::State::open(&self.state_db).map_err(Failure::runtime)?;
        let fail = |e: crate::sync::cert_rotation::RotationError| Failure::runtime(e.to_string());
        if fresh {
            // A renewal the daemon had begun replaced the old certificate; there is a new one now.
            crate::sync::cert_rotation::abandon_rotation(&store).map_err(fail)?;
        }
        if crate::sync::cert_rotation::load_record(&store).map_err(fail)?.as_ref() != Some(&record) {
            crate::sync::cert_rotation::save_record(&store, &record).map_err(fail)?;
            println!(
                "recorded the application's object id {} and the certificate's key id {key_id} in {} (the daemon renews the certificate with them)",
                record.object_id,
                self.state_db.display()
            );
        }
        Ok(())
    }

    /// The DC's key and certificate: reused when both files are there and the certificate has not
    /// expired, made otherwise (`true`: made now). The private key goes only into its mode-0600 file.
    fn key_pair(&self) -> Result<(AppCredential, Vec<u8>, bool), Failure> {
        let now = SystemClock.now_unix();
        let exists = self.certificate.exists() && self.private_key.exists();
        // Only a pair that loads and has expired is replaced: a file that does not load is the
        // administrator's to look at, never overwritten.
        let expired =
            exists && AppCredential::load(&self.certificate, &self.private_key).is_ok_and(|c| c.not_after() <= now);
        if expired {
            println!("the certificate {} has expired: making a new one", self.certificate.display());
        }
        let fresh = !exists || expired;
        if fresh {
            let made = generate_credential(&self.name, self.validity, now).map_err(Failure::runtime)?;
            write_private(&self.private_key, made.private_key_pem.as_bytes(), 0o600)?;
            write_private(&self.certificate, made.certificate_pem.as_bytes(), 0o644)?;
            println!(
                "made an RSA-2048 key {} (mode 0600) and a self-signed SHA-256 certificate {} valid {} days",
                self.private_key.display(),
                self.certificate.display(),
                self.validity.as_secs() / 86_400
            );
        } else {
            println!(
                "using the existing key {} and certificate {}",
                self.private_key.display(),
                self.certificate.display()
            );
        }
        let credential = AppCredential::load(&self.certificate, &self.private_key).map_err(Failure::usage)?;
        let pem = fs::read(&self.certificate)
            .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", self.certificate.display())))?;
        let (_, der) = x509_cert::der::pem::decode_vec(&pem)
            .map_err(|e| Failure::usage(format!("{} is not a PEM certificate: {e}", self.certificate.display())))?;
        Ok((credential, der, fresh))
    }

    /// Finds `SambaEntraSync_<host>` or creates it with the certificate as its key credential.
    async fn application(&self, graph: &Graph, cert_der: &[u8], fresh: bool) -> Result<J, Failure> {
        let filter = format!("displayName eq '{}'", self.name.replace('\'', "''"));
        let found = graph
            .get("/v1.0/applications", &[("$filter", &filter)], "find the application", APPLICATION_RIGHTS)
            .await?;
        let list = found.get("value").and_then(J::as_array).cloned().unwrap_or_default();
        let thumbprint = hex::encode_upper(sha1_of(cert_der));
        match list.as_slice() {
            [] => {
                let body = json!({
                    "displayName": self.name,
                    "signInAudience": "AzureADMyOrg",
                    "keyCredentials": [key_credential(&self.name, cert_der)],
                });
                let made =
                    graph.post("/v1.0/applications", &body, "create the application", APPLICATION_RIGHTS).await?;
                println!(
                    "created the application {} (appId {}) with this DC's certificate (thumbprint {thumbprint}) as its key",
                    self.name,
                    made.get("appId").and_then(J::as_str).unwrap_or("?")
                );
                Ok(made)
            }
            [one] => {
                let keys = one.get("keyCredentials").and_then(J::as_array).cloned().unwrap_or_default();
                let holds = keys.iter().any(|k| {
                    k.get("customKeyIdentifier")
                        .and_then(J::as_str)
                        .is_some_and(|c| c.eq_ignore_ascii_case(&thumbprint))
                });
                if !holds && fresh {
                    // This DC's old key is gone or expired: its new certificate replaces the
                    // application's key credentials (Graph "Update application"; addKey would need
                    // a proof from a valid key, which there is none of).
                    let id = str_of(one, "id")?;
                    let body = json!({"keyCredentials": [key_credential(&self.name, cert_der)]});
                    graph
                        .patch(
                            &format!("/v1.0/applications/{id}"),
                            &body,
                            "replace the application's certificate",
                            APPLICATION_RIGHTS,
                        )
                        .await?;
                    println!(
                        "replaced the key credentials of the application {} with this DC's new certificate (thumbprint {thumbprint})",
                        self.name
                    );
                    return graph
                        .get(&format!("/v1.0/applications/{id}"), &[], "read the application", APPLICATION_RIGHTS)
                        .await;
                }
                if !holds {
                    return Err(Failure::runtime(format!(
                        "the application {} exists but does not hold this DC's certificate {} (thumbprint \
                         {thumbprint}); add the certificate to it in the Entra admin centre, or delete the \
                         application, or give another --name",
                        self.name,
                        self.certificate.display()
                    )));
                }
                println!(
                    "found the application {} (appId {}); it already holds this DC's certificate",
                    self.name,
                    one.get("appId").and_then(J::as_str).unwrap_or("?")
                );
                Ok(one.clone())
            }
            _ => Err(Failure::runtime(format!(
                "{} applications are named {}; delete the extra ones or give --name",
                list.len(),
                self.name
            ))),
        }
    }

    /// Sets method, client_id, certificate and private_key in [entra.auth]; `None` when it
    /// already said so.
    fn rewrite_config(&self, path: &Path, app_id: &str) -> Result<Option<PathBuf>, Failure> {
        let text =
            fs::read_to_string(path).map_err(|e| Failure::runtime(format!("cannot read {}: {e}", path.display())))?;
        let values = [
            ("method", "certificate".to_owned()),
            ("client_id", app_id.to_owned()),
            ("certificate", self.certificate.display().to_string()),
            ("private_key", self.private_key.display().to_string()),
        ];
        let new_text = set_auth_keys(&text, &values);
        let parsed = Config::parse(&new_text).map_err(|issues| {
            Failure::runtime(format!(
                "the rewritten config would not load ({}); {} is unchanged",
                issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                path.display()
            ))
        })?;
        let auth = &parsed.entra.auth;
        let expected = AuthMethodConfig::Certificate {
            certificate: self.certificate.clone(),
            private_key: self.private_key.clone(),
        };
        if auth.method != expected || auth.client_id != app_id {
            return Err(Failure::runtime(format!(
                "cannot rewrite [entra.auth] of {} line by line (is it an inline table?); set method = \"certificate\", \
                 client_id = \"{app_id}\", certificate = \"{}\" and private_key = \"{}\" by hand",
                path.display(),
                self.certificate.display(),
                self.private_key.display()
            )));
        }
        if new_text == text {
            return Ok(None);
        }
        super::install_hook::write_with_backup(path, &new_text).map(Some)
    }

    /// A client-credentials token with the new settings, then `GetCompanyConfiguration`.
    async fn prove(&self, config_path: &Path) -> CliResult {
        let config = super::config::load(config_path)?;
        let settings = crate::sync::settings::auth_settings(&config);
        let http = http_client(&settings.http_settings()).map_err(Failure::usage)?;
        let source = TokenSource::new(settings, http).map_err(Failure::usage)?;
        // A new credential takes a moment to reach every Entra replica.
        let mut last = None;
        for attempt in 0..12u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            match source.access_token().await {
                Ok(token) => {
                    last = None;
                    println!(
                        "proof: a client-credentials token for {} (expires {})",
                        token.claims().aud.as_deref().unwrap_or("?"),
                        token.expires_at()
                    );
                    break;
                }
                Err(e) => {
                    println!("waiting for Entra to accept the new credential ({e})");
                    last = Some(e);
                }
            }
        }
        if let Some(e) = last {
            return Err(Failure::runtime(format!(
                "the application cannot get a token yet: {e}; rerun register-app later"
            )));
        }
        let client = crate::daemon::sync_client(&config).map_err(Failure::runtime)?;
        let company = client.get_company_configuration().await.map_err(|e| {
            Failure::runtime(format!(
                "GetCompanyConfiguration failed with the application's token: {e}; the application needs the \
                 role {SYNC_APP_ROLE} on the sync app {SYNC_SERVICE_APP_ID}"
            ))
        })?;
        println!(
            "proof: GetCompanyConfiguration answered (tenant {}); application-based sign-in works",
            company.display_name.as_deref().or(company.tenant_id.as_deref()).unwrap_or("?")
        );
        println!("restart the daemon to use it: systemctl restart samba-entra-sync");
        Ok(())
    }
}

/// The service principal of `app_id`, created when missing.
async fn service_principal(graph: &Graph, app_id: &str) -> Result<J, Failure> {
    let filter = format!("appId eq '{app_id}'");
    let found = graph
        .get("/v1.0/servicePrincipals", &[("$filter", &filter)], "find the service principal", APPLICATION_RIGHTS)
        .await?;
    if let Some(sp) = found.get("value").and_then(J::as_array).and_then(|v| v.first()) {
        println!("found the application's service principal {}", sp.get("id").and_then(J::as_str).unwrap_or("?"));
        return Ok(sp.clone());
    }
    let made = graph
        .post("/v1.0/servicePrincipals", &json!({"appId": app_id}), "create the service principal", APPLICATION_RIGHTS)
        .await?;
    println!("created the application's service principal {}", made.get("id").and_then(J::as_str).unwrap_or("?"));
    Ok(made)
}

/// Grants `ADSynchronization.ReadWrite.All` on the sync app's service principal, unless granted.
async fn grant_sync_role(graph: &Graph, principal: &J) -> Result<(), Failure> {
    let principal_id = str_of(principal, "id")?;
    let filter = format!("appId eq '{SYNC_SERVICE_APP_ID}'");
    let found = graph
        .get(
            "/v1.0/servicePrincipals",
            &[("$filter", &filter)],
            "find the sync app's service principal",
            APPLICATION_RIGHTS,
        )
        .await?;
    let Some(sync) = found.get("value").and_then(J::as_array).and_then(|v| v.first()) else {
        return Err(Failure::runtime(format!(
            "the tenant has no service principal of the sync app {SYNC_SERVICE_APP_ID} (Microsoft Entra AD \
             Synchronization Service); create it with `New-MgServicePrincipal -AppId {SYNC_SERVICE_APP_ID}` and rerun"
        )));
    };
    let sync_id = str_of(sync, "id")?;
    let path = format!("/v1.0/servicePrincipals/{sync_id}/appRoleAssignedTo");
    let assigned = graph.get(&path, &[], "list the sync app's role assignments", ROLE_RIGHTS).await?;
    let already = assigned.get("value").and_then(J::as_array).into_iter().flatten().any(|a| {
        a.get("principalId").and_then(J::as_str).is_some_and(|p| p.eq_ignore_ascii_case(&principal_id))
            && a.get("appRoleId").and_then(J::as_str).is_some_and(|r| r.eq_ignore_ascii_case(SYNC_APP_ROLE_ID))
    });
    if already {
        println!("the application already holds {SYNC_APP_ROLE} on the sync app");
        return Ok(());
    }
    let body = json!({"principalId": principal_id, "resourceId": sync_id, "appRoleId": SYNC_APP_ROLE_ID});
    graph.post(&path, &body, &format!("grant {SYNC_APP_ROLE} on the sync app"), ROLE_RIGHTS).await?;
    println!("granted the application {SYNC_APP_ROLE} on the sync app {SYNC_SERVICE_APP_ID}");
    Ok(())
}

/// A Graph `keyCredential` of a certificate (DER).
fn key_credential(name: &str, cert_der: &[u8]) -> J {
    json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "displayName": format!("CN={name}"),
        "key": base64::engine::general_purpose::STANDARD.encode(cert_der),
    })
}

fn str_of(v: &J, key: &str) -> Result<String, Failure> {
    v.get(key)
        .and_then(J::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Failure::runtime(format!("Microsoft Graph's answer has no {key}: {v}")))
}

fn sha1_of(der: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(der).to_vec()
}

/// Writes a file through a temporary name with `mode` from the start (a key is never readable by others).
fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    crate::entra::auth::write_new_file(path, bytes, mode)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))
}

/// Sets `key = "value"` lines in the `[entra.auth]` table, replacing existing ones in place and
/// adding missing ones after the table's last key; every other line (comments too) stays.
pub(crate) fn set_auth_keys(text: &str, values: &[(&str, String)]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let header = |l: &str| l.trim_start().starts_with('[');
    let start = lines.iter().position(|l| {
        l.trim() == "[entra.auth]"
            || l.trim().starts_with("[entra.auth]") && l.trim()["[entra.auth]".len()..].trim_start().starts_with('#')
    });
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let Some(start) = start else {
        let mut text = text.trim_end_matches('\n').to_owned();
        text.push_str("\n\n[entra.auth]\n");
        for (k, v) in values {
            text.push_str(&format!("{k} = {}\n", quoted(v)));
        }
        return text;
    };
    let end = lines.iter().enumerate().skip(start + 1).find(|(_, l)| header(l)).map_or(lines.len(), |(i, _)| i);
    let key_of = |l: &str| l.split_once('=').map(|(k, _)| k.trim().to_owned()).filter(|k| !k.starts_with('#'));
    let mut last_key = start;
    let mut missing = Vec::new();
    for (k, v) in values {
        match (start + 1..end).find(|i| key_of(lines[*i]).as_deref() == Some(*k)) {
            Some(i) => {
                out[i] = format!("{k} = {}{}", quoted(v), trailing_comment(lines[i]));
                last_key = last_key.max(i);
            }
            None => missing.push(format!("{k} = {}", quoted(v))),
        }
    }
    if let Some(i) = (start + 1..end).rev().find(|i| key_of(lines[*i]).is_some()) {
        last_key = last_key.max(i);
    }
    for (n, line) in missing.into_iter().enumerate() {
        out.insert(last_key + 1 + n, line);
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// The ` # …` comment at the end of a `key = value` line (a `#` inside a string is no comment).
fn trailing_comment(line: &str) -> &str {
    let Some((_, value)) = line.split_once('=') else { return "" };
    let offset = line.len() - value.len();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => {
                let start = line[..offset + i].trim_end().len();
                return &line[start..];
            }
            _ => {}
        }
        escaped = false;
    }
    ""
}

/// The prompt goes to stderr so that stdout keeps the steps.
fn print_prompt(prompt: &DeviceCodePrompt) {
    super::login::print_device_code_prompt(prompt, "a Hybrid Identity Administrator or Global Administrator");
}

/// Microsoft Graph with the administrator's token.
struct Graph {
    http: reqwest::Client,
    base: String,
    token: AccessToken,
}

impl Graph {
    async fn get(&self, path: &str, query: &[(&str, &str)], step: &str, rights: &str) -> Result<J, Failure> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .map_err(|e| Failure::usage(format!("cannot {step}: the Graph URL {} is not valid: {e}", self.base)))?;
        let request = self.http.get(url);
        self.send(request, &format!("GET {path}"), step, rights).await
    }

    async fn post(&self, path: &str, body: &J, step: &str, rights: &str) -> Result<J, Failure> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(request, &format!("POST {path}"), step, rights).await
    }

    async fn patch(&self, path: &str, body: &J, step: &str, rights: &str) -> Result<J, Failure> {
        let request = self.http.patch(format!("{}{path}", self.base)).json(body);
        self.send(request, &format!("PATCH {path}"), step, rights).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, call: &str, step: &str, rights: &str) -> Result<J, Failure> {
        let response = request
            .bearer_auth(self.token.secret_jwt())
            .send()
            .await
            .map_err(|e| Failure::runtime(format!("cannot {step}: {call} failed: {e}")))?;
        let status = response.status();
        let body: J = response.json().await.unwrap_or(J::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body.pointer("/error/message").and_then(J::as_str).unwrap_or("").to_owned();
        let code = body.pointer("/error/code").and_then(J::as_str).unwrap_or("").to_owned();
        Err(Failure::runtime(match status.as_u16() {
            401 | 403 => format!(
                "cannot {step}: Microsoft Graph refused {call} ({status} {code}: {message}); the administrator needs {rights}"
            ),
            _ => format!("cannot {step}: {call} answered {status} {code}: {message}"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_keys_are_set_in_place_and_comments_stay() {
        let text = "version = 1\n# top\n[entra]\ntenant_id = \"t\"\n[entra.auth]\n# how we sign in\nmethod = \"refresh_token\" # was\ntoken_cache = \"/x/token.json\"\n\n[state]\ndb = \"/x/s.db\"\n";
        let values = [("method", "certificate".to_owned()), ("client_id", "abc".to_owned())];
        let out = set_auth_keys(text, &values);
        assert_eq!(
            out,
            "version = 1\n# top\n[entra]\ntenant_id = \"t\"\n[entra.auth]\n# how we sign in\nmethod = \"certificate\" # was\ntoken_cache = \"/x/token.json\"\nclient_id = \"abc\"\n\n[state]\ndb = \"/x/s.db\"\n"
        );
        assert_eq!(set_auth_keys(&out, &values), out, "idempotent");
        assert_eq!(trailing_comment("a = \"x#y\" # note"), " # note");
        assert_eq!(trailing_comment("a = 'x#y'"), "");
        assert_eq!(trailing_comment("a = \"x\\\"#\""), "");
        let none = set_auth_keys("version = 1\n", &values);
        assert!(none.ends_with("[entra.auth]\nmethod = \"certificate\"\nclient_id = \"abc\"\n"), "{none}");
    }
}
