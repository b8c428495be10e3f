//! SIGTERM on the real binary under continuous requests: unready first, still serving
//! during the grace delay, no failed request, exit 0.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::support::{CREATE_REVIEW, admin_get, client, post};

const BIN: &str = env!("CARGO_BIN_EXE_tidb-backup-webhook");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_request_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_path = dir.path().join("ca.crt");
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--no-kube", "--self-signed", "--ca-out"])
        .arg(&ca_path)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--shutdown-delay", "2s", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut addresses = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["message"] == "serving admission reviews" {
            addresses = Some((
                event["https"]
                    .as_str()
                    .expect("https")
                    .parse::<std::net::SocketAddr>()
                    .expect("addr"),
                event["admin"]
                    .as_str()
                    .expect("admin")
                    .parse::<std::net::SocketAddr>()
                    .expect("addr"),
            ));
            break;
        }
    }
    let (https, admin) = addresses.expect("the server announced its addresses");
    // Keep reading the logs so the pipe never fills.
    let log = tokio::spawn(async move {
        let mut collected = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            collected.push(line);
        }
        collected
    });
    let ca = std::fs::read_to_string(&ca_path).expect("CA written");
    let url = format!("https://localhost:{}/mutate", https.port());

    // Like an endpoints controller: stop routing here once /readyz fails.
    let routed = Arc::new(AtomicBool::new(true));
    let watcher = {
        let routed = routed.clone();
        tokio::spawn(async move {
            while routed.load(Ordering::Relaxed) {
                let ready = admin_get(admin, "/readyz").await;
                if ready.is_none_or(|(status, _)| status != 200) {
                    routed.store(false, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (client, url, routed, ok, failed) = (
            client(&ca, None),
            url.clone(),
            routed.clone(),
            ok.clone(),
            failed.clone(),
        );
        load.push(tokio::spawn(async move {
            while routed.load(Ordering::Relaxed) {
                match client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(CREATE_REVIEW)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = ok.load(Ordering::Relaxed);
    assert!(before > 0, "no request succeeded before SIGTERM");

    let pid = child.id().expect("pid").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Unready, but still answering (requests routed before the endpoint update).
    assert_eq!(
        admin_get(admin, "/readyz").await,
        Some((503, "not ready: shutting down\n".to_owned()))
    );
    let (status, answer) = post(&client(&ca, None), &url, CREATE_REVIEW).await;
    assert_eq!(
        (status, &answer["response"]["allowed"]),
        (200, &Value::Bool(true))
    );

    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after the drain")
        .expect("wait");
    for task in load {
        task.await.expect("load");
    }
    watcher.await.expect("watcher");
    let logs = log.await.expect("logs");
    assert_eq!(exit.code(), Some(0), "{logs:#?}");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed requests around SIGTERM"
    );
    assert!(
        logs.iter().any(|l| l.contains("shutting down: unready")),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("\"message\":\"stopped\"")),
        "{logs:#?}"
    );
}
