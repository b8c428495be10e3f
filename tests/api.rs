//! API types: wire compatibility with the guide's YAML and every field of TiDB Operator
//! 1.6's API, generated CRDs, and unknown-field detection.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use kube::CustomResourceExt;
use serde_json::{Value, json};
use tidb_backup_webhook::api::decode::{self, Decoded, Object};
use tidb_backup_webhook::api::{Backup, BackupSchedule, CrdShape, crd_files, crds};

/// The user guide's Backups and BackupSchedules, as the guide shows them.
const GUIDE: [&str; 6] = [
    include_str!("fixtures/guide/backup-s3-secret.yaml"),
    include_str!("fixtures/guide/backup-s3-kube2iam.yaml"),
    include_str!("fixtures/guide/backup-s3-irsa.yaml"),
    include_str!("fixtures/guide/schedule-s3-secret.yaml"),
    include_str!("fixtures/guide/schedule-s3-kube2iam.yaml"),
    include_str!("fixtures/guide/schedule-s3-irsa.yaml"),
];

fn seed_documents() -> Vec<Value> {
    GUIDE
        .iter()
        .flat_map(|text| decode::parse_documents(text).expect("guide YAML parses"))
        .collect()
}

#[test]
fn every_seed_yaml_deserialises_unchanged() {
    let docs = seed_documents();
    assert_eq!(
        docs.len(),
        6,
        "the guide has three Backups and three BackupSchedules"
    );
    let mut unknown = Vec::new();
    for doc in &docs {
        match decode::decode(doc).expect("typed") {
            Decoded::Known {
                object,
                unknown_fields,
            } => {
                // Re-serialising keeps every field the guide sets (it uses no empty values).
                let roundtrip = match &object {
                    Object::Backup(b) => serde_json::to_value(b),
                    Object::BackupSchedule(s) => serde_json::to_value(s),
                }
                .expect("serialise");
                let mut expected = doc.clone();
                for path in &unknown_fields {
                    remove(&mut expected, path);
                }
                assert_eq!(roundtrip, expected);
                unknown.extend(unknown_fields);
            }
            Decoded::Other { kind, .. } => panic!("unexpected kind {kind}"),
        }
    }
    // The guide's IRSA BackupSchedule puts serviceAccount where the type has no field.
    assert_eq!(unknown, ["spec.serviceAccount"]);
}

fn remove(value: &mut Value, dotted: &str) {
    let (parent, leaf) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut node = value;
    for key in parent.split('.').filter(|k| !k.is_empty()) {
        node = &mut node[key];
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(leaf);
    }
}

#[test]
fn json_names_match_tidb_operator() {
    let doc = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {
            "backupType": "full", "tikvGCLifeTime": "72h", "useKMS": true,
            "serviceAccount": "sa", "cleanPolicy": "Delete", "toolImage": "pingcap/br:v5.0.0",
            "tableFilter": ["*.*"], "storageClassName": "gp2", "storageSize": "10Gi",
            "env": [{"name": "A", "value": "b"}],
            "imagePullSecrets": [{"name": "reg"}],
            "from": {"host": "h", "port": 4000, "user": "root", "secretName": "s", "tlsClientSecretName": "t"},
            "s3": {"provider": "aws", "region": "r", "path": "p", "bucket": "b", "endpoint": "https://e",
                   "storageClass": "STANDARD", "acl": "private", "secretName": "s3", "prefix": "x",
                   "sse": "aws:kms", "options": ["--flag"]},
            "br": {"cluster": "c", "clusterNamespace": "ns", "db": "d", "table": "t", "logLevel": "info",
                   "statusAddr": "0.0.0.0:8286", "concurrency": 4, "rateLimit": 1, "timeAgo": "1h",
                   "checksum": true, "sendCredToTikv": false, "onLine": true, "options": ["--lastbackupts=1"]},
            "dumpling": {"options": ["--threads=16"], "tableFilter": ["db.*"]}
        },
        "status": {
            "backupPath": "s3://b/x", "timeStarted": "2021-01-01T00:00:00Z",
            "timeCompleted": "2021-01-01T00:10:00Z", "backupSizeReadable": "1.0 kB", "backupSize": 1000,
            "commitTs": "420134118382108673", "phase": "Complete",
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2021-01-01T00:10:00Z",
                            "reason": "", "message": ""}]
        }
    });
    let (backup, unknown) = decode::typed::<Backup>(&doc).expect("typed");
    assert_eq!(unknown, Vec::<String>::new());
    let mut expected = doc.clone();
    // Empty reason/message are omitted on output.
    expected["status"]["conditions"][0]
        .as_object_mut()
        .expect("condition")
        .retain(|k, _| k != "reason" && k != "message");
    assert_eq!(serde_json::to_value(&backup).expect("serialise"), expected);
    assert_eq!(backup.spec.tikv_gc_life_time.as_deref(), Some("72h"));
    assert_eq!(backup.spec.use_kms, Some(true));
}

#[test]
fn tidb_operator_status_with_null_times_reads() {
    // v1.1 serialises every status field, zero times as null.
    let doc = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "metadata": {"name": "b"},
        "spec": {"br": {"cluster": "c"}},
        "status": {"backupPath": "", "timeStarted": null, "timeCompleted": null, "backupSizeReadable": "",
                   "backupSize": 0, "commitTs": "", "phase": "Scheduled",
                   "conditions": [{"type": "Scheduled", "status": "True", "lastTransitionTime": null,
                                   "reason": "", "message": ""}]}
    });
    let (backup, unknown) = decode::typed::<Backup>(&doc).expect("typed");
    assert!(unknown.is_empty());
    let status = backup.status.expect("status");
    assert_eq!(status.time_started, None);
    assert_eq!(status.phase, "Scheduled");
}

#[test]
fn type_errors_and_unknown_fields_carry_paths() {
    let doc = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "metadata": {"name": "b", "annotation": {}},
        "spec": {"storageType": "s3", "from": {"host": "h", "port": "${tidb_port}"}}
    });
    let err = decode::decode(&doc).expect_err("port is a string");
    assert_eq!(err.path, "spec.from.port");
    assert!(
        err.message
            .contains("invalid type: string \"${tidb_port}\", expected i32"),
        "{}",
        err.message
    );

    let doc = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule", "metadata": {"name": "s", "annotation": {}},
        "spec": {"schedule": "@daily", "backupTemplate": {"storageType": "s3", "s3": {"provider": "aws", "bucket": "b", "acls": "private"}}}
    });
    let Decoded::Known {
        unknown_fields,
        object,
    } = decode::decode(&doc).expect("decodes")
    else {
        panic!("a BackupSchedule")
    };
    assert_eq!(
        unknown_fields,
        [
            "metadata.annotation",
            "spec.backupTemplate.s3.acls",
            "spec.backupTemplate.storageType"
        ]
    );
    let siblings = decode::sibling_fields(object.kind(), "spec.backupTemplate.s3.acls");
    assert!(siblings.contains(&"acl".to_owned()) && siblings.contains(&"storageClass".to_owned()));
}

#[test]
fn other_kinds_are_not_ours() {
    let doc = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-secret"}});
    assert!(matches!(decode::decode(&doc), Ok(Decoded::Other { kind, .. }) if kind == "Secret"));
    let doc = json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Restore"});
    assert!(matches!(decode::decode(&doc), Ok(Decoded::Other { .. })));
}

#[test]
fn crds_have_names_columns_and_status_subresource() {
    let crd = serde_json::to_value(Backup::crd()).expect("crd");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["bk"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"], json!({"status": {}}));
    let columns: Vec<(&str, &str)> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or(""),
                c["jsonPath"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        columns,
        // TiDB Operator v1.6's columns (its IncrementalBackupSize, priority 10, left out).
        [
            ("Type", ".spec.backupType"),
            ("Mode", ".spec.backupMode"),
            ("Status", ".status.phase"),
            ("BackupPath", ".status.backupPath"),
            ("BackupSize", ".status.backupSizeReadable"),
            ("CommitTS", ".status.commitTs"),
            ("LogTruncateUntil", ".status.logSuccessTruncateUntil"),
            ("Started", ".status.timeStarted"),
            ("Completed", ".status.timeCompleted"),
            ("TimeTaken", ".status.timeTaken"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert!(spec["tikvGCLifeTime"].is_object() && spec["useKMS"].is_object());

    let crd = serde_json::to_value(BackupSchedule::crd()).expect("crd");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["bks"]));
    let names: Vec<&str> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "Schedule",
            "MaxBackups",
            "MaxReservedTime",
            "LastBackup",
            "LastBackupTime",
            "Age"
        ]
    );
}

#[test]
fn committed_crds_match_the_types() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/crds");
    for (name, yaml) in crd_files(CrdShape::Standalone).expect("render") {
        let committed = std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_default();
        assert!(
            committed == yaml,
            "manifests/crds/{name} is out of date: run `make crds` and commit the result"
        );
    }
}

#[test]
fn lists_where_mappings_belong_are_type_errors() {
    for (doc, path) in [
        (
            json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "metadata": {"name": "b"}, "spec": []}),
            "spec",
        ),
        (
            json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "metadata": {"name": "b"}, "spec": {"s3": ["aws"]}}),
            "spec.s3",
        ),
    ] {
        let err = decode::decode(&doc).expect_err("a list is not a mapping");
        assert_eq!(
            (err.path.as_str(), err.message.as_str()),
            (path, "invalid type: sequence, expected a mapping")
        );
    }
}

/// Every field of release-1.6's `BackupSpec` (and its storage, BR, clean and retry types),
/// with the JSON names of `pkg/apis/pingcap/v1alpha1/types.go`.
fn every_backup_spec_field() -> Value {
    json!({
        "resources": {"limits": {"cpu": "2"}, "requests": {"memory": "1Gi"}},
        "env": [{"name": "AWS_REGION", "value": "us-west-1"}],
        "from": {"host": "h", "port": 4000, "user": "root", "secretName": "s", "tlsClientSecretName": "t"},
        "backupType": "full",
        "backupMode": "snapshot",
        "tikvGCLifeTime": "72h",
        "s3": {"provider": "aws", "region": "r", "path": "p", "bucket": "b", "endpoint": "https://e",
               "storageClass": "STANDARD", "acl": "private", "secretName": "s3", "prefix": "x",
               "sse": "aws:kms", "options": ["--flag"], "forcePathStyle": true},
        "gcs": {"projectId": "p", "location": "us", "path": "p", "bucket": "b", "storageClass": "NEARLINE",
                "objectAcl": "private", "bucketAcl": "private", "secretName": "g", "prefix": "x"},
        "azblob": {"path": "p", "container": "c", "accessTier": "Cool", "secretName": "a",
                   "storageAccount": "acct", "sasToken": "sv=2021", "prefix": "x"},
        "local": {"volume": {"name": "v", "persistentVolumeClaim": {"claimName": "pvc"}},
                  "volumeMount": {"name": "v", "mountPath": "/backup"}, "prefix": "x"},
        "storageClassName": "gp2",
        "volumeAttributesClassName": "fast",
        "storageSize": "10Gi",
        "br": {"cluster": "c", "clusterNamespace": "ns", "db": "d", "table": "t", "logLevel": "info",
               "statusAddr": "0.0.0.0:8286", "concurrency": 4, "rateLimit": 1, "timeAgo": "1h",
               "checksum": true, "checkRequirements": false, "sendCredToTikv": false, "onLine": true,
               "options": ["--lastbackupts=1"]},
        "commitTs": "2024-01-01 00:00:00",
        "logSubcommand": "log-start",
        "logTruncateUntil": "420134118382108673",
        "calcSizeLevel": "all",
        "federalVolumeBackupPhase": "initialize",
        "resumeGcSchedule": true,
        "dumpling": {"options": ["--threads=16"], "tableFilter": ["db.*"]},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backup", "effect": "NoSchedule"}],
        "toolImage": "pingcap/br:v8.5.0",
        "imagePullSecrets": [{"name": "reg"}],
        "tableFilter": ["*.*"],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]}}},
        "useKMS": false,
        "serviceAccount": "sa",
        "automountServiceAccountToken": false,
        "cleanPolicy": "Delete",
        "cleanOption": {"pageSize": 1000, "retryCount": 5, "backoffEnabled": true,
                        "disableBatchConcurrency": false, "batchConcurrency": 10, "routineConcurrency": 100,
                        "snapshotsDeleteRatio": 1.5},
        "podSecurityContext": {"runAsUser": 1000, "fsGroup": 2000},
        "priorityClassName": "backup-high",
        "backoffRetryPolicy": {"minRetryDuration": "300s", "maxRetryTimes": 2, "retryTimeout": "30m"},
        "additionalVolumes": [{"name": "extra", "emptyDir": {}}],
        "additionalVolumeMounts": [{"name": "extra", "mountPath": "/extra"}],
        "volumeBackupInitJobMaxActiveSeconds": 600
    })
}

#[test]
fn every_tidb_operator_1_6_field_round_trips() {
    let backup = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": every_backup_spec_field(),
        "status": {
            "backupPath": "s3://b/x", "timeStarted": "2024-01-01T00:00:00Z",
            "timeCompleted": "2024-01-01T00:10:00Z", "timeSynced": "2024-01-01T00:10:00Z",
            "timeTaken": "10m0s", "backupSizeReadable": "1.0 kB", "backupSize": 1000,
            "incrementalBackupSizeReadable": "10 B", "incrementalBackupSize": 10,
            "commitTs": "420134118382108673", "logSuccessTruncateUntil": "420134118382108600",
            "logCheckpointTs": "420134118382108700", "phase": "Complete",
            "conditions": [{"command": "log-start", "type": "Complete", "status": "True",
                            "lastTransitionTime": "2024-01-01T00:10:00Z", "reason": "r", "message": "m"}],
            "logSubCommandStatuses": {"log-start": {
                "command": "log-start", "timeStarted": "2024-01-01T00:00:00Z",
                "timeCompleted": "2024-01-01T00:01:00Z", "logTruncatingUntil": "1", "phase": "Complete",
                "conditions": [{"type": "Complete", "status": "True"}]}},
            "progresses": [{"step": "Full Backup", "progress": 100.0, "lastTransitionTime": "2024-01-01T00:10:00Z"}],
            "brOperations": [{"operationID": "op-1", "startedAt": "2024-01-01T00:00:00Z",
                              "command": "log truncate", "observedAt": "2024-01-01T00:00:01Z"}],
            "backoffRetryStatus": [{"retryNum": 1, "detectFailedAt": "2024-01-01T00:00:00Z",
                                    "expectedRetryAt": "2024-01-01T00:05:00Z", "realRetryAt": "2024-01-01T00:05:01Z",
                                    "retryReason": "Job failed", "originalReason": "BackoffLimitExceeded"}]
        }
    });
    let (typed, unknown) = decode::typed::<Backup>(&backup).expect("typed");
    assert_eq!(unknown, Vec::<String>::new());
    assert_eq!(serde_json::to_value(&typed).expect("serialise"), backup);

    let schedule = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {
            "schedule": "0 2 * * *", "pause": false, "maxBackups": 3, "maxReservedTime": "72h",
            "compactInterval": "1h",
            "backupTemplate": every_backup_spec_field(),
            "logBackupTemplate": {"backupMode": "log", "br": {"cluster": "c"},
                                  "s3": {"provider": "aws", "bucket": "b", "prefix": "log"}},
            "compactBackupTemplate": {
                "mode": "sharded", "shardCount": 4, "physicalFileCacheCapacity": "150Gi", "name": "nightly",
                "resources": {"limits": {"cpu": "1"}}, "env": [{"name": "A", "value": "b"}],
                "s3": {"provider": "aws", "bucket": "b", "prefix": "log"},
                "gcs": {"projectId": "p", "bucket": "b"}, "azblob": {"container": "c"},
                "local": {"volume": {"name": "v", "emptyDir": {}}, "volumeMount": {"name": "v", "mountPath": "/b"}},
                "startTs": "1", "endTs": "2", "concurrency": 4,
                "tolerations": [{"key": "k", "operator": "Exists"}], "toolImage": "pingcap/br:v8.5.0",
                "tikvImage": "pingcap/tikv:v8.5.0", "br": {"cluster": "c"}, "imagePullSecrets": [{"name": "reg"}],
                "affinity": {}, "useKMS": false, "serviceAccount": "sa", "automountServiceAccountToken": true,
                "podSecurityContext": {"runAsUser": 1000}, "priorityClassName": "p", "maxRetryTimes": 6,
                "additionalVolumes": [{"name": "e", "emptyDir": {}}],
                "additionalVolumeMounts": [{"name": "e", "mountPath": "/e"}]
            },
            "minCompactStartTs": "2024-01-01 00:00:00",
            "storageClassName": "gp2", "volumeAttributesClassName": "fast", "storageSize": "10Gi",
            "imagePullSecrets": [{"name": "reg"}],
            "br": {"cluster": "c"},
            "s3": {"provider": "aws", "bucket": "b"}, "gcs": {"projectId": "p", "bucket": "b"},
            "azblob": {"container": "c"},
            "local": {"volume": {"name": "v", "emptyDir": {}}, "volumeMount": {"name": "v", "mountPath": "/b"}}
        },
        "status": {
            "lastBackup": "s-2024-01-01t00-00-00", "lastCompact": "s-compact",
            "logBackup": "log-s", "logBackupStartTs": "2024-01-01T00:00:00Z",
            "lastBackupTime": "2024-01-01T00:00:00Z", "lastCompactProgress": "2024-01-01T00:00:00Z",
            "lastCompactExecutionTs": "2024-01-01T00:00:00Z", "allBackupCleanTime": "2024-01-01T00:00:00Z"
        }
    });
    let (typed, unknown) = decode::typed::<BackupSchedule>(&schedule).expect("typed");
    assert_eq!(unknown, Vec::<String>::new());
    assert_eq!(serde_json::to_value(&typed).expect("serialise"), schedule);
}

#[test]
fn null_lists_written_by_tidb_operator_read_as_empty() {
    // Go writes nil slices without `omitempty` as null (v1.1's `conditions`).
    let doc = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "metadata": {"name": "b"},
        "spec": {"br": {"cluster": "c"}},
        "status": {"conditions": null, "progresses": null, "brOperations": null, "backoffRetryStatus": null}
    });
    let (backup, _) = decode::typed::<Backup>(&doc).expect("typed");
    assert_eq!(backup.status.map(|s| s.conditions.len()), Some(0));
}

/// One CRD of `crds(shape)` as JSON: [Backup, BackupSchedule].
fn crd_json(shape: CrdShape) -> [Value; 2] {
    crds(shape).map(|crd| serde_json::to_value(crd).expect("crd"))
}

fn spec_schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
}

/// Every schema node of `schema` by path (`.spec.s3.provider`, `[]` for list items,
/// `{}` for map values).
fn schema_nodes<'a>(schema: &'a Value, path: String, nodes: &mut Vec<(String, &'a Value)>) {
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            schema_nodes(child, format!("{path}.{name}"), nodes);
        }
    }
    if schema["items"].is_object() {
        schema_nodes(&schema["items"], format!("{path}[]"), nodes);
    }
    if schema["additionalProperties"].is_object() {
        schema_nodes(
            &schema["additionalProperties"],
            format!("{path}{{}}"),
            nodes,
        );
    }
    nodes.push((path, schema));
}

fn all_nodes(crd: &Value) -> Vec<(String, &Value)> {
    let mut nodes = Vec::new();
    schema_nodes(
        &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        String::new(),
        &mut nodes,
    );
    nodes
}

#[test]
fn tidb_operator_shape_has_no_status_subresource_and_its_columns() {
    let [backup, schedule] = crd_json(CrdShape::TidbOperator);
    for crd in [&backup, &schedule] {
        let version = &crd["spec"]["versions"][0];
        assert!(
            version["subresources"]["status"].is_null(),
            "{}: TiDB Operator writes status with whole-object updates: {}",
            crd["metadata"]["name"],
            version["subresources"]
        );
        assert_eq!(version["name"], "v1alpha1");
    }
    let columns = |crd: &Value| -> Vec<(String, String, String, i64)> {
        crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["jsonPath"].as_str().unwrap().to_owned(),
                    c["type"].as_str().unwrap().to_owned(),
                    c["priority"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    let expected = |rows: &[(&str, &str, &str, i64)]| -> Vec<(String, String, String, i64)> {
        rows.iter()
            .map(|(n, p, t, pr)| ((*n).into(), (*p).into(), (*t).into(), *pr))
            .collect()
    };
    // TiDB Operator v1.6's columns.
    assert_eq!(
        columns(&backup),
        expected(&[
            ("Type", ".spec.backupType", "string", 0),
            ("Mode", ".spec.backupMode", "string", 0),
            ("Status", ".status.phase", "string", 0),
            ("BackupPath", ".status.backupPath", "string", 0),
            ("BackupSize", ".status.backupSizeReadable", "string", 0),
            (
                "IncrementalBackupSize",
                ".status.incrementalBackupSizeReadable",
                "string",
                10
            ),
            ("CommitTS", ".status.commitTs", "string", 0),
            (
                "LogTruncateUntil",
                ".status.logSuccessTruncateUntil",
                "string",
                0
            ),
            ("Started", ".status.timeStarted", "date", 1),
            ("Completed", ".status.timeCompleted", "date", 1),
            ("TimeTaken", ".status.timeTaken", "string", 0),
            ("Age", ".metadata.creationTimestamp", "date", 0),
        ])
    );
    assert_eq!(
        columns(&schedule),
        expected(&[
            ("Schedule", ".spec.schedule", "string", 0),
            ("MaxBackups", ".spec.maxBackups", "integer", 0),
            ("MaxReservedTime", ".spec.maxReservedTime", "string", 0),
            ("LastBackup", ".status.lastBackup", "string", 1),
            ("LastBackupTime", ".status.lastBackupTime", "date", 1),
            ("Age", ".metadata.creationTimestamp", "date", 0),
        ])
    );
    // The standalone CRDs keep their status subresource.
    let [standalone, _] = crd_json(CrdShape::Standalone);
    assert_eq!(
        standalone["spec"]["versions"][0]["subresources"],
        json!({"status": {}})
    );
}

/// The defaults of TiDB Operator's CRDs for one Backup spec at `at`.
fn backup_spec_defaults(at: &str) -> Vec<(String, Value)> {
    [
        ("backupMode", json!("snapshot")),
        ("cleanPolicy", json!("Retain")),
        ("calcSizeLevel", json!("all")),
        ("volumeBackupInitJobMaxActiveSeconds", json!(600)),
        ("backoffRetryPolicy.minRetryDuration", json!("300s")),
        ("backoffRetryPolicy.maxRetryTimes", json!(2)),
        ("backoffRetryPolicy.retryTimeout", json!("30m")),
        ("cleanOption.retryCount", json!(5)),
        ("cleanOption.snapshotsDeleteRatio", json!(1.0)),
    ]
    .into_iter()
    .map(|(field, value)| (format!("{at}.{field}"), value))
    .collect()
}

#[test]
fn tidb_operator_shape_has_exactly_its_defaults() {
    let [backup, schedule] = crd_json(CrdShape::TidbOperator);
    let defaults = |crd: &Value| -> Vec<(String, Value)> {
        let mut found: Vec<(String, Value)> = all_nodes(crd)
            .into_iter()
            .filter(|(_, node)| !node["default"].is_null())
            .map(|(path, node)| (path, node["default"].clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    let sorted = |mut list: Vec<(String, Value)>| {
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    };
    // Nothing else: the generator's zero-value defaults (`""`, `{}`) are gone, so a
    // required field is really required.
    assert_eq!(defaults(&backup), sorted(backup_spec_defaults(".spec")));
    let mut expected = backup_spec_defaults(".spec.backupTemplate");
    expected.extend(backup_spec_defaults(".spec.logBackupTemplate"));
    expected.push((".spec.compactBackupTemplate.concurrency".into(), json!(4)));
    expected.push((".spec.compactBackupTemplate.maxRetryTimes".into(), json!(6)));
    assert_eq!(defaults(&schedule), sorted(expected));
}

#[test]
fn tidb_operator_shape_has_its_enums_cel_rules_and_required_fields() {
    let [backup, schedule] = crd_json(CrdShape::TidbOperator);
    let message = "Field `logStop` is the old version field, please use `logSubcommand` instead";
    let backup_specs = [
        spec_schema(&backup),
        &spec_schema(&schedule)["properties"]["backupTemplate"],
        &spec_schema(&schedule)["properties"]["logBackupTemplate"],
    ];
    for spec in backup_specs {
        let fields = &spec["properties"];
        assert_eq!(
            fields["cleanPolicy"]["enum"],
            json!(["Retain", "OnFailure", "Delete"])
        );
        assert_eq!(
            fields["logSubcommand"]["enum"],
            json!(["log-start", "log-stop", "log-pause"])
        );
        assert_eq!(
            spec["x-kubernetes-validations"],
            json!([
                {"rule": "has(self.logSubcommand) ? !has(self.logStop) : true", "message": message},
                {"rule": "has(self.logStop) ? !has(self.logSubcommand) : true", "message": message},
            ])
        );
        assert_eq!(fields["from"]["required"], json!(["host", "secretName"]));
    }
    let storage_and_br = [
        spec_schema(&backup),
        &spec_schema(&schedule)["properties"]["backupTemplate"],
        &spec_schema(&schedule)["properties"]["logBackupTemplate"],
        &spec_schema(&schedule)["properties"]["compactBackupTemplate"],
        spec_schema(&schedule),
    ];
    for object in storage_and_br {
        let fields = &object["properties"];
        assert_eq!(fields["s3"]["required"], json!(["provider"]));
        assert_eq!(fields["gcs"]["required"], json!(["projectId"]));
        assert_eq!(
            fields["local"]["required"],
            json!(["volume", "volumeMount"])
        );
        assert_eq!(fields["br"]["required"], json!(["cluster"]));
        assert!(
            fields["azblob"]["required"].is_null(),
            "azblob: nothing required"
        );
    }
    assert_eq!(
        spec_schema(&schedule)["required"],
        json!(["backupTemplate", "schedule"])
    );
    assert!(
        spec_schema(&backup)["required"].is_null(),
        "no field of a Backup's spec itself is required"
    );
    // A `null` in the spec is pruned, as TiDB Operator's CRDs do, rather than stored.
    for crd in [&backup, &schedule] {
        let nullable: Vec<String> = all_nodes(crd)
            .into_iter()
            .filter(|(path, node)| path.starts_with(".spec") && !node["nullable"].is_null())
            .map(|(path, _)| path)
            .collect();
        assert_eq!(nullable, Vec::<String>::new());
    }
}

/// Where the two shapes differ in `required`: only the TiDB Operator shape requires
/// fields of this project's types (the standalone CRDs leave them to the webhook, which
/// reports every missing field at once).
#[test]
fn only_the_tidb_operator_shape_requires_fields() {
    let standalone = crd_json(CrdShape::Standalone);
    let shaped = crd_json(CrdShape::TidbOperator);
    let mut differences = Vec::new();
    for (standalone, shaped) in standalone.iter().zip(&shaped) {
        let kind = standalone["spec"]["names"]["kind"].as_str().unwrap();
        let standalone_nodes: std::collections::BTreeMap<String, &Value> =
            all_nodes(standalone).into_iter().collect();
        for (path, node) in all_nodes(shaped) {
            let before = &standalone_nodes[&path]["required"];
            if &node["required"] != before {
                assert!(before.is_null(), "{kind} {path}: required {before} as well");
                differences.push(format!("{kind} {path}: {}", node["required"]));
            }
        }
    }
    let mut expected = vec![
        "Backup .spec.from: [\"host\",\"secretName\"]".to_owned(),
        "BackupSchedule .spec: [\"backupTemplate\",\"schedule\"]".to_owned(),
    ];
    for at in [
        "Backup .spec",
        "BackupSchedule .spec",
        "BackupSchedule .spec.backupTemplate",
        "BackupSchedule .spec.logBackupTemplate",
        "BackupSchedule .spec.compactBackupTemplate",
    ] {
        expected.extend([
            format!("{at}.br: [\"cluster\"]"),
            format!("{at}.gcs: [\"projectId\"]"),
            format!("{at}.local: [\"volume\",\"volumeMount\"]"),
            format!("{at}.s3: [\"provider\"]"),
        ]);
    }
    for template in ["backupTemplate", "logBackupTemplate"] {
        expected.push(format!(
            "BackupSchedule .spec.{template}.from: [\"host\",\"secretName\"]"
        ));
    }
    expected.sort();
    differences.sort();
    assert_eq!(differences, expected);
}

#[test]
fn tidb_operator_shape_has_every_field_of_the_standalone_crds() {
    let standalone = crd_json(CrdShape::Standalone);
    let shaped = crd_json(CrdShape::TidbOperator);
    for (standalone, shaped) in standalone.iter().zip(&shaped) {
        let shaped_nodes: std::collections::BTreeMap<String, &Value> =
            all_nodes(shaped).into_iter().collect();
        let standalone_nodes = all_nodes(standalone);
        assert!(standalone_nodes.len() > 900, "the whole schema is walked");
        assert_eq!(standalone_nodes.len(), shaped_nodes.len(), "no field added");
        for (path, node) in standalone_nodes {
            let other = shaped_nodes
                .get(&path)
                .unwrap_or_else(|| panic!("{path} is missing from the TiDB Operator shape"));
            // Same types and the same pruning.
            for keyword in [
                "type",
                "format",
                "x-kubernetes-int-or-string",
                "x-kubernetes-preserve-unknown-fields",
                "x-kubernetes-embedded-resource",
            ] {
                assert_eq!(node[keyword], other[keyword], "{path}: {keyword}");
            }
        }
    }
}

#[test]
fn tidb_operator_shape_agrees_with_the_rules_vocabulary() {
    use tidb_backup_webhook::rules::vocab::{BackupMode, CleanPolicy, LOG_SUBCOMMANDS};
    let [backup, _] = crd_json(CrdShape::TidbOperator);
    let fields = &spec_schema(&backup)["properties"];
    let mut enum_values: Vec<&str> = fields["cleanPolicy"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    enum_values.sort_unstable();
    let mut names = CleanPolicy::NAMES.to_vec();
    names.sort_unstable();
    assert_eq!(enum_values, names);
    assert_eq!(
        fields["cleanPolicy"]["default"],
        CleanPolicy::DEFAULT.as_str()
    );
    assert_eq!(
        fields["backupMode"]["default"],
        BackupMode::DEFAULT.as_str()
    );
    assert_eq!(fields["logSubcommand"]["enum"], json!(LOG_SUBCOMMANDS));
}

#[test]
fn crd_shapes_are_named_for_the_command_line() {
    for shape in [CrdShape::Standalone, CrdShape::TidbOperator] {
        assert_eq!(shape.name().parse::<CrdShape>(), Ok(shape));
        assert!(CrdShape::NAMES.contains(&shape.name()));
    }
    assert_eq!(
        "tidb".parse::<CrdShape>(),
        Err("unknown CRD shape \"tidb\": use one of standalone, tidb-operator".to_owned())
    );
    let files = crd_files(CrdShape::TidbOperator).expect("render");
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "backups.pingcap.com.yaml",
            "backupschedules.pingcap.com.yaml"
        ]
    );
    assert!(files[0].1.starts_with(
        "# Generated by `tidb-backup-webhook crds --shape tidb-operator` from src/api"
    ));
}
