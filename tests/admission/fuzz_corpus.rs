//! Seeded fuzzing from the real-world corpus (`tests/fixtures/corpus/`): each case takes a
//! corpus object and damages it (fields removed, values replaced by odd strings with
//! control, line-separator and bidi characters, wrong types, keys renamed), then checks:
//!
//! - `check` never panics, and every finding it prints is one line;
//! - /mutate never answers 500, for a CREATE or for an UPDATE from the undamaged object;
//! - mutate → validate of the patched object never denies what validate of the unpatched
//!   object allowed, and a second /mutate adds nothing.
//!
//! `make test` runs a few hundred cases with a fixed seed; `make fuzz` runs
//! `FUZZ_CASES` (default 20,000) with `FUZZ_SEED` (default: from the clock, printed).

use std::path::Path;

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use tidb_backup_webhook::admission::{Admission, Endpoint};
use tidb_backup_webhook::api::decode::parse_documents;
use tidb_backup_webhook::check::{check_document, finding_line};

fn corpus() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut objects = Vec::new();
    for dir in ["accepted", "rejected"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("corpus")
            .map(|e| e.expect("entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("fixture");
            objects.extend(
                parse_documents(&text)
                    .expect("parses")
                    .into_iter()
                    .filter(|d| d["apiVersion"] == "pingcap.com/v1alpha1"),
            );
        }
    }
    objects
}

/// Strings a user, a typo or an attacker may write.
fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "",
            "aws",
            "Private",
            "3d",
            "72h",
            "0 0 */31 1 2",
            "*.*",
            "!db.*",
            "db-1.t",
            "minio:9000",
            "http://minio:9000",
            "log",
            "logs",
            "log-start",
            "2024-02-30 00:00:00",
            "420134118382108673",
            "Bad_NS",
            "a\nforged: line",
            "\u{1b}[2J",
            "\u{2028}",
            "\u{202e}evil",
            "x\r\ny",
        ])
        .prop_map(str::to_owned),
        ".{0,16}",
    ]
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => odd_string().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => Just(json!([])),
        1 => Just(json!({})),
        1 => odd_string().prop_map(|s| json!([s])),
        1 => odd_string().prop_map(|s| json!({ s: 1 })),
    ]
}

/// One damage to an object: what to do at the `n`-th node (in document order).
#[derive(Clone, Debug)]
enum Damage {
    Remove(usize),
    Replace(usize, Value),
    AddKey(usize, String, Value),
}

fn any_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0..200usize).prop_map(Damage::Remove),
        (0..200usize, odd_value()).prop_map(|(n, v)| Damage::Replace(n, v)),
        (0..200usize, odd_string(), odd_value()).prop_map(|(n, k, v)| Damage::AddKey(n, k, v)),
    ]
}

/// The JSON Pointers of every node below `metadata` and `spec` (not apiVersion/kind,
/// which decide whether the object is ours at all).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                let path = format!("{at}/{escaped}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{at}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

fn damage(object: &mut Value, damages: &[Damage]) {
    for damage in damages {
        let mut nodes = Vec::new();
        for top in ["metadata", "spec"] {
            if let Some(child) = object.get(top) {
                nodes.push(format!("/{top}"));
                pointers(child, format!("/{top}"), &mut nodes);
            }
        }
        let pick = |n: usize| nodes.get(n % nodes.len().max(1)).cloned();
        match damage {
            Damage::Remove(n) => {
                if let Some(path) = pick(*n)
                    && let Some((parent, key)) = path.rsplit_once('/')
                {
                    match object.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(i) = key.parse::<usize>()
                                && i < items.len()
                            {
                                items.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Damage::Replace(n, value) => {
                if let Some(slot) = pick(*n).and_then(|p| object.pointer_mut(&p)) {
                    *slot = value.clone();
                }
            }
            Damage::AddKey(n, key, value) => {
                if let Some(Value::Object(map)) = pick(*n).and_then(|p| object.pointer_mut(&p)) {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

fn review(operation: &str, object: &Value, old: Option<&Value>) -> Value {
    let kind = object["kind"].as_str().unwrap_or("Backup");
    let mut request = json!({
        "uid": "fuzz",
        "kind": {"group": "pingcap.com", "version": "v1alpha1", "kind": kind},
        "resource": {"group": "pingcap.com", "version": "v1alpha1", "resource": "backups"},
        "operation": operation,
        "namespace": "fuzz",
        "object": object,
    });
    if let Some(old) = old {
        request["oldObject"] = old.clone();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

fn answer(endpoint: Endpoint, review: &Value) -> Result<Value, TestCaseError> {
    let body = serde_json::to_vec(review).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let outcome = Admission::new()
        .handle(endpoint, &body)
        .map_err(|e| TestCaseError::fail(format!("a well-formed review was refused: {e}")))?;
    let answer: Value =
        serde_json::from_slice(&outcome.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(answer["response"].clone())
}

fn patched(object: &Value, response: &Value) -> Result<Value, TestCaseError> {
    let mut object = object.clone();
    if let Some(patch) = response["patch"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let patch: json_patch::Patch =
            serde_json::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        json_patch::patch(&mut object, &patch)
            .map_err(|e| TestCaseError::fail(format!("the patch does not apply: {e}")))?;
    }
    Ok(object)
}

fn one_case(original: &Value, damages: &[Damage]) -> Result<(), TestCaseError> {
    let mut object = original.clone();
    damage(&mut object, damages);

    // check: no panic, one line per finding, nothing a terminal would act on.
    if let Some(checked) = check_document(&object, 0, false) {
        for finding in &checked.findings {
            let line = finding_line("fuzz.yaml", &checked.label, finding);
            prop_assert!(
                !line.chars().any(|c| c.is_control()
                    || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
                "not one clean line: {:?}",
                line
            );
        }
    }

    for (operation, old) in [("CREATE", None), ("UPDATE", Some(original))] {
        let review = review(operation, &object, old);
        let mutated = answer(Endpoint::Mutate, &review)?;
        prop_assert_ne!(&mutated["status"]["code"], &json!(500), "{}", mutated);
        let before = answer(Endpoint::Validate, &review)?;
        prop_assert_ne!(&before["status"]["code"], &json!(500), "{}", before);
        let patched_object = patched(&object, &mutated)?;
        let after_review = self::review(operation, &patched_object, old);
        let after = answer(Endpoint::Validate, &after_review)?;
        if before["allowed"] == true {
            prop_assert_eq!(
                &after["allowed"],
                &json!(true),
                "defaulting turned an allowed {} into a denial: {}",
                operation,
                after
            );
        }
        let again = answer(Endpoint::Mutate, &after_review)?;
        prop_assert!(
            again.get("patch").is_none(),
            "second /mutate patched again: {}",
            again
        );
    }
    Ok(())
}

fn cases_and_seed() -> (u32, [u8; 32]) {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x71db_bac0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    eprintln!("fuzzing {cases} cases with FUZZ_SEED={seed}");
    (cases, bytes)
}

#[test]
fn damaged_corpus_objects_never_get_internal_errors_or_broken_output() {
    let corpus = corpus();
    let (cases, seed) = cases_and_seed();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = (
        0..corpus.len(),
        proptest::collection::vec(any_damage(), 1..4),
    );
    let result = runner.run(&strategy, |(index, damages)| {
        one_case(&corpus[index], &damages)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
