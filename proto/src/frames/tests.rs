use std::convert::Infallible;

use futures_util::stream;
use http::StatusCode;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use prost::Message;
use prost::bytes::{BufMut, Bytes, BytesMut};
use tonic::{Code, Status};

use super::{FrameBody, FrameStream};
use crate::proto::downstream_message::Payload;
use crate::proto::{DownstreamMessage, SwitchWorkspace, TunnelData};

const MAX: usize = 1024 * 1024;

fn tunnel_data(data: Bytes) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(Payload::TunnelData(Box::new(TunnelData {
            tunnel_id: "t-1".into(),
            seq: 3,
            data,
            fin: true,
        }))),
        active_extensions: Vec::new(),
    }
}

fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn data_of(m: &DownstreamMessage) -> &Bytes {
    match &m.payload {
        Some(Payload::TunnelData(d)) => &d.data,
        other => panic!("not tunnel data: {other:?}"),
    }
}

/// Every frame of a body, in order.
async fn frames_of<B: http_body::Body<Data = Bytes>>(body: B) -> Vec<Frame<Bytes>>
where
    B::Error: std::fmt::Debug,
{
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        out.push(frame.expect("a frame"));
    }
    out
}

/// The data of `frames` cut into pieces of `cut` bytes (across frame
/// boundaries, as a network may), then their trailers.
fn recut(
    frames: Vec<Frame<Bytes>>,
    cut: usize,
) -> impl http_body::Body<Data = Bytes, Error = Infallible> {
    let mut all = BytesMut::new();
    let mut trailers = None;
    for frame in frames {
        match frame.into_data() {
            Ok(data) => all.put(data),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let mut all = all.freeze();
    let mut pieces = Vec::new();
    while !all.is_empty() {
        pieces.push(Frame::data(all.split_to(cut.min(all.len()))));
    }
    pieces.extend(trailers.map(Frame::trailers));
    StreamBody::new(stream::iter(pieces.into_iter().map(Ok::<_, Infallible>)))
}

fn sent(
    messages: Vec<DownstreamMessage>,
) -> FrameBody<impl futures_util::Stream<Item = Result<DownstreamMessage, Status>>> {
    FrameBody::response(stream::iter(messages.into_iter().map(Ok)), MAX)
}

#[tokio::test]
async fn frames_survive_any_cut_of_the_body_in_order() {
    let big = pattern(300 * 1024);
    let messages = vec![
        tunnel_data(pattern(10)),
        tunnel_data(big.clone()),
        tunnel_data(Bytes::new()),
        tunnel_data(pattern(20 * 1024)),
    ];
    let frames = frames_of(sent(messages.clone())).await;
    for cut in [1, 2, 3, 5, 7, 4096, 65_536, 1 << 30] {
        let mut stream = FrameStream::<DownstreamMessage>::response(
            recut_clone(&frames, cut),
            StatusCode::OK,
            MAX,
        );
        for want in &messages {
            assert_eq!(
                stream.message().await.expect("decodes").as_ref(),
                Some(want),
                "cut {cut}"
            );
        }
        assert_eq!(
            stream.message().await.expect("clean end"),
            None,
            "cut {cut}"
        );
    }
}

fn recut_clone(
    frames: &[Frame<Bytes>],
    cut: usize,
) -> impl http_body::Body<Data = Bytes, Error = Infallible> + use<> {
    let copy = frames
        .iter()
        .map(|f| match f.data_ref() {
            Some(d) => Frame::data(d.clone()),
            None => Frame::trailers(f.trailers_ref().cloned().unwrap_or_default()),
        })
        .collect();
    recut(copy, cut)
}

#[tokio::test]
async fn a_large_bytes_field_is_sent_and_received_without_a_copy() {
    let big = pattern(256 * 1024);
    let frames = frames_of(sent(vec![tunnel_data(big.clone())])).await;
    // The encoder sends the field as the very Bytes the message held.
    assert!(
        frames.iter().any(|f| f
            .data_ref()
            .is_some_and(|d| d.as_ptr() == big.as_ptr() && d.len() == big.len())),
        "the body carries the field's own buffer"
    );
    // The decoder hands back a slice of the chunk it arrived in.
    let chunks: Vec<Bytes> = frames
        .iter()
        .filter_map(|f| f.data_ref().cloned())
        .collect();
    let received = chunks
        .iter()
        .find(|d| d.len() == big.len())
        .expect("the field's chunk")
        .clone();
    let body = StreamBody::new(stream::iter(frames.into_iter().map(Ok::<_, Infallible>)));
    let got = FrameStream::<DownstreamMessage>::response(body, StatusCode::OK, MAX)
        .message()
        .await
        .expect("decodes")
        .expect("a message");
    assert_eq!(data_of(&got).as_ptr(), received.as_ptr());
    assert_eq!(data_of(&got), &big);
}

#[tokio::test]
async fn small_frames_are_batched_into_one_chunk() {
    let switch = |i: usize| SwitchWorkspace {
        new_workspace_id: format!("ws-{i}"),
    };
    let body = FrameBody::response(stream::iter((0..50).map(|i| Ok(switch(i)))), MAX);
    let frames = frames_of(body).await;
    let data = frames.iter().filter(|f| f.is_data()).count();
    assert!(data < 5, "{data} data chunks for 50 small frames");
    let trailers = frames
        .last()
        .and_then(|f| f.trailers_ref())
        .expect("trailers last");
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
}

#[tokio::test]
async fn a_response_ends_with_its_sources_error_as_status() {
    let items = vec![
        Ok(tunnel_data(pattern(5))),
        Err(Status::unavailable("server shutting down")),
    ];
    let body = FrameBody::response(stream::iter(items), MAX);
    let mut stream = FrameStream::<DownstreamMessage>::response(body, StatusCode::OK, MAX);
    assert!(stream.message().await.expect("the first frame").is_some());
    let status = stream.message().await.expect_err("the status");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "server shutting down");
    assert_eq!(stream.message().await.expect("then the end"), None);
}

#[tokio::test]
async fn an_oversized_frame_is_refused_on_both_sides() {
    // Sending: the response ends with OUT_OF_RANGE, the frame unsent.
    let body = FrameBody::response(stream::iter([Ok(tunnel_data(pattern(2000)))]), 1000);
    let frames = frames_of(body).await;
    assert!(frames.iter().all(|f| !f.is_data()));
    let trailers = frames[0].trailers_ref().expect("trailers");
    assert_eq!(
        Status::from_header_map(trailers).map(|s| s.code()),
        Some(Code::OutOfRange)
    );
    // Receiving: refused from the header, before the body is buffered.
    let frames = frames_of(sent(vec![tunnel_data(pattern(2000))])).await;
    let mut stream =
        FrameStream::<DownstreamMessage>::response(recut(frames, 5), StatusCode::OK, 1000);
    let status = stream.message().await.expect_err("refused");
    assert_eq!(status.code(), Code::OutOfRange);
    assert_eq!(stream.message().await.expect("then the end"), None);
}

#[tokio::test]
async fn a_request_body_ends_without_trailers_and_reads_to_its_end() {
    let body = FrameBody::request(stream::iter([Ok(tunnel_data(pattern(3)))]), MAX);
    let frames = frames_of(body).await;
    assert!(frames.iter().all(|f| f.is_data()));
    let mut stream = FrameStream::<DownstreamMessage>::request(recut(frames, 2), MAX);
    assert!(stream.message().await.expect("decodes").is_some());
    assert_eq!(stream.message().await.expect("clean end"), None);
}

#[tokio::test]
async fn a_truncated_or_malformed_body_is_internal() {
    let frames = frames_of(sent(vec![tunnel_data(pattern(100))])).await;
    let data = frames[0].data_ref().expect("data").clone();
    // Cut short: the header promises more than comes.
    let short = StreamBody::new(stream::iter([Ok::<_, Infallible>(Frame::data(
        data.slice(..50),
    ))]));
    let status = FrameStream::<DownstreamMessage>::request(short, MAX)
        .message()
        .await
        .expect_err("truncated");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Internal, "Unexpected EOF decoding stream.")
    );
    // A compressed frame with no grpc-encoding.
    let mut compressed = BytesMut::from(&data[..]);
    compressed[0] = 1;
    let body = StreamBody::new(stream::iter([Ok::<_, Infallible>(Frame::data(
        compressed.freeze(),
    ))]));
    let status = FrameStream::<DownstreamMessage>::request(body, MAX)
        .message()
        .await
        .expect_err("compressed");
    assert_eq!(status.code(), Code::Internal);
    // A frame that is not the message it claims to be.
    let garbage = Bytes::from_static(&[0, 0, 0, 0, 3, 0x0a, 100, 1]);
    let body = StreamBody::new(stream::iter([Ok::<_, Infallible>(Frame::data(garbage))]));
    let status = FrameStream::<DownstreamMessage>::request(body, MAX)
        .message()
        .await
        .expect_err("undecodable");
    assert_eq!(status.code(), Code::Internal);
}

#[tokio::test]
async fn a_response_without_its_status_is_an_error() {
    let frames = frames_of(FrameBody::request(
        stream::iter([Ok(tunnel_data(pattern(3)))]),
        MAX,
    ))
    .await;
    let mut stream =
        FrameStream::<DownstreamMessage>::response(recut(frames, 7), StatusCode::OK, MAX);
    assert!(stream.message().await.expect("decodes").is_some());
    assert_eq!(
        stream.message().await.expect_err("no trailers").code(),
        Code::Unknown
    );
    let empty = StreamBody::new(stream::iter(Vec::<Result<Frame<Bytes>, Infallible>>::new()));
    let status =
        FrameStream::<DownstreamMessage>::response(empty, StatusCode::SERVICE_UNAVAILABLE, MAX)
            .message()
            .await
            .expect_err("mapped from HTTP");
    assert_eq!(status.code(), Code::Unavailable);
}

#[test]
fn encoded_frames_are_what_prost_and_grpc_say() {
    let m = tunnel_data(pattern(40 * 1024));
    let frames = tokio_test::block_on(frames_of(sent(vec![m.clone()])));
    let mut wire = BytesMut::new();
    for f in &frames {
        if let Some(d) = f.data_ref() {
            wire.put(d.clone());
        }
    }
    let encoded = m.encode_to_vec();
    assert_eq!(wire[0], 0);
    assert_eq!(
        u32::from_be_bytes([wire[1], wire[2], wire[3], wire[4]]) as usize,
        encoded.len()
    );
    assert_eq!(&wire[5..], &encoded[..]);
}

#[tokio::test]
async fn a_frame_sent_a_byte_at_a_time_decodes() {
    let big = pattern(100 * 1024);
    let frames = frames_of(sent(vec![tunnel_data(big.clone())])).await;
    let mut stream =
        FrameStream::<DownstreamMessage>::response(recut(frames, 1), StatusCode::OK, MAX);
    let got = stream.message().await.expect("decodes").expect("a message");
    assert_eq!(data_of(&got), &big);
}

#[tokio::test]
async fn frames_before_an_oversized_one_are_still_delivered() {
    let items = [Ok(tunnel_data(pattern(10))), Ok(tunnel_data(pattern(5000)))];
    let body = FrameBody::response(stream::iter(items), 1000);
    let mut stream = FrameStream::<DownstreamMessage>::response(body, StatusCode::OK, MAX);
    let first = stream
        .message()
        .await
        .expect("the small frame")
        .expect("a message");
    assert_eq!(data_of(&first), &pattern(10));
    assert_eq!(
        stream.message().await.expect_err("then the refusal").code(),
        Code::OutOfRange
    );
}

fn incoming(payload: Bytes) -> crate::shared::SharedIncoming {
    crate::shared::SharedIncoming {
        source_topic: "ag::ws::sender::1".into(),
        payload,
        message_type: 2,
        workspace: "ws".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn downstream_frames_are_the_bytes_of_their_prost_twins_under_any_cut() {
    use super::Downstream;
    let with_extension = DownstreamMessage {
        active_extensions: vec!["x".into()],
        ..DownstreamMessage::from(Downstream::Message(incoming(pattern(3))))
    };
    let items = vec![
        Downstream::Message(incoming(pattern(10))),
        Downstream::Frame(tunnel_data(pattern(5))),
        Downstream::Message(incoming(pattern(200 * 1024))),
        Downstream::Frame(with_extension.clone()),
        Downstream::Message(incoming(Bytes::new())),
    ];
    let ours = frames_of(FrameBody::response(
        stream::iter(items.clone().into_iter().map(Ok::<_, Status>)),
        MAX,
    ))
    .await;
    let twins = frames_of(sent(items.iter().cloned().map(Into::into).collect())).await;
    let bytes = |frames: &[Frame<Bytes>]| -> Vec<u8> {
        frames
            .iter()
            .filter_map(|f| f.data_ref())
            .flat_map(|d| d.iter().copied())
            .collect()
    };
    assert_eq!(bytes(&ours), bytes(&twins), "the same wire bytes");
    for cut in [1, 3, 7, 4096, 1 << 30] {
        let mut stream =
            FrameStream::<Downstream>::response(recut_clone(&ours, cut), StatusCode::OK, MAX);
        for want in &items {
            let got = stream.message().await.expect("decodes");
            assert_eq!(got.as_ref(), Some(want), "cut {cut}");
        }
        assert_eq!(stream.message().await.expect("clean end"), None);
    }
    // A message frame with more than its `msg` is read as the frame it is.
    assert!(matches!(
        FrameStream::<Downstream>::response(sent(vec![with_extension]), StatusCode::OK, MAX)
            .message()
            .await,
        Ok(Some(Downstream::Frame(f))) if f.active_extensions == ["x"]
    ));
}

#[tokio::test]
async fn upstream_sends_are_read_zero_copy_under_any_cut() {
    use super::Upstream;
    use crate::proto::upstream_message::Payload as Up;
    use crate::proto::{SendMessage, UpstreamMessage};
    let send = |payload: Bytes| UpstreamMessage {
        payload: Some(Up::Send(Box::new(SendMessage {
            target_topic: "ag::ws::receiver::1".into(),
            payload,
            message_type: 2,
            ..Default::default()
        }))),
        active_extensions: Vec::new(),
    };
    let switch = UpstreamMessage {
        payload: Some(Up::SwitchWorkspace(Box::new(SwitchWorkspace {
            new_workspace_id: "w".into(),
        }))),
        active_extensions: Vec::new(),
    };
    let with_extension = UpstreamMessage {
        active_extensions: vec!["x".into()],
        ..send(pattern(4))
    };
    let items = vec![
        send(pattern(10)),
        switch,
        send(pattern(100 * 1024)),
        with_extension,
    ];
    let frames = frames_of(FrameBody::request(
        stream::iter(items.clone().into_iter().map(Ok::<_, Status>)),
        MAX,
    ))
    .await;
    for cut in [1, 3, 4096, 1 << 30] {
        let mut stream = FrameStream::<Upstream>::request(recut_clone(&frames, cut), MAX);
        let mut kinds = Vec::new();
        for want in &items {
            let got = stream.message().await.expect("decodes").expect("a frame");
            kinds.push(matches!(got, Upstream::Send(_)));
            assert_eq!(&UpstreamMessage::from(got), want, "cut {cut}");
        }
        assert_eq!(kinds, [true, false, true, false], "cut {cut}");
        assert_eq!(stream.message().await.expect("clean end"), None);
    }
}
