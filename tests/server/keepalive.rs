//! Keep-alive after error answers, with a real TLS client on one connection: a small
//! unread body is drained and the connection serves the next request; a large one gets
//! `Connection: close`, and the answer is readable even by a client that sends its whole
//! body before reading (no reset).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::support::{CREATE_REVIEW, TestServer, tls_connect};

/// One HTTP/1.1 response read off a keep-alive connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Reads exactly one response (headers and its Content-Length body); a reset or an early
/// end of the stream is a test failure.
async fn read_answer<S: AsyncRead + Unpin>(stream: &mut S) -> Answer {
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let mut lines = head.lines();
            let status = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .expect("a status line");
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.parse().expect("length"))
                .expect("a Content-Length");
            let start = end + 4;
            while data.len() < start + length {
                let n = read_some(stream, &mut buf).await;
                assert!(n > 0, "the stream ended inside the body");
                data.extend_from_slice(&buf[..n]);
            }
            return Answer {
                status,
                headers,
                body: data[start..start + length].to_vec(),
            };
        }
        let n = read_some(stream, &mut buf).await;
        assert!(n > 0, "the stream ended before an answer: {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> usize {
    tokio::time::timeout(Duration::from_secs(10), stream.read(buf))
        .await
        .expect("an answer within 10 s")
        .expect("no reset")
}

/// After `Connection: close` the stream ends cleanly: TLS close_notify, no reset.
async fn expect_clean_end<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut buf = [0u8; 1024];
    assert_eq!(
        read_some(stream, &mut buf).await,
        0,
        "no more data expected"
    );
}

/// A keep-alive request (no `Connection: close`).
fn request(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    [head.as_bytes(), body].concat()
}

fn review_request() -> Vec<u8> {
    request(
        "POST",
        "/validate",
        Some("application/json"),
        CREATE_REVIEW.as_bytes(),
    )
}

/// Every error answer given before the body was read leaves the connection usable: the
/// next review on it is answered.
#[tokio::test]
async fn error_answers_keep_the_connection_usable() {
    let server = TestServer::start(|_| {}).await;
    let review = CREATE_REVIEW.as_bytes();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "PUT /mutate with a body",
            request("PUT", "/mutate", Some("application/json"), review),
            405,
            "only POST is allowed on review paths",
        ),
        (
            "POST to an unknown path",
            request("POST", "/review", Some("application/json"), review),
            404,
            "not found: POST reviews to /mutate or /validate",
        ),
        (
            "text/plain",
            request("POST", "/mutate", Some("text/plain"), review),
            415,
            "Content-Type must be application/json",
        ),
        (
            "GET without a body",
            request("GET", "/validate", None, b""),
            405,
            "only POST is allowed on review paths",
        ),
        (
            "not JSON",
            request("POST", "/mutate", Some("application/json"), b"not json"),
            400,
            "body is not a valid AdmissionReview: expected ident at line 1 column 2",
        ),
        (
            "a 60 KiB body on an unknown path",
            request("POST", "/", Some("application/json"), &vec![b' '; 60 << 10]),
            404,
            "not found: POST reviews to /mutate or /validate",
        ),
    ];
    let mut stream = tls_connect(&server).await;
    for (name, bytes, status, message) in cases {
        stream.write_all(&bytes).await.expect("request");
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        assert_eq!(answer.json()["error"], message, "{name}");
        assert_ne!(answer.header("connection"), Some("close"), "{name}");
        stream.write_all(&review_request()).await.expect("review");
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, 200, "after {name}: {answer:?}");
        assert_eq!(answer.json()["response"]["allowed"], true, "after {name}");
    }
}

/// A body too large to drain: the answer says `Connection: close`, the client that sent
/// the whole body first reads it, then a clean end of the stream.
#[tokio::test]
async fn a_large_unread_body_gets_connection_close_and_no_reset() {
    let server = TestServer::start(|_| {}).await;
    let mut stream = tls_connect(&server).await;
    let body = vec![b' '; 1 << 20];
    stream
        .write_all(&request(
            "PUT",
            "/validate",
            Some("application/json"),
            &body,
        ))
        .await
        .expect("the whole body is taken");
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 405, "{answer:?}");
    assert_eq!(
        answer.json()["error"],
        "only POST is allowed on review paths"
    );
    assert_eq!(answer.header("connection"), Some("close"));
    expect_clean_end(&mut stream).await;
}

/// A 9 MiB review, sent whole before reading: 413 with a JSON error and `Connection:
/// close`, readable after the upload, then a clean end; the server keeps serving.
#[tokio::test]
async fn a_9_mib_body_sent_whole_gets_a_readable_413() {
    let server = TestServer::start(|_| {}).await;
    let mut stream = tls_connect(&server).await;
    let body = vec![b' '; 9 << 20];
    stream
        .write_all(&request("POST", "/mutate", Some("application/json"), &body))
        .await
        .expect("the whole body is taken");
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(
        answer.json()["error"],
        format!(
            "body larger than {} bytes (3.5 MiB: object and oldObject at etcd's 1.5 MiB limit each, and the review around them)",
            tidb_backup_webhook::server::webhook::MAX_BODY_BYTES
        )
    );
    assert_eq!(answer.header("connection"), Some("close"));
    expect_clean_end(&mut stream).await;

    let mut stream = tls_connect(&server).await;
    stream.write_all(&review_request()).await.expect("review");
    assert_eq!(read_answer(&mut stream).await.status, 200);
}
