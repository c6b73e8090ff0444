//! Blocking twins of the checkpoint operations.

use std::time::SystemTime;

use bytes::Bytes;

use super::Client;
use crate::clients::principal::PrincipalType;
use crate::error::Result;
use crate::ops::checkpoint::{Checkpoint, CheckpointTtl};

impl<P: PrincipalType> Client<P> {
    /// Saves `data` under `key` (empty = `"default"`); see
    /// [`crate::Client::checkpoint_save`].
    pub fn checkpoint_save(
        &self,
        key: &str,
        data: impl Into<Bytes>,
        ttl: CheckpointTtl,
    ) -> Result<SystemTime> {
        self.block_on(self.as_async().checkpoint_save(key, data, ttl))
    }

    /// Queues a save without awaiting the reply.
    pub fn checkpoint_save_nowait(
        &self,
        key: &str,
        data: impl Into<Bytes>,
        ttl: CheckpointTtl,
    ) -> Result<()> {
        self.block_on(async { self.as_async().checkpoint_save_nowait(key, data, ttl) })
    }

    /// The checkpoint saved under `key`, or `None`.
    pub fn checkpoint_load(&self, key: &str) -> Result<Option<Checkpoint>> {
        self.block_on(self.as_async().checkpoint_load(key))
    }

    /// The keys of this identity's checkpoints.
    pub fn checkpoint_list(&self) -> Result<Vec<String>> {
        self.block_on(self.as_async().checkpoint_list())
    }

    /// Deletes the checkpoint under `key`.
    pub fn checkpoint_delete(&self, key: &str) -> Result<()> {
        self.block_on(self.as_async().checkpoint_delete(key))
    }

    /// Queues a delete without awaiting the reply.
    pub fn checkpoint_delete_nowait(&self, key: &str) -> Result<()> {
        self.block_on(async { self.as_async().checkpoint_delete_nowait(key) })
    }
}
