//! Every command ends with a status from the one table (`tidb-backup-webhook --help`):
//! 0 success, 1 the command ran and failed or found an invalid object, 2 unusable input
//! and nothing done. The binary is run as users run it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::{Command, Output};

use tidb_backup_webhook::exit::{Exit, HELP};

const BIN: &str = env!("CARGO_BIN_EXE_tidb-backup-webhook");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/examples");

fn run(args: &[&str]) -> (Option<i32>, String) {
    let Output { status, stderr, .. } = Command::new(BIN)
        .args(args)
        .output()
        .expect("run the binary");
    (status.code(), String::from_utf8_lossy(&stderr).into_owned())
}

fn code(exit: Exit) -> Option<i32> {
    Some(i32::from(exit.code()))
}

#[test]
fn the_table_is_in_the_help_of_every_command() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["certs", "--help"],
        &["check", "--help"],
        &["explain", "--help"],
        &["reconcile", "--help"],
        &["manifests", "--help"],
        &["runner", "clean", "--help"],
        &["crds", "--help"],
    ] {
        let output = Command::new(BIN).args(args).output().expect("run");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains(HELP), "{args:?}:\n{help}");
    }
}

#[test]
fn a_bad_command_line_is_unusable_input() {
    let (status, stderr) = run(&["certs", "--outdir", "x"]);
    assert_eq!(status, code(Exit::Usage), "{stderr}");
    let (status, stderr) = run(&["reconcile", "--timezone", "Mars/Olympus"]);
    assert_eq!(status, code(Exit::Usage), "{stderr}");
    assert!(
        stderr.contains(r#"unknown time zone "Mars/Olympus""#),
        "{stderr}"
    );
}

#[test]
fn check_and_explain_success_invalid_unreadable() {
    let valid = format!("{EXAMPLES}/backup-s3-secret.yaml");
    for command in ["check", "explain"] {
        assert_eq!(run(&[command, &valid]).0, code(Exit::Success), "{command}");
        assert_eq!(
            run(&[command, "/nonexistent/backup.yaml"]).0,
            code(Exit::Usage),
            "{command}"
        );
    }
    let invalid = tempfile::NamedTempFile::new().expect("temp");
    let text = std::fs::read_to_string(&valid)
        .expect("example")
        .replace("backupType: full", "backupType: Full");
    assert!(
        text.contains("backupType: Full"),
        "the example sets backupType"
    );
    std::fs::write(invalid.path(), text).expect("write");
    let invalid = invalid.path().to_str().expect("utf-8");
    assert_eq!(run(&["check", invalid]).0, code(Exit::Failure));
    assert_eq!(run(&["explain", invalid]).0, code(Exit::Failure));
}

/// `certs` exited 2 for every failure while `crds` exited 1; now an unusable CA is
/// input (2) and a directory that cannot be written is a failure (1), as for `crds`.
#[test]
fn certs_crds_and_manifests_follow_the_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("certs");
    let out = out.to_str().expect("utf-8");
    let (status, stderr) = run(&["certs", "--out", out, "--dns", "webhook"]);
    assert_eq!(status, code(Exit::Success), "{stderr}");

    let missing = dir.path().join("missing.crt");
    let missing = missing.to_str().expect("utf-8");
    let (status, stderr) = run(&[
        "certs",
        "--out",
        out,
        "--dns",
        "webhook",
        "--ca-cert",
        missing,
        "--ca-key",
        missing,
    ]);
    assert_eq!(status, code(Exit::Usage), "{stderr}");
    assert!(stderr.contains("missing.crt: No such file"), "{stderr}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let garbage = garbage.to_str().expect("utf-8");
    let (status, stderr) = run(&[
        "certs",
        "--out",
        out,
        "--dns",
        "webhook",
        "--ca-cert",
        garbage,
        "--ca-key",
        garbage,
    ]);
    assert_eq!(status, code(Exit::Usage), "{stderr}");

    // A file where the directory should be: nothing can be written under it.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "").expect("write");
    let unwritable = blocked.join("certs");
    let unwritable = unwritable.to_str().expect("utf-8");
    let (status, stderr) = run(&["certs", "--out", unwritable, "--dns", "webhook"]);
    assert_eq!(status, code(Exit::Failure), "{stderr}");
    let (status, stderr) = run(&["crds", "--out-dir", unwritable]);
    assert_eq!(status, code(Exit::Failure), "{stderr}");

    let (status, stderr) = run(&["manifests", "--ca-bundle", missing]);
    assert_eq!(status, code(Exit::Usage), "{stderr}");
    assert!(stderr.contains("cannot read --ca-bundle"), "{stderr}");
}

#[test]
fn the_table_codes() {
    assert_eq!(
        [Exit::Success, Exit::Failure, Exit::Usage].map(Exit::code),
        [0, 1, 2]
    );
    // runner clean's refusal, which the clean Job's podFailurePolicy matches.
    assert_eq!(
        tidb_backup_webhook::reconcile::clean::EXIT_REFUSED,
        i32::from(Exit::Usage.code())
    );
}
