//! Certificate rotation the way the kubelet updates a mounted Secret (atomic `..data`
//! symlink swap), under continuous requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::support::{
    CREATE_REVIEW, TestServer, admin_get, local_names, served_certificate, tls_config,
    write_secret_dir,
};

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .to_vec()
}

/// Waits until fresh handshakes see `expected`; panics after 10 s.
async fn wait_for_certificate(server: &TestServer, expected: &[u8]) {
    for _ in 0..200 {
        if served_certificate(server).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the new certificate was not served within 10s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_symlink_swaps_under_load_fail_no_request() {
    // Only the directory watch can notice the swaps quickly: the poll is an hour.
    let server = TestServer::start(|c| c.cert_poll = Duration::from_secs(3600)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    // One client reuses connections (old certificate until it reconnects), one opens a
    // new connection for every request (sees each new certificate).
    for pooled in [true, false] {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(server.ca.cert_pem(), None));
        if !pooled {
            builder = builder.pool_max_idle_per_host(0);
        }
        let client = builder.build().expect("client");
        let url = server.url("/mutate");
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(CREATE_REVIEW)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for generation in 1..=10u32 {
        let mut names = local_names();
        names.push(format!("rotation-{generation}.test"));
        let serving = server.ca.issue(&names, 7).expect("issue");
        write_secret_dir(&server.cert_dir(), generation, &serving);
        // The kubelet removes the previous version after the swap.
        let _ = std::fs::remove_dir_all(
            server
                .cert_dir()
                .join(format!("..2026_11_24_{:04}", generation - 1)),
        );
        wait_for_certificate(&server, &der(&serving.cert_pem)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed requests during rotation"
    );
    assert!(ok.load(Ordering::Relaxed) > 10);
    let (_, metrics) = admin_get(server.admin, "/metrics").await.expect("metrics");
    assert!(
        metrics.contains("tidb_backup_webhook_certificate_reloads_total{result=\"success\"} 10\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_broken_pair_keeps_the_old_certificate() {
    let server = TestServer::start(|c| c.cert_poll = Duration::from_millis(200)).await;
    let original = served_certificate(&server).await;
    // The key of one certificate with another certificate: refused.
    let a = server.ca.issue(&local_names(), 7).expect("issue");
    let b = server.ca.issue(&local_names(), 7).expect("issue");
    let mismatched = tidb_backup_webhook::certs::ServingCert {
        cert_pem: a.cert_pem.clone(),
        key_pem: b.key_pem.clone(),
    };
    write_secret_dir(&server.cert_dir(), 1, &mismatched);
    let mut failure_counted = false;
    for _ in 0..100 {
        let (_, metrics) = admin_get(server.admin, "/metrics").await.expect("metrics");
        // Exported at 0 from start-up; the broken pair counts.
        let failures = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("tidb_backup_webhook_certificate_reloads_total{result=\"failure\"} ")
            })
            .and_then(|v| v.parse::<u64>().ok());
        if failures.is_some_and(|n| n > 0) {
            failure_counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failure_counted, "the broken pair was not reported");
    assert_eq!(served_certificate(&server).await, original);
    // A good pair afterwards is picked up.
    write_secret_dir(&server.cert_dir(), 2, &a);
    wait_for_certificate(&server, &der(&a.cert_pem)).await;
}
