//! Several DCs of one domain, each running the daemon: which one leads, and which one pushes
//! a given password change. AD already is a replicated, multi-master database with a
//! single-owner role, so there is no protocol of our own here:
//!
//! * **Whose change is it?** The DC that made it: the originating DSA of `unicodePwd` in
//!   `replPropertyMetaData`. A DC pushes its own changes at once (hook and safety net). A change
//!   that arrived by replication is left to the DC it came from when that DC runs the daemon
//!   (`[cluster] peers`); changes from other DCs are pushed by the leader as they replicate.
//! * **Who leads?** By default the DC holding the PDC emulator FSMO role (`fSMORoleOwner` of the
//!   domain head, re-read on every poll), so `samba-tool fsmo transfer` or `seize` moves the
//!   leader. The leader runs reconciles, deletes, drift repair, the initial password backfill
//!   and the consistency GUID write-back; it re-reads the role right before each delete batch,
//!   so two DCs never both delete.
//! * **No peers** (the default): this is the only daemon of the domain, it leads whatever role
//!   its DC holds and pushes every change it sees, exactly as a single-DC installation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::control::{ClusterStatus, Control};
use super::directory::{ClusterView, Directory, DirectoryError};
use super::state::State;
use crate::config::{ClusterConfig, LeaderPolicy};
use crate::samba::replication::{DomainController, Guid, PasswordOrigin};

/// State meta key: this DC has finished a full reconcile, so its initial password backfill
/// is done and from then on a peer's password changes are left to the peer.
pub const META_BACKFILLED: &str = "cluster.backfilled";

/// This DC's part in the domain's sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// Which daemon pushes a password change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pusher {
    /// It was made on this DC.
    ThisDc,
    /// It was made on a peer, whose own daemon pushes it.
    Peer(String),
    /// It was made on a DC that runs no daemon (or one not known yet): the leader pushes it.
    Leader,
}

/// The leader decision, from the policy and what the directory says.
pub fn decide_role(policy: LeaderPolicy, single: bool, holds_pdc: bool) -> Role {
    match policy {
        LeaderPolicy::Always => Role::Leader,
        LeaderPolicy::Never => Role::Follower,
        LeaderPolicy::PdcEmulator if single || holds_pdc => Role::Leader,
        LeaderPolicy::PdcEmulator => Role::Follower,
    }
}

/// Who pushes a change originated by `origin`, seen from the DC whose invocation id is `me`.
pub fn pusher_of(origin: &Guid, me: &Guid, dcs: &[DomainController], peers: &[String]) -> Pusher {
    if origin == me {
        return Pusher::ThisDc;
    }
    match dcs.iter().find(|dc| dc.invocation_id == *origin) {
        Some(dc) if peers.iter().any(|p| p.eq_ignore_ascii_case(&dc.name)) => Pusher::Peer(dc.name.clone()),
        _ => Pusher::Leader,
    }
}

/// What a poll changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleChange {
    Unchanged,
    BecameLeader,
    BecameFollower,
}

/// This DC's view of the cluster, shared by the password path, the reconciler and status.
pub struct Cluster {
    peers: Vec<String>,
    policy: LeaderPolicy,
    view: Mutex<ClusterView>,
    role: watch::Sender<Role>,
    /// Where `status` reads the role from.
    report: Mutex<Option<Control>>,
    /// Counts the times this DC became the leader: a new term means its export state may be
    /// stale (another DC led meanwhile).
    term: std::sync::atomic::AtomicU64,
}

impl Cluster {
    pub fn new(config: &ClusterConfig) -> Arc<Cluster> {
        let single = config.peers.is_empty();
        // Until the first poll a cluster member follows: it must not delete on a guess.
        let (role, _) = watch::channel(decide_role(config.leader, single, false));
        Arc::new(Cluster {
            peers: config.peers.clone(),
            policy: config.leader,
            view: Mutex::new(ClusterView::default()),
            role,
            report: Mutex::new(None),
            term: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The single-DC default (no `[cluster]` section): leads, pushes everything.
    pub fn single() -> Arc<Cluster> {
        Cluster::new(&ClusterConfig::default())
    }

    /// Publishes the role to `control`'s status from now on.
    pub fn report_to(&self, control: Control) {
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(control);
        self.publish();
    }

    fn publish(&self) {
        if let Some(c) = self.report.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            c.set_cluster(ClusterStatus {
                role: Some(self.role().as_str().to_string()),
                leader: self.leader(),
                this_dc: self.this_dc(),
            });
        }
    }

    /// No peers: today's single-DC behaviour.
    pub fn is_single(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn policy(&self) -> LeaderPolicy {
        self.policy
    }

    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    pub fn is_leader(&self) -> bool {
        self.role() == Role::Leader
    }

    /// How many times this DC became the leader since it started.
    pub fn term(&self) -> u64 {
        self.term.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Role changes, for the reconcile loop (a new leader starts with a full reconcile).
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    fn view(&self) -> ClusterView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// This DC's server name, once polled.
    pub fn this_dc(&self) -> Option<String> {
        self.view().me.map(|m| m.name)
    }

    /// The leader's server name as far as this DC knows.
    pub fn leader(&self) -> Option<String> {
        let v = self.view();
        match self.role() {
            Role::Leader => v.me.map(|m| m.name),
            // A follower's best knowledge: the PDC emulator (the leader of the default policy).
            Role::Follower => v.pdc_owner,
        }
    }

    /// Takes a new view of the directory and decides the role from it.
    pub fn apply(&self, view: ClusterView) -> RoleChange {
        let new = decide_role(self.policy, self.is_single(), view.holds_pdc);
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = view;
        let mut old = new;
        // Subscribers wake only on a real change.
        self.role.send_if_modified(|r| {
            old = std::mem::replace(r, new);
            old != new
        });
        match (old, new) {
            (Role::Follower, Role::Leader) => {
                self.term.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                RoleChange::BecameLeader
            }
            (Role::Leader, Role::Follower) => RoleChange::BecameFollower,
            _ => RoleChange::Unchanged,
        }
    }

    /// Reads this DC, the domain's DCs and the PDC emulator role from sam.ldb, and decides.
    pub async fn refresh<D: Directory>(&self, directory: &D) -> Result<RoleChange, DirectoryError> {
        let view = directory.cluster_view().await?;
        let change = self.apply(view);
        self.publish();
        match change {
            RoleChange::BecameLeader => tracing::info!(
                dc = ?self.this_dc(),
                policy = self.policy.as_str(),
                "this DC is now the sync leader: it runs reconciles and deletes"
            ),
            RoleChange::BecameFollower => tracing::info!(
                dc = ?self.this_dc(),
                leader = ?self.leader(),
                "this DC is now a follower: it pushes only its own password changes"
            ),
            RoleChange::Unchanged => {}
        }
        Ok(change)
    }

    /// Re-reads the role right before something only the leader may do (a delete batch):
    /// false when this DC no longer leads, or when the role cannot be read (never delete on a
    /// guess).
    pub async fn confirm_leader<D: Directory>(&self, directory: &D) -> bool {
        if self.is_single() || self.policy != LeaderPolicy::PdcEmulator {
            return self.is_leader();
        }
        match self.refresh(directory).await {
            Ok(_) => self.is_leader(),
            Err(e) => {
                tracing::warn!("cannot re-read the PDC emulator role before deleting; deletes wait: {e}");
                false
            }
        }
    }

    /// Who pushes a change with this origin.
    pub fn pusher_of(&self, origin: &Guid) -> Pusher {
        let v = self.view();
        match &v.me {
            Some(me) => pusher_of(origin, &me.invocation_id, &v.dcs, &self.peers),
            None => Pusher::Leader,
        }
    }

    /// Whether this DC pushes a password change with this origin: its own always; a
    /// replicated one from a DC that is not a peer only while it leads; a single DC pushes
    /// everything. Without an origin (no metadata) the leader pushes it.
    pub fn pushes(&self, origin: Option<&PasswordOrigin>) -> bool {
        if self.is_single() {
            return true;
        }
        let pusher = origin.map_or(Pusher::Leader, |o| self.pusher_of(&o.invocation_id));
        match pusher {
            Pusher::ThisDc => true,
            Pusher::Peer(_) => false,
            Pusher::Leader => self.is_leader(),
        }
    }

    /// The name of the DC whose daemon pushes a change with this origin (for `user NAME`).
    pub fn pusher_name(&self, origin: &Guid) -> Option<String> {
        match self.pusher_of(origin) {
            Pusher::ThisDc => self.this_dc(),
            Pusher::Peer(name) => Some(name),
            Pusher::Leader => self.leader(),
        }
    }

    /// The server name of the DC that originated a change (whether or not it runs the daemon).
    pub fn origin_name(&self, origin: &Guid) -> Option<String> {
        self.view().dcs.iter().find(|dc| dc.invocation_id == *origin).map(|dc| dc.name.clone())
    }

    /// A reconcile's password backfill without the changes a peer's daemon pushes (read from
    /// each user's `replPropertyMetaData`). Before this DC's first full reconcile has finished,
    /// nothing is dropped: the initial backfill pushes every password once, whichever DC set it.
    pub async fn leave_to_peers<D: Directory, P: Send>(
        &self,
        directory: &D,
        store: &State,
        pending: Vec<P>,
        account: impl Fn(&P) -> &str + Send,
    ) -> Vec<P> {
        if self.is_single() || pending.is_empty() || !matches!(store.meta(META_BACKFILLED), Ok(Some(_))) {
            return pending;
        }
        let mut kept = Vec::with_capacity(pending.len());
        for p in pending {
            let origin = directory.password_origin(account(&p)).await;
            match origin {
                Ok(Some(o)) => {
                    if let Pusher::Peer(peer) = self.pusher_of(&o.invocation_id) {
                        tracing::debug!(account = account(&p), peer, "left to the peer that made the change");
                        continue;
                    }
                }
                Ok(None) => {}
                // Unreadable metadata: the leader pushes it (twice at worst, never lost).
                Err(e) => tracing::warn!(account = account(&p), "cannot read who changed the password: {e}"),
            }
            kept.push(p);
        }
        kept
    }

    /// Polls the directory every `every` until `shutdown` (the change poll's period).
    pub async fn watch<D: Directory>(self: Arc<Self>, directory: Arc<D>, every: Duration, shutdown: CancellationToken) {
        if self.is_single() && self.policy != LeaderPolicy::PdcEmulator {
            // Nothing can change the role; one read names this DC for status.
            let _ = self.refresh(directory.as_ref()).await;
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.refresh(directory.as_ref()).await {
                tracing::warn!("cannot read the PDC emulator role: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc(name: &str, id: u8) -> DomainController {
        DomainController {
            ntds_settings_dn: format!("CN=NTDS Settings,CN={name},CN=Servers,CN=S,CN=Sites,CN=Configuration,DC=x"),
            name: name.into(),
            invocation_id: Guid([id; 16]),
        }
    }

    fn view(me: u8, pdc: &str) -> ClusterView {
        let dcs = vec![dc("DC1", 1), dc("DC2", 2), dc("DC3", 3)];
        let me = dcs[usize::from(me) - 1].clone();
        ClusterView { holds_pdc: me.name == pdc, me: Some(me), dcs, pdc_owner: Some(pdc.into()) }
    }

    fn cluster(peers: &[&str], leader: LeaderPolicy) -> Arc<Cluster> {
        Cluster::new(&ClusterConfig { peers: peers.iter().map(|p| p.to_string()).collect(), leader })
    }

    fn origin(id: u8) -> PasswordOrigin {
        PasswordOrigin {
            invocation_id: Guid([id; 16]),
            change_time: 0,
            originating_usn: 1,
            version: 1,
            pwd_last_set: 1,
        }
    }

    #[test]
    fn the_policy_decides_the_role() {
        use LeaderPolicy::*;
        assert_eq!(decide_role(PdcEmulator, false, true), Role::Leader);
        assert_eq!(decide_role(PdcEmulator, false, false), Role::Follower);
        // Alone, a daemon leads whichever DC holds the role.
        assert_eq!(decide_role(PdcEmulator, true, false), Role::Leader);
        assert_eq!(decide_role(Always, false, false), Role::Leader);
        assert_eq!(decide_role(Never, false, true), Role::Follower);
        assert_eq!(decide_role(Never, true, true), Role::Follower);
    }

    #[test]
    fn a_change_belongs_to_the_dc_that_made_it() {
        let dcs = vec![dc("DC1", 1), dc("DC2", 2), dc("DC3", 3)];
        let peers = vec!["dc2".to_string()];
        let me = Guid([1; 16]);
        assert_eq!(pusher_of(&Guid([1; 16]), &me, &dcs, &peers), Pusher::ThisDc);
        // Peers match by server name, ignoring case.
        assert_eq!(pusher_of(&Guid([2; 16]), &me, &dcs, &peers), Pusher::Peer("DC2".into()));
        // DC3 runs no daemon; an unknown invocation id (a restored DC) is nobody's either.
        assert_eq!(pusher_of(&Guid([3; 16]), &me, &dcs, &peers), Pusher::Leader);
        assert_eq!(pusher_of(&Guid([9; 16]), &me, &dcs, &peers), Pusher::Leader);
    }

    #[test]
    fn a_member_pushes_its_own_changes_and_the_leader_those_of_dcs_without_a_daemon() {
        let c = cluster(&["DC2"], LeaderPolicy::PdcEmulator);
        assert_eq!(c.role(), Role::Follower, "no leading before the first poll");
        assert!(!c.pushes(Some(&origin(1))), "before the first poll this DC knows no id of its own");
        assert_eq!(c.apply(view(1, "DC1")), RoleChange::BecameLeader);
        assert!(c.pushes(Some(&origin(1))));
        assert!(!c.pushes(Some(&origin(2))), "DC2's daemon pushes DC2's changes");
        assert!(c.pushes(Some(&origin(3))), "DC3 runs no daemon: the leader pushes");
        assert!(c.pushes(None));
        assert_eq!(c.pusher_name(&Guid([2; 16])).as_deref(), Some("DC2"));
        assert_eq!(c.pusher_name(&Guid([3; 16])).as_deref(), Some("DC1"));
        assert_eq!(c.origin_name(&Guid([3; 16])).as_deref(), Some("DC3"));
        // The role moves to DC2: DC3's changes are DC2's to push now.
        assert_eq!(c.apply(view(1, "DC2")), RoleChange::BecameFollower);
        assert!(c.pushes(Some(&origin(1))));
        assert!(!c.pushes(Some(&origin(3))));
        assert_eq!(c.leader().as_deref(), Some("DC2"));
        assert_eq!(c.pusher_name(&Guid([3; 16])).as_deref(), Some("DC2"));
        assert_eq!(c.apply(view(1, "DC2")), RoleChange::Unchanged);
    }

    #[test]
    fn role_changes_reach_subscribers() {
        let c = cluster(&["DC1"], LeaderPolicy::PdcEmulator);
        let mut rx = c.subscribe();
        assert_eq!(c.apply(view(2, "DC1")), RoleChange::Unchanged);
        assert!(!rx.has_changed().unwrap_or(true));
        assert_eq!(c.apply(view(2, "DC2")), RoleChange::BecameLeader);
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), Role::Leader);
        assert_eq!(c.leader().as_deref(), Some("DC2"));
        assert_eq!(c.this_dc().as_deref(), Some("DC2"));
    }

    #[test]
    fn a_single_dc_leads_and_pushes_everything_and_fixed_policies_ignore_the_role() {
        let c = Cluster::single();
        assert!(c.is_leader());
        assert!(c.pushes(Some(&origin(7))));
        assert_eq!(c.apply(view(2, "DC1")), RoleChange::Unchanged);
        assert!(c.is_leader());
        let always = cluster(&["DC1"], LeaderPolicy::Always);
        assert_eq!(always.apply(view(2, "DC1")), RoleChange::Unchanged);
        assert!(always.is_leader());
        let never = cluster(&["DC2"], LeaderPolicy::Never);
        never.apply(view(1, "DC1"));
        assert!(!never.is_leader());
        assert!(never.pushes(Some(&origin(1))));
        assert!(!never.pushes(Some(&origin(3))));
    }
}

/// The engine's cluster behaviour over the fakes (`testing::Rig`).
#[cfg(test)]
mod engine_tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::sync::reconcile::ReconcileError;
    use crate::sync::testing::{FAKE_THIS_DC, Rig};

    fn dc(name: &str, id: u8) -> DomainController {
        DomainController {
            ntds_settings_dn: format!(
                "CN=NTDS Settings,CN={name},CN=Servers,CN=S,CN=Sites,CN=Configuration,DC=lab,DC=test"
            ),
            name: name.into(),
            invocation_id: Guid([id; 16]),
        }
    }

    /// DC1 (this DC, invocation id [1; 16]), DC2 and DC3; `pdc` holds the role.
    fn view(pdc: &str) -> ClusterView {
        let me = dc("DC1", 1);
        assert_eq!(me.invocation_id, FAKE_THIS_DC);
        ClusterView {
            holds_pdc: pdc == "DC1",
            me: Some(me.clone()),
            dcs: vec![me, dc("DC2", 2), dc("DC3", 3)],
            pdc_owner: Some(pdc.into()),
        }
    }

    fn peers_dc2(leader: LeaderPolicy) -> ClusterConfig {
        ClusterConfig { peers: vec!["dc2".into()], leader }
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs the password path and a fast USN watcher until the token is cancelled.
    async fn start(rig: &Rig) -> (tokio_util::sync::CancellationToken, tokio::task::JoinSet<()>) {
        let stop = tokio_util::sync::CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(rig.passwords.clone().run(rig.inbox.notices.clone(), stop.clone()));
        let poll = Duration::from_millis(10);
        tasks.spawn(crate::sync::usn_watch::run(rig.directory.clone(), rig.control.clone(), poll, stop.clone()));
        (stop, tasks)
    }

    #[tokio::test]
    async fn a_leader_pushes_its_own_changes_and_those_of_dcs_without_a_daemon_never_a_peers() {
        let rig = Rig::clustered(&peers_dc2(LeaderPolicy::PdcEmulator), view("DC1")).await;
        for u in ["own", "peer", "nodaemon"] {
            rig.directory.add_user(u);
        }
        rig.reconciler.run_full().await.unwrap();
        let (stop, mut tasks) = start(&rig).await;
        let (own, peer, other) = (rig.anchor("own"), rig.anchor("peer"), rig.anchor("nodaemon"));
        until("the backfill", || [&own, &peer, &other].iter().all(|a| rig.tenant.password_pushes(a) == Some(1))).await;
        // Let the safety net take its starting USN before the changes.
        tokio::time::sleep(Duration::from_millis(50)).await;

        rig.directory.set_password_on("own", [7; 16], Guid([1; 16]));
        rig.directory.set_password_on("peer", [7; 16], Guid([2; 16]));
        rig.directory.set_password_on("nodaemon", [7; 16], Guid([3; 16]));
        until("this DC's and DC3's changes", || {
            rig.tenant.password_pushes(&own) == Some(2) && rig.tenant.password_pushes(&other) == Some(2)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rig.tenant.password_pushes(&peer), Some(1), "DC2's daemon pushes DC2's change");
        let rec = rig.store.password(&peer).unwrap().unwrap();
        assert_eq!(rec.skipped_kvno, Some(2), "noted as handled by DC2");
        assert!(rec.last_error.unwrap_or_default().contains("pushed by DC2"));

        // A later full run does not push the peer's change either.
        rig.reconciler.run_full().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(rig.tenant.password_pushes(&peer), Some(1));
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_follower_pushes_only_its_own_changes_and_never_reconciles() {
        let rig = Rig::clustered(&peers_dc2(LeaderPolicy::PdcEmulator), view("DC2")).await;
        assert_eq!(rig.reconciler.cluster().role(), Role::Follower);
        rig.directory.add_user("own");
        rig.directory.add_user("other");
        let err = rig.reconciler.run_full().await.unwrap_err();
        assert!(matches!(err, ReconcileError::Follower { ref leader } if leader == "DC2"), "{err}");
        assert_eq!(rig.reconciler.run_delta().await.unwrap(), None);
        rig.reconciler.export_user("own").await.unwrap();
        assert_eq!(rig.tenant.calls().upsert_calls, 0, "a follower exports nothing");

        let (stop, mut tasks) = start(&rig).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        rig.directory.set_password_on("own", [7; 16], Guid([1; 16]));
        rig.directory.set_password_on("other", [7; 16], Guid([3; 16]));
        let own = rig.anchor("own");
        until("this DC's change in the outbox or pushed", || {
            rig.tenant.calls().pushes > 0 || rig.store.outbox().unwrap().iter().any(|i| i.anchor == own)
        })
        .await;
        let other = rig.anchor("other");
        let rec = rig.store.password(&other).unwrap().unwrap();
        assert!(rec.last_error.unwrap_or_default().contains("pushed by DC2"), "DC3's change is the leader's (DC2)");
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_leader_that_lost_the_role_sends_no_delete_and_a_new_leader_deletes_nothing_twice() {
        let rig = Rig::clustered(&peers_dc2(LeaderPolicy::PdcEmulator), view("DC1")).await;
        let dn = rig.directory.add_user("leaver");
        let gone = rig.anchor("leaver");
        rig.directory.add_user("stayer");
        rig.reconciler.run_full().await.unwrap();
        assert_eq!(rig.tenant.anchors(crate::sync::model::ObjectType::User).len(), 2);

        // The role moves while this DC still thinks it leads: the delete batch re-reads it.
        rig.directory.remove(&dn);
        rig.directory.set_cluster_view(view("DC2"));
        let summary = rig.reconciler.run_full().await.unwrap();
        assert_eq!(rig.tenant.calls().delete_calls, 0, "no delete after the role moved");
        assert_eq!(summary.errors, 1);
        assert_eq!(rig.reconciler.cluster().role(), Role::Follower);

        // DC2 deleted it meanwhile; the role comes back: the catch-up forgets it, no delete.
        let leaver = crate::sync::model::ObjectType::User;
        rig.tenant.delete_in_cloud(leaver, &gone);
        rig.directory.set_cluster_view(view("DC1"));
        assert_eq!(rig.reconciler.cluster().refresh(rig.directory.as_ref()).await.unwrap(), RoleChange::BecameLeader);
        let summary = rig.reconciler.run_full().await.unwrap();
        assert_eq!((summary.deletes, summary.creates), (0, 0), "{summary:?}");
        assert_eq!(rig.tenant.calls().delete_calls, 0);
    }

    #[tokio::test]
    async fn a_new_leader_updates_in_place_what_another_leader_exported_and_a_follower_does_not_run() {
        let rig = Rig::clustered(&peers_dc2(LeaderPolicy::PdcEmulator), view("DC2")).await;
        rig.directory.add_user("alice");
        rig.directory.add_user("bob");
        let refused = rig.reconciler.run_full().await;
        assert!(matches!(refused, Err(crate::sync::reconcile::ReconcileError::Follower { .. })), "{refused:?}");
        assert_eq!(rig.directory.calls.read_objects.load(std::sync::atomic::Ordering::Relaxed), 0);

        // This DC leads and exports; then the state DB forgets it (another DC led meanwhile and
        // exported the same objects): the next leader term matches them in the tenant.
        rig.directory.set_cluster_view(view("DC1"));
        rig.reconciler.cluster().refresh(rig.directory.as_ref()).await.unwrap();
        let s = rig.reconciler.run_full().await.unwrap();
        assert_eq!((s.creates, s.updates), (2, 0));
        for e in rig.store.exported().unwrap() {
            rig.store.forget_export(e.object_type, &e.anchor).unwrap();
        }
        rig.directory.set_cluster_view(view("DC2"));
        rig.reconciler.cluster().refresh(rig.directory.as_ref()).await.unwrap();
        rig.directory.set_cluster_view(view("DC1"));
        assert_eq!(rig.reconciler.cluster().refresh(rig.directory.as_ref()).await.unwrap(), RoleChange::BecameLeader);
        let read_backs = rig.tenant.calls().read_backs;
        let s = rig.reconciler.run_full().await.unwrap();
        assert_eq!((s.creates, s.updates, s.errors), (0, 2, 0), "matches, not creates: {s:?}");
        assert!(rig.tenant.calls().read_backs > read_backs, "the new leader read the tenant back");
        assert_eq!(rig.tenant.anchors(crate::sync::model::ObjectType::User).len(), 2);
    }
}
