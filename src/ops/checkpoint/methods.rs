//! The checkpoint methods, on every client.

use std::time::SystemTime;

use bytes::Bytes;

use super::{
    Checkpoint, CheckpointDelete, CheckpointList, CheckpointLoad, CheckpointSave, CheckpointTtl,
};
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::error::Result;
use crate::stack::NoWait;

impl<P: PrincipalType> Client<P> {
    /// Saves `data` under `key` (an empty key is the gateway's `"default"`
    /// key), replacing what was there; returns when the gateway stored it
    /// (whole seconds).
    ///
    /// Data over the gateway's limit fails with `ErrorKind::PayloadTooLarge`.
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use std::time::Duration;
    /// use aether_client::CheckpointTtl;
    /// agent.checkpoint_save("progress", "step 3", CheckpointTtl::After(Duration::from_secs(3600))).await?;
    /// if let Some(cp) = agent.checkpoint_load("progress").await? {
    ///     println!("resuming from {:?} saved at {:?}", cp.data, cp.saved_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn checkpoint_save(
        &self,
        key: &str,
        data: impl Into<Bytes>,
        ttl: CheckpointTtl,
    ) -> Result<SystemTime> {
        self.run(CheckpointSave::new(key, data.into(), ttl)).await
    }

    /// Queues a save without awaiting the reply (fails with
    /// `ErrorKind::QueueFull` instead of waiting for room). Call it from
    /// within a tokio runtime.
    pub fn checkpoint_save_nowait(
        &self,
        key: &str,
        data: impl Into<Bytes>,
        ttl: CheckpointTtl,
    ) -> Result<()> {
        self.run_nowait(NoWait(CheckpointSave::new(key, data.into(), ttl)))
    }

    /// The checkpoint saved under `key`, or `None` if there is none.
    pub async fn checkpoint_load(&self, key: &str) -> Result<Option<Checkpoint>> {
        self.run(CheckpointLoad::new(key)).await
    }

    /// The keys of this identity's checkpoints.
    pub async fn checkpoint_list(&self) -> Result<Vec<String>> {
        self.run(CheckpointList::new()).await
    }

    /// Deletes the checkpoint under `key` (deleting a missing one succeeds).
    pub async fn checkpoint_delete(&self, key: &str) -> Result<()> {
        self.run(CheckpointDelete::new(key)).await
    }

    /// Queues a delete without awaiting the reply. Call it from within a
    /// tokio runtime.
    pub fn checkpoint_delete_nowait(&self, key: &str) -> Result<()> {
        self.run_nowait(NoWait(CheckpointDelete::new(key)))
    }
}
