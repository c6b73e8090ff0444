//! LIST (§3.4): keys of one namespace under a prefix, a page at a time.
//! The cursor is the last key of the previous page; a page resumes after it.

use aether_protocol::proto::KvResponse;

use super::state::KvMap;

/// Page size when `limit <= 0`.
const DEFAULT_PAGE: usize = 100;

/// One page of the live keys of `ns` starting with `prefix`, after `cursor`.
pub(crate) fn page(
    map: &KvMap,
    ns: &str,
    prefix: &str,
    limit: i32,
    cursor: &str,
    now_ms: u64,
) -> KvResponse {
    let limit = usize::try_from(limit)
        .ok()
        .filter(|&l| l > 0)
        .unwrap_or(DEFAULT_PAGE);
    let after = (!cursor.is_empty()).then_some(cursor);
    let mut it = map.scan(ns, prefix, after, now_ms);
    let mut resp = KvResponse {
        success: true,
        ..Default::default()
    };
    for (k, slot) in it.by_ref().take(limit) {
        resp.keys.push(k.clone());
        resp.kv_map.insert(k.clone(), slot.value.clone());
    }
    resp.has_more = it.next().is_some();
    if resp.has_more {
        resp.next_cursor = resp.keys.last().cloned().unwrap_or_default();
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn pages_through_everything_once() {
        let mut map = KvMap::default();
        for i in 0..250 {
            map.insert("ns", &format!("k{i:03}"), Bytes::from(i.to_string()), None);
        }
        map.insert("ns", "other", Bytes::new(), None);
        map.insert("ns", "k999", Bytes::new(), Some(1));
        let mut cursor = String::new();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let p = page(&map, "ns", "k", 0, &cursor, 10);
            pages += 1;
            assert_eq!(p.keys.len(), p.kv_map.len());
            seen.extend(p.keys.clone());
            if !p.has_more {
                assert!(p.next_cursor.is_empty());
                break;
            }
            cursor = p.next_cursor;
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 250);
        assert_eq!(seen.first().map(String::as_str), Some("k000"));
        let p = page(&map, "ns", "", 2, "", 10);
        assert_eq!(p.keys, ["k000", "k001"]);
        assert!(p.has_more);
        let p = page(&map, "ns", "k24", 10, "", 10);
        assert_eq!(p.keys.len(), 10);
        assert!(!p.has_more);
    }
}
