//! The `check` command as users run it: files, stdin, exit codes and output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tidb-backup-webhook");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/examples");
const SEED_BACKUP: &str = include_str!("../manifests/examples/backup-s3-secret.yaml");
const SEED_SCHEDULE: &str = include_str!("../manifests/examples/schedule-s3-secret.yaml");

fn check(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("check")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn shipped_examples_pass() {
    let files: Vec<String> = std::fs::read_dir(EXAMPLES)
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    assert_eq!(files.len(), 6);
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let (code, _, stderr) = check(&args, "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.trim(), "checked 6 object(s): 6 valid, 0 invalid");
}

/// Each mistake from the issue, injected into a seed example, is rejected at its path.
#[test]
fn injected_mistakes_are_rejected_with_field_paths() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            SEED_BACKUP,
            "provider: aws\n",
            "provider: aws\n    acl: Private\n",
            "<stdin>: Backup/demo1-backup-s3: spec.s3.acl: unsupported value \"Private\": did you mean \"private\"?",
        ),
        (
            SEED_BACKUP,
            "spec:\n",
            "spec:\n  tikvGCLifeTime: 3d\n",
            "<stdin>: Backup/demo1-backup-s3: spec.tikvGCLifeTime: invalid duration \"3d\": time: unknown unit \"d\" in duration \"3d\"",
        ),
        (
            SEED_SCHEDULE,
            "schedule: \"*/2 * * * *\"",
            "schedule: \"0 */2 * * * *\"",
            "<stdin>: BackupSchedule/demo1-backup-schedule-s3: spec.schedule: invalid cron schedule: Expected exactly 5 fields, found 6: 0 */2 * * * *",
        ),
        (
            SEED_BACKUP,
            "spec:\n",
            "spec:\n  tableFilter: [db-1.tbl]\n",
            "<stdin>: Backup/demo1-backup-s3: spec.tableFilter[0]: invalid table filter rule \"db-1.tbl\": at <cmdline>:1: unexpected special character '-'",
        ),
        (
            SEED_BACKUP,
            "provider: aws\n",
            "provider: aws\n    endpoint: minio:9000\n",
            "<stdin>: Backup/demo1-backup-s3: spec.s3.endpoint: host not found in endpoint \"minio:9000\"",
        ),
        (
            SEED_BACKUP,
            "name: demo1-backup-s3\n",
            "name: demo1-backup-s3-with-a-name-that-is-exactly-sixty-chars-long\n",
            "<stdin>: Backup/demo1-backup-s3-with-a-name-that-is-exactly-sixty-chars-long: metadata.name: name is 60 characters: Backup names must be at most 56",
        ),
    ];
    for (base, from, to, expected) in cases {
        assert!(base.contains(from), "{from:?}");
        let (code, _, stderr) = check(&["-"], &base.replacen(from, to, 1));
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with(expected)),
            "expected a line starting with\n{expected}\ngot\n{stderr}"
        );
        assert!(
            stderr.ends_with("checked 1 object(s): 0 valid, 1 invalid\n"),
            "{stderr}"
        );
    }
}

#[test]
fn warnings_do_not_fail_and_unknown_fields_do() {
    let public = SEED_BACKUP.replacen(
        "provider: aws\n",
        "provider: aws\n    acl: public-read\n",
        1,
    );
    let (code, _, stderr) = check(&["-"], &public);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("<stdin>: Backup/demo1-backup-s3: spec.s3.acl: warning: \"public-read\" makes backup data readable by others"), "{stderr}");

    let typo = SEED_BACKUP.replacen("spec:\n", "spec:\n  storageType: s3\n", 1);
    let (code, _, stderr) = check(&["-"], &typo);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("spec.storageType: unknown field: the apiserver would silently drop it"),
        "{stderr}"
    );
}

#[test]
fn the_guides_irsa_schedule_is_caught() {
    let guide_form = include_str!("../manifests/examples/schedule-s3-irsa.yaml").replacen(
        "  backupTemplate:\n    serviceAccount: tidb-backup-manager\n",
        "  serviceAccount: tidb-backup-manager\n  backupTemplate:\n",
        1,
    );
    let (code, _, stderr) = check(&["-"], &guide_form);
    assert_eq!(code, 1);
    assert!(stderr.contains("spec.serviceAccount: unknown field: the apiserver would silently drop it; it is a Backup field: move it to spec.backupTemplate.serviceAccount"), "{stderr}");
}

#[test]
fn output_prints_defaulted_objects() {
    let (code, stdout, _) = check(&["-o", "json", "-"], SEED_BACKUP);
    assert_eq!(code, 0);
    let object: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(object["spec"]["cleanPolicy"], "Retain");
    assert_eq!(object["spec"]["s3"]["storageClass"], "STANDARD_IA");
    assert_eq!(object["spec"]["tikvGCLifeTime"], "72h");

    let stream = format!(
        "{SEED_BACKUP}\n{SEED_SCHEDULE}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s3-secret}}\n"
    );
    let (code, stdout, stderr) = check(&["-o", "yaml", "-"], &stream);
    assert_eq!(code, 0, "{stderr}");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&stdout).expect("yaml stream");
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Backup", "BackupSchedule"]);
    assert_eq!(docs[1]["spec"]["backupTemplate"]["s3"]["acl"], "private");
}

#[test]
fn unreadable_input_exits_2() {
    let (code, _, stderr) = check(&["/nonexistent/backup.yaml"], "");
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("/nonexistent/backup.yaml: cannot read:"),
        "{stderr}"
    );
    let (code, _, stderr) = check(&["-"], "spec: [unclosed");
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("<stdin>: not valid YAML or JSON:"),
        "{stderr}"
    );
}
