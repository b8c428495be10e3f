//! Go's own `regexp/syntax` error and parse vectors, and what the translation must keep
//! of Go's meaning, matched the way BR's table filter matches: case-insensitively, on
//! lower-cased names.

use super::*;

/// Go's error text after the `error parsing regexp: ` prefix every message has.
fn regex_error(src: &str) -> String {
    let text = match GoRegex::parse(src, true) {
        Ok(regex) => panic!("{src:?} should fail, got {regex:?}"),
        Err(e) => e.to_string(),
    };
    text.strip_prefix("error parsing regexp: ")
        .unwrap_or_else(|| panic!("{src:?}: {text}"))
        .to_owned()
}

/// Whether the Go regex `src` matches `name` as BR's case-insensitive filter does.
fn hit(src: &str, name: &str) -> bool {
    let regex = GoRegex::parse(src, true).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    let compiled = regex.compile().unwrap_or_else(|e| panic!("{src:?}: {e}"));
    // Go's strings.ToLower, as the table filter lower-cases names.
    let lowered: String = name
        .chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect();
    compiled.is_match(lowered.as_bytes())
}

fn compiles(src: &str) -> bool {
    GoRegex::parse(src, true).is_ok_and(|regex| regex.compile().is_ok())
}

#[test]
fn go_regex_errors() {
    let cases = [
        ("a)", "unexpected ): `a)`"),
        ("(a", "missing closing ): `(a`"),
        ("*a", "missing argument to repetition operator: `*`"),
        ("a|*", "missing argument to repetition operator: `*`"),
        ("(?i)+", "missing argument to repetition operator: `+`"),
        ("a**", "invalid nested repetition operator: `**`"),
        ("a*?+", "invalid nested repetition operator: `*?+`"),
        ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
        ("a{1001}", "invalid repeat count: `{1001}`"),
        ("a{2,1}", "invalid repeat count: `{2,1}`"),
        ("a{1,1001}", "invalid repeat count: `{1,1001}`"),
        ("a{100000000}", "invalid repeat count: `{100000000}`"),
        ("(a{100}){20}", "invalid repeat count: `{20}`"),
        ("((a{10}){10}){11}?", "invalid repeat count: `{11}?`"),
        ("[a", "missing closing ]: `[a`"),
        ("[]", "missing closing ]: `[]`"),
        ("[b-a]", "invalid character class range: `b-a`"),
        ("[[:wort:]]", "invalid character class range: `[:wort:]`"),
        (r"\p{Foo}", r"invalid character class range: `\p{Foo}`"),
        (r"\p{greek}", r"invalid character class range: `\p{greek}`"),
        (r"\pX", r"invalid character class range: `\pX`"),
        (r"\p{Lu", r"invalid character class range: `\p{Lu`"),
        (r"[\p{Foo}]", r"invalid character class range: `\p{Foo}`"),
        (r"\e", r"invalid escape sequence: `\e`"),
        (r"\C", r"invalid escape sequence: `\C`"),
        (r"\1", r"invalid escape sequence: `\1`"),
        (r"\8", r"invalid escape sequence: `\8`"),
        (r"\xZZ", r"invalid escape sequence: `\xZZ`"),
        (r"\x{}", r"invalid escape sequence: `\x{}`"),
        (r"\x{110000}", r"invalid escape sequence: `\x{110000`"),
        (r"[\b]", r"invalid escape sequence: `\b`"),
        ("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
        ("(?i", "invalid or unsupported Perl syntax: `(?i`"),
        ("(?-)", "invalid or unsupported Perl syntax: `(?-)`"),
        ("(?i-m-s)", "invalid or unsupported Perl syntax: `(?i-m-`"),
        ("(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
        ("(?P<a-b>x)", "invalid named capture: `(?P<a-b>`"),
        ("(?P<>x)", "invalid named capture: `(?P<>`"),
        ("(?<=a)b", "invalid named capture: `(?<=a)b`"),
    ];
    for (src, message) in cases {
        assert_eq!(regex_error(src), message, "{src}");
    }
}

/// Go syntax that Rust's regex crate reads differently or not at all.
#[test]
fn go_regex_semantics() {
    // Perl classes and word boundaries are ASCII-only in Go.
    assert!(hit(r"^\d+$", "123"));
    assert!(!hit(r"^\d+$", "١٢٣"));
    assert!(!hit(r"^\w+$", "école"));
    assert!(hit(r"\bx", "éx"));
    assert!(!hit(r"^\s$", "\u{b}"));
    assert!(hit(r"^\S$", "\u{b}"));
    // Go-only escapes and quoting.
    assert!(hit(r"^\141$", "a"));
    assert!(hit(r"^\0$", "\0"));
    assert!(hit(r"^\x41\x{42}$", "ab"));
    assert!(hit(r"^\Qa.b\E$", "a.b"));
    assert!(!hit(r"^\Qa.b\E$", "axb"));
    assert!(hit(r"^\Qa.b$", "a.b$"));
    assert!(hit(r"^\<\>$", "<>"));
    assert!(hit(r"^\_$", "_"));
    // Literal braces, class syntax Rust would treat specially.
    assert!(hit("^a{,2}$", "a{,2}"));
    assert!(hit("^a{x$", "a{x"));
    assert!(hit("^[a&&b]$", "&"));
    assert!(hit("^[a-]$", "-"));
    assert!(hit("^[]a]$", "]"));
    assert!(hit("^[[:^digit:]]$", "é"));
    assert!(!hit("^[^a]$", "A"));
    // Named groups (digits allowed), flags, laziness.
    assert!(hit("^(?P<1st>a)(?<n>b)$", "ab"));
    assert!(hit("^(?s:.)$", "\n"));
    assert!(!hit("^.$", "\n"));
    assert!(hit("(?m)^b$", "a\nb"));
    assert!(!hit("^b$", "a\nb"));
    assert!(!hit("^a$", "a\n"));
    // Go matches lower-cased names, so turning folding off again makes
    // an upper-case literal unmatchable.
    assert!(!hit("(?-i)^A$", "a"));
    // No `:]` follows, so `[:` is two ordinary class characters.
    assert!(hit("^[[:word]+$", "w:[d"));
    assert!(hit("^(?U)a+?$", "aaa"));
    // Unicode classes.
    assert!(hit(r"^\p{Greek}+$", "αβγ"));
    assert!(!hit(r"^\P{Greek}$", "α"));
    assert!(hit(r"^\p{^Greek}$", "a"));
    assert!(hit(r"^\pL\pN$", "a1"));
    assert!(hit(r"^[\p{Han}x]+$", "中x"));
    assert!(hit(r"^\p{Any}$", "😀"));
    assert!(!hit(r"\p{Cs}", "a"));
    assert!(hit(r"^\P{Cs}$", "a"));
    assert!(hit(r"^[\p{Cs}a]$", "a"));
    assert!(!hit(r"[\p{Cs}]", "a"));
    // Surrogates are accepted by Go and never match.
    assert!(!hit(r"\x{D800}", "a"));
    assert!(hit(r"^[^\x{D800}]$", "a"));
    assert!(!hit(r"[\x{D800}-\x{DFFF}]", "a"));
}

#[test]
fn every_go_unicode_name_compiles() {
    for name in GO_CATEGORIES.iter().chain(GO_SCRIPTS.iter()) {
        for src in [format!(r"\p{{{name}}}"), format!(r"[\P{{{name}}}]")] {
            assert!(compiles(&src), "{src}");
        }
    }
}

/// Go refuses parse trees taller than 1000; the deepest valid patterns
/// must still compile (this also runs on the 2 MiB test-thread stack).
#[test]
fn nesting_limit_follows_go_tree_height() {
    let captures = |k: usize| format!("{}a{}", "(".repeat(k), ")".repeat(k));
    let stars = |k: usize| format!("{}a*{}", "(?:".repeat(k), ")*".repeat(k));
    let alternations = |k: usize| format!("{}a{}", "(b|".repeat(k), ")".repeat(k));
    let concats = |k: usize| format!("{}x{}", "(?:a*b".repeat(k), ")".repeat(k));
    let lazy_alts = |k: usize| format!("{}a{}", "(?:b|".repeat(k), "){0,1}?".repeat(k));
    // Go heights: k+1, k+2, 2k+1, k+2 (`b` and `x` merge, `a*` is 2)
    // and 2k+1.
    for (valid, invalid) in [
        (captures(999), captures(1000)),
        (stars(998), stars(999)),
        (alternations(499), alternations(500)),
        (concats(998), concats(999)),
        (lazy_alts(499), lazy_alts(500)),
    ] {
        assert!(compiles(&valid), "{}", &valid[..20]);
        let src = invalid.clone();
        assert_eq!(
            regex_error(&invalid),
            format!("expression nests too deeply: `{src}`")
        );
    }
    // Non-capturing groups are not nodes in Go's tree.
    assert!(
        GoRegex::parse(
            &format!("{}a{}", "(?:".repeat(5000), ")".repeat(5000)),
            true
        )
        .is_ok()
    );
}

#[test]
fn large_but_valid_patterns_compile() {
    assert!(compiles(r"\pL{1000}"));
    assert!(compiles("((a{10}){10}){10}"));
    let deep = format!("{}a{}", "(?:b|".repeat(300), ")".repeat(300));
    assert!(compiles(&deep));
}
