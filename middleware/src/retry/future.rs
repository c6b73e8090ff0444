//! Response future for [`Retry`](super::Retry).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;

use super::RetryPolicy;

pin_project! {
    /// Response future for [`Retry`](super::Retry).
    ///
    /// A request the policy will never retry is a plain pass-through: the
    /// future is the inner one and nothing more. A request that may be
    /// retried owns, in one allocation, a clone of the inner service and of
    /// the policy and drives the attempts: wait for the response, ask the
    /// policy, sleep, wait for the service to be ready, send the next
    /// attempt.
    pub struct ResponseFuture<S, P, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, P, Req>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, P, Req>
    where
        S: Service<Req>,
    {
        Direct {
            #[pin]
            response: S::Future,
        },
        Retrying {
            attempts: Pin<Box<Attempts<S, P, Req>>>,
        },
    }
}

pin_project! {
    struct Attempts<S, P, Req>
    where
        S: Service<Req>,
    {
        service: Option<S>,
        policy: P,
        // Copy of the in-flight request, kept for the next attempt.
        backup: Option<Req>,
        // Request waiting to be sent once the backoff elapsed and the
        // service is ready.
        pending: Option<Req>,
        attempt: u32,
        #[pin]
        response: Option<S::Future>,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<S, P, Req> ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    /// A request that is never retried: `response` is all there is.
    pub(crate) fn direct(response: S::Future) -> Self {
        ResponseFuture {
            state: State::Direct { response },
        }
    }

    /// `service` was made ready and has already been called with the first
    /// attempt, whose future is `response`; `backup` is the copy for the
    /// next attempt.
    pub(crate) fn retrying(service: S, policy: P, backup: Req, response: S::Future) -> Self {
        let attempts = Attempts {
            service: Some(service),
            policy,
            backup: Some(backup),
            pending: None,
            attempt: 1,
            response: Some(response),
            sleep: None,
        };
        ResponseFuture {
            state: State::Retrying {
                attempts: Box::pin(attempts),
            },
        }
    }
}

impl<S, P, Req> Future for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
    P: RetryPolicy<Req, S::Response, S::Error>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Direct { response } => response.poll(cx),
            StateProj::Retrying { attempts } => attempts.as_mut().poll(cx),
        }
    }
}

impl<S, P, Req> Future for Attempts<S, P, Req>
where
    S: Service<Req>,
    P: RetryPolicy<Req, S::Response, S::Error>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();

        loop {
            if let Some(response) = this.response.as_mut().as_pin_mut() {
                let result = ready!(response.poll(cx));
                this.response.set(None);

                let Some(request) = this.backup.take() else {
                    return Poll::Ready(result);
                };
                let Some(delay) = this.policy.retry(&request, &result, *this.attempt) else {
                    return Poll::Ready(result);
                };
                // The previous result (and its error) is dropped here.
                *this.attempt = this.attempt.saturating_add(1);
                *this.backup = this.policy.clone_request(&request);
                *this.pending = Some(request);
                if delay > Duration::ZERO {
                    this.sleep.set(Some(tokio::time::sleep(delay)));
                }
            }

            if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
                ready!(sleep.poll(cx));
                this.sleep.set(None);
            }

            let (Some(service), true) = (this.service.as_mut(), this.pending.is_some()) else {
                panic!("retry ResponseFuture polled after completion");
            };
            ready!(service.poll_ready(cx))?;
            if let Some(request) = this.pending.take() {
                let response = service.call(request);
                this.response.set(Some(response));
            }
        }
    }
}

impl<S, P, Req> std::fmt::Debug for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ResponseFuture");
        match &self.state {
            State::Direct { .. } => d.field("retried", &false),
            State::Retrying { attempts } => d
                .field("attempt", &attempts.attempt)
                .field("in_flight", &attempts.response.is_some())
                .field("sleeping", &attempts.sleep.is_some()),
        };
        d.finish_non_exhaustive()
    }
}
