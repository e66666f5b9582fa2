//! The D-Bus service object.

use std::collections::HashMap;

use serde_json::Value as Json;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, OwnedVariant, fdo, interface, message::Header};

use super::{BUS_NAME, OBJECT_PATH};
use crate::config::BusConfig;
use crate::sync::control::{Command, Control, EngineEvent};

/// Who may call what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// uid 0 only: PasswordChanged, SyncNow, ApproveDeletes.
    Root,
    /// uid 0 or a member of the admin group: Status, GetUser, Plan.
    Reader,
}

pub struct Service {
    control: Control,
    admin_gid: Option<u32>,
    plan: super::plan_gate::PlanGate,
}

impl Service {
    /// Every answer comes from the engine behind `control`.
    pub fn new(control: Control, admin_gid: Option<u32>) -> Self {
        let engine = control.clone();
        let plan: super::plan_gate::PlanFn = Box::new(move || {
            let engine = engine.clone();
            Box::pin(async move {
                let plan = engine.plan().await.map_err(|e| e.to_string())?;
                serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())
            })
        });
        let plan = super::plan_gate::PlanGate::new(plan, super::plan_gate::REUSE_FOR);
        Service { control, admin_gid, plan }
    }

    async fn authorize(&self, hdr: &Header<'_>, conn: &Connection, need: Access) -> fdo::Result<u32> {
        let sender = hdr.sender().ok_or_else(|| fdo::Error::AccessDenied("the call has no sender".into()))?;
        let dbus = fdo::DBusProxy::new(conn).await?;
        let creds = dbus.get_connection_credentials(sender.clone().into()).await?;
        let uid =
            creds.unix_user_id().ok_or_else(|| fdo::Error::AccessDenied("the bus did not vouch for a uid".into()))?;
        if uid == 0 {
            return Ok(uid);
        }
        if need == Access::Reader
            && let Some(gid) = self.admin_gid
            && creds.unix_group_ids().is_some_and(|g| g.contains(&gid))
        {
            return Ok(uid);
        }
        tracing::warn!(uid, caller = %sender, "refused a D-Bus call");
        Err(fdo::Error::AccessDenied(match need {
            Access::Root => "only root may call this method".into(),
            Access::Reader => "only root and the configured admin group may call this method".into(),
        }))
    }
}

#[interface(
    name = "io.github.SambaEntraSync1",
    proxy(default_service = "io.github.SambaEntraSync1", default_path = "/io/github/SambaEntraSync1")
)]
impl Service {
    /// The hook's notification that `account_name`'s password is changing. Root only.
    async fn password_changed(
        &self,
        account_name: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        self.authorize(&hdr, conn, Access::Root).await?;
        self.control.password_changed(&account_name).map_err(|e| fdo::Error::InvalidArgs(e.to_string()))
    }

    /// State, counters, latency, queue depth, recent errors.
    async fn status(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<HashMap<String, OwnedVariant>> {
        self.authorize(&hdr, conn, Access::Reader).await?;
        let report = self.control.status().await.map_err(|e| fdo::Error::Failed(e.to_string()))?;
        Ok(to_dict(&serde_json::to_value(report).unwrap_or(Json::Null)))
    }

    /// One user's password sync state.
    async fn get_user(
        &self,
        account_name: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<HashMap<String, OwnedVariant>> {
        self.authorize(&hdr, conn, Access::Reader).await?;
        if account_name.is_empty() || account_name.len() > crate::sync::control::MAX_ACCOUNT_NAME {
            return Err(fdo::Error::InvalidArgs("the account name is empty or too long".into()));
        }
        let user = self.control.user(&account_name).await.map_err(|e| fdo::Error::Failed(e.to_string()))?;
        let status = serde_json::to_value(user.status).map_err(|e| fdo::Error::Failed(e.to_string()))?;
        let mut json = match user.record {
            Some(rec) => serde_json::json!({
                "account": rec.account,
                "anchor": rec.anchor,
                "seenKeyVersion": rec.seen_kvno,
                "seenAt": rec.seen_at,
                "pushedKeyVersion": rec.pushed_kvno,
                "pushedAt": rec.pushed_at,
                "acknowledgedKeyVersion": rec.acked_kvno,
                "acknowledgedAt": rec.acked_at,
                "latencyMs": rec.latency_us.map(|us| us as f64 / 1000.0),
                "skippedKeyVersion": rec.skipped_kvno,
                "lastError": rec.last_error,
            }),
            // No record yet: the status says why (no such account, not exported...).
            None => serde_json::json!({ "account": account_name }),
        };
        if let (Json::Object(status), Some(obj)) = (status, json.as_object_mut()) {
            obj.extend(status);
        }
        Ok(to_dict(&json))
    }

    /// One user's password events (`[state] password_history`), newest first, as a JSON array
    /// of `{at, event, keyVersion, detail}` (`at` in ms since the epoch).
    async fn get_password_history(
        &self,
        account_name: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<String> {
        self.authorize(&hdr, conn, Access::Reader).await?;
        if account_name.is_empty() || account_name.len() > crate::sync::control::MAX_ACCOUNT_NAME {
            return Err(fdo::Error::InvalidArgs("the account name is empty or too long".into()));
        }
        let history =
            self.control.password_history(&account_name).await.map_err(|e| fdo::Error::Failed(e.to_string()))?;
        serde_json::to_string(&history).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    /// Asks for a reconcile now. Root only.
    async fn sync_now(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        self.authorize(&hdr, conn, Access::Root).await?;
        self.control.command(Command::SyncNow).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    /// `sync --retry-blocked`: sends the objects the tenant refused once more (in a full
    /// reconcile now); answers how many there were. Root only.
    async fn retry_blocked(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<u32> {
        self.authorize(&hdr, conn, Access::Root).await?;
        let n = self.control.retry_blocked().await.map_err(|e| fdo::Error::Failed(e.to_string()))?;
        self.control.command(Command::SyncNow).map_err(|e| fdo::Error::Failed(e.to_string()))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Starts a full password sync: every in-scope user's current password is pushed again,
    /// behind fresh changes; its progress is in `status` (`passwordResync`). Root only.
    async fn resync_passwords(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        self.authorize(&hdr, conn, Access::Root).await?;
        self.control.command(Command::ResyncPasswords).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    /// What a reconcile would send now, as JSON.
    async fn plan(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<String> {
        self.authorize(&hdr, conn, Access::Reader).await?;
        // One snapshot at a time, reused for a few seconds (see plan_gate).
        self.plan.plan().await.map_err(fdo::Error::Failed)
    }

    /// Releases the deletes held back by the deletion threshold now, once (the next full run),
    /// within 24 hours. Fails, arming nothing, when nothing approvable is held. Root only.
    async fn approve_deletes(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        self.authorize(&hdr, conn, Access::Root).await?;
        self.control.approve_deletes(None).await.map(|_| ()).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    /// Like ApproveDeletes, for the held set named by `digest` (as `plan` and `status` show it;
    /// empty: the set held now); answers what was released. Root only.
    async fn approve_held_deletes(
        &self,
        digest: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<String> {
        self.authorize(&hdr, conn, Access::Root).await?;
        if digest.len() > 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(fdo::Error::InvalidArgs("the digest is a short hexadecimal string, as `plan` shows it".into()));
        }
        let digest = Some(digest.as_str()).filter(|d| !d.is_empty());
        self.control.approve_deletes(digest).await.map(|a| a.message()).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    #[zbus(signal)]
    async fn password_synced(emitter: &SignalEmitter<'_>, account_name: &str, latency_us: u64) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn reconcile_finished(
        emitter: &SignalEmitter<'_>,
        summary: HashMap<String, OwnedVariant>,
    ) -> zbus::Result<()>;
}

/// A JSON object as a{sv}: scalars map to their D-Bus types, string lists to `as`, nested
/// objects to dotted keys, nulls are left out.
pub fn to_dict(v: &Json) -> HashMap<String, OwnedVariant> {
    let mut out = HashMap::new();
    flatten("", v, &mut out);
    out
}

fn flatten(prefix: &str, v: &Json, out: &mut HashMap<String, OwnedVariant>) {
    let Json::Object(map) = v else { return };
    for (k, v) in map {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let value: Option<OwnedVariant> = match v {
            Json::Null => None,
            Json::Bool(b) => Some((*b).into()),
            Json::Number(n) => n.as_i64().map(OwnedVariant::from).or_else(|| n.as_f64().map(OwnedVariant::from)),
            Json::String(s) => Some(zbus::Str::from(s.clone()).into()),
            Json::Array(items) => {
                let strings: Vec<String> =
                    items.iter().map(|i| i.as_str().map(String::from).unwrap_or_else(|| i.to_string())).collect();
                OwnedVariant::try_from(zbus::zvariant::Variant::from(strings)).ok()
            }
            Json::Object(_) => {
                flatten(&key, v, out);
                None
            }
        };
        if let Some(value) = value {
            out.insert(key, value);
        }
    }
}

/// Serves the object and forwards engine events as signals until the connection drops.
async fn serve(
    bus: &BusConfig,
    service: Service,
    control: Control,
) -> Result<(Connection, tokio::task::JoinHandle<()>), zbus::Error> {
    let conn = super::builder(bus).name(BUS_NAME).serve_at(OBJECT_PATH, service).build().await?;
    let mut events = control.subscribe();
    let emit_conn = conn.clone();
    let emitter_task = tokio::spawn(async move {
        let Ok(iface) = emit_conn.object_server().interface::<_, Service>(OBJECT_PATH).await else { return };
        let emitter = iface.signal_emitter();
        loop {
            let result = match events.recv().await {
                Ok(EngineEvent::PasswordSynced { account, latency_us }) => {
                    Service::password_synced(emitter, &account, latency_us).await
                }
                Ok(EngineEvent::ReconcileFinished(s)) => {
                    Service::reconcile_finished(emitter, to_dict(&serde_json::to_value(s).unwrap_or(Json::Null))).await
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!("{n} engine events were not signalled (slow bus)");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if let Err(e) = result {
                tracing::debug!("cannot emit a signal: {e}");
            }
        }
    });
    Ok((conn, emitter_task))
}

/// Builds a fresh service object for each connection (a reconnect serves a new one).
pub type ServiceFactory = Box<dyn Fn() -> Service + Send + Sync>;

/// Serves on `bus` and keeps serving: when the bus goes away (dbus-daemon restarted) the
/// daemon reconnects and takes its name again. Meanwhile the hook's notices fail (the hook
/// lets the change through) and the change poll delivers those changes.
/// The first connection's error is returned: a bus that never worked is a start-up failure.
pub async fn serve_reconnecting(
    bus: BusConfig,
    make: ServiceFactory,
    control: Control,
) -> Result<tokio::task::JoinHandle<()>, zbus::Error> {
    let first = serve(&bus, make(), control.clone()).await?;
    Ok(tokio::spawn(async move {
        let (mut conn, mut emitter) = first;
        loop {
            // Liveness: a round trip to the bus daemon every 2 s.
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let alive = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    // No property cache: a cached proxy would add a match rule on every check.
                    let proxy = fdo::DBusProxy::builder(&conn)
                        .cache_properties(zbus::proxy::CacheProperties::No)
                        .build()
                        .await?;
                    proxy.get_id().await
                })
                .await;
                if !matches!(alive, Ok(Ok(_))) {
                    break;
                }
            }
            tracing::warn!("lost the D-Bus connection; reconnecting");
            emitter.abort();
            drop(conn);
            let mut delay = std::time::Duration::from_millis(500);
            (conn, emitter) = loop {
                match serve(&bus, make(), control.clone()).await {
                    Ok(served) => {
                        tracing::info!("reconnected to D-Bus and took the name {BUS_NAME} again");
                        break served;
                    }
                    Err(e) => {
                        tracing::debug!("D-Bus not back yet, retrying in {delay:?}: {e}");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(std::time::Duration::from_secs(10));
                    }
                }
            };
        }
    }))
}
