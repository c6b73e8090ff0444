//! The little JSON the gateway writes itself: quoted strings and flat
//! objects of strings (`AuditEntry.metadata_json`, task completion events).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Appends `s` to `out` as a JSON string.
pub(crate) fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{"k":"v",...}` in key order; empty for an empty map.
pub(crate) fn object(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&mut out, k);
        out.push(':');
        quote(&mut out, v);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut m = BTreeMap::new();
        assert_eq!(object(&m), "");
        m.insert("b".to_string(), "x\"y\\z\n\u{1}".to_string());
        m.insert("a".to_string(), "ü".to_string());
        assert_eq!(object(&m), r#"{"a":"ü","b":"x\"y\\z\n\u0001"}"#);
    }
}
