//! `METRIC` payload rules (§2.11).

use aether_protocol::proto::Metric;
use prost::Message;

use crate::reply::{ErrorReply, code};

/// Most entries in one metric.
const MAX_ENTRIES: usize = 1024;
/// Most metadata keys in one metric.
const MAX_METADATA: usize = 64;

/// Validates a metric payload; `Ok(true)` when some quantity is negative
/// (which the caller refuses later in the pipeline, as upstream does).
pub(crate) fn validate(payload: &[u8]) -> Result<bool, ErrorReply> {
    let metric = Metric::decode(payload).map_err(|e| {
        ErrorReply::new(code::METRIC_INVALID, format!("invalid metric payload: {e}"))
    })?;
    if metric.entries.is_empty() || metric.entries.len() > MAX_ENTRIES {
        return Err(ErrorReply::new(
            code::METRIC_EMPTY,
            format!(
                "metric must have 1-{MAX_ENTRIES} entries, got {}",
                metric.entries.len()
            ),
        ));
    }
    if metric.metadata.len() > MAX_METADATA {
        return Err(ErrorReply::new(
            code::METRIC_INVALID,
            format!("metric metadata has more than {MAX_METADATA} keys"),
        ));
    }
    let mut negative = false;
    for (i, e) in metric.entries.iter().enumerate() {
        if e.name.is_empty() {
            return Err(ErrorReply::new(
                code::METRIC_INVALID_ENTRY,
                format!("metric entry {i} has an empty name"),
            ));
        }
        if !e.qty.is_finite() {
            return Err(ErrorReply::new(
                code::METRIC_INVALID_ENTRY,
                format!("metric entry {i} ({}) has a non-finite quantity", e.name),
            ));
        }
        negative |= e.qty < 0.0;
    }
    Ok(negative)
}

/// The refusal of a metric with a negative quantity (no ACL engine grants
/// `capability/metric_credit`).
pub(crate) fn negative_forbidden() -> ErrorReply {
    ErrorReply::new(
        code::METRIC_NEGATIVE_FORBIDDEN,
        "negative metric quantities require capability/metric_credit",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::MetricEntry;

    fn encode(entries: Vec<MetricEntry>) -> Vec<u8> {
        Metric {
            entries,
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn entry(name: &str, qty: f64) -> MetricEntry {
        MetricEntry {
            name: name.into(),
            kind: String::new(),
            qty,
        }
    }

    #[test]
    fn rules() {
        assert_eq!(validate(&encode(vec![entry("a", 1.0)])), Ok(false));
        assert_eq!(validate(&encode(vec![entry("a", -1.0)])), Ok(true));
        assert_eq!(
            validate(&encode(vec![])).unwrap_err().code,
            code::METRIC_EMPTY
        );
        assert_eq!(
            validate(&encode(vec![entry("", 1.0)])).unwrap_err().code,
            code::METRIC_INVALID_ENTRY
        );
        assert_eq!(
            validate(&encode(vec![entry("a", f64::NAN)]))
                .unwrap_err()
                .code,
            code::METRIC_INVALID_ENTRY
        );
        assert_eq!(
            validate(&[0xff, 0xff]).unwrap_err().code,
            code::METRIC_INVALID
        );
    }
}
