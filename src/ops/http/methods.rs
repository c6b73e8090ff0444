//! `proxy_http`: an HTTP request over Aether, on every client.

use super::chunks::send_body;
use super::headers::Headers;
use super::incoming::ProxyErrorKind;
use super::options::ProxyOptions;
use super::request::ProxyRequest;
use super::response::{ProxyResponse, ResponseBody, Upload};
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::connection::Reply;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;

impl<P: PrincipalType> Client<P> {
    /// Sends an HTTP request to a topic over Aether and returns its
    /// response once the header arrives (within `opts.timeout`); the body
    /// streams as it comes ([`ResponseBody`]).
    ///
    /// A body over 256 KiB, or a streamed one, is sent in chunks after the
    /// header, paced by the connection. Proxy failures are typed: the
    /// error's [`code`](Error::code) names the proxy error kind
    /// (`SIDECAR_UNAVAILABLE` when no instance is connected, `ACL_DENIED`,
    /// `PAYLOAD_TOO_LARGE`, `UPSTREAM_RESET`, ...).
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use aether_client::proxy::{ProxyOptions, ProxyRequest};
    /// let req = ProxyRequest::new("sv::search", "GET", "/health")?;
    /// let resp = agent.proxy_http(req, &ProxyOptions::new()).await?;
    /// let status = resp.status;
    /// println!("{status} {:?}", resp.bytes().await?);
    /// # Ok(()) }
    /// ```
    pub async fn proxy_http(
        &self,
        req: ProxyRequest,
        opts: &ProxyOptions,
    ) -> Result<ProxyResponse> {
        req.headers_ref().check_count()?;
        let (op, body) = req.into_parts(opts);
        let chunked = body_is_chunked(&op);
        let Reply::Stream(mut stream) = self.call(op).await? else {
            return Err(Error::protocol("proxy_http: no response stream"));
        };
        let id = stream
            .id()
            .ok_or_else(|| Error::protocol("proxy_http: the request has no id"))?;
        let upload = if chunked {
            let client = self.erase();
            let id = id.clone();
            Some(tokio::spawn(async move {
                send_body(&client, &id, true, body).await
            }))
        } else {
            None
        };
        let mut upload = Upload(upload);
        let header = wait_header(&mut stream, &mut upload, opts).await?;
        let mut header = match header {
            Down::ProxyHttpResponse(r) => *r,
            other => return Err(Error::unexpected("proxy_http", &other)),
        };
        if let Some(e) = header.error.take() {
            return Err(Error::proxy(e.kind, &e.message));
        }
        if header.headers_skipped > 0 {
            let why = format!("the response has more than {} headers", Headers::MAX);
            return Err(Error::proxy(ProxyErrorKind::PayloadTooLarge.wire(), &why));
        }
        let status = u16::try_from(header.status_code)
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| {
                Error::protocol(format!("invalid HTTP status {}", header.status_code))
            })?;
        let headers = Headers::from_wire(std::mem::take(&mut header.headers), header.body.len());
        let body = ResponseBody::new(
            &mut header,
            stream,
            opts.max_response_bytes,
            opts.idle_timeout,
            upload,
        );
        Ok(ProxyResponse {
            status,
            headers,
            body,
        })
    }
}

fn body_is_chunked(op: &crate::connection::OpRequest) -> bool {
    matches!(
        op.payload(),
        crate::proto::upstream_message::Payload::ProxyHttpRequest(r) if r.body_chunked
    )
}

/// The first frame of the response, within the time to first byte; an
/// upload that fails first fails the request.
async fn wait_header(
    stream: &mut crate::connection::ReplyStream,
    upload: &mut Upload,
    opts: &ProxyOptions,
) -> Result<Down> {
    use futures_util::StreamExt;
    let first = async {
        loop {
            let uploading = async {
                match upload.0.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                frame = stream.next() => {
                    return match frame {
                        Some(frame) => frame,
                        None => Err(Error::connection_lost(true, "the response stream ended")),
                    };
                }
                done = uploading => {
                    upload.0 = None;
                    match done {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(join) => {
                            return Err(Error::new(ErrorKind::Closed, "the upload stopped").with_source(join));
                        }
                    }
                }
            }
        }
    };
    match opts.timeout {
        Some(t) => tokio::time::timeout(t, first).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("proxy_http: no response within {t:?}"),
            )
        })?,
        None => first.await,
    }
}
