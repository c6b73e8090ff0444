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
    tonic_prost_build::configure()
        .build_transport(false)
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &protos, &["proto"])?;
    Ok(())
}
