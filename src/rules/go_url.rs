//! Go 1.19 `net/url.Parse`, reproduced closely enough to say for any `spec.s3.endpoint`
//! exactly what TiDB Operator's `url.Parse(endpoint)` said: whether it parses, its
//! `Scheme`, `Opaque`, `Host`, …, and, when it fails, Go's error text byte for byte
//! (`parse "<url>": <reason>`).
//!
//! Go strings are byte strings, so the parser works on bytes wherever Go does. The only
//! visible consequence: percent-decoded fields (`host`, `path`, `fragment`) that decode to
//! invalid UTF-8 are stored lossily (U+FFFD); parse success and error text are unaffected.

use std::fmt::{self, Write as _};

use super::go_quote::quote;

/// What Go's `url.Parse` returns, minus `RawPath`/`RawFragment`/`OmitHost` (encoding hints
/// nothing in the webhook needs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoUrl {
    /// Lower-cased, as Go does.
    pub scheme: String,
    /// Everything after `scheme:` when it does not start with `/` (still escaped).
    pub opaque: String,
    /// Raw (still escaped) text before the last `@` of the authority, if there was an `@`.
    /// Go keeps it decoded in a `*Userinfo`; see [`GoUrl::credentials`].
    pub user: Option<String>,
    /// Decoded `host[:port]`, IPv6 literals keep their brackets.
    pub host: String,
    /// Decoded path.
    pub path: String,
    /// Query text after `?`, never decoded nor validated (as in Go).
    pub raw_query: String,
    /// Decoded fragment.
    pub fragment: String,
    /// The URL ended in a lone `?` with nothing after it.
    pub force_query: bool,
}

impl GoUrl {
    /// Go's `u.User.Username()` and `u.User.Password()`: the decoded user name and, when the
    /// userinfo had a `:`, the decoded password. `None` without userinfo. Falls back to the
    /// raw text for a hand-built value whose escapes are broken (a parsed one never is).
    #[must_use]
    pub fn credentials(&self) -> Option<(String, Option<String>)> {
        let raw = self.user.as_deref()?;
        let decode = |s: &str| match unescape(s.as_bytes(), Component::Userinfo) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => s.to_owned(),
        };
        Some(match raw.split_once(':') {
            Some((name, password)) => (decode(name), Some(decode(password))),
            None => (decode(raw), None),
        })
    }

    /// Go's `u.Hostname()`: the host without a valid `:port` and without IPv6 brackets.
    #[must_use]
    pub fn hostname(&self) -> &str {
        let host = split_host_port(&self.host).0;
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// Go's `u.Port()`: the digits after the last `:` of the host, or `""`.
    #[must_use]
    pub fn port(&self) -> &str {
        split_host_port(&self.host).1
    }
}

/// Go's `*url.Error` for `Op == "parse"`: `parse "<url>": <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoUrlError {
    url: String,
    kind: GoUrlErrorKind,
    inner: String,
}

impl GoUrlError {
    fn new(url: &str, kind: GoUrlErrorKind) -> Self {
        let inner = kind.to_string();
        Self {
            url: url.to_owned(),
            kind,
            inner,
        }
    }

    /// The reason alone, e.g. `missing protocol scheme` (Go's `err.(*url.Error).Err`).
    #[must_use]
    pub fn inner(&self) -> &str {
        &self.inner
    }

    /// The URL text Go puts in the message: the input without its `#fragment`, except for
    /// fragment escape errors, which quote the whole input (as Go does).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which check failed, for callers that want to branch rather than compare text.
    #[must_use]
    pub fn kind(&self) -> &GoUrlErrorKind {
        &self.kind
    }
}

impl fmt::Display for GoUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parse {}: {}", quote(&self.url), self.inner)
    }
}

impl std::error::Error for GoUrlError {}

/// The failing check; `Display` is Go's inner error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoUrlErrorKind {
    /// An ASCII control byte (< 0x20 or 0x7f) before the fragment.
    ControlCharacter,
    /// The input starts with `:`.
    MissingScheme,
    /// No scheme, and the first path segment holds a `:` (`10.0.0.1:9000`).
    ColonInFirstSegment,
    /// A userinfo character outside RFC 3986's set.
    InvalidUserinfo,
    /// `[` opens the host but no `]` follows.
    MissingBracket,
    /// What follows the host is not `:digits` (the text as Go quotes it, colon included).
    InvalidPort(String),
    /// An ASCII byte not allowed in a host name.
    InvalidHostChar(u8),
    /// A malformed or forbidden `%` escape: up to three bytes starting at the `%`, which
    /// may cut a UTF-8 sequence (Go then quotes the stray bytes as `\x..`).
    InvalidEscape(Vec<u8>),
}

impl fmt::Display for GoUrlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharacter => f.write_str("net/url: invalid control character in URL"),
            Self::MissingScheme => f.write_str("missing protocol scheme"),
            Self::ColonInFirstSegment => {
                f.write_str("first path segment in URL cannot contain colon")
            }
            Self::InvalidUserinfo => f.write_str("net/url: invalid userinfo"),
            Self::MissingBracket => f.write_str("missing ']' in host"),
            Self::InvalidPort(port) => write!(f, "invalid port {} after host", quote(port)),
            Self::InvalidHostChar(b) => {
                write!(f, "invalid character {} in host name", quote_bytes(&[*b]))
            }
            Self::InvalidEscape(bytes) => write!(f, "invalid URL escape {}", quote_bytes(bytes)),
        }
    }
}

/// Parses `raw` exactly as Go 1.19's `url.Parse` does.
///
/// # Errors
///
/// Whenever Go's `url.Parse` returns an error; the error's `Display` is Go's text.
pub fn parse(raw: &str) -> Result<GoUrl, GoUrlError> {
    // Go cuts at the first '#' before anything else; errors before the fragment quote
    // only the part before it.
    let (before, fragment) = match raw.split_once('#') {
        Some((before, fragment)) => (before, fragment),
        None => (raw, ""),
    };
    let mut url = parse_reference(before).map_err(|kind| GoUrlError::new(before, kind))?;
    if !fragment.is_empty() {
        let decoded = unescape(fragment.as_bytes(), Component::Fragment)
            .map_err(|kind| GoUrlError::new(raw, kind))?;
        url.fragment = lossy(decoded);
    }
    Ok(url)
}

/// Everything but the fragment (Go's unexported `parse(rawURL, viaRequest=false)`).
fn parse_reference(raw: &str) -> Result<GoUrl, GoUrlErrorKind> {
    // Only the part before '#' is checked: Go lets control bytes through in fragments.
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err(GoUrlErrorKind::ControlCharacter);
    }
    let mut url = GoUrl::default();
    if raw == "*" {
        url.path = "*".to_owned();
        return Ok(url);
    }

    let (scheme, rest) = split_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();

    // A single trailing '?' means "empty query, but keep the '?'"; otherwise the first
    // '?' starts the query, even if the query itself ends in '?'.
    let rest = match rest.strip_suffix('?') {
        Some(stripped) if !stripped.contains('?') => {
            url.force_query = true;
            stripped
        }
        _ => match rest.split_once('?') {
            Some((before, query)) => {
                url.raw_query = query.to_owned();
                before
            }
            None => rest,
        },
    };

    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // RFC 3986 rootless path after a scheme: kept verbatim, nothing else parsed.
            url.opaque = rest.to_owned();
            return Ok(url);
        }
        // Without a scheme, `host:port` would silently become a path; Go refuses it.
        let first_segment = rest.split('/').next().unwrap_or_default();
        if first_segment.contains(':') {
            return Err(GoUrlErrorKind::ColonInFirstSegment);
        }
    }

    let mut path = rest;
    if let Some(after) = rest.strip_prefix("//")
        && (!url.scheme.is_empty() || !rest.starts_with("///"))
    {
        let (authority, tail) = match after.find('/') {
            Some(i) => after.split_at(i),
            None => (after, ""),
        };
        let (user, host) = parse_authority(authority)?;
        url.user = user;
        url.host = host;
        path = tail;
    }

    url.path = lossy(unescape(path.as_bytes(), Component::Path)?);
    Ok(url)
}

/// Go's `getScheme`: `[A-Za-z][A-Za-z0-9+.-]*` followed by `:`; anything else means
/// "no scheme" (the whole input is the rest), except a leading `:`, which is an error.
fn split_scheme(raw: &str) -> Result<(&str, &str), GoUrlErrorKind> {
    for (i, b) in raw.bytes().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err(GoUrlErrorKind::MissingScheme),
            // Every earlier byte was a scheme character, so this is the first ':'.
            b':' => return Ok(raw.split_once(':').unwrap_or(("", raw))),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// `[userinfo@]host[:port]`: the host is checked first, then the userinfo (Go's order,
/// which decides which error wins when both are bad).
fn parse_authority(authority: &str) -> Result<(Option<String>, String), GoUrlErrorKind> {
    // The last '@' separates, so unescaped '@' may appear inside the userinfo.
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    let Some(userinfo) = userinfo else {
        return Ok((None, host));
    };
    if !userinfo.bytes().all(is_userinfo_byte) {
        return Err(GoUrlErrorKind::InvalidUserinfo);
    }
    // Only the escapes are checked here; name and password are split at the first ':'.
    let (name, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    unescape(name.as_bytes(), Component::Userinfo)?;
    unescape(password.as_bytes(), Component::Userinfo)?;
    Ok((Some(userinfo.to_owned()), host))
}

/// RFC 3986 userinfo characters plus '%' (escapes are checked separately) and '@'.
/// Non-ASCII bytes are rejected, as Go rejects every non-ASCII rune.
fn is_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b':'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
                | b'@'
        )
}

/// Go's `parseHost`: validates the optional port, then the characters and escapes of the
/// host, with RFC 6874 zone rules inside an IPv6 literal.
fn parse_host(host: &str) -> Result<String, GoUrlErrorKind> {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return Err(GoUrlErrorKind::MissingBracket);
        };
        // `literal` is "[addr", `tail` is "]" plus whatever follows it.
        let (literal, tail) = host.split_at(close);
        let colon_port = tail.strip_prefix(']').unwrap_or(tail);
        check_port(colon_port)?;
        // "%25" starts a zone, which may escape far more than the rest of a host may.
        if let Some(zone) = literal.find("%25") {
            let (address, zone) = literal.split_at(zone);
            let mut out = unescape(address.as_bytes(), Component::Host)?;
            out.extend(unescape(zone.as_bytes(), Component::Zone)?);
            out.extend(unescape(tail.as_bytes(), Component::Host)?);
            return Ok(lossy(out));
        }
    } else if let Some(colon) = host.rfind(':') {
        let (_, colon_port) = host.split_at(colon);
        check_port(colon_port)?;
    }
    Ok(lossy(unescape(host.as_bytes(), Component::Host)?))
}

fn check_port(colon_port: &str) -> Result<(), GoUrlErrorKind> {
    if is_optional_port(colon_port) {
        Ok(())
    } else {
        Err(GoUrlErrorKind::InvalidPort(colon_port.to_owned()))
    }
}

/// `""` or `:` followed by ASCII digits only (an empty port is fine).
fn is_optional_port(colon_port: &str) -> bool {
    colon_port.is_empty()
        || colon_port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's unexported `splitHostPort` (no validation of the host part).
fn split_host_port(host_port: &str) -> (&str, &str) {
    if let Some(colon) = host_port.rfind(':') {
        let (host, colon_port) = host_port.split_at(colon);
        if is_optional_port(colon_port) {
            return (host, colon_port.strip_prefix(':').unwrap_or_default());
        }
    }
    (host_port, "")
}

/// The part of a URL being decoded; only hosts and zones restrict characters and escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Component {
    Path,
    Fragment,
    Userinfo,
    Host,
    Zone,
}

/// Go's `unescape` for every mode `Parse` uses ('+' is never a space outside queries).
/// Errors report the first offending spot scanning left to right, as Go does.
fn unescape(s: &[u8], component: Component) -> Result<Vec<u8>, GoUrlErrorKind> {
    let restricted = matches!(component, Component::Host | Component::Zone);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b != b'%' {
            if restricted && b < 0x80 && !is_host_byte(b) {
                return Err(GoUrlErrorKind::InvalidHostChar(b));
            }
            out.push(b);
            i += 1;
            continue;
        }
        let escape = s.get(i..i + 3);
        let Some(&[_, hi, lo]) = escape else {
            // Fewer than two bytes after '%': report what is there.
            return Err(GoUrlErrorKind::InvalidEscape(
                s.get(i..).unwrap_or_default().to_vec(),
            ));
        };
        let (Some(h), Some(l)) = (hex_value(hi), hex_value(lo)) else {
            return Err(GoUrlErrorKind::InvalidEscape(vec![b'%', hi, lo]));
        };
        let value = h << 4 | l;
        let forbidden = match component {
            // Hosts may only escape non-ASCII bytes, plus "%25" (which introduces a zone).
            Component::Host => value < 0x80 && value != b'%',
            // Zones may escape what they could write directly, '%' and (for Windows) spaces.
            Component::Zone => value != b'%' && value != b' ' && !is_host_byte(value),
            Component::Path | Component::Fragment | Component::Userinfo => false,
        };
        if forbidden {
            return Err(GoUrlErrorKind::InvalidEscape(vec![b'%', hi, lo]));
        }
        out.push(value);
        i += 3;
    }
    Ok(out)
}

/// Bytes Go's `shouldEscape(c, encodeHost)` lets stand in a host: alphanumerics,
/// RFC 3986 unreserved marks and sub-delims, plus `:`, `[`, `]`, `<`, `>`, `"` (ports,
/// IPv6 literals, and characters Go chose to tolerate).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `strconv.Quote` of a Go string that need not be UTF-8: valid runs are quoted as usual,
/// each stray byte becomes `\xNN`.
fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        let quoted = quote(chunk.valid());
        let body = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(&quoted);
        out.push_str(body);
        for b in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> GoUrl {
        match parse(raw) {
            Ok(url) => url,
            Err(e) => panic!("{raw:?} should parse, got {e}"),
        }
    }

    fn err(raw: &str) -> String {
        match parse(raw) {
            Ok(url) => panic!("{raw:?} should fail, got {url:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    /// Every row of the endpoint table in the TiDB Operator v1 reference, §3.2.
    #[test]
    fn tidb_operator_endpoint_table() {
        assert_eq!(
            err("#$@$#^%**##"),
            r##"parse "#$@$#^%**##": invalid URL escape "%**""##
        );
        assert_eq!(
            ok("/path"),
            GoUrl {
                path: s("/path"),
                ..GoUrl::default()
            }
        );
        assert_eq!(
            ok("s3.amazonaws.com"),
            GoUrl {
                path: s("s3.amazonaws.com"),
                ..GoUrl::default()
            }
        );
        assert_eq!(
            ok("s3:///"),
            GoUrl {
                scheme: s("s3"),
                path: s("/"),
                ..GoUrl::default()
            }
        );
        for (raw, scheme) in [("localhost:9000", "localhost"), ("minio:9000", "minio")] {
            assert_eq!(
                ok(raw),
                GoUrl {
                    scheme: s(scheme),
                    opaque: s("9000"),
                    ..GoUrl::default()
                }
            );
        }
        for raw in ["10.0.0.1:9000", "1http://x"] {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.inner(), "first path segment in URL cannot contain colon");
            assert_eq!(e.kind(), &GoUrlErrorKind::ColonInFirstSegment);
            assert_eq!(
                e.to_string(),
                format!("parse \"{raw}\": first path segment in URL cannot contain colon")
            );
        }
        assert_eq!(err(":9000"), r#"parse ":9000": missing protocol scheme"#);
        assert_eq!(
            err("http:// x"),
            r#"parse "http:// x": invalid character " " in host name"#
        );
        for (raw, scheme, host) in [
            ("s3://localhost:80", "s3", "localhost:80"),
            ("http://minio:9000", "http", "minio:9000"),
            ("https://s3.amazonaws.com", "https", "s3.amazonaws.com"),
            ("http://[::1]:9000", "http", "[::1]:9000"),
            ("HTTP://X", "http", "X"),
        ] {
            assert_eq!(
                ok(raw),
                GoUrl {
                    scheme: s(scheme),
                    host: s(host),
                    ..GoUrl::default()
                },
                "{raw}"
            );
        }
    }

    /// A sample of `urltests` from Go's `url_test.go`.
    #[test]
    fn go_parse_vectors() {
        let cases = [
            (
                "http://www.google.com/file%20one%26two",
                GoUrl {
                    scheme: s("http"),
                    host: s("www.google.com"),
                    path: s("/file one&two"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://www.google.com/#file%20one%26two",
                GoUrl {
                    scheme: s("http"),
                    host: s("www.google.com"),
                    path: s("/"),
                    fragment: s("file one&two"),
                    ..GoUrl::default()
                },
            ),
            (
                "ftp://john%20doe@www.google.com/",
                GoUrl {
                    scheme: s("ftp"),
                    user: Some(s("john%20doe")),
                    host: s("www.google.com"),
                    path: s("/"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://www.google.com/?",
                GoUrl {
                    scheme: s("http"),
                    host: s("www.google.com"),
                    path: s("/"),
                    force_query: true,
                    ..GoUrl::default()
                },
            ),
            (
                "http://www.google.com/?foo=bar?",
                GoUrl {
                    scheme: s("http"),
                    host: s("www.google.com"),
                    path: s("/"),
                    raw_query: s("foo=bar?"),
                    ..GoUrl::default()
                },
            ),
            (
                "http:%2f%2fwww.google.com/?q=go+language",
                GoUrl {
                    scheme: s("http"),
                    opaque: s("%2f%2fwww.google.com/"),
                    raw_query: s("q=go+language"),
                    ..GoUrl::default()
                },
            ),
            (
                "mailto:/webmaster@golang.org",
                GoUrl {
                    scheme: s("mailto"),
                    path: s("/webmaster@golang.org"),
                    ..GoUrl::default()
                },
            ),
            (
                "MaIlTo:webmaster@golang.org",
                GoUrl {
                    scheme: s("mailto"),
                    opaque: s("webmaster@golang.org"),
                    ..GoUrl::default()
                },
            ),
            (
                "/foo?query=http://bad",
                GoUrl {
                    path: s("/foo"),
                    raw_query: s("query=http://bad"),
                    ..GoUrl::default()
                },
            ),
            (
                "//user@foo/path?a=b",
                GoUrl {
                    user: Some(s("user")),
                    host: s("foo"),
                    path: s("/path"),
                    raw_query: s("a=b"),
                    ..GoUrl::default()
                },
            ),
            (
                "///threeslashes",
                GoUrl {
                    path: s("///threeslashes"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://j@ne:password@google.com/p@th?q=@go",
                GoUrl {
                    scheme: s("http"),
                    user: Some(s("j@ne:password")),
                    host: s("google.com"),
                    path: s("/p@th"),
                    raw_query: s("q=@go"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://www.google.com/?q=go+language#foo%26bar",
                GoUrl {
                    scheme: s("http"),
                    host: s("www.google.com"),
                    path: s("/"),
                    raw_query: s("q=go+language"),
                    fragment: s("foo&bar"),
                    ..GoUrl::default()
                },
            ),
            (
                "file:///C:/FooBar/Baz.txt",
                GoUrl {
                    scheme: s("file"),
                    path: s("/C:/FooBar/Baz.txt"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://[fe80::1%25en0]:8080/",
                GoUrl {
                    scheme: s("http"),
                    host: s("[fe80::1%en0]:8080"),
                    path: s("/"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://[fe80::1%25%65%6e%301-._~]/",
                GoUrl {
                    scheme: s("http"),
                    host: s("[fe80::1%en01-._~]"),
                    path: s("/"),
                    ..GoUrl::default()
                },
            ),
            (
                "scheme://!$&'()*+,;=hello!:1/path",
                GoUrl {
                    scheme: s("scheme"),
                    host: s("!$&'()*+,;=hello!:1"),
                    path: s("/path"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://host/!$&'()*+,;=:@[hello]",
                GoUrl {
                    scheme: s("http"),
                    host: s("host"),
                    path: s("/!$&'()*+,;=:@[hello]"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://192.168.0.2:/foo",
                GoUrl {
                    scheme: s("http"),
                    host: s("192.168.0.2:"),
                    path: s("/foo"),
                    ..GoUrl::default()
                },
            ),
            (
                // Malformed IPv6 without brackets: Go 1.19 still accepts it.
                "http://2b01:e34:ef40:7730:8e70:5aff:fefe:edac:8080/foo",
                GoUrl {
                    scheme: s("http"),
                    host: s("2b01:e34:ef40:7730:8e70:5aff:fefe:edac:8080"),
                    path: s("/foo"),
                    ..GoUrl::default()
                },
            ),
            (
                "http://hello.%e4%b8%96%e7%95%8c.com/foo",
                GoUrl {
                    scheme: s("http"),
                    host: s("hello.世界.com"),
                    path: s("/foo"),
                    ..GoUrl::default()
                },
            ),
            (
                "myscheme://authority<\"hi\">/foo",
                GoUrl {
                    scheme: s("myscheme"),
                    host: s("authority<\"hi\">"),
                    path: s("/foo"),
                    ..GoUrl::default()
                },
            ),
            (
                "tcp://[2020::2020:20:2020:2020%25Windows%20Loves%20Spaces]:2020",
                GoUrl {
                    scheme: s("tcp"),
                    host: s("[2020::2020:20:2020:2020%Windows Loves Spaces]:2020"),
                    ..GoUrl::default()
                },
            ),
            (
                "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn",
                GoUrl {
                    scheme: s("magnet"),
                    raw_query: s("xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn"),
                    ..GoUrl::default()
                },
            ),
            (
                "cache_object/:foo/bar",
                GoUrl {
                    path: s("cache_object/:foo/bar"),
                    ..GoUrl::default()
                },
            ),
            ("", GoUrl::default()),
            (
                "*",
                GoUrl {
                    path: s("*"),
                    ..GoUrl::default()
                },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(ok(raw), want, "{raw}");
        }
    }

    /// Go's `TestParseErrors` plus more, each with the exact text Go 1.19.8 printed.
    #[test]
    fn go_error_messages() {
        let cases = [
            (
                "http://[::1]:namedport",
                r#"invalid port ":namedport" after host"#,
            ),
            (
                "http://x:namedport",
                r#"invalid port ":namedport" after host"#,
            ),
            ("http://[::1]a", r#"invalid port "a" after host"#),
            ("http://[::1]%23", r#"invalid port "%23" after host"#),
            (
                "http://[::1]:%38%30",
                r#"invalid port ":%38%30" after host"#,
            ),
            ("http://[%10::1]", r#"invalid URL escape "%10""#),
            ("http://%41:8080/", r#"invalid URL escape "%41""#),
            (
                "mysql://x@y(z:123)/foo",
                r#"invalid port ":123)" after host"#,
            ),
            (
                " http://foo.com",
                "first path segment in URL cannot contain colon",
            ),
            (
                "ht tp://foo.com",
                "first path segment in URL cannot contain colon",
            ),
            (
                "cache_object://foo",
                "first path segment in URL cannot contain colon",
            ),
            (
                "cache_object:foo/bar",
                "first path segment in URL cannot contain colon",
            ),
            ("http://a b.com/", r#"invalid character " " in host name"#),
            (
                "http://[]%20%48%54%54%50%2f%31%2e%31%0a%4d%79%48%65%61%64%65%72%3a%20%31%32%33%0a%0a/",
                r#"invalid port "%20%48%54%54%50%2f%31%2e%31%0a%4d%79%48%65%61%64%65%72%3a%20%31%32%33%0a%0a" after host"#,
            ),
            ("http://x:80%", r#"invalid port ":80%" after host"#),
            ("http://x:-1/", r#"invalid port ":-1" after host"#),
            ("http://x: 80/", r#"invalid port ": 80" after host"#),
            ("http://x:٣/", r#"invalid port ":٣" after host"#),
            ("http://x\\y/", r#"invalid character "\\" in host name"#),
            ("http://x{y}/", r#"invalid character "{" in host name"#),
            ("http://x|y/", r#"invalid character "|" in host name"#),
            ("http://x%", r#"invalid URL escape "%""#),
            ("http://x%2", r#"invalid URL escape "%2""#),
            ("http://x/%zz", r#"invalid URL escape "%zz""#),
            ("http://x/a%2", r#"invalid URL escape "%2""#),
            ("s3://bucket:9000/%", r#"invalid URL escape "%""#),
            ("/%", r#"invalid URL escape "%""#),
            ("a%é", r#"invalid URL escape "%é""#),
            ("http://[fe80::1", "missing ']' in host"),
            ("http://[fe80::1%25en0", "missing ']' in host"),
        ];
        for (raw, inner) in cases {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.inner(), inner, "{raw}");
            assert_eq!(e.to_string(), format!("parse {}: {inner}", quote(raw)));
        }
    }

    #[test]
    fn control_characters_only_before_fragment() {
        assert_eq!(
            err("http://foo.com/?foo\nbar"),
            r#"parse "http://foo.com/?foo\nbar": net/url: invalid control character in URL"#
        );
        assert_eq!(
            err("http\r://foo.com/"),
            r#"parse "http\r://foo.com/": net/url: invalid control character in URL"#
        );
        assert_eq!(
            err("http://foo\u{7f}.com/"),
            r#"parse "http://foo\x7f.com/": net/url: invalid control character in URL"#
        );
        // The error quotes only the text before '#'.
        assert_eq!(
            err("\u{0}#x"),
            r#"parse "\x00": net/url: invalid control character in URL"#
        );
        assert_eq!(
            parse("\u{0}#x").unwrap_err().kind(),
            &GoUrlErrorKind::ControlCharacter
        );
        // Fragments are never checked for control bytes; non-ASCII controls pass too.
        assert_eq!(
            ok("#\n"),
            GoUrl {
                fragment: s("\n"),
                ..GoUrl::default()
            }
        );
        assert_eq!(ok("http://foo.com/ctl\u{80}").path, "/ctl\u{80}");
    }

    #[test]
    fn fragment_is_cut_at_first_hash_and_unescaped() {
        assert_eq!(
            ok("http://x/a#b#c%20d"),
            GoUrl {
                scheme: s("http"),
                host: s("x"),
                path: s("/a"),
                fragment: s("b#c d"),
                ..GoUrl::default()
            }
        );
        // Empty fragment: nothing to decode.
        assert_eq!(ok("s3://x#").fragment, "");
        // Fragment errors quote the whole input, fragment included.
        assert_eq!(
            err("http://x/?q#%"),
            r#"parse "http://x/?q#%": invalid URL escape "%""#
        );
        assert_eq!(err("x:y#%"), r#"parse "x:y#%": invalid URL escape "%""#);
        assert_eq!(
            err("http://x#\n%"),
            r#"parse "http://x#\n%": invalid URL escape "%""#
        );
        // A fragment is decoded even after an opaque part.
        assert_eq!(ok("x:%zz#%41").fragment, "A");
    }

    #[test]
    fn escape_errors_quote_bytes_like_go() {
        // Go reports three bytes from '%', which can split a UTF-8 sequence.
        let e = parse("a%a€x").unwrap_err();
        assert_eq!(e.inner(), r#"invalid URL escape "%a\xe2""#);
        assert_eq!(
            e.kind(),
            &GoUrlErrorKind::InvalidEscape(vec![b'%', b'a', 0xe2])
        );
        assert_eq!(
            err("http://x/#%a€"),
            r#"parse "http://x/#%a€": invalid URL escape "%a\xe2""#
        );
    }

    #[test]
    fn ipv6_literals_and_zones() {
        assert_eq!(ok("http://[::1]").host, "[::1]");
        assert_eq!(ok("http://[::1]:").host, "[::1]:");
        assert_eq!(ok("http://[::1%25en0]").host, "[::1%en0]");
        // Over-escaping inside a zone is allowed ...
        assert_eq!(ok("http://[::1%25%41]").host, "[::1%A]");
        assert_eq!(ok("http://[::1]/%48").path, "/H");
        // ... but only for bytes a host could hold unescaped (or a space).
        let cases = [
            ("http://[fe80::1%25%0a]/", r#"invalid URL escape "%0a""#),
            ("http://[fe80::1%25%c3%a9]/", r#"invalid URL escape "%c3""#),
            ("http://[fe80::1%25en%]/", r#"invalid URL escape "%""#),
            ("http://[fe80::1%25en0]x/", r#"invalid port "x" after host"#),
            // RFC 4007 text form: a bare '%' is not a zone in a URL.
            ("http://[fe80::1%en0]/", r#"invalid URL escape "%en""#),
            ("http://[fe80::%31%25en0]/", r#"invalid URL escape "%31""#),
        ];
        for (raw, inner) in cases {
            assert_eq!(parse(raw).unwrap_err().inner(), inner, "{raw}");
        }
        // Go 1.19 uses the last ']' and does not validate the address itself.
        assert_eq!(ok("http://[::1]]:80/").host, "[::1]]:80");
        assert_eq!(ok("http://[[::1]:80/").host, "[[::1]:80");
        assert_eq!(ok("http://[google.com]:80").host, "[google.com]:80");
    }

    #[test]
    fn hosts_without_brackets() {
        // Only the text after the last ':' must be a port.
        assert_eq!(ok("http://x:80:90/").host, "x:80:90");
        assert_eq!(ok("http://x:").host, "x:");
        // Non-ASCII is allowed raw or %-escaped; ASCII may not be escaped (except %25).
        assert_eq!(ok("http://\u{a0}/").host, "\u{a0}");
        assert_eq!(ok("http://a%25b/").host, "a%b");
        assert_eq!(
            parse("http://x^y/").unwrap_err().kind(),
            &GoUrlErrorKind::InvalidHostChar(b'^')
        );
        // Escapes decoding to invalid UTF-8 are stored lossily.
        assert_eq!(ok("http://%ff/").host, "\u{fffd}");
    }

    #[test]
    fn userinfo() {
        let url = ok("http://%3Fam:pa%3Fsword@google.com");
        assert_eq!(url.user.as_deref(), Some("%3Fam:pa%3Fsword"));
        assert_eq!(url.host, "google.com");
        assert_eq!(url.credentials(), Some((s("?am"), Some(s("pa?sword")))));
        assert_eq!(
            ok("http://jane:p@ssword@google.com").credentials(),
            Some((s("jane"), Some(s("p@ssword"))))
        );
        assert_eq!(
            ok("ftp://webmaster@www.google.com/").credentials(),
            Some((s("webmaster"), None))
        );
        assert_eq!(ok("http://@x").credentials(), Some((s(""), None)));
        assert_eq!(ok("http://x").credentials(), None);
        // The last '@' wins; the host part is "c:1:2".
        assert_eq!(ok("http://a@b@c:1:2/").host, "c:1:2");

        let cases = [
            (
                "http://user^:passwo^rd@foo.com/",
                "net/url: invalid userinfo",
            ),
            ("http://a b@x/", "net/url: invalid userinfo"),
            ("http://é@x/", "net/url: invalid userinfo"),
            ("http://%zz@x/", r#"invalid URL escape "%zz""#),
            ("http://a%2@x/", r#"invalid URL escape "%2""#),
            ("http://a:%G0@x/", r#"invalid URL escape "%G0""#),
            // The host is checked before the userinfo.
            ("http://x y@z w/", r#"invalid character " " in host name"#),
        ];
        for (raw, inner) in cases {
            assert_eq!(parse(raw).unwrap_err().inner(), inner, "{raw}");
        }
    }

    #[test]
    fn scheme_rules() {
        assert_eq!(ok("ahttp://foo.com").scheme, "ahttp");
        assert_eq!(ok("S3+X.y-1://h").scheme, "s3+x.y-1");
        assert_eq!(ok("http:").scheme, "http");
        // "http:?" sets ForceQuery on an otherwise empty opaque URL.
        assert_eq!(
            ok("http:?"),
            GoUrl {
                scheme: s("http"),
                force_query: true,
                ..GoUrl::default()
            }
        );
        // With two '?', the first starts the query.
        assert_eq!(ok("a??").raw_query, "?");
        // A scheme with "//" always parses an authority, even an empty one.
        assert_eq!(ok("http:///x").path, "/x");
        assert_eq!(err(":"), r#"parse ":": missing protocol scheme"#);
        assert_eq!(
            parse(":").unwrap_err().kind(),
            &GoUrlErrorKind::MissingScheme
        );
    }

    #[test]
    fn hostname_and_port() {
        let cases = [
            ("foo.com:80", "foo.com", "80"),
            ("foo.com:", "foo.com", ""),
            ("[1:2:3:4]:80", "1:2:3:4", "80"),
            ("[::1]", "::1", ""),
            ("[google.com]:80", "google.com", "80"),
            ("google.com]:80", "google.com]", "80"),
            (
                "google.com:80_invalid_port",
                "google.com:80_invalid_port",
                "",
            ),
            ("[::1]extra]:80", "::1]extra", "80"),
        ];
        for (host, name, port) in cases {
            let url = GoUrl {
                host: s(host),
                ..GoUrl::default()
            };
            assert_eq!((url.hostname(), url.port()), (name, port), "{host}");
        }
    }

    #[test]
    fn error_accessors() {
        let e = parse("10.0.0.1:9000#frag").unwrap_err();
        assert_eq!(e.url(), "10.0.0.1:9000");
        assert_eq!(
            e.to_string(),
            r#"parse "10.0.0.1:9000": first path segment in URL cannot contain colon"#
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.source().is_none());
    }
}
