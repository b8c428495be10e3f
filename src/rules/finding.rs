//! What validation reports: a field path, a message and a severity.

use std::fmt;

use super::go_quote::{escape_unprintable, quote_if_needed};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Rejects the object.
    Error,
    /// Admitted, but shown to the user (admission `warnings`).
    Warning,
}

/// One problem found in an object, e.g. `spec.s3.acl: unsupported value "Private" …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// JSON field path in the object, e.g. `spec.tableFilter[1]`.
    pub path: String,
    pub message: String,
    pub severity: Severity,
}

impl Finding {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One line, whatever the input: a path made of odd keys is quoted, and any character
/// of the message that could break the line or the terminal is escaped.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            quote_if_needed(&self.path),
            escape_unprintable(&self.message)
        )
    }
}

/// Collects findings in the order they are found.
#[derive(Debug, Default)]
pub struct Findings(Vec<Finding>);

impl Findings {
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Error);
    }

    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path.into(), message.into(), Severity::Warning);
    }

    fn push(&mut self, path: String, message: String, severity: Severity) {
        self.0.push(Finding {
            path,
            message,
            severity,
        });
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.0
    }
}

/// True when any finding rejects the object.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}
