//! Compiles the Aether v1 protocol with a vendored protoc, so a fresh machine
//! needs no system protoc. Transport constructors are not generated: the
//! protocol's single RPC is named `Connect`, which would clash with the
//! generated `connect()` constructor.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/aether/v1/aether.proto",
        "proto/aether/v1/sandbox_relay_tunnel.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.bytes(["."]);
    tonic_prost_build::configure()
        .build_transport(false)
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &protos, &["proto"])?;
    Ok(())
}
