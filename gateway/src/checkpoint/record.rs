//! How a checkpoint is stored in the database (`Table::Checkpoints`): the
//! key is `identity NUL key` (identities never contain NUL), the value a
//! version byte, `saved_at` (unix s), the expiry (unix ms, 0 = none), both
//! big-endian, and the data.

use bytes::Bytes;

use super::Saved;

const VERSION: u8 = 1;
const HEADER: usize = 17;

/// The database key of `key` saved by `identity`.
pub(crate) fn db_key(identity: &str, key: &str) -> String {
    format!("{identity}\0{key}")
}

/// Splits a database key into identity and key.
pub(crate) fn split_db_key(k: &str) -> Option<(&str, &str)> {
    k.split_once('\0')
}

/// The stored form of a checkpoint.
pub(crate) fn encode(saved: &Saved, expires_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + saved.data.len());
    out.push(VERSION);
    out.extend_from_slice(&saved.saved_at.to_be_bytes());
    out.extend_from_slice(&expires_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&saved.data);
    out
}

/// The checkpoint and expiry of a stored record; `None` if it is not one.
pub(crate) fn decode(record: &[u8]) -> Option<(Saved, Option<u64>)> {
    let (&version, rest) = record.split_first()?;
    if version != VERSION || rest.len() < HEADER - 1 {
        return None;
    }
    let (saved_at, rest) = rest.split_at(8);
    let (expires, data) = rest.split_at(8);
    let saved_at = i64::from_be_bytes(saved_at.try_into().ok()?);
    let expires = u64::from_be_bytes(expires.try_into().ok()?);
    Some((
        Saved {
            data: Bytes::copy_from_slice(data),
            saved_at,
        },
        (expires != 0).then_some(expires),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let saved = Saved {
            data: Bytes::from_static(b"state"),
            saved_at: 42,
        };
        assert_eq!(
            decode(&encode(&saved, Some(9))),
            Some((saved.clone(), Some(9)))
        );
        assert_eq!(decode(&encode(&saved, None)), Some((saved, None)));
        assert_eq!(decode(&[1, 2, 3]), None);
        let k = db_key("ag::w::i::s", "a\0b");
        assert_eq!(split_db_key(&k), Some(("ag::w::i::s", "a\0b")));
    }
}
