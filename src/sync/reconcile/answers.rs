//! The running engine answers the questions of `sync/queries.rs` here, each in a task of its
//! own, through its own methods.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Reconciler;
use crate::sync::approval;
use crate::sync::directory::Directory;
use crate::sync::queries::{ApproveDeletesError, Query, QueryError, UserReport};
use crate::sync::state::now_ms;
use crate::sync::status;
use crate::sync::tenant::Tenant;

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
