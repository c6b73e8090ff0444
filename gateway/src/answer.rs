//! What a request handler answers: frames to send now, or frames that wait
//! for a journal commit (the session keeps reading meanwhile and sends them
//! when the change is on disk).

use std::future::Future;
use std::pin::Pin;

use aether_protocol::proto::{DownstreamMessage, downstream_message};

use crate::store::{Commit, StoreError};

/// Frames that become ready later.
pub(crate) type Deferred = Pin<Box<dyn Future<Output = Vec<DownstreamMessage>> + Send>>;

/// A handler's reply.
pub(crate) enum Answer {
    /// Send these at once (reads, refusals, changes that wrote nothing).
    Now(Vec<DownstreamMessage>),
    /// Send these when the future resolves (after a commit).
    Later(Deferred),
}

impl Answer {
    /// `ok` once `commit` is on disk; `failed(error)` if it never gets there.
    pub(crate) fn after(
        commit: Commit,
        ok: Vec<DownstreamMessage>,
        failed: impl FnOnce(StoreError) -> Vec<DownstreamMessage> + Send + 'static,
    ) -> Answer {
        if commit.is_done() {
            return Answer::Now(ok);
        }
        Answer::Later(Box::pin(async move {
            match commit.await {
                Ok(()) => ok,
                Err(e) => {
                    tracing::error!(error = %e, "a change was not journaled");
                    failed(e)
                }
            }
        }))
    }
}

impl Answer {
    /// The answer to an operation with response type `R`: the response once
    /// its commit is on disk, or the failure response `failed` makes of an
    /// error (a refusal at once; a commit that failed, later). `payload`
    /// puts a response in its frame.
    pub(crate) fn settle<R: Send + 'static>(
        outcome: Result<(R, Commit), String>,
        payload: fn(R) -> downstream_message::Payload,
        failed: impl FnOnce(String) -> R + Send + 'static,
    ) -> Answer {
        match outcome {
            Ok((resp, commit)) => Answer::after(commit, vec![frame(payload(resp))], move |e| {
                vec![frame(payload(failed(format!("not stored: {e}"))))]
            }),
            Err(e) => Answer::Now(vec![frame(payload(failed(e)))]),
        }
    }
}

/// A downstream frame carrying `payload`.
pub(crate) fn frame(payload: downstream_message::Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
}
