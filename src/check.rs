//! `check`: offline defaulting and validation of Backup/BackupSchedule documents, for CI
//! pipelines and pre-commit hooks. Exit status: 0 all valid (warnings allowed), 1 any
//! invalid, 2 unreadable input.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::process::ExitCode;

use serde_json::Value;

use crate::api::decode::{self, Decoded, Object};
use crate::exit::Exit;
use crate::rules::go_quote::{escape_unprintable, quote_if_needed};
use crate::rules::unknown::unknown_field;
use crate::rules::{
    Finding, Severity, default_backup, default_schedule, has_errors, validate_backup,
    validate_schedule,
};

/// How `check -o` prints the defaulted objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

/// The result of checking one document.
#[derive(Debug)]
pub struct Checked {
    /// `Backup/name`.
    pub label: String,
    pub findings: Vec<Finding>,
    /// The object after defaulting, when it could be decoded.
    pub defaulted: Option<Value>,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        !has_errors(&self.findings)
    }
}

/// Checks one document; `None` when it is not a Backup or BackupSchedule. With `strict`,
/// unknown fields are errors instead of warnings.
pub fn check_document(value: &Value, index: usize, strict: bool) -> Option<Checked> {
    let fallback_label = || {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("object");
        format!("{}/{}", quote_if_needed(kind), display_name(value, index))
    };
    let (mut object, unknown_fields) = match decode::decode(value) {
        Ok(Decoded::Other { .. }) => return None,
        Ok(Decoded::Known {
            object,
            unknown_fields,
        }) => (object, unknown_fields),
        Err(err) => {
            return Some(Checked {
                label: fallback_label(),
                findings: vec![Finding {
                    path: err.path,
                    message: err.message,
                    severity: Severity::Error,
                }],
                defaulted: None,
            });
        }
    };
    let kind = object.kind();
    let mut findings: Vec<Finding> = unknown_fields
        .iter()
        .map(|path| unknown_field(kind, path, strict))
        .collect();
    let defaulted = match &mut object {
        Object::Backup(backup) => {
            default_backup(backup);
            findings.extend(validate_backup(backup));
            serde_json::to_value(&**backup)
        }
        Object::BackupSchedule(schedule) => {
            default_schedule(schedule);
            findings.extend(validate_schedule(schedule));
            serde_json::to_value(&**schedule)
        }
    };
    Some(Checked {
        label: format!("{}/{}", kind.as_str(), display_name(value, index)),
        findings,
        defaulted: defaulted.ok(),
    })
}

/// A document `check` does not check but a user may expect it to: the other kinds of
/// TiDB Operator (`Restore`, `CompactBackup`, …) and of its v2 API (`br.pingcap.com`).
fn skipped_label(value: &Value, index: usize) -> Option<String> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (
        quote_if_needed(text("apiVersion")),
        quote_if_needed(text("kind")),
    );
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let name = display_name(value, index);
    match group {
        "pingcap.com" => Some(format!("{kind}/{name}")),
        "br.pingcap.com" => Some(format!("{api_version} {kind}/{name}")),
        _ => None,
    }
}

fn display_name(value: &Value, index: usize) -> String {
    let meta = |key: &str| {
        value
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (meta("name"), meta("generateName")) {
        (Some(name), _) => quote_if_needed(name).into_owned(),
        (None, Some(prefix)) => format!("{}*", quote_if_needed(prefix)),
        (None, None) => format!("<document {}>", index + 1),
    }
}

/// Runs `check` over files (`-` is stdin), printing findings to stderr and, with
/// `output`, the defaulted objects to stdout (nothing when an input is unreadable).
///
/// Every line printed is one finding: names, paths and file names that carry control,
/// line-separator or bidi characters are quoted, so an input cannot forge lines.
pub fn run(files: &[String], output: Option<OutputFormat>, strict: bool) -> ExitCode {
    let mut unreadable = false;
    let mut invalid = 0usize;
    let mut checked_count = 0usize;
    let mut skipped = 0usize;
    let mut printed: Vec<Value> = Vec::new();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for file in files {
        let (label, text) = match read_input(file) {
            Ok(read) => read,
            Err(e) => {
                let _ = writeln!(err, "{}: cannot read: {e}", quote_if_needed(file));
                unreadable = true;
                continue;
            }
        };
        let label = quote_if_needed(&label).into_owned();
        for (index, document) in decode::read_documents(&text).into_iter().enumerate() {
            let document = match document {
                Ok(document) => document,
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "{label}: document {}: not valid YAML or JSON: {}",
                        index + 1,
                        escape_unprintable(&e.to_string())
                    );
                    if let Some(excerpt) = &e.excerpt {
                        let _ = writeln!(err, "    | {}", escape_unprintable(excerpt));
                    }
                    unreadable = true;
                    continue;
                }
            };
            let Some(checked) = check_document(&document, index, strict) else {
                skipped += 1;
                if let Some(object) = skipped_label(&document, index) {
                    let _ = writeln!(
                        err,
                        "{label}: {object}: skipped: only Backups and BackupSchedules (pingcap.com/v1alpha1) are checked"
                    );
                }
                continue;
            };
            checked_count += 1;
            for finding in &checked.findings {
                let _ = writeln!(err, "{}", finding_line(&label, &checked.label, finding));
            }
            if !checked.is_valid() {
                invalid += 1;
            }
            printed.extend(checked.defaulted);
        }
    }
    let skipped_note = if skipped > 0 {
        format!("; skipped {skipped} other object(s)")
    } else {
        String::new()
    };
    let _ = writeln!(
        err,
        "checked {checked_count} object(s): {} valid, {invalid} invalid{skipped_note}",
        checked_count - invalid
    );
    if unreadable {
        return Exit::Usage.into();
    }
    if let Some(format) = output
        && let Err(e) = print_objects(&printed, format)
    {
        let _ = writeln!(err, "cannot print objects: {e}");
        return Exit::Failure.into();
    }
    if invalid == 0 {
        Exit::Success.into()
    } else {
        Exit::Failure.into()
    }
}

/// The line `check` prints for a finding: `FILE: KIND/NAME: FIELD: [warning: ]message`,
/// always one line (`file` and `object` are already quoted where needed).
pub fn finding_line(file: &str, object: &str, finding: &Finding) -> String {
    let severity = match finding.severity {
        Severity::Error => "",
        Severity::Warning => "warning: ",
    };
    let path = if finding.path.is_empty() {
        Cow::Borrowed("(document)")
    } else {
        quote_if_needed(&finding.path)
    };
    format!(
        "{file}: {object}: {path}: {severity}{}",
        escape_unprintable(&finding.message)
    )
}

/// Reads a file (`-` is stdin); returns the label to report it by and its text.
pub fn read_input(file: &str) -> std::io::Result<(String, String)> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(("<stdin>".to_owned(), text))
    } else {
        Ok((file.to_owned(), std::fs::read_to_string(file)?))
    }
}

fn print_objects(objects: &[Value], format: OutputFormat) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let text = match format {
        OutputFormat::Yaml => objects
            .iter()
            .map(|o| serde_saphyr::to_string(o).map(|y| format!("---\n{y}")))
            .collect::<Result<String, _>>()
            .map_err(|e| e.to_string())?,
        OutputFormat::Json => {
            let value = match objects {
                [single] => single.clone(),
                many => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": many}),
            };
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n"
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}
