use tower_layer::Layer;

use super::Timeout;

/// Applies a [`Timeout`] to the services it wraps.
///
/// `T` is a [`MakeTimeout`](super::MakeTimeout) hook, for example a
/// [`Duration`](std::time::Duration).
#[derive(Debug, Clone)]
pub struct TimeoutLayer<T> {
    make_timeout: T,
}

impl<T> TimeoutLayer<T> {
    /// Creates a layer that chooses timeouts with `make_timeout`.
    pub fn new(make_timeout: T) -> Self {
        TimeoutLayer { make_timeout }
    }
}

impl<S, T: Clone> Layer<S> for TimeoutLayer<T> {
    type Service = Timeout<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.make_timeout.clone())
    }
}
