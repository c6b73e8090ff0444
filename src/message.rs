//! Incoming messages, message types and the metric payload builder.

use bytes::Bytes;

use crate::proto;

pub use crate::proto::MessageType;

/// A message delivered to this client.
///
/// Cloning copies the small header fields; the payload is shared.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    inner: Box<proto::IncomingMessage>,
}

impl Message {
    /// The sender's topic (server-set, cannot be spoofed).
    pub fn source_topic(&self) -> &str {
        &self.inner.source_topic
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        &self.inner.payload
    }

    /// The payload as UTF-8, if it is.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.inner.payload).ok()
    }

    /// The message type; unknown values read as `MessageTypeUnspecified`.
    pub fn message_type(&self) -> MessageType {
        MessageType::try_from(self.inner.message_type).unwrap_or(MessageType::Unspecified)
    }

    /// The effective workspace the gateway stamped (may be empty).
    pub fn workspace(&self) -> &str {
        &self.inner.workspace
    }

    /// The subject this message was sent on behalf of, if any.
    pub fn on_behalf_subject(&self) -> Option<&proto::PrincipalRef> {
        self.inner.on_behalf_subject.as_deref()
    }

    /// The raw protocol message, with every field.
    pub fn as_proto(&self) -> &proto::IncomingMessage {
        &self.inner
    }

    /// Consumes the message, returning the raw protocol message.
    pub fn into_proto(self) -> proto::IncomingMessage {
        *self.inner
    }

    /// Decodes a METRIC message's payload.
    pub fn decode_metric(&self) -> Option<proto::Metric> {
        use prost::Message as _;
        proto::Metric::decode(self.inner.payload.clone()).ok()
    }
}

impl From<Box<proto::IncomingMessage>> for Message {
    fn from(inner: Box<proto::IncomingMessage>) -> Self {
        Message { inner }
    }
}

impl From<proto::IncomingMessage> for Message {
    fn from(inner: proto::IncomingMessage) -> Self {
        Message {
            inner: Box::new(inner),
        }
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
