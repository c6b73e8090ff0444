//! Generates the tonic client stub (`aether_gateway_client`) for the Aether
//! v1 `AetherGateway` service with a vendored protoc, so a fresh machine
//! needs no system protoc. The message types are not generated here: they
//! come from the `aether-protocol` crate (`extern_path`), which compiled the
//! same `.proto` files and tells this script where they are
//! (`DEP_AETHER_PROTOCOL_PROTO_DIR`). No server stub is generated (the
//! embedded gateway generates its own), and no transport constructors: the
//! protocol's single RPC is named `Connect`, which would clash with the
//! generated `connect()` constructor.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("DEP_AETHER_PROTOCOL_PROTO_DIR")?);
    let proto = dir.join("aether/v1/aether.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_transport(false)
        .build_client(true)
        .codec_path("::aether_protocol::codec::WireCodec")
        .build_server(false)
        .extern_path(".aether.v1", "::aether_protocol::proto")
        .compile_with_config(config, &[proto], &[dir])?;
    Ok(())
}
