use prost::Message;
use prost::bytes::Bytes;

use super::*;
use crate::proto::{AuthorizationContext, PrincipalRef};

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

#[test]
fn any_mutation_of_a_frame_decodes_as_prost_decodes_it() {
    let good = full().encode_to_vec();
    // A fixed pseudo-random walk: flip, cut and splice bytes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut agreed_ok = 0;
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, next() as u8),
            }
        }
        let (prost, shared) = both(&bytes);
        agreed_ok += usize::from(prost.is_ok());
        assert_eq!(shared, prost, "{bytes:?}");
    }
    // The walk reaches both outcomes.
    assert!(agreed_ok > 100 && agreed_ok < 19_900, "{agreed_ok}");
}
