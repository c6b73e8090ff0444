//! Compiles the Aether v1 protocol's messages with a vendored protoc, so a
//! fresh machine needs no system protoc. Only prost message types are
//! generated: no tonic client or server stubs (the SDK generates the client
//! stub, the gateway the server stub, both against these types).
//!
//! The directory holding `aether/v1/*.proto` is published to dependents'
//! build scripts as `DEP_AETHER_PROTOCOL_PROTO_DIR`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let protos = [
        dir.join("aether/v1/aether.proto"),
        dir.join("aether/v1/sandbox_relay_tunnel.proto"),
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo::metadata=proto_dir={}", dir.display());

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.bytes(["."]);
    // The upstream and downstream oneofs are as large as their largest
    // variant (over a kilobyte); boxing every variant keeps the frames that
    // move through channels and futures pointer-sized.
    config.boxed(".aether.v1.UpstreamMessage.payload");
    config.boxed(".aether.v1.DownstreamMessage.payload");
    // The hot messages stay small too: their rarely-set authority fields
    // are boxed.
    for field in [
        ".aether.v1.SendMessage.authorization",
        ".aether.v1.SendMessage.checked_access",
        ".aether.v1.SendMessage.authority_continuation",
        ".aether.v1.IncomingMessage.on_behalf_subject",
        ".aether.v1.IncomingMessage.access_receipt",
        ".aether.v1.IncomingMessage.forwarded_authorization",
    ] {
        config.boxed(field);
    }
    // The HTTP request and response are written by hand
    // (`src/shared/http.rs`): the same fields, with their header maps as
    // lists of shared strings, decoded without a copy per entry.
    config.extern_path(
        ".aether.v1.ProxyHttpRequest",
        "crate::shared::ProxyHttpRequest",
    );
    config.extern_path(
        ".aether.v1.ProxyHttpResponse",
        "crate::shared::ProxyHttpResponse",
    );
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .build_transport(false)
        .compile_with_config(config, &protos, &[dir])?;
    Ok(())
}
