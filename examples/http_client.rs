//! curl over Aether, built on the reqwest middleware: `aether+sv://` URLs
//! go through the gateway, any other URL to the network.
//!
//! ```text
//! cargo run --features reqwest --example http_client -- --gateway http://127.0.0.1:50051 \
//!     [-X METHOD] [-H 'Name: value']... [-d DATA | --data-file PATH] [-i] [--timeout SECS] \
//!     aether+sv://web--1/hello
//! ```
//!
//! Prints the body (with `-i`, first `HTTP <status>`, the headers, an
//! empty line). Exits 0 when a response arrived, 1 on a transport or proxy
//! error, whose kind (e.g. `SIDECAR_UNAVAILABLE`) goes to stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use aether_client::AgentClient;
use aether_client::http::AetherMiddleware;
use clap::Parser;
use futures_util::StreamExt;

#[derive(Parser)]
struct Args {
    /// The gateway's URL.
    #[arg(long)]
    gateway: String,
    /// The method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    method: String,
    /// A header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The request body.
    #[arg(short = 'd', long = "data", conflicts_with = "data_file")]
    data: Option<String>,
    /// The request body, from a file.
    #[arg(long = "data-file")]
    data_file: Option<std::path::PathBuf>,
    /// Print the status and headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Time to the response header, in seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// The URL (`aether+sv://IMPL--SPEC/PATH` or `aether+sv://IMPL/PATH`).
    url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let instance = format!("http-client-{}", std::process::id());
    let agent = AgentClient::builder("default", "http-client", &instance)
        .map_err(|e| e.to_string())?
        .gateway(&args.gateway)
        .build();
    agent.connect().await.map_err(|e| describe(&e))?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AetherMiddleware::new(&agent))
        .build();
    let method = reqwest::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid method {:?}", args.method))?;
    let mut request = http.request(method, &args.url);
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("a header is 'Name: value', not {header:?}"))?;
        request = request.header(name.trim(), value.trim());
    }
    if let Some(data) = args.data {
        request = request.body(data);
    } else if let Some(path) = &args.data_file {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stream = tokio_util::io::ReaderStream::new(file);
        request = request.body(reqwest::Body::wrap_stream(stream));
    }
    if let Some(secs) = args.timeout {
        request = request.timeout(Duration::from_secs_f64(secs));
    }
    let response = request.send().await.map_err(|e| describe(&e))?;
    let mut out = std::io::stdout().lock();
    if args.include {
        let _ = writeln!(out, "HTTP {}", response.status().as_u16());
        for (name, value) in response.headers() {
            let _ = writeln!(
                out,
                "{}: {}",
                name,
                String::from_utf8_lossy(value.as_bytes())
            );
        }
        let _ = writeln!(out);
    }
    drop(out);
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| describe(&e))?;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&piece);
        let _ = out.flush();
    }
    Ok(())
}

/// An error with its Aether kind first: the proxy error code when there is
/// one (`SIDECAR_UNAVAILABLE`, `TIMEOUT`, ...), else the error kind.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(aether) = c.downcast_ref::<aether_client::Error>() {
            let kind = aether
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:?}", aether.kind()));
            return format!("{kind}: {aether}");
        }
        if let Some(reqwest_middleware::Error::Middleware(inner)) =
            c.downcast_ref::<reqwest_middleware::Error>()
            && let Some(aether) = inner.downcast_ref::<aether_client::Error>()
        {
            return describe(aether);
        }
        cause = c.source();
    }
    format!("ERROR: {e}")
}
