//! The real-world corpus (`tests/fixtures/corpus/`, see its README): every Backup and
//! BackupSchedule shape of TiDB Operator's examples and documentation, v1.1 to v1.6.
//!
//! - `accepted/`: TiDB Operator accepts and runs them, so `check` finds no error (warnings
//!   allowed), and the webhook allows them on /validate and on /mutate, whose patch
//!   applies and yields an object /validate still allows.
//! - `rejected/`: genuinely broken; each `# expect-error:` path is reported as an error.
//! - `skipped/`: not this project's kinds; `check` skips them and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};
use tidb_backup_webhook::admission::{Admission, Endpoint};
use tidb_backup_webhook::api::decode::parse_documents;
use tidb_backup_webhook::check::check_document;
use tidb_backup_webhook::rules::Finding;

struct Fixture {
    name: String,
    text: String,
    expected_errors: Vec<String>,
}

fn fixtures(dir: &str) -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .expect("corpus directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {dir}");
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("fixture");
            let header = |key: &str| -> Vec<String> {
                text.lines()
                    .take_while(|l| l.starts_with('#'))
                    .filter_map(|l| l.strip_prefix(&format!("# {key}: ")))
                    .map(|v| v.trim().to_owned())
                    .collect()
            };
            assert_eq!(
                header("corpus"),
                [dir],
                "{} declares its directory",
                path.display()
            );
            Fixture {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                expected_errors: header("expect-error"),
                text,
            }
        })
        .collect()
}

/// The Backup or BackupSchedule of a fixture (other documents, such as Secrets, skipped).
fn object_of(fixture: &Fixture) -> Value {
    let mut ours: Vec<Value> = parse_documents(&fixture.text)
        .expect("fixture parses")
        .into_iter()
        .filter(|d| {
            d["apiVersion"] == "pingcap.com/v1alpha1"
                && matches!(d["kind"].as_str(), Some("Backup" | "BackupSchedule"))
        })
        .collect();
    assert_eq!(ours.len(), 1, "{}: one object of ours", fixture.name);
    ours.remove(0)
}

fn findings_of(fixture: &Fixture) -> Vec<Finding> {
    check_document(&object_of(fixture), 0, false)
        .expect("a Backup or BackupSchedule")
        .findings
}

fn review(object: &Value) -> Value {
    let kind = object["kind"].as_str().expect("kind");
    let plural = if kind == "Backup" {
        "backups"
    } else {
        "backupschedules"
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "corpus",
            "kind": {"group": "pingcap.com", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "pingcap.com", "version": "v1alpha1", "resource": plural},
            "operation": "CREATE",
            "namespace": object["metadata"]["namespace"].as_str().unwrap_or("default"),
            "name": object["metadata"]["name"],
            "userInfo": {"username": "corpus"},
            "object": object,
            "dryRun": false
        }
    })
}

fn answer(endpoint: Endpoint, review: &Value) -> Value {
    let body = serde_json::to_vec(review).expect("encode");
    let outcome = Admission::new()
        .handle(endpoint, &body)
        .expect("an answerable review");
    serde_json::from_slice::<Value>(&outcome.body).expect("JSON")["response"].clone()
}

fn patched(object: &Value, response: &Value) -> Value {
    let mut object = object.clone();
    if let Some(patch) = response["patch"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("base64");
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("a JSON Patch");
        json_patch::patch(&mut object, &patch).expect("the patch applies");
    }
    object
}

#[test]
fn accepted_manifests_pass_check_and_the_webhook() {
    let mut refused = Vec::new();
    for fixture in fixtures("accepted") {
        let errors: Vec<String> = findings_of(&fixture)
            .iter()
            .filter(|f| f.is_error())
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            refused.push(format!("{} (check): {errors:?}", fixture.name));
            continue;
        }
        let object = object_of(&fixture);
        let validated = answer(Endpoint::Validate, &review(&object));
        if validated["allowed"] != true {
            refused.push(format!(
                "{} (/validate): {}",
                fixture.name, validated["status"]
            ));
            continue;
        }
        let mutated = answer(Endpoint::Mutate, &review(&object));
        if mutated["allowed"] != true {
            refused.push(format!("{} (/mutate): {}", fixture.name, mutated["status"]));
            continue;
        }
        let defaulted = patched(&object, &mutated);
        let revalidated = answer(Endpoint::Validate, &review(&defaulted));
        if revalidated["allowed"] != true {
            refused.push(format!(
                "{} (/validate after /mutate): {}",
                fixture.name, revalidated["status"]
            ));
            continue;
        }
        // Defaulting again changes nothing.
        let again = answer(Endpoint::Mutate, &review(&defaulted));
        assert_eq!(again["patch"], Value::Null, "{}: idempotent", fixture.name);
    }
    assert!(
        refused.is_empty(),
        "{} accepted manifests refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
}

#[test]
fn rejected_manifests_are_refused_at_every_expected_path() {
    let mut missed = Vec::new();
    for fixture in fixtures("rejected") {
        assert!(
            !fixture.expected_errors.is_empty(),
            "{}: names its expected errors",
            fixture.name
        );
        let findings = findings_of(&fixture);
        for path in &fixture.expected_errors {
            if !findings.iter().any(|f| f.is_error() && &f.path == path) {
                missed.push(format!(
                    "{}: no error at {path}; got {:?}",
                    fixture.name,
                    findings.iter().map(ToString::to_string).collect::<Vec<_>>()
                ));
            }
        }
        // The webhook refuses it too, with the same paths among its causes.
        let object = object_of(&fixture);
        let validated = answer(Endpoint::Validate, &review(&object));
        if validated["allowed"] != false {
            missed.push(format!("{}: /validate allowed it", fixture.name));
        }
    }
    assert!(
        missed.is_empty(),
        "{} misses:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn check_skips_other_kinds_and_says_so() {
    for fixture in fixtures("skipped") {
        let documents = parse_documents(&fixture.text).expect("parses");
        assert!(
            documents
                .iter()
                .all(|d| check_document(d, 0, false).is_none()),
            "{}",
            fixture.name
        );
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/skipped");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    files.sort();
    let output = Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .arg("check")
        .args(&files)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for line in [
        ": Restore/",
        ": CompactBackup/",
        ": br.pingcap.com/v1alpha1 Backup/",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(line) && l.contains("skipped")),
            "{line} reported as skipped in:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("checked 0 object(s): 0 valid, 0 invalid; skipped 7 other object(s)"),
        "{stderr}"
    );
}

#[test]
fn check_over_the_whole_corpus_as_a_user_runs_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let listed = |dir: &str| -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect("dir")
            .map(|e| e.expect("entry").path().display().to_string())
            .filter(|p| p.ends_with(".yaml"))
            .collect();
        files.sort();
        files
    };
    let accepted = listed("accepted");
    let output = Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .arg("check")
        .args(&accepted)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with(&format!(
            "checked {n} object(s): {n} valid, 0 invalid",
            n = accepted.len()
        )),
        "{summary}"
    );
    let rejected = listed("rejected");
    let output = Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .arg("check")
        .args(&rejected)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with(&format!(
            "checked {n} object(s): 0 valid, {n} invalid",
            n = rejected.len()
        )),
        "{summary}"
    );
}
