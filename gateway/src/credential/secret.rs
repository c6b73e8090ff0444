//! Secrets: fresh random tokens, their digests, and constant-time
//! comparison. A secret is never stored, logged or echoed; only its
//! SHA-256 digest is kept.

use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// A SHA-256 digest.
pub(crate) type Digest = [u8; 32];

/// The prefix of API tokens minted by this gateway (so they are easy to
/// recognise in a leak scan).
pub(crate) const TOKEN_PREFIX: &str = "aet_";

/// `n` random bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], &'static str> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| "the system random number generator failed")?;
    Ok(out)
}

/// A fresh API token: [`TOKEN_PREFIX`] then 256 random bits as 64
/// lowercase hex characters.
pub(crate) fn fresh_token() -> Result<String, &'static str> {
    Ok(format!("{TOKEN_PREFIX}{}", hex(&random_bytes::<32>()?)))
}

/// SHA-256 of `secret`.
pub(crate) fn digest(secret: &str) -> Digest {
    digest_bytes(secret.as_bytes())
}

/// SHA-256 of `bytes`.
pub(crate) fn digest_bytes(bytes: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Whether two digests are equal, in time independent of where they
/// differ.
pub(crate) fn same(a: &Digest, b: &Digest) -> bool {
    a.ct_eq(b).into()
}

/// Whether `presented` is `expected`, without leaking where they differ or
/// how long `expected` is (both are hashed first).
#[cfg(test)]
pub(crate) fn same_secret(presented: &str, expected: &str) -> bool {
    same(&digest(presented), &digest(expected))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Parses 64 hex characters (case-insensitive, `:` separators allowed, as
/// `openssl x509 -fingerprint -sha256` prints them) into a digest.
pub(crate) fn parse_digest(text: &str) -> Option<Digest> {
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b':')
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if clean.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in clean.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_long() {
        let a = fresh_token().unwrap();
        let b = fresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(a.starts_with(TOKEN_PREFIX));
    }

    #[test]
    fn digests_compare() {
        assert!(same_secret("k", "k"));
        assert!(!same_secret("k", "kk"));
        assert!(!same_secret("", "k"));
        let d = digest("abc");
        assert_eq!(
            hex(&d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let with_colons = hex(&d)
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_digest(&with_colons), Some(d));
        assert_eq!(parse_digest("xyz"), None);
    }
}
