//! Where `AsyncWrite` copies a tunnel's outgoing bytes: a few frame-sized
//! buffers reused once every frame cut from them has been written out.
//!
//! `poll_write` borrows the caller's bytes, so they must be copied into a
//! frame. A fresh allocation per frame costs more than the copy: a 256 KiB
//! block freed by the connection's writer leaves glibc's heap top over its
//! trim threshold, so each new frame buffer is faulted in again page by
//! page. The credits a tunnel may have in flight (1 MiB) fill at most
//! [`BUFFERS`] frame buffers, and a writer waiting for credits has seen its
//! oldest frames written, so the buffers come back for reuse.

use bytes::{Bytes, BytesMut};

use super::options::{FRAME_BYTES, INITIAL_CREDITS};

/// How many frame buffers a tunnel keeps: its initial credits in frames.
const BUFFERS: usize = INITIAL_CREDITS as usize / FRAME_BYTES;

/// The frame buffers of one tunnel's writing half.
#[derive(Debug, Default)]
pub(super) struct Staging {
    buffers: Vec<BytesMut>,
}

impl Staging {
    /// `data` (at most [`FRAME_BYTES`]) copied into a frame.
    ///
    /// It goes into the first buffer with room, or whose frames are all
    /// gone; else into a new buffer while fewer than [`BUFFERS`] exist;
    /// else into an allocation of its own.
    pub(super) fn copy(&mut self, data: &[u8]) -> Bytes {
        let reusable = self
            .buffers
            .iter_mut()
            .position(|b| b.try_reclaim(data.len()));
        let buffer = match reusable {
            Some(i) => &mut self.buffers[i],
            None if self.buffers.len() < BUFFERS && data.len() <= FRAME_BYTES => {
                self.buffers.push(BytesMut::with_capacity(FRAME_BYTES));
                let last = self.buffers.len() - 1;
                &mut self.buffers[last]
            }
            None => return Bytes::copy_from_slice(data),
        };
        buffer.extend_from_slice(data);
        buffer.split().freeze()
    }

    /// Lets go of the buffers none of whose frames are still in flight,
    /// so a tunnel that went quiet holds none; the others are what is in
    /// flight anyway.
    pub(super) fn release_idle(&mut self) {
        self.buffers.retain_mut(|b| !b.try_reclaim(FRAME_BYTES));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_once_its_frames_are_gone() {
        let mut staging = Staging::default();
        let piece = vec![7u8; FRAME_BYTES];
        let first = staging.copy(&piece);
        let first_at = first.as_ptr();
        assert_eq!(&first[..], &piece[..]);
        drop(first);
        let second = staging.copy(&piece);
        assert_eq!(second.as_ptr(), first_at, "the freed buffer is reused");
        assert_eq!(staging.buffers.len(), 1);
    }

    #[test]
    fn frames_in_flight_are_never_overwritten() {
        let mut staging = Staging::default();
        let frames: Vec<Bytes> = (0..BUFFERS + 2)
            .map(|i| staging.copy(&vec![u8::try_from(i).unwrap_or(0); FRAME_BYTES]))
            .collect();
        for (i, frame) in frames.iter().enumerate() {
            assert!(frame.iter().all(|&b| usize::from(b) == i), "frame {i}");
        }
        assert_eq!(staging.buffers.len(), BUFFERS, "bounded");
    }

    #[test]
    fn small_writes_share_one_buffer() {
        let mut staging = Staging::default();
        let a = staging.copy(b"abc");
        let b = staging.copy(b"defg");
        assert_eq!((&a[..], &b[..]), (&b"abc"[..], &b"defg"[..]));
        assert_eq!(b.as_ptr(), a.as_ptr().wrapping_add(3), "one buffer");
        assert_eq!(staging.buffers.len(), 1);
    }

    #[test]
    fn release_idle_keeps_only_buffers_with_frames_in_flight() {
        let mut staging = Staging::default();
        let piece = vec![1u8; FRAME_BYTES];
        let in_flight = staging.copy(&piece);
        let written = staging.copy(&piece);
        drop(written);
        staging.release_idle();
        assert_eq!(staging.buffers.len(), 1, "the written frame's buffer goes");
        assert!(in_flight.iter().all(|&b| b == 1), "in flight: untouched");
        drop(in_flight);
        staging.release_idle();
        assert!(staging.buffers.is_empty(), "a quiet tunnel holds nothing");
    }
}
