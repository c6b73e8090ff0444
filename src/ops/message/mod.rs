//! Messages: build one ([`OutgoingMessage`]) and send it with the send
//! method of its target kind, on the clients whose principal may reach it
//! (see [`principal`](crate::principal)).

mod outgoing;
mod send;

pub use outgoing::OutgoingMessage;
