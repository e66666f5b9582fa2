//! How far a reconcile has got, for a person watching it: `sync --config` and `plan --config`
//! draw these figures on a terminal (`cli::progress`). The engine bumps them as it goes and
//! never reads them back to decide anything, so they are relaxed atomics; they only grow over
//! the engine's life (a new plan replaces the planned figures), and a reader compares samples.

use std::sync::atomic::{AtomicU64, Ordering};

use super::plan::{Action, Plan};

#[derive(Debug, Default)]
pub struct Progress {
    read: AtomicU64,
    read_back: AtomicU64,
    plans: AtomicU64,
    planned_objects: AtomicU64,
    planned_passwords: AtomicU64,
    sent: AtomicU64,
}

/// One sample of [`Progress`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgressFigures {
    /// Directory objects read (users, groups, devices, contacts).
    pub read: u64,
    /// Objects read back from the tenant.
    pub read_back: u64,
    /// The last plan's figures, once a plan has been made.
    pub planned: Option<Planned>,
    /// Objects sent to the tenant (creates, updates, deletes), accepted or refused.
    pub sent: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Planned {
    /// Creates, updates and deletes.
    pub objects: u64,
    /// Password pushes.
    pub passwords: u64,
}

impl Progress {
    pub fn directory_read(&self, objects: usize) {
        self.read.fetch_add(objects as u64, Ordering::Relaxed);
    }

    pub fn tenant_read_back(&self, objects: usize) {
        self.read_back.fetch_add(objects as u64, Ordering::Relaxed);
    }

    pub fn planned(&self, plan: &Plan) {
        let passwords = plan.count(Action::Password);
        self.set_planned(plan.operations.len() - passwords, passwords);
    }

    /// A plan's figures without the plan (the streamed full run counts as it compares).
    pub fn set_planned(&self, objects: usize, passwords: usize) {
        self.planned_objects.store(objects as u64, Ordering::Relaxed);
        self.planned_passwords.store(passwords as u64, Ordering::Relaxed);
        self.plans.fetch_add(1, Ordering::Release);
    }

    pub fn sent(&self, objects: usize) {
        self.sent.fetch_add(objects as u64, Ordering::Relaxed);
    }

    pub fn figures(&self) -> ProgressFigures {
        let planned = (self.plans.load(Ordering::Acquire) > 0).then(|| Planned {
            objects: self.planned_objects.load(Ordering::Relaxed),
            passwords: self.planned_passwords.load(Ordering::Relaxed),
        });
        ProgressFigures {
            read: self.read.load(Ordering::Relaxed),
            read_back: self.read_back.load(Ordering::Relaxed),
            planned,
            sent: self.sent.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_bumps() {
        let p = Progress::default();
        assert_eq!(p.figures(), ProgressFigures::default());
        p.directory_read(10);
        p.directory_read(5);
        p.tenant_read_back(3);
        assert_eq!(p.figures().planned, None, "no plan made yet");
        p.set_planned(2, 1);
        p.sent(2);
        let f = p.figures();
        assert_eq!((f.read, f.read_back, f.sent), (15, 3, 2));
        assert_eq!(f.planned, Some(Planned { objects: 2, passwords: 1 }));
        // A new plan replaces the planned figures, even an empty one.
        p.planned(&Plan::default());
        assert_eq!(p.figures().planned, Some(Planned::default()));
    }
}
