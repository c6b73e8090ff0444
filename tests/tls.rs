//! TLS and mTLS with rustls: certificate material from bytes and from paths.

mod common;

use aether_client::{AgentClient, ErrorKind, MessageType, Pem, TlsOptions};
use aether_gateway::{GatewayConfig, TlsConfig};
use common::within;
use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "aether-rs test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf(vec!["localhost".into(), "127.0.0.1".into()]),
        client: leaf(vec!["client".into()]),
    }
}

#[tokio::test]
async fn mtls_with_bytes_and_with_paths() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server.0.clone(), pki.server.1.clone())
        .with_client_ca(pki.ca.clone());
    let gw = aether_gateway::start(GatewayConfig::dev().with_tls(tls))
        .await
        .unwrap();

    // From bytes.
    let a = AgentClient::builder("ws", "tls", "bytes")
        .unwrap()
        .gateway(gw.url())
        .tls(
            TlsOptions::new()
                .root_ca(Pem::bytes(pki.ca.clone()))
                .client_identity(
                    Pem::bytes(pki.client.0.clone()),
                    Pem::bytes(pki.client.1.clone()),
                )
                .domain_name("localhost"),
        )
        .build();
    a.connect().await.unwrap();

    // From paths.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    let (ca, cert, key) = (
        write("ca.pem", &pki.ca),
        write("c.pem", &pki.client.0),
        write("c.key", &pki.client.1),
    );
    let b = AgentClient::builder("ws", "tls", "paths")
        .unwrap()
        .gateway(gw.url())
        .tls(
            TlsOptions::new()
                .root_ca(Pem::path(ca))
                .client_identity(Pem::path(cert), Pem::path(key)),
        )
        .build();
    b.connect().await.unwrap();

    let mut inbox = b.messages();
    a.send_message_to_agent("ws", "tls", "paths", "over tls", MessageType::Chat)
        .await
        .unwrap();
    assert_eq!(
        within("tls message", inbox.next())
            .await
            .unwrap()
            .unwrap()
            .payload_str(),
        Some("over tls")
    );

    // Without a client certificate the gateway refuses the handshake.
    let anon = AgentClient::builder("ws", "tls", "anon")
        .unwrap()
        .gateway(gw.url())
        .tls(TlsOptions::new().root_ca(Pem::bytes(pki.ca.clone())))
        .connect_timeout(std::time::Duration::from_secs(3))
        .build();
    assert!(anon.connect().await.is_err());

    // Half an identity is a configuration error.
    let half = AgentClient::builder("ws", "tls", "half")
        .unwrap()
        .gateway(gw.url())
        .tls(
            TlsOptions::new()
                .root_ca(Pem::bytes(pki.ca.clone()))
                .client_cert(Pem::bytes(pki.client.0.clone())),
        )
        .build();
    assert_eq!(half.connect().await.unwrap_err().kind(), ErrorKind::Tls);

    // A missing file is a clear TLS error.
    let missing = AgentClient::builder("ws", "tls", "missing")
        .unwrap()
        .gateway(gw.url())
        .tls(TlsOptions::new().root_ca(Pem::path("/nonexistent/ca.pem")))
        .build();
    let err = missing.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert!(err.to_string().contains("/nonexistent/ca.pem"));

    a.close().await;
    b.close().await;
    gw.shutdown().await;
}
