//! [`ClientBuilder`]: every setting of a client before it exists.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use aether_middleware::backoff::Backoff;
use aether_middleware::correlation::MakeRequestId;

use super::client::{Client, Core};
use super::principal::{AnyPrincipal, PrincipalType};
use crate::connection::{
    ConnectOptions, Connection, Credentials, OpRequest, ReconnectPolicy, Reply, TlsOptions,
};
use crate::error::Error;
use crate::handlers::Dispatcher;
use crate::identity::Principal;
use crate::proto::{self, AuthorizationContext};
use crate::stack::{self, OperationService, SharedRequestIds, StackConfig};

/// Largest message payload the gateway accepts by default.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Builds a client. Reach it through a principal's constructor, e.g.
/// [`AgentClient::builder`](crate::AgentClient::builder); `C` is the
/// client type it builds (async or [`blocking`](crate::blocking)).
///
/// ```no_run
/// use std::time::Duration;
/// use aether_client::{AgentClient, Credentials};
/// # fn demo() -> aether_client::Result<()> {
/// let agent = AgentClient::builder("ws", "echo", "one")?
///     .gateway("https://aether.example.com:50051")
///     .credentials(Credentials::new().with_api_key("secret"))
///     .request_timeout(Duration::from_secs(5))
///     .build();
/// # Ok(()) }
/// ```
pub struct ClientBuilder<C = Client<AnyPrincipal>> {
    principal: Principal,
    options: ConnectOptions,
    stack: StackConfig,
    max_payload: usize,
    client: PhantomData<fn() -> C>,
}

impl<C> Clone for ClientBuilder<C> {
    fn clone(&self) -> Self {
        ClientBuilder {
            principal: self.principal.clone(),
            options: self.options.clone(),
            stack: self.stack.clone(),
            max_payload: self.max_payload,
            client: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("principal", &self.principal)
            .field("gateway", &self.options.gateway)
            .finish_non_exhaustive()
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A client type a [`ClientBuilder`] builds. Sealed.
pub trait BuildClient: sealed::Sealed + Sized {
    /// What `build()` returns: the client, or for blocking clients a
    /// `Result` (they start a runtime of their own).
    type Output;
    #[doc(hidden)]
    fn build_from(builder: ClientBuilder<Self>) -> Self::Output;
}

impl<P: PrincipalType> sealed::Sealed for Client<P> {}

impl<P: PrincipalType> BuildClient for Client<P> {
    type Output = Client<P>;
    fn build_from(builder: ClientBuilder<Self>) -> Client<P> {
        builder.build_async()
    }
}

impl ClientBuilder<Client<AnyPrincipal>> {
    /// A builder for a client of a principal known only at run time.
    pub fn for_principal(principal: Principal) -> Self {
        ClientBuilder::new(principal)
    }
}

impl<C> ClientBuilder<C> {
    pub(crate) fn new(principal: Principal) -> Self {
        let options = ConnectOptions::default();
        let stack = StackConfig::new(options.request_timeout);
        ClientBuilder {
            principal,
            options,
            stack,
            max_payload: DEFAULT_MAX_PAYLOAD,
            client: PhantomData,
        }
    }

    /// The same settings for another client type (async <-> blocking).
    pub(crate) fn retarget<D>(self) -> ClientBuilder<D> {
        ClientBuilder {
            principal: self.principal,
            options: self.options,
            stack: self.stack,
            max_payload: self.max_payload,
            client: PhantomData,
        }
    }

    /// Builds the async client core (inside a tokio runtime).
    pub(crate) fn build_async<P: PrincipalType>(self) -> Client<P> {
        let connection = Connection::new(self.principal, self.options);
        let dispatch = Dispatcher::spawn(&connection);
        let ops = stack::build(connection.multiplexer(), &self.stack);
        Client::from_core(Arc::new(Core {
            connection,
            ops,
            dispatch,
            max_payload: self.max_payload,
        }))
    }

    /// The gateway URL (`http://host:port`, `https://host:port`, or bare `host:port`).
    pub fn gateway(mut self, url: impl Into<String>) -> Self {
        self.options.gateway = url.into();
        self
    }

    /// Handshake credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.options.credentials = credentials;
        self
    }

    /// TLS / mTLS settings.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// The reconnection policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.options.reconnect = policy;
        self
    }

    /// How long `connect()` may take.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.options.connect_timeout = t;
        self
    }

    /// Default timeout of awaited operations.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.options.request_timeout = t;
        self.stack.timeout = t;
        self
    }

    /// Capacity of the outbound queue.
    pub fn outbound_queue(mut self, n: usize) -> Self {
        self.options.outbound_queue = n;
        self
    }

    /// Pushes queued for handlers before the connection slows down.
    pub fn dispatch_queue(mut self, n: usize) -> Self {
        self.options.dispatch_queue = n;
        self
    }

    /// HTTP/2 keepalive interval (`None` disables it; at least 10 s).
    pub fn keepalive(mut self, every: Option<Duration>) -> Self {
        self.options.keepalive = every;
        self
    }

    /// Declares an extension in the handshake.
    pub fn extension(mut self, ext: proto::ExtensionDeclaration) -> Self {
        self.options.extensions.push(ext);
        self
    }

    /// Largest payload `send_*` accepts before sending (default 1 MiB, the
    /// gateway's limit).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// An authorization context stamped on every operation that carries one
    /// (and has none of its own); replaces any
    /// [`authorization_hook`](Self::authorization_hook).
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.stack.authorization = Some(std::sync::Arc::new(
            crate::stack::authority::StaticAuthorization(Some(ctx)),
        ));
        self
    }

    /// Replaces the hook that decides the authorization context of each
    /// operation without one (see [`crate::stack::authority`]); e.g. an
    /// on-behalf-of context as the client's default.
    pub fn authorization_hook(
        mut self,
        hook: impl crate::stack::authority::AuthorizationHook,
    ) -> Self {
        self.stack.authorization = Some(std::sync::Arc::new(hook));
        self
    }

    /// Retries of idempotent operations: attempts (1 = no retry) and backoff.
    pub fn retry(mut self, max_attempts: u32, backoff: Backoff) -> Self {
        self.stack.retry_attempts = max_attempts.max(1);
        self.stack.retry_backoff = backoff;
        self
    }

    /// Replaces the request-id source (ids must be unique per client).
    pub fn request_ids(mut self, make: impl MakeRequestId + Send + 'static) -> Self {
        self.stack.request_ids = SharedRequestIds::new(make);
        self
    }

    /// Wraps every operation stack in a tower layer of yours (outermost).
    ///
    /// ```no_run
    /// # use aether_client::AgentClient;
    /// let agent = AgentClient::builder("ws", "impl", "spec")
    ///     .unwrap()
    ///     .layer(tower::limit::ConcurrencyLimitLayer::new(64))
    ///     .build();
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<OperationService> + Send + Sync + 'static,
        L::Service: tower::Service<OpRequest, Response = Reply, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<OpRequest>>::Future: Send + 'static,
    {
        self.stack
            .layers
            .push(Arc::new(move |svc| OperationService::new(layer.layer(svc))));
        self
    }

    /// Every connection setting at once.
    pub fn options(mut self, options: ConnectOptions) -> Self {
        self.stack.timeout = options.request_timeout;
        self.options = options;
        self
    }
}

impl<C: BuildClient> ClientBuilder<C> {
    /// Builds the client (not yet connected). Async clients need to be
    /// built inside a tokio runtime; blocking clients start their own.
    pub fn build(self) -> C::Output {
        C::build_from(self)
    }
}
