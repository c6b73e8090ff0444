//! Handshake (§1): identities, acks, duplicates, resume, protocol errors.

mod common;

use aether_protocol::identity::Principal;
use aether_protocol::proto::init_connection::ClientType;
use aether_protocol::proto::{
    AgentIdentity, ExtensionDeclaration, InitConnection, upstream_message,
};
use common::{Conn, dev_gateway, init, up};
use tonic::Code;

#[tokio::test]
async fn all_eight_principal_types_get_an_ack() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let cases = [
        (Principal::agent("w", "i", "s").unwrap(), "ag::w::i::s"),
        (
            Principal::unique_task("w", "i", "u").unwrap(),
            "tu::w::i::u",
        ),
        (Principal::user("alice", "win").unwrap(), "us::alice::win"),
        (
            Principal::orchestrator("o", "x", vec!["local".into()]).unwrap(),
            "orc::o::x",
        ),
        (Principal::workflow_engine(), "wfe::shard0"),
        (Principal::metrics_bridge(), "metrics::shard0"),
        (Principal::bridge("b", "s").unwrap(), "br::b::s"),
        (Principal::service("svc", "s", false).unwrap(), "sv::svc::s"),
    ];
    let mut conns = Vec::new();
    for (p, _) in &cases {
        let (mut c, ack) = Conn::connect(&url, p).await;
        assert_eq!(ack.session_id.len(), 36);
        assert!(!ack.resumed);
        assert_eq!(ack.reconnection_count, 0);
        assert!(ack.initial_connection_unix_ms > 0);
        assert_eq!(ack.assigned_id, "");
        assert_eq!(ack.server_version, aether_gateway::SERVER_VERSION);
        assert!(ack.server_version.starts_with("aether-rs-gateway "));
        let info = ack.server_build_info.unwrap();
        assert_eq!(info.runtime, "rust");
        assert!(!info.os.is_empty());
        // `connect` checked ack -> config for agents and tasks; nothing else
        // (in particular no second config) is pending.
        assert!(c.barrier().await.is_empty());
        conns.push(c);
    }
    // Every identity string is registered: LIST sees them all.
    assert_eq!(gw.stats().sessions_active, cases.len() as u64);

    // A pooled task gets a generated id in `assigned_id`.
    let pooled = Principal::pooled_task("w", "i").unwrap();
    let (_c, ack) = Conn::connect(&url, &pooled).await;
    assert_eq!(ack.assigned_id.len(), 36);
    let (_c2, ack2) = Conn::connect(&url, &pooled).await;
    assert_ne!(ack.assigned_id, ack2.assigned_id);
    drop(conns);
    gw.shutdown().await;
}

#[tokio::test]
async fn invalid_identities_are_invalid_argument() {
    let gw = dev_gateway().await;
    let bad = InitConnection {
        client_type: Some(ClientType::Agent(AgentIdentity {
            workspace: "w".into(),
            implementation: "bad::impl".into(),
            specifier: "s".into(),
        })),
        ..Default::default()
    };
    let mut c = Conn::open(&gw.url(), bad).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert!(
        s.message().starts_with("invalid identity: "),
        "{}",
        s.message()
    );

    let mut c = Conn::open(&gw.url(), InitConnection::default()).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(s.message(), "invalid identity: unknown principal type");
}

#[tokio::test]
async fn first_message_must_be_init_and_only_once() {
    let gw = dev_gateway().await;
    let mut c = Conn::open_raw(common::channel(&gw.url()).await).await;
    c.send(up(upstream_message::Payload::Send(Box::default())))
        .await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(s.message(), "first message must be InitConnection");

    let p = Principal::agent("w", "i", "s").unwrap();
    let (mut c, _) = Conn::connect(&gw.url(), &p).await;
    c.send(up(upstream_message::Payload::Init(Box::new(init(&p)))))
        .await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(s.message(), "InitConnection already sent");
}

#[tokio::test]
async fn init_timeout_is_deadline_exceeded() {
    let config = aether_gateway::GatewayConfig::dev().with_limits(
        aether_gateway::Limits::default().with_init_timeout(std::time::Duration::from_millis(50)),
    );
    let gw = aether_gateway::start(config).await.unwrap();
    let mut c = Conn::open_raw(common::channel(&gw.url()).await).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::DeadlineExceeded);
    assert_eq!(s.message(), "timeout waiting for InitConnection");
}

#[tokio::test]
async fn duplicates_are_rejected_and_resume_takes_over() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let p = Principal::agent("w", "i", "dup").unwrap();
    let (mut first, ack1) = Conn::connect(&url, &p).await;

    let mut dup = Conn::open(&url, init(&p)).await;
    let s = dup.status().await;
    assert_eq!(s.code(), Code::AlreadyExists);
    assert_eq!(
        s.message(),
        "DuplicateIdentityError: identity (ag::w::i::dup) already connected"
    );

    let mut resume = init(&p);
    resume.resume_session_id = ack1.session_id.clone();
    let mut second = Conn::open(&url, resume).await;
    let ack2 = second.ack().await;
    assert!(ack2.resumed);
    assert_eq!(ack2.reconnection_count, 1);
    assert_eq!(
        ack2.initial_connection_unix_ms,
        ack1.initial_connection_unix_ms
    );
    assert_ne!(ack2.session_id, ack1.session_id);
    let s = first.status().await;
    assert_eq!(s.code(), Code::Cancelled);
    assert_eq!(s.message(), "session disconnected by administrator");

    // After a clean end, resuming with the last session id keeps the lineage.
    let Conn { tx, mut rx, .. } = second;
    drop(tx);
    while let Ok(Some(_)) = rx.message().await {}
    let mut again = init(&p);
    again.resume_session_id = ack2.session_id.clone();
    let mut third = Conn::open(&url, again).await;
    let ack3 = third.ack().await;
    assert!(ack3.resumed);
    assert_eq!(ack3.reconnection_count, 2);
    assert_eq!(
        ack3.initial_connection_unix_ms,
        ack1.initial_connection_unix_ms
    );
}

#[tokio::test]
async fn singletons_are_exclusive() {
    let gw = dev_gateway().await;
    let (_wfe, _) = Conn::connect(&gw.url(), &Principal::workflow_engine()).await;
    let mut second = Conn::open(&gw.url(), init(&Principal::workflow_engine())).await;
    assert_eq!(second.status().await.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn extensions_are_negotiated_and_required_ones_fail() {
    let gw = dev_gateway().await;
    let p = Principal::agent("w", "i", "ext").unwrap();
    let mut i = init(&p);
    i.extensions = vec![ExtensionDeclaration {
        uri: "urn:x".into(),
        version: "1".into(),
        ..Default::default()
    }];
    let mut c = Conn::open(&gw.url(), i.clone()).await;
    let ack = c.ack().await;
    assert_eq!(ack.negotiated_extensions.len(), 1);
    let n = &ack.negotiated_extensions[0];
    assert_eq!(
        (n.uri.as_str(), n.version.as_str(), n.supported),
        ("urn:x", "1", false)
    );
    assert_eq!(
        n.rejection_reason,
        "extension URI not supported by this gateway"
    );
    drop(c);

    let p = Principal::agent("w", "i", "ext2").unwrap();
    let mut i = init(&p);
    i.extensions = vec![ExtensionDeclaration {
        uri: "urn:must".into(),
        required: true,
        ..Default::default()
    }];
    let mut c = Conn::open(&gw.url(), i).await;
    let _ack = c.ack().await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert_eq!(
        s.message(),
        "ERR_EXTENSION_UNSUPPORTED: extension required but not supported: urn:must"
    );
}

#[tokio::test]
async fn token_credentials_are_refused() {
    let gw = dev_gateway().await;
    let mut i = init(&Principal::agent("w", "i", "tok").unwrap());
    i.credentials.insert("token".into(), "whatever".into());
    let mut c = Conn::open(&gw.url(), i).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::Unauthenticated);
    assert_eq!(s.message(), "invalid or revoked token");
}

#[tokio::test]
async fn client_eof_ends_ok() {
    let gw = dev_gateway().await;
    let (c, _) = Conn::connect(&gw.url(), &Principal::bridge("b", "eof").unwrap()).await;
    let Conn { tx, mut rx, .. } = c;
    drop(tx);
    let end = tokio::time::timeout(common::GUARD, rx.message())
        .await
        .unwrap();
    assert!(matches!(end, Ok(None)), "{end:?}");
}
