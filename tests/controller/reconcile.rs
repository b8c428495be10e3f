//! The Backup reconcile's own shape (its behaviour is tested through the real control
//! plane in `tests/e2e/reconciler/`).

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::json;
use tidb_backup_webhook::api::Backup;
use tidb_backup_webhook::controller::backup::reconcile;
use tidb_backup_webhook::controller::metrics::Metrics;

use super::test_context;

/// The reconcile future boxes its large steps: unboxed (~58 KB in a debug build) two
/// reconciles joined on one test thread overflowed its stack.
#[tokio::test]
async fn the_reconcile_future_is_small() {
    // Never polled: a client that would answer nothing is enough.
    let service = tower::service_fn(|_: http::Request<kube::client::Body>| async {
        Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::new(),
        )))
    });
    let client = kube::Client::new(service, "default");
    let ctx = Arc::new(test_context(client, "test-0", Arc::new(Metrics::default())));
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b1", "namespace": "test1"},
        "spec": {"br": {"cluster": "demo1"},
                 "s3": {"provider": "aws", "region": "us-west-1", "bucket": "my-bucket", "prefix": "my-folder"}}
    }))
    .expect("a Backup");
    let future = reconcile(Arc::new(backup), ctx);
    let size = std::mem::size_of_val(&future);
    assert!(size < 4096, "reconcile future is {size} bytes");
}
