//! Go's `strconv.Quote`, so error messages that Go tools print (`time.ParseDuration`,
//! `net/url`, BR) can be reproduced byte for byte.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Quotes `s` the way Go's `strconv.Quote` (and `%q`) does: printable characters stay as
/// they are, `"` and `\` are escaped, everything else becomes a Go escape sequence.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// `s` as it is when every character is printable, else [`quote`]d: for names and paths
/// echoed into messages and logs, so input can never start a new line, move the cursor
/// or reorder text (newlines, ESC, U+2028, bidi overrides are escaped).
pub fn quote_if_needed(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_go_printable) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quote(s))
    }
}

/// `s` with every non-printable character replaced by its Go escape sequence (no
/// surrounding quotes): for messages that already quote the values they embed, as a
/// last guarantee that one message is one line.
pub fn escape_unprintable(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_go_printable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_go_printable(c) {
            out.push(c);
        } else {
            let quoted = quote(c.encode_utf8(&mut [0; 4]));
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
    }
    Cow::Owned(out)
}

/// Approximates Go's `strconv.IsPrint` (letters, marks, numbers, punctuation, symbols and
/// the ASCII space). Rust's std has no Unicode general categories, so the non-printable
/// set is: control characters, every white space except U+0020, and the common invisible
/// format characters (Cf) users paste by accident.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e000}'..='\u{f8ff}' | '\u{fffe}' | '\u{ffff}' | '\u{e0001}'
        | '\u{e0020}'..='\u{e007f}')
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn matches_go_strconv_quote() {
        // Expected values printed by Go's strconv.Quote.
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote("1h 30m"), r#""1h 30m""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("a\nb\tc\u{0}"), r#""a\nb\tc\x00""#);
        assert_eq!(quote("\u{7f}"), r#""\x7f""#);
        assert_eq!(quote("1µs 数据库"), "\"1µs 数据库\"");
        assert_eq!(quote("\u{a0}\u{200b}\u{feff}"), r#""\u00a0\u200b\ufeff""#);
        assert_eq!(quote("\u{e0001}"), r#""\U000e0001""#);
    }

    #[test]
    fn names_and_messages_stay_on_one_line() {
        use super::{escape_unprintable, quote_if_needed};
        assert_eq!(quote_if_needed("demo1-backup"), "demo1-backup");
        assert_eq!(quote_if_needed("数据库 \"x\""), "数据库 \"x\"");
        assert_eq!(
            quote_if_needed("ok\nforged: line\u{1b}[2J"),
            r#""ok\nforged: line\x1b[2J""#
        );
        assert_eq!(
            quote_if_needed("a\u{2028}b\u{202e}c"),
            r#""a\u2028b\u202ec""#
        );
        assert_eq!(
            escape_unprintable("value \"a\" is bad"),
            "value \"a\" is bad"
        );
        assert_eq!(escape_unprintable("a\rb\u{85}c"), r#"a\rb\u0085c"#);
    }
}
