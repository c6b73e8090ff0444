//! The HTTP-over-Aether request and response headers, with their header
//! maps as lists of shared strings.
//!
//! On the wire a `map<string, string>` is a repeated entry message (key 1,
//! value 2). Decoded by prost into a map, every entry costs two `String`
//! allocations, a UTF-8 check and a tree insertion, at every hop: a
//! gateway stamping identity headers, a terminator handing them to its
//! handler. [`Header`] is that entry with both strings as [`SharedStr`]:
//! decoded, they are checked slices of the frame; minted, they may be
//! static. [`ProxyHttpRequest`] and [`ProxyHttpResponse`] carry a
//! `Vec<Header>` and are otherwise the generated messages (the build
//! script points the protocol's types at these two). The bytes on the
//! wire are the same.
//!
//! A map keeps one value per key; a list keeps what arrived. Senders
//! here write each name once; a peer that repeats a name has its entries
//! forwarded as they came, and a map-based receiver keeps the last, as it
//! would have anyway.
//!
//! ```
//! use aether_protocol::proto::ProxyHttpRequest;
//! use aether_protocol::shared::Header;
//! use prost::Message;
//!
//! let req = ProxyHttpRequest {
//!     method: "GET".into(),
//!     headers: vec![Header::new("Accept", "text/plain")],
//!     ..Default::default()
//! };
//! let wire = prost::bytes::Bytes::from(req.encode_to_vec());
//! let back = ProxyHttpRequest::decode(wire).unwrap();
//! assert_eq!(back.header("accept"), Some("text/plain"));
//! ```

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};

use super::SharedStr;
use crate::proto::{
    AccessDecisionReceipt, AuthorizationContext, ProxyError, ResourceAccessRequest,
};

/// One header: a map entry of `ProxyHttpRequest.headers` or
/// `ProxyHttpResponse.headers`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// The name, as the sender wrote it (HTTP names are case-insensitive).
    pub name: SharedStr,
    /// The value.
    pub value: SharedStr,
}

impl Header {
    /// A header from anything that becomes a [`SharedStr`] (a `String` is
    /// taken over, a `&str` copied once).
    pub fn new(name: impl Into<SharedStr>, value: impl Into<SharedStr>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// A header of static text (no allocation).
    pub const fn from_static(name: &'static str, value: &'static str) -> Self {
        Header {
            name: SharedStr::from_static(name),
            value: SharedStr::from_static(value),
        }
    }

    /// Whether its name is `name`, in any case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {:?}", self.name, self.value)
    }
}

impl<N: Into<SharedStr>, V: Into<SharedStr>> From<(N, V)> for Header {
    fn from((name, value): (N, V)) -> Self {
        Header::new(name, value)
    }
}

/// The value of the last header named `name` (in any case), as a map
/// decoded from the same bytes would hold it.
pub fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|h| h.is(name))
        .map(|h| h.value.as_str())
}

/// prost's own error for a string field that is not UTF-8.
fn not_utf8() -> DecodeError {
    match String::decode(&b"\x0a\x01\xff"[..]) {
        Err(e) => e,
        Ok(_) => unreachable!("0xff is never UTF-8"),
    }
}

/// Reads a string field into `slot` without copying it.
fn merge_str(
    slot: &mut SharedStr,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    let mut raw = Bytes::new();
    encoding::bytes::merge(wire_type, &mut raw, buf, ctx)?;
    *slot = SharedStr::from_utf8(raw).map_err(|_| not_utf8())?;
    Ok(())
}

impl Message for Header {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if !self.name.is_empty() {
            encoding::bytes::encode(1, self.name.as_bytes(), buf);
        }
        if !self.value.is_empty() {
            encoding::bytes::encode(2, self.value.as_bytes(), buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => merge_str(&mut self.name, wire_type, buf, ctx),
            2 => merge_str(&mut self.value, wire_type, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let len = |tag, s: &SharedStr| {
            if s.is_empty() {
                0
            } else {
                encoding::bytes::encoded_len(tag, s.as_bytes())
            }
        };
        len(1, &self.name) + len(2, &self.value)
    }

    fn clear(&mut self) {
        *self = Header::default();
    }
}

/// HTTP request carried over the stream to a service principal
/// (`aether.v1.ProxyHttpRequest`).
#[derive(Clone, PartialEq, Message)]
pub struct ProxyHttpRequest {
    /// The caller's id of the request (rewritten by the gateway).
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The service principal it goes to.
    #[prost(string, tag = "2")]
    pub target_topic: String,
    /// The HTTP method.
    #[prost(string, tag = "3")]
    pub method: String,
    /// The path, with its query.
    #[prost(string, tag = "4")]
    pub path: String,
    /// The headers (a `map<string, string>` on the wire).
    #[prost(message, repeated, tag = "5")]
    pub headers: Vec<Header>,
    /// The body, when it is sent inline.
    #[prost(bytes = "bytes", tag = "6")]
    pub body: Bytes,
    /// Whether the body follows in `ProxyHttpBodyChunk`s.
    #[prost(bool, tag = "7")]
    pub body_chunked: bool,
    /// The authority the caller acts under.
    #[prost(message, optional, tag = "8")]
    pub authorization: Option<AuthorizationContext>,
    /// The workspace the request is for.
    #[prost(string, tag = "9")]
    pub app_workspace: String,
    /// Time to first byte the caller waits for, in milliseconds.
    #[prost(int64, tag = "10")]
    pub timeout_ms: i64,
    /// Whether redirects are followed.
    #[prost(bool, tag = "11")]
    pub follow_redirects: bool,
    /// The backend the caller names.
    #[prost(string, tag = "12")]
    pub backend_name: String,
    /// Whether the response may stream without end.
    #[prost(bool, tag = "13")]
    pub stream_response_indefinitely: bool,
    /// Longest pause between response chunks, in milliseconds.
    #[prost(int64, tag = "14")]
    pub stream_idle_timeout_ms: i64,
    /// Largest response body the caller accepts.
    #[prost(int64, tag = "15")]
    pub max_response_body_bytes: i64,
    /// Gateways crossed so far.
    #[prost(uint32, tag = "16")]
    pub proxy_chain_depth: u32,
    /// The access the caller asks to have checked.
    #[prost(message, optional, tag = "17")]
    pub checked_access: Option<ResourceAccessRequest>,
    /// An access decision (gateways issue these).
    #[prost(message, optional, tag = "18")]
    pub access_receipt: Option<AccessDecisionReceipt>,
}

/// The answer to a [`ProxyHttpRequest`] (`aether.v1.ProxyHttpResponse`).
#[derive(Clone, PartialEq, Message)]
pub struct ProxyHttpResponse {
    /// The request it answers.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The HTTP status.
    #[prost(int32, tag = "2")]
    pub status_code: i32,
    /// The headers (a `map<string, string>` on the wire).
    #[prost(message, repeated, tag = "3")]
    pub headers: Vec<Header>,
    /// The body, when it is sent inline.
    #[prost(bytes = "bytes", tag = "4")]
    pub body: Bytes,
    /// Whether the body follows in `ProxyHttpBodyChunk`s.
    #[prost(bool, tag = "5")]
    pub body_chunked: bool,
    /// Why there is no HTTP answer.
    #[prost(message, optional, tag = "6")]
    pub error: Option<ProxyError>,
}

impl ProxyHttpRequest {
    /// The value of header `name` (in any case); see [`find`].
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

impl ProxyHttpResponse {
    /// The value of header `name` (in any case); see [`find`].
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}
