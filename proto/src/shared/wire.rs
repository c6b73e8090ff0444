//! The few protobuf wire primitives the hand-written codecs need.

use std::ops::Range;

use prost::bytes::{BufMut, Bytes};

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

/// Reads a varint at `*at` in `buf`, moving `*at` past it; `None` when it
/// is cut short or does not fit 64 bits (longer than ten bytes, or a
/// tenth byte over 1).
#[inline]
pub(crate) fn read_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    // Keys, lengths of short fields and small numbers: one byte, read
    // inline; longer varints out of line.
    if let Some(&b) = buf.get(*at)
        && b < 0x80
    {
        *at += 1;
        return Some(u64::from(b));
    }
    read_long_varint(buf, at)
}

#[inline(never)]
fn read_long_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let rest = buf.get(*at..)?;
    let mut v = 0u64;
    for (i, &b) in rest.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *at += i + 1;
            return Some(v);
        }
    }
    None
}

/// One field's value, as [`read_fields`] hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A varint.
    Varint(u64),
    /// A length-delimited field: where its body is in the message.
    Len(Range<usize>),
    /// A 32- or 64-bit field (none of the known fields is one).
    Fixed,
}

/// Reads every field of a message body in order, without copying or
/// sharing anything: `field` reads the known ones (tags `1..=known`),
/// given their tag and value, and returns `None` to give up (a wire type
/// prost would refuse, say); unknown fields are skipped, as prost skips
/// them. `None` for anything malformed.
pub(crate) fn read_fields(
    body: &[u8],
    known: u64,
    mut field: impl FnMut(u64, Value) -> Option<()>,
) -> Option<()> {
    let mut at = 0;
    while at < body.len() {
        let key = read_varint(body, &mut at)?;
        let (tag, wire_type) = (key >> 3, (key & 7) as u8);
        if tag == 0 || key > u64::from(u32::MAX) {
            return None;
        }
        let value = match wire_type {
            VARINT => Value::Varint(read_varint(body, &mut at)?),
            LEN => {
                let len = usize::try_from(read_varint(body, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|&end| end <= body.len())?;
                let range = at..end;
                at = end;
                Value::Len(range)
            }
            FIXED64 | FIXED32 => {
                let n = if wire_type == FIXED64 { 8 } else { 4 };
                at = at.checked_add(n).filter(|&end| end <= body.len())?;
                Value::Fixed
            }
            // Groups (deprecated) and invalid wire types: prost decides.
            _ => return None,
        };
        if tag <= known {
            field(tag, value)?;
        }
    }
    Some(())
}

/// Decodes `body` with `common`, the in-place reader of the usual shapes,
/// or, when it gives up, with prost (which then decides, error included).
pub(crate) fn decode_or_prost<T: From<P>, P: prost::Message + Default>(
    body: Bytes,
    common: impl FnOnce(&Bytes) -> Option<T>,
) -> Result<T, prost::DecodeError> {
    match common(&body) {
        Some(decoded) => Ok(decoded),
        None => P::decode(body).map(T::from),
    }
}

/// A string field's body, checked as UTF-8 (as prost checks it): a slice
/// of `body`.
pub(crate) fn str_at(body: &Bytes, range: Range<usize>) -> Option<SharedStr> {
    SharedStr::from_utf8(body.slice(range)).ok()
}

/// Merges a message field's body into `slot` (repeated occurrences of a
/// message field merge, as prost has it).
pub(crate) fn merge<M: prost::Message + Default>(
    slot: &mut Option<Box<M>>,
    body: &[u8],
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
            let mut out = vec![0xaa];
            put_varint(v, &mut out);
            assert_eq!(out.len() - 1, varint_len(v), "{v}");
            assert_eq!(
                out.len() - 1,
                prost::length_delimiter_len(v as usize),
                "{v}"
            );
            let mut at = 1;
            assert_eq!(read_varint(&out, &mut at), Some(v));
            assert_eq!(at, out.len());
        }
        assert_eq!(read_varint(&[0x80, 0x80], &mut 0), None);
        assert_eq!(read_varint(&[0xff; 11], &mut 0), None);
        let mut overflow = [0xff; 10];
        overflow[9] = 0x02;
        assert_eq!(read_varint(&overflow, &mut 0), None);
        assert_eq!(read_varint(&[1], &mut 2), None);
    }

    #[test]
    fn fields_are_read_in_place_and_malformed_ones_refused() {
        // 1: "ab", 2: varint 5, 9: fixed32 (unknown, skipped), 3: "c".
        let body = [
            0x0a, 2, b'a', b'b', 0x10, 5, 0x4d, 0, 0, 0, 0, 0x1a, 1, b'c',
        ];
        let mut seen = Vec::new();
        let read = read_fields(&body, 3, |tag, value| {
            seen.push((tag, value));
            Some(())
        });
        assert_eq!(read, Some(()));
        use Value::*;
        assert_eq!(seen, [(1, Len(2..4)), (2, Varint(5)), (3, Len(13..14))]);
        for bad in [
            &[0x0a, 3, b'a'][..],
            &[0x00, 1],
            &[0x0b],
            &[0x0f],
            &[0x4d, 0, 0],
        ] {
            assert_eq!(read_fields(bad, 3, |_, _| Some(())), None, "{bad:?}");
        }
    }
}
