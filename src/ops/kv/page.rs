//! [`KvPage`]: one page of a listing.

use std::collections::HashMap;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::KvResponse;

/// One page of a KV listing.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KvPage {
    /// The keys of this page, in the gateway's order.
    pub keys: Vec<String>,
    /// The values of the keys of this page.
    pub entries: HashMap<String, Bytes>,
    /// Where the next page starts, when more keys remain.
    pub next_cursor: Option<String>,
}

impl KvPage {
    /// Whether more keys remain after this page.
    pub fn has_more(&self) -> bool {
        self.next_cursor.is_some()
    }

    /// The page's `(key, value)` pairs in key order of the page; a key the
    /// gateway listed without a value comes with an empty one.
    pub fn into_entries(mut self) -> Vec<(String, Bytes)> {
        let mut out = Vec::with_capacity(self.keys.len().max(self.entries.len()));
        for key in self.keys {
            let value = self.entries.remove(&key).unwrap_or_default();
            out.push((key, value));
        }
        let mut rest: Vec<_> = self.entries.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(rest);
        out
    }

    pub(crate) fn from_reply(r: KvResponse) -> Result<Self> {
        let next_cursor = match (r.has_more, r.next_cursor.is_empty()) {
            (true, true) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "kv_list: the gateway said more keys remain but gave no cursor",
                ));
            }
            (_, false) => Some(r.next_cursor),
            (false, true) => None,
        };
        Ok(KvPage {
            keys: r.keys,
            entries: r.kv_map,
            next_cursor,
        })
    }
}
