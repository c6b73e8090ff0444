//! The gRPC route itself: `Connect` is the one method; the framing is
//! standard gRPC, so a stock tonic client (every other test here) and the
//! Python SDK's grpcio (tests/interop) both speak to it.

mod common;

use aether_protocol::codec::WireCodec;
use aether_protocol::proto::SwitchWorkspace;
use common::{channel, dev_gateway};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;

#[tokio::test]
async fn a_method_other_than_connect_is_unimplemented() {
    let gw = dev_gateway().await;
    let mut grpc = tonic::client::Grpc::new(channel(&gw.url()).await);
    grpc.ready().await.expect("ready");
    let status = grpc
        .unary(
            tonic::Request::new(SwitchWorkspace {
                new_workspace_id: "ws".into(),
            }),
            PathAndQuery::from_static("/aether.v1.AetherGateway/Other"),
            WireCodec::<SwitchWorkspace, SwitchWorkspace>::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(status.code(), Code::Unimplemented);
    gw.shutdown().await;
}
