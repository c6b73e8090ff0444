//! The blocking metrics bridge's typed metric handler.

use super::principals::MetricsBridgeClient;
use crate::message::Message;
use crate::proto;

impl MetricsBridgeClient {
    /// METRIC messages with their payload decoded, on the handler thread
    /// (the same slot as `on_metric`). Payloads that are not a `Metric`
    /// are logged and skipped.
    pub fn on_metric_payload<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::Metric, Message) + Send + Sync + 'static,
    {
        self.on_metric(move |msg| match msg.decode_metric() {
            Some(metric) => f(metric, msg),
            None => tracing::warn!(
                source = %msg.source_topic(),
                "METRIC message whose payload is not a Metric skipped"
            ),
        });
        self
    }
}
