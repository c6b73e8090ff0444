//! Identities that come and go leave nothing behind: 20 000 distinct,
//! short-lived identities leave every table keyed by identity at its
//! starting size.

mod common;

use std::time::Duration;

use aether_gateway::{GatewayConfig, IdentityTables, Limits, RunningGateway};
use aether_protocol::identity::Principal;
use common::{Conn, GUARD, channel, init};
use futures_util::StreamExt;
use futures_util::stream;

/// Waits until the gateway's identity tables satisfy `want` (the sweep
/// that reclaims unused mailboxes runs every second).
async fn tables_until(gw: &RunningGateway, want: impl Fn(&IdentityTables) -> bool) {
    let waited = tokio::time::timeout(GUARD, async {
        while !want(&gw.identity_tables()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "tables {:?}", gw.identity_tables());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_short_lived_identities_leave_the_tables_at_their_size() {
    const IDENTITIES: usize = 20_000;
    // Lineage is forgotten when an identity departs: no window to wait out.
    let limits = Limits::default().with_resume_window(Duration::ZERO);
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let url = gw.url();
    // A long-lived identity, present before and after.
    let (_resident, _) =
        Conn::connect(&url, &Principal::agent("w", "i", "resident").unwrap()).await;
    let start = gw.identity_tables();
    assert_eq!(start.sessions, 1);

    // 20 000 agents, users and services, 64 at a time over a few
    // connections; each connects, is acknowledged and leaves.
    let channels: Vec<_> = stream::iter(0..8).then(|_| channel(&url)).collect().await;
    stream::iter(0..IDENTITIES)
        .for_each_concurrent(64, |i| {
            let ch = channels[i % channels.len()].clone();
            async move {
                let p = match i % 3 {
                    0 => Principal::agent("w", "churn", format!("a{i}")).unwrap(),
                    1 => Principal::user(format!("u{i}"), "win").unwrap(),
                    _ => Principal::service("churn", format!("s{i}"), false).unwrap(),
                };
                let mut c = Conn::open_on(ch, init(&p)).await;
                c.ack().await;
                drop(c);
            }
        })
        .await;
    assert!(gw.stats().sessions_total > IDENTITIES as u64);
    tables_until(&gw, |t| *t == start).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_departed_identity_resumes_within_its_window() {
    let gw = common::dev_gateway().await;
    let url = gw.url();
    let p = Principal::agent("w", "i", "back").unwrap();
    let (first, ack) = Conn::connect(&url, &p).await;
    drop(first);
    // Its lineage outlives the session (default window: 10 minutes).
    tables_until(&gw, |t| {
        (t.sessions, t.connected, t.lineages, t.mailboxes) == (0, 0, 1, 0)
    })
    .await;
    let mut again = Conn::open(
        &url,
        aether_protocol::proto::InitConnection {
            resume_session_id: ack.session_id.clone(),
            ..init(&p)
        },
    )
    .await;
    let resumed = again.ack().await;
    assert!(resumed.resumed);
    assert_eq!(resumed.reconnection_count, 1);
    gw.shutdown().await;
}
