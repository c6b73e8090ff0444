//! Response future for [`Timeout`](super::Timeout).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::error::Elapsed;

pin_project! {
    /// Response future for [`Timeout`](super::Timeout).
    ///
    /// Resolves to the inner response, or to [`Elapsed`] converted into the
    /// inner error type once the deadline passes. The deadline is fixed when
    /// the request is called; the timer itself is only armed (in an
    /// allocation of its own) if the response is not ready on the first
    /// poll, so calls that complete at once cost no timer registration and
    /// the future stays small.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        response: F,
        deadline: Option<Instant>,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(response: F, timeout: Option<Duration>) -> Self {
        ResponseFuture {
            response,
            deadline: timeout.map(|t| Instant::now() + t),
            sleep: None,
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

        if this.sleep.is_none()
            && let Some(deadline) = this.deadline.take()
        {
            *this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline)));
        }
        match this.sleep.as_mut() {
            Some(sleep) => {
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Err(E::from(Elapsed::new())))
            }
            None => Poll::Pending,
        }
    }
}
