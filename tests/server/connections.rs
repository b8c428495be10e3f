//! Connection hygiene: keep-alive survives idle periods longer than the request read
//! timeout, idle connections close after the idle timeout, slow requests are cut, the
//! `?timeout=` budget and the in-flight bound answer 503, and client certificates.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::support::{CREATE_REVIEW, Raw, TestServer, client, post, read_response, tls_connect};

fn keep_alive_request() -> Vec<u8> {
    format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{CREATE_REVIEW}",
        CREATE_REVIEW.len()
    )
    .into_bytes()
}

/// Reads one keep-alive response (headers plus Content-Length body).
async fn read_one<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<(u16, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                return Some((status, body.as_bytes().to_vec()));
            }
        }
    }
}

#[tokio::test]
async fn keep_alive_outlives_the_request_read_timeout_and_idle_connections_close() {
    let server = TestServer::start(|c| {
        c.connections.request_read_timeout = Duration::from_millis(500);
        c.connections.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let mut stream = tls_connect(&server).await;
    stream
        .write_all(&keep_alive_request())
        .await
        .expect("first request");
    assert_eq!(read_one(&mut stream).await.map(|r| r.0), Some(200));
    // Idle for longer than the read timeout (hyper's header timeout would have closed
    // this connection, racing with the apiserver's reuse): still serves.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream
        .write_all(&keep_alive_request())
        .await
        .expect("second request");
    assert_eq!(read_one(&mut stream).await.map(|r| r.0), Some(200));
    // Idle past the idle timeout: the server closes it.
    let closed = read_response(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(closed, Raw::Closed);
}

#[tokio::test]
async fn slow_requests_are_cut() {
    let server =
        TestServer::start(|c| c.connections.request_read_timeout = Duration::from_millis(500))
            .await;
    let mut stream = tls_connect(&server).await;
    // Headers trickle in and never complete.
    stream
        .write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("partial head");
    assert_eq!(
        read_response(&mut stream, Duration::from_secs(10)).await,
        Raw::Closed
    );
    let (status, _) = post(&server.client(), &server.url("/mutate"), CREATE_REVIEW).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_apiservers_timeout_is_the_budget() {
    let server = TestServer::start(|_| {}).await;
    let mut stream = tls_connect(&server).await;
    let head = format!(
        "POST /mutate?timeout=1s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        CREATE_REVIEW.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&CREATE_REVIEW.as_bytes()[..100])
        .await
        .expect("part of the body");
    let Some((status, body)) = read_one(&mut stream).await else {
        panic!("no answer within the budget")
    };
    assert_eq!(status, 503);
    let error: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        error["error"],
        "request not received within its 900ms budget"
    );
}

#[tokio::test]
async fn reviews_beyond_the_in_flight_bound_get_503() {
    let server = TestServer::start(|c| c.reviews.max_in_flight = 1).await;
    // Holds the only slot: headers sent, body incomplete.
    let mut holder = tls_connect(&server).await;
    let head = format!(
        "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        CREATE_REVIEW.len()
    );
    holder.write_all(head.as_bytes()).await.expect("head");
    holder.flush().await.expect("flush");
    let client = server.client();
    let mut refused = None;
    for _ in 0..50 {
        let response = client
            .post(server.url("/validate"))
            .header("Content-Type", "application/json")
            .body(CREATE_REVIEW)
            .send()
            .await
            .expect("send");
        if response.status() == 503 {
            refused = Some((
                response.headers().get("retry-after").cloned(),
                response.json::<Value>().await.expect("json"),
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (retry_after, body) = refused.expect("a 503 while the slot is held");
    assert_eq!(
        retry_after.as_ref().and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(body["error"], "too many reviews in flight");
    drop(holder);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = post(&client, &server.url("/validate"), CREATE_REVIEW).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let apiserver_ca =
        tidb_backup_webhook::certs::Authority::generate("apiserver client CA", 1).expect("CA");
    let ca_file = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(ca_file.path(), apiserver_ca.cert_pem()).expect("write");
    let path = ca_file.path().to_path_buf();
    let server = TestServer::start(move |c| c.client_ca = Some(path)).await;

    let anonymous = client(server.ca.cert_pem(), None);
    let result = anonymous
        .post(server.url("/mutate"))
        .header("Content-Type", "application/json")
        .body(CREATE_REVIEW)
        .send()
        .await;
    assert!(
        result.is_err(),
        "a client without a certificate must be refused"
    );

    let stranger = tidb_backup_webhook::certs::Authority::generate("other CA", 1)
        .expect("CA")
        .issue_client(&["kube-apiserver".to_owned()], 1)
        .expect("cert");
    let result = client(server.ca.cert_pem(), Some(&stranger))
        .post(server.url("/mutate"))
        .header("Content-Type", "application/json")
        .body(CREATE_REVIEW)
        .send()
        .await;
    assert!(
        result.is_err(),
        "a certificate from another CA must be refused"
    );

    let apiserver = apiserver_ca
        .issue_client(&["kube-apiserver".to_owned()], 1)
        .expect("cert");
    let (status, answer) = post(
        &client(server.ca.cert_pem(), Some(&apiserver)),
        &server.url("/mutate"),
        CREATE_REVIEW,
    )
    .await;
    assert_eq!(
        (status, &answer["response"]["allowed"]),
        (200, &Value::Bool(true))
    );
}

/// The body bytes all reviews in flight may hold: a review over the budget gets 503 with
/// Retry-After (and its connection stays usable), and is answered once the budget frees.
#[tokio::test]
async fn reviews_beyond_the_body_byte_budget_get_503() {
    use tidb_backup_webhook::server::webhook::MAX_BODY_BYTES;
    let server = TestServer::start(|c| c.reviews.max_in_flight_bytes = MAX_BODY_BYTES).await;
    // Declares the largest body: the whole budget is held while it arrives.
    let mut holder = tls_connect(&server).await;
    let head = format!(
        "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n{{"
    );
    holder.write_all(head.as_bytes()).await.expect("head");
    holder.flush().await.expect("flush");
    let mut stream = tls_connect(&server).await;
    let mut refused = None;
    for _ in 0..50 {
        stream
            .write_all(&keep_alive_request())
            .await
            .expect("request");
        let answer = read_one(&mut stream).await.expect("an answer");
        if answer.0 == 503 {
            refused = Some(answer.1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body: Value =
        serde_json::from_slice(&refused.expect("a 503 while the budget is held")).expect("json");
    assert_eq!(body["error"], "too many review bytes in flight");
    assert_eq!(body["code"], 503);
    drop(holder);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Same connection: the refused review's body was drained.
    stream
        .write_all(&keep_alive_request())
        .await
        .expect("request");
    assert_eq!(read_one(&mut stream).await.map(|r| r.0), Some(200));
}

/// A review just under the body limit (a 3.4 MiB managedFields entry) is read and answered.
#[tokio::test]
async fn a_review_just_under_the_body_limit_is_answered() {
    use tidb_backup_webhook::server::webhook::MAX_BODY_BYTES;
    let server = TestServer::start(|_| {}).await;
    let mut review: Value = serde_json::from_str(CREATE_REVIEW).expect("fixture");
    let manager = &mut review["request"]["object"]["metadata"]["managedFields"][0]["manager"];
    *manager = Value::String(String::new());
    let rest = serde_json::to_vec(&review).expect("json").len();
    review["request"]["object"]["metadata"]["managedFields"][0]["manager"] =
        Value::String("m".repeat(MAX_BODY_BYTES - rest - 100));
    let body = serde_json::to_vec(&review).expect("json");
    assert_eq!(body.len(), MAX_BODY_BYTES - 100);
    let (status, answer) = post(&server.client(), &server.url("/validate"), body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    assert_eq!(
        answer["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
}
