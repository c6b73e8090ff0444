//! Tunnels: byte streams between two principals through the gateway
//! ([`Tunnel`], tokio `AsyncRead` + `AsyncWrite`), dialled with
//! `tunnel_dial` and accepted with a [`TunnelListener`]. Flow control is
//! end to end and compatible with the reference SDK (1 MiB of credits,
//! 256 KiB frames, credits granted back after 256 KiB read).

mod dial;
mod listener;
mod options;
mod staging;
mod stream;

pub use listener::{IncomingTunnel, TunnelListener};
pub use options::{ACK_THRESHOLD, FRAME_BYTES, INITIAL_CREDITS, TunnelOptions, TunnelProtocol};
pub use stream::Tunnel;
