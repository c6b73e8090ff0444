//! Tunnels through the gateway (§8.3): the open delivered as seq-0 data,
//! data, acks and closes with translated ids, the workspace quota, the
//! byte cap, idle timeouts, sequence checks and peer resets.

mod common;

use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits, ProxyLimits, RunningGateway};
use aether_protocol::identity::Principal;
use common::proxy::{Reason, data, open, reason, sorted, until};
use common::{Conn, dev_gateway};

const WIRE: &str = "_aether/wire/";

async fn gateway(proxy: ProxyLimits) -> RunningGateway {
    let limits = Limits::default().with_proxy(proxy);
    aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap()
}

async fn service(gw: &RunningGateway, spec: &str) -> Conn {
    let p = Principal::service("tcp", spec, false).unwrap();
    Conn::connect(&gw.url(), &p).await.0
}

async fn agent(gw: &RunningGateway, ws: &str, spec: &str) -> Conn {
    let p = Principal::agent(ws, "dialer", spec).unwrap();
    Conn::connect(&gw.url(), &p).await.0
}

/// Opens `id` from `caller` to `sv::tcp::1`; returns the wire id `sv` sees.
async fn dial(caller: &Conn, sv: &mut Conn, id: &str) -> String {
    caller.send_open(open(id, "sv::tcp::1")).await;
    sv.tunnel_open().await.0
}

#[tokio::test]
async fn open_data_ack_and_close_cross_with_translated_ids() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;

    let mut o = open("t1", "sv::tcp");
    o.remote_hint = "localhost:22".into();
    o.idle_timeout_ms = 60_000;
    o.metadata = [
        ("k", "v"),
        ("X-Aether-Caller-Topic", "spoofed"),
        ("x-auth-user-id", "spoofed"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    caller.send_open(o).await;
    let (wire, got) = sv.tunnel_open().await;
    assert!(wire.starts_with(WIRE), "{wire}");
    assert_eq!(got.target_topic, "sv::tcp::1");
    assert_eq!(got.remote_hint, "localhost:22");
    assert_eq!(got.idle_timeout_ms, 60_000);
    assert_eq!(got.proxy_chain_depth, 1);
    let topic = "ag::ws::dialer::1";
    let mut want: Vec<(String, String)> = [
        ("k", "v"),
        ("x-aether-actor-topic", topic),
        ("X-Aether-Caller-Topic", topic),
        ("X-Auth-Tenant-ID", "ws"),
        // Dev mode: every session is a superadmin (50).
        ("X-Auth-Workspace-Access", "50"),
        ("X-Auth-User-ID", topic),
        ("X-Auth-Principal-Type", "Agent"),
        ("X-Auth-Actor-Type", "Agent"),
        ("X-Auth-Actor-ID", topic),
        ("X-Auth-Authority-Mode", "direct"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    want.sort();
    assert_eq!(sorted(&got.metadata), want);
    assert_eq!(gw.stats().tunnels_active, 1);

    caller.send_data(data("t1", 0, b"ping", false)).await;
    let d = sv.tunnel_data().await;
    assert_eq!(
        (d.tunnel_id.as_str(), d.seq, d.data.as_ref()),
        (wire.as_str(), 0, &b"ping"[..])
    );

    sv.send_ack(&wire, 0, 4).await;
    let a = caller.tunnel_ack().await;
    assert_eq!((a.tunnel_id.as_str(), a.ack_seq, a.credits), ("t1", 0, 4));
    // The upstream sidecar numbers its data from 1.
    sv.send_data(data(&wire, 1, b"pong", false)).await;
    sv.send_data(data(&wire, 2, b"", true)).await;
    let d = caller.tunnel_data().await;
    assert_eq!(
        (d.tunnel_id.as_str(), d.seq, d.data.as_ref()),
        ("t1", 1, &b"pong"[..])
    );
    let fin = caller.tunnel_data().await;
    assert!(fin.fin && fin.data.is_empty());
    caller.send_ack("t1", 1, 4).await;
    let a = sv.tunnel_ack().await;
    assert_eq!(a.tunnel_id, wire);

    caller.send_close("t1", Reason::Normal, "bye").await;
    let c = sv.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c), c.detail.as_str()),
        (wire.as_str(), Reason::Normal, "bye")
    );
    caller.barrier().await;
    let s = gw.stats();
    assert_eq!((s.tunnels_active, s.proxy_pins), (0, 0));

    // A close from the target reaches the caller under its own id.
    let wire = dial(&caller, &mut sv, "t2").await;
    sv.send_close(&wire, Reason::Error, "backend refused").await;
    let c = caller.tunnel_close().await;
    assert_eq!((c.tunnel_id.as_str(), reason(&c)), ("t2", Reason::Error));
    assert_eq!(c.detail, "backend refused");
    until(&gw, "tunnel released", |s| s.proxy_pins == 0).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_workspace_may_hold_a_bounded_number_of_live_tunnels() {
    let gw = gateway(ProxyLimits::default().with_max_tunnels_per_workspace(3)).await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;
    let mut wires = Vec::new();
    for i in 0..3 {
        wires.push(dial(&caller, &mut sv, &format!("t{i}")).await);
    }
    caller.send_open(open("t3", "sv::tcp::1")).await;
    let c = caller.tunnel_close().await;
    assert_eq!((c.tunnel_id.as_str(), reason(&c)), ("t3", Reason::Quota));
    assert_eq!(c.detail, "workspace tunnel cap 3 reached");
    // Another workspace has its own quota.
    let other = agent(&gw, "other", "1").await;
    dial(&other, &mut sv, "t0").await;
    // Closing one frees a slot.
    caller.send_close("t0", Reason::Normal, "").await;
    assert_eq!(sv.tunnel_close().await.tunnel_id, wires[0]);
    dial(&caller, &mut sv, "t4").await;
    assert_eq!(gw.stats().tunnels_active, 4);
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_tunnels_are_closed_for_both_ends() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;
    let mut o = open("idle", "sv::tcp::1");
    o.idle_timeout_ms = 150;
    caller.send_open(o).await;
    let (wire, _) = sv.tunnel_open().await;
    let c = caller.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c)),
        ("idle", Reason::IdleTimeout)
    );
    assert_eq!(c.detail, "tunnel idle for 150 ms");
    let c = sv.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c)),
        (wire.as_str(), Reason::IdleTimeout)
    );
    assert_eq!(gw.stats().proxy_pins, 0);
    // Without one, the gateway's default applies.
    let gw2 =
        gateway(ProxyLimits::default().with_tunnel_idle_timeout(Duration::from_millis(100))).await;
    let mut sv = service(&gw2, "1").await;
    let mut caller = agent(&gw2, "ws", "1").await;
    dial(&caller, &mut sv, "d").await;
    assert_eq!(reason(&caller.tunnel_close().await), Reason::IdleTimeout);
    assert_eq!(reason(&sv.tunnel_close().await), Reason::IdleTimeout);
    gw.shutdown().await;
    gw2.shutdown().await;
}

#[tokio::test]
async fn the_other_end_is_reset_at_once_when_a_session_ends() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;
    dial(&caller, &mut sv, "a").await;
    drop(sv);
    let c = caller.tunnel_close().await;
    assert_eq!((c.tunnel_id.as_str(), reason(&c)), ("a", Reason::PeerReset));
    assert_eq!(c.detail, "tunnel peer disconnected");

    let mut sv = service(&gw, "1").await;
    let wire = dial(&caller, &mut sv, "b").await;
    drop(caller);
    let c = sv.tunnel_close().await;
    assert_eq!((c.tunnel_id.clone(), reason(&c)), (wire, Reason::PeerReset));
    until(&gw, "tunnels released", |s| {
        s.tunnels_active == 0 && s.proxy_pins == 0
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_tunnel_carries_at_most_its_byte_cap() {
    let gw = gateway(ProxyLimits::default().with_max_tunnel_bytes(10)).await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;
    let wire = dial(&caller, &mut sv, "capped").await;
    caller.send_data(data("capped", 0, b"123456", false)).await;
    assert_eq!(sv.tunnel_data().await.data.len(), 6);
    sv.send_data(data(&wire, 0, b"7890", false)).await;
    assert_eq!(caller.tunnel_data().await.data.len(), 4);
    caller.send_data(data("capped", 1, b"x", false)).await;
    let c = caller.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c)),
        ("capped", Reason::Quota)
    );
    assert_eq!(c.detail, "tunnel byte cap 10 exceeded");
    let c = sv.tunnel_close().await;
    assert_eq!((c.tunnel_id.clone(), reason(&c)), (wire, Reason::Quota));

    // A tunnel's own lower cap applies too.
    let mut o = open("own", "sv::tcp::1");
    o.max_bytes = 3;
    caller.send_open(o).await;
    sv.tunnel_open().await;
    caller.send_data(data("own", 0, b"1234", false)).await;
    assert_eq!(reason(&caller.tunnel_close().await), Reason::Quota);
    assert_eq!(reason(&sv.tunnel_close().await), Reason::Quota);
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_tunnel_frames_are_refused() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;

    // Opens that cannot be routed.
    for (o, why, r) in [
        (
            open("", "sv::tcp::1"),
            "tunnel_id is required",
            Reason::Error,
        ),
        (
            open("x", "sv::tcp::9"),
            "SIDECAR_UNAVAILABLE: target \"sv::tcp::9\" is not connected",
            Reason::Error,
        ),
        (
            open("y", "sv::none"),
            "SIDECAR_UNAVAILABLE: no connected sv::none instance",
            Reason::Error,
        ),
    ] {
        let id = o.tunnel_id.clone();
        caller.send_open(o).await;
        let c = caller.tunnel_close().await;
        assert_eq!(
            (c.tunnel_id.clone(), reason(&c), c.detail.as_str()),
            (id, r, why)
        );
    }
    let mut deep = open("deep", "sv::tcp::1");
    deep.proxy_chain_depth = 8;
    caller.send_open(deep).await;
    assert_eq!(
        caller.tunnel_close().await.detail,
        "ACL_DENIED: proxy_chain_depth_exceeded: inbound=8 cap=8"
    );

    // Data for no tunnel resets it; acks and closes for none are dropped.
    caller.send_data(data("ghost", 0, b"x", false)).await;
    let c = caller.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c)),
        ("ghost", Reason::PeerReset)
    );
    assert_eq!(c.detail, "tunnel pin expired or unknown");
    caller.send_ack("ghost", 0, 1).await;
    caller.send_close("ghost", Reason::Normal, "").await;
    assert!(caller.barrier().await.is_empty());

    // A repeated seq closes the tunnel for both ends.
    let wire = dial(&caller, &mut sv, "rep").await;
    caller.send_data(data("rep", 0, b"a", false)).await;
    caller.send_data(data("rep", 0, b"a", false)).await;
    sv.tunnel_data().await;
    let want = "tunnel data out of order: expected seq 1, got seq 0";
    let c = sv.tunnel_close().await;
    assert_eq!(
        (c.tunnel_id.as_str(), reason(&c), c.detail.as_str()),
        (wire.as_str(), Reason::Error, want)
    );
    assert_eq!(caller.tunnel_close().await.detail, want);

    // Data after fin, and an id already open.
    let wire = dial(&caller, &mut sv, "fin").await;
    caller.send_open(open("fin", "sv::tcp::1")).await;
    assert_eq!(
        caller.tunnel_close().await.detail,
        "tunnel_id \"fin\" is already open"
    );
    sv.send_data(data(&wire, 5, b"", true)).await;
    sv.send_data(data(&wire, 6, b"more", false)).await;
    assert!(caller.tunnel_data().await.fin);
    let want = "tunnel data (seq 6) after fin";
    assert_eq!(caller.tunnel_close().await.detail, want);
    assert_eq!(sv.tunnel_close().await.detail, want);

    // A session that is neither end cannot use a wire id.
    let mut intruder = service(&gw, "2").await;
    let wire = dial(&caller, &mut sv, "private").await;
    intruder.send_data(data(&wire, 0, b"x", false)).await;
    assert_eq!(reason(&intruder.tunnel_close().await), Reason::PeerReset);
    assert!(sv.barrier().await.is_empty());
    assert!(caller.barrier().await.is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn tunnels_on_behalf_need_a_valid_grant_and_name_the_subject() {
    use aether_protocol::proto::{AuthorizationContext, PrincipalRef};
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "ws", "1").await;
    let context = |grant_id: &str| AuthorizationContext {
        authority_mode: "on_behalf_of".into(),
        subject: Some(PrincipalRef {
            principal_type: "agent".into(),
            principal_id: "ag::w2::a::alice".into(),
        }),
        grant_id: grant_id.into(),
        ..Default::default()
    };
    let mut o = open("forged", "sv::tcp::1");
    o.authorization = Some(context("grant-nope"));
    caller.send_open(o).await;
    let c = caller.tunnel_close().await;
    assert_eq!(reason(&c), Reason::Error);
    assert_eq!(
        c.detail,
        "ACL_DENIED: authority grant is not valid for this actor and subject"
    );

    let (mut alice, _) =
        common::Conn::connect(&gw.url(), &Principal::agent("w2", "a", "alice").unwrap()).await;
    let grant = common::proxy::lend_rights(&mut alice, "ag::ws::dialer::1").await;
    let mut o = open("obo", "sv::tcp::1");
    o.authorization = Some(context(&grant.grant_id));
    caller.send_open(o).await;
    let (_, got) = sv.tunnel_open().await;
    assert_eq!(got.metadata["X-Auth-Authority-Mode"], "on_behalf_of");
    assert_eq!(got.metadata["X-Auth-Subject-ID"], "ag::w2::a::alice");
    assert_eq!(got.metadata["X-Auth-Grant-ID"], grant.grant_id);
    assert_eq!(got.metadata["X-Auth-Actor-ID"], "ag::ws::dialer::1");
    let resolved = got
        .authorization
        .as_ref()
        .and_then(|a| a.resolved.as_ref())
        .expect("the gateway fills in the resolved grant");
    assert_eq!(
        resolved
            .root_subject
            .as_ref()
            .map(|s| s.principal_id.as_str()),
        Some("ag::w2::a::alice")
    );
    assert_eq!(resolved.audience_id, "ag::ws::dialer::1");
    gw.shutdown().await;
}
