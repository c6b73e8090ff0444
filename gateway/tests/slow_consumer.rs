//! Pushes (progress updates, task events, assignments) to a session that
//! does not read are bounded in items and bytes: beyond the bound the
//! session is ended as a slow consumer (`RESOURCE_EXHAUSTED`), never
//! buffered without end and never dropped silently; its sources keep
//! working and it can reconnect.

mod common;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{ProgressReport, upstream_message};
use common::{Conn, up};

fn report(i: usize) -> upstream_message::Payload {
    upstream_message::Payload::Progress(Box::new(ProgressReport {
        state: "working".into(),
        summary: format!("{i:06}{}", ".".repeat(1024)),
        ..Default::default()
    }))
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_its_progress_is_ended_not_buffered() {
    const REPORTS: usize = 20_000;
    let limits = Limits::default().with_max_push_backlog(1_000, 256 * 1024);
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let url = gw.url();
    let b_principal = Principal::agent("w", "i", "b").unwrap();
    // b receives `pg::w` and never reads; a reports 20 MiB of progress.
    let (mut b, _) = Conn::connect(&url, &b_principal).await;
    let (mut a, _) = Conn::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    for i in 0..REPORTS {
        a.send(up(report(i))).await;
    }
    assert!(
        a.barrier().await.is_empty(),
        "the reporter was refused nothing"
    );
    let s = gw.stats();
    assert_eq!(s.slow_consumers, 1, "{s:?}");
    assert_eq!(s.sessions_active, 1, "only the reporter is left");

    // b learns why when it reads again: what reached it, then the status.
    let mut received = 0;
    let status = loop {
        match b.next().await {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("ended without a status"),
            Err(s) => break s,
        }
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert!(status.message().contains("slow consumer"), "{status:?}");
    assert!(received < REPORTS, "{received}");

    // It reconnects and gets progress again; the reporter never noticed.
    let (mut b, _) = Conn::connect(&url, &b_principal).await;
    a.send(up(report(REPORTS))).await;
    match b.payload().await {
        aether_protocol::proto::downstream_message::Payload::ProgressUpdate(u) => {
            assert!(u.summary.starts_with(&format!("{REPORTS:06}")));
        }
        other => panic!("expected progress, got {other:?}"),
    }
    gw.shutdown().await;
}
