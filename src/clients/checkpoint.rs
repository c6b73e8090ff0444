//! Checkpoints: every principal may save, load, list and delete blobs kept
//! by the gateway under its identity.

use std::time::SystemTime;

use bytes::Bytes;

use super::core::Client;
use super::nowait::call_nowait;
use crate::error::Result;
use crate::ops::checkpoint::{self as wire, Checkpoint, CheckpointTtl};

impl Client {
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
        let req = wire::awaited("checkpoint_save", wire::save(key, data.into(), ttl));
        let r = wire::reply("checkpoint_save", self.call(req).await?)?;
        Ok(crate::ops::checkpoint::unix_seconds(r.saved_at))
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
        call_nowait(
            self,
            wire::nowait("checkpoint_save", wire::save(key, data.into(), ttl)),
        )
    }

    /// The checkpoint saved under `key`, or `None` if there is none.
    pub async fn checkpoint_load(&self, key: &str) -> Result<Option<Checkpoint>> {
        let req = wire::awaited("checkpoint_load", wire::load(key));
        Ok(wire::loaded(wire::reply(
            "checkpoint_load",
            self.call(req).await?,
        )?))
    }

    /// The keys of this identity's checkpoints.
    pub async fn checkpoint_list(&self) -> Result<Vec<String>> {
        let req = wire::awaited("checkpoint_list", wire::list());
        Ok(wire::reply("checkpoint_list", self.call(req).await?)?.keys)
    }

    /// Deletes the checkpoint under `key` (deleting a missing one succeeds).
    pub async fn checkpoint_delete(&self, key: &str) -> Result<()> {
        let req = wire::awaited("checkpoint_delete", wire::delete(key));
        wire::reply("checkpoint_delete", self.call(req).await?).map(drop)
    }

    /// Queues a delete without awaiting the reply. Call it from within a
    /// tokio runtime.
    pub fn checkpoint_delete_nowait(&self, key: &str) -> Result<()> {
        call_nowait(self, wire::nowait("checkpoint_delete", wire::delete(key)))
    }
}
