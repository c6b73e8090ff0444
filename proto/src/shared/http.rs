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
//! A map keeps one value per key; a list keeps what arrived. Readers here
//! take the last entry of a name (in any case, as HTTP compares names), as
//! a map decoded from the same bytes keeps the last value of a key.
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

/// Moves the headers' text into one buffer of their own. Decoded, they
/// are slices of their frame, and holding one keeps the whole frame (an
/// inline body included) alive; detached, they hold only themselves.
pub fn detach(headers: &mut [Header]) {
    let total = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
    let mut text = prost::bytes::BytesMut::with_capacity(total);
    for h in headers.iter() {
        text.extend_from_slice(h.name.as_bytes());
        text.extend_from_slice(h.value.as_bytes());
    }
    let mut text = text.freeze();
    for h in headers.iter_mut() {
        for s in [&mut h.name, &mut h.value] {
            // The same UTF-8, copied: checking it again cannot fail.
            if let Ok(copy) = SharedStr::from_utf8(text.split_to(s.len())) {
                *s = copy;
            }
        }
    }
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
        field::bytes(1, self.name.as_bytes(), buf);
        field::bytes(2, self.value.as_bytes(), buf);
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
        field::bytes_len(1, self.name.as_bytes()) + field::bytes_len(2, self.value.as_bytes())
    }

    fn clear(&mut self) {
        *self = Header::default();
    }
}

/// The most header entries a request or response holds once decoded.
/// An entry can be two bytes on the wire and is 64 in memory: entries
/// past the bound are skipped and counted (`headers_skipped`), so a
/// frame's headers take at most 512 KiB whatever its size, and the frame
/// still decodes (its receiver refuses that one request, not the whole
/// stream). HTTP needs nowhere near it (servers commonly take 100).
pub const MAX_HEADERS: usize = 8192;

/// HTTP request carried over the stream to a service principal
/// (`aether.v1.ProxyHttpRequest`).
#[derive(Clone, Default, PartialEq, Debug)]
pub struct ProxyHttpRequest {
    /// The caller's id of the request (rewritten by the gateway).
    pub request_id: String,
    /// The service principal it goes to.
    pub target_topic: String,
    /// The HTTP method.
    pub method: String,
    /// The path, with its query.
    pub path: String,
    /// The headers (a `map<string, string>` on the wire), at most
    /// [`MAX_HEADERS`].
    pub headers: Vec<Header>,
    /// Header entries past [`MAX_HEADERS`] that decoding skipped (not a
    /// wire field: never written).
    pub headers_skipped: usize,
    /// The body, when it is sent inline.
    pub body: Bytes,
    /// Whether the body follows in `ProxyHttpBodyChunk`s.
    pub body_chunked: bool,
    /// The authority the caller acts under.
    pub authorization: Option<AuthorizationContext>,
    /// The workspace the request is for.
    pub app_workspace: String,
    /// Time to first byte the caller waits for, in milliseconds.
    pub timeout_ms: i64,
    /// Whether redirects are followed.
    pub follow_redirects: bool,
    /// The backend the caller names.
    pub backend_name: String,
    /// Whether the response may stream without end.
    pub stream_response_indefinitely: bool,
    /// Longest pause between response chunks, in milliseconds.
    pub stream_idle_timeout_ms: i64,
    /// Largest response body the caller accepts.
    pub max_response_body_bytes: i64,
    /// Gateways crossed so far.
    pub proxy_chain_depth: u32,
    /// The access the caller asks to have checked.
    pub checked_access: Option<ResourceAccessRequest>,
    /// An access decision (gateways issue these).
    pub access_receipt: Option<AccessDecisionReceipt>,
}

/// The answer to a [`ProxyHttpRequest`] (`aether.v1.ProxyHttpResponse`).
#[derive(Clone, Default, PartialEq, Debug)]
pub struct ProxyHttpResponse {
    /// The request it answers.
    pub request_id: String,
    /// The HTTP status.
    pub status_code: i32,
    /// The headers (a `map<string, string>` on the wire), at most
    /// [`MAX_HEADERS`].
    pub headers: Vec<Header>,
    /// Header entries past [`MAX_HEADERS`] that decoding skipped (not a
    /// wire field: never written).
    pub headers_skipped: usize,
    /// The body, when it is sent inline.
    pub body: Bytes,
    /// Whether the body follows in `ProxyHttpBodyChunk`s.
    pub body_chunked: bool,
    /// Why there is no HTTP answer.
    pub error: Option<ProxyError>,
}

/// Reads one header entry into `headers`, or past [`MAX_HEADERS`] skips
/// it and counts it in `skipped`.
fn merge_header(
    headers: &mut Vec<Header>,
    skipped: &mut usize,
    tag: u32,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    if headers.len() < MAX_HEADERS {
        return encoding::message::merge_repeated(wire_type, headers, buf, ctx);
    }
    encoding::check_wire_type(WireType::LengthDelimited, wire_type)?;
    *skipped = skipped.saturating_add(1);
    encoding::skip_field(wire_type, tag, buf, ctx)
}

/// Writers and sizers of fields that leave a field out when it holds its
/// default, as prost does for proto3.
mod field {
    use prost::bytes::{BufMut, Bytes};
    use prost::encoding;

    /// `$put` writes a `$ty` field with prost's `encoding::$module`, and
    /// `$len` sizes it; both skip the values `$default` picks.
    macro_rules! scalar {
        ($put:ident, $len:ident, $ty:ty, $module:ident, $default:expr) => {
            pub(super) fn $put(tag: u32, v: &$ty, buf: &mut impl BufMut) {
                if !$default(v) {
                    encoding::$module::encode(tag, v, buf);
                }
            }
            pub(super) fn $len(tag: u32, v: &$ty) -> usize {
                if $default(v) {
                    0
                } else {
                    encoding::$module::encoded_len(tag, v)
                }
            }
        };
    }

    scalar!(string, string_len, String, string, String::is_empty);
    scalar!(bytes, bytes_len, Bytes, bytes, Bytes::is_empty);
    scalar!(boolean, boolean_len, bool, bool, |v: &bool| !*v);
    scalar!(int64, int64_len, i64, int64, |v: &i64| *v == 0);
    scalar!(int32, int32_len, i32, int32, |v: &i32| *v == 0);
    scalar!(uint32, uint32_len, u32, uint32, |v: &u32| *v == 0);

    pub(super) fn message<M: prost::Message>(tag: u32, v: &Option<M>, buf: &mut impl BufMut) {
        if let Some(m) = v {
            encoding::message::encode(tag, m, buf);
        }
    }
    pub(super) fn message_len<M: prost::Message>(tag: u32, v: &Option<M>) -> usize {
        v.as_ref()
            .map_or(0, |m| encoding::message::encoded_len(tag, m))
    }
}

/// Reads an optional message field (repeated occurrences merge).
fn merge_message<M: Message + Default>(
    slot: &mut Option<M>,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), DecodeError> {
    encoding::message::merge(wire_type, slot.get_or_insert_with(M::default), buf, ctx)
}

impl Message for ProxyHttpRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        field::string(1, &self.request_id, buf);
        field::string(2, &self.target_topic, buf);
        field::string(3, &self.method, buf);
        field::string(4, &self.path, buf);
        encoding::message::encode_repeated(5, &self.headers, buf);
        field::bytes(6, &self.body, buf);
        field::boolean(7, &self.body_chunked, buf);
        field::message(8, &self.authorization, buf);
        field::string(9, &self.app_workspace, buf);
        field::int64(10, &self.timeout_ms, buf);
        field::boolean(11, &self.follow_redirects, buf);
        field::string(12, &self.backend_name, buf);
        field::boolean(13, &self.stream_response_indefinitely, buf);
        field::int64(14, &self.stream_idle_timeout_ms, buf);
        field::int64(15, &self.max_response_body_bytes, buf);
        field::uint32(16, &self.proxy_chain_depth, buf);
        field::message(17, &self.checked_access, buf);
        field::message(18, &self.access_receipt, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::string::merge(wire_type, &mut self.request_id, buf, ctx),
            2 => encoding::string::merge(wire_type, &mut self.target_topic, buf, ctx),
            3 => encoding::string::merge(wire_type, &mut self.method, buf, ctx),
            4 => encoding::string::merge(wire_type, &mut self.path, buf, ctx),
            5 => merge_header(
                &mut self.headers,
                &mut self.headers_skipped,
                tag,
                wire_type,
                buf,
                ctx,
            ),
            6 => encoding::bytes::merge(wire_type, &mut self.body, buf, ctx),
            7 => encoding::bool::merge(wire_type, &mut self.body_chunked, buf, ctx),
            8 => merge_message(&mut self.authorization, wire_type, buf, ctx),
            9 => encoding::string::merge(wire_type, &mut self.app_workspace, buf, ctx),
            10 => encoding::int64::merge(wire_type, &mut self.timeout_ms, buf, ctx),
            11 => encoding::bool::merge(wire_type, &mut self.follow_redirects, buf, ctx),
            12 => encoding::string::merge(wire_type, &mut self.backend_name, buf, ctx),
            13 => {
                encoding::bool::merge(wire_type, &mut self.stream_response_indefinitely, buf, ctx)
            }
            14 => encoding::int64::merge(wire_type, &mut self.stream_idle_timeout_ms, buf, ctx),
            15 => encoding::int64::merge(wire_type, &mut self.max_response_body_bytes, buf, ctx),
            16 => encoding::uint32::merge(wire_type, &mut self.proxy_chain_depth, buf, ctx),
            17 => merge_message(&mut self.checked_access, wire_type, buf, ctx),
            18 => merge_message(&mut self.access_receipt, wire_type, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        field::string_len(1, &self.request_id)
            + field::string_len(2, &self.target_topic)
            + field::string_len(3, &self.method)
            + field::string_len(4, &self.path)
            + encoding::message::encoded_len_repeated(5, &self.headers)
            + field::bytes_len(6, &self.body)
            + field::boolean_len(7, &self.body_chunked)
            + field::message_len(8, &self.authorization)
            + field::string_len(9, &self.app_workspace)
            + field::int64_len(10, &self.timeout_ms)
            + field::boolean_len(11, &self.follow_redirects)
            + field::string_len(12, &self.backend_name)
            + field::boolean_len(13, &self.stream_response_indefinitely)
            + field::int64_len(14, &self.stream_idle_timeout_ms)
            + field::int64_len(15, &self.max_response_body_bytes)
            + field::uint32_len(16, &self.proxy_chain_depth)
            + field::message_len(17, &self.checked_access)
            + field::message_len(18, &self.access_receipt)
    }

    fn clear(&mut self) {
        *self = ProxyHttpRequest::default();
    }
}

impl Message for ProxyHttpResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        field::string(1, &self.request_id, buf);
        field::int32(2, &self.status_code, buf);
        encoding::message::encode_repeated(3, &self.headers, buf);
        field::bytes(4, &self.body, buf);
        field::boolean(5, &self.body_chunked, buf);
        field::message(6, &self.error, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::string::merge(wire_type, &mut self.request_id, buf, ctx),
            2 => encoding::int32::merge(wire_type, &mut self.status_code, buf, ctx),
            3 => merge_header(
                &mut self.headers,
                &mut self.headers_skipped,
                tag,
                wire_type,
                buf,
                ctx,
            ),
            4 => encoding::bytes::merge(wire_type, &mut self.body, buf, ctx),
            5 => encoding::bool::merge(wire_type, &mut self.body_chunked, buf, ctx),
            6 => merge_message(&mut self.error, wire_type, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        field::string_len(1, &self.request_id)
            + field::int32_len(2, &self.status_code)
            + encoding::message::encoded_len_repeated(3, &self.headers)
            + field::bytes_len(4, &self.body)
            + field::boolean_len(5, &self.body_chunked)
            + field::message_len(6, &self.error)
    }

    fn clear(&mut self) {
        *self = ProxyHttpResponse::default();
    }
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
