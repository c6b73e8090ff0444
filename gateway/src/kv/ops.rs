//! What each KV operation does to one namespace (§3.4). Reads take the map;
//! changes go through a [`Space`], which records the matching database
//! mutations. The caller holds the KV lock across a whole operation, so
//! every read-modify-write here is atomic.

use std::collections::BTreeSet;

use aether_protocol::proto::{KvOperation, KvResponse};
use bytes::Bytes;

use super::state::{KvMap, Space};
use super::{KvError, set_codec};
use crate::expiring::deadline;

/// Longest key, in bytes.
const MAX_KEY_BYTES: usize = 256;

/// Checks the key rules (non-empty, at most 256 bytes).
pub(crate) fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::new("key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::new(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

fn ok() -> KvResponse {
    KvResponse {
        success: true,
        ..Default::default()
    }
}

/// GET: the value, or an empty value when missing.
pub(crate) fn get(map: &KvMap, ns: &str, key: &str, now_ms: u64) -> KvResponse {
    KvResponse {
        value: map
            .get(ns, key, now_ms)
            .map(|s| s.value.clone())
            .unwrap_or_default(),
        ..ok()
    }
}

/// The members of the set stored as `value`.
fn members(value: &[u8]) -> Result<BTreeSet<String>, KvError> {
    set_codec::decode(value)
        .ok_or_else(|| KvError::new("the existing value is not a set (a JSON array of strings)"))
}

/// SET_CARD: the set's cardinality (0 when missing).
pub(crate) fn set_card(
    map: &KvMap,
    ns: &str,
    key: &str,
    now_ms: u64,
) -> Result<KvResponse, KvError> {
    let n = match map.get(ns, key, now_ms) {
        Some(s) => members(&s.value)?.len(),
        None => 0,
    };
    Ok(KvResponse {
        counter_value: n as i64,
        ..ok()
    })
}

/// PUT: upsert with an optional TTL.
pub(crate) fn put(s: &mut Space, op: &KvOperation) -> KvResponse {
    let expires = deadline(s.now_ms, op.ttl);
    s.put(&op.key, op.value.clone(), expires);
    ok()
}

/// DELETE: idempotent.
pub(crate) fn delete(s: &mut Space, key: &str) -> KvResponse {
    s.delete(key);
    ok()
}

/// The counter under `key` (0 when missing) and its expiry.
fn counter(s: &Space, key: &str) -> Result<(i64, Option<u64>, bool), KvError> {
    let Some(slot) = s.get(key) else {
        return Ok((0, None, false));
    };
    let n = std::str::from_utf8(&slot.value)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| KvError::new("the existing value is not an integer"))?;
    Ok((n, slot.expires_at_ms, true))
}

fn store_counter(s: &mut Space, key: &str, n: i64, expires: Option<u64>) {
    s.put(key, Bytes::from(n.to_string()), expires);
}

fn overflow() -> KvError {
    KvError::new("counter overflow")
}

/// INCREMENT (+1) and DECREMENT (-1). The TTL of an INCREMENT applies when
/// the result is 1; otherwise the existing expiry is kept.
pub(crate) fn step(s: &mut Space, op: &KvOperation, up: bool) -> Result<KvResponse, KvError> {
    let (n, expires, _) = counter(s, &op.key)?;
    let new = if up {
        n.checked_add(1)
    } else {
        n.checked_sub(1)
    }
    .ok_or_else(overflow)?;
    let expires = match deadline(s.now_ms, op.ttl) {
        Some(t) if up && new == 1 => Some(t),
        _ => expires,
    };
    store_counter(s, &op.key, new, expires);
    Ok(KvResponse {
        counter_value: new,
        ..ok()
    })
}

/// INCREMENT_IF (`up`, guard = ceiling) and DECREMENT_IF (guard = floor):
/// applies `delta` (0 means 1; negative fails) only if the result stays
/// within the guard. A TTL applies to a counter this creates.
pub(crate) fn step_if(s: &mut Space, op: &KvOperation, up: bool) -> Result<KvResponse, KvError> {
    if op.delta_value < 0 {
        return Err(KvError::new("delta_value must not be negative"));
    }
    let delta = op.delta_value.max(1);
    let (n, expires, exists) = counter(s, &op.key)?;
    let new = if up {
        n.checked_add(delta)
    } else {
        n.checked_sub(delta)
    }
    .ok_or_else(overflow)?;
    let applied = if up {
        new <= op.guard_value
    } else {
        new >= op.guard_value
    };
    if !applied {
        return Ok(KvResponse {
            counter_value: n,
            applied: false,
            ..ok()
        });
    }
    let expires = if exists {
        expires
    } else {
        deadline(s.now_ms, op.ttl)
    };
    store_counter(s, &op.key, new, expires);
    Ok(KvResponse {
        counter_value: new,
        applied: true,
        ..ok()
    })
}

/// SET_NX: writes only if the key is absent.
pub(crate) fn set_nx(s: &mut Space, op: &KvOperation) -> KvResponse {
    let applied = s.get(&op.key).is_none();
    if applied {
        s.put(&op.key, op.value.clone(), deadline(s.now_ms, op.ttl));
    }
    KvResponse { applied, ..ok() }
}

/// COMPARE_AND_SET: writes only if present and equal to `expected_value`.
pub(crate) fn compare_and_set(s: &mut Space, op: &KvOperation) -> KvResponse {
    let applied = s.get(&op.key).is_some_and(|v| v.value == op.expected_value);
    if applied {
        s.put(&op.key, op.value.clone(), deadline(s.now_ms, op.ttl));
    }
    KvResponse { applied, ..ok() }
}

/// COMPARE_AND_DELETE: deletes only if equal to `expected_value`.
pub(crate) fn compare_and_delete(s: &mut Space, op: &KvOperation) -> KvResponse {
    let applied = s.get(&op.key).is_some_and(|v| v.value == op.expected_value);
    if applied {
        s.delete(&op.key);
    }
    KvResponse { applied, ..ok() }
}

/// SET_ADD: adds `value` (UTF-8) to the set; the TTL is (re)applied when
/// the member is new.
pub(crate) fn set_add(s: &mut Space, op: &KvOperation) -> Result<KvResponse, KvError> {
    let member = std::str::from_utf8(&op.value)
        .map_err(|_| KvError::new("a set member must be UTF-8 text"))?;
    let (mut set, expires) = match s.get(&op.key) {
        Some(slot) => (members(&slot.value)?, slot.expires_at_ms),
        None => (BTreeSet::new(), None),
    };
    let applied = set.insert(member.to_string());
    if applied {
        let expires = deadline(s.now_ms, op.ttl).or(expires);
        s.put(&op.key, Bytes::from(set_codec::encode(&set)), expires);
    }
    Ok(KvResponse {
        applied,
        counter_value: set.len() as i64,
        ..ok()
    })
}

/// PURGE_IDENTITY (in the target's namespace): deletes every key under
/// `prefix`; the count deleted.
pub(crate) fn purge(s: &mut Space, prefix: &str) -> KvResponse {
    let keys = s.keys_with_prefix(prefix);
    let n = keys.iter().filter(|k| s.delete(k)).count();
    KvResponse {
        counter_value: n as i64,
        ..ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(key: &str) -> KvOperation {
        KvOperation {
            key: key.into(),
            ..Default::default()
        }
    }

    fn with(key: &str, f: impl FnOnce(&mut KvOperation)) -> KvOperation {
        let mut o = op(key);
        f(&mut o);
        o
    }

    fn value(map: &KvMap, key: &str, now: u64) -> Bytes {
        get(map, "ns", key, now).value
    }

    #[test]
    fn key_rules() {
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(256)).is_ok());
        assert!(check_key(&"k".repeat(257)).is_err());
    }

    #[test]
    fn put_get_delete_with_ttl() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 1000, false);
        put(&mut s, &with("a", |o| o.value = Bytes::from_static(b"v")));
        put(
            &mut s,
            &with("t", |o| {
                o.value = Bytes::from_static(b"x");
                o.ttl = 1;
            }),
        );
        assert!(delete(&mut s, "missing").success);
        assert_eq!(value(&map, "a", 1000), "v");
        assert_eq!(value(&map, "t", 1999), "x");
        assert_eq!(value(&map, "t", 2000), "", "expired reads as missing");
        let mut s = Space::new(&mut map, "ns", 1000, false);
        delete(&mut s, "a");
        assert!(get(&map, "ns", "a", 0).success);
        assert_eq!(value(&map, "a", 1000), "");
    }

    #[test]
    fn increments_and_decrements() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 0, false);
        let inc = with("c", |o| o.ttl = 10);
        assert_eq!(step(&mut s, &inc, true).unwrap().counter_value, 1);
        assert_eq!(s.get("c").and_then(|v| v.expires_at_ms), Some(10_000));
        assert_eq!(step(&mut s, &inc, true).unwrap().counter_value, 2);
        assert_eq!(
            s.get("c").and_then(|v| v.expires_at_ms),
            Some(10_000),
            "the window is kept"
        );
        assert_eq!(step(&mut s, &op("d"), false).unwrap().counter_value, -1);
        s.put("text", Bytes::from_static(b"abc"), None);
        assert!(step(&mut s, &op("text"), true).is_err());
        s.put("max", Bytes::from(i64::MAX.to_string()), None);
        assert!(step(&mut s, &op("max"), true).is_err());
        assert_eq!(value(&map, "c", 0), "2");
    }

    #[test]
    fn guarded_counters() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 0, false);
        let inc = |delta, guard| {
            with("c", |o| {
                o.delta_value = delta;
                o.guard_value = guard;
            })
        };
        let r = step_if(&mut s, &inc(0, 2), true).unwrap();
        assert_eq!((r.counter_value, r.applied), (1, true));
        let r = step_if(&mut s, &inc(1, 2), true).unwrap();
        assert_eq!((r.counter_value, r.applied), (2, true));
        let r = step_if(&mut s, &inc(1, 2), true).unwrap();
        assert_eq!((r.counter_value, r.applied), (2, false));
        let r = step_if(&mut s, &inc(0, 0), true).unwrap();
        assert!(!r.applied, "a ceiling of 0 is literal");
        let r = step_if(&mut s, &inc(2, 0), false).unwrap();
        assert_eq!((r.counter_value, r.applied), (0, true));
        let r = step_if(&mut s, &inc(1, 0), false).unwrap();
        assert_eq!((r.counter_value, r.applied), (0, false));
        assert!(step_if(&mut s, &inc(-1, 5), true).is_err());
        assert!(step_if(&mut s, &inc(-1, 5), false).is_err());
    }

    #[test]
    fn set_nx_cas_cad() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 0, false);
        let v = |k: &str, val: &'static [u8], exp: &'static [u8]| {
            with(k, |o| {
                o.value = Bytes::from_static(val);
                o.expected_value = Bytes::from_static(exp);
            })
        };
        assert!(set_nx(&mut s, &v("k", b"1", b"")).applied);
        assert!(!set_nx(&mut s, &v("k", b"2", b"")).applied);
        assert!(!compare_and_set(&mut s, &v("k", b"3", b"2")).applied);
        assert!(compare_and_set(&mut s, &v("k", b"3", b"1")).applied);
        assert!(
            !compare_and_set(&mut s, &v("missing", b"x", b"")).applied,
            "missing never matches"
        );
        assert!(!compare_and_delete(&mut s, &v("k", b"", b"1")).applied);
        assert!(compare_and_delete(&mut s, &v("k", b"", b"3")).applied);
        assert!(s.get("k").is_none());
        assert!(!compare_and_delete(&mut s, &v("k", b"", b"")).applied);
    }

    #[test]
    fn sets() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 0, false);
        let add = |m: &'static [u8]| with("s", |o| o.value = Bytes::from_static(m));
        let r = set_add(&mut s, &add(b"b")).unwrap();
        assert_eq!((r.applied, r.counter_value), (true, 1));
        let r = set_add(&mut s, &add(b"a")).unwrap();
        assert_eq!((r.applied, r.counter_value), (true, 2));
        let r = set_add(&mut s, &add(b"a")).unwrap();
        assert_eq!((r.applied, r.counter_value), (false, 2));
        assert!(set_add(&mut s, &add(b"\xff")).is_err());
        s.put("n", Bytes::from_static(b"1"), None);
        assert!(set_add(&mut s, &with("n", |o| o.value = Bytes::from_static(b"x"))).is_err());
        assert_eq!(value(&map, "s", 0), "[\"a\",\"b\"]");
        assert_eq!(set_card(&map, "ns", "s", 0).unwrap().counter_value, 2);
        assert_eq!(set_card(&map, "ns", "none", 0).unwrap().counter_value, 0);
        assert!(set_card(&map, "ns", "n", 0).is_err());
    }

    #[test]
    fn purge_deletes_under_a_prefix() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 0, false);
        for k in ["a1", "a2", "b1"] {
            s.put(k, Bytes::new(), None);
        }
        assert_eq!(purge(&mut s, "a").counter_value, 2);
        assert_eq!(purge(&mut s, "").counter_value, 1);
        assert_eq!(map.len(), 0);
    }
}
