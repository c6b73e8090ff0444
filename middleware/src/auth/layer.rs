use tower_layer::Layer;

use super::Auth;

/// Applies [`Auth`] to the services it wraps.
#[derive(Debug, Clone)]
pub struct AuthLayer<C> {
    credentials: C,
}

impl<C> AuthLayer<C> {
    /// Creates a layer that applies credentials with `credentials`.
    pub fn new(credentials: C) -> Self {
        AuthLayer { credentials }
    }
}

impl<S, C: Clone> Layer<S> for AuthLayer<C> {
    type Service = Auth<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth::new(inner, self.credentials.clone())
    }
}
