//! The thread blocking handlers run on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// One thread per blocking client, started on first use; handlers run there
/// in order, and the async dispatcher waits for each one (so the dispatch
/// queue's bound still applies).
#[derive(Default)]
pub(crate) struct HandlerThread {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl HandlerThread {
    fn sender(&self) -> Option<mpsc::Sender<Job>> {
        let mut guard = self.tx.lock();
        if guard.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("aether-handlers".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            match spawned {
                Ok(_) => *guard = Some(tx),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the handler thread");
                    return None;
                }
            }
        }
        guard.clone()
    }

    /// Runs `f` on the handler thread and waits (asynchronously) for it.
    pub(crate) async fn run(&self, name: &'static str, f: impl FnOnce() + Send + 'static) {
        let Some(tx) = self.sender() else { return };
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let job: Job = Box::new(move || {
            if catch_unwind(AssertUnwindSafe(f)).is_err() {
                tracing::error!(handler = name, "handler panicked; dispatch continues");
            }
            let _ = done_tx.send(());
        });
        if tx.send(job).is_ok() {
            let _ = done_rx.await;
        }
    }
}
