//! The stored form of a KV set (`SET_ADD`/`SET_CARD`): a sorted JSON array
//! of strings, as upstream stores it, so other readers can decode it.

use std::collections::BTreeSet;

/// Encodes `members` as a JSON array of strings (sorted: a `BTreeSet`).
pub(crate) fn encode(members: &BTreeSet<String>) -> Vec<u8> {
    let mut out = String::with_capacity(2 + members.iter().map(|m| m.len() + 3).sum::<usize>());
    out.push('[');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::json::quote(&mut out, m);
    }
    out.push(']');
    out.into_bytes()
}

/// Decodes a JSON array of strings; `None` if `bytes` is anything else.
pub(crate) fn decode(bytes: &[u8]) -> Option<BTreeSet<String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut p = Parser {
        chars: text.chars().peekable(),
    };
    p.skip_ws();
    p.expect('[')?;
    let mut set = BTreeSet::new();
    p.skip_ws();
    if p.eat(']') {
        return p.end().then_some(set);
    }
    loop {
        p.skip_ws();
        set.insert(p.string()?);
        p.skip_ws();
        if p.eat(']') {
            return p.end().then_some(set);
        }
        p.expect(',')?;
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self
            .chars
            .next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    }

    fn eat(&mut self, c: char) -> bool {
        self.chars.next_if_eq(&c).is_some()
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn end(&mut self) -> bool {
        self.skip_ws();
        self.chars.peek().is_none()
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v * 16 + self.chars.next()?.to_digit(16)?;
        }
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.chars.next()? {
                '"' => return Some(out),
                '\\' => out.push(match self.chars.next()? {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => self.unicode()?,
                    _ => return None,
                }),
                c if (c as u32) < 0x20 => return None,
                c => out.push(c),
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining
    /// surrogate pairs.
    fn unicode(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            self.expect('\\')?;
            self.expect('u')?;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        }
        char::from_u32(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn round_trips_sorted() {
        let s = set(&["b", "a", "q\"uote", "back\\slash", "nl\n", "\u{1}", "é😀"]);
        let bytes = encode(&s);
        assert!(bytes.starts_with(b"[\"\\u0001\",\"a\",\"b\""));
        assert_eq!(decode(&bytes), Some(s));
        assert_eq!(encode(&BTreeSet::new()), b"[]");
    }

    #[test]
    fn decodes_json_written_by_others() {
        assert_eq!(decode(b" [ \"x\" , \"y\" ] "), Some(set(&["x", "y"])));
        assert_eq!(decode(b"[]"), Some(BTreeSet::new()));
        assert_eq!(decode(br#"["\u00e9\ud83d\ude00\/"]"#), Some(set(&["é😀/"])));
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            &b""[..],
            b"1",
            b"[1]",
            b"[\"a\",]",
            b"[\"a\"",
            b"[\"a\"] x",
            b"{}",
            b"[\"\\ud800\"]",
            b"[\"\\q\"]",
            b"\xff",
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
