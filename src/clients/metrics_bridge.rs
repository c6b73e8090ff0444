//! The metrics bridge: a singleton that receives every metric.

use std::future::Future;
use std::sync::Arc;

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::MetricsBridge;
use crate::identity::Principal;
use crate::message::Message;
use crate::proto;

/// The metrics bridge: receives every metric, typed with
/// [`on_metric_payload`](Client::on_metric_payload) (or raw with
/// `on_metric` and [`Message::decode_metric`]). It is receive-only: it has
/// no send methods at all (the reference SDK's `send_acknowledgment` is
/// refused by every gateway, so it is left out). Checkpoints, tasks and KV
/// remain available.
pub type MetricsBridgeClient = Client<MetricsBridge>;

impl Client<MetricsBridge> {
    /// A builder for the metrics bridge (a singleton per gateway).
    pub fn builder() -> ClientBuilder<Self> {
        ClientBuilder::new(Principal::metrics_bridge())
    }
}

impl Client<MetricsBridge> {
    /// METRIC messages with their payload decoded (the same slot as
    /// `on_metric`: registering one replaces the other). A payload that is
    /// not a `Metric` is logged and skipped; use `on_metric` with
    /// [`Message::decode_metric`] to see those too.
    ///
    /// ```no_run
    /// # async fn demo() -> aether_client::Result<()> {
    /// use aether_client::MetricsBridgeClient;
    /// let bridge = MetricsBridgeClient::builder().gateway("http://127.0.0.1:50051").build();
    /// bridge.on_metric_payload(|metric, msg| async move {
    ///     for e in &metric.entries {
    ///         println!("{} {} {}={}", msg.source_topic(), e.kind, e.name, e.qty);
    ///     }
    /// });
    /// bridge.connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn on_metric_payload<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::Metric, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let f = Arc::new(f);
        self.on_metric(move |msg| {
            let f = f.clone();
            async move {
                match msg.decode_metric() {
                    Some(metric) => f(metric, msg).await,
                    None => tracing::warn!(
                        source = %msg.source_topic(),
                        "METRIC message whose payload is not a Metric skipped"
                    ),
                }
            }
        });
        self
    }
}
