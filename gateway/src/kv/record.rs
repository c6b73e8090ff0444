//! How a KV entry is stored in the database (`Table::Kv`): the key is
//! `namespace NUL user-key` (namespaces never contain NUL), the value a
//! version byte, the expiry (unix ms, big-endian, 0 = none) and the bytes.

use bytes::Bytes;

const VERSION: u8 = 1;
const HEADER: usize = 9;

/// The database key of `key` in namespace `ns`.
pub(crate) fn db_key(ns: &str, key: &str) -> String {
    let mut k = String::with_capacity(ns.len() + 1 + key.len());
    k.push_str(ns);
    k.push('\0');
    k.push_str(key);
    k
}

/// Splits a database key into namespace and user key.
pub(crate) fn split_db_key(k: &str) -> Option<(&str, &str)> {
    k.split_once('\0')
}

/// The stored form of a value.
pub(crate) fn encode(value: &[u8], expires_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.push(VERSION);
    out.extend_from_slice(&expires_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value and expiry of a stored record; `None` if it is not one.
pub(crate) fn decode(record: &[u8]) -> Option<(Bytes, Option<u64>)> {
    let (&version, rest) = record.split_first()?;
    if version != VERSION || rest.len() < HEADER - 1 {
        return None;
    }
    let (at, value) = rest.split_at(HEADER - 1);
    let at = u64::from_be_bytes(at.try_into().ok()?);
    Some((Bytes::copy_from_slice(value), (at != 0).then_some(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let k = db_key("kv:ws:w", "a:b\0c");
        assert_eq!(split_db_key(&k), Some(("kv:ws:w", "a:b\0c")));
        let r = encode(b"v", Some(7));
        assert_eq!(decode(&r), Some((Bytes::from_static(b"v"), Some(7))));
        assert_eq!(decode(&encode(b"", None)), Some((Bytes::new(), None)));
        assert_eq!(decode(b""), None);
        assert_eq!(decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(decode(&[1, 0]), None);
    }
}
