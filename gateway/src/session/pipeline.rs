//! Replies waiting for journal commits. The session keeps reading frames
//! while earlier changes are being committed (many share one fsync) and
//! sends each reply when its change is on disk; it stops reading only when
//! [`MAX_IN_FLIGHT`] replies are waiting.

use std::sync::{Mutex, PoisonError};

use aether_protocol::proto::DownstreamMessage;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::answer::Deferred;

/// Most deferred replies per session before it stops reading.
const MAX_IN_FLIGHT: usize = 1024;

/// A session's deferred replies.
#[derive(Default)]
pub(crate) struct Pipeline {
    // Only ever reached through `&mut self` (`get_mut`, no locking); the
    // mutex makes the pipeline `Sync` without requiring `Sync` futures.
    waiting: Mutex<FuturesUnordered<Deferred>>,
}

impl Pipeline {
    fn waiting(&mut self) -> &mut FuturesUnordered<Deferred> {
        self.waiting
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a deferred reply.
    pub(super) fn push(&mut self, later: Deferred) {
        self.waiting().push(later);
    }

    /// Whether nothing is waiting.
    pub(super) fn is_empty(&mut self) -> bool {
        self.waiting().is_empty()
    }

    /// Whether the session should stop reading until replies drain.
    pub(super) fn is_full(&mut self) -> bool {
        self.waiting().len() >= MAX_IN_FLIGHT
    }

    /// The next ready replies (pending forever when nothing waits, so it
    /// can sit in a `select!`).
    pub(super) async fn next(&mut self) -> Vec<DownstreamMessage> {
        match self.waiting().next().await {
            Some(msgs) => msgs,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn yields_replies_as_they_become_ready() {
        let mut p = Pipeline::default();
        assert!(p.is_empty() && !p.is_full());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        p.push(Box::pin(async move {
            let _ = rx.await;
            vec![DownstreamMessage::default()]
        }));
        p.push(Box::pin(async { Vec::new() }));
        assert!(p.next().await.is_empty(), "the ready one first");
        let _ = tx.send(());
        assert_eq!(p.next().await.len(), 1);
        assert!(p.is_empty());
        let idle = tokio::time::timeout(std::time::Duration::from_millis(1), p.next()).await;
        assert!(idle.is_err(), "an empty pipeline pends");
    }
}
