//! Before authentication nothing is free: the first frame is held to the
//! handshake limit before it is buffered, a connection that completes no
//! session handshake in time is closed (whatever it did or did not send),
//! the connection limit closes connections beyond it, and `accept` errors
//! such as running out of file descriptors back off instead of spinning.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::InitConnection;
use common::{Conn, GUARD, init};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until the peer closes `tcp` (EOF or a reset): the event of the
/// gateway giving up on it.
async fn closed_by_peer(tcp: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(GUARD, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .expect("the gateway closes the connection in time");
}

#[tokio::test]
async fn a_first_frame_above_the_handshake_limit_is_refused() {
    let gw = aether_gateway::start(
        GatewayConfig::dev().with_limits(Limits::default().with_max_handshake_bytes(16 * 1024)),
    )
    .await
    .unwrap();
    let mut p = init(&Principal::agent("w", "i", "big").unwrap());
    p.credentials = HashMap::from([("api_key".into(), "k".repeat(64 * 1024))]);
    let mut c = Conn::open(&gw.url(), p).await;
    let status = c.status().await;
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("limit before authentication"),
        "{status:?}"
    );
    assert_eq!(gw.stats().sessions_total, 0);
    // An ordinary handshake is fine.
    Conn::connect(&gw.url(), &Principal::agent("w", "i", "ok").unwrap()).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn connections_that_complete_no_handshake_in_time_are_closed() {
    let limits = Limits::default().with_handshake_timeout(Duration::from_millis(300));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let addr = gw.local_addr();
    // An admitted session on its own connection.
    let (mut agent, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;

    // Silent: not even the HTTP/2 preface.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Half a preface.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    // HTTP/2 and a stream, but no InitConnection.
    let mut mute = Conn::open_raw(common::channel(&gw.url()).await).await;
    // HTTP/2, a stream and a refused InitConnection.
    let mut refused = Conn::open(
        &gw.url(),
        InitConnection {
            client_type: None,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(refused.status().await.code(), tonic::Code::InvalidArgument);

    let started = Instant::now();
    closed_by_peer(&mut silent).await;
    closed_by_peer(&mut half).await;
    assert!(started.elapsed() < GUARD);
    assert!(
        mute.next().await.is_err(),
        "the mute stream's connection is gone"
    );
    // All four, the refused one's included, were closed by the deadline.
    tokio::time::timeout(GUARD, async {
        while gw.stats().connections_timed_out < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{:?}", gw.stats()));

    // The admitted session outlived the deadline, untouched.
    assert!(agent.barrier().await.is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let limits = Limits::default().with_max_connections(2);
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let url = gw.url();
    let (a, _) = Conn::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let (mut b, _) = Conn::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let mut third = TcpStream::connect(gw.local_addr()).await.unwrap();
    closed_by_peer(&mut third).await;
    assert_eq!(gw.stats().connections_refused, 1);
    assert_eq!(gw.stats().connections_open, 2);
    assert!(b.barrier().await.is_empty(), "the others are untouched");

    // Room again once one leaves.
    drop(a);
    tokio::time::timeout(GUARD, async {
        while gw.stats().connections_open > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection closes");
    Conn::connect(&url, &Principal::agent("w", "i", "c").unwrap()).await;
    gw.shutdown().await;
}

/// CPU time (user + system) of process `pid`, from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 (1-based), in clock ticks (100 per second).
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn running_out_of_file_descriptors_backs_off_instead_of_spinning() {
    // A gateway process with room for about 30 connections, whose idle
    // connections are not timed out during the test.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 48 && exec \"$0\" --port 0 --dev --handshake-timeout 120",
            env!("CARGO_BIN_EXE_aether-gateway"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let addr = addr
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    // Tell when the gateway reports the first accept failure.
    let stderr = child.stderr.take().unwrap();
    let (backing_off, mut backed_off) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("accept failed; backing off") {
                let _ = backing_off.send(());
            }
        }
    });

    // Exhaust its descriptors with idle connections (they stay in the
    // backlog once it cannot accept any more).
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::timeout(GUARD, backed_off.recv())
        .await
        .expect("the gateway reports the accept failure")
        .unwrap();
    // While it cannot accept, it must not spin: under 20% of a core.
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy = cpu_time(pid).saturating_sub(cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    assert!(
        busy < 0.2,
        "the accept loop spins: {:.0}% of a core",
        busy * 100.0
    );

    // Descriptors come back when the idle clients leave; it serves again.
    drop(idle);
    let (mut c, _) = Conn::connect(
        &format!("http://{addr}"),
        &Principal::agent("w", "i", "after").unwrap(),
    )
    .await;
    assert!(c.barrier().await.is_empty());
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
}
