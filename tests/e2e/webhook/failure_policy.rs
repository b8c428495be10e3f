//! The shipped failure policies with the webhook process down: the validating
//! configuration fails closed (Backup and BackupSchedule writes fail at kubectl), the
//! defaulting and pod configurations fail open (pods are still created).

use serde_json::json;

use super::{in_namespace, parse_one};
use crate::harness::Env;
use crate::harness::crds::repository_path;

pub fn webhook_down_denies_backups_and_admits_pods(env: &Env) {
    let namespace = env.namespace("failure-policy");
    let example = |file: &str| {
        let shipped =
            std::fs::read_to_string(repository_path(&format!("manifests/examples/{file}")))
                .expect("read the example");
        in_namespace(&shipped, &namespace.name)
    };
    let backup = example("backup-s3-secret.yaml");
    let schedule = example("schedule-s3-secret.yaml");
    namespace.kubectl_stdin(&["apply"], &backup).ok();

    let stopped = env.webhook.stop();

    let validating = "failed calling webhook \"validate.backups.tidb-backup-webhook.pingcap.com\"";
    let create = namespace.kubectl_stdin(&["apply"], &schedule).failed();
    assert!(
        create.stderr.contains(validating) && create.stderr.contains("connection refused"),
        "a new BackupSchedule is refused while the webhook is down:\n{create}"
    );
    let update = namespace
        .kubectl(&[
            "label",
            "backup.pingcap.com/demo1-backup-s3",
            "team=storage",
        ])
        .failed();
    assert!(
        update.stderr.contains(validating),
        "an update of a Backup is refused while the webhook is down:\n{update}"
    );
    let absent = namespace
        .kubectl(&["get", "backupschedule.pingcap.com/demo1-backup-schedule-s3"])
        .failed();
    assert!(absent.stderr.contains("not found"), "{absent}");

    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "demo1-tikv-0",
            "labels": {
                "app.kubernetes.io/component": "tikv",
                "app.kubernetes.io/managed-by": "tidb-operator",
                "app.kubernetes.io/instance": "demo1",
            },
        },
        "spec": { "containers": [{ "name": "tikv", "image": "pingcap/tikv:v8.5.0" }] },
    });
    let created = namespace.kubectl_stdin(&["create"], &pod.to_string()).ok();
    assert_eq!(
        created.stdout.trim(),
        "pod/demo1-tikv-0 created",
        "{created}"
    );
    // Deleting is not a webhook operation, so it works too.
    namespace
        .kubectl(&[
            "delete",
            "backup.pingcap.com/demo1-backup-s3",
            "--wait=false",
        ])
        .ok();

    drop(stopped);
    let after = namespace.kubectl_stdin(&["apply"], &schedule).ok();
    assert_eq!(
        after.stdout.trim(),
        "backupschedule.pingcap.com/demo1-backup-schedule-s3 created",
        "writes pass again once the webhook is back:\n{after}"
    );
    let stored = parse_one(
        &namespace
            .kubectl(&[
                "get",
                "backupschedule.pingcap.com/demo1-backup-schedule-s3",
                "-o",
                "yaml",
            ])
            .ok()
            .stdout,
    );
    assert_eq!(
        stored["spec"]["backupTemplate"]["cleanPolicy"], "Retain",
        "defaulted again"
    );
}
