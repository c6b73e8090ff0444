//! A service principal that forwards every tunnel opened to it to a TCP
//! address: a TCP server reachable through Aether.
//!
//! ```text
//! cargo run --example tunnel_service -- --gateway http://127.0.0.1:50051 [--implementation tcp] [--specifier 1] --forward 127.0.0.1:5432
//! ```
//!
//! Prints `serving sv::IMPL::SPEC` once it accepts tunnels; runs until
//! SIGINT or SIGTERM.

#[path = "support/signal.rs"]
mod signal;

use aether_client::ServiceClient;
use clap::Parser;
use futures_util::StreamExt;
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// The gateway's URL.
    #[arg(long)]
    gateway: String,
    /// The service's implementation name.
    #[arg(long, default_value = "tcp")]
    implementation: String,
    /// The instance's specifier.
    #[arg(long, default_value = "1")]
    specifier: String,
    /// Where each tunnel is connected (HOST:PORT).
    #[arg(long)]
    forward: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = ServiceClient::builder(&args.implementation, &args.specifier)?
        .gateway(&args.gateway)
        .build();
    // Listen before connecting, so that no tunnel is missed.
    let mut tunnels = client.tunnel_listener();
    client.connect().await?;
    println!("serving sv::{}::{}", args.implementation, args.specifier);
    let forward = args.forward.clone();
    let accept = async move {
        while let Some(incoming) = tunnels.next().await {
            let forward = forward.clone();
            tokio::spawn(async move {
                let mut tunnel = incoming.tunnel;
                match TcpStream::connect(&forward).await {
                    Ok(mut tcp) => {
                        let _ = tcp.set_nodelay(true);
                        if let Err(e) = tokio::io::copy_bidirectional(&mut tunnel, &mut tcp).await {
                            eprintln!("tunnel {} ended: {e}", tunnel.id());
                        }
                    }
                    Err(e) => {
                        eprintln!("cannot reach {forward}: {e}");
                        // Dropping the tunnel closes it.
                    }
                }
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = signal::shutdown_signal() => {}
    }
    client.close().await;
    Ok(())
}
