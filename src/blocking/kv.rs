//! A KV listing as a blocking iterator.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::Client;
use crate::error::Result;

type Entries = Pin<Box<dyn Stream<Item = Result<(String, Bytes)>> + Send>>;

/// Every `(key, value)` of a KV listing, fetched a page at a time on the
/// client's runtime; returned by `kv_list_iter`. An error ends it.
pub struct KvListIter {
    client: Client,
    entries: Entries,
}

impl KvListIter {
    pub(crate) fn new(
        client: Client,
        entries: impl Stream<Item = Result<(String, Bytes)>> + Send + 'static,
    ) -> Self {
        KvListIter {
            client,
            entries: Box::pin(entries),
        }
    }
}

impl Iterator for KvListIter {
    type Item = Result<(String, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        let entries = &mut self.entries;
        self.client.block_on(entries.next())
    }
}

impl std::fmt::Debug for KvListIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvListIter").finish_non_exhaustive()
    }
}
