//! One validated segment of an identity or topic (`ws`, `impl`, `spec`, ...).

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// Longest segment the gateway accepts, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 128;

/// A validated identifier segment.
///
/// The gateway rejects a segment that is longer than 128 bytes, contains the
/// separator `::`, begins or ends with `:`, or contains `*`, `>`, a space,
/// DEL or any control byte. Everything else (dots, `@`, `/`, a single `:`
/// inside the segment, Unicode) is allowed. An empty segment is accepted
/// (the gateway tolerates it), but principal constructors that need a value
/// reject it.
///
/// A `:` at either edge is refused because it makes joined identities
/// ambiguous: `ag::pay:::roll::s` would be both (workspace `pay:`,
/// implementation `roll`) and (workspace `pay`, implementation `:roll`),
/// two principals sharing one identity lock, mailbox and checkpoints.
///
/// ```
/// use aether_protocol::identity::Segment;
/// assert!(Segment::new("my.agent@v2").is_ok());
/// assert!(Segment::new("a:b").is_ok());
/// assert!(Segment::new("bad::name").is_err());
/// assert!(Segment::new("pay:").is_err());
/// assert!(Segment::new(":roll").is_err());
/// assert!(Segment::new("wild*").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Segment(String);

/// Why a segment was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// Longer than [`MAX_SEGMENT_BYTES`].
    #[error("segment is {0} bytes long; the limit is {MAX_SEGMENT_BYTES}")]
    TooLong(usize),
    /// Contains the `::` separator.
    #[error("segment contains the separator `::`")]
    Separator,
    /// Begins or ends with `:`, which would make a joined identity
    /// ambiguous (`pay:` + `roll` and `pay` + `:roll` both join to
    /// `pay:::roll`).
    #[error("segment begins or ends with `:`")]
    EdgeColon,
    /// Contains a forbidden character (`*`, `>`, space, DEL or a control byte).
    #[error("segment contains the forbidden character {0:?}")]
    ForbiddenChar(char),
    /// Empty where a value is required.
    #[error("segment `{0}` must not be empty")]
    Empty(&'static str),
}

impl Segment {
    /// Validates `value` as a segment.
    pub fn new(value: impl Into<String>) -> Result<Self, SegmentError> {
        let value = value.into();
        validate(&value)?;
        Ok(Segment(value))
    }

    /// Validates `value` and also requires it to be non-empty; `what` names
    /// the field in the error.
    pub fn non_empty(what: &'static str, value: impl Into<String>) -> Result<Self, SegmentError> {
        let seg = Self::new(value)?;
        if seg.0.is_empty() {
            return Err(SegmentError::Empty(what));
        }
        Ok(seg)
    }

    /// The segment as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the segment, returning the string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The bytes a segment may not contain: control characters, space, `*`,
/// `>` and DEL.
static FORBIDDEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x21 {
        table[b] = true;
        b += 1;
    }
    table[b'*' as usize] = true;
    table[b'>' as usize] = true;
    table[0x7f] = true;
    table
};

/// The bytes that need a closer look: the forbidden ones and `:`.
static SPECIAL: [bool; 256] = {
    let mut table = FORBIDDEN;
    table[b':' as usize] = true;
    table
};

/// Checks a raw string against the gateway's segment rules.
pub fn validate(value: &str) -> Result<(), SegmentError> {
    if value.len() > MAX_SEGMENT_BYTES {
        return Err(SegmentError::TooLong(value.len()));
    }
    // The common case, on every send: no `:` and nothing forbidden. One
    // table lookup per byte, no state.
    if !value.bytes().any(|b| SPECIAL[usize::from(b)]) {
        return Ok(());
    }
    validate_special(value)
}

/// [`validate`] for a segment with a `:` or a forbidden byte.
fn validate_special(value: &str) -> Result<(), SegmentError> {
    // Every forbidden character is ASCII, so bytes suffice (a UTF-8
    // continuation byte is never ASCII). One pass over a lookup table: this
    // runs on every send.
    let bytes = value.as_bytes();
    if bytes.first() == Some(&b':') || bytes.last() == Some(&b':') {
        // `::` inside is reported as a separator even at an edge.
        if value.contains("::") {
            return Err(SegmentError::Separator);
        }
        return Err(SegmentError::EdgeColon);
    }
    let mut forbidden = None;
    let mut after_colon = false;
    for &b in bytes {
        if b == b':' {
            if after_colon {
                return Err(SegmentError::Separator);
            }
            after_colon = true;
            continue;
        }
        after_colon = false;
        if FORBIDDEN[usize::from(b)] && forbidden.is_none() {
            forbidden = Some(b);
        }
    }
    match forbidden {
        Some(b) => Err(SegmentError::ForbiddenChar(char::from(b))),
        None => Ok(()),
    }
}

impl Deref for Segment {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Segment {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for Segment {
    type Err = SegmentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Segment::new(s)
    }
}

impl TryFrom<&str> for Segment {
    type Error = SegmentError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Segment::new(s)
    }
}

impl TryFrom<String> for Segment {
    type Error = SegmentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Segment::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_gateway_accepts() {
        for ok in [
            "a",
            "",
            "my.agent",
            "x@y/z|w",
            "a:b",
            "ünïcode",
            &"x".repeat(128),
        ] {
            assert!(Segment::new(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn rejects_what_the_gateway_rejects() {
        assert_eq!(Segment::new("a::b"), Err(SegmentError::Separator));
        assert_eq!(Segment::new("::b"), Err(SegmentError::Separator));
        assert_eq!(Segment::new("pay:"), Err(SegmentError::EdgeColon));
        assert_eq!(Segment::new(":roll"), Err(SegmentError::EdgeColon));
        assert_eq!(Segment::new(":"), Err(SegmentError::EdgeColon));
        assert_eq!(Segment::new("a*"), Err(SegmentError::ForbiddenChar('*')));
        assert_eq!(Segment::new("a>"), Err(SegmentError::ForbiddenChar('>')));
        assert_eq!(Segment::new("a b"), Err(SegmentError::ForbiddenChar(' ')));
        assert_eq!(Segment::new("a\n"), Err(SegmentError::ForbiddenChar('\n')));
        assert_eq!(
            Segment::new("a\u{7f}"),
            Err(SegmentError::ForbiddenChar('\u{7f}'))
        );
        assert_eq!(
            Segment::new("x".repeat(129)),
            Err(SegmentError::TooLong(129))
        );
        assert_eq!(
            Segment::non_empty("workspace", ""),
            Err(SegmentError::Empty("workspace"))
        );
    }
}
