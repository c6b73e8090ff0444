//! Where a request goes: the Aether topic named by an `aether+sv://` URI,
//! or a target fixed when the service was made.

use http::Uri;

use crate::error::{Error, Result};
use crate::identity::wire_topic;

/// The URI scheme of HTTP over Aether: `aether+sv://IMPL--SPEC/PATH?QUERY`
/// reaches the instance `sv::IMPL::SPEC`, `aether+sv://IMPL/PATH` any
/// instance of `sv::IMPL`.
pub const SCHEME: &str = "aether+sv";

/// The service topic an `aether+sv://` URI names.
///
/// ```
/// use aether_client::http::target_of;
/// let uri: http::Uri = "aether+sv://web--1/hello?x=1".parse().unwrap();
/// assert_eq!(target_of(&uri)?, "sv::web::1");
/// let any: http::Uri = "aether+sv://web/hello".parse().unwrap();
/// assert_eq!(target_of(&any)?, "sv::web");
/// # Ok::<(), aether_client::Error>(())
/// ```
pub fn target_of(uri: &Uri) -> Result<String> {
    if uri.scheme_str() != Some(SCHEME) {
        return Err(Error::invalid(format!(
            "not an {SCHEME}:// URI (and the service has no fixed target): {uri}"
        )));
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::invalid(format!("the URI names no service: {uri}")))?;
    target_of_host(host)
}

/// The service topic of a host: `IMPL--SPEC` -> `sv::IMPL::SPEC` (split at
/// the first `--`), `IMPL` -> `sv::IMPL`.
pub(crate) fn target_of_host(host: &str) -> Result<String> {
    // Each segment validated, the topic written once.
    let topic = match host.split_once("--") {
        Some((implementation, specifier)) => wire_topic(
            "sv",
            &[("implementation", implementation), ("specifier", specifier)],
        ),
        None => wire_topic("sv", &[("implementation", host)]),
    };
    Ok(topic?)
}

/// The path and query a request carries on the wire (`/` when empty).
pub(crate) fn path_of(uri: &Uri) -> String {
    match uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => {
            let s = pq.as_str();
            if s.starts_with('/') {
                s.to_string()
            } else {
                format!("/{s}")
            }
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_service_topics() {
        assert_eq!(target_of_host("web--1").unwrap(), "sv::web::1");
        assert_eq!(target_of_host("web").unwrap(), "sv::web");
        assert_eq!(target_of_host("a--b--c").unwrap(), "sv::a::b--c");
        assert!(target_of_host("a::b::c").is_err());
    }

    #[test]
    fn other_schemes_are_refused() {
        let uri: Uri = "http://web--1/x".parse().unwrap();
        assert!(target_of(&uri).is_err());
    }

    #[test]
    fn paths_keep_their_query() {
        let uri: Uri = "aether+sv://web/a/b?c=d".parse().unwrap();
        assert_eq!(path_of(&uri), "/a/b?c=d");
        let bare: Uri = "aether+sv://web".parse().unwrap();
        assert_eq!(path_of(&bare), "/");
    }
}
