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
