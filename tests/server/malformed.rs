//! Malformed input (reference R1): every case gets its stated answer, and the server
//! keeps serving good requests after each one.

use std::time::Duration;

use serde_json::{Value, json};
use tidb_backup_webhook::server::webhook::MAX_BODY_BYTES;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::{
    CREATE_REVIEW, Raw, TestServer, http_request, post, raw_https, read_response, tls_connect,
};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This HTTP status with a JSON `error` body naming the problem.
    Http(u16),
    /// This HTTP status from the HTTP/1.1 parser (malformed HTTP itself).
    Protocol(u16),
    /// HTTP 200 with an AdmissionReview denying the request with this code.
    Denied(u16),
    /// HTTP 200 with an AdmissionReview allowing the request.
    Allowed,
    /// The connection is closed without an answer.
    Closed,
}

fn review_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut review: Value = serde_json::from_str(CREATE_REVIEW).expect("fixture");
    edit(&mut review);
    serde_json::to_vec(&review).expect("json")
}

fn json_post(path: &str, body: &[u8]) -> Vec<u8> {
    http_request("POST", path, Some("application/json"), body)
}

/// The table of cases sent as exact bytes over TLS.
fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let truncated = &CREATE_REVIEW.as_bytes()[..CREATE_REVIEW.len() / 2];
    vec![
        ("empty body", json_post("/mutate", b""), Expect::Http(400)),
        ("truncated JSON", json_post("/mutate", truncated), Expect::Http(400)),
        ("not JSON", json_post("/validate", b"not json"), Expect::Http(400)),
        ("non-UTF-8 bytes", json_post("/mutate", b"{\"apiVersion\":\"\xff\xfe\"}"), Expect::Http(400)),
        ("10,000-deep arrays", json_post("/mutate", deep_arrays.as_bytes()), Expect::Http(400)),
        ("10,000-deep objects", json_post("/validate", deep_objects.as_bytes()), Expect::Http(400)),
        (
            "duplicate request key",
            json_post(
                "/mutate",
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","kind":{},"operation":"CREATE"},"request":{"uid":"b","kind":{},"operation":"CREATE"}}"#,
            ),
            Expect::Http(400),
        ),
        ("UTF-8 BOM", json_post("/mutate", &[b"\xef\xbb\xbf".as_slice(), CREATE_REVIEW.as_bytes()].concat()), Expect::Http(400)),
        ("trailing garbage", json_post("/mutate", &[CREATE_REVIEW.as_bytes(), b"xyz"].concat()), Expect::Http(400)),
        ("JSON comment", json_post("/mutate", b"// review\n{}"), Expect::Http(400)),
        ("NaN literal", json_post("/mutate", b"{\"apiVersion\":NaN}"), Expect::Http(400)),
        ("JSON array body", json_post("/mutate", b"[]"), Expect::Http(400)),
        ("JSON string body", json_post("/mutate", b"\"review\""), Expect::Http(400)),
        ("JSON null body", json_post("/mutate", b"null"), Expect::Http(400)),
        ("text/plain", http_request("POST", "/mutate", Some("text/plain"), CREATE_REVIEW.as_bytes()), Expect::Http(415)),
        ("no Content-Type", http_request("POST", "/validate", None, CREATE_REVIEW.as_bytes()), Expect::Http(415)),
        ("application/yaml", http_request("POST", "/mutate", Some("application/yaml"), CREATE_REVIEW.as_bytes()), Expect::Http(415)),
        (
            "application/json-patch+json",
            http_request("POST", "/mutate", Some("application/json-patch+json"), CREATE_REVIEW.as_bytes()),
            Expect::Http(415),
        ),
        ("GET /mutate", http_request("GET", "/mutate", None, b""), Expect::Http(405)),
        ("PUT /validate", http_request("PUT", "/validate", Some("application/json"), CREATE_REVIEW.as_bytes()), Expect::Http(405)),
        ("DELETE /mutate", http_request("DELETE", "/mutate", None, b""), Expect::Http(405)),
        ("PATCH /validate", http_request("PATCH", "/validate", Some("application/json"), b"{}"), Expect::Http(405)),
        ("unknown path", json_post("/review", CREATE_REVIEW.as_bytes()), Expect::Http(404)),
        ("root path", json_post("/", CREATE_REVIEW.as_bytes()), Expect::Http(404)),
        ("trailing slash", json_post("/mutate/", CREATE_REVIEW.as_bytes()), Expect::Http(404)),
        ("admin path on the TLS port", http_request("GET", "/metrics", None, b""), Expect::Http(404)),
        ("unknown apiVersion", json_post("/mutate", &review_with(|r| r["apiVersion"] = json!("admission.k8s.io/v2"))), Expect::Http(400)),
        ("wrong kind", json_post("/mutate", &review_with(|r| r["kind"] = json!("AdmissionResponse"))), Expect::Http(400)),
        ("missing request", json_post("/mutate", &review_with(|r| { r.as_object_mut().map(|o| o.remove("request")); })), Expect::Http(400)),
        ("request null", json_post("/validate", &review_with(|r| r["request"] = Value::Null)), Expect::Http(400)),
        ("request is an array", json_post("/validate", &review_with(|r| r["request"] = json!([]))), Expect::Http(400)),
        (
            "missing uid",
            json_post("/mutate", &review_with(|r| { r["request"].as_object_mut().map(|o| o.remove("uid")); })),
            Expect::Http(400),
        ),
        ("empty uid", json_post("/mutate", &review_with(|r| r["request"]["uid"] = json!(""))), Expect::Http(400)),
        ("numeric uid", json_post("/validate", &review_with(|r| r["request"]["uid"] = json!(42))), Expect::Http(400)),
        (
            "missing operation",
            json_post("/mutate", &review_with(|r| { r["request"].as_object_mut().map(|o| o.remove("operation")); })),
            Expect::Http(400),
        ),
        (
            "missing request kind",
            json_post("/mutate", &review_with(|r| { r["request"].as_object_mut().map(|o| o.remove("kind")); })),
            Expect::Http(400),
        ),
        ("request kind is a string", json_post("/mutate", &review_with(|r| r["request"]["kind"] = json!("Backup"))), Expect::Http(400)),
        ("dryRun is a string", json_post("/mutate", &review_with(|r| r["request"]["dryRun"] = json!("yes"))), Expect::Http(400)),
        ("object null on CREATE", json_post("/mutate", &review_with(|r| r["request"]["object"] = Value::Null)), Expect::Denied(400)),
        ("object null on CREATE (validate)", json_post("/validate", &review_with(|r| r["request"]["object"] = Value::Null)), Expect::Denied(400)),
        (
            "oldObject missing on UPDATE",
            json_post("/validate", &review_with(|r| r["request"]["operation"] = json!("UPDATE"))),
            Expect::Denied(400),
        ),
        ("object is a string", json_post("/validate", &review_with(|r| r["request"]["object"] = json!("backup"))), Expect::Denied(400)),
        (
            "spec is an array",
            json_post("/mutate", &review_with(|r| r["request"]["object"]["spec"] = json!([]))),
            Expect::Denied(400),
        ),
        (
            "port out of the i32 range",
            json_post("/validate", &review_with(|r| r["request"]["object"]["spec"]["from"]["port"] = json!(1u64 << 40))),
            Expect::Denied(400),
        ),
        (
            "invalid Backup",
            json_post("/validate", &review_with(|r| r["request"]["object"]["spec"]["s3"]["acl"] = json!("Private"))),
            Expect::Denied(422),
        ),
        (
            "unknown operation",
            json_post("/mutate", &review_with(|r| r["request"]["operation"] = json!("PATCH"))),
            Expect::Allowed,
        ),
        (
            "other resource kind",
            json_post(
                "/validate",
                &review_with(|r| r["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "Pod"})),
            ),
            Expect::Allowed,
        ),
        (
            "unknown version of the group",
            json_post(
                "/mutate",
                &review_with(|r| r["request"]["kind"] = json!({"group": "pingcap.com", "version": "v2", "kind": "Backup"})),
            ),
            Expect::Allowed,
        ),
        ("10,000-character uid", json_post("/mutate", &review_with(|r| r["request"]["uid"] = json!("u".repeat(10_000)))), Expect::Allowed),
        ("bogus ?timeout=", json_post("/mutate?timeout=soon", CREATE_REVIEW.as_bytes()), Expect::Allowed),
        (
            "header section too large",
            [
                b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: ".as_slice(),
                "a".repeat(1 << 20).as_bytes(),
                b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            ]
            .concat(),
            Expect::Protocol(431),
        ),
        ("garbage request line", b"HELLO THERE\r\n\r\n".to_vec(), Expect::Protocol(400)),
        (
            "invalid Transfer-Encoding",
            b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked, zip\r\n\r\n".to_vec(),
            Expect::Protocol(400),
        ),
        ("HTTP/2 prior knowledge", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), Expect::Closed),
        (
            "declared body over the limit",
            format!(
                "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
                MAX_BODY_BYTES + 1
            )
            .into_bytes(),
            Expect::Http(413),
        ),
    ]
}

fn json_error(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body).ok()?["error"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn malformed_requests_get_their_stated_answer_and_the_server_keeps_serving() {
    let server = TestServer::start(|_| {}).await;
    let client = server.client();
    let cases = cases();
    let mut count = 0;
    for (name, request, expect) in cases {
        let raw = raw_https(&server, &request).await;
        match (expect, &raw) {
            (Expect::Http(status), Raw::Http(got, body)) => {
                assert_eq!(*got, status, "{name}: {body}");
                assert!(
                    json_error(body).is_some_and(|e| !e.is_empty()),
                    "{name}: no JSON error in {body:?}"
                );
            }
            (Expect::Protocol(status), Raw::Http(got, body)) => {
                assert_eq!(*got, status, "{name}: {body}")
            }
            (Expect::Denied(code), Raw::Http(200, body)) => {
                let answer: Value = serde_json::from_str(body).expect("review");
                assert_eq!(answer["response"]["allowed"], false, "{name}");
                assert_eq!(answer["response"]["status"]["code"], code, "{name}: {body}");
            }
            (Expect::Allowed, Raw::Http(200, body)) => {
                let answer: Value = serde_json::from_str(body).expect("review");
                assert_eq!(answer["response"]["allowed"], true, "{name}");
            }
            (Expect::Closed, Raw::Closed) => {}
            (Expect::Closed, Raw::Http(status, _)) if *status >= 400 => {}
            _ => panic!("{name}: expected {expect:?}, got {raw:?}"),
        }
        let (status, answer) = post(&client, &server.url("/validate"), CREATE_REVIEW).await;
        assert_eq!(
            (status, &answer["response"]["allowed"]),
            (200, &json!(true)),
            "after {name}"
        );
        count += 1;
    }
    assert!(count >= 50, "only {count} malformed cases");
}

/// The limit + 1 byte actually sent, chunked (no Content-Length): 413 with the JSON error
/// once the limit is crossed.
#[tokio::test]
async fn oversized_chunked_body_is_refused() {
    let server = TestServer::start(|_| {}).await;
    let mut stream = tls_connect(&server).await;
    stream
        .write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("head");
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0usize;
    // Send the limit + 1 in 1 MiB chunks, then stop without the final chunk.
    while sent <= MAX_BODY_BYTES {
        let size = chunk.len().min(MAX_BODY_BYTES + 1 - sent).max(1);
        let frame = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break;
        }
        sent += size;
    }
    let raw = read_response(&mut stream, Duration::from_secs(10)).await;
    let Raw::Http(413, body) = raw else {
        panic!("expected a 413, got {raw:?}");
    };
    assert_eq!(
        json_error(&body).as_deref(),
        Some(
            "body larger than 3670016 bytes (3.5 MiB: object and oldObject at etcd's 1.5 MiB limit each, and the review around them)"
        )
    );
}

#[tokio::test]
async fn plaintext_http_gets_a_plain_400() {
    let server = TestServer::start(|_| {}).await;
    let mut tcp = TcpStream::connect(server.https).await.expect("connect");
    tcp.write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.expect("read");
    assert!(
        answer.starts_with("HTTP/1.0 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("Client sent an HTTP request to an HTTPS server.\n"));

    // Bytes that are neither TLS nor HTTP: closed.
    let mut tcp = TcpStream::connect(server.https).await.expect("connect");
    tcp.write_all(&[0x00, 0x01, 0x02]).await.expect("write");
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    assert!(rest.is_empty());
}

/// A ClientHello offering only TLS 1.1 (or 1.0) is refused with a fatal TLS alert.
#[tokio::test]
async fn old_tls_versions_are_refused() {
    let server = TestServer::start(|_| {}).await;
    for (record_version, client_version) in [([3u8, 2u8], [3u8, 2u8]), ([3, 1], [3, 1])] {
        let mut body = Vec::new();
        body.extend_from_slice(&client_version);
        body.extend_from_slice(&[0x42; 32]); // random
        body.push(0); // no session id
        body.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // two CBC suites
        body.extend_from_slice(&[0x01, 0x00]); // null compression
        let mut handshake = vec![0x01, 0, 0, u8::try_from(body.len()).expect("len")];
        handshake.extend_from_slice(&body);
        let mut record = vec![
            0x16,
            record_version[0],
            record_version[1],
            0,
            u8::try_from(handshake.len()).expect("len"),
        ];
        record.extend_from_slice(&handshake);
        let mut tcp = TcpStream::connect(server.https).await.expect("connect");
        tcp.write_all(&record).await.expect("hello");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
        assert_eq!(
            answer.first(),
            Some(&0x15),
            "expected a TLS alert, got {answer:?}"
        );
        // Fatal handshake_failure: rustls finds no version in common.
        assert_eq!(answer.get(5..7), Some([2u8, 40].as_slice()), "{answer:?}");
    }
    let (status, _) = post(&server.client(), &server.url("/mutate"), CREATE_REVIEW).await;
    assert_eq!(status, 200);
}
