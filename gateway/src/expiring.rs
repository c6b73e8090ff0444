//! A two-level ordered map (group -> key -> value) whose entries may
//! expire, with an index of deadlines so expired entries are found without
//! a scan. KV namespaces and checkpoint owners are the groups.
//!
//! Expired entries read as missing at once; [`ExpiringMap::take_expired`]
//! removes them (the sweeper calls it, and so does loading).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The deadline `ttl_s` seconds after `now_ms`; `None` when `ttl_s <= 0`.
pub(crate) fn deadline(now_ms: u64, ttl_s: i64) -> Option<u64> {
    (ttl_s > 0).then(|| now_ms.saturating_add((ttl_s as u64).saturating_mul(1000)))
}

/// One stored value and when it expires (unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot<V> {
    pub(crate) value: V,
    pub(crate) expires_at_ms: Option<u64>,
}

impl<V> Slot<V> {
    /// Whether the slot is still readable at `now_ms`.
    pub(crate) fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|t| now_ms < t)
    }
}

/// Groups of ordered keys with optional expiry.
#[derive(Debug)]
pub(crate) struct ExpiringMap<V> {
    groups: BTreeMap<String, BTreeMap<String, Slot<V>>>,
    deadlines: BTreeSet<(u64, String, String)>,
}

impl<V> Default for ExpiringMap<V> {
    fn default() -> Self {
        ExpiringMap {
            groups: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }
}

impl<V> ExpiringMap<V> {
    /// The live slot of `group`/`key`.
    pub(crate) fn get(&self, group: &str, key: &str, now_ms: u64) -> Option<&Slot<V>> {
        self.groups
            .get(group)?
            .get(key)
            .filter(|s| s.is_live(now_ms))
    }

    /// Stores `value`; returns the previous slot (live or not).
    pub(crate) fn insert(
        &mut self,
        group: &str,
        key: &str,
        value: V,
        expires_at_ms: Option<u64>,
    ) -> Option<Slot<V>> {
        let slots = match self.groups.get_mut(group) {
            Some(s) => s,
            None => self.groups.entry(group.to_string()).or_default(),
        };
        let old = slots.insert(
            key.to_string(),
            Slot {
                value,
                expires_at_ms,
            },
        );
        if let Some(t) = old.as_ref().and_then(|o| o.expires_at_ms)
            && Some(t) != expires_at_ms
        {
            self.deadlines
                .remove(&(t, group.to_string(), key.to_string()));
        }
        if let Some(t) = expires_at_ms
            && old.as_ref().and_then(|o| o.expires_at_ms) != Some(t)
        {
            self.deadlines
                .insert((t, group.to_string(), key.to_string()));
        }
        old
    }

    /// Removes `group`/`key`; returns the slot (live or not).
    pub(crate) fn remove(&mut self, group: &str, key: &str) -> Option<Slot<V>> {
        let slots = self.groups.get_mut(group)?;
        let old = slots.remove(key)?;
        if slots.is_empty() {
            self.groups.remove(group);
        }
        if let Some(t) = old.expires_at_ms {
            self.deadlines
                .remove(&(t, group.to_string(), key.to_string()));
        }
        Some(old)
    }

    /// Live entries of `group` whose key starts with `prefix` and sorts
    /// after `after` (when given), in key order.
    pub(crate) fn scan<'a>(
        &'a self,
        group: &str,
        prefix: &'a str,
        after: Option<&'a str>,
        now_ms: u64,
    ) -> impl Iterator<Item = (&'a String, &'a Slot<V>)> + 'a {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        self.groups
            .get(group)
            .into_iter()
            .flat_map(move |slots| slots.range::<str, _>((start, Bound::Unbounded)))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter(move |(_, s)| s.is_live(now_ms))
    }

    /// Removes and returns every entry whose deadline is at or before `now_ms`.
    pub(crate) fn take_expired(&mut self, now_ms: u64) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some(first) = self.deadlines.first() {
            if first.0 > now_ms {
                break;
            }
            let Some((_, group, key)) = self.deadlines.pop_first() else {
                break;
            };
            if let Some(slots) = self.groups.get_mut(&group) {
                slots.remove(&key);
                if slots.is_empty() {
                    self.groups.remove(&group);
                }
            }
            out.push((group, key));
        }
        out
    }

    /// Entries stored (live or not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.groups.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_read_as_missing_and_are_swept() {
        let mut m = ExpiringMap::default();
        m.insert("g", "a", 1, Some(100));
        m.insert("g", "b", 2, None);
        assert_eq!(m.get("g", "a", 99).map(|s| s.value), Some(1));
        assert!(m.get("g", "a", 100).is_none());
        assert_eq!(m.take_expired(100), vec![("g".into(), "a".into())]);
        assert_eq!(m.len(), 1);
        assert!(m.take_expired(u64::MAX).is_empty());
    }

    #[test]
    fn overwriting_moves_the_deadline() {
        let mut m = ExpiringMap::default();
        m.insert("g", "a", 1, Some(100));
        m.insert("g", "a", 2, None);
        assert!(m.take_expired(1000).is_empty());
        m.insert("g", "a", 3, Some(50));
        m.remove("g", "a");
        assert!(m.take_expired(1000).is_empty());
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn scan_respects_prefix_cursor_and_groups() {
        let mut m = ExpiringMap::default();
        for k in ["a1", "a2", "a3", "b1"] {
            m.insert("g", k, 0, None);
        }
        m.insert("h", "a0", 0, None);
        let keys = |after| {
            m.scan("g", "a", after, 0)
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(None), ["a1", "a2", "a3"]);
        assert_eq!(keys(Some("a1")), ["a2", "a3"]);
        assert_eq!(keys(Some("0")), ["a1", "a2", "a3"]);
        assert!(keys(Some("z")).is_empty());
        assert_eq!(m.scan("none", "", None, 0).count(), 0);
    }

    #[test]
    fn deadlines_saturate() {
        assert_eq!(deadline(5, 0), None);
        assert_eq!(deadline(5, -1), None);
        assert_eq!(deadline(5, 2), Some(2005));
        assert_eq!(deadline(u64::MAX, i64::MAX), Some(u64::MAX));
    }
}
