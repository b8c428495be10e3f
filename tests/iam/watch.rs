//! The watch cache against a scripted apiserver (kube `Client` over a `tower-test` mock):
//! it fills from LIST+WATCH, and an added Backup changes the decision without restart.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tidb_backup_webhook::iam::watch::watch;
use tidb_backup_webhook::iam::{IamResolver, StaticConfig};

use super::{OTHER_ROLE, ROLE, backup_with_role, decide_on, tikv_pod};

type Events = mpsc::UnboundedSender<Value>;
type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

fn json_response(value: &Value) -> Response<ResponseBody> {
    Response::new(Full::new(Bytes::from(serde_json::to_vec(value).expect("json"))).boxed_unsync())
}

/// A watch response that streams whatever is sent on the returned channel.
fn watch_response() -> (Response<ResponseBody>, Events) {
    let (tx, rx) = mpsc::unbounded::<Value>();
    let frames = rx.map(|event| {
        let mut line = serde_json::to_vec(&event).expect("json");
        line.push(b'\n');
        Ok::<_, Infallible>(Frame::data(Bytes::from(line)))
    });
    (Response::new(StreamBody::new(frames).boxed_unsync()), tx)
}

/// Answers the reflectors: Backups list empty, BackupSchedules list holds `schedule`;
/// returns the sender of the Backups watch once it is opened.
async fn apiserver(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<ResponseBody>>,
    schedule: Value,
    backups_watch: tokio::sync::oneshot::Sender<Events>,
) {
    let mut backups_watch = Some(backups_watch);
    let mut keep_open = Vec::new();
    while let Some((request, respond)) = handle.next_request().await {
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let collection = path.rsplit('/').next().unwrap_or_default().to_owned();
        let watching = query.contains("watch=true");
        assert!(
            path.starts_with("/apis/pingcap.com/v1alpha1/"),
            "unexpected request {path}?{query}"
        );
        match (collection.as_str(), watching) {
            ("backups", false) => respond.send_response(json_response(&json!({
                "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupList",
                "metadata": {"resourceVersion": "10"}, "items": []
            }))),
            ("backupschedules", false) => respond.send_response(json_response(&json!({
                "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupScheduleList",
                "metadata": {"resourceVersion": "10"}, "items": [schedule.clone()]
            }))),
            (collection, true) => {
                let (response, events) = watch_response();
                respond.send_response(response);
                match (collection, backups_watch.take()) {
                    ("backups", Some(tx)) => {
                        let _ = tx.send(events);
                    }
                    _ => keep_open.push(events),
                }
            }
            _ => panic!("unexpected request {path}?{query}"),
        }
    }
}

#[tokio::test]
async fn cache_fills_from_list_and_watch_and_a_new_backup_changes_the_decision() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<ResponseBody>>();
    let client = Client::new(service, "default");
    let mut schedule: Value = serde_saphyr::from_str(include_str!(
        "../../manifests/examples/schedule-s3-kube2iam.yaml"
    ))
    .expect("yaml");
    schedule["metadata"]["resourceVersion"] = json!("7");
    schedule["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}]);
    let (watch_tx, watch_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(apiserver(handle, schedule, watch_tx));

    let (declarations, run) = watch(client);
    tokio::spawn(run);
    let ready =
        tokio::time::timeout(Duration::from_secs(10), declarations.wait_until_ready()).await;
    assert_eq!(ready, Ok(true), "the cache syncs from the LIST");
    let resolver = IamResolver::new(StaticConfig::default(), Some(Box::new(declarations)));

    // From the listed BackupSchedule (the guide's kube2iam example).
    let decision = decide_on(&tikv_pod(json!({}), None), &resolver);
    assert_eq!(decision.injected, ["role"]);
    assert_eq!(
        decision.audit.get("iam-role-injected").map(String::as_str),
        Some(format!("{ROLE} (from BackupSchedule test1/demo1-backup-schedule-s3 for TiDB cluster test1/demo1)").as_str())
    );

    // A Backup with another role arrives through the watch: now a conflict, no injection.
    let events = tokio::time::timeout(Duration::from_secs(10), watch_rx)
        .await
        .expect("the Backups watch opens")
        .expect("sender");
    let mut added = serde_json::to_value(backup_with_role("adhoc", OTHER_ROLE)).expect("json");
    added["metadata"]["resourceVersion"] = json!("11");
    events
        .unbounded_send(json!({"type": "ADDED", "object": added}))
        .expect("send");
    let mut conflict = false;
    for _ in 0..100 {
        let decision = decide_on(&tikv_pod(json!({}), None), &resolver);
        if decision.conflict {
            assert!(decision.patch.0.is_empty());
            conflict = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(conflict, "the added Backup was not seen");

    // Its own pods resolve through it.
    let backup_pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"tidb.pingcap.com/backup": "adhoc"}}, "spec": {}});
    assert!(decide_on(&backup_pod, &resolver).conflict);
}
