//! [`WritePool`]: the buffers a tunnel copies written bytes into.
//!
//! A write hands its bytes over as a frame that lives until the connection
//! has encoded it. Copying every write into a fresh allocation makes the
//! allocator map (and the kernel zero) new pages for each 256 KiB frame; a
//! few buffers taken back once their frame is gone serve a steady stream of
//! writes from the same memory.

use bytes::{Bytes, BytesMut};

use super::options::{FRAME_BYTES, INITIAL_CREDITS};

/// Buffers kept: the frames the initial credits allow in flight, plus one
/// being filled.
const KEPT: usize = (INITIAL_CREDITS as usize).div_ceil(FRAME_BYTES) + 1;

/// Reusable write buffers of one tunnel (at most [`KEPT`] of
/// [`FRAME_BYTES`] each).
#[derive(Debug, Default)]
pub(super) struct WritePool {
    buffers: Vec<BytesMut>,
}

impl WritePool {
    /// `data` (at most [`FRAME_BYTES`]) as a frame payload, copied into a
    /// buffer whose previous frame is gone, or a new one.
    pub(super) fn frame(&mut self, data: &[u8]) -> Bytes {
        if data.len() > FRAME_BYTES {
            return Bytes::copy_from_slice(data);
        }
        let free = self
            .buffers
            .iter_mut()
            .position(|b| b.try_reclaim(data.len()));
        let buffer = match free {
            Some(i) => &mut self.buffers[i],
            None if self.buffers.len() < KEPT => {
                self.buffers.push(BytesMut::with_capacity(FRAME_BYTES));
                let last = self.buffers.len() - 1;
                &mut self.buffers[last]
            }
            None => return Bytes::copy_from_slice(data),
        };
        buffer.extend_from_slice(data);
        buffer.split().freeze()
    }

    /// Buffers held now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.buffers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_once_its_frame_is_gone() {
        let mut pool = WritePool::default();
        let first = pool.frame(&vec![1u8; FRAME_BYTES]);
        let at = first.as_ptr();
        drop(first);
        let second = pool.frame(&vec![2u8; FRAME_BYTES]);
        assert_eq!(second.as_ptr(), at, "the freed buffer is written again");
        assert!(second.iter().all(|b| *b == 2));
        assert_eq!(pool.held(), 1);
        // Small writes share the buffer's free tail while it lasts.
        let a = pool.frame(&[3u8; 100]);
        let b = pool.frame(&[4u8; 100]);
        assert_eq!(pool.held(), 2, "the full buffer is still in flight");
        assert_eq!(b.as_ptr(), a.as_ptr().wrapping_add(100));
        assert_eq!((&a[..], &b[..]), (&[3u8; 100][..], &[4u8; 100][..]));
    }

    #[test]
    fn frames_in_flight_keep_their_bytes_and_the_pool_stays_bounded() {
        let mut pool = WritePool::default();
        let frames: Vec<Bytes> = (0..KEPT + 3)
            .map(|i| pool.frame(&vec![i as u8; FRAME_BYTES]))
            .collect();
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.len(), FRAME_BYTES);
            assert!(f.iter().all(|b| *b == i as u8), "frame {i} intact");
        }
        assert_eq!(pool.held(), KEPT);
        let big = pool.frame(&vec![9u8; FRAME_BYTES + 1]);
        assert_eq!(big.len(), FRAME_BYTES + 1);
    }
}
