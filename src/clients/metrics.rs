//! The metrics bridge's typed metric handler.

use std::future::Future;
use std::sync::Arc;

use super::principals::MetricsBridgeClient;
use crate::message::Message;
use crate::proto;

impl MetricsBridgeClient {
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
