//! Questions for the running engine, sent through [`Control`](super::control::Control) by the
//! D-Bus service: each carries the channel its answer comes back on. The engine answers them
//! through its own methods (`Reconciler::answer_queries`, in `reconcile/answers.rs`); nobody
//! outside it reads the state DB.

use tokio::sync::oneshot;

use super::approval::{ApproveError, Approved};
use super::password_status::PasswordStatus;
use super::plan::Plan;
use super::report::StatusReport;
use super::state::{HistoryEntry, PasswordRecord};

/// Where an answer goes.
pub type Reply<T> = oneshot::Sender<Result<T, QueryError>>;

pub enum Query {
    Status(Reply<StatusReport>),
    User {
        account: String,
        reply: Reply<UserReport>,
    },
    History {
        account: String,
        reply: Reply<Vec<HistoryEntry>>,
    },
    Plan(Reply<Plan>),
    /// `sync --retry-blocked`: how many refusals were forgotten.
    RetryBlocked(Reply<usize>),
    ApproveDeletes {
        digest: Option<String>,
        reply: oneshot::Sender<Result<Approved, ApproveDeletesError>>,
    },
}

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No engine answered (the daemon is stopping): ask again once it runs.
    #[error("the engine is not running")]
    Stopped,
    /// The engine could not answer (the state DB or sam.ldb failed); the message says why.
    #[error("{0}")]
    Failed(String),
}

/// One user as `user NAME` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserReport {
    /// What the state DB remembers of the user's passwords (`None`: nothing yet).
    pub record: Option<PasswordRecord>,
    pub status: PasswordStatus,
}

/// Why `approve-deletes` released nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApproveDeletesError {
    /// Nothing (or not that set) can be approved: the message says what to do instead.
    #[error("{0}")]
    Refused(#[from] ApproveError),
    /// The engine is not running (or stopped before the approval was sent): start it, then
    /// approve again.
    #[error("the engine is not running")]
    Stopped,
}
