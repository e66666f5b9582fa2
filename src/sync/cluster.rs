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
use super::state::State;
use crate::config::{ClusterConfig, LeaderPolicy};
use crate::samba::replication::{self, DomainController, Guid, PasswordOrigin};
use crate::samba::{LdbError, LdbHandle};

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

/// What the last poll of the directory found.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub me: Option<DomainController>,
    pub dcs: Vec<DomainController>,
    /// The PDC emulator's server name.
    pub pdc_owner: Option<String>,
    pub holds_pdc: bool,
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
    view: Mutex<View>,
    role: watch::Sender<Role>,
    /// Where `status` reads the role from.
    report: Mutex<Option<Control>>,
}

impl Cluster {
    pub fn new(config: &ClusterConfig) -> Arc<Cluster> {
        let single = config.peers.is_empty();
        // Until the first poll a cluster member follows: it must not delete on a guess.
        let (role, _) = watch::channel(decide_role(config.leader, single, false));
        Arc::new(Cluster {
            peers: config.peers.clone(),
            policy: config.leader,
            view: Mutex::new(View::default()),
            role,
            report: Mutex::new(None),
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

    /// Role changes, for the reconcile loop (a new leader starts with a full reconcile).
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    fn view(&self) -> View {
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
    pub fn apply(&self, view: View) -> RoleChange {
        let new = decide_role(self.policy, self.is_single(), view.holds_pdc);
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = view;
        let mut old = new;
        // Subscribers wake only on a real change.
        self.role.send_if_modified(|r| {
            old = std::mem::replace(r, new);
            old != new
        });
        match (old, new) {
            (Role::Follower, Role::Leader) => RoleChange::BecameLeader,
            (Role::Leader, Role::Follower) => RoleChange::BecameFollower,
            _ => RoleChange::Unchanged,
        }
    }

    /// Reads this DC, the domain's DCs and the PDC emulator role from sam.ldb, and decides.
    pub async fn refresh(&self, ldb: &LdbHandle) -> Result<RoleChange, LdbError> {
        let view = ldb.call(read_view).await?;
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
    pub async fn confirm_leader(&self, ldb: &LdbHandle) -> bool {
        if self.is_single() || self.policy != LeaderPolicy::PdcEmulator {
            return self.is_leader();
        }
        match self.refresh(ldb).await {
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
    pub async fn leave_to_peers<P: Send>(
        &self,
        ldb: &LdbHandle,
        store: &State,
        pending: Vec<P>,
        account: impl Fn(&P) -> &str + Send,
    ) -> Vec<P> {
        if self.is_single() || pending.is_empty() || !matches!(store.meta(META_BACKFILLED), Ok(Some(_))) {
            return pending;
        }
        let mut kept = Vec::with_capacity(pending.len());
        for p in pending {
            let name = account(&p).to_string();
            let origin = ldb.call(move |c| replication::password_origin_by_account(c, &name)).await;
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
    pub async fn watch(self: Arc<Self>, ldb: LdbHandle, every: Duration, shutdown: CancellationToken) {
        if self.is_single() && self.policy != LeaderPolicy::PdcEmulator {
            // Nothing can change the role; one read names this DC for status.
            let _ = self.refresh(&ldb).await;
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.refresh(&ldb).await {
                tracing::warn!("cannot read the PDC emulator role: {e}");
            }
        }
    }
}

fn read_view(c: &mut crate::samba::ldb::LdbConnection) -> Result<View, LdbError> {
    let me = replication::this_dc(c)?;
    let dcs = replication::domain_controllers(c)?;
    let role = replication::pdc_role(c, &me)?;
    Ok(View {
        pdc_owner: role.as_ref().map(|r| r.owner.clone()),
        holds_pdc: role.is_some_and(|r| r.is_this_dc),
        me: Some(me),
        dcs,
    })
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

    fn view(me: u8, pdc: &str) -> View {
        let dcs = vec![dc("DC1", 1), dc("DC2", 2), dc("DC3", 3)];
        let me = dcs[usize::from(me) - 1].clone();
        View { holds_pdc: me.name == pdc, me: Some(me), dcs, pdc_owner: Some(pdc.into()) }
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
