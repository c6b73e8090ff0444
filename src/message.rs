//! Incoming messages, message types and the metric payload builder.

use std::sync::OnceLock;

use aether_protocol::shared::SharedIncoming;
use bytes::Bytes;

use crate::proto;

pub use crate::proto::MessageType;

/// A message delivered to this client.
///
/// Its strings and payload are slices of the frame it arrived in: reading
/// a message allocates nothing for them, and cloning one copies no bytes.
/// Holding a message therefore holds that frame's buffer; to keep only a
/// payload for long, copy it (`Bytes::copy_from_slice(msg.payload())`).
#[derive(Clone)]
pub struct Message {
    /// Not boxed: a box made by the connection's reader and freed by the
    /// consumer's task, on another thread, takes glibc's arena lock on
    /// every message (measured: 20 times the futex calls of the bare
    /// relay); a move of the value is only a copy.
    inner: Inner,
}

#[derive(Clone)]
struct Inner {
    message: SharedIncoming,
    /// [`Message::as_proto`]'s copy, made on first use.
    proto: OnceLock<Box<proto::IncomingMessage>>,
}

impl Message {
    /// The sender's topic (server-set, cannot be spoofed).
    pub fn source_topic(&self) -> &str {
        &self.inner.message.source_topic
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        &self.inner.message.payload
    }

    /// The payload as UTF-8, if it is.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.inner.message.payload).ok()
    }

    /// The message type; unknown values read as `MessageTypeUnspecified`.
    pub fn message_type(&self) -> MessageType {
        MessageType::try_from(self.inner.message.message_type).unwrap_or(MessageType::Unspecified)
    }

    /// The effective workspace the gateway stamped (may be empty).
    pub fn workspace(&self) -> &str {
        &self.inner.message.workspace
    }

    /// The subject this message was sent on behalf of, if any.
    pub fn on_behalf_subject(&self) -> Option<&proto::PrincipalRef> {
        self.inner.message.on_behalf_subject.as_deref()
    }

    /// The raw protocol message, with every field (built on first call:
    /// the strings are copied once).
    pub fn as_proto(&self) -> &proto::IncomingMessage {
        self.inner
            .proto
            .get_or_init(|| Box::new(self.inner.message.clone().into()))
    }

    /// Consumes the message, returning the raw protocol message.
    pub fn into_proto(self) -> proto::IncomingMessage {
        let Inner { message, proto } = self.inner;
        proto
            .into_inner()
            .map_or_else(|| message.into(), |proto| *proto)
    }

    /// Decodes a METRIC message's payload.
    pub fn decode_metric(&self) -> Option<proto::Metric> {
        use prost::Message as _;
        proto::Metric::decode(self.inner.message.payload.clone()).ok()
    }

    /// Bytes it holds, for the byte bounds of inboxes.
    pub(crate) fn approx_size(&self) -> usize {
        self.inner.message.payload.len()
            + self.inner.message.source_topic.len()
            + self.inner.message.workspace.len()
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.inner.message == other.inner.message
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("source_topic", &self.inner.message.source_topic)
            .field("message_type", &self.message_type())
            .field("workspace", &self.inner.message.workspace)
            .field("payload", &self.inner.message.payload)
            .field("on_behalf_subject", &self.inner.message.on_behalf_subject)
            .finish_non_exhaustive()
    }
}

impl From<SharedIncoming> for Message {
    #[inline]
    fn from(message: SharedIncoming) -> Self {
        Message {
            inner: Inner {
                message,
                proto: OnceLock::new(),
            },
        }
    }
}

impl From<Box<proto::IncomingMessage>> for Message {
    fn from(inner: Box<proto::IncomingMessage>) -> Self {
        Message::from(*inner)
    }
}

impl From<proto::IncomingMessage> for Message {
    fn from(inner: proto::IncomingMessage) -> Self {
        Message::from(SharedIncoming::from(inner))
    }
}

/// Builds a [`proto::Metric`] payload for `send_metric`.
///
/// Entries are additive deltas; negative quantities need a capability the
/// gateway grants only with an ACL engine.
///
/// ```
/// use aether_client::MetricBuilder;
/// let metric = MetricBuilder::new()
///     .trace("req-1")
///     .add("tokens", "llm", 42.0)
///     .tag("model", "small")
///     .build();
/// assert_eq!(metric.entries.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricBuilder {
    metric: proto::Metric,
}

impl MetricBuilder {
    /// An empty metric.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the trace id.
    pub fn trace(mut self, trace_id: impl Into<String>) -> Self {
        self.metric.trace_id = trace_id.into();
        self
    }

    /// Adds an entry.
    pub fn add(mut self, name: impl Into<String>, kind: impl Into<String>, qty: f64) -> Self {
        self.metric.entries.push(proto::MetricEntry {
            name: name.into(),
            kind: kind.into(),
            qty,
        });
        self
    }

    /// Adds a metadata tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metric.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the client timestamp (unix ms).
    pub fn client_timestamp_ms(mut self, ts: i64) -> Self {
        self.metric.client_timestamp_ms = ts;
        self
    }

    /// The finished metric.
    pub fn build(self) -> proto::Metric {
        self.metric
    }
}
