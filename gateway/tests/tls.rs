//! TLS with client certificates (mTLS).

mod common;

use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_gateway::{GatewayConfig, TlsConfig};
use aether_protocol::identity::Principal;
use aether_protocol::proto::MessageType;
use common::{Conn, GUARD, init};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "aether test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |names: Vec<String>, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca_cert.pem(),
        server: leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost"),
        client: leaf(vec!["client".into()], "ag::w::i::tls"),
    }
}

async fn tls_channel(
    url: &str,
    pki: &Pki,
    with_cert: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if with_cert {
        tls = tls.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    }
    Endpoint::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn mtls_admits_clients_with_a_certificate_only() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server.0.clone(), pki.server.1.clone())
        .with_client_ca(pki.ca_pem.clone());
    let gw = aether_gateway::start(GatewayConfig::dev().with_tls(tls))
        .await
        .unwrap();
    let url = gw.url();
    assert!(url.starts_with("https://127.0.0.1:"));

    let channel = tls_channel(&url, &pki, true).await.expect("mTLS connects");
    let agent = Principal::agent("w", "i", "tls").unwrap();
    let mut a = Conn::open_on(channel.clone(), init(&agent)).await;
    a.ack().await;
    a.send_message("ag::w::i::tls", b"secure", MessageType::Chat)
        .await;
    assert_eq!(&a.msg().await.payload[..], b"secure");

    // Without a client certificate the server refuses the connection.
    let refused = tokio::time::timeout(GUARD, async {
        let channel = tls_channel(&url, &pki, false).await?;
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        AetherGatewayClient::new(channel)
            .connect(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map(|_| ())
            .map_err(|s| Box::new(s) as Box<dyn std::error::Error>)?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .await
    .expect("in time");
    assert!(
        refused.is_err(),
        "a client without a certificate was admitted"
    );
}

#[tokio::test]
async fn tls_from_paths_matches_tls_from_pem() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, &pki.server.0).unwrap();
    std::fs::write(&key, &pki.server.1).unwrap();
    let tls = TlsConfig::from_paths(&cert, &key, None).unwrap();
    let gw = aether_gateway::start(GatewayConfig::dev().with_tls(tls))
        .await
        .unwrap();
    let channel = tls_channel(&gw.url(), &pki, false).await.unwrap();
    let mut c = Conn::open_on(channel, init(&Principal::workflow_engine())).await;
    assert!(!c.ack().await.session_id.is_empty());
}

#[tokio::test]
async fn a_mapped_client_certificate_is_a_credential() {
    use aether_gateway::CertPrincipal;
    use tonic::Code;
    let pki = pki();
    let fingerprint = aether_gateway::cert_fingerprint(pki.client.0.as_bytes()).expect("a cert");
    assert_eq!(fingerprint.len(), 64);
    let tls = || {
        TlsConfig::from_pem(pki.server.0.clone(), pki.server.1.clone())
            .with_client_ca(pki.ca_pem.clone())
    };
    let mapped = tls().map_client_cert(
        fingerprint.to_uppercase(),
        CertPrincipal::new("agent").bound_id("ag::w::i::tls"),
    );
    let gw = aether_gateway::start(GatewayConfig::default().with_tls(mapped))
        .await
        .unwrap();
    let channel = tls_channel(&gw.url(), &pki, true)
        .await
        .expect("mTLS connects");
    let agent = Principal::agent("w", "i", "tls").unwrap();
    let mut a = Conn::open_on(channel.clone(), init(&agent)).await;
    a.ack().await;
    let status = |p: Principal| {
        let channel = channel.clone();
        async move { Conn::open_on(channel, init(&p)).await.status().await }
    };
    let s = status(Principal::agent("w", "i", "other").unwrap()).await;
    assert_eq!(
        (s.code(), s.message()),
        (
            Code::PermissionDenied,
            "client certificate principal id mismatch"
        )
    );
    let s = status(Principal::workflow_engine()).await;
    assert_eq!(
        (s.code(), s.message()),
        (
            Code::PermissionDenied,
            "client certificate principal type mismatch"
        )
    );
    gw.shutdown().await;

    // Unmapped, the same certificate only secures the transport.
    let gw = aether_gateway::start(GatewayConfig::default().with_tls(tls()))
        .await
        .unwrap();
    let channel = tls_channel(&gw.url(), &pki, true)
        .await
        .expect("mTLS connects");
    let s = Conn::open_on(channel, init(&agent)).await.status().await;
    assert_eq!(s.code(), Code::Unauthenticated);

    // A mapping without a client CA, or one that cannot be parsed, is refused at start.
    let bad = TlsConfig::from_pem(pki.server.0.clone(), pki.server.1.clone())
        .map_client_cert(fingerprint, CertPrincipal::new("Agent"));
    let err = aether_gateway::start(GatewayConfig::default().with_tls(bad))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("client CA"), "{err}");
}

/// The pre-authentication deadline applies to TLS connections too, and a
/// TLS session that completed its handshake outlives it.
#[tokio::test]
async fn an_admitted_tls_session_outlives_the_handshake_deadline() {
    use aether_gateway::Limits;
    use tokio::io::AsyncReadExt;

    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server.0.clone(), pki.server.1.clone());
    let limits = Limits::default().with_handshake_timeout(std::time::Duration::from_millis(300));
    let gw = aether_gateway::start(GatewayConfig::dev().with_tls(tls).with_limits(limits))
        .await
        .unwrap();
    let channel = tls_channel(&gw.url(), &pki, false).await.unwrap();
    let agent = Principal::agent("w", "i", "late").unwrap();
    let mut a = Conn::open_on(channel, init(&agent)).await;
    a.ack().await;

    // A connection opened after it that never starts TLS: once the gateway
    // closes it, the deadline has passed for the session's connection too.
    let mut idle = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(GUARD, idle.read(&mut buf))
        .await
        .expect("the idle connection is closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "the idle connection got data instead of a close");

    a.send_message("ag::w::i::late", b"still here", MessageType::Chat)
        .await;
    assert_eq!(&a.msg().await.payload[..], b"still here");
}
