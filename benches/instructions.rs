//! Instructions per review, counted by callgrind: one `/validate` and one `/mutate` of the
//! 8 KB UPDATE review (managedFields and kubectl's last-applied copy included) and of the
//! guide's minimal Backup CREATE, next to the floor (parsing the same body into a
//! `serde_json::Value` and answering its uid). Unlike wall-clock timings the counts barely
//! move on a busy machine, so a regression shows as a number.
//!
//! `cargo bench --bench instructions` runs this binary once per case under
//! `valgrind --tool=callgrind`, counting only inside `callgrind_measured_region`, and
//! prints the table. Without valgrind it says so and exits 0 (the tests never need it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a panic is the failure report

use std::hint::black_box;
use std::process::Command;

use tidb_backup_webhook::admission::{Admission, Endpoint};

// The server's allocator: allocation is a large part of decoding a review.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const UPDATE: &[u8] = include_bytes!("fixtures/review-backup-update.json");
const CREATE: &[u8] = include_bytes!("../manifests/examples/review-backup-create.json");

/// Reviews per measured run; the count is divided by it.
const ITERATIONS: u64 = 10;
const CASE_VAR: &str = "INSTRUCTIONS_CASE";

#[derive(Clone, Copy)]
enum Handler {
    Floor,
    Webhook(Endpoint),
}

struct Case {
    name: &'static str,
    body: &'static [u8],
    handler: Handler,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (review, body) in [("8 KB UPDATE", UPDATE), ("guide CREATE", CREATE)] {
        for (what, handler) in [
            ("floor: parse as Value", Handler::Floor),
            ("/validate", Handler::Webhook(Endpoint::Validate)),
            ("/mutate", Handler::Webhook(Endpoint::Mutate)),
        ] {
            cases.push(Case {
                name: leak(format!("{review}, {what}")),
                body,
                handler,
            });
        }
    }
    cases
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// What the floor server does with a body: parse it, read `request.uid`, encode an answer.
fn floor(body: &[u8]) -> Vec<u8> {
    let review: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    let uid = review["request"]["uid"].as_str().unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true},
    }))
    .expect("encode")
}

fn run(case: &Case, admission: &Admission) -> usize {
    match case.handler {
        Handler::Floor => floor(black_box(case.body)).len(),
        Handler::Webhook(endpoint) => admission
            .handle(endpoint, black_box(case.body))
            .expect("answered")
            .body
            .len(),
    }
}

/// The only code callgrind counts (`--toggle-collect`): one review.
#[inline(never)]
fn callgrind_measured_region(case: &Case, admission: &Admission) -> usize {
    run(case, admission)
}

fn measure_one(name: &str) {
    let cases = cases();
    let case = cases.iter().find(|c| c.name == name).expect("known case");
    let admission = Admission::new();
    // Warm up: lazily built tables and the allocator's first pages are not per review.
    black_box(run(case, &admission));
    for _ in 0..ITERATIONS {
        black_box(callgrind_measured_region(black_box(case), &admission));
    }
}

fn main() {
    if let Ok(name) = std::env::var(CASE_VAR) {
        measure_one(&name);
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("instructions: valgrind is not installed; skipped (apt-get install valgrind)");
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "\nInstructions per review (callgrind, {ITERATIONS} reviews per count, after a warm-up):\n"
    );
    println!("| Case | body bytes | instructions | × floor |");
    println!("|---|---:|---:|---:|");
    let mut floor_count = None;
    for case in cases() {
        let out = dir.path().join(format!(
            "callgrind.{}.out",
            case.name.replace(['/', ' ', ','], "_")
        ));
        let status = Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=*callgrind_measured_region*",
            ])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .env(CASE_VAR, case.name)
            .output()
            .expect("valgrind runs");
        assert!(
            status.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&status.stderr)
        );
        let total = totals(&std::fs::read_to_string(&out).expect("callgrind output"));
        let per_review = total / ITERATIONS;
        let ratio = match (case.handler, floor_count) {
            (Handler::Floor, _) => {
                floor_count = Some(per_review);
                "1.00".to_owned()
            }
            (_, Some(floor)) => format!("{:.2}", per_review as f64 / floor as f64),
            (_, None) => "-".to_owned(),
        };
        println!(
            "| {} | {} | {} | {ratio} |",
            case.name,
            case.body.len(),
            group_thousands(per_review)
        );
    }
}

/// The `totals:` (or `summary:`) line of a callgrind output file: instructions executed.
fn totals(output: &str) -> u64 {
    output
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a totals line")
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
