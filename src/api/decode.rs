//! Reading Backup and BackupSchedule objects from YAML or JSON, reporting fields the
//! types do not know (a structural CRD makes the apiserver drop them silently, so a typo
//! such as `storageType` would otherwise go unnoticed).

use std::sync::LazyLock;

use kube::CustomResourceExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{API_VERSION, Backup, BackupSchedule, Kind};

/// A decoded document.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Backup(Box<Backup>),
    BackupSchedule(Box<BackupSchedule>),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Backup(_) => Kind::Backup,
            Object::BackupSchedule(_) => Kind::BackupSchedule,
        }
    }
}

/// What a document turned out to be.
#[derive(Debug)]
pub enum Decoded {
    /// A Backup or BackupSchedule, and the paths of fields its type does not have.
    Known {
        object: Object,
        unknown_fields: Vec<String>,
    },
    /// Some other kind of object; not ours to check.
    Other { api_version: String, kind: String },
}

/// Why a document is not a well-typed object: the field path and the serde message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DecodeError {
    pub path: String,
    pub message: String,
}

/// A document of a YAML stream that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// Where, when known (1-based).
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// One line, without the location.
    pub message: String,
    /// The input line the error points at, when known.
    pub excerpt: Option<String>,
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "line {line} column {column}: {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

/// How YAML is read, as kubectl reads it (sigs.k8s.io/yaml, YAML 1.1 scalars): `017` is
/// octal 15, `yes`/`on` are booleans; a duplicate key is an error. Budgets bound each
/// document (nesting, nodes, aliases), not the number of documents.
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.with_snippet = false;
    options
}

/// Reads a YAML (or JSON) stream document by document; empty documents are dropped. A
/// document that does not parse is an error in its place, and reading goes on with the
/// next one unless the stream itself is broken.
pub fn read_documents(text: &str) -> Vec<Result<Value, DocumentError>> {
    let mut input = text.as_bytes();
    serde_saphyr::read_with_options::<_, Value>(&mut input, yaml_options())
        .filter(|doc| !matches!(doc, Ok(Value::Null)))
        .map(|doc| doc.map_err(|e| document_error(&e, text)))
        .collect()
}

fn document_error(error: &serde_saphyr::Error, text: &str) -> DocumentError {
    let location = error.location();
    let line = location.map(|l| l.line()).filter(|l| *l > 0);
    let column = location.map(|l| l.column()).filter(|c| *c > 0);
    let message = match error.without_snippet() {
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => format!(
            "duplicate key {key:?}: a mapping may hold each key once (kubectl refuses it too)"
        ),
        serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => {
            "duplicate key: a mapping may hold each key once (kubectl refuses it too)".to_owned()
        }
        other => one_line(&other.to_string()),
    };
    let excerpt = line
        .and_then(|l| text.lines().nth(usize::try_from(l).ok()?.checked_sub(1)?))
        .map(|l| l.chars().take(160).collect());
    DocumentError {
        line,
        column,
        message,
        excerpt,
    }
}

/// The first line of a parser message, without its `error:` and location prefixes (the
/// location is reported separately).
fn one_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, rest)) if position.contains(" column ") => rest.to_owned(),
        _ => first.to_owned(),
    }
}

/// Splits a YAML (or JSON) stream into documents; empty documents are dropped. The first
/// unreadable document is the error.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    read_documents(text)
        .into_iter()
        .map(|doc| doc.map_err(|e| e.to_string()))
        .collect()
}

/// Decodes one document by its `apiVersion` and `kind`.
pub fn decode(value: &Value) -> Result<Decoded, DecodeError> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if !value.is_object() {
        return Err(DecodeError {
            path: String::new(),
            message: "a Kubernetes object must be a mapping".into(),
        });
    }
    match (api_version, kind) {
        (API_VERSION, "Backup") => {
            typed::<Backup>(value).map(|(b, unknown_fields)| Decoded::Known {
                object: Object::Backup(Box::new(b)),
                unknown_fields,
            })
        }
        (API_VERSION, "BackupSchedule") => {
            typed::<BackupSchedule>(value).map(|(s, unknown_fields)| Decoded::Known {
                object: Object::BackupSchedule(Box::new(s)),
                unknown_fields,
            })
        }
        _ => Ok(Decoded::Other {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }),
    }
}

/// Deserialises `value` as `T`, collecting ignored field paths; type errors carry the
/// path of the offending field.
pub fn typed<T: DeserializeOwned + serde::Serialize>(
    value: &Value,
) -> Result<(T, Vec<String>), DecodeError> {
    let (typed, unknown) = typed_unchecked::<T>(value)?;
    if let Some(path) = list_for_mapping_in_own_types(value, &typed) {
        return Err(list_error(path));
    }
    Ok((typed, unknown))
}

/// Like [`typed`] for a part of an object made only of this project's types (such as a
/// spec), reporting paths under `prefix`.
pub fn typed_part<T: DeserializeOwned + serde::Serialize>(
    value: &Value,
    prefix: &str,
) -> Result<(T, Vec<String>), DecodeError> {
    let under = |path: String| {
        if path.is_empty() {
            prefix.to_owned()
        } else if path.starts_with('[') {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}.{path}")
        }
    };
    let (typed, unknown) = typed_unchecked::<T>(value).map_err(|e| DecodeError {
        path: under(e.path),
        message: e.message,
    })?;
    if contains_list(value)
        && let Ok(decoded) = serde_json::to_value(&typed)
        && let Some(path) = list_for_mapping(value, &decoded, "")
    {
        return Err(list_error(under(path)));
    }
    Ok((typed, unknown.into_iter().map(under).collect()))
}

fn list_error(path: String) -> DecodeError {
    DecodeError {
        path,
        message: "invalid type: sequence, expected a mapping".into(),
    }
}

fn typed_unchecked<T: DeserializeOwned>(value: &Value) -> Result<(T, Vec<String>), DecodeError> {
    let mut unknown = Vec::new();
    let mut record = |path: serde_ignored::Path| {
        let path = format_ignored(&path);
        // apiVersion and kind are read above, not fields of the generated struct.
        if path != "apiVersion" && path != "kind" {
            unknown.push(path);
        }
    };
    let ignoring = serde_ignored::Deserializer::new(value, &mut record);
    let typed: T = serde_path_to_error::deserialize(ignoring).map_err(|e| DecodeError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    Ok((typed, unknown))
}

/// serde's derive fills a struct from a list positionally, which Kubernetes objects
/// never do. k8s-openapi's types (metadata, and the pod fields inside the spec) accept
/// only mappings, so only `spec` and `status`, where this project's derived types live,
/// are compared with their decoded form.
fn list_for_mapping_in_own_types<T: serde::Serialize>(input: &Value, typed: &T) -> Option<String> {
    let has_list = |key: &str| input.get(key).is_some_and(contains_list);
    if !has_list("spec") && !has_list("status") {
        return None;
    }
    let decoded = serde_json::to_value(typed).ok()?;
    ["spec", "status"]
        .iter()
        .find_map(|key| list_for_mapping(input.get(*key)?, decoded.get(*key)?, key))
}

fn contains_list(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(map) => map.values().any(contains_list),
        _ => false,
    }
}

/// The first path where `input` has a list but the decoded object a mapping.
fn list_for_mapping(input: &Value, decoded: &Value, path: &str) -> Option<String> {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (input, decoded) {
        (Value::Array(_), Value::Object(_)) => Some(path.to_owned()),
        (Value::Object(input), Value::Object(decoded)) => decoded
            .iter()
            .find_map(|(key, value)| list_for_mapping(input.get(key)?, value, &child(key))),
        (Value::Array(input), Value::Array(decoded)) => input
            .iter()
            .zip(decoded)
            .enumerate()
            .find_map(|(i, (a, b))| list_for_mapping(a, b, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// Decodes `value` as `T` on the admission path, where the apiserver has already parsed
/// the object: a plain deserialisation, with the path-tracking decoder run only to
/// explain a failure. Unknown fields and lists-for-mappings are not looked for here.
pub fn typed_fast<T: DeserializeOwned + serde::Serialize>(value: &Value) -> Result<T, DecodeError> {
    T::deserialize(value).or_else(|_| typed::<T>(value).map(|(typed, _)| typed))
}

/// `spec.tableFilter[1]`-style rendering of serde_ignored's path.
fn format_ignored(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", format_ignored(parent)),
        Path::Map { parent, key } => {
            let parent = format_ignored(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => format_ignored(parent),
    }
}

static BACKUP_SCHEMA: LazyLock<Value> =
    LazyLock::new(|| crd_schema(serde_json::to_value(Backup::crd())));
static SCHEDULE_SCHEMA: LazyLock<Value> =
    LazyLock::new(|| crd_schema(serde_json::to_value(BackupSchedule::crd())));

fn crd_schema(crd: Result<Value, serde_json::Error>) -> Value {
    crd.ok()
        .and_then(|crd| {
            crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
                .cloned()
        })
        .unwrap_or(Value::Null)
}

/// Field names the CRD schema allows next to the unknown field at `path`, for
/// suggestions. `metadata` is not described by the CRD, so nothing is known there.
pub fn sibling_fields(kind: Kind, path: &str) -> Vec<String> {
    let mut node = match kind {
        Kind::Backup => &*BACKUP_SCHEMA,
        Kind::BackupSchedule => &*SCHEDULE_SCHEMA,
    };
    let mut segments: Vec<&str> = path.split('.').collect();
    segments.pop();
    for segment in segments {
        let (key, indexed) = match segment.find('[') {
            Some(i) => (&segment[..i], true),
            None => (segment, false),
        };
        let Some(next) = node.get("properties").and_then(|p| p.get(key)) else {
            return Vec::new();
        };
        node = next;
        if indexed {
            let Some(items) = node.get("items") else {
                return Vec::new();
            };
            node = items;
        }
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}
