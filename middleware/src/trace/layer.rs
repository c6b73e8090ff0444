use tower_layer::Layer;

use super::{DefaultMakeSpan, Trace};

/// Applies [`Trace`] to the services it wraps.
#[derive(Debug, Clone)]
pub struct TraceLayer<M = DefaultMakeSpan> {
    make_span: M,
}

impl<M> TraceLayer<M> {
    /// Creates a layer that creates spans with `make_span`.
    pub fn new(make_span: M) -> Self {
        TraceLayer { make_span }
    }
}

impl Default for TraceLayer<DefaultMakeSpan> {
    fn default() -> Self {
        TraceLayer::new(DefaultMakeSpan::new())
    }
}

impl<S, M: Clone> Layer<S> for TraceLayer<M> {
    type Service = Trace<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace::new(inner, self.make_span.clone())
    }
}
