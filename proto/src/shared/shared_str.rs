//! A string that shares the buffer it lives in.

use std::fmt;
use std::ops::Deref;

use prost::bytes::Bytes;

/// UTF-8 text held in [`Bytes`]: cloning it, or taking it out of a
/// received frame, copies nothing.
///
/// ```
/// use aether_protocol::shared::SharedStr;
/// let topic = SharedStr::from(String::from("ag::ws::echo::one"));
/// let copy = topic.clone(); // a reference count, not a copy
/// assert_eq!(&*copy, "ag::ws::echo::one");
/// assert!(SharedStr::from_utf8(prost::bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Bytes);

impl SharedStr {
    /// The empty string.
    pub const fn new() -> Self {
        SharedStr(Bytes::new())
    }

    /// A string of static text (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        SharedStr(Bytes::from_static(s.as_bytes()))
    }

    /// `bytes` as a string, if it is UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        // Topics and workspaces are ASCII: checked a word at a time.
        if !bytes.is_ascii() {
            std::str::from_utf8(&bytes)?;
        }
        Ok(SharedStr(bytes))
    }

    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are UTF-8: every constructor takes them from a
        // `str` or `String`, or checks them (`from_utf8`), and the field is
        // private and never changed after. (Checking again on every read
        // was a tenth of the routing cost of a small message.)
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// Its length in bytes (without a pass over the text).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text's bytes, shared.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for SharedStr {
    /// Takes the string's buffer over (no copy).
    fn from(s: String) -> Self {
        SharedStr(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for SharedStr {
    /// Copies the text once.
    fn from(s: &str) -> Self {
        SharedStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> Self {
        s.as_str().to_owned()
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
