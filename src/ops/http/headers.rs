//! [`Headers`]: HTTP headers as the wire carries them.

use std::fmt;

use aether_protocol::shared::{Header, SharedStr};

/// HTTP headers as the wire carries them: names matched in any case, in
/// the order they were set or arrived. [`insert`](Self::insert) keeps one
/// value per name (join repeated values with `, `); a peer may still send
/// a name twice, and then [`get`](Self::get) reads the last, as a map
/// decoded from the same bytes would, and as the `http::HeaderMap` the
/// terminator hands its service holds.
///
/// Received headers copy nothing out of the frame they arrived in (they
/// get a buffer of their own when the frame carried a large body, so that
/// keeping them does not keep the body). It is a list, and lookups scan
/// it: quick for the tens of headers HTTP carries. Equality compares the
/// entries in order, names in their case.
///
/// ```
/// use aether_client::proxy::Headers;
///
/// let mut h = Headers::from([("Content-Type", "text/plain")]);
/// h.insert("x-trace", "1");
/// h.insert("content-type", "application/json"); // replaces, in any case
/// assert_eq!(h.get("CONTENT-TYPE"), Some("application/json"));
/// assert_eq!(h.len(), 2);
/// assert_eq!(h.iter().collect::<Vec<_>>(), [("x-trace", "1"), ("content-type", "application/json")]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// The value of `name` (in any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        aether_protocol::shared::http::find(&self.0, name)
    }

    /// Whether `name` (in any case) is set.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, replacing any value it had (in any case).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = SharedStr::from(name.into());
        self.0.retain(|h| !h.is(&name));
        self.0.push(Header {
            name,
            value: SharedStr::from(value.into()),
        });
    }

    /// Removes `name` (in any case); its value, if it was set.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let value = self.get(name)?.to_string();
        self.0.retain(|h| !h.is(name));
        Some(value)
    }

    /// How many entries there are (one per name, unless a peer repeated
    /// one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each name and its value.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.into_iter()
    }

    /// The most headers a request or response carries: sending more fails
    /// with an invalid-input error, and receiving more refuses that request
    /// or response with `PAYLOAD_TOO_LARGE`. A request's gateway adds up to
    /// 12 identity headers to it, within the same bound.
    pub const MAX: usize = aether_protocol::shared::http::MAX_HEADERS;

    /// An invalid-input error when there are more than [`MAX`](Self::MAX).
    pub(crate) fn check_count(&self) -> crate::error::Result<()> {
        if self.0.len() > Self::MAX {
            return Err(crate::error::Error::invalid(format!(
                "{} headers; at most {} fit a request or response",
                self.0.len(),
                Self::MAX
            )));
        }
        Ok(())
    }

    /// Room for `n` names.
    #[cfg(feature = "http")]
    pub(crate) fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    /// Headers received from the wire, as they arrived in a frame whose
    /// inline body is `body_len` bytes: past 16 KiB, they are detached
    /// from the frame.
    pub(crate) fn from_wire(mut headers: Vec<Header>, body_len: usize) -> Self {
        if body_len > 16 * 1024 {
            aether_protocol::shared::http::detach(&mut headers);
        }
        Headers(headers)
    }

    /// Headers whose names are known to be distinct (built from a map).
    #[cfg(feature = "http")]
    pub(crate) fn push_distinct(
        &mut self,
        name: impl Into<SharedStr>,
        value: impl Into<SharedStr>,
    ) {
        self.0.push(Header::new(name, value));
    }

    /// The wire's entries.
    pub(crate) fn into_wire(self) -> Vec<Header> {
        self.0
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, Header>, fn(&'a Header) -> (&'a str, &'a str)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|h| (h.name.as_str(), h.value.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    /// Each pair inserted in turn (a later name replaces an earlier one).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        h.extend(iter);
        h
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for Headers {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Headers {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_in_any_case_and_the_last_received_wins() {
        let received = Headers::from_wire(
            vec![
                Header::from_static("Accept", "a"),
                Header::from_static("ACCEPT", "b"),
            ],
            0,
        );
        let pairs: Vec<_> = (&received).into_iter().collect();
        assert_eq!(pairs, [("Accept", "a"), ("ACCEPT", "b")]);
        assert_eq!(received.get("accept"), Some("b"));
        assert!(received.contains("Accept"));
        let mut h = received.clone();
        assert_eq!(h.remove("accept"), Some("b".to_string()));
        assert!(h.is_empty(), "every entry of the name goes");
        assert_eq!(h.remove("accept"), None);
    }

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut h: Headers = [("a", "1"), ("b", "2")].into();
        h.insert("A", "3");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("b", "2"), ("A", "3")]);
        h.extend([("c", "4")]);
        assert_eq!(h.len(), 3);
        assert_eq!(format!("{h:?}"), r#"{"b": "2", "A": "3", "c": "4"}"#);
    }
}
