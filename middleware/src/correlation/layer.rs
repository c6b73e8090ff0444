use tower_layer::Layer;

use super::Correlation;

/// Applies [`Correlation`] to the services it wraps.
#[derive(Debug, Clone)]
pub struct CorrelationLayer<M> {
    make_request_id: M,
}

impl<M> CorrelationLayer<M> {
    /// Creates a layer that makes ids with `make_request_id`.
    pub fn new(make_request_id: M) -> Self {
        CorrelationLayer { make_request_id }
    }
}

impl<S, M: Clone> Layer<S> for CorrelationLayer<M> {
    type Service = Correlation<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Correlation::new(inner, self.make_request_id.clone())
    }
}
