//! `explain` as users run it.

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
    assert_eq!(code, 1);
    assert!(
        out.contains("#   error: spec.useKMS: not supported by this reconciler"),
        "{out}"
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
