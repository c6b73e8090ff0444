//! A local TCP port whose every connection is forwarded through a new
//! tunnel to a service principal: `ssh -L` over Aether.
//!
//! ```text
//! cargo run --example tunnel_client -- --gateway http://127.0.0.1:50051 --target sv::tcp::1 --listen 127.0.0.1:0
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` (the port it got when asked for 0);
//! runs until SIGINT or SIGTERM.

#[path = "support/signal.rs"]
mod signal;

use aether_client::AgentClient;
use aether_client::tunnel::TunnelOptions;
use clap::Parser;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    /// The gateway's URL.
    #[arg(long)]
    gateway: String,
    /// The service principal to tunnel to (`sv::IMPL::SPEC` or `sv::IMPL`).
    #[arg(long)]
    target: String,
    /// The local address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let instance = format!("tunnel-client-{}", std::process::id());
    let client = AgentClient::builder("default", "tunnel-client", &instance)?
        .gateway(&args.gateway)
        .build();
    client.connect().await?;
    let listener = TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let accept = async {
        loop {
            let (mut tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let client = client.clone();
            let target = args.target.clone();
            tokio::spawn(async move {
                let opts = TunnelOptions::new().remote_hint(peer.to_string());
                match client.tunnel_dial(&target, &opts).await {
                    Ok(mut tunnel) => {
                        if let Err(e) = tokio::io::copy_bidirectional(&mut tcp, &mut tunnel).await {
                            eprintln!("tunnel {} ended: {e}", tunnel.id());
                        }
                    }
                    Err(e) => eprintln!(
                        "cannot open a tunnel to {target}: {} ({e})",
                        e.code().unwrap_or("")
                    ),
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
