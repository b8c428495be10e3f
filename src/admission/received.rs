//! Decoding the object of a review into what the decisions use: name, namespace,
//! labels, annotations, spec and status.
//!
//! `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation are most of an object's bytes and never affect a decision, so they are
//! skipped rather than materialised; only `spec` is kept as JSON too, because defaulting
//! only ever changes `spec` and its patch is verified on the subtree as received.

use std::collections::BTreeMap;
use std::fmt;

use kube::api::ObjectMeta;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::api::decode::{DecodeError, typed_part};
use crate::api::plain::decode_plain;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// An object of a review as the decisions read it: the metadata they use, `spec` and
/// `status` as JSON text (borrowed from the body).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Received<'a> {
    #[serde(default)]
    metadata: Metadata,
    #[serde(borrow, default)]
    spec: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    generate_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "annotations_without_last_applied")]
    annotations: Option<BTreeMap<String, String>>,
}

/// Annotations, skipping kubectl's copy of the whole object.
fn annotations_without_last_applied<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Annotations;
    impl<'de> Visitor<'de> for Annotations {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut annotations = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == LAST_APPLIED {
                    map.next_value::<IgnoredAny>()?;
                } else {
                    annotations.insert(key, map.next_value()?);
                }
            }
            Ok(Some(annotations))
        }
    }
    deserializer.deserialize_option(Annotations)
}

impl From<Metadata> for ObjectMeta {
    fn from(m: Metadata) -> Self {
        ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            generation: m.generation,
            labels: m.labels,
            annotations: m.annotations,
            ..Default::default()
        }
    }
}

/// An object of a review, as far as the decisions need it.
pub struct ReceivedObject<'a, Spec, Status> {
    pub metadata: ObjectMeta,
    pub spec: Spec,
    /// `spec` as received.
    pub spec_json: SpecJson<'a>,
    pub status: Option<Status>,
    /// Fields under `spec` its type does not know (paths like `spec.storageType`).
    pub unknown_fields: Vec<String>,
}

/// `spec` as received, as JSON text; parsed only where a patch is placed in it, or to
/// compare two specs whose texts differ.
#[derive(Clone, Copy, Debug)]
pub struct SpecJson<'a>(Option<&'a str>);

impl SpecJson<'_> {
    /// Whether the object has no spec (or `spec: null`).
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// The spec as a JSON value; `None` when the object has none (or `spec: null`).
    pub fn value(&self) -> Option<Value> {
        self.0.and_then(|text| serde_json::from_str(text).ok())
    }

    /// Whether two specs are the same JSON (texts that differ may still be the same value).
    pub fn same_as(&self, other: &SpecJson<'_>) -> bool {
        match (self.0, other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b || self.value() == other.value(),
            _ => false,
        }
    }
}

/// Decodes an object's JSON text. A spec that does not fit its type is an error with the
/// field's path; a status that does not is ignored (it never blocks a decision).
pub fn decode<Spec, Status>(text: &str) -> Result<ReceivedObject<'_, Spec, Status>, DecodeError>
where
    Spec: DeserializeOwned + Serialize,
    Status: DeserializeOwned,
{
    let received: Received = serde_json::from_str(text).map_err(|e| DecodeError {
        path: String::new(),
        message: e.to_string(),
    })?;
    finish(&received)
}

/// Decodes the parts of an object read by [`Received`]'s decoder (here or in the review's
/// own pass) into the typed spec and status. The spec is decoded straight from its text
/// when nothing in it needs the careful decoder, which reports unknown fields and errors
/// with their paths.
pub(crate) fn finish<'a, Spec, Status>(
    received: &Received<'a>,
) -> Result<ReceivedObject<'a, Spec, Status>, DecodeError>
where
    Spec: DeserializeOwned + Serialize,
    Status: DeserializeOwned,
{
    let spec_text = received
        .spec
        .map(RawValue::get)
        .filter(|text| *text != "null");
    let (spec, unknown_fields) = match decode_plain::<Spec>(spec_text.unwrap_or("{}")) {
        Some(spec) => (spec, Vec::new()),
        None => {
            let spec_json: Option<Value> = spec_text
                .map(|text| {
                    serde_json::from_str(text).map_err(|e| DecodeError {
                        path: "spec".into(),
                        message: e.to_string(),
                    })
                })
                .transpose()?;
            let empty = Value::Object(Default::default());
            typed_part::<Spec>(spec_json.as_ref().unwrap_or(&empty), "spec")?
        }
    };
    let status = received.status.and_then(|raw| {
        serde_json::from_str::<Option<Status>>(raw.get())
            .ok()
            .flatten()
    });
    Ok(ReceivedObject {
        metadata: received.metadata.clone().into(),
        spec,
        spec_json: SpecJson(spec_text),
        status,
        unknown_fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{BackupSpec, BackupStatus};

    #[test]
    fn keeps_what_decisions_use_and_skips_the_rest() {
        let text = r#"{
            "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "ns", "generation": 3,
                "labels": {"team": "db"},
                "annotations": {"iam.amazonaws.com/role": "r", "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\":1}"},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"br": {"cluster": "demo1"}, "storageType": "s3"},
            "status": {"phase": "Running"}
        }"#;
        let object = decode::<BackupSpec, BackupStatus>(text).expect("decodes");
        assert_eq!(object.metadata.name.as_deref(), Some("b"));
        assert_eq!(object.metadata.generation, Some(3));
        assert_eq!(
            object.metadata.annotations,
            Some(BTreeMap::from([(
                "iam.amazonaws.com/role".to_owned(),
                "r".to_owned()
            )]))
        );
        assert_eq!(object.metadata.managed_fields, None);
        assert_eq!(
            object.spec.br.as_ref().map(|b| b.cluster.as_str()),
            Some("demo1")
        );
        assert_eq!(object.unknown_fields, ["spec.storageType"]);
        assert_eq!(object.status.map(|s| s.phase), Some("Running".to_owned()));
    }

    #[test]
    fn spec_errors_carry_paths_and_bad_status_is_ignored() {
        let err = decode::<BackupSpec, BackupStatus>(r#"{"spec": {"from": {"port": "x"}}}"#)
            .err()
            .expect("port is a string");
        assert_eq!(err.path, "spec.from.port");
        let err = decode::<BackupSpec, BackupStatus>(r#"{"spec": {"s3": []}}"#)
            .err()
            .expect("list");
        assert_eq!(
            (err.path.as_str(), err.message.as_str()),
            ("spec.s3", "invalid type: sequence, expected a mapping")
        );
        let object =
            decode::<BackupSpec, BackupStatus>(r#"{"status": {"phase": 7}}"#).expect("decodes");
        assert!(object.status.is_none() && object.spec_json.value().is_none());
    }
}
