//! Typed, validated identities and topics, shared by the SDK and the
//! embedded gateway.
//!
//! The gateway rejects identifier segments that contain `::`, `*`, `>`,
//! whitespace or control characters, or exceed 128 bytes; the constructors
//! here apply the same rules, so an invalid identity or topic is rejected
//! before anything is sent.

mod principal;
mod segment;
mod topic;

pub use principal::{
    EVENT_RECEIVER_TOPIC, METRIC_RECEIVER_TOPIC, METRICS_BRIDGE_IDENTITY, Principal, PrincipalKind,
    WORKFLOW_ENGINE_IDENTITY,
};
pub use segment::{MAX_SEGMENT_BYTES, Segment, SegmentError, validate as validate_segment};
pub use topic::{MAX_TOPIC_BYTES, Topic, TopicError, TopicPrefix, split_topic, wire as wire_topic};
