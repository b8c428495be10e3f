//! Property-based fuzzing of the review decoder and handlers: no input panics, every
//! answer copies the uid, and every patch applies and is idempotent.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use tidb_backup_webhook::admission::{Admission, Endpoint};

use super::CREATE_REVIEW;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        proptest::sample::select(vec![
            "aws",
            "Private",
            "3d",
            "72h",
            "*/2 * * * *",
            "db-1.tbl",
            "minio:9000",
            ""
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z/~.]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Paths inside a Backup where a fuzzed value is written.
const PATHS: &[&[&str]] = &[
    &["spec"],
    &["spec", "s3"],
    &["spec", "s3", "acl"],
    &["spec", "s3", "provider"],
    &["spec", "s3", "endpoint"],
    &["spec", "br"],
    &["spec", "br", "concurrency"],
    &["spec", "br", "options"],
    &["spec", "from"],
    &["spec", "from", "port"],
    &["spec", "tableFilter"],
    &["spec", "tikvGCLifeTime"],
    &["spec", "cleanPolicy"],
    &["metadata", "annotations"],
    &["metadata", "name"],
    &["status"],
];

fn set(root: &mut Value, path: &[&str], value: Value) {
    let mut node = root;
    for key in &path[..path.len() - 1] {
        if !node[*key].is_object() {
            node[*key] = json!({});
        }
        node = &mut node[*key];
    }
    if let Some(last) = path.last() {
        node[*last] = value;
    }
}

fn check_answer(endpoint: Endpoint, review: &Value) -> Result<Option<Value>, TestCaseError> {
    let body = serde_json::to_vec(review).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let Ok(outcome) = Admission::new().handle(endpoint, &body) else {
        return Ok(None);
    };
    let answer: Value =
        serde_json::from_slice(&outcome.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&answer["response"]["uid"], &review["request"]["uid"]);
    Ok(Some(answer))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let _ = Admission::new().handle(endpoint, &body);
        }
    }

    #[test]
    fn arbitrary_json_reviews_are_answered_or_refused(request in any_json(), version in proptest::sample::select(vec!["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])) {
        let review = json!({"apiVersion": version, "kind": "AdmissionReview", "request": request});
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            if let Some(answer) = check_answer(endpoint, &review)? {
                prop_assert_eq!(answer["apiVersion"].as_str(), Some(version));
            }
        }
    }

    #[test]
    fn fuzzed_backups_get_applicable_idempotent_patches(
        edits in proptest::collection::vec((proptest::sample::select(PATHS), any_json()), 1..4),
        operation in proptest::sample::select(vec!["CREATE", "UPDATE"]),
    ) {
        let mut review: Value = serde_json::from_str(CREATE_REVIEW).map_err(|e| TestCaseError::fail(e.to_string()))?;
        review["request"]["operation"] = json!(operation);
        if operation == "UPDATE" {
            review["request"]["oldObject"] = review["request"]["object"].clone();
        }
        for (path, value) in edits {
            set(&mut review["request"]["object"], path, value);
        }
        check_answer(Endpoint::Validate, &review)?;
        let Some(answer) = check_answer(Endpoint::Mutate, &review)? else { return Ok(()) };
        let Some(patch) = answer["response"]["patch"].as_str() else { return Ok(()) };
        let bytes = base64::engine::general_purpose::STANDARD.decode(patch).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ops: json_patch::Patch = serde_json::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut patched = review["request"]["object"].clone();
        prop_assert!(json_patch::patch(&mut patched, &ops).is_ok());
        review["request"]["object"] = patched;
        let again = check_answer(Endpoint::Mutate, &review)?;
        prop_assert!(again.is_some_and(|a| a["response"].get("patch").is_none()), "second pass patched again");
    }
}
