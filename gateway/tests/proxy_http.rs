//! HTTP over Aether through the gateway (§8.1, §8.2, §8.5): routing both
//! ways with id translation, header hygiene and minting, chunked bodies,
//! limits, refusals, and requests that lose a peer or are never finished.

mod common;

use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits, ProxyLimits, RunningGateway};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AuthorizationContext, PrincipalRef, ResolvedAuthorityInfo, SwitchWorkspace,
    downstream_message::Payload as Down, upstream_message::Payload as Up,
};
use aether_protocol::shared::Header;
use common::proxy::{Kind, chunk, kind, request, response, until};
use common::{Conn, dev_gateway, up};

const WIRE: &str = "_aether/wire/";

async fn service(gw: &RunningGateway, spec: &str) -> Conn {
    let p = Principal::service("web", spec, false).unwrap();
    Conn::connect(&gw.url(), &p).await.0
}

async fn agent(gw: &RunningGateway, spec: &str) -> Conn {
    let p = Principal::agent("ws", "caller", spec).unwrap();
    Conn::connect(&gw.url(), &p).await.0
}

fn headers(pairs: &[(&str, &str)]) -> Vec<Header> {
    pairs.iter().map(|&(k, v)| Header::new(k, v)).collect()
}

/// The headers as a sorted list of exact names and values, to compare
/// whole sets.
fn sorted(headers: &[Header]) -> Vec<(String, String)> {
    let mut v: Vec<_> = headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_string()))
        .collect();
    v.sort();
    v
}

/// The value of the one header named exactly `name` (casing included).
fn exact<'a>(headers: &'a [Header], name: &str) -> &'a str {
    let mut found = headers.iter().filter(|h| h.name == name);
    let value = found.next().unwrap_or_else(|| panic!("no header {name}"));
    assert!(found.next().is_none(), "header {name} set twice");
    &value.value
}

/// The trusted set minted for a caller. In dev mode every session is a
/// superadmin, so its workspace access is SUPERADMIN (50).
fn minted(topic: &str, tenant: &str, id: &str, kind: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-aether-actor-topic", topic.into()),
        ("X-Aether-Caller-Topic", topic.into()),
        ("X-Auth-Tenant-ID", tenant.into()),
        ("X-Auth-Workspace-Access", "50".into()),
        ("X-Auth-User-ID", id.into()),
        ("X-Auth-Principal-Type", kind.into()),
        ("X-Auth-Actor-Type", kind.into()),
        ("X-Auth-Actor-ID", id.into()),
        ("X-Auth-Authority-Mode", "direct".into()),
    ]
}

#[tokio::test]
async fn a_request_and_its_response_cross_with_translated_ids_and_trusted_headers() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;

    let mut req = request("r1", "sv::web::1", "/hello?x=1");
    req.headers = headers(&[
        ("accept", "text/plain"),
        ("x-authorization", "kept: not reserved"),
        ("X-Auth-User-ID", "spoofed"),
        ("x-auth-tenant-id", "spoofed"),
        ("X-AETHER-CALLER-TOPIC", "spoofed"),
        ("x-aether-anything", "spoofed"),
    ]);
    req.timeout_ms = 30_000;
    caller.send_request(req).await;

    let got = sv.proxy_request().await;
    assert!(got.request_id.starts_with(WIRE), "{}", got.request_id);
    assert_eq!(got.target_topic, "sv::web::1");
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("GET", "/hello?x=1")
    );
    assert_eq!(got.proxy_chain_depth, 1);
    assert_eq!(got.timeout_ms, 30_000);
    let mut want = headers(&[
        ("accept", "text/plain"),
        ("x-authorization", "kept: not reserved"),
    ]);
    let topic = "ag::ws::caller::1";
    for (k, v) in minted(topic, "ws", topic, "Agent") {
        want.push(Header::new(k, v));
    }
    assert_eq!(sorted(&got.headers), sorted(&want));
    assert_eq!(gw.stats().proxy_requests_active, 1);
    assert_eq!(gw.stats().proxy_pins, 2, "the wire pin and the caller pin");

    let mut resp = response(&got.request_id, 200, b"hello", false);
    resp.headers = headers(&[("content-type", "text/plain")]);
    sv.send_response(resp).await;
    let back = caller.proxy_response().await;
    assert_eq!(back.request_id, "r1");
    assert_eq!(back.status_code, 200);
    assert_eq!(back.body.as_ref(), b"hello");
    assert_eq!(exact(&back.headers, "content-type"), "text/plain");
    assert!(back.error.is_none());
    assert_eq!(gw.stats().proxy_pins, 0);
    assert_eq!(gw.stats().proxy_requests_active, 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_user_is_named_by_its_user_id_and_current_workspace() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let (user, _) = Conn::connect(&gw.url(), &Principal::user("alice", "w1").unwrap()).await;
    user.send(up(Up::SwitchWorkspace(Box::new(SwitchWorkspace {
        new_workspace_id: "team".into(),
    }))))
    .await;
    user.send_request(request("u1", "sv::web::1", "/")).await;
    let got = sv.proxy_request().await;
    let want = minted("us::alice::w1", "team", "alice", "User");
    assert_eq!(
        sorted(&got.headers),
        sorted(
            &want
                .into_iter()
                .map(|(k, v)| Header::new(k, v))
                .collect::<Vec<_>>()
        )
    );
    // A service calling another principal (here itself) has no workspace.
    sv.send_request(request("s1", "sv::web::1", "/")).await;
    let own = sv.proxy_request().await;
    assert_eq!(exact(&own.headers, "X-Auth-Tenant-ID"), "");
    assert_eq!(exact(&own.headers, "X-Auth-Principal-Type"), "Service");
    assert_eq!(exact(&own.headers, "X-Auth-User-ID"), "sv::web::1");
    sv.send_response(response(&own.request_id, 204, b"", false))
        .await;
    let back = sv.proxy_response().await;
    assert_eq!((back.request_id.as_str(), back.status_code), ("s1", 204));
    gw.shutdown().await;
}

#[tokio::test]
async fn callers_may_reuse_each_others_request_ids() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut a = agent(&gw, "a").await;
    let mut b = agent(&gw, "b").await;
    a.send_request(request("req-1", "sv::web::1", "/a")).await;
    b.send_request(request("req-1", "sv::web::1", "/b")).await;
    let first = sv.proxy_request().await;
    let second = sv.proxy_request().await;
    assert_ne!(first.request_id, second.request_id);
    // Answer in the other order.
    for r in [&second, &first] {
        sv.send_response(response(&r.request_id, 200, r.path.as_bytes(), false))
            .await;
    }
    for (conn, path) in [(&mut a, "/a"), (&mut b, "/b")] {
        let back = conn.proxy_response().await;
        assert_eq!(back.request_id, "req-1");
        assert_eq!(back.body.as_ref(), path.as_bytes());
    }
    // The same caller may not have one id in flight twice.
    a.send_request(request("dup", "sv::web::1", "/")).await;
    a.send_request(request("dup", "sv::web::1", "/")).await;
    let e = a.proxy_refusal("dup").await;
    assert_eq!(kind(&e), Kind::DecodeFailed);
    assert_eq!(e.message, "request_id \"dup\" is already in flight");
    let r = sv.proxy_request().await;
    sv.send_response(response(&r.request_id, 200, b"", false))
        .await;
    assert_eq!(a.proxy_response().await.status_code, 200);
    gw.shutdown().await;
}

#[tokio::test]
async fn chunked_bodies_cross_in_order_both_ways() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let body = |i: u32| vec![i as u8; 1000 + i as usize];

    let mut req = request("up", "sv::web::1", "/echo");
    req.method = "POST".into();
    req.body_chunked = true;
    caller.send_request(req).await;
    for i in 0..5 {
        caller
            .send_chunk(chunk("up", true, i, &body(i), i == 4))
            .await;
    }
    let got = sv.proxy_request().await;
    assert!(got.body_chunked);
    let wire = got.request_id.clone();
    for i in 0..5 {
        let c = sv.proxy_chunk().await;
        assert_eq!(c.request_id, wire);
        assert!(c.is_request);
        assert_eq!((c.seq, c.fin), (i, i == 4));
        assert_eq!(c.data.as_ref(), body(i).as_slice());
    }

    sv.send_response(response(&wire, 200, b"", true)).await;
    for i in 0..5 {
        sv.send_chunk(chunk(&wire, false, i, &body(10 + i), i == 4))
            .await;
    }
    let head = caller.proxy_response().await;
    assert_eq!(head.request_id, "up");
    assert!(head.body_chunked);
    for i in 0..5 {
        let c = caller.proxy_chunk().await;
        assert_eq!(c.request_id, "up");
        assert!(!c.is_request);
        assert_eq!((c.seq, c.fin), (i, i == 4));
        assert_eq!(c.data.as_ref(), body(10 + i).as_slice());
    }
    caller.barrier().await;
    assert_eq!(gw.stats().proxy_pins, 0, "the last chunk ends the request");
    gw.shutdown().await;
}

#[tokio::test]
async fn inline_bodies_up_to_8_mib_pass_and_larger_ones_are_refused() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let mut big = request("big", "sv::web::1", "/upload");
    big.body = vec![7u8; 8 * 1024 * 1024 + 1].into();
    caller.send_request(big).await;
    let e = caller.proxy_refusal("big").await;
    assert_eq!(kind(&e), Kind::PayloadTooLarge);
    assert_eq!(
        e.message,
        "request body size 8388609 exceeds maximum of 8388608 bytes"
    );

    let mut ok = request("ok", "sv::web::1", "/upload");
    ok.body = vec![7u8; 8 * 1024 * 1024].into();
    caller.send_request(ok).await;
    let got = sv.proxy_request().await;
    assert_eq!(got.body.len(), 8 * 1024 * 1024);
    assert_eq!(gw.stats().proxy_requests_active, 1, "only the second one");
    gw.shutdown().await;
}

#[tokio::test]
async fn requests_and_responses_with_more_headers_than_a_frame_holds_are_refused_alone() {
    use aether_protocol::shared::http::MAX_HEADERS;
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let many = |n: usize| -> Vec<Header> {
        (0..n)
            .map(|i| Header::new(format!("x-h{i}"), "v"))
            .collect()
    };
    // Nine identity headers are minted: the caller's own must leave room.
    let mut crowded = request("crowded", "sv::web::1", "/");
    crowded.headers = many(MAX_HEADERS - 8);
    caller.send_request(crowded).await;
    let e = caller.proxy_refusal("crowded").await;
    assert_eq!(kind(&e), Kind::PayloadTooLarge);
    assert_eq!(
        e.message,
        format!(
            "{} headers with the identity headers; the limit is {MAX_HEADERS}",
            MAX_HEADERS + 1
        )
    );

    // More than a frame holds: that request is refused, the session lives.
    let mut over = request("over", "sv::web::1", "/");
    over.headers = many(MAX_HEADERS + 1);
    caller.send_request(over).await;
    let e = caller.proxy_refusal("over").await;
    assert_eq!(kind(&e), Kind::PayloadTooLarge);
    assert_eq!(
        e.message,
        format!("the request has more than {MAX_HEADERS} headers")
    );

    let mut fits = request("fits", "sv::web::1", "/");
    fits.headers = many(MAX_HEADERS - 9);
    caller.send_request(fits).await;
    let got = sv.proxy_request().await;
    assert_eq!(got.headers.len(), MAX_HEADERS);
    assert_eq!(gw.stats().proxy_requests_active, 1, "only the last one");

    // A response with more than a frame holds: the caller learns
    // PAYLOAD_TOO_LARGE, and the service's session lives on.
    let mut resp = response(&got.request_id, 200, b"", false);
    resp.headers = many(MAX_HEADERS + 1);
    sv.send_response(resp).await;
    let e = caller.proxy_refusal("fits").await;
    assert_eq!(kind(&e), Kind::PayloadTooLarge);
    assert_eq!(
        e.message,
        format!("the response has more than {MAX_HEADERS} headers")
    );
    assert!(caller.proxy_chunk().await.fin, "then the end of the body");
    // The service is told too, as for any request cut short.
    let told = sv.proxy_response().await;
    assert_eq!(told.request_id, got.request_id);
    assert_eq!(told.error.map(|e| e.message), Some(e.message));
    assert!(sv.proxy_chunk().await.fin);
    caller
        .send_request(request("after", "sv::web::1", "/"))
        .await;
    let after = sv.proxy_request().await;
    sv.send_response(response(&after.request_id, 204, b"", false))
        .await;
    assert_eq!(caller.proxy_response().await.status_code, 204);
    gw.shutdown().await;
}

#[tokio::test]
async fn the_hop_limit_is_8() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let mut deep = request("deep", "sv::web::1", "/");
    deep.proxy_chain_depth = 8;
    caller.send_request(deep).await;
    let e = caller.proxy_refusal("deep").await;
    assert_eq!(kind(&e), Kind::AclDenied);
    assert_eq!(e.message, "proxy_chain_depth_exceeded: inbound=8 cap=8");
    let mut last = request("last", "sv::web::1", "/");
    last.proxy_chain_depth = 7;
    caller.send_request(last).await;
    assert_eq!(sv.proxy_request().await.proxy_chain_depth, 8);
    gw.shutdown().await;
}

#[tokio::test]
async fn targets_that_are_not_connected_are_refused_at_once() {
    let gw = dev_gateway().await;
    let _sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    for (id, target, why) in [
        ("a", "sv::web::2", "target \"sv::web::2\" is not connected"),
        ("b", "sv::none", "no connected sv::none instance"),
        (
            "c",
            "ag::ws::caller::offline",
            "target \"ag::ws::caller::offline\" is not connected",
        ),
        ("d", "", "target \"\" is not connected"),
        ("e", "ga::ws", "target \"ga::ws\" is not connected"),
    ] {
        let mut r = request(id, target, "/");
        r.timeout_ms = 600_000;
        caller.send_request(r).await;
        let e = caller.proxy_refusal(id).await;
        assert_eq!(kind(&e), Kind::SidecarUnavailable);
        assert_eq!(e.message, why);
    }
    assert_eq!(gw.stats().proxy_pins, 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_bare_service_topic_goes_to_the_least_loaded_instance() {
    let gw = dev_gateway().await;
    let mut one = service(&gw, "1").await;
    let mut two = service(&gw, "2").await;
    let mut caller = agent(&gw, "1").await;
    for i in 0..4 {
        caller
            .send_request(request(&format!("r{i}"), "sv::web", "/"))
            .await;
    }
    caller.barrier().await;
    let mut held = Vec::new();
    for sv in [&mut one, &mut two] {
        let got: Vec<_> = sv.barrier().await;
        assert_eq!(got.len(), 2, "two requests each: {got:?}");
        held.push(got);
    }
    // One answered: the next one goes to the instance it was answered by.
    let Some(Down::ProxyHttpRequest(r)) = held[1].pop() else {
        panic!("a request")
    };
    assert_eq!(r.target_topic, "sv::web::2");
    two.send_response(response(&r.request_id, 200, b"", false))
        .await;
    caller.proxy_response().await;
    caller.send_request(request("next", "sv::web", "/")).await;
    let next = two.proxy_request().await;
    assert_eq!(next.target_topic, "sv::web::2");
    assert!(next.request_id.starts_with(WIRE));
    gw.shutdown().await;
}

#[tokio::test]
async fn a_target_that_leaves_mid_response_fails_the_request_for_the_caller() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    caller
        .send_request(request("r", "sv::web::1", "/stream"))
        .await;
    let wire = sv.proxy_request().await.request_id;
    sv.send_response(response(&wire, 200, b"", true)).await;
    sv.send_chunk(chunk(&wire, false, 0, b"part", false)).await;
    assert!(caller.proxy_response().await.body_chunked);
    assert_eq!(caller.proxy_chunk().await.data.as_ref(), b"part");
    drop(sv);

    let e = caller.proxy_response().await;
    assert_eq!(e.request_id, "r");
    let e = e.error.expect("an error");
    assert_eq!(kind(&e), Kind::SidecarUnavailable);
    assert_eq!(e.message, "peer session ended (sv::web::1)");
    let fin = caller.proxy_chunk().await;
    assert_eq!((fin.request_id.as_str(), fin.seq, fin.fin), ("r", 1, true));
    until(&gw, "pins released", |s| s.proxy_pins == 0).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_caller_that_leaves_cancels_its_request_at_the_target() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let caller = agent(&gw, "1").await;
    let mut r = request("r", "sv::web::1", "/slow");
    r.body_chunked = true;
    caller.send_request(r).await;
    caller.send_chunk(chunk("r", true, 0, b"some", false)).await;
    let wire = sv.proxy_request().await.request_id;
    assert_eq!(sv.proxy_chunk().await.data.as_ref(), b"some");
    drop(caller);
    let e = sv.proxy_failure(&wire).await;
    assert_eq!(kind(&e), Kind::SidecarUnavailable);
    assert_eq!(e.message, "peer session ended (ag::ws::caller::1)");
    until(&gw, "pins released", |s| s.proxy_pins == 0).await;
    // What the target still sends for it is refused, not delivered.
    sv.send_response(response(&wire, 200, b"late", false)).await;
    let e = sv.proxy_refusal(&wire).await;
    assert_eq!(e.message, "request pin expired or unknown");
    gw.shutdown().await;
}

#[tokio::test]
async fn chunks_out_of_order_repeated_or_unknown_are_refused() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;

    // A chunk for no request.
    caller.send_chunk(chunk("nope", true, 0, b"x", true)).await;
    let e = caller.proxy_refusal("nope").await;
    assert_eq!(kind(&e), Kind::SidecarUnavailable);
    assert_eq!(e.message, "request pin expired or unknown");

    // A gap: seq 0 then seq 2 ends the request for both ends.
    let mut r = request("gap", "sv::web::1", "/");
    r.body_chunked = true;
    caller.send_request(r).await;
    caller.send_chunk(chunk("gap", true, 0, b"a", false)).await;
    caller.send_chunk(chunk("gap", true, 2, b"c", true)).await;
    let wire = sv.proxy_request().await.request_id;
    assert_eq!(sv.proxy_chunk().await.seq, 0);
    let want = "request body chunk out of order: expected seq 1, got seq 2";
    let e = sv.proxy_failure(&wire).await;
    assert_eq!((kind(&e), e.message.as_str()), (Kind::DecodeFailed, want));
    let e = caller.proxy_failure("gap").await;
    assert_eq!((kind(&e), e.message.as_str()), (Kind::DecodeFailed, want));

    // A repeated response chunk.
    caller.send_request(request("dup", "sv::web::1", "/")).await;
    let wire = sv.proxy_request().await.request_id;
    sv.send_response(response(&wire, 200, b"", true)).await;
    sv.send_chunk(chunk(&wire, false, 0, b"a", false)).await;
    sv.send_chunk(chunk(&wire, false, 0, b"a", false)).await;
    caller.proxy_response().await;
    caller.proxy_chunk().await;
    let want = "response body chunk out of order: expected seq 1, got seq 0";
    assert_eq!(caller.proxy_failure("dup").await.message, want);
    assert_eq!(sv.proxy_failure(&wire).await.message, want);

    // Response chunks without a chunked header, and request chunks for an
    // inline body.
    caller
        .send_request(request("inline", "sv::web::1", "/"))
        .await;
    caller
        .send_chunk(chunk("inline", true, 0, b"x", true))
        .await;
    let wire = sv.proxy_request().await.request_id;
    let want = "request body chunk 0 without a streaming request body";
    assert_eq!(sv.proxy_failure(&wire).await.message, want);
    assert_eq!(caller.proxy_failure("inline").await.message, want);

    // Another session cannot answer a request it does not serve, even
    // knowing its wire id.
    let mut intruder = service(&gw, "2").await;
    caller
        .send_request(request("mine", "sv::web::1", "/"))
        .await;
    let wire = sv.proxy_request().await.request_id;
    intruder
        .send_response(response(&wire, 200, b"forged", false))
        .await;
    assert_eq!(
        intruder.proxy_refusal(&wire).await.message,
        "request pin expired or unknown"
    );
    intruder
        .send_chunk(chunk(&wire, false, 0, b"x", true))
        .await;
    intruder.proxy_refusal(&wire).await;
    sv.send_response(response(&wire, 200, b"real", false)).await;
    assert_eq!(caller.proxy_response().await.body.as_ref(), b"real");

    // Empty ids.
    caller.send_request(request("", "sv::web::1", "/")).await;
    let e = caller.proxy_refusal("").await;
    assert_eq!(
        (kind(&e), e.message.as_str()),
        (Kind::DecodeFailed, "request_id is required")
    );
    caller.barrier().await;
    assert_eq!(gw.stats().proxy_pins, 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn on_behalf_of_contexts_need_a_valid_grant_and_are_named_to_the_target() {
    let gw = dev_gateway().await;
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let mut r = request("obo", "sv::web::1", "/");
    r.authorization = Some(AuthorizationContext {
        authority_mode: "on_behalf_of".into(),
        subject: Some(PrincipalRef {
            principal_type: "agent".into(),
            principal_id: "ag::w2::a::alice".into(),
        }),
        grant_id: "g".into(),
        ..Default::default()
    });
    caller.send_request(r.clone()).await;
    let e = caller.proxy_refusal("obo").await;
    assert_eq!(kind(&e), Kind::AclDenied);
    assert_eq!(
        e.message,
        "authority grant is not valid for this actor and subject"
    );

    // Alice lends her rights to the caller.
    let (mut alice, _) =
        Conn::connect(&gw.url(), &Principal::agent("w2", "a", "alice").unwrap()).await;
    let grant = common::proxy::lend_rights(&mut alice, "ag::ws::caller::1").await;
    r.request_id = "obo2".into();
    r.authorization.as_mut().unwrap().grant_id = grant.grant_id.clone();
    // A caller cannot say what its context resolved to: the gateway does.
    r.authorization.as_mut().unwrap().resolved = Some(ResolvedAuthorityInfo {
        max_access_level: 50,
        ..Default::default()
    });
    caller.send_request(r.clone()).await;
    let got = sv.proxy_request().await;
    let resolved = got
        .authorization
        .as_ref()
        .and_then(|a| a.resolved.clone())
        .expect("the gateway fills in the resolved grant");
    assert_eq!(resolved.max_access_level, 20, "capped at READ_WRITE");
    assert_eq!(
        resolved.root_subject.map(|s| s.principal_id).as_deref(),
        Some("ag::w2::a::alice")
    );
    assert_eq!(
        (
            resolved.audience_type.as_str(),
            resolved.audience_id.as_str()
        ),
        ("agent", "ag::ws::caller::1")
    );
    assert_eq!(resolved.expires_at_ms, grant.expires_at, "unix ms");
    let h = &got.headers;
    assert_eq!(exact(h, "X-Auth-Authority-Mode"), "on_behalf_of");
    assert_eq!(exact(h, "X-Auth-Subject-Type"), "agent");
    assert_eq!(exact(h, "X-Auth-Subject-ID"), "ag::w2::a::alice");
    assert_eq!(exact(h, "X-Auth-Grant-ID"), grant.grant_id);
    assert_eq!(exact(h, "X-Auth-Actor-ID"), "ag::ws::caller::1");
    // Decided as the subject (never a superadmin), in its workspace.
    assert_eq!(exact(h, "X-Auth-Tenant-ID"), "w2");
    assert_eq!(exact(h, "X-Auth-Workspace-Access"), "20");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_request_nobody_finishes_expires_for_both_ends() {
    let proxy = ProxyLimits::default()
        .with_pin_ttl(Duration::from_millis(200))
        .with_pin_slack(Duration::ZERO);
    let limits = Limits::default().with_proxy(proxy);
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let mut sv = service(&gw, "1").await;
    let mut caller = agent(&gw, "1").await;
    let mut r = request("never", "sv::web::1", "/");
    r.body_chunked = true;
    caller.send_request(r).await;
    caller
        .send_chunk(chunk("never", true, 0, b"no fin", false))
        .await;
    let wire = sv.proxy_request().await.request_id;
    sv.proxy_chunk().await;
    let e = caller.proxy_failure("never").await;
    assert_eq!(kind(&e), Kind::Timeout);
    let e = sv.proxy_failure(&wire).await;
    assert_eq!(kind(&e), Kind::Timeout);
    assert_eq!(gw.stats().proxy_pins, 0);

    // A target that never answers: the request's timeout (plus the slack)
    // ends it.
    let mut r = request("unanswered", "sv::web::1", "/");
    r.timeout_ms = 100;
    caller.send_request(r).await;
    let wire = sv.proxy_request().await.request_id;
    assert_eq!(
        kind(&caller.proxy_failure("unanswered").await),
        Kind::Timeout
    );
    assert_eq!(kind(&sv.proxy_failure(&wire).await), Kind::Timeout);
    assert_eq!(gw.stats().proxy_pins, 0);
    gw.shutdown().await;
}
