//! API types: wire compatibility with the seed's YAML and TiDB Operator v1.1's field
//! names, generated CRDs, and unknown-field detection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use kube::CustomResourceExt;
use serde_json::{Value, json};
use tidb_backup_webhook::api::decode::{self, Decoded, Object};
use tidb_backup_webhook::api::{Backup, BackupSchedule, crd_files};

const SEED: &str = include_str!("../../shared/seed/000_5ab729c4f3268b52.txt");

/// The YAML blocks of the seed guide with its `${...}` placeholders filled.
fn seed_documents() -> Vec<Value> {
    let mut docs = Vec::new();
    for block in SEED.split("```yaml").skip(1) {
        let yaml = block.split("```").next().unwrap_or_default();
        if !yaml.contains("apiVersion") {
            continue;
        }
        // The guide indents its YAML by four spaces inside list items.
        let dedented: String = yaml
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let filled = dedented
            .replace("${tidb_host}", "demo1-tidb")
            .replace("${tidb_port}", "4000")
            .replace("${tidb_user}", "root");
        docs.extend(decode::parse_documents(&filled).expect("seed YAML parses"));
    }
    docs
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
    assert!(backup.spec.use_kms);
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
    let siblings = decode::sibling_fields(&object, "spec.backupTemplate.s3.acls");
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
        [
            ("Status", ".status.phase"),
            ("BackupPath", ".status.backupPath"),
            ("BackupSize", ".status.backupSizeReadable"),
            ("CommitTS", ".status.commitTs"),
            ("Started", ".status.timeStarted"),
            ("Completed", ".status.timeCompleted"),
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
            "LastBackup",
            "LastBackupTime",
            "Age"
        ]
    );
}

#[test]
fn committed_crds_match_the_types() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/crds");
    for (name, yaml) in crd_files().expect("render") {
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
