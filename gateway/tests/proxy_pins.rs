//! Pins never leak: 10,000 requests abandoned in every way that can
//! happen — the target vanishes, the caller vanishes, nobody sends the
//! last chunk — leave the pin table empty, and every survivor is told.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits, ProxyLimits, RunningGateway};
use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message::Payload;
use common::Conn;
use common::proxy::{Kind, chunk, kind, request, response, until};

async fn connect(gw: &RunningGateway, p: Principal) -> Conn {
    Conn::connect(&gw.url(), &p).await.0
}

/// What a session received, by kind.
#[derive(Debug, Default)]
struct Seen {
    requests: Vec<String>,
    request_chunks: usize,
    headers: usize,
    response_chunks: usize,
    /// Error responses, by id, with their kind.
    errors: Vec<(String, Kind)>,
    fins: HashSet<String>,
}

impl Seen {
    fn take(&mut self, payload: Payload) {
        match payload {
            Payload::ProxyHttpRequest(r) => self.requests.push(r.request_id),
            Payload::ProxyHttpResponse(r) => match r.error {
                Some(e) => self.errors.push((r.request_id, kind(&e))),
                None => self.headers += 1,
            },
            Payload::ProxyHttpBodyChunk(c) if c.fin && !c.is_request => {
                assert!(self.fins.insert(c.request_id), "one fin per request");
            }
            Payload::ProxyHttpBodyChunk(c) if c.is_request => self.request_chunks += 1,
            Payload::ProxyHttpBodyChunk(_) => self.response_chunks += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn read(conn: &mut Conn, frames: usize) -> Seen {
        let mut seen = Seen::default();
        for _ in 0..frames {
            seen.take(conn.payload().await);
        }
        seen
    }

    /// Errors of kind `k`.
    fn count(&self, k: Kind) -> usize {
        self.errors.iter().filter(|(_, e)| *e == k).count()
    }

    /// Checks that each of `n` requests failed once with `kind`, followed
    /// by its fin.
    fn all_failed(&self, n: usize, want: Kind) {
        assert_eq!(self.errors.len(), n);
        let ids: HashSet<_> = self.errors.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids.len(), n, "one error per request");
        assert!(self.errors.iter().all(|(_, k)| *k == want), "{want:?}");
        assert_eq!(ids, self.fins, "each error is followed by its fin");
    }
}

#[tokio::test]
async fn ten_thousand_abandoned_requests_leave_no_pin() {
    const VANISHING_TARGET: usize = 4_000;
    const VANISHING_CALLER: usize = 3_000;
    const NO_FIN: usize = 3_000;
    let proxy = ProxyLimits::default()
        .with_pin_ttl(Duration::from_millis(300))
        .with_pin_slack(Duration::ZERO);
    let gw = aether_gateway::start(
        GatewayConfig::dev().with_limits(Limits::default().with_proxy(proxy)),
    )
    .await
    .unwrap();
    let service = |spec: &str| Principal::service("web", spec, false).unwrap();
    let agent = |spec: &str| Principal::agent("ws", "caller", spec).unwrap();

    // 1. The target vanishes with every request half uploaded.
    let mut sv = connect(&gw, service("1")).await;
    let mut caller = connect(&gw, agent("a")).await;
    for i in 0..VANISHING_TARGET {
        let id = format!("a{i}");
        let mut r = request(&id, "sv::web::1", "/upload");
        r.body_chunked = true;
        r.timeout_ms = 60_000;
        caller.send_request(r).await;
        caller.send_chunk(chunk(&id, true, 0, b"half", false)).await;
    }
    let seen = Seen::read(&mut sv, 2 * VANISHING_TARGET).await;
    assert_eq!(
        (seen.requests.len(), seen.request_chunks),
        (VANISHING_TARGET, VANISHING_TARGET)
    );
    assert_eq!(gw.stats().proxy_pins, 2 * VANISHING_TARGET as u64);
    drop(sv);
    let seen = Seen::read(&mut caller, 2 * VANISHING_TARGET).await;
    seen.all_failed(VANISHING_TARGET, Kind::SidecarUnavailable);
    assert_eq!(gw.stats().proxy_pins, 0);

    // 2. The caller vanishes while the target works on every request.
    let mut sv = connect(&gw, service("2")).await;
    let caller = connect(&gw, agent("b")).await;
    for i in 0..VANISHING_CALLER {
        let mut r = request(&format!("b{i}"), "sv::web::2", "/work");
        r.timeout_ms = 60_000;
        caller.send_request(r).await;
    }
    let seen = Seen::read(&mut sv, VANISHING_CALLER).await;
    let wires: HashSet<_> = seen.requests.into_iter().collect();
    assert_eq!(wires.len(), VANISHING_CALLER);
    drop(caller);
    let seen = Seen::read(&mut sv, 2 * VANISHING_CALLER).await;
    seen.all_failed(VANISHING_CALLER, Kind::SidecarUnavailable);
    assert_eq!(seen.fins, wires);
    until(&gw, "pins of the vanished caller released", |s| {
        s.proxy_pins == 0
    })
    .await;

    // 3. Nobody sends the last chunk either way: the pins expire.
    let mut sv = connect(&gw, service("3")).await;
    let mut caller = connect(&gw, agent("c")).await;
    for i in 0..NO_FIN {
        let id = format!("c{i}");
        let mut r = request(&id, "sv::web::3", "/stream");
        r.body_chunked = true;
        caller.send_request(r).await;
        caller
            .send_chunk(chunk(&id, true, 0, b"start", false))
            .await;
    }
    // The target answers each with the start of a streamed response as it
    // reads it. Whichever comes first, each request ends with exactly one
    // TIMEOUT and its fin at both ends; an answer to a request that had
    // already expired is refused as unknown.
    let mut target = Seen::default();
    while !(target.requests.len() == NO_FIN
        && target.count(Kind::Timeout) == NO_FIN
        && target.fins.len() == NO_FIN)
    {
        let before = target.requests.len();
        target.take(sv.payload().await);
        if let Some(wire) = target.requests.get(before) {
            sv.send_response(response(wire, 200, b"", true)).await;
            sv.send_chunk(chunk(wire, false, 0, b"first", false)).await;
        }
    }
    // Every forwarded frame of a request precedes its TIMEOUT in the
    // caller's lane, so once the caller has every TIMEOUT it has every
    // header and chunk that went through; each of the others was refused.
    let mut called = Seen::default();
    while !(called.errors.len() == NO_FIN && called.fins.len() == NO_FIN) {
        called.take(caller.payload().await);
    }
    called.all_failed(NO_FIN, Kind::Timeout);
    let refusals = 2 * NO_FIN - called.headers - called.response_chunks;
    while target.count(Kind::SidecarUnavailable) < refusals {
        target.take(sv.payload().await);
    }
    assert_eq!(target.request_chunks, NO_FIN);
    assert_eq!(target.errors.len(), NO_FIN + refusals);
    // Per request: its header and chunk refused (it expired before the
    // answer), only its chunk, or neither.
    let mut refused: HashMap<&str, usize> = HashMap::new();
    for (id, k) in &target.errors {
        if *k == Kind::SidecarUnavailable {
            *refused.entry(id).or_default() += 1;
        }
    }
    assert!(refused.values().all(|n| *n <= 2));
    assert_eq!(
        refused.values().filter(|n| **n == 2).count(),
        NO_FIN - called.headers
    );
    assert_eq!(refused.len(), NO_FIN - called.response_chunks);
    assert!(sv.barrier().await.is_empty());
    assert!(caller.barrier().await.is_empty());
    let s = gw.stats();
    assert_eq!((s.proxy_pins, s.proxy_requests_active), (0, 0));
    assert_eq!(s.proxy_queued_bytes, 0, "every frame was delivered");
    gw.shutdown().await;
}
