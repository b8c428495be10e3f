//! The admin port: liveness, readiness and metrics.

use super::support::{CREATE_REVIEW, TestServer, admin_get, post};

#[tokio::test]
async fn health_and_metrics() {
    let server = TestServer::start(|_| {}).await;
    assert_eq!(
        admin_get(server.admin, "/livez").await,
        Some((200, "ok\n".to_owned()))
    );
    assert_eq!(
        admin_get(server.admin, "/readyz").await,
        Some((200, "ok\n".to_owned()))
    );
    let client = server.client();
    assert_eq!(
        post(&client, &server.url("/mutate"), CREATE_REVIEW).await.0,
        200
    );
    assert_eq!(
        post(&client, &server.url("/validate"), CREATE_REVIEW)
            .await
            .0,
        200
    );
    assert_eq!(post(&client, &server.url("/validate"), "{}").await.0, 400);
    let (status, metrics) = admin_get(server.admin, "/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    for line in [
        "tidb_backup_webhook_requests_total{webhook=\"/mutate\",code=\"200\",kind=\"Backup\",operation=\"CREATE\",allowed=\"true\",mutated=\"true\"} 1",
        "tidb_backup_webhook_requests_total{webhook=\"/validate\",code=\"200\",kind=\"Backup\",operation=\"CREATE\",allowed=\"true\",mutated=\"false\"} 1",
        "tidb_backup_webhook_requests_total{webhook=\"/validate\",code=\"400\",kind=\"\",operation=\"\",allowed=\"false\",mutated=\"false\"} 1",
        "tidb_backup_webhook_latency_seconds_count{webhook=\"/mutate\"} 1",
        "tidb_backup_webhook_requests_in_flight{webhook=\"/mutate\"} 0",
        "# TYPE tidb_backup_webhook_certificate_expiry_timestamp_seconds gauge",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let expiry: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tidb_backup_webhook_certificate_expiry_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .expect("expiry value");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // The test certificate is valid for 7 days.
    assert!(
        (now + 6 * 86_400..now + 8 * 86_400).contains(&expiry),
        "{expiry}"
    );
    server.stop().await.expect("stop");
}
