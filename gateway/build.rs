//! Generates the tonic server stub (`aether_gateway_server`) for the Aether
//! v1 `AetherGateway` service with a vendored protoc, so a fresh machine
//! needs no system protoc. The message types are not generated here: they
//! come from the `aether-protocol` crate (`extern_path`), which compiled the
//! same `.proto` files and tells this script where they are
//! (`DEP_AETHER_PROTOCOL_PROTO_DIR`). No client stub is generated (the SDK
//! has it).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("DEP_AETHER_PROTOCOL_PROTO_DIR")?);
    let proto = dir.join("aether/v1/aether.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_transport(false)
        .build_client(false)
        .build_server(true)
        .extern_path(".aether.v1", "::aether_protocol::proto")
        .codec_path("::aether_protocol::codec::WireCodec")
        .compile_with_config(config, &[proto], &[dir])?;
    Ok(())
}
