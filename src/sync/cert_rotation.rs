//! The daemon's certificate renewal task (issue 12 item 3): drives the state machine of
//! [`crate::entra::auth::rotation`] with real files, Microsoft Graph and the state DB, and tells
//! `status` (and the metrics) when the certificate expires and how its renewal goes.
//!
//! Password pushes never wait for it: it runs beside the engine, the token source reads the
//! certificate pair under the same lock as the switch, and tokens already issued with the old key
//! stay valid until they expire (removing a key stops new sign-ins only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::control::Control;
use super::report::CertificateStatus;
use super::state::State;
use crate::config::{AuthMethodConfig, Config};
use crate::entra::auth::rotation::{
    Action, AppKeyRecord, InUse, REGISTER_AGAIN, Rotation, Step, due_at, install_staged, next_action, staged_path,
};
use crate::entra::auth::{
    AppCredential, AuthMethod, AuthSettings, GRAPH_SCOPE, GraphKeys, TokenSource, generate_credential, graph_base,
    write_new_file,
};

/// The state DB's `meta` key of the application record (JSON of [`AppKeyRecord`]).
pub const RECORD_KEY: &str = "entra_application";
/// The state DB's `meta` key of a rotation in progress (JSON of [`Rotation`]; absent when idle).
pub const ROTATION_KEY: &str = "certificate_rotation";
/// The longest sleep between two looks at the certificate (register-app may replace it).
const LOOK_AGAIN: Duration = Duration::from_secs(3600);
/// Consecutive failed attempts after which `status` warns.
const WARN_AFTER_FAILURES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    State(#[from] super::state::StateError),
    #[error("the state database's {key} is not readable: {reason}")]
    Record { key: &'static str, reason: String },
    #[error("{0}")]
    Auth(#[from] crate::entra::auth::AuthError),
    #[error("{0}")]
    Graph(#[from] crate::entra::auth::KeyRollError),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Blocked(String),
}

/// The application record `register-app` wrote (or the last rotation moved on).
pub fn load_record(store: &State) -> Result<Option<AppKeyRecord>, RotationError> {
    load(store, RECORD_KEY)
}

/// Records the application and the key in use (register-app, and each finished rotation).
pub fn save_record(store: &State, record: &AppKeyRecord) -> Result<(), RotationError> {
    store.set_meta(RECORD_KEY, &serde_json::to_string(record).unwrap_or_default())?;
    Ok(())
}

/// The rotation in progress, if any.
pub fn load_rotation(store: &State) -> Result<Option<Rotation>, RotationError> {
    load(store, ROTATION_KEY)
}

/// Drops a rotation in progress and its staged files: `register-app` registered a new
/// certificate, so what the rotation was replacing is gone.
pub fn abandon_rotation(store: &State) -> Result<(), RotationError> {
    if let Some(r) = load_rotation(store)? {
        let _ = std::fs::remove_file(&r.staged_private_key);
        let _ = std::fs::remove_file(&r.staged_certificate);
        save_rotation(store, None)?;
    }
    Ok(())
}

fn save_rotation(store: &State, rotation: Option<&Rotation>) -> Result<(), RotationError> {
    // An empty value means idle (the meta table has no delete; an empty string is no JSON).
    let text = rotation.map(|r| serde_json::to_string(r).unwrap_or_default()).unwrap_or_default();
    store.set_meta(ROTATION_KEY, &text)?;
    Ok(())
}

fn load<T: serde::de::DeserializeOwned>(store: &State, key: &'static str) -> Result<Option<T>, RotationError> {
    match store.meta(key)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => {
            serde_json::from_str(&text).map(Some).map_err(|e| RotationError::Record { key, reason: e.to_string() })
        }
    }
}

/// What the task works with, from the config.
pub struct RotationSettings {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub renew_before: Duration,
    pub validity: Duration,
    /// Sign-in settings of the sync scope (the configured ones).
    pub auth: AuthSettings,
    pub graph_base: String,
}

impl RotationSettings {
    /// `None` unless the daemon signs in with a certificate.
    pub fn from_config(config: &Config) -> Option<RotationSettings> {
        let AuthMethodConfig::Certificate { certificate, private_key } = &config.entra.auth.method else {
            return None;
        };
        let auth = super::settings::auth_settings(config);
        Some(RotationSettings {
            certificate: certificate.clone(),
            private_key: private_key.clone(),
            renew_before: config.entra.auth.renew_before,
            validity: config.entra.auth.certificate_validity,
            graph_base: graph_base(&auth.authority),
            auth,
        })
    }

    /// Sign-in settings with another scope or certificate pair.
    fn auth_with(&self, scope: &str, certificate: &Path, private_key: &Path) -> AuthSettings {
        AuthSettings {
            scope: scope.to_owned(),
            method: AuthMethod::Certificate {
                certificate: certificate.to_owned(),
                private_key: private_key.to_owned(),
            },
            ..self.auth.clone()
        }
    }
}

/// At start, before anything signs in: a switch a crash interrupted is finished, so the
/// certificate and key files belong together again.
pub fn finish_interrupted_switch(store: &State, config: &Config) -> Result<(), RotationError> {
    let Some(settings) = RotationSettings::from_config(config) else { return Ok(()) };
    let Some(rotation) = load_rotation(store)? else { return Ok(()) };
    if let Step::Switching { .. } = rotation.step {
        switch_files(store, &settings, rotation)?;
        tracing::info!("finished switching to the renewed certificate after a restart");
    }
    Ok(())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000)
}

/// The pair in use, read under the switch's lock.
fn load_pair(certificate: &Path, private_key: &Path) -> Result<AppCredential, RotationError> {
    Ok(crate::entra::auth::rotation::with_credential_files(|| AppCredential::load(certificate, private_key))?)
}

fn in_use(app: &AppCredential) -> InUse {
    InUse { thumbprint: app.thumbprint().to_owned(), not_after: app.not_after() }
}

/// A certificate file's DER and its subject's common name.
fn read_certificate(path: &Path) -> Result<(Vec<u8>, String), RotationError> {
    let io = |source| RotationError::Io { what: "read", path: path.to_owned(), source };
    let pem = std::fs::read(path).map_err(io)?;
    let (_, der) = x509_cert::der::pem::decode_vec(&pem)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())))?;
    let name = crate::entra::auth::common_name_of(&der).unwrap_or_else(|| "SambaEntraSync".to_owned());
    Ok((der, name))
}

/// What one turn of the task did.
enum Turn {
    /// Took a step; the next one follows at once.
    Stepped,
    /// Removed the old key: the renewal is complete.
    Finished,
    /// Nothing due until then (Unix seconds).
    Idle(u64),
    Blocked(String),
}

/// One action of the state machine, recorded before the next.
async fn turn(settings: &RotationSettings, store: &State, http: &reqwest::Client) -> Result<Turn, RotationError> {
    let current = load_pair(&settings.certificate, &settings.private_key)?;
    let record = load_record(store)?;
    let rotation = load_rotation(store)?;
    let now = now_secs();
    match next_action(record.as_ref(), rotation.as_ref(), &in_use(&current), now, settings.renew_before.as_secs()) {
        Action::WaitUntil(at) => Ok(Turn::Idle(at)),
        Action::Blocked(why) => Ok(Turn::Blocked(why)),
        Action::Generate => {
            let record = record.ok_or_else(|| RotationError::Blocked("no application record".into()))?;
            generate(settings, store, &record, now)?;
            Ok(Turn::Stepped)
        }
        Action::AddKey => {
            let (Some(record), Some(rotation)) = (record, rotation) else { return Ok(Turn::Stepped) };
            add_key(settings, store, http, &record, rotation, &current).await?;
            Ok(Turn::Stepped)
        }
        Action::Switch => {
            let Some(rotation) = rotation else { return Ok(Turn::Stepped) };
            if let Step::Added { .. } = rotation.step {
                // Entra takes a moment to accept a new credential everywhere: the daemon switches
                // only once the new key has signed in for the sync service.
                let probe = settings.auth_with(
                    &settings.auth.scope,
                    &rotation.staged_certificate,
                    &rotation.staged_private_key,
                );
                TokenSource::new(probe, http.clone())?.access_token().await?;
            }
            switch_files(store, settings, rotation)?;
            tracing::info!("the daemon now signs in with the renewed certificate");
            Ok(Turn::Stepped)
        }
        Action::RemoveOld => {
            let (Some(record), Some(rotation)) = (record, rotation) else { return Ok(Turn::Stepped) };
            remove_old(settings, store, http, &record, rotation, &current).await?;
            Ok(Turn::Finished)
        }
    }
}

/// A new key and certificate into the staged files (the key mode 0600 from its first byte).
fn generate(settings: &RotationSettings, store: &State, record: &AppKeyRecord, now: u64) -> Result<(), RotationError> {
    let (_, name) = read_certificate(&settings.certificate)?;
    let made = generate_credential(&name, settings.validity, now)?;
    let (staged_cert, staged_key) = (staged_path(&settings.certificate), staged_path(&settings.private_key));
    let write = |path: &Path, bytes: &[u8], mode| {
        write_new_file(path, bytes, mode).map_err(|source| RotationError::Io {
            what: "write",
            path: path.to_owned(),
            source,
        })
    };
    write(&staged_key, made.private_key_pem.as_bytes(), 0o600)?;
    write(&staged_cert, made.certificate_pem.as_bytes(), 0o644)?;
    let new = in_use(&load_pair(&staged_cert, &staged_key)?);
    let rotation = Rotation::staged(record, staged_cert, staged_key, &new, now);
    save_rotation(store, Some(&rotation))?;
    tracing::info!(
        new_x5t = %new.thumbprint,
        "renewing the application's certificate: made a new RSA-2048 key and certificate on this DC"
    );
    Ok(())
}

/// An app token for Microsoft Graph signed in with a certificate pair.
async fn graph_token(
    settings: &RotationSettings,
    http: &reqwest::Client,
    certificate: &Path,
    private_key: &Path,
) -> Result<crate::entra::auth::AccessToken, RotationError> {
    let source = TokenSource::new(settings.auth_with(GRAPH_SCOPE, certificate, private_key), http.clone())?;
    Ok(source.access_token().await?)
}

async fn add_key(
    settings: &RotationSettings,
    store: &State,
    http: &reqwest::Client,
    record: &AppKeyRecord,
    rotation: Rotation,
    current: &AppCredential,
) -> Result<(), RotationError> {
    // Staged files lost or replaced: start over with a new pair.
    let staged = load_pair(&rotation.staged_certificate, &rotation.staged_private_key);
    if !staged.as_ref().is_ok_and(|s| s.thumbprint() == rotation.new_thumbprint) {
        tracing::warn!("the staged certificate is gone or changed; making a new one");
        save_rotation(store, None)?;
        return Ok(());
    }
    let (der, name) = read_certificate(&rotation.staged_certificate)?;
    let token = graph_token(settings, http, &settings.certificate, &settings.private_key).await?;
    let proof = current.key_proof(&record.object_id, now_secs())?;
    let keys = GraphKeys::new(http.clone(), &settings.graph_base, &record.object_id);
    let key_id = match keys.add_key(&token, &der, &format!("CN={name}"), &proof).await {
        Ok(id) => id,
        // A crash right after an earlier addKey of this certificate succeeded leaves no record of
        // its key id; should Graph refuse the same certificate twice, a new pair starts over (the
        // orphan key's private half is deleted, and it expires).
        Err(e @ crate::entra::auth::KeyRollError::Refused { status: 400 | 409, .. }) => {
            abandon_rotation(store)?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(key_id = %key_id, "added the new certificate to the application (addKey)");
    save_rotation(store, Some(&rotation.added(key_id)))
}

/// Records the switch, moves the files, records it done.
fn switch_files(store: &State, settings: &RotationSettings, rotation: Rotation) -> Result<(), RotationError> {
    let switching = rotation.switching();
    save_rotation(store, Some(&switching))?;
    install_staged(
        &switching.staged_certificate,
        &switching.staged_private_key,
        &settings.certificate,
        &settings.private_key,
    )
    .map_err(|source| RotationError::Io {
        what: "move the renewed certificate to",
        path: settings.certificate.clone(),
        source,
    })?;
    save_rotation(store, Some(&switching.switched()))
}

async fn remove_old(
    settings: &RotationSettings,
    store: &State,
    http: &reqwest::Client,
    record: &AppKeyRecord,
    rotation: Rotation,
    current: &AppCredential,
) -> Result<(), RotationError> {
    // Signed in and proven with the new key: the old one is not needed for anything any more.
    let token = graph_token(settings, http, &settings.certificate, &settings.private_key).await?;
    let proof = current.key_proof(&record.object_id, now_secs())?;
    let keys = GraphKeys::new(http.clone(), &settings.graph_base, &record.object_id);
    let removed = keys.remove_key(&token, &rotation.old_key_id, &proof).await?;
    tracing::info!(key_id = %rotation.old_key_id, ?removed, "removed the old certificate from the application (removeKey)");
    // The record first: a crash between the two writes repeats removeKey, which finds it gone.
    save_record(store, &rotation.finish(record))?;
    save_rotation(store, None)
}

/// Renews the certificate whenever it is due, until `stop`.
pub async fn run(
    settings: RotationSettings,
    store: State,
    control: Control,
    http: reqwest::Client,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    let mut last_error: Option<String> = None;
    let mut last_renewed_at = None;
    loop {
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = turn(&settings, &store, &http) => r,
        };
        let wait = match result {
            Ok(Turn::Stepped) => {
                failures = 0;
                last_error = None;
                Duration::ZERO
            }
            Ok(Turn::Finished) => {
                failures = 0;
                last_error = None;
                last_renewed_at = Some(super::state::now_ms());
                tracing::info!("the application's certificate is renewed");
                Duration::ZERO
            }
            Ok(Turn::Idle(at)) => {
                failures = 0;
                Duration::from_secs(at.saturating_sub(now_secs())).min(LOOK_AGAIN)
            }
            Ok(Turn::Blocked(why)) => {
                last_error = Some(why);
                LOOK_AGAIN.min(Duration::from_secs(300))
            }
            Err(e) => {
                failures += 1;
                tracing::warn!("renewing the application's certificate failed (attempt {failures}): {e}");
                last_error = Some(e.to_string());
                // A minute, doubling, at most an hour apart.
                Duration::from_secs(60u64 << (failures - 1).min(6)).min(LOOK_AGAIN)
            }
        };
        publish(&settings, &store, &control, failures, last_error.as_deref(), last_renewed_at);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Tells `status` (and the metrics) the certificate's expiry and the renewal's state: a warning
/// while a due renewal cannot be done, `degraded` once the certificate has expired.
fn publish(
    settings: &RotationSettings,
    store: &State,
    control: &Control,
    failures: u32,
    last_error: Option<&str>,
    last_renewed_at: Option<i64>,
) {
    let Ok(current) = load_pair(&settings.certificate, &settings.private_key) else {
        control.set_certificate(None);
        return;
    };
    let now = now_secs();
    let rotation = load_rotation(store).ok().flatten();
    let record = load_record(store).ok().flatten();
    let blocked = match next_action(
        record.as_ref(),
        rotation.as_ref(),
        &in_use(&current),
        now,
        settings.renew_before.as_secs(),
    ) {
        Action::Blocked(why) => Some(why),
        _ => None,
    };
    let state = match (&rotation, &blocked) {
        (Some(r), _) => r.describe().to_owned(),
        (None, Some(why)) => format!("blocked: {why}"),
        (None, None) => "idle".to_owned(),
    };
    let expires = crate::entra::timefmt::utc_millis(ms(current.not_after()));
    let due = now >= due_at(current.not_after(), settings.renew_before.as_secs());
    if current.not_after() <= now {
        control.set_problem(
            "certificate",
            &format!(
                "the application's certificate {} expired on {expires}: Entra refuses its sign-in; run `{REGISTER_AGAIN}` to register a new one",
                settings.certificate.display()
            ),
        );
    } else {
        control.clear_problem("certificate");
    }
    let warning = match (&blocked, due && failures >= WARN_AFTER_FAILURES) {
        (Some(why), _) if current.not_after() > now => {
            Some(format!("the application's certificate expires on {expires} and the daemon cannot renew it: {why}"))
        }
        (None, true) => Some(format!(
            "renewing the application's certificate keeps failing ({failures} attempts; last: {}); it expires on {expires}: \
             if the daemon cannot renew it before then, run `{REGISTER_AGAIN}`",
            last_error.unwrap_or("?")
        )),
        _ => None,
    };
    control.set_warning("certificate", warning.as_deref());
    control.set_certificate(Some(CertificateStatus {
        expires_at: ms(current.not_after()),
        renew_from: ms(due_at(current.not_after(), settings.renew_before.as_secs())),
        rotation: state,
        failures,
        last_error: last_error.map(str::to_owned),
        last_renewed_at,
    }));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::entra::auth::AuthMethod;
    use crate::sync::control::EngineState;

    const DAY: u64 = 86_400;

    struct Setup {
        _dir: tempfile::TempDir,
        settings: RotationSettings,
        store: State,
        control: Control,
    }

    /// A certificate valid from `start` for `valid_days`, renewed `renew_days` before its end.
    fn setup(start: u64, valid_days: u64, renew_days: u64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, private_key) = (dir.path().join("app.pem"), dir.path().join("app.key"));
        let made = generate_credential("SambaEntraSync_dc1", Duration::from_secs(valid_days * DAY), start).unwrap();
        write_new_file(&private_key, made.private_key_pem.as_bytes(), 0o600).unwrap();
        write_new_file(&certificate, made.certificate_pem.as_bytes(), 0o644).unwrap();
        let store = State::open(&dir.path().join("state.db")).unwrap();
        let (control, _inbox) = Control::new();
        control.set_state(EngineState::Running);
        let auth = AuthSettings {
            authority: "http://127.0.0.1:1".into(),
            tenant_id: "00000000-0000-0000-0000-000000000001".into(),
            client_id: "a8616755-90b9-429b-831e-375cda1eb8e9".into(),
            method: AuthMethod::Certificate { certificate: certificate.clone(), private_key: private_key.clone() },
            scope: crate::entra::auth::DEFAULT_SCOPE.into(),
            ca_file: None,
            proxy: None,
        };
        let settings = RotationSettings {
            certificate,
            private_key,
            renew_before: Duration::from_secs(renew_days * DAY),
            validity: Duration::from_secs(180 * DAY),
            graph_base: graph_base(&auth.authority),
            auth,
        };
        Setup { _dir: dir, settings, store, control }
    }

    fn record_for(s: &Setup) -> AppKeyRecord {
        let app = load_pair(&s.settings.certificate, &s.settings.private_key).unwrap();
        AppKeyRecord {
            app_id: s.settings.auth.client_id.clone(),
            object_id: "0d2c4d38-8a1e-4a7e-9d4b-1b2f0c3d4e5f".into(),
            key_id: "k1".into(),
            thumbprint: app.thumbprint().to_owned(),
        }
    }

    #[test]
    fn an_expired_certificate_is_degraded_with_the_command_that_fixes_it() {
        let s = setup(now_secs() - 2 * DAY, 1, 150);
        save_record(&s.store, &record_for(&s)).unwrap();
        publish(&s.settings, &s.store, &s.control, 0, None, None);
        assert_eq!(s.control.state(), EngineState::Degraded);
        let status = crate::sync::status::report(&s.control, &s.store).unwrap();
        let reason = status.degraded_reasons.iter().find(|r| r.starts_with("certificate: ")).expect("a reason");
        assert!(reason.contains("expired") && reason.contains("register-app"), "{reason}");
        assert!(status.certificate.unwrap().rotation.starts_with("blocked"), "addKey needs a valid key");
    }

    #[test]
    fn a_due_renewal_warns_once_it_keeps_failing_or_cannot_run() {
        let s = setup(now_secs(), 30, 60);
        // Cannot run: nothing recorded of the application.
        publish(&s.settings, &s.store, &s.control, 0, None, None);
        let warnings = crate::sync::status::report(&s.control, &s.store).unwrap().warnings;
        assert!(warnings.iter().any(|w| w.contains("cannot renew it") && w.contains("register-app")), "{warnings:?}");
        // Recorded: one failure is not yet worth a warning, three are.
        save_record(&s.store, &record_for(&s)).unwrap();
        publish(&s.settings, &s.store, &s.control, 1, Some("HTTP 503"), None);
        assert!(crate::sync::status::report(&s.control, &s.store).unwrap().warnings.is_empty());
        publish(&s.settings, &s.store, &s.control, 3, Some("HTTP 503"), None);
        let warnings = crate::sync::status::report(&s.control, &s.store).unwrap().warnings;
        assert!(warnings.iter().any(|w| w.contains("keeps failing") && w.contains("HTTP 503")), "{warnings:?}");
        assert_eq!(s.control.state(), EngineState::Running, "a warning, not degraded, while it is valid");
    }

    #[test]
    fn a_certificate_not_due_shows_its_expiry_and_an_idle_renewal() {
        let now = now_secs();
        let s = setup(now, 180, 150);
        save_record(&s.store, &record_for(&s)).unwrap();
        publish(&s.settings, &s.store, &s.control, 0, None, None);
        let status = crate::sync::status::report(&s.control, &s.store).unwrap();
        assert!(status.warnings.is_empty() && status.degraded_reasons.is_empty(), "{status:?}");
        let c = status.certificate.unwrap();
        assert_eq!((c.expires_at, c.renew_from), (ms(now + 180 * DAY), ms(now + 30 * DAY)));
        assert_eq!(c.rotation, "idle");
    }

    #[test]
    fn the_staged_key_is_private_and_the_state_db_holds_none_of_it() {
        let s = setup(now_secs(), 30, 60);
        let record = record_for(&s);
        save_record(&s.store, &record).unwrap();
        generate(&s.settings, &s.store, &record, now_secs()).unwrap();
        let rotation = load_rotation(&s.store).unwrap().expect("a rotation");
        assert_eq!(rotation.step, Step::Staged);
        assert_eq!(rotation.old_key_id, "k1");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&rotation.staged_private_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = std::fs::read_to_string(&rotation.staged_private_key).unwrap();
        let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
        let meta = s.store.meta(ROTATION_KEY).unwrap().unwrap_or_default();
        let db_dir = s.settings.certificate.parent().unwrap().to_owned();
        let mut stored = meta.clone();
        for name in ["state.db", "state.db-wal"] {
            stored.push_str(&String::from_utf8_lossy(&std::fs::read(db_dir.join(name)).unwrap_or_default()));
        }
        assert!(!stored.contains("PRIVATE KEY"));
        assert!(body.iter().all(|line| !stored.contains(line)), "the state DB holds key material");
        // The certificate in use is untouched until the switch.
        assert_eq!(
            load_pair(&s.settings.certificate, &s.settings.private_key).unwrap().thumbprint(),
            record.thumbprint
        );
    }
}
