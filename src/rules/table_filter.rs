//! Admission-time copy of the TiDB table-filter grammar (`spec.tableFilter`).
//!
//! BR parses `--filter` rules with tidb-tools `pkg/table-filter` (`filter.Parse`)
//! and then wraps the result in `filter.CaseInsensitive`. This module accepts
//! and rejects exactly the same rules, with the same error text (including the
//! `at <cmdline>:1: ` prefix BR prints), so a bad rule fails at admission
//! rather than minutes later inside the backup Job. The one deliberate
//! difference: `@file` imports are rejected ([`FilterErrorKind::FileImport`]),
//! because the file would have to exist inside the BR container.
//!
//! # Rule syntax
//!
//! One rule per list entry, trimmed of spaces and tabs. Empty entries and
//! entries starting with `#` are ignored; a leading `!` makes the rule
//! exclude. The rest is `<schema-pattern>.<table-pattern>`, each pattern being
//! a wildcard (`*`, `?`, `[a-z]`, `[!a-z]`, `\` escapes; anchored), a quoted
//! name (`"…"` or `` `…` ``) or a `/regex/` (unanchored). The last rule that
//! matches a table decides; a table no rule matches is excluded.
//!
//! # Regular expressions
//!
//! BR compiles both `/regex/` patterns and the regexes it derives from
//! wildcards with Go's `regexp`. They are checked and translated by
//! [`super::go_regex`], which documents where Go's syntax and the `regex`
//! crate's differ, and compiled on first match only.
//!
//! # Resource use
//!
//! Parsing (all that validation needs) is linear in the rule length and takes
//! microseconds; regexes are compiled on first match. A pattern the `regex`
//! crate cannot compile (only past [`super::go_regex::REGEX_SIZE_LIMIT`], for
//! patterns Go would accept) matches nothing.

use std::fmt;
use std::sync::OnceLock;

use regex::bytes::Regex;

use super::go_regex::GoRegex;

/// BR reports command-line rules as line 1 of a pseudo-file named
/// `<cmdline>`. The line number never advances for command-line rules.
const ERROR_PREFIX: &str = "at <cmdline>:1: ";

/// Which kind of problem a [`FilterError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// The rule is invalid for BR too; the message is BR's own text.
    Syntax,
    /// `@file` import: valid for BR, but the webhook cannot see the file.
    FileImport,
}

/// A rejected rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// Position of the offending entry in the rule list.
    pub index: usize,
    /// What kind of problem this is.
    pub kind: FilterErrorKind,
    /// For [`FilterErrorKind::Syntax`], exactly the text BR's `filter.Parse`
    /// returns.
    pub message: String,
}

/// One parsed rule (a non-blank, non-comment entry).
#[derive(Debug, Clone)]
pub struct Rule {
    text: String,
    negative: bool,
    schema: Matcher,
    table: Matcher,
}

impl Rule {
    /// True for `!` rules, which exclude the tables they match.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The rule as written, without the surrounding spaces and tabs.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether both patterns match, ignoring case as BR does. The `!` does not
    /// change the result.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        self.matches_lowered(&go_to_lower(schema), &go_to_lower(table))
    }

    fn matches_lowered(&self, schema: &str, table: &str) -> bool {
        self.schema.is_match(schema) && self.table.is_match(table)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A parsed rule list with BR's case-insensitive matching.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    rules: Vec<Rule>,
}

impl TableFilter {
    /// The rules in list order; blank and comment entries are left out.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether BR would process `schema.table`: the last matching rule
    /// decides, and a table that no rule matches is excluded.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        let (schema, table) = (go_to_lower(schema), go_to_lower(table));
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.matches_lowered(&schema, &table))
            .is_some_and(|rule| !rule.negative)
    }

    /// Whether BR would consider `schema` at all (Go's `MatchSchema`). A
    /// negative rule only excludes a whole schema when its table pattern is
    /// exactly `*`.
    pub fn matches_schema(&self, schema: &str) -> bool {
        let schema = go_to_lower(schema);
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.schema.is_match(&schema) && (!rule.negative || rule.table.is_all()))
            .is_some_and(|rule| !rule.negative)
    }
}

/// Parses one entry. Blank and comment entries give `Ok(None)`. Errors report
/// index 0.
pub fn parse_rule(line: &str) -> Result<Option<Rule>, FilterError> {
    parse_entry(line, 0)
}

/// Parses a whole `tableFilter` list and stops at the first bad entry, as BR
/// does.
pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<TableFilter, FilterError> {
    let mut parsed = Vec::with_capacity(rules.len());
    for (index, line) in rules.iter().enumerate() {
        if let Some(rule) = parse_entry(line.as_ref(), index)? {
            parsed.push(rule);
        }
    }
    Ok(TableFilter { rules: parsed })
}

fn parse_entry(line: &str, index: usize) -> Result<Option<Rule>, FilterError> {
    let text = line.trim_matches([' ', '\t']);
    let (negative, body) = match text.as_bytes().first() {
        None | Some(b'#') => return Ok(None),
        Some(b'!') => (true, &text[1..]),
        Some(b'@') => {
            return Err(FilterError {
                index,
                kind: FilterErrorKind::FileImport,
                message: format!(
                    "importing filter rules from a file ({text}) is not supported: list the rules inline"
                ),
            });
        }
        Some(_) => (false, text),
    };
    let (schema, table) = parse_body(body).map_err(|message| FilterError {
        index,
        kind: FilterErrorKind::Syntax,
        message: format!("{ERROR_PREFIX}{message}"),
    })?;
    Ok(Some(Rule {
        text: text.to_owned(),
        negative,
        schema,
        table,
    }))
}

/// Parses `<schema>.<table>`; errors are BR's messages without the prefix.
fn parse_body(body: &str) -> Result<(Matcher, Matcher), String> {
    let (schema, rest) = parse_pattern(body)?;
    let Some(after_dot) = rest.strip_prefix('.') else {
        return Err(if rest.is_empty() {
            "missing table pattern".to_owned()
        } else {
            "syntax error: missing '.' between schema and table patterns".to_owned()
        });
    };
    let (table, rest) = parse_pattern(after_dot)?;
    if !rest.is_empty() {
        return Err("syntax error: stray characters after table pattern".to_owned());
    }
    Ok((schema, table))
}

/// How one schema or table pattern matches a (lower-cased) name.
#[derive(Debug, Clone)]
enum Matcher {
    /// The wildcard `*` (Go special-cases it; `MatchSchema` needs to know).
    All,
    /// A plain or quoted name, stored lower-cased.
    Exact(String),
    /// A translated, case-insensitive regex, unanchored as in Go.
    Regex(LazyRegex),
}

/// A pattern already checked with Go's rules, compiled on first match only:
/// admission needs the syntax verdict, and compiling case-insensitive Unicode
/// classes costs tens of microseconds per rule.
#[derive(Debug, Clone)]
struct LazyRegex {
    regex: GoRegex,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// `None` when the `regex` crate refuses the pattern (only past its size
    /// limit, for patterns Go would accept); such a pattern matches nothing.
    fn get(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| self.regex.compile().ok())
            .as_ref()
    }
}

impl Matcher {
    fn is_match(&self, lowered: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Exact(name) => name == lowered,
            Matcher::Regex(lazy) => lazy.get().is_some_and(|re| re.is_match(lowered.as_bytes())),
        }
    }

    fn is_all(&self) -> bool {
        matches!(self, Matcher::All)
    }
}

/// Go's `strings.ToLower`: simple per-character mapping. The only character
/// whose full lower case is longer (U+0130) has `i` as its simple mapping,
/// which is the first character of the full one.
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Parses one pattern at the start of `line`; returns it and the rest.
fn parse_pattern(line: &str) -> Result<(Matcher, &str), String> {
    match line.as_bytes().first() {
        None => Err("syntax error: missing pattern".to_owned()),
        Some(b'/') => {
            let end = regex_literal_end(line.as_bytes())
                .ok_or_else(|| "syntax error: incomplete regexp".to_owned())?;
            Ok((compile_go_regex(&line[1..end - 1])?, &line[end..]))
        }
        Some(&quote @ (b'"' | b'`')) => {
            let end = quoted_end(line.as_bytes(), quote)
                .ok_or_else(|| "syntax error: incomplete quoted identifier".to_owned())?;
            let q = char::from(quote);
            let name = line[1..end - 1].replace(&format!("{q}{q}"), &q.to_string());
            Ok((Matcher::Exact(go_to_lower(&name)), &line[end..]))
        }
        Some(_) => parse_wildcard(line),
    }
}

/// End of the leading `/regex/`, as Go's leftmost-first match of
/// `^/(?:\\.|[^/])+/` finds it.
fn regex_literal_end(b: &[u8]) -> Option<usize> {
    delimited_end(b, b'/', |i| {
        b[i] == b'\\' && b.get(i + 1).is_some_and(|&next| next != b'\n')
    })
}

/// End of the leading quoted name, as Go's match of `^"(?:""|[^"])+"` (or
/// the backquote form) finds it.
fn quoted_end(b: &[u8], quote: u8) -> Option<usize> {
    delimited_end(b, quote, |i| b[i] == quote && b.get(i + 1) == Some(&quote))
}

/// Finds where Go's match of `^D(?:PAIR|[^D])+D` ends. `delim` is D, and
/// `pair(i)` tells whether the two-byte alternative starts at `i`.
///
/// Go's regexp prefers the same path a backtracking matcher would try first.
/// That path is the greedy scan, and it usually succeeds. When it does not
/// (no closing delimiter outside a pair), Go falls back to splitting a pair:
/// `/a\/.x` is the regex `a\`. Working on bytes gives the same answer as
/// working on characters, because every decision is made on an ASCII byte.
fn delimited_end(b: &[u8], delim: u8, pair: impl Fn(usize) -> bool) -> Option<usize> {
    let n = b.len();
    let mut i = 1;
    while i < n && (pair(i) || b[i] != delim) {
        i += if pair(i) { 2 } else { 1 };
    }
    if i > 1 && i < n {
        return Some(i + 1);
    }
    // Try every path in Go's order of preference, working back from the end.
    // `best[i]` is the first end reachable from byte `i` once at least one
    // character is consumed: a pair first, then one character, then the
    // closing delimiter.
    let mut best = vec![None; n + 1];
    for i in (2..n).rev() {
        let via_pair = if pair(i) { best[i + 2] } else { None };
        let via_single = if b[i] != delim { best[i + 1] } else { None };
        let close = (b[i] == delim).then_some(i + 1);
        best[i] = via_pair.or(via_single).or(close);
    }
    // The first character is mandatory (`+`), so the delimiter cannot close
    // at byte 1.
    let via_pair = if n > 2 && pair(1) { best[3] } else { None };
    let via_single = if n > 1 && b[1] != delim {
        best[2]
    } else {
        None
    };
    via_pair.or(via_single)
}

/// End of the leading wildcard class, as Go's match of
/// `^\[!?(?:\\[^0-9a-zA-Z]|[^\\\]])+\]` finds it. Only one path can match
/// the body, so the only backtracking is over the optional `!`: `[!]` is a
/// class holding `!`.
fn wildcard_class_end(b: &[u8]) -> Option<usize> {
    let scan = |mut i: usize| {
        let mut started = false;
        loop {
            match b.get(i) {
                Some(b']') if started => return Some(i + 1),
                Some(b'\\') => match b.get(i + 1) {
                    Some(c) if !c.is_ascii_alphanumeric() => i += 2,
                    _ => return None,
                },
                Some(b']') | None => return None,
                Some(_) => i += 1,
            }
            started = true;
        }
    };
    if b.get(1) == Some(&b'!')
        && let Some(end) = scan(2)
    {
        return Some(end);
    }
    scan(1)
}

/// Parses a wildcard or plain name, stopping at the `.` separator. A name
/// without wildcards stays an exact match; otherwise it becomes the same
/// anchored Go regex BR builds, so class contents get Go's checks.
fn parse_wildcard(line: &str) -> Result<(Matcher, &str), String> {
    let mut literal = String::new();
    let mut is_literal = true;
    let mut go_re = String::from("(?s)^");
    let mut i = 0;
    while let Some(c) = line[i..].chars().next() {
        match c {
            '\\' => {
                let Some(esc) = line[i + 1..].chars().next() else {
                    return Err(r"syntax error: cannot place \ at end of line".to_owned());
                };
                if esc.is_ascii_alphanumeric() {
                    return Err(format!(
                        r"cannot escape a letter or number (\{esc}), it is reserved for future extension"
                    ));
                }
                literal.push(esc);
                if esc.is_ascii() {
                    go_re.push('\\');
                }
                go_re.push(esc);
                i += 1 + esc.len_utf8();
            }
            '.' => break,
            '*' => {
                is_literal = false;
                go_re.push_str(".*");
                i += 1;
            }
            '?' => {
                is_literal = false;
                go_re.push('.');
                i += 1;
            }
            '[' => {
                is_literal = false;
                let end = wildcard_class_end(&line.as_bytes()[i..])
                    .map(|len| i + len)
                    .ok_or_else(|| "syntax error: failed to parse character class".to_owned())?;
                // `[!…]` negates; a leading `^` is an ordinary character.
                match line.as_bytes().get(i + 1) {
                    Some(b'!') => {
                        go_re.push_str("[^");
                        go_re.push_str(&line[i + 2..end]);
                    }
                    Some(b'^') => {
                        go_re.push_str(r"[\^");
                        go_re.push_str(&line[i + 2..end]);
                    }
                    _ => go_re.push_str(&line[i..end]),
                }
                i = end;
            }
            c if c == '$' || c == '_' || c.is_ascii_alphanumeric() || !c.is_ascii() => {
                literal.push(c);
                go_re.push(c);
                i += c.len_utf8();
            }
            c => return Err(format!("unexpected special character '{c}'")),
        }
    }
    let rest = &line[i..];
    if is_literal {
        return Ok((Matcher::Exact(go_to_lower(&literal)), rest));
    }
    go_re.push('$');
    Ok((compile_go_regex(&go_re)?, rest))
}

/// Checks `src` as Go's `regexp.Compile` would and prepares the
/// case-insensitive matcher BR ends up with (Go recompiles with a `(?i)`
/// prefix); the `regex` crate compiles it on first use.
fn compile_go_regex(src: &str) -> Result<Matcher, String> {
    // Go's trueMatcher: the regex built for a lone `*`.
    if src == "(?s)^.*$" {
        return Ok(Matcher::All);
    }
    let regex = GoRegex::parse(src, true).map_err(|e| format!("invalid pattern: {e}"))?;
    Ok(Matcher::Regex(LazyRegex {
        regex,
        compiled: OnceLock::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "at <cmdline>:1: ";

    fn filter(rules: &[&str]) -> TableFilter {
        parse(rules).unwrap_or_else(|e| panic!("{rules:?}: {e}"))
    }

    fn one(rule: &str) -> Rule {
        match parse_rule(rule) {
            Ok(Some(rule)) => rule,
            other => panic!("{rule:?}: {other:?}"),
        }
    }

    fn syntax_error(rule: &str) -> String {
        let e = parse_rule(rule).unwrap_err();
        assert_eq!(e.kind, FilterErrorKind::Syntax, "{rule:?}");
        assert_eq!(e.index, 0);
        assert_eq!(e.to_string(), e.message);
        e.message
    }

    fn regex_error(rule: &str) -> String {
        let msg = syntax_error(rule);
        msg.strip_prefix(P)
            .and_then(|m| m.strip_prefix("invalid pattern: error parsing regexp: "))
            .unwrap_or_else(|| panic!("{rule:?}: {msg}"))
            .to_owned()
    }

    #[test]
    fn verified_valid_examples() {
        type Names<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Names, Names)] = &[
            ("*.*", &[("a", "b"), ("", "")], &[]),
            (
                "db1.tbl1",
                &[("db1", "tbl1"), ("DB1", "Tbl1")],
                &[("db1", "tbl")],
            ),
            ("!db.table", &[("db", "table")], &[("db", "tables")]),
            (
                "db[0-9].tbl[0-9][0-9]",
                &[("db3", "tbl42")],
                &[("db3", "tbl4"), ("dbx", "tbl42"), ("db33", "tbl42")],
            ),
            ("`db-1`.tbl", &[("db-1", "tbl")], &[("db", "tbl")]),
            ("\"db.x\".tbl", &[("db.x", "tbl")], &[("db", "x")]),
            ("db\\-1.tbl", &[("db-1", "tbl")], &[("db\\-1", "tbl")]),
            (
                "/^db\\d+$/./^t/",
                &[("db12", "tx"), ("DB1", "T")],
                &[("db", "tx"), ("db1a", "tx"), ("db1", "xt")],
            ),
            (
                "[!a-z].*",
                &[("1", "x"), ("_", "")],
                &[("a", "x"), ("1a", "x"), ("A", "x")],
            ),
            ("db$x.t_1", &[("db$x", "t_1")], &[("db", "t_1")]),
            ("*.`a``b`", &[("x", "a`b")], &[("x", "a``b")]),
            ("数据库.表", &[("数据库", "表")], &[("数据", "表")]),
            ("  db.tbl  ", &[("db", "tbl")], &[]),
            (
                "!/^(mysql|test|INFORMATION_SCHEMA|PERFORMANCE_SCHEMA|METRICS_SCHEMA|INSPECTION_SCHEMA)$/.*",
                &[
                    ("mysql", "user"),
                    ("Information_Schema", "tables"),
                    ("test", "t"),
                ],
                &[("mysql2", "user"), ("testing", "t")],
            ),
        ];
        for (text, hits, misses) in cases {
            let rule = one(text);
            assert_eq!(rule.as_str(), text.trim(), "{text}");
            assert_eq!(rule.is_negative(), text.starts_with('!'), "{text}");
            for (s, t) in *hits {
                assert!(rule.matches(s, t), "{text} should match {s}.{t}");
            }
            for (s, t) in *misses {
                assert!(!rule.matches(s, t), "{text} should not match {s}.{t}");
            }
        }
    }

    #[test]
    fn verified_error_examples() {
        let cases = [
            ("db-1.tbl", "unexpected special character '-'"),
            ("db. tbl", "unexpected special character ' '"),
            ("db .tbl", "unexpected special character ' '"),
            (
                r"db\n.tbl",
                r"cannot escape a letter or number (\n), it is reserved for future extension",
            ),
            (r"db\", r"syntax error: cannot place \ at end of line"),
            ("/db.*", "syntax error: incomplete regexp"),
            (
                "/db(/.*",
                "invalid pattern: error parsing regexp: missing closing ): `db(`",
            ),
            ("[a-z.*", "syntax error: failed to parse character class"),
            (
                "\"db\"x\".tbl",
                "syntax error: missing '.' between schema and table patterns",
            ),
            ("db*", "missing table pattern"),
            ("db.", "syntax error: missing pattern"),
            (
                "db.tbl.x",
                "syntax error: stray characters after table pattern",
            ),
            ("!!db.t", "unexpected special character '!'"),
        ];
        for (rule, message) in cases {
            assert_eq!(syntax_error(rule), format!("{P}{message}"), "{rule}");
        }
    }

    #[test]
    fn file_import_is_rejected() {
        let e = parse_rule(" @file.txt ").unwrap_err();
        assert_eq!(e.kind, FilterErrorKind::FileImport);
        assert_eq!(
            e.message,
            "importing filter rules from a file (@file.txt) is not supported: list the rules inline"
        );
        // Only a leading `@` is an import; elsewhere it is an ordinary error.
        assert_eq!(
            syntax_error("!@f"),
            format!("{P}unexpected special character '@'")
        );
    }

    /// tidb-tools `TestParseFailures`, with the full expected messages.
    #[test]
    fn go_parse_failures() {
        let cases = [
            (
                "/^t[0-9]+((?!_copy).)*$/.*",
                "invalid pattern: error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
            ),
            (
                "/^t[0-9]+sp(?=copy).*/.*",
                "invalid pattern: error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
            ),
            (
                "a.b.c",
                "syntax error: stray characters after table pattern",
            ),
            ("a%b.c", "unexpected special character '%'"),
            (
                r"a\tb.c",
                r"cannot escape a letter or number (\t), it is reserved for future extension",
            ),
            ("[].*", "syntax error: failed to parse character class"),
            (
                "[!].*",
                "invalid pattern: error parsing regexp: missing closing ]: `[^]$`",
            ),
            ("[.*", "syntax error: failed to parse character class"),
            (r"[\d\D].*", "syntax error: failed to parse character class"),
            ("db", "missing table pattern"),
            ("db.", "syntax error: missing pattern"),
            (
                "`db`*.*",
                "syntax error: missing '.' between schema and table patterns",
            ),
            ("/db.*", "syntax error: incomplete regexp"),
            ("`db.*", "syntax error: incomplete quoted identifier"),
            ("\"db.*", "syntax error: incomplete quoted identifier"),
            (r"db\", r"syntax error: cannot place \ at end of line"),
            ("db.tbl#not comment", "unexpected special character '#'"),
        ];
        for (rule, message) in cases {
            assert_eq!(syntax_error(rule), format!("{P}{message}"), "{rule}");
        }
    }

    #[test]
    fn more_syntax_errors() {
        let cases = [
            ("!", "syntax error: missing pattern"),
            ("! db.t", "unexpected special character ' '"),
            ("db.\"\"", "syntax error: incomplete quoted identifier"),
            ("//.t", "syntax error: incomplete regexp"),
            ("db.t\n", "unexpected special character '\n'"),
            ("[[:alpha:]].t", "unexpected special character ']'"),
            (
                "\"a\"\".t",
                "syntax error: missing '.' between schema and table patterns",
            ),
            (
                "/a/b/.t",
                "syntax error: missing '.' between schema and table patterns",
            ),
        ];
        for (rule, message) in cases {
            assert_eq!(syntax_error(rule), format!("{P}{message}"), "{rule:?}");
        }
    }

    #[test]
    fn blank_and_comment_entries_are_skipped() {
        for line in ["", " \t ", "#", "# comment", "  # indented comment"] {
            assert!(parse_rule(line).unwrap().is_none(), "{line:?}");
        }
        let f = filter(&["# comment", "x.y", "   \t"]);
        assert_eq!(f.rules().len(), 1);
        assert!(f.matches("x", "y"));
        assert!(!f.matches("y", "y"));
    }

    #[test]
    fn first_error_reports_its_index() {
        let e = parse(&["*.*", "# skip", "", "db-1.t", "also bad"]).unwrap_err();
        assert_eq!(e.index, 3);
        assert_eq!(e.message, format!("{P}unexpected special character '-'"));
        let e = parse(&["*.*".to_owned(), "@rules".to_owned()]).unwrap_err();
        assert_eq!((e.index, e.kind), (1, FilterErrorKind::FileImport));
    }

    #[test]
    fn exclusion_list_needs_include_all_first() {
        let f = filter(&["*.*", "!db.table"]);
        assert!(!f.matches("db", "table"));
        assert!(!f.matches("DB", "Table"));
        assert!(f.matches("db", "table2"));
        assert!(f.matches("other", "table"));
        assert!(f.rules()[1].is_negative());
        assert!(!f.rules()[0].is_negative());

        // Without `*.*` nothing is included at all.
        let f = filter(&["!db.table"]);
        assert!(!f.matches("db", "other"));
    }

    #[test]
    fn last_matching_rule_wins() {
        let f = filter(&["employees.*", "!*.dep*", "*.departments"]);
        assert!(!f.matches("irrelevant", "table"));
        assert!(f.matches("employees", "employees"));
        assert!(!f.matches("employees", "dept_emp"));
        assert!(f.matches("employees", "departments"));
        assert!(f.matches("else", "departments"));
        // Reordering changes the outcome.
        let f = filter(&["*.departments", "!*.dep*"]);
        assert!(!f.matches("else", "departments"));
    }

    #[test]
    fn no_match_is_excluded() {
        assert!(!filter(&[] as &[&str]).matches("db", "t"));
        assert!(!filter(&["db.t"]).matches("db", "t2"));
        assert!(!filter(&["# only a comment"]).matches("db", "t"));
    }

    #[test]
    fn matching_ignores_case() {
        let f = filter(&["BAR.*", "/^FoO$/.T?"]);
        assert!(f.matches("bar", "a"));
        assert!(f.matches("Bar", "a"));
        assert!(f.matches("foo", "t1"));
        assert!(f.matches("FOO", "T1"));
        let f = filter(&["\"ÉCOLE\".x"]);
        assert!(f.matches("école", "X"));
        // Go's simple lower-casing maps U+0130 to a plain `i`.
        assert!(filter(&["İ.x"]).matches("i", "x"));
    }

    #[test]
    fn regex_is_unanchored_wildcard_is_anchored() {
        let f = filter(&["/b/.*"]);
        assert!(f.matches("db01", "t"));
        assert!(!f.matches("d01", "t"));
        let f = filter(&["b*.*"]);
        assert!(!f.matches("db01", "t"));
        assert!(f.matches("b01", "t"));
        let f = filter(&["db.t?"]);
        assert!(f.matches("db", "t1"));
        assert!(!f.matches("db", "t12"));
        assert!(!f.matches("xdb", "t1"));
    }

    /// tidb-tools `TestMatchTables`, case-insensitive expectations.
    #[test]
    fn go_match_tables() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str, bool)]);
        let cases: &[Case] = &[
            (&[], &[("foo", "bar", false)]),
            (&["*.*"], &[("foo", "bar", true)]),
            (
                &["foo.*"],
                &[
                    ("foo", "bar", true),
                    ("foo1", "bar", false),
                    ("foo2", "bar", false),
                ],
            ),
            (
                &["*.*", "!foo1.*"],
                &[
                    ("foo", "bar", true),
                    ("foo1", "bar", false),
                    ("foo2", "bar", true),
                ],
            ),
            (
                &["foo.bar1"],
                &[
                    ("foo", "bar", false),
                    ("foo", "bar1", true),
                    ("fff", "bar1", false),
                ],
            ),
            (
                &["*.*", "!foo.bar"],
                &[
                    ("foo", "bar", false),
                    ("foo", "bar1", true),
                    ("fff", "bar1", true),
                ],
            ),
            (
                &["/^foo/.*", r"!/^foo/./^sbtest-\d/"],
                &[
                    ("foo", "sbtest", true),
                    ("foo1", "sbtest-1", false),
                    ("fff", "bar", false),
                ],
            ),
            (
                &["*.*", "!foo[bar].*", "!bar?.*", r"!special\\.*"],
                &[
                    ("foor", "a", false),
                    ("foo[bar]", "b", true),
                    ("ba", "c", true),
                    ("bar?", "d", false),
                    (r"special\", "e", false),
                    (r"special\\", "f", true),
                    ("bazzz", "g", true),
                    (r"special\$", "h", true),
                    ("afooa", "i", true),
                ],
            ),
            (
                &["*.*", "!/^FOO/.*", "!*./FoO$/"],
                &[
                    ("FOO1", "a", false),
                    ("foo2", "b", false),
                    ("BoO3", "cFoO", false),
                    ("Foo4", "dfoo", false),
                    ("5", "5", true),
                ],
            ),
            (
                &["*.*", "!a?b?./f[0-9]/"],
                &[
                    ("abbd", "f1", false),
                    ("aaaa", "f2", true),
                    ("5", "5", true),
                    ("abbc", "fa", true),
                ],
            ),
            (
                &["*.*", "!/t[0-8]/.a??"],
                &[
                    ("t1", "a01", false),
                    ("t9", "a02", true),
                    ("5", "5", true),
                    ("t8", "a001", true),
                ],
            ),
            (
                &["*.*", "!a*.A*"],
                &[
                    ("aB", "Ab", false),
                    ("AaB", "aab", false),
                    ("acB", "Afb", false),
                ],
            ),
            (&["BAR.*"], &[("bar", "a", true), ("BAR", "a", true)]),
            (
                &["# comment", "x.y", "   \t"],
                &[("x", "y", true), ("y", "y", false)],
            ),
            (
                &["p_123$.45", "中文.表名"],
                &[
                    ("p_123", "45", false),
                    ("p_123$", "45", true),
                    ("英文", "表名", false),
                    ("中文", "表名", true),
                ],
            ),
            (
                &[r"\\\..*"],
                &[
                    (r"\.", "a", true),
                    (r"\\\.", "b", false),
                    (r"\a", "c", false),
                ],
            ),
            (
                &["[!a-z].[^a-z]"],
                &[
                    ("!", "z", true),
                    ("!", "^", true),
                    ("!", "9", false),
                    ("a", "z", false),
                    ("a", "^", false),
                    ("a", "9", false),
                    ("1", "z", true),
                    ("1", "^", true),
                    ("1", "9", false),
                ],
            ),
            (
                &["\"some \"\"quoted\"\"\".`identifiers?`"],
                &[
                    ("some \"quoted\"", "identifiers?", true),
                    ("some \"quoted\"", "identifiers!", false),
                    ("some \"\"quoted\"\"", "identifiers?", false),
                    ("SOME \"QUOTED\"", "IDENTIFIERS?", true),
                    ("some\t\"quoted\"", "identifiers?", false),
                ],
            ),
            (
                &["db*.*", "!*.cfg*", "*.cfgsample"],
                &[
                    ("irrelevant", "table", false),
                    ("db1", "tbl1", true),
                    ("db1", "cfg1", false),
                    ("db1", "cfgsample", true),
                    ("else", "cfgsample", true),
                ],
            ),
            (
                &["*.*", "!S.D[!a-d]"],
                &[
                    ("S", "D1", false),
                    ("S", "Da", true),
                    ("S", "Db", true),
                    ("S", "Daa", true),
                ],
            ),
            (
                &["*.*", "!S.D[a-d]"],
                &[
                    ("S", "D1", true),
                    ("S", "Da", false),
                    ("S", "Db", false),
                    ("S", "Daa", true),
                ],
            ),
        ];
        for (rules, tables) in cases {
            let f = filter(rules);
            for (schema, table, want) in *tables {
                assert_eq!(
                    f.matches(schema, table),
                    *want,
                    "{rules:?} on {schema}.{table}"
                );
            }
        }
    }

    /// tidb-tools `TestMatchSchemas`, case-insensitive expectations.
    #[test]
    fn go_match_schemas() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, bool)]);
        let cases: &[Case] = &[
            (&[], &[("foo", false)]),
            (&["*.*"], &[("foo", true)]),
            (&["foo.*"], &[("foo", true), ("foo1", false)]),
            (&["*.*", "!foo1.*"], &[("foo", true), ("foo1", false)]),
            (&["foo.bar1"], &[("foo", true), ("foo1", false)]),
            (&["*.*", "!foo.bar"], &[("foo", true), ("foo1", true)]),
            (
                &["/^foo/.*", r"!/^foo/./^sbtest-\d/"],
                &[("foo", true), ("foo2", true)],
            ),
            (
                &["*.*", "!FOO*.*", "!*.*FoO"],
                &[
                    ("foo", false),
                    ("FOO", false),
                    ("foobar", false),
                    ("FOOBAR", false),
                    ("bar", true),
                    ("BAR", true),
                ],
            ),
        ];
        for (rules, schemas) in cases {
            let f = filter(rules);
            for (schema, want) in *schemas {
                assert_eq!(f.matches_schema(schema), *want, "{rules:?} on {schema}");
            }
        }
    }

    #[test]
    fn delimiters_are_found_like_go() {
        // An escaped `/` stays inside the regex.
        assert!(filter(&[r"/a\/b/.*"]).matches("a/b", "t"));
        assert!(filter(&[r"/\//.*"]).matches("x/y", "t"));
        // No closing `/` after `\/`: Go backtracks and reads `\` literally.
        assert_eq!(
            regex_error(r"/a\/.*"),
            "trailing backslash at end of expression: ``"
        );
        // Doubled quotes embed the quote character.
        assert!(filter(&["\"a\"\"\".t"]).matches("a\"", "t"));
        assert!(filter(&["`x``y`.`z`"]).matches("x`y", "z"));
        assert!(filter(&["\"\"\"\".t"]).matches("\"", "t"));
        // Empty schema part is allowed, as in Go.
        assert!(filter(&[".tbl"]).matches("", "tbl"));
    }

    #[test]
    fn wildcard_classes_follow_go() {
        assert!(filter(&["[^a].t"]).matches("^", "t"));
        assert!(filter(&["[^a].t"]).matches("a", "t"));
        assert!(!filter(&["[^a].t"]).matches("b", "t"));
        assert!(filter(&["[!!].t"]).matches("x", "t"));
        assert!(!filter(&["[!!].t"]).matches("!", "t"));
        assert!(filter(&[r"[\]].t"]).matches("]", "t"));
        // `[[:alpha:]` closes Go's POSIX class, so its class runs on to the
        // next `]`: this schema pattern is one of alpha, `a`, `[`, `b`.
        let f = filter(&["[[:alpha:]a[b].t"]);
        assert!(f.matches("x", "t"));
        assert!(f.matches("[", "t"));
        assert!(!f.matches("1", "t"));
        assert!(!f.matches("xab", "t"));
        assert_eq!(
            regex_error("[[:foo:].t"),
            "invalid character class range: `[:foo:]`"
        );
        assert_eq!(
            regex_error("[z-a].t"),
            "invalid character class range: `z-a`"
        );
        assert_eq!(
            regex_error("[[:alpha:].t"),
            "missing closing ]: `[[:alpha:]$`"
        );
        assert_eq!(regex_error(r"t.[\é]"), r"invalid escape sequence: `\é`");
    }

    /// Go's special case for `*` also catches the literal regex.
    #[test]
    fn the_star_regex_is_gos_true_matcher() {
        let f = filter(&["/(?s)^.*$/.*", "!x./(?s)^.*$/"]);
        assert!(!f.matches_schema("x"));
        assert!(f.matches_schema("y"));
    }

    /// Arbitrary input must never panic, and every syntax error carries
    /// BR's prefix.
    #[test]
    fn random_rules_never_panic() {
        const ALPHABET: &[&str] = &[
            "a", "Z", "0", "9", "_", "$", "*", "?", "[", "]", "!", "^", "-", "\\", "/", "\"", "`",
            ".", "(", ")", "|", "{", "}", ",", ":", "+", "p", "P", "x", "Q", "E", "d", "i", "<",
            ">", "=", "#", "@", " ", "\t", "\n", "1", "8", "é", "数", "😀", "{2}", "[:", ":]",
            "(?", "\\p{", "Greek", "\\x{",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % bound
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = next(14);
            let mut rule: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            // Half of them as regexes, to exercise the Go regex parser.
            if next(2) == 0 {
                rule = format!("/{rule}/.t");
            }
            match parse_rule(&rule) {
                Ok(Some(parsed)) => {
                    accepted += 1;
                    let _ = parsed.matches("db", "t");
                    let _ = parsed.matches("数据库", "é\n");
                }
                Ok(None) => {}
                Err(e) if e.kind == FilterErrorKind::Syntax => {
                    assert!(e.message.starts_with(P), "{rule:?}: {}", e.message);
                }
                Err(_) => assert!(rule.trim_matches([' ', '\t']).starts_with('@')),
            }
        }
        assert!(accepted > 1_000, "only {accepted} random rules parsed");
    }
}
