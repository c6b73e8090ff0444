use tower_layer::Layer;

use super::Retry;

/// Applies [`Retry`] to the services it wraps.
#[derive(Debug, Clone)]
pub struct RetryLayer<P> {
    policy: P,
}

impl<P> RetryLayer<P> {
    /// Creates a layer that retries according to `policy`.
    pub fn new(policy: P) -> Self {
        RetryLayer { policy }
    }
}

impl<S, P: Clone> Layer<S> for RetryLayer<P> {
    type Service = Retry<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self.policy.clone())
    }
}
