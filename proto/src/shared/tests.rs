use prost::Message;
use prost::bytes::Bytes;

use super::*;
use crate::proto::{
    AuthorizationContext, ForwardedAuthorization, IncomingMessage, PrincipalRef,
    ResourceAccessRequest, SendMessage,
};

fn full() -> IncomingMessage {
    IncomingMessage {
        source_topic: "ag::ws::sender::one".into(),
        payload: Bytes::from(vec![7u8; 300]),
        message_type: -3,
        workspace: "ws".into(),
        on_behalf_subject: Some(Box::new(PrincipalRef {
            principal_type: "user".into(),
            principal_id: "user-1".into(),
        })),
        access_receipt: Some(Box::default()),
        forwarded_authorization: Some(Box::new(ForwardedAuthorization {
            authorization: Some(AuthorizationContext::default()),
            root_grant_id: "g".into(),
            expires_at_ms: 9,
            delivery_target: "ag::ws::r::1".into(),
            ..Default::default()
        })),
    }
}

/// What prost makes of `bytes`, and what `SharedIncoming` makes of them,
/// as the same type.
fn both(
    bytes: &[u8],
) -> (
    Result<IncomingMessage, String>,
    Result<IncomingMessage, String>,
) {
    let prost = IncomingMessage::decode(bytes).map_err(|e| e.to_string());
    let shared = SharedIncoming::decode(Bytes::copy_from_slice(bytes))
        .map(IncomingMessage::from)
        .map_err(|e| e.to_string());
    (prost, shared)
}

#[test]
fn encodes_the_bytes_prost_encodes() {
    for m in [
        full(),
        IncomingMessage::default(),
        IncomingMessage {
            message_type: 2,
            source_topic: "x".repeat(200),
            ..Default::default()
        },
    ] {
        let shared = SharedIncoming::from(m.clone());
        assert_eq!(shared.to_vec(), m.encode_to_vec());
        assert_eq!(shared.encoded_len(), m.encoded_len());
        let decoded = SharedIncoming::decode(Bytes::from(m.encode_to_vec())).unwrap();
        assert_eq!(decoded, shared);
        assert_eq!(IncomingMessage::from(decoded), m);
    }
}

#[test]
fn strings_and_payload_are_slices_of_the_frame() {
    let wire = Bytes::from(full().encode_to_vec());
    let range = wire.as_ptr_range();
    let m = SharedIncoming::decode(wire.clone()).unwrap();
    for field in [
        m.source_topic.as_bytes(),
        m.workspace.as_bytes(),
        &m.payload,
    ] {
        assert!(range.contains(&field.as_ptr()), "copied, not sliced");
    }
}

#[test]
fn unknown_and_repeated_fields_are_read_as_prost_reads_them() {
    let mut bytes = full().encode_to_vec();
    // Unknown fields of every wire type.
    bytes.extend_from_slice(&[0x48, 0x96, 0x01]); // 9: varint
    bytes.extend_from_slice(&[0x51, 1, 2, 3, 4, 5, 6, 7, 8]); // 10: fixed64
    bytes.extend_from_slice(&[0x5a, 2, b'h', b'i']); // 11: bytes
    bytes.extend_from_slice(&[0x65, 1, 2, 3, 4]); // 12: fixed32
    // A second source topic (the last wins) and a second subject (merged).
    bytes.extend_from_slice(&[0x0a, 1, b'z']);
    let subject = PrincipalRef {
        principal_id: "other".into(),
        ..Default::default()
    };
    bytes.push(0x2a);
    bytes.push(subject.encoded_len() as u8);
    bytes.extend_from_slice(&subject.encode_to_vec());
    let (prost, shared) = both(&bytes);
    assert_eq!(shared, prost);
    assert_eq!(shared.unwrap().source_topic, "z");
}

#[test]
fn malformed_frames_fail_as_prost_fails() {
    let good = full().encode_to_vec();
    let cases: Vec<Vec<u8>> = vec![
        good[..good.len() - 1].to_vec(), // cut short
        vec![0x0a, 2, 0xff, 0xfe],       // not UTF-8
        vec![0x08, 1],                   // field 1 as a varint
        vec![0x00, 1],                   // tag 0
        vec![0x0b, 0x0c],                // a group
        vec![0x0f],                      // wire type 7
        vec![
            0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
    ];
    for bytes in cases {
        let (prost, shared) = both(&bytes);
        assert_eq!(shared, prost, "{bytes:?}");
    }
}

/// Mutates `good` along a fixed pseudo-random walk (flip, cut and splice
/// bytes) and checks that `agree` holds for every mutant; returns how many
/// mutants prost could decode.
fn mutations(good: &[u8], mut agree: impl FnMut(&[u8]) -> bool) -> usize {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut decoded = 0;
    for _ in 0..20_000 {
        let mut bytes = good.to_vec();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, next() as u8),
            }
        }
        decoded += usize::from(agree(&bytes));
    }
    decoded
}

#[test]
fn any_mutation_of_a_frame_decodes_as_prost_decodes_it() {
    let decoded = mutations(&full().encode_to_vec(), |bytes| {
        let (prost, shared) = both(bytes);
        assert_eq!(shared, prost, "{bytes:?}");
        prost.is_ok()
    });
    // The walk reaches both outcomes.
    assert!(decoded > 100 && decoded < 19_900, "{decoded}");
}

fn full_send() -> SendMessage {
    SendMessage {
        target_topic: "ag::ws::receiver::one".into(),
        payload: Bytes::from(vec![9u8; 200]),
        message_type: 7,
        authorization: Some(Box::new(AuthorizationContext {
            authority_mode: "grant".into(),
            grant_id: "g-1".into(),
            ..Default::default()
        })),
        app_workspace: "app".into(),
        checked_access: Some(Box::new(ResourceAccessRequest {
            resource_type: "kv".into(),
            required_access_level: 2,
            ..Default::default()
        })),
        authority_continuation: Some(Box::default()),
    }
}

#[test]
fn sends_are_read_as_prost_reads_them_and_sized_as_prost_sizes_them() {
    for m in [
        full_send(),
        SendMessage::default(),
        SendMessage {
            target_topic: "sv::web".into(),
            message_type: -1,
            ..Default::default()
        },
    ] {
        let wire = Bytes::from(m.encode_to_vec());
        let send = SharedSend::decode(wire.clone()).unwrap();
        assert_eq!(send.encoded_len(), m.encoded_len());
        assert!(
            send.target_topic.is_empty()
                || wire
                    .as_ptr_range()
                    .contains(&send.target_topic.as_bytes().as_ptr())
        );
        assert_eq!(SendMessage::from(send), m);
    }
    let decoded = mutations(&full_send().encode_to_vec(), |bytes| {
        let prost = SendMessage::decode(bytes).map_err(|e| e.to_string());
        let shared = SharedSend::decode(Bytes::copy_from_slice(bytes))
            .map(SendMessage::from)
            .map_err(|e| e.to_string());
        assert_eq!(shared, prost, "{bytes:?}");
        prost.is_ok()
    });
    assert!(decoded > 100 && decoded < 19_900, "{decoded}");
}

/// `ProxyHttpRequest` and `ProxyHttpResponse` as prost generates them from
/// the protocol (headers as maps), to check the hand-written ones against.
mod generated_http {
    use std::collections::BTreeMap;

    use crate::proto::{
        AccessDecisionReceipt, AuthorizationContext, ProxyError, ResourceAccessRequest,
    };

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct MapRequest {
        #[prost(string, tag = "1")]
        pub(super) request_id: String,
        #[prost(string, tag = "2")]
        pub(super) target_topic: String,
        #[prost(string, tag = "3")]
        pub(super) method: String,
        #[prost(string, tag = "4")]
        pub(super) path: String,
        #[prost(btree_map = "string, string", tag = "5")]
        pub(super) headers: BTreeMap<String, String>,
        #[prost(bytes = "bytes", tag = "6")]
        pub(super) body: prost::bytes::Bytes,
        #[prost(bool, tag = "7")]
        pub(super) body_chunked: bool,
        #[prost(message, optional, tag = "8")]
        pub(super) authorization: Option<AuthorizationContext>,
        #[prost(string, tag = "9")]
        pub(super) app_workspace: String,
        #[prost(int64, tag = "10")]
        pub(super) timeout_ms: i64,
        #[prost(bool, tag = "11")]
        pub(super) follow_redirects: bool,
        #[prost(string, tag = "12")]
        pub(super) backend_name: String,
        #[prost(bool, tag = "13")]
        pub(super) stream_response_indefinitely: bool,
        #[prost(int64, tag = "14")]
        pub(super) stream_idle_timeout_ms: i64,
        #[prost(int64, tag = "15")]
        pub(super) max_response_body_bytes: i64,
        #[prost(uint32, tag = "16")]
        pub(super) proxy_chain_depth: u32,
        #[prost(message, optional, tag = "17")]
        pub(super) checked_access: Option<ResourceAccessRequest>,
        #[prost(message, optional, tag = "18")]
        pub(super) access_receipt: Option<AccessDecisionReceipt>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct MapResponse {
        #[prost(string, tag = "1")]
        pub(super) request_id: String,
        #[prost(int32, tag = "2")]
        pub(super) status_code: i32,
        #[prost(btree_map = "string, string", tag = "3")]
        pub(super) headers: BTreeMap<String, String>,
        #[prost(bytes = "bytes", tag = "4")]
        pub(super) body: prost::bytes::Bytes,
        #[prost(bool, tag = "5")]
        pub(super) body_chunked: bool,
        #[prost(message, optional, tag = "6")]
        pub(super) error: Option<ProxyError>,
    }
}

fn pairs(headers: &[Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_string()))
        .collect()
}

fn header_map() -> std::collections::BTreeMap<String, String> {
    [
        ("Accept", "text/plain"),
        ("X-Auth-Tenant-ID", ""),
        ("x-empty-name-next", "v"),
        ("", "no name"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// In the map's order, a list writes exactly prost's bytes for the map.
fn header_list() -> Vec<Header> {
    header_map()
        .iter()
        .map(|(k, v)| Header::new(k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn requests_write_and_read_the_bytes_prost_does_for_the_protocol() {
    use generated_http::MapRequest;
    let authorization = Some(AuthorizationContext {
        grant_id: "g1".into(),
        ..Default::default()
    });
    let checked = Some(ResourceAccessRequest {
        resource_type: "kv".into(),
        ..Default::default()
    });
    let receipt = Some(crate::proto::AccessDecisionReceipt {
        decision_id: "d".into(),
        ..Default::default()
    });
    let ours = ProxyHttpRequest {
        request_id: "r1".into(),
        target_topic: "sv::web::1".into(),
        method: "POST".into(),
        path: "/p?q=1".into(),
        headers: header_list(),
        headers_skipped: 0,
        body: Bytes::from_static(b"body"),
        body_chunked: true,
        authorization: authorization.clone(),
        app_workspace: "ws".into(),
        timeout_ms: -5,
        follow_redirects: true,
        backend_name: "b".into(),
        stream_response_indefinitely: true,
        stream_idle_timeout_ms: 7,
        max_response_body_bytes: 1 << 40,
        proxy_chain_depth: 3,
        checked_access: checked.clone(),
        access_receipt: receipt.clone(),
    };
    let theirs = MapRequest {
        request_id: "r1".into(),
        target_topic: "sv::web::1".into(),
        method: "POST".into(),
        path: "/p?q=1".into(),
        headers: header_map(),
        body: Bytes::from_static(b"body"),
        body_chunked: true,
        authorization,
        app_workspace: "ws".into(),
        timeout_ms: -5,
        follow_redirects: true,
        backend_name: "b".into(),
        stream_response_indefinitely: true,
        stream_idle_timeout_ms: 7,
        max_response_body_bytes: 1 << 40,
        proxy_chain_depth: 3,
        checked_access: checked,
        access_receipt: receipt,
    };
    assert_eq!(ours.encode_to_vec(), theirs.encode_to_vec());
    assert_eq!(ours.encoded_len(), theirs.encoded_len());
    let back = ProxyHttpRequest::decode(Bytes::from(theirs.encode_to_vec())).unwrap();
    assert_eq!(back, ours);
    assert_eq!(
        MapRequest::decode(&ours.encode_to_vec()[..]).unwrap(),
        theirs
    );
    // Defaults are left out, as prost leaves them out.
    let empty = ProxyHttpRequest::default();
    assert!(empty.encode_to_vec().is_empty());
    assert_eq!(empty.encoded_len(), 0);
}

#[test]
fn responses_write_and_read_the_bytes_prost_does_for_the_protocol() {
    use generated_http::MapResponse;
    let error = Some(crate::proto::ProxyError {
        kind: 3,
        message: "m".into(),
    });
    let ours = ProxyHttpResponse {
        request_id: "r1".into(),
        status_code: -1,
        headers: header_list(),
        headers_skipped: 0,
        body: Bytes::from_static(b"x"),
        body_chunked: true,
        error: error.clone(),
    };
    let theirs = MapResponse {
        request_id: "r1".into(),
        status_code: -1,
        headers: header_map(),
        body: Bytes::from_static(b"x"),
        body_chunked: true,
        error,
    };
    assert_eq!(ours.encode_to_vec(), theirs.encode_to_vec());
    assert_eq!(ours.encoded_len(), theirs.encoded_len());
    assert_eq!(
        ProxyHttpResponse::decode(&theirs.encode_to_vec()[..]).unwrap(),
        ours
    );
    assert_eq!(
        MapResponse::decode(&ours.encode_to_vec()[..]).unwrap(),
        theirs
    );
    assert!(ProxyHttpResponse::default().encode_to_vec().is_empty());
}

#[test]
fn headers_past_the_most_are_skipped_and_counted_not_held() {
    // Empty entries are the smallest: two bytes each on the wire.
    let entries = |n: usize| [0x2a, 0x00].repeat(n);
    let at_most = ProxyHttpRequest::decode(&entries(http::MAX_HEADERS)[..]).unwrap();
    assert_eq!(
        (at_most.headers.len(), at_most.headers_skipped),
        (http::MAX_HEADERS, 0)
    );
    let mut over = entries(3 * http::MAX_HEADERS);
    over.extend_from_slice(b"\x22\x01/"); // a field after them still reads
    let over = ProxyHttpRequest::decode(&over[..]).unwrap();
    assert_eq!(over.headers.len(), http::MAX_HEADERS);
    assert_eq!(over.headers_skipped, 2 * http::MAX_HEADERS);
    assert_eq!(over.path, "/");
    assert!(
        over.encode_to_vec().len() < 2 * http::MAX_HEADERS + 4,
        "the count is not written"
    );
    let resp = [0x1a, 0x00].repeat(http::MAX_HEADERS + 1);
    let resp = ProxyHttpResponse::decode(&resp[..]).unwrap();
    assert_eq!(resp.headers_skipped, 1);
    // A skipped entry must still be a length-delimited field.
    let mut bad = entries(http::MAX_HEADERS);
    bad.extend_from_slice(&[0x28, 0x01]);
    assert!(ProxyHttpRequest::decode(&bad[..]).is_err());
}

#[test]
fn decoded_headers_are_slices_of_the_frame() {
    let req = ProxyHttpRequest {
        headers: vec![Header::new("x-long", "v".repeat(64))],
        ..Default::default()
    };
    let frame = Bytes::from(req.encode_to_vec());
    let back = ProxyHttpRequest::decode(frame.clone()).unwrap();
    let value = back.headers[0].value.as_bytes().as_ptr() as usize;
    let start = frame.as_ptr() as usize;
    assert!((start..start + frame.len()).contains(&value), "not copied");
    assert_eq!(back.header("X-LONG").map(str::len), Some(64));
}

#[test]
fn header_entries_decode_as_prost_decodes_map_entries() {
    use generated_http::MapRequest;
    // Entries as other encoders may write them: value before name, an
    // unknown field inside, a repeated name (the last wins in a map).
    let entry = |body: &[u8]| {
        let mut e = vec![0x2a, body.len() as u8];
        e.extend_from_slice(body);
        e
    };
    let mut wire = Vec::new();
    wire.extend(entry(b"\x12\x01b\x0a\x01a"));
    wire.extend(entry(b"\x0a\x01c\x18\x07\x12\x01d"));
    wire.extend(entry(b"\x0a\x01a\x12\x01z"));
    let ours = ProxyHttpRequest::decode(&wire[..]).unwrap();
    let theirs = MapRequest::decode(&wire[..]).unwrap();
    assert_eq!(
        pairs(&ours.headers),
        [("a", "b"), ("c", "d"), ("a", "z")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    for (name, value) in &theirs.headers {
        assert_eq!(ours.header(name), Some(value.as_str()), "{name}");
    }
    // A name or value that is not UTF-8 fails the frame, as with prost.
    let bad = entry(b"\x0a\x01\xff");
    let ours = ProxyHttpRequest::decode(&bad[..]).unwrap_err();
    let theirs = MapRequest::decode(&bad[..]).unwrap_err();
    assert!(ours.to_string().contains("UTF-8"), "{ours}");
    assert!(theirs.to_string().contains("UTF-8"), "{theirs}");
    // So does an entry cut short.
    assert!(ProxyHttpRequest::decode(&[0x2a, 0x05, 0x0a, 0x09][..]).is_err());
}

#[test]
fn the_hand_written_http_frames_have_every_field_the_protocol_has() {
    // A field added to these messages in the .proto would be dropped by a
    // gateway forwarding them: add it to `shared/http.rs`, then here.
    let proto = include_str!("../../aether/v1/aether.proto");
    let fields = |message: &str| -> Vec<String> {
        let start = format!("message {message} {{");
        proto
            .lines()
            .skip_while(|l| l.trim() != start)
            .skip(1)
            .take_while(|l| l.trim() != "}")
            .map(|l| l.split("//").next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(
        fields("ProxyHttpRequest"),
        [
            "string request_id = 1;",
            "string target_topic = 2;",
            "string method = 3;",
            "string path = 4;",
            "map<string, string> headers = 5;",
            "bytes body = 6;",
            "bool body_chunked = 7;",
            "AuthorizationContext authorization = 8;",
            "string app_workspace = 9;",
            "int64 timeout_ms = 10;",
            "bool follow_redirects = 11;",
            "string backend_name = 12;",
            "bool stream_response_indefinitely = 13;",
            "int64 stream_idle_timeout_ms = 14;",
            "int64 max_response_body_bytes = 15;",
            "uint32 proxy_chain_depth = 16;",
            "ResourceAccessRequest checked_access = 17;",
            "AccessDecisionReceipt access_receipt = 18;",
        ]
    );
    assert_eq!(
        fields("ProxyHttpResponse"),
        [
            "string request_id = 1;",
            "int32 status_code = 2;",
            "map<string, string> headers = 3;",
            "bytes body = 4;",
            "bool body_chunked = 5;",
            "ProxyError error = 6;",
        ]
    );
}

#[test]
fn detached_headers_keep_their_text_but_not_the_frame() {
    let req = ProxyHttpRequest {
        headers: vec![Header::new("a", "1"), Header::new("Bb", "22")],
        body: Bytes::from(vec![0u8; 4096]),
        ..Default::default()
    };
    let frame = Bytes::from(req.encode_to_vec());
    let mut back = ProxyHttpRequest::decode(frame.clone()).unwrap();
    http::detach(&mut back.headers);
    assert_eq!(pairs(&back.headers), pairs(&req.headers));
    let start = frame.as_ptr() as usize;
    for h in &back.headers {
        for s in [&h.name, &h.value] {
            let at = s.as_bytes().as_ptr() as usize;
            assert!(
                !(start..start + frame.len()).contains(&at),
                "{s:?} still in the frame"
            );
        }
    }
}
