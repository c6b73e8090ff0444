//! The few protobuf wire primitives the hand-written codecs need.

use prost::bytes::{Buf, BufMut, Bytes};

use super::SharedStr;

/// Wire type of varint fields.
pub(crate) const VARINT: u8 = 0;
/// Wire type of 64-bit fields.
pub(crate) const FIXED64: u8 = 1;
/// Wire type of length-delimited fields.
pub(crate) const LEN: u8 = 2;
/// Wire type of 32-bit fields.
pub(crate) const FIXED32: u8 = 5;

/// The key of field `tag` with `wire_type`.
pub(crate) const fn key(tag: u32, wire_type: u8) -> u64 {
    ((tag as u64) << 3) | wire_type as u64
}

/// Bytes `v` takes as a varint.
pub(crate) const fn varint_len(v: u64) -> usize {
    // One byte per started group of 7 bits (at least one byte).
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(crate) fn put_varint(mut v: u64, buf: &mut impl BufMut) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Reads a varint off the front of `buf`; `None` when it is cut short or
/// does not fit 64 bits (longer than ten bytes, or a tenth byte over 1).
pub(crate) fn take_varint(buf: &mut Bytes) -> Option<u64> {
    // Keys, lengths of short fields and small numbers: one byte.
    if let Some(&b) = buf.first()
        && b < 0x80
    {
        buf.advance(1);
        return Some(u64::from(b));
    }
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            buf.advance(i + 1);
            return Some(v);
        }
    }
    None
}

/// Reads a length-delimited field's body off the front of `buf` (a slice
/// of it, not a copy).
pub(crate) fn take_len(buf: &mut Bytes) -> Option<Bytes> {
    let len = usize::try_from(take_varint(buf)?).ok()?;
    (len <= buf.len()).then(|| buf.split_to(len))
}

/// Skips a field of `wire_type`; `None` for groups or a cut-short field.
pub(crate) fn skip(wire_type: u8, buf: &mut Bytes) -> Option<()> {
    let n = match wire_type {
        VARINT => return take_varint(buf).map(drop),
        LEN => return take_len(buf).map(drop),
        FIXED64 => 8,
        FIXED32 => 4,
        _ => return None,
    };
    (n <= buf.len()).then(|| buf.advance(n))
}

/// Reads every field of a message body in order. `field` reads the known
/// ones (tags `1..=known`) off the buffer, given their tag and wire type,
/// and returns `None` to give up (a wire type prost would refuse, say);
/// unknown fields are skipped, as prost skips them. `None` for anything
/// malformed.
pub(crate) fn read_fields(
    mut buf: Bytes,
    known: u64,
    mut field: impl FnMut(u64, u8, &mut Bytes) -> Option<()>,
) -> Option<()> {
    while !buf.is_empty() {
        let key = take_varint(&mut buf)?;
        let (tag, wire_type) = (key >> 3, (key & 7) as u8);
        if tag == 0 || key > u64::from(u32::MAX) {
            return None;
        }
        if tag > known {
            skip(wire_type, &mut buf)?;
        } else {
            field(tag, wire_type, &mut buf)?;
        }
    }
    Some(())
}

/// A string field's body, checked as UTF-8 (as prost checks it).
pub(crate) fn take_str(buf: &mut Bytes) -> Option<SharedStr> {
    SharedStr::from_utf8(take_len(buf)?).ok()
}

/// Merges a message field's body into `slot` (repeated occurrences of a
/// message field merge, as prost has it).
pub(crate) fn merge<M: prost::Message + Default>(
    slot: &mut Option<Box<M>>,
    body: Bytes,
) -> Option<()> {
    slot.get_or_insert_with(Box::default).merge(body).ok()
}

// Every field the codecs write has a tag below 16: a one-byte key.

/// A length-delimited field of `len` bytes (none when empty: proto3
/// leaves defaults out).
pub(crate) fn bytes_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + varint_len(len as u64) + len
    }
}

/// An int32 field (none when zero).
pub(crate) fn int32_field_len(v: i32) -> usize {
    if v == 0 {
        0
    } else {
        // Negative values are sign-extended to 64 bits.
        1 + varint_len(v as u64)
    }
}

/// A message field, when set.
pub(crate) fn message_field_len<M: prost::Message>(m: Option<&M>) -> usize {
    m.map_or(0, |m| {
        let len = m.encoded_len();
        1 + varint_len(len as u64) + len
    })
}

/// Writes a string field (nothing when empty).
pub(crate) fn put_str(tag: u32, s: &SharedStr, buf: &mut impl BufMut) {
    if !s.is_empty() {
        put_varint(key(tag, LEN), buf);
        put_varint(s.len() as u64, buf);
        buf.put_slice(s.as_bytes());
    }
}

/// Writes a bytes field (nothing when empty) with [`BufMut::put`], so a
/// buffer that keeps large `Bytes` as they are does so here too.
pub(crate) fn put_bytes(tag: u32, b: &Bytes, buf: &mut impl BufMut) {
    if !b.is_empty() {
        put_varint(key(tag, LEN), buf);
        put_varint(b.len() as u64, buf);
        buf.put(b.clone());
    }
}

/// Writes an int32 field (nothing when zero).
pub(crate) fn put_int32(tag: u32, v: i32, buf: &mut impl BufMut) {
    if v != 0 {
        put_varint(key(tag, VARINT), buf);
        put_varint(v as u64, buf);
    }
}

/// Writes a message field, when set.
pub(crate) fn put_message<M: prost::Message>(tag: u32, m: Option<&M>, buf: &mut impl BufMut) {
    if let Some(m) = m {
        put_varint(key(tag, LEN), buf);
        put_varint(m.encoded_len() as u64, buf);
        m.encode_raw(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_length() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(v, &mut out);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(out.len(), prost::length_delimiter_len(v as usize), "{v}");
            let mut buf = Bytes::from(out);
            assert_eq!(take_varint(&mut buf), Some(v));
            assert!(buf.is_empty());
        }
        assert_eq!(take_varint(&mut Bytes::from_static(&[0x80, 0x80])), None);
        assert_eq!(take_varint(&mut Bytes::from_static(&[0xff; 11])), None);
        let mut overflow = [0xff; 10];
        overflow[9] = 0x02;
        assert_eq!(take_varint(&mut Bytes::copy_from_slice(&overflow)), None);
    }

    #[test]
    fn a_length_past_the_end_is_refused() {
        assert_eq!(take_len(&mut Bytes::from_static(&[3, b'a', b'b'])), None);
        let mut buf = Bytes::from_static(&[2, b'a', b'b', b'c']);
        assert_eq!(take_len(&mut buf).as_deref(), Some(&b"ab"[..]));
        assert_eq!(&buf[..], b"c");
        assert_eq!(skip(3, &mut Bytes::from_static(&[0])), None);
        assert_eq!(skip(FIXED32, &mut Bytes::from_static(&[0, 0, 0])), None);
    }
}
