//! Per-identity rate limits through the SDK against the real gateway: off
//! by default; when configured, every session of one principal draws from
//! one bucket, and a request over it fails at once with a typed
//! `RateLimited` error that says when to retry; other identities are not
//! affected.

mod common;

use aether_client::admin::{AccessLevel, AccessRequest, AclResource, AdminClient};
use aether_client::{ErrorKind, KvScope, UserClient};
use aether_gateway::{GatewayConfig, Limits, RateLimit};

fn check() -> AccessRequest {
    AccessRequest::new(AclResource::workspace("w"), AccessLevel::Read)
}

/// A user window whose calls are not retried (the retry layer would wait
/// out a refusal's `retry_after_ms` and succeed).
async fn user(url: &str, id: &str, window: &str) -> AdminClient {
    let c = UserClient::builder(id, window)
        .unwrap()
        .gateway(url)
        .retry(1, aether_client::middleware::Backoff::default())
        .build();
    c.connect().await.expect("user connects");
    AdminClient::new(&c)
}

#[tokio::test]
async fn an_identity_shares_one_bucket_across_its_sessions() {
    // A slow refill (1/s) and a burst of 3: the test's requests take far
    // less than a second, so no token comes back meanwhile.
    let limits = Limits::default().with_identity_rate(Some(RateLimit {
        per_second: 1,
        burst: 3,
    }));
    let gw = common::gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let url = gw.url();
    let tab1 = user(&url, "alice", "tab1").await;
    let tab2 = user(&url, "alice", "tab2").await;
    let bob = user(&url, "bob", "tab1").await;
    tab1.check_access(check()).await.unwrap();
    tab1.check_access(check()).await.unwrap();
    tab2.check_access(check()).await.unwrap();
    let e = tab2.check_access(check()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(
        e.to_string()
            .contains("rate limit exceeded for this identity"),
        "{e}"
    );
    let e = tab1.check_access(check()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    // Another identity has its own bucket.
    for _ in 0..3 {
        bob.check_access(check()).await.unwrap();
    }
}

#[tokio::test]
async fn retried_calls_wait_out_the_refusal() {
    let limits = Limits::default().with_identity_rate(Some(RateLimit {
        per_second: 20,
        burst: 1,
    }));
    let gw = common::gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let c = UserClient::builder("carol", "t")
        .unwrap()
        .gateway(gw.url())
        .build();
    c.connect().await.unwrap();
    let admin = AdminClient::new(&c);
    // Each call after the first is refused once, then retried after
    // `retry_after_ms` (50 ms), when the bucket has a token again.
    for _ in 0..3 {
        admin.check_access(check()).await.unwrap();
    }
}

#[tokio::test]
async fn without_a_limit_nothing_is_refused() {
    let gw = common::gateway().await;
    let agent = aether_client::AgentClient::builder("w", "i", "s")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    for i in 0..500 {
        agent
            .kv_put(&format!("k{i}"), "v", &KvScope::Workspace, None)
            .await
            .unwrap();
    }
}
