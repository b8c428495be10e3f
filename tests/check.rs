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
fn warnings_and_unknown_fields_do_not_fail_unless_strict() {
    let public = SEED_BACKUP.replacen(
        "provider: aws\n",
        "provider: aws\n    acl: public-read\n",
        1,
    );
    let (code, _, stderr) = check(&["-"], &public);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("<stdin>: Backup/demo1-backup-s3: spec.s3.acl: warning: \"public-read\" makes backup data readable by others"), "{stderr}");

    // TiDB Operator's CRD drops unknown fields: a warning, an error with --strict.
    let typo = SEED_BACKUP.replacen("spec:\n", "spec:\n  storageType: s3\n", 1);
    let (code, _, stderr) = check(&["-"], &typo);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("<stdin>: Backup/demo1-backup-s3: spec.storageType: warning: unknown field: TiDB Operator's CRD drops it (or its controllers ignore it)\n"),
        "{stderr}"
    );
    let (code, _, stderr) = check(&["--strict", "-"], &typo);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("<stdin>: Backup/demo1-backup-s3: spec.storageType: unknown field: TiDB Operator's CRD drops it (or its controllers ignore it)\n"),
        "{stderr}"
    );
}

#[test]
fn the_guides_irsa_schedule_is_caught() {
    let guide_form = include_str!("fixtures/guide/schedule-s3-irsa.yaml");
    let (code, _, stderr) = check(&["--strict", "-"], guide_form);
    assert_eq!(code, 1);
    assert!(stderr.contains("spec.serviceAccount: unknown field: TiDB Operator's CRD drops it (or its controllers ignore it); it is a Backup field: move it to spec.backupTemplate.serviceAccount"), "{stderr}");
    let (code, _, stderr) = check(&["-"], guide_form);
    assert_eq!(code, 0, "TiDB Operator accepts it: {stderr}");
    assert!(
        stderr.contains("spec.serviceAccount: warning: unknown field"),
        "{stderr}"
    );
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
    let (code, stdout, stderr) = check(&["-o", "json", "-"], "spec: [unclosed");
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "<stdin>: document 1: not valid YAML or JSON: line 1 column 7: unclosed bracket '[' at line 1, column 7\n    | spec: [unclosed\nchecked 0 object(s): 0 valid, 0 invalid\n"
    );
    assert_eq!(stdout, "", "nothing on stdout when an input is unreadable");
}

/// The reproducers of adversarial input (issue "No internal errors for user input …").
#[test]
fn input_cannot_forge_lines_or_escape_the_terminal() {
    let text = include_str!("fixtures/repro/check-line-injection-name.yaml");
    let (code, _, stderr) = check(&["-"], text);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    // One line per finding (the unknown key, the name) and the summary: nothing forged.
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no raw escape sequence reaches the terminal"
    );
    let label = r#"<stdin>: Backup/"ok\nprod.yaml: Backup/nightly: spec.s3.bucket: forged line\nchecked 9 object(s): 9 valid, 0 invalid\n\x1b[2J": "#;
    assert!(lines[0].starts_with(label), "{}", lines[0]);
    assert!(
        lines[0].ends_with(r#": "spec.x\nprod.yaml: Backup/other: spec: forged via unknown key": warning: unknown field: TiDB Operator's CRD drops it (or its controllers ignore it)"#),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with(label) && lines[1].contains(": metadata.name: invalid name "));
    assert_eq!(lines[2], "checked 1 object(s): 0 valid, 1 invalid");
}

#[test]
fn names_are_checked_as_kubernetes_checks_them() {
    let text = include_str!("fixtures/repro/check-invalid-metadata-name-accepted.yaml");
    let (code, _, stderr) = check(&["-"], text);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with(r#"<stdin>: Backup/"Foo_Bar\u202e": metadata.name: invalid name "Foo_Bar\u{202e}": must be a lowercase RFC 1123 subdomain"#),
        "{stderr}"
    );
}

/// kubectl reads YAML 1.1 scalars (sigs.k8s.io/yaml): `017` is octal, 15.
#[test]
fn yaml_scalars_are_read_as_kubectl_reads_them() {
    let text = include_str!("fixtures/repro/check-octal-017.yaml");
    let (code, stdout, stderr) = check(&["-o", "json", "-"], text);
    assert_eq!(code, 0, "{stderr}");
    let object: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(object["spec"]["br"]["concurrency"], 15);
}

#[test]
fn a_duplicate_key_is_one_clean_line_per_document() {
    let text = include_str!("fixtures/repro/check-duplicate-key.yaml");
    let (code, _, stderr) = check(&["-"], text);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "<stdin>: document 1: not valid YAML or JSON: line 8 column 3: duplicate key \"cleanPolicy\": a mapping may hold each key once (kubectl refuses it too)\n    |   cleanPolicy: Retain\nchecked 0 object(s): 0 valid, 0 invalid\n"
    );
    // The other documents of the file are still checked.
    let (code, _, stderr) = check(&["-"], &format!("{text}---\n{SEED_BACKUP}"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.ends_with("checked 1 object(s): 1 valid, 0 invalid\n"),
        "{stderr}"
    );
}

/// No limit on the number of documents of a file (the YAML budget bounds each one).
#[test]
fn many_documents_are_all_checked() {
    let many: String = (0..3000)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"))
        .collect();
    let (code, _, stderr) = check(&["-"], &format!("{many}---\n{SEED_BACKUP}"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr,
        "checked 1 object(s): 1 valid, 0 invalid; skipped 3000 other object(s)\n"
    );
}
