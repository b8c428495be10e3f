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
//! wildcards with Go's `regexp` (RE2 syntax). Rust's `regex` syntax is close
//! but not the same, so patterns are never handed to the `regex` crate as
//! written. Instead a small parser that follows Go's `regexp/syntax` parser
//! checks the pattern and reports Go's errors with Go's text. It then writes
//! out an equivalent pattern for the `regex` crate, which does the matching.
//! Where the two syntaxes differ:
//!
//! * `\d`, `\s`, `\w`, `\b` and `\B` are ASCII-only in Go and Unicode-aware in
//!   Rust. Go's `\s` also leaves out `\v`. The translation writes out Go's sets.
//! * Go has octal escapes (`\123`), `\Q…\E` quoting and `(?P<1>…)` (a capture
//!   name starting with a digit); Rust has none of these. Go has no `(?x)`,
//!   `(?u)` or `(?R)` flags, no `\<`/`\>`/`\b{…}` assertions, no class set
//!   operators (`&&`, `--`, `~~`) and no nested classes (`[[a]]`), so all of
//!   these either fail as they do in Go or are read as literal text, as Go
//!   reads them.
//! * Go allows a count of at most 1000 in `{n,m}`, and the product of nested
//!   counts may not exceed 1000 either (`invalid repeat count`). Rust has no
//!   such rule; this module checks it the way Go does.
//! * Rust refuses surrogate code points such as `\x{D800}`. Go accepts them,
//!   but they can never match a valid UTF-8 name, so the translation turns
//!   them into something that never matches.
//! * Bare `\p{Greek}` in Rust means Script_Extensions; Go means Script. The
//!   translation writes `\p{sc=…}` or `\p{gc=…}`. Names must be written exactly
//!   as Go 1.21–1.24 spell them (Unicode 15.0 scripts, the two-letter general
//!   categories, `Any`). Rust's loose spellings (`\p{greek}`, `\p{Letter}`,
//!   `\p{Grek}`) are rejected, as those Go versions reject them.
//!
//! Known gaps, all outside realistic filters:
//!
//! * Named groups written `(?<name>…)` are accepted, as in Go 1.22+. BR built
//!   with an older Go rejects them.
//! * Go's `expression nests too deeply` limit (tree height 1000) is checked on
//!   a model of Go's parse tree. The model leaves out Go's merging of
//!   alternatives into classes and shared prefixes, so a pattern very close
//!   to the limit may be judged differently.
//! * Go's `expression too large` limit is not modelled. Patterns are compiled
//!   by the `regex` crate only when first matched, within its own size limit
//!   ([`REGEX_SIZE_LIMIT`]); a huge pattern past it (about 100,000 wildcards,
//!   or a regex a megabyte long) matches nothing although Go accepts it.
//! * Case folding and lower-casing use Rust's Unicode tables, which may be a
//!   newer Unicode version than the one in the Go build of BR.
//!
//! # Resource use
//!
//! Parsing (all that validation needs) is linear in the rule length and takes
//! microseconds; regexes are compiled on first match. Patterns whose Go tree
//! is more than 32 levels tall are compiled on a short-lived helper thread
//! with a large stack, because the `regex` crate's compiler recurses once per
//! level.

use std::fmt;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

/// BR reports command-line rules as line 1 of a pseudo-file named
/// `<cmdline>`. The line number never advances for command-line rules.
const ERROR_PREFIX: &str = "at <cmdline>:1: ";

/// Heap limit for one compiled pattern. It is larger than the `regex`
/// default so that patterns Go accepts (up to ~3.3M instructions, e.g.
/// `\pL{1000}`) still compile, and still bounded so one admission request
/// cannot take unbounded memory.
pub const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// Go trees taller than this are compiled on a helper thread. The `regex`
/// crate's compiler recurses once per level, and a 1000-level pattern (which
/// Go accepts) needs about 1 MiB of stack in release builds and about 16 MiB
/// in debug builds, more than a tokio worker thread has.
const INLINE_COMPILE_HEIGHT: u32 = 32;

/// Stack for that helper thread. It is reserved, not committed.
const DEEP_COMPILE_STACK: usize = 64 << 20;

/// Nesting limit handed to the `regex` crate. Go's own height limit (1000)
/// is checked first while translating; the translation can nest up to about
/// three levels per Go level, so this only guards against bugs. The compiled
/// program is no deeper than Go's tree, which bounds stack use.
pub const REGEX_NEST_LIMIT: u32 = 4000;

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

    /// Whether both patterns compile (tests force the lazy compilation).
    #[cfg(test)]
    fn compiles(&self) -> bool {
        [&self.schema, &self.table]
            .iter()
            .all(|m| !matches!(m, Matcher::Regex(lazy) if lazy.get().is_none()))
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
    translated: String,
    height: u32,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// `None` when the `regex` crate refuses the pattern (only past its size
    /// limit, for patterns Go would accept); such a pattern matches nothing.
    fn get(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| build_regex(&self.translated, self.height).ok())
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
    let invalid = |e: GoRegexError| format!("invalid pattern: {e}");
    let (translated, height) = Translator::new(src, true).run().map_err(invalid)?;
    Ok(Matcher::Regex(LazyRegex {
        translated,
        height,
        compiled: OnceLock::new(),
    }))
}

/// Compiles a translated pattern; deep ones on a helper thread with a large
/// stack, because the `regex` crate's compiler recurses once per level.
fn build_regex(translated: &str, height: u32) -> Result<Regex, String> {
    let build = || {
        RegexBuilder::new(translated)
            .size_limit(REGEX_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map_err(|e| e.to_string())
    };
    if height <= INLINE_COMPILE_HEIGHT {
        return build();
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("table-filter-regex".to_owned())
            .stack_size(DEEP_COMPILE_STACK)
            .spawn_scoped(scope, build)
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "compiler thread panicked".to_owned())?
    })
}

// Go regexp/syntax error codes (the text of its ErrorCode constants).
const ERR_INVALID_CHAR_RANGE: &str = "invalid character class range";
const ERR_INVALID_ESCAPE: &str = "invalid escape sequence";
const ERR_INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const ERR_INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const ERR_INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const ERR_INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const ERR_MISSING_BRACKET: &str = "missing closing ]";
const ERR_MISSING_PAREN: &str = "missing closing )";
const ERR_MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const ERR_TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const ERR_UNEXPECTED_PAREN: &str = "unexpected )";
const ERR_NESTING_DEPTH: &str = "expression nests too deeply";

/// Go's largest allowed count in `{n,m}`, also the cap on nested products.
const MAX_REPEAT: u32 = 1000;

/// Go's largest allowed parse-tree height.
const MAX_HEIGHT: u32 = 1000;

/// A Go `*syntax.Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GoRegexError {
    code: &'static str,
    expr: String,
}

impl GoRegexError {
    fn new(code: &'static str, expr: &str) -> Self {
        GoRegexError {
            code,
            expr: expr.to_owned(),
        }
    }
}

impl fmt::Display for GoRegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

/// Go parser flags that change how later syntax is read. The others (Perl
/// extensions, Unicode groups, `[^…]` matching newline) are always on for
/// `regexp.Compile`.
#[derive(Debug, Clone, Copy)]
struct Flags {
    fold: bool,
    dot_nl: bool,
    one_line: bool,
    non_greedy: bool,
}

/// A translated sub-expression.
#[derive(Debug)]
struct Frag {
    re: String,
    /// Can take a repetition suffix without being wrapped in a group.
    atomic: bool,
    /// Largest product of nested `{n,m}` counts inside, for Go's 1000 cap.
    reps: u32,
    /// Height of Go's parse tree for this piece, for Go's nesting cap.
    height: u32,
    /// `Some(fold)` for a literal string. Go merges neighbouring literals
    /// with the same case folding into one node, which affects the height;
    /// merging them here as well keeps the output short.
    literal: Option<bool>,
    /// For a literal, its escaped text without the `(?i:…)` wrapper.
    raw: String,
}

impl Frag {
    fn leaf(re: String) -> Self {
        Frag {
            re,
            atomic: true,
            reps: 1,
            height: 1,
            literal: None,
            raw: String::new(),
        }
    }
}

#[derive(Debug)]
enum Item {
    Frag(Frag),
    /// An open group and the flags to restore when it closes.
    Paren {
        saved: Flags,
        capture: bool,
    },
    Bar,
}

#[derive(Debug, Clone, Copy)]
enum Repeat {
    Star,
    Plus,
    Quest,
    Counted { min: i64, max: i64 },
}

/// Reads a Go regex with Go's rules (and Go's errors) and writes a pattern
/// for the `regex` crate with the same meaning. Flag state is resolved while
/// reading, so every piece carries its own flags in the output.
struct Translator<'a> {
    src: &'a str,
    flags: Flags,
    stack: Vec<Item>,
}

impl<'a> Translator<'a> {
    fn new(src: &'a str, fold: bool) -> Self {
        Translator {
            src,
            flags: Flags {
                fold,
                dot_nl: false,
                one_line: true,
                non_greedy: false,
            },
            stack: Vec::new(),
        }
    }

    fn err(&self, code: &'static str, from: usize, to: usize) -> GoRegexError {
        GoRegexError::new(code, &self.src[from..to])
    }

    /// Returns the translated pattern and the height of Go's parse tree.
    fn run(mut self) -> Result<(String, u32), GoRegexError> {
        let mut pos = 0;
        // Start of the previous token if it was a repetition operator.
        let mut last_repeat: Option<usize> = None;
        while let Some(&byte) = self.src.as_bytes().get(pos) {
            let mut this_repeat = None;
            match byte {
                b'(' if self.src.as_bytes().get(pos + 1) == Some(&b'?') => {
                    pos = self.perl_flags(pos)?;
                }
                b'(' => {
                    self.open_paren(true);
                    pos += 1;
                }
                b'|' => {
                    self.concat();
                    self.stack.push(Item::Bar);
                    pos += 1;
                }
                b')' => {
                    self.right_paren()?;
                    pos += 1;
                }
                b'^' => {
                    let re = if self.flags.one_line { r"\A" } else { "(?m:^)" };
                    self.push(re.to_owned());
                    pos += 1;
                }
                b'$' => {
                    let re = if self.flags.one_line { r"\z" } else { "(?m:$)" };
                    self.push(re.to_owned());
                    pos += 1;
                }
                b'.' => {
                    let re = if self.flags.dot_nl {
                        "(?s:.)"
                    } else {
                        "(?-s:.)"
                    };
                    self.push(re.to_owned());
                    pos += 1;
                }
                b'[' => pos = self.class(pos)?,
                b'*' | b'+' | b'?' => {
                    let op = match byte {
                        b'*' => Repeat::Star,
                        b'+' => Repeat::Plus,
                        _ => Repeat::Quest,
                    };
                    this_repeat = Some(pos);
                    pos = self.repeat(op, pos, pos + 1, last_repeat)?;
                }
                b'{' => match parse_braces(&self.src[pos..]) {
                    // Not a well-formed count: Go reads `{` literally.
                    None => {
                        self.literal(u32::from('{'));
                        pos += 1;
                    }
                    Some((min, max, len)) => {
                        let limit = i64::from(MAX_REPEAT);
                        if min < 0 || min > limit || max > limit || (max >= 0 && min > max) {
                            return Err(self.err(ERR_INVALID_REPEAT_SIZE, pos, pos + len));
                        }
                        this_repeat = Some(pos);
                        pos =
                            self.repeat(Repeat::Counted { min, max }, pos, pos + len, last_repeat)?;
                    }
                },
                b'\\' => pos = self.escape(pos)?,
                _ => {
                    let c = self.src[pos..].chars().next().unwrap_or('\u{FFFD}');
                    self.literal(u32::from(c));
                    pos += c.len_utf8();
                }
            }
            last_repeat = this_repeat;
            self.check_height()?;
        }
        self.concat();
        self.alternate();
        self.check_height()?;
        match self.stack.pop() {
            Some(Item::Frag(frag)) if self.stack.is_empty() => Ok((frag.re, frag.height)),
            _ => Err(self.err(ERR_MISSING_PAREN, 0, self.src.len())),
        }
    }

    fn push(&mut self, re: String) {
        self.stack.push(Item::Frag(Frag::leaf(re)));
    }

    fn open_paren(&mut self, capture: bool) {
        self.stack.push(Item::Paren {
            saved: self.flags,
            capture,
        });
    }

    /// Go checks the height each time it builds a node. Only the newest
    /// piece can have grown, so checking the top after every token is
    /// enough, and it keeps Go's order of errors.
    fn check_height(&self) -> Result<(), GoRegexError> {
        match self.stack.last() {
            Some(Item::Frag(frag)) if frag.height > MAX_HEIGHT => {
                Err(self.err(ERR_NESTING_DEPTH, 0, self.src.len()))
            }
            _ => Ok(()),
        }
    }

    /// Wraps `re` so it matches case-insensitively when `(?i)` is in force.
    fn folded(&self, re: String) -> String {
        if self.flags.fold {
            format!("(?i:{re})")
        } else {
            re
        }
    }

    fn literal(&mut self, code: u32) {
        let (raw, can_fold) = match char::from_u32(code) {
            Some(c) => (
                regex::escape(c.encode_utf8(&mut [0; 4])),
                c.is_ascii_alphabetic() || !c.is_ascii(),
            ),
            // A surrogate (only reachable through `\x{D800}`…) never matches.
            None => (NEVER.to_owned(), false),
        };
        let re = if can_fold {
            self.folded(raw.clone())
        } else {
            raw.clone()
        };
        self.stack.push(Item::Frag(Frag {
            literal: Some(self.flags.fold),
            raw,
            ..Frag::leaf(re)
        }));
    }

    /// Applies a repetition operator to the top of the stack. `before` is
    /// where the operator starts and `after` where it ends, not counting a
    /// `?` that makes it lazy.
    fn repeat(
        &mut self,
        op: Repeat,
        before: usize,
        mut after: usize,
        last_repeat: Option<usize>,
    ) -> Result<usize, GoRegexError> {
        let mut non_greedy = self.flags.non_greedy;
        if self.src.as_bytes().get(after) == Some(&b'?') {
            after += 1;
            non_greedy = !non_greedy;
        }
        if let Some(last) = last_repeat {
            return Err(self.err(ERR_INVALID_REPEAT_OP, last, after));
        }
        if !matches!(self.stack.last(), Some(Item::Frag(_))) {
            return Err(self.err(ERR_MISSING_REPEAT_ARGUMENT, before, after));
        }
        let Some(Item::Frag(frag)) = self.stack.last_mut() else {
            return Ok(after);
        };
        let suffix = match op {
            Repeat::Star => "*".to_owned(),
            Repeat::Plus => "+".to_owned(),
            Repeat::Quest => "?".to_owned(),
            Repeat::Counted { min, max } if max < 0 => format!("{{{min},}}"),
            Repeat::Counted { min, max } if min == max => format!("{{{min}}}"),
            Repeat::Counted { min, max } => format!("{{{min},{max}}}"),
        };
        let lazy = if non_greedy { "?" } else { "" };
        let base = if frag.atomic {
            std::mem::take(&mut frag.re)
        } else {
            format!("(?:{})", frag.re)
        };
        frag.re = format!("{base}{suffix}{lazy}");
        frag.atomic = false;
        frag.height += 1;
        frag.literal = None;
        frag.raw.clear();
        if let Repeat::Counted { min, max } = op {
            // Go caps the product of nested counts; a zero count hides
            // everything below it, and `*`/`+`/`?` do not count.
            let count = if max < 0 { min } else { max };
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            frag.reps = if count == 0 {
                1
            } else {
                frag.reps.saturating_mul(count)
            };
            if (min >= 2 || max >= 2) && frag.reps > MAX_REPEAT {
                return Err(self.err(ERR_INVALID_REPEAT_SIZE, before, after));
            }
        }
        Ok(after)
    }

    /// Joins the pieces above the innermost `(` or `|` into one.
    fn concat(&mut self) {
        let start = self
            .stack
            .iter()
            .rposition(|item| !matches!(item, Item::Frag(_)))
            .map_or(0, |p| p + 1);
        let frags: Vec<Frag> = self
            .stack
            .drain(start..)
            .filter_map(|item| match item {
                Item::Frag(frag) => Some(frag),
                _ => None,
            })
            .collect();
        // Like Go, make one node of each run of literals with the same
        // folding. `merged` marks nodes whose `re` must be rebuilt from `raw`.
        let mut nodes: Vec<(Frag, bool)> = Vec::with_capacity(frags.len());
        for frag in frags {
            match nodes.last_mut() {
                Some((last, merged)) if frag.literal.is_some() && last.literal == frag.literal => {
                    last.raw.push_str(&frag.raw);
                    *merged = true;
                }
                _ => nodes.push((frag, false)),
            }
        }
        let mut nodes: Vec<Frag> = nodes
            .into_iter()
            .map(|(mut node, merged)| {
                if merged {
                    let fold = node.literal == Some(true);
                    node.re = if fold {
                        format!("(?i:{})", node.raw)
                    } else {
                        node.raw.clone()
                    };
                    // `(?i:…)` is a group; bare text of several characters
                    // is not.
                    node.atomic = fold;
                }
                node
            })
            .collect();
        let joined = match nodes.len() {
            0 => Frag::leaf("(?:)".to_owned()),
            1 => nodes.swap_remove(0),
            _ => Frag {
                reps: nodes.iter().map(|f| f.reps).max().unwrap_or(1),
                height: nodes.iter().map(|f| f.height).max().unwrap_or(1) + 1,
                atomic: false,
                ..Frag::leaf(nodes.into_iter().map(|f| f.re).collect())
            },
        };
        self.stack.push(Item::Frag(joined));
    }

    /// Joins the alternatives above the innermost `(` into one.
    fn alternate(&mut self) {
        let start = self
            .stack
            .iter()
            .rposition(|item| matches!(item, Item::Paren { .. }))
            .map_or(0, |p| p + 1);
        let mut alts: Vec<Frag> = self
            .stack
            .drain(start..)
            .filter_map(|item| match item {
                Item::Frag(frag) => Some(frag),
                _ => None,
            })
            .collect();
        let joined = match alts.pop() {
            Some(only) if alts.is_empty() => only,
            last => {
                alts.extend(last);
                let reps = alts.iter().map(|f| f.reps).max().unwrap_or(1);
                let height = alts.iter().map(|f| f.height).max().unwrap_or(1) + 1;
                let res: Vec<String> = alts.into_iter().map(|f| f.re).collect();
                Frag {
                    reps,
                    height,
                    ..Frag::leaf(format!("(?:{})", res.join("|")))
                }
            }
        };
        self.stack.push(Item::Frag(joined));
    }

    fn right_paren(&mut self) -> Result<(), GoRegexError> {
        self.concat();
        self.alternate();
        // After the two joins the stack must end with `(` and one piece.
        let n = self.stack.len();
        let paren = n.checked_sub(2).and_then(|i| match self.stack.get(i) {
            Some(&Item::Paren { saved, capture }) => Some((saved, capture)),
            _ => None,
        });
        let (Some((saved, capture)), Some(Item::Frag(mut inner))) = (paren, self.stack.pop())
        else {
            return Err(self.err(ERR_UNEXPECTED_PAREN, 0, self.src.len()));
        };
        self.stack.pop();
        self.flags = saved;
        if !inner.atomic {
            inner.re = format!("(?:{})", inner.re);
            inner.atomic = true;
        }
        // A capture is a node of its own; a plain `(?:…)` group is not.
        if capture {
            inner.height += 1;
            inner.literal = None;
            inner.raw.clear();
        }
        self.stack.push(Item::Frag(inner));
        Ok(())
    }

    /// Handles `(?…`: named groups, flag groups and flag changes.
    fn perl_flags(&mut self, pos: usize) -> Result<usize, GoRegexError> {
        let t = &self.src[pos..];
        let b = t.as_bytes();
        let python_name = b.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let perl_name = b.len() > 3 && b[2] == b'<';
        if python_name || perl_name {
            let name_start = if python_name { 4 } else { 3 };
            let Some(end) = t.find('>') else {
                return Err(self.err(ERR_INVALID_NAMED_CAPTURE, pos, self.src.len()));
            };
            let name = &t[name_start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err(self.err(ERR_INVALID_NAMED_CAPTURE, pos, pos + end + 1));
            }
            self.open_paren(true);
            return Ok(pos + end + 1);
        }

        let mut flags = self.flags;
        let mut negated = false;
        let mut saw_flag = false;
        let mut i = pos + 2;
        while let Some(c) = self.src[i..].chars().next() {
            i += c.len_utf8();
            match c {
                'i' => flags.fold = !negated,
                // `m` turns one-line mode off, `-m` turns it back on.
                'm' => flags.one_line = negated,
                's' => flags.dot_nl = !negated,
                'U' => flags.non_greedy = !negated,
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                    continue;
                }
                ':' | ')' if !negated || saw_flag => {
                    if c == ':' {
                        self.open_paren(false);
                    }
                    self.flags = flags;
                    return Ok(i);
                }
                _ => break,
            }
            saw_flag = true;
        }
        Err(self.err(ERR_INVALID_PERL_OP, pos, i))
    }

    /// Handles a `\` outside a class.
    fn escape(&mut self, pos: usize) -> Result<usize, GoRegexError> {
        if let Some(&c) = self.src.as_bytes().get(pos + 1) {
            let assertion = match c {
                b'A' => Some(r"\A"),
                b'z' => Some(r"\z"),
                // Go's word boundaries are ASCII-only.
                b'b' => Some(r"(?-u:\b)"),
                b'B' => Some(r"(?-u:\B)"),
                b'C' => return Err(self.err(ERR_INVALID_ESCAPE, pos, pos + 2)),
                b'Q' => {
                    let body = &self.src[pos + 2..];
                    let (quoted, next) = match body.find(r"\E") {
                        Some(end) => (&body[..end], pos + 2 + end + 2),
                        None => (body, self.src.len()),
                    };
                    for c in quoted.chars() {
                        self.literal(u32::from(c));
                    }
                    return Ok(next);
                }
                _ => None,
            };
            if let Some(re) = assertion {
                self.push(re.to_owned());
                return Ok(pos + 2);
            }
            if c == b'p' || c == b'P' {
                let (body, next) = self.unicode_class(pos)?;
                let re = if body.is_empty() {
                    NEVER.to_owned()
                } else {
                    self.folded(format!("[{body}]"))
                };
                self.push(re);
                return Ok(next);
            }
            if let Some((negated, set)) = perl_class(c) {
                let re = self.folded(format!("[{}{set}]", if negated { "^" } else { "" }));
                self.push(re);
                return Ok(pos + 2);
            }
        }
        let (code, next) = self.parse_escape(pos)?;
        self.literal(code);
        Ok(next)
    }

    /// Reads a single-character escape at `pos` (Go's `parseEscape`).
    fn parse_escape(&self, pos: usize) -> Result<(u32, usize), GoRegexError> {
        let s = &self.src[pos..];
        let Some(c) = s[1..].chars().next() else {
            return Err(GoRegexError::new(ERR_TRAILING_BACKSLASH, ""));
        };
        let mut t = 1 + c.len_utf8();
        let is_octal = |b: Option<&u8>| b.is_some_and(|b| (b'0'..=b'7').contains(b));
        match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok((u32::from(c), pos + t)),
            // A lone `\1`…`\7` would be a backreference, which Go rejects.
            '1'..='7' if !is_octal(s.as_bytes().get(t)) => {}
            '0'..='7' => {
                let mut code = u32::from(c) - u32::from('0');
                for _ in 0..2 {
                    match s.as_bytes().get(t) {
                        Some(&d @ b'0'..=b'7') => {
                            code = code * 8 + u32::from(d - b'0');
                            t += 1;
                        }
                        _ => break,
                    }
                }
                return Ok((code, pos + t));
            }
            'x' => match s[t..].chars().next() {
                None => {}
                Some('{') => {
                    t += 1;
                    let mut code: u32 = 0;
                    let mut digits = 0;
                    while let Some(d) = s[t..].chars().next() {
                        t += d.len_utf8();
                        if d == '}' {
                            if digits == 0 {
                                break;
                            }
                            return Ok((code, pos + t));
                        }
                        let Some(v) = d.to_digit(16) else { break };
                        code = code * 16 + v;
                        if code > u32::from(char::MAX) {
                            break;
                        }
                        digits += 1;
                    }
                }
                Some(hi) => {
                    t += hi.len_utf8();
                    let lo = s[t..].chars().next();
                    t += lo.map_or(0, char::len_utf8);
                    if let (Some(hi), Some(lo)) =
                        (hi.to_digit(16), lo.and_then(|lo| lo.to_digit(16)))
                    {
                        return Ok((hi * 16 + lo, pos + t));
                    }
                }
            },
            'a' => return Ok((0x07, pos + t)),
            'f' => return Ok((0x0C, pos + t)),
            'n' => return Ok((0x0A, pos + t)),
            'r' => return Ok((0x0D, pos + t)),
            't' => return Ok((0x09, pos + t)),
            'v' => return Ok((0x0B, pos + t)),
            _ => {}
        }
        Err(self.err(ERR_INVALID_ESCAPE, pos, pos + t))
    }

    /// Reads `\pX`, `\p{Name}`, `\PX` or `\P{Name}` at `pos` and returns
    /// it as a class body for the `regex` crate, plus the end position. The
    /// body is empty for a class that can never match.
    fn unicode_class(&self, pos: usize) -> Result<(String, usize), GoRegexError> {
        let s = &self.src[pos..];
        let mut negated = s.as_bytes().get(1) == Some(&b'P');
        let (len, name) = match s[2..].chars().next() {
            None => (2, ""),
            Some('{') => match s.find('}') {
                Some(end) => (end + 1, &s[3..end]),
                None => return Err(self.err(ERR_INVALID_CHAR_RANGE, pos, self.src.len())),
            },
            Some(c) => (2 + c.len_utf8(), &s[2..2 + c.len_utf8()]),
        };
        let name = match name.strip_prefix('^') {
            Some(rest) => {
                negated = !negated;
                rest
            }
            None => name,
        };
        let property = if name == "Any" {
            "Any".to_owned()
        } else if name == "Cs" {
            // Surrogates never occur in UTF-8 text; the regex crate has no
            // such category at all.
            let body = if negated { r"\x{0}-\x{10FFFF}" } else { "" };
            return Ok((body.to_owned(), pos + len));
        } else if GO_CATEGORIES.contains(&name) {
            format!("gc={name}")
        } else if GO_SCRIPTS.contains(&name) {
            format!("sc={name}")
        } else {
            return Err(self.err(ERR_INVALID_CHAR_RANGE, pos, pos + len));
        };
        let p = if negated { 'P' } else { 'p' };
        Ok((format!(r"\{p}{{{property}}}"), pos + len))
    }

    /// Reads a bracketed class starting at `pos` (Go's `parseClass`).
    fn class(&mut self, pos: usize) -> Result<usize, GoRegexError> {
        let mut t = pos + 1;
        let negated = self.src.as_bytes().get(t) == Some(&b'^');
        if negated {
            t += 1;
        }
        let mut items = String::new();
        // `]` right after `[` or `[^` is an ordinary character.
        let mut first = true;
        loop {
            let rest = &self.src[t..];
            if rest.starts_with(']') && !first {
                break;
            }
            first = false;
            if rest.len() > 2
                && rest.starts_with("[:")
                && let Some(end) = rest[2..].find(":]")
            {
                let name = &rest[..end + 4];
                if !GO_POSIX_CLASSES.contains(&name) {
                    return Err(self.err(ERR_INVALID_CHAR_RANGE, t, t + name.len()));
                }
                // Same names and ASCII meanings in both syntaxes.
                items.push_str(name);
                t += name.len();
                continue;
            }
            if rest.starts_with(r"\p") || rest.starts_with(r"\P") {
                let (re, next) = self.unicode_class(t)?;
                items.push_str(&re);
                t = next;
                continue;
            }
            if let Some((class_negated, set)) = rest
                .strip_prefix('\\')
                .and_then(|r| r.bytes().next())
                .and_then(perl_class)
            {
                if class_negated {
                    items.push_str(&format!("[^{set}]"));
                } else {
                    items.push_str(set);
                }
                t += 2;
                continue;
            }
            let range_start = t;
            let (lo, next) = self.class_char(t, pos)?;
            t = next;
            let mut hi = lo;
            let rest = &self.src.as_bytes()[t..];
            if rest.len() >= 2 && rest[0] == b'-' && rest[1] != b']' {
                let (end, next) = self.class_char(t + 1, pos)?;
                t = next;
                hi = end;
                if hi < lo {
                    return Err(self.err(ERR_INVALID_CHAR_RANGE, range_start, t));
                }
            }
            push_class_range(&mut items, lo, hi);
        }
        // Only possible when every range was made of surrogates.
        let (negated, items) = if items.is_empty() {
            (!negated, r"\x{0}-\x{10FFFF}".to_owned())
        } else {
            (negated, items)
        };
        let re = self.folded(format!("[{}{items}]", if negated { "^" } else { "" }));
        self.push(re);
        Ok(t + 1)
    }

    /// Reads one class character at `t`; `class_start` locates the `[` for
    /// Go's "missing closing ]" message.
    fn class_char(&self, t: usize, class_start: usize) -> Result<(u32, usize), GoRegexError> {
        match self.src[t..].chars().next() {
            None => Err(self.err(ERR_MISSING_BRACKET, class_start, self.src.len())),
            Some('\\') => self.parse_escape(t),
            Some(c) => Ok((u32::from(c), t + c.len_utf8())),
        }
    }
}

/// A class that matches nothing.
const NEVER: &str = r"[^\x{0}-\x{10FFFF}]";

/// Go's Perl classes are ASCII-only; returns (negated, class body).
fn perl_class(c: u8) -> Option<(bool, &'static str)> {
    const DIGIT: &str = "0-9";
    const SPACE: &str = r"\x{9}\x{A}\x{C}\x{D}\x{20}";
    const WORD: &str = "0-9A-Za-z_";
    match c {
        b'd' => Some((false, DIGIT)),
        b'D' => Some((true, DIGIT)),
        b's' => Some((false, SPACE)),
        b'S' => Some((true, SPACE)),
        b'w' => Some((false, WORD)),
        b'W' => Some((true, WORD)),
        _ => None,
    }
}

/// Adds `lo-hi` to a class body, leaving out surrogates: they cannot occur
/// in a valid UTF-8 name and the `regex` crate refuses them.
fn push_class_range(out: &mut String, lo: u32, hi: u32) {
    for (a, b) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
        let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) else {
            continue;
        };
        if a > b {
            continue;
        }
        push_class_char(out, a);
        if a != b {
            out.push('-');
            push_class_char(out, b);
        }
    }
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!(r"\x{{{:X}}}", u32::from(c)));
    }
}

/// Reads `{n}`, `{n,}` or `{n,m}` at the start of `s` (Go's `parseRepeat`):
/// returns (min, max, length), max -1 meaning unbounded and min -1 meaning
/// a number was too large. `None` means `{` is a literal.
fn parse_braces(s: &str) -> Option<(i64, i64, usize)> {
    let b = s.as_bytes();
    let (mut min, mut i) = parse_count(b, 1)?;
    let max = match b.get(i)? {
        b',' => {
            i += 1;
            if *b.get(i)? == b'}' {
                -1
            } else {
                let (max, next) = parse_count(b, i)?;
                i = next;
                if max < 0 {
                    min = -1;
                }
                max
            }
        }
        _ => min,
    };
    (*b.get(i)? == b'}').then_some((min, max, i + 1))
}

/// A decimal count without leading zeros; -1 if it reaches 10^8 or more.
fn parse_count(b: &[u8], start: usize) -> Option<(i64, usize)> {
    if !b.get(start)?.is_ascii_digit() {
        return None;
    }
    if b[start] == b'0' && b.get(start + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut n: i64 = 0;
    for &d in &b[start..end] {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some((n, end))
}

/// POSIX classes Go accepts inside brackets.
const GO_POSIX_CLASSES: &[&str] = &[
    "[:alnum:]",
    "[:^alnum:]",
    "[:alpha:]",
    "[:^alpha:]",
    "[:ascii:]",
    "[:^ascii:]",
    "[:blank:]",
    "[:^blank:]",
    "[:cntrl:]",
    "[:^cntrl:]",
    "[:digit:]",
    "[:^digit:]",
    "[:graph:]",
    "[:^graph:]",
    "[:lower:]",
    "[:^lower:]",
    "[:print:]",
    "[:^print:]",
    "[:punct:]",
    "[:^punct:]",
    "[:space:]",
    "[:^space:]",
    "[:upper:]",
    "[:^upper:]",
    "[:word:]",
    "[:^word:]",
    "[:xdigit:]",
    "[:^xdigit:]",
];

/// Go's `unicode.Categories` keys.
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Go's `unicode.Scripts` keys (Unicode 15.0, Go 1.21 and later).
const GO_SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

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

    #[test]
    fn go_regex_errors() {
        let cases = [
            ("/a)/.t", "unexpected ): `a)`"),
            ("/(a/.t", "missing closing ): `(a`"),
            ("/*a/.t", "missing argument to repetition operator: `*`"),
            ("/a|*/.t", "missing argument to repetition operator: `*`"),
            ("/(?i)+/.t", "missing argument to repetition operator: `+`"),
            ("/a**/.t", "invalid nested repetition operator: `**`"),
            ("/a*?+/.t", "invalid nested repetition operator: `*?+`"),
            (
                "/a{2}{3}/.t",
                "invalid nested repetition operator: `{2}{3}`",
            ),
            ("/a{1001}/.t", "invalid repeat count: `{1001}`"),
            ("/a{2,1}/.t", "invalid repeat count: `{2,1}`"),
            ("/a{1,1001}/.t", "invalid repeat count: `{1,1001}`"),
            ("/a{100000000}/.t", "invalid repeat count: `{100000000}`"),
            ("/(a{100}){20}/.t", "invalid repeat count: `{20}`"),
            ("/((a{10}){10}){11}?/.t", "invalid repeat count: `{11}?`"),
            ("/[a/.t", "missing closing ]: `[a`"),
            ("/[]/.t", "missing closing ]: `[]`"),
            ("/[b-a]/.t", "invalid character class range: `b-a`"),
            (
                "/[[:wort:]]/.t",
                "invalid character class range: `[:wort:]`",
            ),
            (r"/\p{Foo}/.t", r"invalid character class range: `\p{Foo}`"),
            (
                r"/\p{greek}/.t",
                r"invalid character class range: `\p{greek}`",
            ),
            (r"/\pX/.t", r"invalid character class range: `\pX`"),
            (r"/\p{Lu/.t", r"invalid character class range: `\p{Lu`"),
            (
                r"/[\p{Foo}]/.t",
                r"invalid character class range: `\p{Foo}`",
            ),
            (r"/\e/.t", r"invalid escape sequence: `\e`"),
            (r"/\C/.t", r"invalid escape sequence: `\C`"),
            (r"/\1/.t", r"invalid escape sequence: `\1`"),
            (r"/\8/.t", r"invalid escape sequence: `\8`"),
            (r"/\xZZ/.t", r"invalid escape sequence: `\xZZ`"),
            (r"/\x{}/.t", r"invalid escape sequence: `\x{}`"),
            (r"/\x{110000}/.t", r"invalid escape sequence: `\x{110000`"),
            (r"/[\b]/.t", r"invalid escape sequence: `\b`"),
            ("/(?x)a/.t", "invalid or unsupported Perl syntax: `(?x`"),
            ("/(?i/.t", "invalid or unsupported Perl syntax: `(?i`"),
            ("/(?-)/.t", "invalid or unsupported Perl syntax: `(?-)`"),
            (
                "/(?i-m-s)/.t",
                "invalid or unsupported Perl syntax: `(?i-m-`",
            ),
            ("/(?P=n)/.t", "invalid or unsupported Perl syntax: `(?P`"),
            ("/(?P<a-b>x)/.t", "invalid named capture: `(?P<a-b>`"),
            ("/(?P<>x)/.t", "invalid named capture: `(?P<>`"),
            ("/(?<=a)b/.t", "invalid named capture: `(?<=a)b`"),
        ];
        for (rule, message) in cases {
            assert_eq!(regex_error(rule), message, "{rule}");
        }
    }

    /// Go syntax that Rust's regex crate reads differently or not at all.
    #[test]
    fn go_regex_semantics() {
        let hit = |rule: &str, schema: &str| filter(&[rule]).matches(schema, "t");
        // Perl classes and word boundaries are ASCII-only in Go.
        assert!(hit(r"/^\d+$/.*", "123"));
        assert!(!hit(r"/^\d+$/.*", "١٢٣"));
        assert!(!hit(r"/^\w+$/.*", "école"));
        assert!(hit(r"/\bx/.*", "éx"));
        assert!(!hit(r"/^\s$/.*", "\u{b}"));
        assert!(hit(r"/^\S$/.*", "\u{b}"));
        // Go-only escapes and quoting.
        assert!(hit(r"/^\141$/.*", "a"));
        assert!(hit(r"/^\0$/.*", "\0"));
        assert!(hit(r"/^\x41\x{42}$/.*", "ab"));
        assert!(hit(r"/^\Qa.b\E$/.*", "a.b"));
        assert!(!hit(r"/^\Qa.b\E$/.*", "axb"));
        assert!(hit(r"/^\Qa.b$/.*", "a.b$"));
        assert!(hit(r"/^\<\>$/.*", "<>"));
        assert!(hit(r"/^\_$/.*", "_"));
        // Literal braces, class syntax Rust would treat specially.
        assert!(hit("/^a{,2}$/.*", "a{,2}"));
        assert!(hit("/^a{x$/.*", "a{x"));
        assert!(hit("/^[a&&b]$/.*", "&"));
        assert!(hit("/^[a-]$/.*", "-"));
        assert!(hit("/^[]a]$/.*", "]"));
        assert!(hit("/^[[:^digit:]]$/.*", "é"));
        assert!(!hit("/^[^a]$/.*", "A"));
        // Named groups (digits allowed), flags, laziness.
        assert!(hit("/^(?P<1st>a)(?<n>b)$/.*", "ab"));
        assert!(hit("/^(?s:.)$/.*", "\n"));
        assert!(!hit("/^.$/.*", "\n"));
        assert!(hit("/(?m)^b$/.*", "a\nb"));
        assert!(!hit("/^b$/.*", "a\nb"));
        assert!(!hit("/^a$/.*", "a\n"));
        // Go matches lower-cased names, so turning folding off again makes
        // an upper-case literal unmatchable.
        assert!(!hit("/(?-i)^A$/.*", "a"));
        // No `:]` follows, so `[:` is two ordinary class characters.
        assert!(hit("/^[[:word]+$/.*", "w:[d"));
        assert!(hit("/^(?U)a+?$/.*", "aaa"));
        // Unicode classes.
        assert!(hit(r"/^\p{Greek}+$/.*", "αβγ"));
        assert!(!hit(r"/^\P{Greek}$/.*", "α"));
        assert!(hit(r"/^\p{^Greek}$/.*", "a"));
        assert!(hit(r"/^\pL\pN$/.*", "a1"));
        assert!(hit(r"/^[\p{Han}x]+$/.*", "中x"));
        assert!(hit(r"/^\p{Any}$/.*", "😀"));
        assert!(!hit(r"/\p{Cs}/.*", "a"));
        assert!(hit(r"/^\P{Cs}$/.*", "a"));
        assert!(hit(r"/^[\p{Cs}a]$/.*", "a"));
        assert!(!hit(r"/[\p{Cs}]/.*", "a"));
        // Surrogates are accepted by Go and never match.
        assert!(!hit(r"/\x{D800}/.*", "a"));
        assert!(hit(r"/^[^\x{D800}]$/.*", "a"));
        assert!(!hit(r"/[\x{D800}-\x{DFFF}]/.*", "a"));
        // Go's special case for `*` also catches the literal regex.
        let f = filter(&["/(?s)^.*$/.*", "!x./(?s)^.*$/"]);
        assert!(!f.matches_schema("x"));
        assert!(f.matches_schema("y"));
    }

    #[test]
    fn every_go_unicode_name_compiles() {
        for name in GO_CATEGORIES.iter().chain(GO_SCRIPTS.iter()) {
            for rule in [format!(r"/\p{{{name}}}/.t"), format!(r"/[\P{{{name}}}]/.t")] {
                assert!(compiles(&rule), "{rule}");
            }
        }
    }

    /// Go refuses parse trees taller than 1000; the deepest valid patterns
    /// must still compile (this also runs on the 2 MiB test-thread stack).
    #[test]
    fn nesting_limit_follows_go_tree_height() {
        let captures = |k: usize| format!("/{}a{}/.t", "(".repeat(k), ")".repeat(k));
        let stars = |k: usize| format!("/{}a*{}/.t", "(?:".repeat(k), ")*".repeat(k));
        let alternations = |k: usize| format!("/{}a{}/.t", "(b|".repeat(k), ")".repeat(k));
        let concats = |k: usize| format!("/{}x{}/.t", "(?:a*b".repeat(k), ")".repeat(k));
        let lazy_alts = |k: usize| format!("/{}a{}/.t", "(?:b|".repeat(k), "){0,1}?".repeat(k));
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
            let src = invalid[1..invalid.len() - 3].to_owned();
            assert_eq!(
                regex_error(&invalid),
                format!("expression nests too deeply: `{src}`")
            );
        }
        // Non-capturing groups are not nodes in Go's tree.
        assert!(parse_rule(&format!("/{}a{}/.t", "(?:".repeat(5000), ")".repeat(5000))).is_ok());
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

    #[test]
    fn large_but_valid_patterns_compile() {
        assert!(compiles(r"/\pL{1000}/.t"));
        assert!(compiles("/((a{10}){10}){10}/.t"));
        let deep = format!("/{}a{}/.t", "(?:b|".repeat(300), ")".repeat(300));
        assert!(compiles(&deep));
    }

    fn compiles(rule: &str) -> bool {
        matches!(parse_rule(rule), Ok(Some(parsed)) if parsed.compiles())
    }
}
