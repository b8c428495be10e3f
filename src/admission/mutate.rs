//! `/mutate` for Backups and BackupSchedules: the statically configured IAM identity and
//! the defaults, answered as a JSON Patch against the object as received.
//!
//! Only what the user wrote is defaulted: a CREATE, or an UPDATE that changes the spec. A
//! metadata-, status- or finalizer-only UPDATE (what TiDB Operator and `kubectl delete`
//! send) passes untouched. Defaulting never answers 500 for the user's object: an operation
//! that cannot be placed in the object as received is left out (validation reports what is
//! missing), and a patch that fails its own check is not sent at all.
//!
//! Two ways to the same patch. The general one serialises the received and the defaulted
//! spec, diffs them and places each operation in the received spec. A Backup defaulted
//! without IAM injection (nearly every CREATE) takes the short one: the operations are
//! written straight from the fields the defaults filled, about a quarter of the work; a
//! property test holds both to the same answers.

use std::collections::BTreeMap;

use json_patch::{Patch, PatchOperation};
use serde_json::Value;

use super::AUDIT_DEFAULTED_FIELDS;
use super::admitted::{Admitted, Object};
use super::received::SpecJson;
use super::review::AdmissionResponse;
use crate::api::decode::typed_fast;
use crate::iam::{self, IamResolver};
use crate::rules::Finding;
use crate::rules::defaults::filled_field_json;
use crate::rules::vocab::IAM_ROLE_ANNOTATION;

pub(super) fn mutate<T: Admitted>(
    uid: &str,
    received: Object<'_, T>,
    old: Option<&Object<'_, T>>,
    iam: &IamResolver,
) -> AdmissionResponse {
    let allow = || AdmissionResponse::allow(uid);
    if let Some(old) = old
        && (old.object.frozen() || old.spec_json.same_as(&received.spec_json))
    {
        return allow();
    }
    // Nothing to place defaults in; validation reports the missing spec.
    if received.spec_json.is_none() {
        return allow();
    }
    let object = received.object;
    let mut defaulted = object.clone();
    let injection = iam::backup::decide(
        iam,
        object.meta(),
        object.backup_spec(),
        T::BACKUP_SPEC_PATH,
    );
    if let Some(injection) = &injection {
        injection.apply_to_meta(defaulted.meta_mut());
        injection.apply_to_spec(defaulted.backup_spec_mut());
    }
    let filled = defaulted.apply_defaults();
    if injection.is_none() && filled.is_empty() {
        return allow();
    }
    // The injection's annotation and spec changes are not among the filled fields.
    let ops = match injection {
        None => fill_ops(&object, &defaulted, &filled),
        Some(_) => None,
    };
    match ops {
        Some(ops) => patch_of_fills(uid, &object, defaulted, ops, filled),
        None => patch_by_diff(
            uid,
            &object,
            &defaulted,
            received.spec_json,
            injection,
            filled,
        ),
    }
}

/// The answer from the operations [`fill_ops`] wrote.
fn patch_of_fills<T: Admitted>(
    uid: &str,
    object: &T,
    defaulted: T,
    ops: Vec<FillOp>,
    filled: Vec<String>,
) -> AdmissionResponse {
    if ops.is_empty() {
        return AdmissionResponse::allow(uid);
    }
    // Without IAM injection the defaulted object differs from the received one only in
    // the filled fields: it is what the patch makes of the object.
    if let Err(reason) = adds_no_error(object, &defaulted.without_status()) {
        // A fault of this webhook, not of the object: log it, admit the object as it is.
        tracing::error!(uid, %reason, "defaulting patch failed its check; answered without it");
        return not_applied(uid, &reason);
    }
    let response =
        fill_ops_json(&ops).map(|json| AdmissionResponse::allow(uid).with_patch_json(&json));
    patched(uid, response, None, filled)
}

/// The answer from the general way: both specs serialised and diffed, the IAM
/// annotation's operations added, each operation placed in the object as received (those
/// without a place left out), and the patch checked against the defaulted object.
fn patch_by_diff<T: Admitted>(
    uid: &str,
    object: &T,
    defaulted: &T,
    spec_json: SpecJson<'_>,
    injection: Option<iam::backup::BackupInjection>,
    mut filled: Vec<String>,
) -> AdmissionResponse {
    let allow = || AdmissionResponse::allow(uid);
    let diff = match (
        serde_json::to_value(object.spec()),
        serde_json::to_value(defaulted.spec()),
    ) {
        (Ok(before), Ok(after)) => json_patch::diff(&before, &after).0,
        (Err(e), _) | (_, Err(e)) => {
            return not_applied(uid, &format!("cannot serialise the spec: {e}"));
        }
    };
    let mut ops: Vec<PatchOperation> = injection
        .as_ref()
        .map(|i| i.annotation_ops.clone())
        .unwrap_or_default();
    ops.extend(diff.into_iter().map(under_spec));

    // The parts of the object as received that the patch touches.
    let Some(spec_json) = spec_json.value() else {
        return allow();
    };
    let mut target = serde_json::json!({ "metadata": {}, "spec": spec_json });
    if let Some(annotations) = &object.meta().annotations {
        target["metadata"]["annotations"] = serde_json::json!(annotations);
    }
    let (placed, skipped) = place(ops, &mut target);
    if !skipped.is_empty() {
        tracing::debug!(
            uid,
            ?skipped,
            "defaults without a place in the object as received"
        );
        filled.retain(|field| !skipped.iter().any(|path| *path == pointer_of(field)));
    }
    if placed.is_empty() {
        return allow();
    }
    if let Err(reason) = check_patch::<T>(object, defaulted, &target, skipped.is_empty()) {
        // A fault of this webhook, not of the object: log it, admit the object as it is.
        tracing::error!(uid, %reason, "defaulting patch failed its check; answered without it");
        return not_applied(uid, &reason);
    }
    patched(uid, allow().with_patch(&Patch(placed)), injection, filled)
}

/// The allowed response with its patch, given the audit annotations and the injection's
/// warnings; or, if the patch could not be encoded, allowed without it.
fn patched(
    uid: &str,
    with_patch: Result<AdmissionResponse, serde_json::Error>,
    injection: Option<iam::backup::BackupInjection>,
    filled: Vec<String>,
) -> AdmissionResponse {
    let mut response = match with_patch {
        Ok(response) => response,
        Err(e) => return not_applied(uid, &format!("cannot encode the patch: {e}")),
    };
    let mut audit = BTreeMap::new();
    let mut warnings = Vec::new();
    if let Some(injection) = injection {
        audit.extend(injection.audit);
        warnings.extend(injection.warnings);
    }
    if !filled.is_empty() {
        audit.insert(AUDIT_DEFAULTED_FIELDS.to_owned(), filled.join(","));
    }
    response.audit_annotations = audit;
    response.warnings = warnings;
    response
}

/// Allowed without a patch, saying why the defaults are missing.
fn not_applied(uid: &str, reason: &str) -> AdmissionResponse {
    let mut response = AdmissionResponse::allow(uid);
    response.warnings = vec![format!(
        "defaults were not applied ({reason}); the object is admitted as written"
    )];
    response
}

/// A diff operation of the spec, moved under `/spec`.
fn under_spec(op: PatchOperation) -> PatchOperation {
    let prefix = |path: &json_patch::jsonptr::PointerBuf| {
        let mut full = json_patch::jsonptr::PointerBuf::from_tokens(["spec"]);
        full.append(path);
        full
    };
    match op {
        PatchOperation::Add(mut add) => {
            add.path = prefix(&add.path);
            PatchOperation::Add(add)
        }
        PatchOperation::Replace(mut replace) => {
            replace.path = prefix(&replace.path);
            PatchOperation::Replace(replace)
        }
        PatchOperation::Remove(mut remove) => {
            remove.path = prefix(&remove.path);
            PatchOperation::Remove(remove)
        }
        other => other,
    }
}

fn path_of(op: &PatchOperation) -> &str {
    match op {
        PatchOperation::Add(add) => add.path.as_str(),
        PatchOperation::Replace(replace) => replace.path.as_str(),
        PatchOperation::Remove(remove) => remove.path.as_str(),
        PatchOperation::Move(mv) => mv.path.as_str(),
        PatchOperation::Copy(copy) => copy.path.as_str(),
        PatchOperation::Test(test) => test.path.as_str(),
    }
}

/// The JSON Pointer of a defaulted field path (`spec.s3.acl` → `/spec/s3/acl`; field names
/// are plain identifiers, with nothing to escape).
fn pointer_of(field: &str) -> String {
    let mut pointer = String::with_capacity(field.len() + 1);
    pointer.push('/');
    pointer.extend(field.chars().map(|c| if c == '.' { '/' } else { c }));
    pointer
}

/// Applies the operations one by one, keeping those that apply: an operation whose parent
/// does not exist in the object as received (a template the user left out) is skipped.
/// Returns the kept operations and the paths of the skipped ones.
fn place(ops: Vec<PatchOperation>, target: &mut Value) -> (Vec<PatchOperation>, Vec<String>) {
    let mut placed = Vec::with_capacity(ops.len());
    let mut skipped = Vec::new();
    for op in ops {
        let single = Patch(vec![op]);
        match json_patch::patch(target, &single) {
            Ok(()) => placed.extend(single.0),
            Err(_) => skipped.extend(single.0.iter().map(|op| path_of(op).to_owned())),
        }
    }
    (placed, skipped)
}

/// The patch, applied to the object as received (`patched`), must yield the defaulted
/// spec (when every operation was placed) and the annotation, and add no error.
fn check_patch<T: Admitted>(
    object: &T,
    defaulted: &T,
    patched: &Value,
    complete: bool,
) -> Result<(), String> {
    let spec = typed_fast::<T::Spec>(&patched["spec"])
        .map_err(|e| format!("the patched spec does not decode: {e}"))?;
    if complete && &spec != defaulted.spec() {
        return Err("the patch does not reproduce the defaulted spec".into());
    }
    let annotation = patched["metadata"]["annotations"][IAM_ROLE_ANNOTATION].as_str();
    let expected = defaulted
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(IAM_ROLE_ANNOTATION))
        .map(String::as_str);
    if annotation != expected {
        return Err("the patch does not reproduce the role annotation".into());
    }
    let mut meta = object.meta().clone();
    meta.annotations = defaulted.meta().annotations.clone();
    adds_no_error(object, &T::assemble(meta, spec, None))
}

/// The patch the defaults of a Backup's spec take, written from the fields they filled,
/// without serialising and diffing the specs: the same operations, in the same order, as
/// `json_patch::diff` of the two serialised specs, every one of them placeable in the
/// object as received (the parent of each filled field is an optional object, present in
/// the object as received because it is present in the decoded spec). `None` (the general
/// way then) for a schedule, whose template may be absent from the object as received,
/// or for a field it does not know.
fn fill_ops<T: Admitted>(object: &T, defaulted: &T, filled: &[String]) -> Option<Vec<FillOp>> {
    if T::BACKUP_SPEC_PATH != "spec" {
        return None;
    }
    let (before, after) = (object.backup_spec(), defaulted.backup_spec());
    let mut ops = Vec::with_capacity(filled.len());
    for path in filled {
        let field = path.strip_prefix("spec.")?;
        let value = filled_field_json(after, field)??;
        let replace = match filled_field_json(before, field)? {
            None => false,
            Some(old) if old == value => continue,
            Some(_) => true,
        };
        ops.push(FillOp {
            pointer: pointer_of(path),
            value,
            replace,
        });
    }
    // `diff` walks object keys in order, depth first: with keys of letters and digits,
    // which sort after `/`, that is the order of the pointers as text.
    ops.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    Some(ops)
}

/// An `add` or `replace` operation [`fill_ops`] wrote.
struct FillOp {
    pointer: String,
    value: Value,
    replace: bool,
}

/// The JSON of the operations, byte for byte as `json_patch` serialises them.
fn fill_ops_json(ops: &[FillOp]) -> Result<Vec<u8>, serde_json::Error> {
    let mut json = Vec::with_capacity(64 * ops.len());
    json.push(b'[');
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(if op.replace {
            br#"{"op":"replace","path":"#
        } else {
            br#"{"op":"add","path":"#
        });
        serde_json::to_writer(&mut json, &op.pointer)?;
        json.extend_from_slice(br#","value":"#);
        serde_json::to_writer(&mut json, &op.value)?;
        json.push(b'}');
    }
    json.push(b']');
    Ok(json)
}

/// Defaulting may not make a valid field invalid: every error `result` has, the object
/// as received had too.
fn adds_no_error<T: Admitted>(object: &T, result: &T) -> Result<(), String> {
    let errors_after: Vec<Finding> = result
        .validate()
        .into_iter()
        .filter(Finding::is_error)
        .collect();
    // Most defaulted objects are valid: the object as received is validated only when
    // there is an error to compare with it.
    if errors_after.is_empty() {
        return Ok(());
    }
    let errors_before = object.validate();
    match errors_after
        .into_iter()
        .find(|f| !errors_before.contains(f))
    {
        Some(broken) => Err(format!("defaulting would make a field invalid: {broken}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::value::RawValue;
    use serde_json::{Value, json};

    use super::*;
    use crate::admission::admitted::decode_object;
    use crate::admission::review::Carried;
    use crate::api::Backup;

    const CREATE_REVIEW: &str = include_str!("../../manifests/examples/review-backup-create.json");

    /// Both ways of answering one Backup object, when the operations can be written from
    /// the filled fields.
    fn both_ways(object: &Value) -> Option<(AdmissionResponse, AdmissionResponse)> {
        let raw = RawValue::from_string(object.to_string()).ok()?;
        let received = decode_object::<Backup>(Some(&Carried::Raw(&raw)), "object").ok()?;
        let mut defaulted = received.object.clone();
        let filled = defaulted.apply_defaults();
        let ops = fill_ops(&received.object, &defaulted, &filled)?;
        let general = patch_by_diff(
            "u",
            &received.object,
            &defaulted,
            received.spec_json,
            None,
            filled.clone(),
        );
        let direct = patch_of_fills("u", &received.object, defaulted, ops, filled);
        Some((direct, general))
    }

    fn guide_object() -> Value {
        let review: Value = serde_json::from_str(CREATE_REVIEW).expect("review JSON");
        review["request"]["object"].clone()
    }

    #[test]
    fn the_guides_backup_gets_the_same_patch_either_way() {
        let (direct, general) = both_ways(&guide_object()).expect("written from the fills");
        assert!(direct.patch.is_some());
        assert_eq!(direct, general);
    }

    #[test]
    fn schedules_take_the_general_way() {
        let schedule =
            crate::api::BackupSchedule::assemble(Default::default(), Default::default(), None);
        let mut defaulted = schedule.clone();
        let filled = defaulted.apply_defaults();
        assert!(!filled.is_empty());
        assert!(fill_ops(&schedule, &defaulted, &filled).is_none());
    }

    /// Fields the defaults read or fill, and values that exercise them: absent parents,
    /// explicit empty and null values, other modes and providers.
    const PATHS: &[&str] = &[
        "backupMode",
        "backupType",
        "tikvGCLifeTime",
        "cleanPolicy",
        "serviceAccount",
        "calcSizeLevel",
        "s3",
        "s3/provider",
        "s3/acl",
        "s3/storageClass",
        "s3/secretName",
        "from",
        "from/port",
        "from/user",
        "br",
        "br/clusterNamespace",
        "br/sendCredToTikv",
        "backoffRetryPolicy",
        "backoffRetryPolicy/maxRetryTimes",
        "cleanOption",
        "cleanOption/snapshotsDeleteRatio",
        "gcs",
        "storageClassName",
    ];

    fn values() -> Vec<Value> {
        vec![
            Value::Null,
            json!(""),
            json!({}),
            json!("aws"),
            json!("ceph"),
            json!("snapshot"),
            json!("volume-snapshot"),
            json!("log"),
            json!("72h"),
            json!(4000),
            json!(0.5),
            json!(false),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Writing the operations from the filled fields answers exactly as serialising
        /// and diffing the specs does: the same operations in the same order, the same
        /// audit annotation and check.
        #[test]
        fn writing_from_the_fills_answers_as_the_diff_does(
            edits in proptest::collection::vec(
                (proptest::sample::select(PATHS), proptest::sample::select(values())),
                0..6,
            ),
            iam_role in any::<bool>(),
        ) {
            let mut object = guide_object();
            if iam_role {
                object["metadata"]["annotations"] = json!({"iam.amazonaws.com/role": "arn:aws:iam::1:role/r"});
            }
            for (path, value) in edits {
                let mut node = &mut object["spec"];
                let mut keys = path.split('/').peekable();
                while let Some(key) = keys.next() {
                    if keys.peek().is_none() {
                        node[key] = value.clone();
                        break;
                    }
                    if !node[key].is_object() {
                        node[key] = json!({});
                    }
                    node = &mut node[key];
                }
            }
            if let Some((direct, general)) = both_ways(&object) {
                prop_assert_eq!(direct, general);
            }
        }
    }
}
