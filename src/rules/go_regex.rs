//! Go's `regexp` syntax (RE2, as `regexp.Compile` reads it) for the `regex` crate.
//!
//! BR compiles both `/regex/` table-filter patterns and the regexes it derives from
//! wildcards with Go's `regexp`. Rust's `regex` syntax is close but not the same, so
//! patterns are never handed to the `regex` crate as written. Instead [`GoRegex::parse`]
//! follows Go's `regexp/syntax` parser, reports Go's errors with Go's text, and writes out
//! an equivalent pattern for the `regex` crate, which does the matching. Where the two
//! syntaxes differ:
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
//!   by the `regex` crate within its own size limit ([`REGEX_SIZE_LIMIT`]); a huge
//!   pattern past it (about 100,000 wildcards, or a regex a megabyte long) fails to
//!   compile although Go accepts it.
//! * Case folding and lower-casing use Rust's Unicode tables, which may be a
//!   newer Unicode version than the one in the Go build of BR.
//!
//! Parsing is linear in the pattern length. Patterns whose Go tree is more than 32
//! levels tall are compiled on a short-lived helper thread with a large stack, because
//! the `regex` crate's compiler recurses once per level.

mod names;
#[cfg(test)]
mod tests;

use regex::bytes::{Regex, RegexBuilder};

use names::{GO_CATEGORIES, GO_POSIX_CLASSES, GO_SCRIPTS};

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

/// A Go regex checked with Go's rules and translated for the `regex` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoRegex {
    translated: String,
    /// Height of Go's parse tree: decides where [`GoRegex::compile`] runs.
    height: u32,
}

/// Why the `regex` crate could not compile a translated pattern (Go would have).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Regex(#[from] regex::Error),
    #[error("cannot start the regex compiler thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the regex compiler thread panicked")]
    Panicked,
}

impl GoRegex {
    /// Reads `src` as Go's `regexp.Compile` does; `fold` starts it case-insensitive, as
    /// a `(?i)` prefix would.
    pub fn parse(src: &str, fold: bool) -> Result<Self, GoRegexError> {
        let (translated, height) = Translator::new(src, fold).run()?;
        Ok(GoRegex { translated, height })
    }

    /// The equivalent pattern in the `regex` crate's syntax.
    pub fn translated(&self) -> &str {
        &self.translated
    }

    /// Compiles the translation for matching bytes; deep patterns on a helper thread
    /// with a large stack, because the `regex` crate's compiler recurses once per level.
    pub fn compile(&self) -> Result<Regex, CompileError> {
        let build = || {
            RegexBuilder::new(&self.translated)
                .size_limit(REGEX_SIZE_LIMIT)
                .nest_limit(REGEX_NEST_LIMIT)
                .build()
                .map_err(CompileError::from)
        };
        if self.height <= INLINE_COMPILE_HEIGHT {
            return build();
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("go-regex-compile".to_owned())
                .stack_size(DEEP_COMPILE_STACK)
                .spawn_scoped(scope, build)
                .map_err(CompileError::Thread)?
                .join()
                .map_err(|_| CompileError::Panicked)?
        })
    }
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

/// A Go `*syntax.Error`; `Display` is Go's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing regexp: {code}: `{expr}`")]
pub struct GoRegexError {
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
