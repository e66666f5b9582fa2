//! The instant password path.
//!
//! 1. The hook's notice arrives *before* Samba commits the new hash. [`PasswordPath`] notes the
//!    user's msDS-KeyVersionNumber and polls sam.ldb every 15 ms until it moves (giving up after
//!    12 s: Samba rejected the change after all, e.g. password history).
//! 2. A committed change is written to the durable outbox (the user and the key version, never
//!    the hash) before anything is sent, so a crash or restart loses nothing.
//! 3. The pusher reads the current NT hash, derives the PHS credential and hands it to the
//!    [`CredentialPusher`] (the Entra client), retrying until Entra acknowledges it.
//! 4. The safety net follows highestCommittedUSN (published by the USN watcher, `usn_watch.rs`)
//!    and queues every user whose key version is newer than what Entra acknowledged: changes
//!    that never ran the hook (NT-hash-only sets, replication from another DC, the daemon or the
//!    hook being down) still arrive.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::anchor::{Anchor, AnchorAttribute, source_anchor};
use super::blocked::BlockKind;
use super::cluster::Cluster;
use super::control::{Command, Control, EngineEvent, PasswordNotice};
use super::directory::{Directory, DirectoryError, Lookup};
use super::gate::TenantGate;
use super::password_status::REFUSED_NOTE;
use super::scope::Scope;
use super::state::{OutboxItem, PasswordEvent, ResyncRun, ResyncTally, State, now_ms, now_us};
use super::tenant::with_sign_in_fix;
use crate::entra::credential::credential_data;
use crate::samba::directory::{NtHash, User};
use crate::samba::values::filetime_to_unix;

/// One credential to send.
pub struct CredentialPush {
    pub anchor: Anchor,
    pub account: String,
    /// The `v1;PPH1_MD4,...` string. Secret.
    pub credential: Zeroizing<String>,
    pub change_date: SystemTime,
    pub force_change_on_logon: bool,
    /// A reconcile's backfill, not a live change: the pusher spends bulk-lane budget on it.
    pub backfill: bool,
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Acknowledged,
    /// Entra does not know the anchor yet (ProvisionCredentials Result 2).
    UnknownObject,
    /// Worth retrying soon: a network error, a 5xx, throttling.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Refused for a reason that needs a person (a rejected credential); retried slowly so
    /// that a fixed configuration recovers by itself.
    Failed {
        error: String,
    },
    /// The sign-in was refused (revoked, expired, no sync role): every push fails until a
    /// person signs in again; retried at the back-off's cap, so the first push after the fix
    /// goes through within a minute.
    SignIn {
        error: String,
    },
}

/// Sends credentials to Entra (implemented over the sync client; a fake in unit tests).
pub trait CredentialPusher: Send + Sync + 'static {
    fn push(&self, push: CredentialPush) -> impl Future<Output = PushOutcome> + Send;
}

#[derive(Clone, Debug)]
pub struct PasswordSettings {
    pub anchor: AnchorAttribute,
    /// Push hashes of users who must change their password at next logon.
    pub push_temporary: bool,
    pub commit_poll: Duration,
    pub commit_timeout: Duration,
    /// How long a committed change rests before it is read for its push. Administrators'
    /// tools (samba-tool over LDAP, ADUC) set a temporary password in two modifies: the
    /// password, then pwdLastSet=0. Read at once, the password would look final and a
    /// temporary password would reach Entra. Measured with samba-tool: the second commit
    /// follows within 1 ms of the first being seen, and up to about 15 ms on a loaded machine.
    pub settle: Duration,
    /// How soon the safety net reads a USN window again after it could not queue all of it.
    pub change_poll: Duration,
    /// Pushes in flight at once.
    pub parallel: usize,
    /// `sync.dry_run`: changes are seen and reported, never sent.
    pub dry_run: bool,
    /// `[state] password_history`: how long password events are kept.
    pub history: Duration,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        PasswordSettings {
            anchor: AnchorAttribute::ObjectGuid,
            push_temporary: false,
            commit_poll: Duration::from_millis(15),
            commit_timeout: Duration::from_secs(12),
            settle: Duration::from_millis(50),
            change_poll: Duration::from_millis(500),
            parallel: 4,
            dry_run: false,
            history: Duration::from_secs(7 * 86_400),
        }
    }
}

const META_LAST_USN: &str = "password_path.last_usn";

/// A push Entra acknowledged as a normal password.
struct Acknowledged {
    anchor: Anchor,
    account: String,
}

/// Backfill pushes (a reconcile's, a full password sync's) are read from sam.ldb this many in
/// one search, then pushed one after another as one of the `parallel` calls in flight. Measured
/// by `benches/directory.rs` on 50,000 users: 0.36 ms a user read alone, 0.17 in searches of 16
/// (0.16 in searches of 32 or 64, for a longer wait between a user's read and its push).
const BACKFILL_BATCH: usize = 16;

pub struct PasswordPath<D, P> {
    directory: Arc<D>,
    control: Control,
    store: State,
    scope: Arc<Scope>,
    settings: PasswordSettings,
    pusher: Arc<P>,
    wake: Arc<Notify>,
    gate: TenantGate,
    /// Several DCs: which changes are this DC's to push.
    cluster: Arc<Cluster>,
}

impl<D, P> Clone for PasswordPath<D, P> {
    fn clone(&self) -> Self {
        PasswordPath {
            directory: self.directory.clone(),
            control: self.control.clone(),
            store: self.store.clone(),
            scope: self.scope.clone(),
            settings: self.settings.clone(),
            pusher: self.pusher.clone(),
            wake: self.wake.clone(),
            gate: self.gate.clone(),
            cluster: self.cluster.clone(),
        }
    }
}

impl<D: Directory, P: CredentialPusher> PasswordPath<D, P> {
    pub fn new(
        directory: Arc<D>,
        control: Control,
        store: State,
        scope: Arc<Scope>,
        settings: PasswordSettings,
        pusher: Arc<P>,
        gate: TenantGate,
    ) -> Self {
        let cluster = Cluster::single();
        PasswordPath {
            directory,
            control,
            store,
            scope,
            settings,
            pusher,
            wake: Arc::new(Notify::new()),
            gate,
            cluster,
        }
    }

    /// Takes part in a domain with several DCs (single DC otherwise).
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = cluster;
        self
    }

    /// Whether this DC pushes the user's current password (see [`Cluster::pushes`]); when not,
    /// the change is noted as handled by the DC that pushes it, so a later full reconcile on
    /// this DC does not push it again.
    async fn ours(&self, anchor: &Anchor, account: &str, kvno: u32) -> bool {
        if self.cluster.is_single() {
            return true;
        }
        let origin = match self.directory.password_origin(account).await {
            Ok(o) => o,
            Err(e) => {
                // Unknown origin: push (twice at worst, never lost).
                tracing::warn!(account, "cannot read who made the password change: {e}");
                return true;
            }
        };
        if self.cluster.pushes(origin.as_ref()) {
            return true;
        }
        let id = origin.as_ref().map(|o| o.invocation_id);
        let by = id.and_then(|g| self.cluster.pusher_name(&g)).unwrap_or_else(|| "the leader".into());
        let made = id.and_then(|g| self.cluster.origin_name(&g)).unwrap_or_else(|| "another DC".into());
        let why = format!("made on {made}; pushed by {by}'s daemon");
        tracing::debug!(account, %anchor, kvno, "{why}");
        if !self.settings.dry_run {
            let store = &self.store;
            let handled = store
                .password(anchor)
                .ok()
                .flatten()
                .map_or(0, |r| r.acked_kvno.unwrap_or(0).max(r.skipped_kvno.unwrap_or(0)));
            if handled < kvno {
                let _ = store.mark_skipped(anchor, account, kvno, &why);
                self.note(anchor, account, PasswordEvent::Skipped, kvno, &why);
            }
        }
        false
    }

    /// A follower's first start: the passwords set before it are the leader's initial backfill
    /// (or were pushed by the DCs that made them); noted as handled, so this DC does not push
    /// them all again should it lead one day.
    async fn note_history_as_the_leaders(&self) {
        let mut seen: Vec<(Anchor, String, u32)> = Vec::new();
        let read = self
            .directory
            .read_users(None, &mut |users| {
                for u in users.iter().filter(|u| self.scope.user(u).is_ok() && u.key_version > 0) {
                    seen.push((
                        source_anchor(&u.id, self.settings.anchor),
                        u.id.sam_account_name.clone(),
                        u.key_version,
                    ));
                }
            })
            .await;
        if let Err(e) = read {
            return self.control.report_error("sam.ldb", &e.to_string());
        }
        let store = &self.store;
        let why = "set before this DC's daemon first started; pushed by the leader's initial sync";
        for (anchor, account, kvno) in &seen {
            if let Err(e) = store.mark_skipped(anchor, account, *kvno, why) {
                return self.control.report_error("state", &e.to_string());
            }
        }
        tracing::info!(users = seen.len(), "first start as a follower: the passwords already set are the leader's");
    }

    /// Runs the notice watcher, the safety net and the pusher until `shutdown`.
    pub async fn run(
        self,
        notices: Arc<tokio::sync::Mutex<super::control::NoticeReceiver>>,
        shutdown: CancellationToken,
    ) {
        let mut tasks = JoinSet::new();
        tasks.spawn(self.clone().watch_notices(notices, shutdown.clone()));
        tasks.spawn(self.clone().safety_net(shutdown.clone()));
        tasks.spawn(self.clone().prune_history(shutdown.clone()));
        if !self.settings.dry_run {
            tasks.spawn(self.clone().pusher(shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Pushes everything in the outbox now, without the long-running loops (for `sync` run in
    /// the CLI). Items that fail stay queued for the daemon.
    pub async fn drain(&self) -> usize {
        if self.settings.dry_run || !self.gate.password_sync_on() {
            return 0;
        }
        let items = self.store.outbox().unwrap_or_default();
        let n = items.len();
        for item in items {
            self.push_one(item).await;
        }
        n
    }

    /// Wakes the pusher (after something was queued from outside, e.g. by a reconcile).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    // ---- 1. notices from the hook ----

    async fn watch_notices(
        self,
        notices: Arc<tokio::sync::Mutex<super::control::NoticeReceiver>>,
        shutdown: CancellationToken,
    ) {
        let mut notices = notices.lock().await;
        let mut watching: JoinSet<String> = JoinSet::new();
        let mut active: HashSet<String> = HashSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = watching.join_next(), if !watching.is_empty() => {
                    if let Ok(account) = done {
                        active.remove(&account);
                    }
                }
                n = notices.recv() => {
                    let Some(n) = n else { break };
                    let key = n.account.to_lowercase();
                    // One watch per account: a second notice while the first still waits is the
                    // same change (or a newer one the same watch will see).
                    if active.insert(key.clone()) {
                        let me = self.clone();
                        watching.spawn(async move {
                            me.await_commit(n).await;
                            key
                        });
                    }
                }
            }
        }
        watching.abort_all();
    }

    /// The in-scope user's (anchor, key version), or `None` (absent, or not synced).
    async fn key_version(&self, account: &str) -> Option<(Anchor, u32, i64)> {
        let user = self
            .directory
            .find_user(account, Lookup::SCOPED)
            .await
            .map_err(|e| tracing::warn!(account, "cannot read sam.ldb: {e}"))
            .ok()
            .flatten()?;
        if let Err(why) = self.scope.user(&user) {
            tracing::debug!(account, "not synced: {}", why.reason());
            return None;
        }
        Some((source_anchor(&user.id, self.settings.anchor), user.key_version, user.pwd_last_set))
    }

    /// The key version the change being announced must move past. Samba commits 30-80 ms
    /// after the hook runs, so on a slow machine the first read can already see the new
    /// password: a key version newer than any this DC has seen, pushed or skipped for the user
    /// is that change (waiting for one more would leave it to the safety net). A user with no
    /// record yet has nothing to compare with: the read is the baseline.
    fn baseline(&self, anchor: &Anchor, current: u32) -> u32 {
        let known = self
            .store
            .password(anchor)
            .ok()
            .flatten()
            .map(|r| r.seen_kvno.unwrap_or(0).max(r.acked_kvno.unwrap_or(0)).max(r.skipped_kvno.unwrap_or(0)));
        match known {
            Some(k) if k < current => k,
            _ => current,
        }
    }

    async fn await_commit(&self, n: PasswordNotice) {
        let baseline = self.key_version(&n.account).await.map(|(anchor, kvno, _)| self.baseline(&anchor, kvno));
        let deadline = Instant::now() + self.settings.commit_timeout;
        while Instant::now() < deadline {
            tokio::time::sleep(self.settings.commit_poll).await;
            if let Some((anchor, kvno, _)) = self.key_version(&n.account).await
                && baseline.is_none_or(|b| kvno > b)
            {
                tracing::debug!(account = %n.account, kvno, "password change committed");
                tokio::time::sleep(self.settings.settle).await;
                if !self.ours(&anchor, &n.account, kvno).await {
                    return;
                }
                // Not queued (state DB full): the safety net retries the same USN window.
                let _ = self.enqueue(&anchor, &n.account, kvno, n.noticed_at_us);
                return;
            }
        }
        tracing::info!(account = %n.account, "no committed password change within {:?}: Samba rejected it", self.settings.commit_timeout);
    }

    /// Queues a push in the durable outbox; false when the state DB refused it (disk full...),
    /// so the safety net keeps the change in its window and queues it again later.
    fn enqueue(&self, anchor: &Anchor, account: &str, kvno: u32, noticed_at_us: i64) -> bool {
        if self.settings.dry_run {
            // Nothing is queued, so nothing can be sent later by mistake; the first run without
            // dry_run finds the change by its key version.
            tracing::info!(account, %anchor, kvno, "dry run: would push this password change; nothing is sent");
            self.control.dry_run_password();
            return true;
        }
        match self.store.enqueue_push(anchor, account, kvno, noticed_at_us) {
            Ok(true) => {
                self.note(anchor, account, PasswordEvent::ChangeSeen, kvno, "");
                self.wake.notify_one();
                true
            }
            Ok(false) => true,
            Err(e) => {
                self.control.report_error("state", &format!("cannot queue the password push of {account}: {e}"));
                false
            }
        }
    }

    /// Drops password events older than `[state] password_history` (and beyond the per-user
    /// bound), at start and then every tenth of that period (at most every 10 minutes).
    async fn prune_history(self, shutdown: CancellationToken) {
        let keep = self.settings.history;
        let every = (keep / 10).clamp(Duration::from_millis(500), Duration::from_secs(600));
        loop {
            if let Err(e) = self.store.prune_password_history(keep) {
                self.control.report_error("state", &format!("cannot prune the password history: {e}"));
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    // ---- 4. the safety net ----

    async fn safety_net(self, shutdown: CancellationToken) {
        let mut last: Option<u64> = self.store.meta(META_LAST_USN).ok().flatten().and_then(|v| v.parse().ok());
        let mut usn = self.control.watch_directory_usn();
        let mut retry = false;
        loop {
            let high = *usn.borrow_and_update();
            // 0: the USN watcher has not read the directory yet.
            if high != 0 {
                retry = !self.catch_up(&mut last, high).await;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = usn.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(self.settings.change_poll), if retry => {}
            }
        }
    }

    /// Queues every in-scope user changed after `last` (up to `high`) whose key version is new,
    /// then moves `last` to `high`. False when something could not be queued or read: `last`
    /// stays, so the same window is read again.
    async fn catch_up(&self, last: &mut Option<u64>, high: u64) -> bool {
        let store = &self.store;
        let Some(since) = *last else {
            // First start: the initial reconcile pushes every password; from here on, only
            // changes count.
            if !self.cluster.is_single() && !self.cluster.is_leader() {
                self.note_history_as_the_leaders().await;
            }
            *last = Some(high);
            let _ = store.set_meta(META_LAST_USN, &high.to_string());
            return true;
        };
        if high <= since {
            return true;
        }
        let mut all_queued = true;
        // Several DCs: whose each change is needs another read, so they are queued after this one.
        let mut changed: Vec<(Anchor, String, u32, i64)> = Vec::new();
        let read = self
            .directory
            .read_users(Some(since), &mut |users| {
                for u in users.iter().filter(|u| self.scope.user(u).is_ok()) {
                    let anchor = source_anchor(&u.id, self.settings.anchor);
                    // "Must change at next logon" cleared without a new password: the key
                    // version skipped as temporary is a normal password now.
                    if !u.must_change_password()
                        && !self.settings.dry_run
                        && let Err(e) = store.release_temporary_skip(&anchor)
                    {
                        self.control.report_error("state", &e.to_string());
                    }
                    if u.must_change_password() && !self.settings.dry_run {
                        self.requeue_if_turned_temporary(&anchor, &u.id.sam_account_name, u.key_version);
                    }
                    changed.push((anchor, u.id.sam_account_name.clone(), u.key_version, change_time_us(u)));
                }
            })
            .await;
        if let Err(e) = read {
            self.control.report_error("sam.ldb", &e.to_string());
            return false;
        }
        for (anchor, account, kvno, at_us) in &changed {
            if self.ours(anchor, account, *kvno).await {
                all_queued &= self.enqueue(anchor, account, *kvno, *at_us);
            }
        }
        // A change that could not be queued must not fall behind the watermark.
        if !all_queued {
            return false;
        }
        *last = Some(high);
        if let Err(e) = store.set_meta(META_LAST_USN, &high.to_string()) {
            self.control.report_error("state", &e.to_string());
        }
        true
    }

    // ---- 3. the pusher ----

    async fn pusher(self, shutdown: CancellationToken) {
        // Nothing is sent before the tenant's checks have passed; changes wait in the outbox.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = self.gate.wait_open() => {}
        }
        let mut in_flight: HashSet<Anchor> = HashSet::new();
        // Each running task: whether it pushes a backfill batch, and the anchors it holds.
        let mut tasks: HashMap<tokio::task::Id, (bool, Vec<Anchor>)> = HashMap::new();
        let mut running: JoinSet<()> = JoinSet::new();
        let parallel = self.settings.parallel.max(1);
        loop {
            // While password hash sync is off in the tenant, pushes wait in the outbox: nothing
            // is sent (it would only be refused) and nothing is dropped.
            let phs_on = self.gate.password_sync_on();
            // Only what can start now: the in-flight ones (skipped below) plus a slot's worth of
            // live pushes and of backfill batches.
            let limit = in_flight.len() + parallel * (BACKFILL_BATCH + 1);
            let mut next_due: Option<i64> = None;
            let due = if phs_on { self.store.outbox_due(now_ms(), limit) } else { Ok((Vec::new(), None)) };
            match due {
                Ok((items, next)) => {
                    next_due = next;
                    let mut backfill_tasks = tasks.values().filter(|(backfill, _)| *backfill).count();
                    let mut live_running = tasks.len() - backfill_tasks;
                    let mut batch: Vec<OutboxItem> = Vec::new();
                    for item in items {
                        if in_flight.contains(&item.anchor) {
                            continue;
                        }
                        // Backfill items may wait long for bulk budget: they get their own
                        // slots, so a live change never queues behind them.
                        if item.backfill {
                            if batch.is_empty() {
                                if backfill_tasks >= parallel {
                                    continue;
                                }
                                backfill_tasks += 1;
                            }
                            in_flight.insert(item.anchor.clone());
                            batch.push(item);
                            if batch.len() == BACKFILL_BATCH {
                                self.spawn_batch(&mut running, &mut tasks, std::mem::take(&mut batch));
                            }
                            continue;
                        }
                        if live_running >= parallel {
                            continue;
                        }
                        live_running += 1;
                        in_flight.insert(item.anchor.clone());
                        let me = self.clone();
                        let anchor = item.anchor.clone();
                        let task = running.spawn(async move { me.push_one(item).await });
                        tasks.insert(task.id(), (false, vec![anchor]));
                    }
                    if !batch.is_empty() {
                        self.spawn_batch(&mut running, &mut tasks, batch);
                    }
                }
                Err(e) => self.control.report_error("state", &e.to_string()),
            }
            let wait = next_due
                .map_or(Duration::from_secs(5), |d| Duration::from_millis((d - now_ms()).clamp(1, 5000) as u64));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = self.gate.wait_password_sync(), if !phs_on => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    // A task that failed (panicked) frees its slot and anchors all the same.
                    let id = done.map_or_else(|e| e.id(), |(id, ())| id);
                    for anchor in tasks.remove(&id).map(|(_, anchors)| anchors).unwrap_or_default() {
                        in_flight.remove(&anchor);
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // Pushes in flight finish (or stay in the outbox for the next start).
        let grace = tokio::time::sleep(Duration::from_secs(3));
        tokio::pin!(grace);
        loop {
            tokio::select! {
                _ = &mut grace => break,
                done = running.join_next() => if done.is_none() { break },
            }
        }
        running.abort_all();
    }

    fn spawn_batch(
        &self,
        running: &mut JoinSet<()>,
        tasks: &mut HashMap<tokio::task::Id, (bool, Vec<Anchor>)>,
        batch: Vec<OutboxItem>,
    ) {
        let me = self.clone();
        let anchors = batch.iter().map(|i| i.anchor.clone()).collect();
        let task = running.spawn(async move { me.push_batch(batch).await });
        tasks.insert(task.id(), (true, anchors));
    }

    async fn push_one(&self, item: OutboxItem) {
        // The domain's USN as the user is read: unmoved at the acknowledgement, nothing changed
        // meanwhile (pwdLastSet=0 included), and the user need not be read again.
        let usn_at_read = self.directory.highest_usn().await.ok();
        let read = self.directory.find_user(&item.account, Lookup::SCOPED_WITH_HASH).await;
        let acknowledged: Vec<Acknowledged> = self.push_read(item, read).await.into_iter().collect();
        self.recheck_acknowledged(&acknowledged, usn_at_read).await;
    }

    /// Backfill: the batch's users are read in one search, then pushed one after another (the
    /// batch is one of the `parallel` calls in flight). A name the search did not return is
    /// looked up alone, so a user who left or was renamed is handled as in [`Self::push_one`].
    async fn push_batch(&self, batch: Vec<OutboxItem>) {
        let usn_at_read = self.directory.highest_usn().await.ok();
        let names: Vec<String> = batch.iter().map(|i| i.account.clone()).collect();
        let mut found = match self.directory.find_users(&names, Lookup::SCOPED_WITH_HASH).await {
            Ok(users) => users,
            Err(e) => {
                for item in batch {
                    self.push_read(item, Err(e.clone())).await;
                }
                return;
            }
        };
        let mut acknowledged = Vec::new();
        for item in batch {
            let read = match found.iter().position(|u| u.id.sam_account_name.eq_ignore_ascii_case(&item.account)) {
                Some(i) => Ok(Some(found.swap_remove(i))),
                None => self.directory.find_user(&item.account, Lookup::SCOPED_WITH_HASH).await,
            };
            acknowledged.extend(self.push_read(item, read).await);
        }
        self.recheck_acknowledged(&acknowledged, usn_at_read).await;
    }

    /// The push of `item` once its user was read. Returns the push when Entra acknowledged it as a normal password (see
    /// [`Self::recheck_acknowledged`]).
    async fn push_read(&self, item: OutboxItem, read: Result<Option<User>, DirectoryError>) -> Option<Acknowledged> {
        let store = &self.store;
        let user = match read {
            Ok(Some(u)) => u,
            Ok(None) => {
                let _ = store.drop_push(&item.anchor, "the user no longer exists or left the sync scope");
                self.tally(&item, ResyncTally::OutOfScope);
                return None;
            }
            Err(e) => {
                self.control.report_error("sam.ldb", &e.to_string());
                let _ = store.mark_push_failed(&item.anchor, &e.to_string(), now_ms() + 2_000);
                return None;
            }
        };
        if source_anchor(&user.id, self.settings.anchor) != item.anchor {
            // The name now belongs to another object; the safety net queues the right one.
            let _ = store.drop_push(&item.anchor, "the account name now belongs to another object");
            self.tally(&item, ResyncTally::OutOfScope);
            return None;
        }
        let kvno = user.key_version.max(item.kvno);
        if let Err(why) = self.scope.user(&user) {
            let _ = store.mark_skipped(&item.anchor, &item.account, kvno, why.reason());
            self.note(&item.anchor, &item.account, PasswordEvent::Skipped, kvno, why.reason());
            self.tally(&item, ResyncTally::OutOfScope);
            return None;
        }
        if let Ok(Some(block)) = store.block("User", &item.anchor) {
            // Refused by the tenant (cloud-managed: for good): its password stays here too.
            let _ = store.mark_skipped(&item.anchor, &item.account, kvno, &format!("blocked: {}", block.short()));
            self.note(&item.anchor, &item.account, PasswordEvent::Skipped, kvno, &block.sentence());
            self.tally(&item, ResyncTally::Refused);
            return None;
        }
        let temporary = user.must_change_password();
        if temporary && !self.settings.push_temporary {
            if store.acknowledged_as(&item.anchor).ok().flatten().is_some_and(|(acked, temp)| acked >= kvno && !temp) {
                self.take_back_temporary(&item, user, kvno).await;
                return None;
            }
            let why = "a temporary password (must change at next logon) stays on-premises";
            let _ = store.mark_temporary_skipped(&item.anchor, &item.account, kvno, why);
            self.note(&item.anchor, &item.account, PasswordEvent::Skipped, kvno, why);
            self.tally(&item, ResyncTally::Temporary);
            return None;
        }
        let Some(hash) = user.nt_hash.as_ref() else {
            let _ = store.mark_skipped(&item.anchor, &item.account, kvno, "the account has no password");
            self.note(&item.anchor, &item.account, PasswordEvent::Skipped, kvno, "the account has no password");
            self.tally(&item, ResyncTally::OutOfScope);
            return None;
        };
        let push = CredentialPush {
            anchor: item.anchor.clone(),
            account: item.account.clone(),
            credential: credential_data(hash.as_bytes()),
            change_date: change_date(&user),
            force_change_on_logon: temporary,
            backfill: item.backfill,
        };
        drop(user);
        let detail = if item.resync { "full password sync" } else { "" };
        if let Err(e) = store.mark_pushed(&item.anchor, &item.account, kvno, detail) {
            tracing::debug!(account = %item.account, "cannot record a push: {e}");
        }
        match self.pusher.push(push).await {
            PushOutcome::Acknowledged => {
                let latency = (now_us() - item.noticed_at_us).max(0);
                if let Err(e) = store.acknowledge_push(&item.anchor, &item.account, kvno, latency, temporary) {
                    self.control.report_error("state", &e.to_string());
                }
                self.control.clear_problem("push");
                tracing::info!(account = %item.account, anchor = %item.anchor, kvno, latency_ms = latency as f64 / 1000.0, "password synced");
                self.control
                    .emit(EngineEvent::PasswordSynced { account: item.account.clone(), latency_us: latency as u64 });
                self.tally(&item, ResyncTally::Pushed);
                if !temporary {
                    return Some(Acknowledged { anchor: item.anchor, account: item.account });
                }
            }
            other => self.push_failed(&item, other, kvno),
        }
        None
    }

    /// pwdLastSet=0 may have landed while these pushes were in flight (after their users were
    /// read at `usn_at_read`): the safety net saw it before the acknowledgement and found
    /// nothing to act on. Their users are read again only if the domain changed meanwhile.
    async fn recheck_acknowledged(&self, acknowledged: &[Acknowledged], usn_at_read: Option<u64>) {
        if acknowledged.is_empty() || !self.changed_since(usn_at_read).await {
            return;
        }
        let names: Vec<String> = acknowledged.iter().map(|a| a.account.clone()).collect();
        let users = match self.directory.find_users(&names, Lookup::SCOPED).await {
            Ok(users) => users,
            Err(e) => return tracing::warn!("cannot read sam.ldb: {e}"),
        };
        for user in users.iter().filter(|u| u.pwd_last_set == 0 && self.scope.user(u).is_ok()) {
            let anchor = source_anchor(&user.id, self.settings.anchor);
            if let Some(pushed) = acknowledged.iter().find(|a| a.anchor == anchor) {
                self.requeue_if_turned_temporary(&anchor, &pushed.account, user.key_version);
            }
        }
    }

    /// Whether the domain may have changed since `usn` (an unknown USN counts as changed).
    async fn changed_since(&self, usn: Option<u64>) -> bool {
        match (usn, self.directory.highest_usn().await) {
            (Some(before), Ok(now)) => now != before,
            _ => true,
        }
    }

    /// A password Entra acknowledged as a normal one is temporary now (an administrator's
    /// tool set `pwdLastSet=0` in a second write, after the settle): it is pushed again, as a
    /// temporary password or taken back (see [`Self::take_back_temporary`]).
    fn requeue_if_turned_temporary(&self, anchor: &Anchor, account: &str, kvno: u32) {
        let store = &self.store;
        match store.acknowledged_as(anchor) {
            Ok(Some((acked, false))) if acked >= kvno => {
                tracing::info!(
                    account,
                    %anchor,
                    kvno,
                    "a password pushed as a normal one is temporary now (must change at next logon)"
                );
                match store.requeue_acknowledged(anchor, account, kvno, now_us()) {
                    Ok(()) => self.wake.notify_one(),
                    Err(e) => self.control.report_error("state", &e.to_string()),
                }
            }
            Ok(_) => {}
            Err(e) => self.control.report_error("state", &e.to_string()),
        }
    }

    /// With `push_temporary_passwords = false`, a temporary password must not sign in to the
    /// cloud. Entra got it as a normal one: it gets back the previous password (ntPwdHistory)
    /// or, when the domain keeps no history, a random credential nobody knows (the user must
    /// change the password at the next logon anyway, and that change is pushed).
    async fn take_back_temporary(&self, item: &OutboxItem, user: User, kvno: u32) {
        let store = &self.store;
        let previous = match user.nt_hash.as_ref().and_then(|h| NtHash::from_bytes(h.as_bytes())) {
            Some(current) => self.directory.previous_nt_hash(&item.account, &current).await.unwrap_or_else(|e| {
                tracing::warn!(account = %item.account, "cannot read the password history: {e}");
                None
            }),
            None => None,
        };
        drop(user);
        let restored = previous.is_some();
        let hash = match previous {
            Some(h) => h,
            None => {
                let mut random = Zeroizing::new([0u8; 16]);
                if let Err(e) = getrandom::fill(&mut random[..]) {
                    let _ = store.mark_push_failed(&item.anchor, &format!("no randomness: {e}"), now_ms() + 2_000);
                    return;
                }
                match NtHash::from_bytes(&random[..]) {
                    Some(h) => h,
                    None => return,
                }
            }
        };
        let push = CredentialPush {
            anchor: item.anchor.clone(),
            account: item.account.clone(),
            credential: credential_data(hash.as_bytes()),
            change_date: SystemTime::now(),
            force_change_on_logon: false,
            backfill: false,
        };
        drop(hash);
        match self.pusher.push(push).await {
            PushOutcome::Acknowledged => {
                let why = if restored {
                    "a temporary password (must change at next logon) stays on-premises; it had reached Entra as a \
                     normal one, which got the previous password back"
                } else {
                    "a temporary password (must change at next logon) stays on-premises; it had reached Entra as a \
                     normal one, which got a random password (the domain keeps no password history)"
                };
                tracing::info!(account = %item.account, anchor = %item.anchor, kvno, restored, "a temporary password was taken back from Entra");
                // In this order: a crash between the two leaves the item queued, and its next
                // try finds nothing acknowledged and records the skip.
                let _ = store.forget_acknowledged(&item.anchor);
                let _ = store.mark_temporary_skipped(&item.anchor, &item.account, kvno, why);
            }
            other => self.push_failed(item, other, kvno),
        }
    }

    /// Every outcome but an acknowledgement: the push stays queued for a later try.
    fn push_failed(&self, item: &OutboxItem, outcome: PushOutcome, kvno: u32) {
        let store = &self.store;
        match outcome {
            PushOutcome::Acknowledged => {}
            PushOutcome::UnknownObject => {
                tracing::info!(account = %item.account, "not in Entra yet: exporting the user first");
                let _ = self.control.command(Command::ExportUser(item.account.clone()));
                let at = now_ms() + as_ms(backoff(item.attempts));
                let _ = store.mark_push_failed(&item.anchor, "the user is not in Entra yet", at);
                let detail = format!("the user is not in Entra yet; next try in {} s", (at - now_ms()).max(0) / 1000);
                self.note(&item.anchor, &item.account, PasswordEvent::Retried, kvno, &detail);
                self.tally(item, ResyncTally::NotExported);
            }
            PushOutcome::Retry { error, after } => {
                self.control.push_failed();
                tracing::warn!(account = %item.account, "password push will be retried: {error}");
                let delay = after.unwrap_or_else(|| backoff(item.attempts));
                let _ = store.mark_push_failed(&item.anchor, &error, now_ms() + as_ms(delay));
                let detail = format!("{error}; next try in {} s", delay.as_secs());
                self.note(&item.anchor, &item.account, PasswordEvent::Retried, kvno, &detail);
                self.tally_failure(item);
            }
            PushOutcome::Failed { error } if BlockKind::classify(&error) == BlockKind::CloudManaged => {
                // The user is managed in the cloud now: left alone for good, passwords included.
                let digest = store
                    .exported_object(super::model::ObjectType::User, &item.anchor)
                    .ok()
                    .flatten()
                    .map(|e| e.digest)
                    .unwrap_or_default();
                match store.record_block("User", &item.anchor, &item.account, &digest, &error) {
                    Ok((block, new)) => {
                        if new {
                            tracing::warn!(account = %item.account, anchor = %item.anchor, "{}", block.sentence());
                            self.control.report_error(&item.account, &block.sentence());
                        }
                        let why = format!("blocked: {}", block.short());
                        let _ = store.mark_skipped(&item.anchor, &item.account, kvno, &why);
                        self.note(&item.anchor, &item.account, PasswordEvent::Refused, kvno, &block.sentence());
                    }
                    Err(e) => self.control.report_error("state", &e.to_string()),
                }
                self.tally(item, ResyncTally::Refused);
            }
            PushOutcome::Failed { error } => {
                self.control.push_failed();
                self.control.report_error(&item.account, &format!("password push refused: {error}"));
                let note = format!("{REFUSED_NOTE}{error}");
                self.note(&item.anchor, &item.account, PasswordEvent::Refused, kvno, &error);
                let _ = store.mark_push_failed(&item.anchor, &note, now_ms() + as_ms(backoff(item.attempts)));
                self.tally(item, ResyncTally::Refused);
            }
            PushOutcome::SignIn { error } => {
                self.control.push_failed();
                self.control.report_error(&item.account, &format!("password push refused: {error}"));
                self.control.set_problem("push", &with_sign_in_fix(&format!("password pushes fail: {error}")));
                self.note(&item.anchor, &item.account, PasswordEvent::Refused, kvno, &error);
                let _ = store.mark_push_failed(&item.anchor, &error, now_ms() + as_ms(backoff(item.attempts)));
                self.tally_failure(item);
            }
        }
    }

    /// One line of the user's password history (`user NAME --history`).
    fn note(&self, anchor: &Anchor, account: &str, event: PasswordEvent, kvno: u32, detail: &str) {
        if let Err(e) = self.store.record_password_event(anchor, account, event, Some(kvno), detail) {
            tracing::debug!(account, "cannot record a password event: {e}");
        }
    }

    /// Counts a resync push's outcome in the resync's summary (once), and reports the summary
    /// when it was the last one.
    fn tally(&self, item: &OutboxItem, tally: ResyncTally) {
        if !item.resync {
            return;
        }
        match self.store.resync_tally(&item.anchor, tally) {
            Ok(Some(run)) => log_resync_finished(&run),
            Ok(None) => {}
            Err(e) => self.control.report_error("state", &e.to_string()),
        }
    }

    /// A resync push that keeps failing counts as failed after a few tries (about half a
    /// minute); it is still retried like any other push.
    fn tally_failure(&self, item: &OutboxItem) {
        if item.attempts + 1 >= RESYNC_TRIES {
            self.tally(item, ResyncTally::Failed);
        }
    }
}

/// Tries of a resync push before the resync counts it as failed.
const RESYNC_TRIES: u32 = 5;

/// The one line a finished resync leaves in the log.
pub(crate) fn log_resync_finished(run: &ResyncRun) {
    tracing::info!(
        reason = %run.reason,
        total = run.total,
        pushed = run.pushed,
        temporary_password = run.temporary_password,
        out_of_scope = run.out_of_scope,
        not_exported = run.not_exported,
        refused = run.refused,
        failed = run.failed,
        "full password sync finished"
    );
}

/// The pause before the next try of one push, whatever the reason it failed: about 1 s,
/// doubling with each failed attempt, with jitter, capped at 60 s (so a push that keeps failing
/// is still tried every minute, never parked for longer). `Retry-After` wins where given.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let base = 1_000u64.saturating_mul(1 << attempts.min(6)).min(60_000);
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() { u64::from(u16::from_le_bytes(b)) % (base / 5 + 1) } else { 0 };
    Duration::from_millis(base - base / 10 + jitter)
}

/// A duration in the state DB's unit (ms), for adding to a timestamp.
fn as_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When the password was set (pwdLastSet), or now when it is unknown or in the future.
fn change_date(u: &User) -> SystemTime {
    match filetime_to_unix(u.pwd_last_set) {
        Some(secs) if secs > 0 => {
            let t = UNIX_EPOCH + Duration::from_secs(secs as u64);
            t.min(SystemTime::now())
        }
        _ => SystemTime::now(),
    }
}

/// The latency clock of a change found by the safety net starts when the password was set.
fn change_time_us(u: &User) -> i64 {
    let set_us = u.pwd_last_set / 10 - 11_644_473_600_000_000;
    if u.pwd_last_set > 0 && set_us > 0 { set_us.min(now_us()) } else { now_us() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testing::Rig;

    /// Runs the password path and a USN watcher polling every `poll` until the token is
    /// cancelled; returns once the safety net has its starting USN.
    async fn start(rig: &Rig, poll: Duration) -> (CancellationToken, JoinSet<()>) {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(rig.passwords.clone().run(rig.inbox.notices.clone(), stop.clone()));
        tasks.spawn(crate::sync::usn_watch::run(rig.directory.clone(), rig.control.clone(), poll, stop.clone()));
        until("the safety net's start", || rig.store.meta(META_LAST_USN).unwrap().is_some()).await;
        (stop, tasks)
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_notice_waits_for_the_commit_and_the_settle_then_pushes_once() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let anchor = rig.anchor("alice");
        // A slow safety net: the notice is what pushes.
        let (stop, mut tasks) = start(&rig, Duration::from_secs(3)).await;
        until("the backfill push", || rig.tenant.password_pushes(&anchor) == Some(1)).await;
        assert_eq!(rig.tenant.calls().pushes, 1);

        rig.control.password_changed("alice").unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(rig.tenant.calls().pushes, 1, "nothing is pushed before Samba commits");
        let committed = Instant::now();
        rig.directory.set_password("alice", [7; 16]);
        until("the push", || rig.tenant.password_pushes(&anchor) == Some(2)).await;
        assert!(committed.elapsed() >= Duration::from_millis(50), "the push waits out the settle");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(rig.tenant.calls().pushes, 2, "one push for one change");
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_change_committed_before_the_notice_is_read_is_pushed_at_once() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let anchor = rig.anchor("alice");
        // A slow safety net: only the notice can push within the test's time.
        let (stop, mut tasks) = start(&rig, Duration::from_secs(3)).await;
        until("the backfill push", || rig.tenant.password_pushes(&anchor) == Some(1)).await;

        // A slow machine: Samba has committed before the daemon reads the user.
        rig.directory.set_password("alice", [9; 16]);
        let noticed = Instant::now();
        rig.control.password_changed("alice").unwrap();
        until("the push", || rig.tenant.password_pushes(&anchor) == Some(2)).await;
        assert!(noticed.elapsed() < Duration::from_secs(2), "pushed by the notice, not the safety net");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(rig.tenant.calls().pushes, 2, "one push for one change");
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_push_reads_the_user_again_only_when_the_domain_changed_while_it_was_in_flight() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let anchor = rig.anchor("alice");
        let calls = &rig.directory.calls;
        let reads = || {
            use std::sync::atomic::Ordering::Relaxed;
            calls.find_user.load(Relaxed) + calls.find_users.load(Relaxed)
        };
        // A safety net too slow to matter: only the push itself can notice the change.
        let before = reads();
        let (stop, mut tasks) = start(&rig, Duration::from_secs(60)).await;
        until("the backfill push", || rig.tenant.password_pushes(&anchor) == Some(1)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(reads() - before, 1, "a quiet domain: the user is read once per push");

        // pwdLastSet=0 lands while the next push is in flight: read again, and taken back.
        let directory = rig.directory.clone();
        rig.tenant.while_pushing(move || directory.update_user("alice", |u| u.pwd_last_set = 0));
        rig.directory.set_password("alice", [5; 16]);
        rig.control.password_changed("alice").unwrap();
        until("the take-back", || rig.tenant.password_pushes(&anchor) == Some(3)).await;
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_backfill_reads_its_users_in_batches_and_alone_only_a_name_the_batch_did_not_find() {
        use std::sync::atomic::Ordering::Relaxed;
        let rig = Rig::new().await;
        let dns: Vec<String> = (0..40).map(|i| rig.directory.add_user(&format!("user{i:02}"))).collect();
        rig.reconciler.run_full().await.unwrap();
        assert_eq!(rig.store.outbox_len().unwrap(), 40, "the run queued every password");
        // A user deleted after its push was queued: the batch's search does not find it.
        rig.directory.remove(&dns[7]);
        // pwdLastSet=0 lands on user03 while the batch's pushes are in flight (once).
        let directory = rig.directory.clone();
        let landed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let once = landed.clone();
        rig.tenant.while_pushing(move || {
            if !once.swap(true, Relaxed) {
                directory.update_user("user03", |u| u.pwd_last_set = 0);
            }
        });
        let calls = &rig.directory.calls;
        let (single, batched) = (calls.find_user.load(Relaxed), calls.find_users.load(Relaxed));
        let (stop, mut tasks) = start(&rig, Duration::from_secs(60)).await;
        until("the backfill", || rig.store.outbox_len().unwrap() == 0 && rig.tenant.calls().pushes == 40).await;
        assert_eq!(rig.tenant.password_pushes(&rig.anchor("user08")), Some(1));
        assert_eq!(
            rig.tenant.password_pushes(&rig.anchor("user03")),
            Some(2),
            "the user that turned temporary in flight is read again at the batch's end, and taken back"
        );
        // The batch whose domain changed in flight is read again in one search (a fourth), and
        // user03's take-back reads it alone; so does the missing name. Nobody else is read
        // alone.
        assert_eq!(
            calls.find_users.load(Relaxed) - batched,
            4,
            "40 users read in searches of 16, 16 and 8, and once again"
        );
        assert_eq!(
            calls.find_user.load(Relaxed) - single,
            2,
            "only the missing name and user03's take-back are read alone"
        );
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_temporary_password_set_in_two_writes_stays_on_premises() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let anchor = rig.anchor("alice");
        let (stop, mut tasks) = start(&rig, Duration::from_secs(3)).await;
        until("the backfill push", || rig.tenant.password_pushes(&anchor) == Some(1)).await;

        rig.control.password_changed("alice").unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        rig.directory.set_password("alice", [8; 16]);
        // The administrator's tool sets pwdLastSet=0 in a second write, within the settle.
        tokio::time::sleep(Duration::from_millis(10)).await;
        rig.directory.update_user("alice", |u| u.pwd_last_set = 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(rig.tenant.password_pushes(&anchor), Some(1), "the temporary password was not pushed");
        assert_eq!(rig.tenant.calls().pushes, 1);
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_failed_push_is_retried_after_its_pause_at_the_cost_of_one_call() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let anchor = rig.anchor("alice");
        let (stop, mut tasks) = start(&rig, Duration::from_millis(20)).await;
        until("the backfill push", || rig.tenant.password_pushes(&anchor) == Some(1)).await;

        rig.tenant.script_pushes([PushOutcome::Retry { error: "503".into(), after: Some(Duration::from_millis(150)) }]);
        rig.directory.set_password("alice", [9; 16]);
        until("the first try", || rig.tenant.calls().pushes == 2).await;
        let failed = Instant::now();
        until("the retry", || rig.tenant.password_pushes(&anchor) == Some(2)).await;
        assert!(failed.elapsed() >= Duration::from_millis(100), "the retry waits for Retry-After");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rig.tenant.calls().pushes, 3, "one failed call, one retry");
        let outbox = rig.store.outbox().unwrap();
        assert!(outbox.is_empty(), "nothing left queued");
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn the_safety_net_finds_a_change_without_a_notice_and_an_unknown_user_is_exported_first() {
        let rig = Rig::new().await;
        rig.directory.add_user("alice");
        rig.reconciler.run_full().await.unwrap();
        let alice = rig.anchor("alice");
        let (stop, mut tasks) = start(&rig, Duration::from_millis(20)).await;
        until("the backfill push", || rig.tenant.password_pushes(&alice) == Some(1)).await;

        // No notice at all (an NT-hash-only set, replication): the USN moves.
        rig.directory.set_password("alice", [5; 16]);
        until("the safety net's push", || rig.tenant.password_pushes(&alice) == Some(2)).await;

        // A user Entra does not know yet: the push asks the reconciler to export it.
        rig.directory.add_user("bob");
        let mut commands = rig.inbox.commands.lock().await;
        let command = tokio::time::timeout(Duration::from_secs(5), commands.recv()).await.unwrap().unwrap();
        assert!(matches!(command, Command::ExportUser(ref a) if a == "bob"), "{command:?}");
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[test]
    fn backoff_grows_and_caps() {
        let ms = |a| backoff(a).as_millis();
        assert!((900..=1_100).contains(&ms(0)));
        assert!((3_600..=4_400).contains(&ms(2)));
        assert!((54_000..=66_000).contains(&ms(6)));
        assert!((54_000..=66_000).contains(&ms(30)));
    }
}
