//! Response future for [`Timeout`](super::Timeout).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::error::Elapsed;

pin_project! {
    /// Response future for [`Timeout`](super::Timeout).
    ///
    /// Resolves to the inner response, or to [`Elapsed`] converted into the
    /// inner error type once the deadline passes.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        response: F,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(response: F, timeout: Option<Duration>) -> Self {
        ResponseFuture {
            response,
            sleep: timeout.map(tokio::time::sleep),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: From<Elapsed>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();

        if let Poll::Ready(result) = this.response.poll(cx) {
            return Poll::Ready(result);
        }

        match this.sleep.as_pin_mut() {
            Some(sleep) => {
                ready!(sleep.poll(cx));
                Poll::Ready(Err(E::from(Elapsed::new())))
            }
            None => Poll::Pending,
        }
    }
}
