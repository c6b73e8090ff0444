//! Raw HTTP-proxy and tunnel helpers.

use std::time::Duration;

use aether_gateway::{GatewayStats, RunningGateway};
use aether_protocol::proto::{
    AclAuthorityGrantInfo, AuthorityGrantExchangeRequest, AuthorityGrantOperation, ProxyError,
    ProxyHttpBodyChunk, ProxyHttpRequest, ProxyHttpResponse, TunnelAck, TunnelClose, TunnelData,
    TunnelOpen, authority_grant_operation, downstream_message::Payload, proxy_error, tunnel_close,
    upstream_message::Payload as Up,
};
use bytes::Bytes;

use super::{Conn, GUARD, up};

pub use proxy_error::Kind;
pub use tunnel_close::Reason;

/// A request header.
pub fn request(id: &str, target: &str, path: &str) -> ProxyHttpRequest {
    ProxyHttpRequest {
        request_id: id.to_string(),
        target_topic: target.to_string(),
        method: "GET".to_string(),
        path: path.to_string(),
        ..Default::default()
    }
}

/// A body chunk.
pub fn chunk(id: &str, is_request: bool, seq: u32, data: &[u8], fin: bool) -> ProxyHttpBodyChunk {
    ProxyHttpBodyChunk {
        request_id: id.to_string(),
        is_request,
        seq,
        data: Bytes::copy_from_slice(data),
        fin,
    }
}

/// A response header with an inline body (or none when `chunked`).
pub fn response(id: &str, status: i32, body: &[u8], chunked: bool) -> ProxyHttpResponse {
    ProxyHttpResponse {
        request_id: id.to_string(),
        status_code: status,
        body: Bytes::copy_from_slice(body),
        body_chunked: chunked,
        ..Default::default()
    }
}

/// A tunnel open.
pub fn open(id: &str, target: &str) -> TunnelOpen {
    TunnelOpen {
        tunnel_id: id.to_string(),
        target_topic: target.to_string(),
        ..Default::default()
    }
}

/// Tunnel data.
pub fn data(id: &str, seq: u32, bytes: &[u8], fin: bool) -> TunnelData {
    TunnelData {
        tunnel_id: id.to_string(),
        seq,
        data: Bytes::copy_from_slice(bytes),
        fin,
    }
}

impl Conn {
    pub async fn send_request(&self, r: ProxyHttpRequest) {
        self.send(up(Up::ProxyHttpRequest(Box::new(r)))).await;
    }

    pub async fn send_chunk(&self, c: ProxyHttpBodyChunk) {
        self.send(up(Up::ProxyHttpBodyChunk(Box::new(c)))).await;
    }

    pub async fn send_response(&self, r: ProxyHttpResponse) {
        self.send(up(Up::ProxyHttpResponse(Box::new(r)))).await;
    }

    pub async fn send_open(&self, o: TunnelOpen) {
        self.send(up(Up::TunnelOpen(Box::new(o)))).await;
    }

    pub async fn send_data(&self, d: TunnelData) {
        self.send(up(Up::TunnelData(Box::new(d)))).await;
    }

    pub async fn send_ack(&self, id: &str, ack_seq: u32, credits: u32) {
        self.send(up(Up::TunnelAck(Box::new(TunnelAck {
            tunnel_id: id.to_string(),
            ack_seq,
            credits,
        }))))
        .await;
    }

    pub async fn send_close(&self, id: &str, reason: Reason, detail: &str) {
        self.send(up(Up::TunnelClose(Box::new(TunnelClose {
            tunnel_id: id.to_string(),
            reason: reason as i32,
            detail: detail.to_string(),
        }))))
        .await;
    }

    /// The next frame, which must be a forwarded request.
    pub async fn proxy_request(&mut self) -> ProxyHttpRequest {
        match self.payload().await {
            Payload::ProxyHttpRequest(r) => *r,
            other => panic!("expected a proxy request, got {other:?}"),
        }
    }

    /// The next frame, which must be a response.
    pub async fn proxy_response(&mut self) -> ProxyHttpResponse {
        match self.payload().await {
            Payload::ProxyHttpResponse(r) => *r,
            other => panic!("expected a proxy response, got {other:?}"),
        }
    }

    /// The next frame, which must be a body chunk.
    pub async fn proxy_chunk(&mut self) -> ProxyHttpBodyChunk {
        match self.payload().await {
            Payload::ProxyHttpBodyChunk(c) => *c,
            other => panic!("expected a body chunk, got {other:?}"),
        }
    }

    /// The next frame, which must be tunnel data.
    pub async fn tunnel_data(&mut self) -> TunnelData {
        match self.payload().await {
            Payload::TunnelData(d) => *d,
            other => panic!("expected tunnel data, got {other:?}"),
        }
    }

    /// The next frame, which must be a tunnel open (seq-0 data carrying it).
    pub async fn tunnel_open(&mut self) -> (String, TunnelOpen) {
        use prost::Message;
        let d = self.tunnel_data().await;
        assert_eq!(d.seq, 0, "the open is seq 0");
        let open = TunnelOpen::decode(d.data).expect("a serialized TunnelOpen");
        assert_eq!(open.tunnel_id, d.tunnel_id);
        (d.tunnel_id, open)
    }

    /// The next frame, which must be a tunnel ack.
    pub async fn tunnel_ack(&mut self) -> TunnelAck {
        match self.payload().await {
            Payload::TunnelAck(a) => *a,
            other => panic!("expected a tunnel ack, got {other:?}"),
        }
    }

    /// The next frame, which must be a tunnel close.
    pub async fn tunnel_close(&mut self) -> TunnelClose {
        match self.payload().await {
            Payload::TunnelClose(c) => *c,
            other => panic!("expected a tunnel close, got {other:?}"),
        }
    }

    /// The next two frames: an error response then the closing chunk, both
    /// for `id`; returns the error.
    pub async fn proxy_failure(&mut self, id: &str) -> ProxyError {
        let r = self.proxy_response().await;
        assert_eq!(r.request_id, id);
        let e = r.error.expect("an error response");
        let fin = self.proxy_chunk().await;
        assert_eq!(fin.request_id, id);
        assert!(fin.fin && !fin.is_request && fin.data.is_empty());
        e
    }

    /// The next frame, which must be an error response for `id`.
    pub async fn proxy_refusal(&mut self, id: &str) -> ProxyError {
        let r = self.proxy_response().await;
        assert_eq!(r.request_id, id);
        r.error.expect("an error response")
    }
}

/// The kind of a proxy error.
pub fn kind(e: &ProxyError) -> Kind {
    Kind::try_from(e.kind).expect("a known kind")
}

/// The reason of a tunnel close.
pub fn reason(c: &TunnelClose) -> Reason {
    Reason::try_from(c.reason).expect("a known reason")
}

/// The headers as a sorted list, to compare whole maps.
pub fn sorted<'a>(
    headers: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<(String, String)> {
    let mut v: Vec<_> = headers
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.sort();
    v
}

/// Waits until `pred` holds for the gateway's counters.
pub async fn until(gw: &RunningGateway, what: &str, pred: impl Fn(&GatewayStats) -> bool) {
    let waited = tokio::time::timeout(GUARD, async {
        loop {
            if pred(&gw.stats()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    if waited.is_err() {
        panic!("{what}: {:?}", gw.stats());
    }
}

/// `lender` lends its rights to `audience_id` (an agent topic) over its raw
/// connection; the grant it got.
pub async fn lend_rights(lender: &mut Conn, audience_id: &str) -> AclAuthorityGrantInfo {
    lender
        .send(up(Up::AuthorityGrantOp(Box::new(
            AuthorityGrantOperation {
                op: authority_grant_operation::OpType::Exchange as i32,
                request_id: "x".into(),
                exchange_request: Some(AuthorityGrantExchangeRequest {
                    audience_type: "agent".into(),
                    audience_id: audience_id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))))
        .await;
    loop {
        if let Payload::AuthorityGrant(g) = lender.payload().await {
            assert!(g.success, "{}", g.error);
            assert_eq!(g.request_id, "x");
            if let Some(grant) = g.grant {
                return grant;
            }
            panic!("an exchange answered without a grant");
        }
    }
}
