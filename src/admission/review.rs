//! The `AdmissionReview` wire format (`admission.k8s.io/v1` and `v1beta1`).
//!
//! Own types rather than kube-core's: its `AdmissionResponse` serialises `patch` as a JSON
//! array of numbers (the API defines a base64 string), it always answers `v1`, and it
//! decodes the object into a `DynamicObject` where this webhook decodes only the parts its
//! decisions use, in the same pass as the review.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::received::Received;
use crate::api::{Backup, BackupSchedule};

pub const V1: &str = "admission.k8s.io/v1";
pub const V1BETA1: &str = "admission.k8s.io/v1beta1";

/// Why a body is not an AdmissionReview this server can answer (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("body is not a valid AdmissionReview: {0}")]
    Json(String),
    #[error("unsupported apiVersion {0:?}: expected {V1} or {V1BETA1}")]
    ApiVersion(String),
    #[error("unsupported kind {0:?}: expected AdmissionReview")]
    Kind(String),
    #[error("AdmissionReview has no request")]
    MissingRequest,
    #[error("request.uid must not be empty")]
    EmptyUid,
}

/// A group/version/kind as the apiserver sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

impl GroupVersionKind {
    /// Whether this is `R`'s group, version and kind.
    pub fn is<R: kube::Resource<DynamicType = ()>>(&self) -> bool {
        self.group == R::group(&()) && self.version == R::version(&()) && self.kind == R::kind(&())
    }
}

/// The kinds whose objects are decoded in the review's own pass: those the webhook
/// defaults and validates (pods' objects stay text).
fn decoded_in_place(gvk: &GroupVersionKind) -> bool {
    gvk.is::<Backup>() || gvk.is::<BackupSchedule>()
}

/// An object of a review (`object`, `oldObject`): its JSON text, or, for the kinds this
/// webhook admits, the parts decisions use, decoded in the same pass as the review.
#[derive(Debug, Clone)]
pub(crate) enum Carried<'a> {
    Raw(&'a RawValue),
    Decoded(Box<Received<'a>>),
}

/// The parts of `request` this webhook uses. Objects borrow from the body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    pub uid: String,
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    #[serde(borrow, default, deserialize_with = "raw_object")]
    pub(crate) object: Option<Carried<'a>>,
    #[serde(borrow, default, deserialize_with = "raw_object")]
    pub(crate) old_object: Option<Carried<'a>>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

fn raw_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Carried<'de>>, D::Error> {
    Ok(Option::<&'de RawValue>::deserialize(d)?.map(Carried::Raw))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn<R> {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<R>,
}

/// A decoded review: its version (answered in kind) and request.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    pub api_version: &'static str,
    pub request: AdmissionRequest<'a>,
}

/// Decodes a review body in one pass: the objects of a Backup or BackupSchedule review are
/// decoded where they stand (the apiserver sends `kind` before them), others are kept as
/// JSON text. A body this pass cannot read is read by [`decode_as_text`].
pub fn decode(body: &[u8]) -> Result<Review<'_>, ReviewError> {
    match serde_json::from_slice::<ReviewIn<InPlace<'_>>>(body) {
        Ok(review) => check(review.api_version, review.kind, review.request.map(|r| r.0)),
        Err(_) => decode_as_text(body),
    }
}

/// Decodes a review body keeping every object as JSON text, so that whatever is wrong in
/// an object is reported from its own text (with positions in it), and a malformed review
/// gets the decoder's message.
pub fn decode_as_text(body: &[u8]) -> Result<Review<'_>, ReviewError> {
    let review: ReviewIn<AdmissionRequest<'_>> =
        serde_json::from_slice(body).map_err(|e| ReviewError::Json(e.to_string()))?;
    check(review.api_version, review.kind, review.request)
}

fn check(
    api_version: String,
    kind: String,
    request: Option<AdmissionRequest<'_>>,
) -> Result<Review<'_>, ReviewError> {
    let api_version = match api_version.as_str() {
        V1 => V1,
        V1BETA1 => V1BETA1,
        _ => return Err(ReviewError::ApiVersion(api_version)),
    };
    if kind != "AdmissionReview" {
        return Err(ReviewError::Kind(kind));
    }
    let request = request.ok_or(ReviewError::MissingRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::EmptyUid);
    }
    Ok(Review {
        api_version,
        request,
    })
}

/// `request` read in one pass: the same fields and rules as [`AdmissionRequest`]'s derived
/// decoder (required fields, `null` handling, duplicate fields are errors), except that
/// objects following a `kind` this webhook admits are decoded in place. Any error sends
/// [`decode`] to the derived decoder.
struct InPlace<'a>(AdmissionRequest<'a>);

impl<'de> Deserialize<'de> for InPlace<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(InPlaceVisitor)
    }
}

struct InPlaceVisitor;

impl<'de> Visitor<'de> for InPlaceVisitor {
    type Value = InPlace<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionReview request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn once<T, E: de::Error>(
            slot: &mut Option<T>,
            name: &'static str,
            value: T,
        ) -> Result<(), E> {
            if slot.replace(value).is_some() {
                return Err(E::duplicate_field(name));
            }
            Ok(())
        }
        let mut uid = None;
        let mut kind: Option<GroupVersionKind> = None;
        let mut sub_resource = None;
        let mut name = None;
        let mut namespace = None;
        let mut operation = None;
        let mut object = None;
        let mut old_object = None;
        let mut dry_run = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "uid" => once(&mut uid, "uid", map.next_value::<String>()?)?,
                "kind" => once(&mut kind, "kind", map.next_value()?)?,
                "subResource" => once(&mut sub_resource, "subResource", map.next_value()?)?,
                "name" => once(&mut name, "name", map.next_value::<String>()?)?,
                "namespace" => once(&mut namespace, "namespace", map.next_value::<String>()?)?,
                "operation" => once(&mut operation, "operation", map.next_value::<String>()?)?,
                "object" | "oldObject" => {
                    let admitted = kind.as_ref().is_some_and(decoded_in_place);
                    let value = if admitted {
                        map.next_value::<Option<Received<'de>>>()?
                            .map(|r| Carried::Decoded(Box::new(r)))
                    } else {
                        map.next_value::<Option<&'de RawValue>>()?.map(Carried::Raw)
                    };
                    if key == "object" {
                        once(&mut object, "object", value)?;
                    } else {
                        once(&mut old_object, "oldObject", value)?;
                    }
                }
                "dryRun" => once(&mut dry_run, "dryRun", map.next_value::<Option<bool>>()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(InPlace(AdmissionRequest {
            uid: uid.ok_or_else(|| de::Error::missing_field("uid"))?,
            kind: kind.ok_or_else(|| de::Error::missing_field("kind"))?,
            sub_resource: sub_resource.flatten(),
            name: name.unwrap_or_default(),
            namespace: namespace.unwrap_or_default(),
            operation: operation.ok_or_else(|| de::Error::missing_field("operation"))?,
            object: object.flatten(),
            old_object: old_object.flatten(),
            dry_run: dry_run.flatten(),
        }))
    }
}

/// `response` of an AdmissionReview.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of the JSON Patch, as the API defines `[]byte`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    pub fn allow(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            ..Default::default()
        }
    }

    /// A denial carrying `code` (400 bad request, 422 invalid, 500 internal error).
    pub fn deny(uid: &str, code: u16, reason: &str, message: String) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(Status {
                code: Some(i32::from(code)),
                message: Some(message),
                reason: Some(reason.to_owned()),
                status: Some("Failure".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Attaches a JSON Patch (empty patches are not sent).
    pub fn with_patch(self, patch: &json_patch::Patch) -> Result<Self, serde_json::Error> {
        if patch.0.is_empty() {
            return Ok(self);
        }
        // About 64 bytes an operation: one allocation for a typical patch.
        let mut json = Vec::with_capacity(64 * patch.0.len());
        serde_json::to_writer(&mut json, patch)?;
        Ok(self.with_patch_json(&json))
    }

    /// Adds a JSON Patch given as its JSON text (a non-empty array of operations).
    pub fn with_patch_json(mut self, json: &[u8]) -> Self {
        self.patch = Some(base64::engine::general_purpose::STANDARD.encode(json));
        self.patch_type = Some("JSONPatch");
        self
    }

    /// The HTTP status code this response reports (200 when allowed).
    pub fn code(&self) -> u16 {
        self.status
            .as_ref()
            .and_then(|s| s.code)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(if self.allowed { 200 } else { 403 })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: &'a AdmissionResponse,
}

/// Encodes the answer in the version the review came in.
pub fn encode(
    api_version: &str,
    response: &AdmissionResponse,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&ReviewOut {
        api_version,
        kind: "AdmissionReview",
        response,
    })
}
