//! The real-world corpus (`tests/fixtures/corpus/`, see its README) through the
//! apiserver, with the webhook registered: what TiDB Operator accepts must pass, and
//! what its CRDs reject must be refused, by the apiserver itself with TiDB Operator's
//! CRDs (the proof of "never refuse what TiDB Operator accepts").
//!
//! Each manifest's Backups and BackupSchedules (its Secrets left out) go through
//! `kubectl apply --dry-run=server` in the test's namespace; the dry run shows what the
//! apiserver would store, and must be what `check` makes of the manifest once the CRDs'
//! defaults are in it, with the same warnings.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::harness::crds::CrdSet;
use crate::harness::{Env, Namespace, Test};
use crate::webhook::offline_check;

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "corpus::accepted_manifests_pass_the_apiserver",
            accepted_manifests_pass_the_apiserver,
        ),
        Test::new(
            "corpus::manifests_the_crds_reject_are_refused",
            manifests_the_crds_reject_are_refused,
        ),
    ]
}

/// kubectl runs at a time: the apiserver and the webhook answer in parallel.
const WORKERS: usize = 4;

struct Fixture {
    file: String,
    why: String,
    expected_errors: Vec<String>,
    /// The Backups and BackupSchedules of the file.
    objects: Vec<Value>,
}

fn fixtures(dir: &str) -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .expect("corpus directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read the fixture");
            let header = |key: &str| -> Vec<String> {
                text.lines()
                    .take_while(|line| line.starts_with('#'))
                    .filter_map(|line| line.strip_prefix(&format!("# {key}: ")))
                    .map(|value| value.trim().to_owned())
                    .collect()
            };
            let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let objects: Vec<Value> = documents
                .into_iter()
                .filter(|d| {
                    d["apiVersion"] == "pingcap.com/v1alpha1"
                        && matches!(d["kind"].as_str(), Some("Backup" | "BackupSchedule"))
                })
                .collect();
            assert!(!objects.is_empty(), "{}: no Backup", path.display());
            Fixture {
                file: format!(
                    "{dir}/{}",
                    path.file_name().expect("a file").to_string_lossy()
                ),
                why: header("why").join(" "),
                expected_errors: header("expect-error"),
                objects,
            }
        })
        .collect()
}

/// `object` moved into `namespace` (the corpus names namespaces of its own).
fn in_namespace(object: &Value, namespace: &str) -> Value {
    let mut object = object.clone();
    object["metadata"]["namespace"] = Value::String(namespace.to_owned());
    object
}

/// Runs `check` on every fixture's objects in `WORKERS` threads; the failures, one
/// message per object.
fn each_object(
    fixtures: &[Fixture],
    check: impl Fn(&Fixture, &Value) -> Result<(), String> + Sync,
) -> Vec<String> {
    let work: Mutex<Vec<(&Fixture, &Value)>> = Mutex::new(
        fixtures
            .iter()
            .flat_map(|fixture| fixture.objects.iter().map(move |object| (fixture, object)))
            .collect(),
    );
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let Some((fixture, object)) = work.lock().unwrap().pop() else {
                        break;
                    };
                    if let Err(e) = check(fixture, object) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {e}", fixture.file));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

/// Files whose object carries a field no TiDB Operator type has (their header says an
/// unknown-field warning is expected).
fn has_unknown_field(fixture: &Fixture) -> bool {
    fixture.why.contains("unknown-field warning")
}

fn accepted_manifests_pass_the_apiserver(env: &Env) {
    let namespace = env.namespace("corpus-accepted");
    let fixtures = fixtures("accepted");
    assert!(fixtures.len() >= 135, "{} accepted files", fixtures.len());
    let unknown = fixtures.iter().filter(|f| has_unknown_field(f)).count();
    assert_eq!(unknown, 3, "the corpus README names three such files");
    let failures = each_object(&fixtures, |fixture, object| {
        let object = in_namespace(object, &namespace.name);
        if has_unknown_field(fixture) {
            passes_with_unknown_field(env, &namespace, &object)
        } else {
            passes(env, &namespace, &object)
        }
    });
    assert!(
        failures.is_empty(),
        "{} of the accepted objects did not pass ({} CRDs):\n{}",
        failures.len(),
        env.crds().name(),
        failures.join("\n\n")
    );
}

/// The dry run succeeds, and shows the spec and warnings `check` gives.
fn passes(env: &Env, namespace: &Namespace<'_>, object: &Value) -> Result<(), String> {
    let dry_run = namespace.kubectl_stdin(
        &["apply", "--dry-run=server", "-o", "json"],
        &object.to_string(),
    );
    if !dry_run.status.success() {
        return Err(format!("refused:\n{dry_run}"));
    }
    let offline = offline_check(&env.crds().with_defaults(object).to_string());
    if !offline.errors.is_empty() {
        return Err(format!("`check` finds errors: {:?}", offline.errors));
    }
    let previewed: Value = serde_json::from_str(&dry_run.stdout)
        .map_err(|e| format!("the dry run printed no JSON ({e}):\n{dry_run}"))?;
    if numbers_as_floats(&previewed["spec"]) != numbers_as_floats(&offline.defaulted["spec"]) {
        return Err(format!(
            "the apiserver's spec is not the one `check` defaults:\napiserver: {}\ncheck:     {}",
            previewed["spec"], offline.defaulted["spec"]
        ));
    }
    if dry_run.warnings() != offline.warnings {
        return Err(format!(
            "warnings differ from `check`'s {:?}:\n{dry_run}",
            offline.warnings
        ));
    }
    Ok(())
}

/// `value` with every number as a float: the apiserver prints the float 1.0 as `1`.
fn numbers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Value::Array(items) => items.iter().map(numbers_as_floats).collect(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
            .collect(),
        other => other.clone(),
    }
}

/// kubectl's default strict field validation makes the apiserver refuse the unknown
/// field; with `--validate=warn` it prunes it with a warning, and the rest passes as
/// above.
fn passes_with_unknown_field(
    env: &Env,
    namespace: &Namespace<'_>,
    object: &Value,
) -> Result<(), String> {
    let manifest = object.to_string();
    let strict = namespace.kubectl_stdin(&["apply", "--dry-run=server"], &manifest);
    let Some(field) = strict
        .stderr
        .split_once("strict decoding error: unknown field \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(field, _)| field.to_owned())
    else {
        return Err(format!(
            "kubectl's strict validation did not refuse an unknown field:\n{strict}"
        ));
    };
    let warned = namespace.kubectl_stdin(
        &["apply", "--dry-run=server", "--validate=warn", "-o", "json"],
        &manifest,
    );
    let apiserver_warning = format!("unknown field \"{field}\"");
    if !warned.status.success() || !warned.warnings().contains(&apiserver_warning.as_str()) {
        return Err(format!(
            "not admitted with the apiserver's warning {apiserver_warning:?}:\n{warned}"
        ));
    }
    if warned
        .warnings()
        .iter()
        .any(|w| w.starts_with(&format!("{field}: ")))
    {
        return Err(format!(
            "the webhook saw the pruned field {field}:\n{warned}"
        ));
    }
    // What remains once the field is pruned passes as any other object.
    let mut pruned = object.clone();
    let (parent, name) = field.rsplit_once('.').expect("a field below the root");
    let pointer = format!("/{}", parent.replace('.', "/"));
    pruned
        .pointer_mut(&pointer)
        .and_then(Value::as_object_mut)
        .and_then(|fields| fields.remove(name))
        .ok_or_else(|| format!("{field} is not in the manifest"))?;
    passes(env, namespace, &pruned)
}

fn manifests_the_crds_reject_are_refused(env: &Env) {
    let namespace = env.namespace("corpus-rejected");
    let fixtures: Vec<Fixture> = fixtures("rejected")
        .into_iter()
        .filter(|f| f.why.starts_with("CRD ") && f.why.contains("rejects"))
        .collect();
    assert_eq!(
        fixtures.len(),
        15,
        "the rejected files whose header says TiDB Operator's CRD rejects them"
    );
    let failures = each_object(&fixtures, |fixture, object| {
        let object = in_namespace(object, &namespace.name);
        // Unknown fields pruned (some of these files carry one, which kubectl's default
        // strict validation would refuse first): the CRD's own rule refuses the object.
        let dry_run = namespace.kubectl_stdin(
            &["apply", "--dry-run=server", "--validate=warn"],
            &object.to_string(),
        );
        if dry_run.status.success() {
            return Err(format!("admitted:\n{dry_run}"));
        }
        // The field is named: by its path, or by its name in a CEL rule's message.
        for path in &fixture.expected_errors {
            let name = path.rsplit('.').next().unwrap_or(path);
            if !dry_run.stderr.contains(path.as_str())
                && !dry_run.stderr.contains(&format!("`{name}`"))
            {
                return Err(format!("{path} is not named:\n{dry_run}"));
            }
        }
        refused_before_validation(env, &namespace, &object)
    });
    assert!(
        failures.is_empty(),
        "{} of the objects TiDB Operator's CRDs reject were not refused as expected ({} CRDs):\n{}",
        failures.len(),
        env.crds().name(),
        failures.join("\n\n")
    );
}

/// With TiDB Operator's CRDs the object never reaches the validating webhook: the
/// apiserver's schema refuses it, or, where a type error makes it undecodable, the
/// defaulting webhook (which runs before the schema is checked) refuses it, naming the
/// field. The standalone CRDs leave required fields and enums to the validating webhook.
fn refused_before_validation(
    env: &Env,
    namespace: &Namespace<'_>,
    object: &Value,
) -> Result<(), String> {
    if env.crds() != CrdSet::TidbOperator {
        return Ok(());
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let validations: Vec<String> = env
        .webhook
        .reviews_logged(&namespace.name, name)
        .into_iter()
        .filter(|line| line.contains("webhook=\"/validate\""))
        .collect();
    if validations.is_empty() {
        Ok(())
    } else {
        Err(format!("the validating webhook saw it: {validations:#?}"))
    }
}
