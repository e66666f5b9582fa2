//! Questions for the running engine, sent through [`Control`](super::control::Control) by the
//! D-Bus service: each carries the channel its answer comes back on. The engine answers them
//! through its own methods ([`Reconciler::answer_queries`]); nobody outside it reads the state
//! DB.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::approval::{self, Approved};
use super::control::ApproveDeletesError;
use super::directory::Directory;
use super::password_status::PasswordStatus;
use super::plan::Plan;
use super::reconcile::Reconciler;
use super::state::{HistoryEntry, PasswordRecord, now_ms};
use super::status::{self, StatusReport};
use super::tenant::Tenant;

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

fn failed(e: impl std::fmt::Display) -> QueryError {
    QueryError::Failed(e.to_string())
}

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Answers questions until `shutdown`, each in its own task (a plan reads the whole
    /// directory; a `status` meanwhile is answered at once). A reloaded engine takes over the
    /// same channel.
    pub async fn answer_queries(
        self: Arc<Self>,
        queries: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Query>>>,
        shutdown: CancellationToken,
    ) {
        let mut queries = queries.lock().await;
        let mut answering = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = answering.join_next(), if !answering.is_empty() => {}
                q = queries.recv() => match q {
                    None => break,
                    Some(q) => { answering.spawn(self.clone().answer(q)); }
                },
            }
        }
        answering.abort_all();
    }

    async fn answer(self: Arc<Self>, query: Query) {
        let store = self.store();
        match query {
            Query::Status(reply) => {
                let _ = reply.send(status::report(self.control(), store).map_err(failed));
            }
            Query::User { account, reply } => {
                let answer = async {
                    let record = store.password_by_account(&account).map_err(failed)?;
                    let status = self.password_status(&account).await.map_err(failed)?;
                    Ok(UserReport { record, status })
                };
                let _ = reply.send(answer.await);
            }
            Query::History { account, reply } => {
                let _ = reply.send(store.password_history(&account).map_err(failed));
            }
            Query::Plan(reply) => {
                let _ = reply.send(self.plan(false).await.map_err(failed));
            }
            Query::RetryBlocked(reply) => {
                let _ = reply.send(self.retry_blocked().map_err(failed));
            }
            Query::ApproveDeletes { digest, reply } => {
                let approved = approval::approve(store, digest.as_deref(), now_ms()).map_err(ApproveDeletesError::from);
                let _ = reply.send(approved);
            }
        }
    }
}
