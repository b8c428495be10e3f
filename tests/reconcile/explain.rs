//! `explain` as users run it, for Backups and BackupSchedules.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tidb-backup-webhook");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/examples");

fn explain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("explain")
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_the_defaulted_backup_validation_and_job_with_the_br_command_line() {
    let file = format!("{EXAMPLES}/backup-s3-kube2iam.yaml");
    let (code, out, err) = explain(&[&file, "--tikv-image", "pingcap/tikv:v8.5.0"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# Backup demo1-backup-s3, defaulted:\n---\n"),
        "{out}"
    );
    assert!(
        out.contains("  cleanPolicy: Retain\n"),
        "defaults shown: {out}"
    );
    assert!(out.contains("# Validation: valid\n"), "{out}");
    assert!(
        out.contains("# BR command line: /br backup full --pd=demo1-pd.test1:2379 --send-credentials-to-tikv=false --storage=s3://my-bucket/my-folder --s3.region=us-west-1 --s3.provider=aws --s3.acl=private --s3.storage-class=STANDARD_IA\n"),
        "{out}"
    );
    assert!(
        out.contains("# Job the reconciler creates:\n---\napiVersion: batch/v1\nkind: Job\n"),
        "{out}"
    );
    assert!(out.contains("image: pingcap/br:v8.5.0"), "{out}");
    assert!(
        out.contains("iam.amazonaws.com/role: arn:aws:iam::123456789012:role/user"),
        "{out}"
    );
    assert!(out.contains("uid: <uid of the Backup>"), "{out}");
    // The Job document parses as a Job.
    let job_yaml = out
        .split("# Job the reconciler creates:\n")
        .nth(1)
        .expect("job part");
    let job: k8s_openapi::api::batch::v1::Job = serde_saphyr::from_str(job_yaml).expect("Job YAML");
    assert_eq!(job.metadata.name.as_deref(), Some("backup-demo1-backup-s3"));
}

/// The user guide's three Backups: BR's command line for each, as `explain` prints it.
#[test]
fn all_three_seed_backups_explain() {
    let storage = "--storage=s3://my-bucket/my-folder --s3.region=us-west-1 --s3.provider=aws --s3.acl=private --s3.storage-class=STANDARD_IA";
    for (name, iam) in [
        ("backup-s3-secret.yaml", ""),
        (
            "backup-s3-kube2iam.yaml",
            " --send-credentials-to-tikv=false",
        ),
        ("backup-s3-irsa.yaml", " --send-credentials-to-tikv=false"),
    ] {
        let (code, out, err) = explain(&[&format!("{EXAMPLES}/{name}")]);
        assert_eq!(code, 0, "{name}: {err}");
        let expected =
            format!("# BR command line: /br backup full --pd=demo1-pd.test1:2379{iam} {storage}\n");
        assert!(
            out.contains(&expected),
            "{name}: expected {expected:?} in\n{out}"
        );
        assert!(
            out.contains("image: pingcap/br:latest"),
            "{name}: default BR image without --tikv-image"
        );
    }
}

#[test]
fn an_invalid_backup_shows_its_errors_and_no_job() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: bad, namespace: ns}\nspec:\n  backupType: ful\n  br: {cluster: demo1}\n  s3: {provider: aws, region: us-west-1, bucket: b}\n",
    )
    .expect("write");
    let (code, out, _) = explain(&[file.to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("# Validation: INVALID: the reconciler marks it Invalid and creates no Job\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "#   error: spec.backupType: unsupported value \"ful\": did you mean \"full\"?"
        ),
        "{out}"
    );
    assert!(!out.contains("kind: Job"), "{out}");
}

#[test]
fn explain_reports_what_the_reconciler_cannot_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("kms.yaml");
    std::fs::write(
        &file,
        "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: kms, namespace: ns}\nspec:\n  useKMS: true\n  br: {cluster: demo1}\n  s3: {provider: aws, region: us-west-1, bucket: b, secretName: s3}\n",
    )
    .expect("write");
    let (code, out, _) = explain(&[file.to_str().expect("path")]);
    assert_eq!(code, 0, "TiDB Operator runs it: valid");
    assert!(
        out.contains("# Validation: valid\n# Reconciler: Unsupported (KMSNotSupported): spec.useKMS: BR runs without tidb-backup-manager's KMS decryption here"),
        "{out}"
    );
    assert!(!out.contains("kind: Job"), "{out}");

    std::fs::write(
        &file,
        "apiVersion: pingcap.com/v1alpha1\nkind: BackupSchedule\nmetadata: {name: pitr, namespace: ns}\nspec:\n  schedule: '0 2 * * *'\n  maxReservedTime: 72h\n  backupTemplate:\n    br: {cluster: demo1}\n    s3: {provider: aws, region: us-west-1, bucket: b, prefix: full, secretName: s3}\n  logBackupTemplate:\n    backupMode: log\n    br: {cluster: demo1}\n    s3: {provider: aws, region: us-west-1, bucket: b, prefix: log, secretName: s3}\n",
    )
    .expect("write");
    let (code, out, _) = explain(&[file.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("# Reconciler: Unsupported (LogBackupNotSupported): spec.logBackupTemplate not run by this reconciler (log and compact backups are TiDB Operator's); the snapshot backups of spec.backupTemplate are"),
        "{out}"
    );
    assert!(
        out.contains("# Backup the tick at "),
        "snapshot backups still run: {out}"
    );
}

#[test]
fn unreadable_input_exits_2() {
    let (code, _, err) = explain(&["/nonexistent/backup.yaml"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("/nonexistent/backup.yaml: cannot read: "),
        "{err}"
    );
}

/// A BackupSchedule: retention, the next fire times from `--now`, and the Backup the
/// next tick creates (name and prefix from the tick in UTC, owner reference, labels).
#[test]
fn a_schedule_shows_its_next_fire_times_and_the_next_backup() {
    let file = format!("{EXAMPLES}/schedule-s3-kube2iam.yaml");
    let (code, out, err) = explain(&[&file, "--now", "2026-01-01T00:00:30Z", "--count", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# BackupSchedule demo1-backup-schedule-s3, defaulted:\n---\n"),
        "{out}"
    );
    let comments: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).skip(1).collect();
    assert_eq!(
        comments,
        [
            "# Validation: valid",
            "# Retention: finished Backups created more than 3h ago are deleted (maxReservedTime); running Backups are never deleted",
            "# Next 3 fire times after 2026-01-01T00:00:30Z (cron evaluated in UTC):",
            "#   2026-01-01T00:02:00Z",
            "#   2026-01-01T00:04:00Z",
            "#   2026-01-01T00:06:00Z",
            "# Backup the tick at 2026-01-01T00:02:00Z creates:",
        ]
    );
    let backup_yaml = out.split("creates:\n").nth(1).expect("the Backup document");
    let backup: tidb_backup_webhook::api::Backup =
        serde_saphyr::from_str(backup_yaml).expect("Backup YAML");
    assert_eq!(
        backup.metadata.name.as_deref(),
        Some("demo1-backup-schedule-s3-2026-01-01t00-02-00")
    );
    assert_eq!(
        backup.spec.s3.as_ref().map(|s| s.prefix.as_str()),
        Some("my-folder/demo1-pd.test1-2379-2026-01-01t00-02-00")
    );
    assert_eq!(
        backup
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tidb.pingcap.com/backup-schedule"))
            .map(String::as_str),
        Some("demo1-backup-schedule-s3")
    );
    let owner = &backup.metadata.owner_references.expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("BackupSchedule", "<uid of the BackupSchedule>")
    );
}

/// `--timezone`: the cron runs on that wall clock; names stay UTC. 02:30 does not exist
/// on 2026-03-08 in New York (spring forward), and robfig v1, hence TiDB Operator, skips
/// that day rather than firing at 03:30.
#[test]
fn a_schedule_in_another_time_zone() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("nightly.yaml");
    std::fs::write(
        &file,
        "apiVersion: pingcap.com/v1alpha1\nkind: BackupSchedule\nmetadata: {name: nightly, namespace: ns}\nspec:\n  schedule: \"30 2 * * *\"\n  maxBackups: 7\n  backupTemplate:\n    br: {cluster: demo1}\n    s3: {provider: aws, region: us-west-1, bucket: b}\n",
    )
    .expect("write");
    let (code, out, err) = explain(&[
        file.to_str().expect("path"),
        "--now",
        "2026-03-07T12:00:00Z",
        "--count",
        "3",
        "--timezone",
        "America/New_York",
    ]);
    assert_eq!(code, 0, "{err}");
    let expected = "# Retention: the newest 7 finished Backups are kept (maxBackups); running Backups are never deleted\n\
# Next 3 fire times after 2026-03-07T12:00:00Z (cron evaluated in America/New_York):\n\
#   2026-03-09T06:30:00Z (2026-03-09T02:30:00-04:00 America/New_York)\n\
#   2026-03-10T06:30:00Z (2026-03-10T02:30:00-04:00 America/New_York)\n\
#   2026-03-11T06:30:00Z (2026-03-11T02:30:00-04:00 America/New_York)\n\
# Backup the tick at 2026-03-09T06:30:00Z creates:\n";
    assert!(out.contains(expected), "{out}");
    assert!(
        out.contains("  name: nightly-2026-03-09t06-30-00\n"),
        "{out}"
    );

    let (code, _, err) = explain(&[file.to_str().expect("path"), "--timezone", "Mars/Olympus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown time zone \"Mars/Olympus\""), "{err}");
}

#[test]
fn an_invalid_or_paused_schedule() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: pingcap.com/v1alpha1\nkind: BackupSchedule\nmetadata: {name: bad, namespace: ns}\nspec:\n  schedule: \"0 0 30 2 *\"\n  maxReservedTime: 0s\n  backupTemplate:\n    br: {cluster: demo1}\n    s3: {provider: aws, region: us-west-1, bucket: b}\n",
    )
    .expect("write");
    let (code, out, _) = explain(&[bad.to_str().expect("path"), "--now", "2026-01-01T00:00:00Z"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("# Validation: INVALID: the reconciler marks it Invalid and neither creates nor deletes Backups\n"),
        "{out}"
    );
    assert!(
        out.contains("#   error: spec.maxReservedTime: must be a positive duration, got \"0s\"\n"),
        "{out}"
    );
    assert!(!out.contains("fire times"), "{out}");

    let paused = dir.path().join("paused.yaml");
    std::fs::write(
        &paused,
        "apiVersion: pingcap.com/v1alpha1\nkind: BackupSchedule\nmetadata: {name: p, namespace: ns}\nspec:\n  schedule: \"@daily\"\n  pause: true\n  maxBackups: 3\n  backupTemplate:\n    br: {cluster: demo1}\n    s3: {provider: aws, region: us-west-1, bucket: b}\n",
    )
    .expect("write");
    let (code, out, err) = explain(&[
        paused.to_str().expect("path"),
        "--now",
        "2026-01-01T00:00:00Z",
        "--count",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# Paused: no Backup is created until spec.pause is false (then one for the latest missed tick)\n# Next 1 fire times after 2026-01-01T00:00:00Z (cron evaluated in UTC):\n#   2026-01-02T00:00:00Z\n"),
        "{out}"
    );
}
