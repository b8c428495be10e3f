//! Metric names on both sides of the monitoring checks: those a PromQL expression
//! queries, and those a `/metrics` page exports. Shared by the manifests tests (the
//! webhook's metrics) and the controller tests (the reconciler's).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// PromQL keywords that are neither metric names nor functions.
const KEYWORDS: [&str; 6] = ["and", "or", "unless", "bool", "offset", "atan2"];
/// Keywords followed by a parenthesised list of label names.
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects: identifiers that are not functions or aggregations,
/// keywords, label names or values, durations or grouping labels.
pub fn queried_metrics(expr: &str) -> BTreeSet<String> {
    // Tokens outside string literals, label matchers and range brackets: identifiers
    // (numbers and durations included) and single punctuation characters.
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = expr.chars().peekable();
    let (mut in_braces, mut in_brackets) = (0, 0);
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                for inner in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                }
            }
            '{' => in_braces += 1,
            '}' => in_braces -= 1,
            '[' => in_brackets += 1,
            ']' => in_brackets -= 1,
            _ if in_braces > 0 || in_brackets > 0 => {}
            c if c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if !(next.is_ascii_alphanumeric() || next == '_' || next == ':' || next == '.')
                    {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(word);
            }
            c if c.is_whitespace() => {}
            c => tokens.push(c.to_string()),
        }
    }
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let word = tokens[i].as_str();
        let next = tokens.get(i + 1).map(String::as_str);
        i += 1;
        if GROUPING.contains(&word) {
            if next == Some("(") {
                // Skip the label list.
                while i < tokens.len() && tokens[i] != ")" {
                    i += 1;
                }
            }
            continue;
        }
        let is_identifier = word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
        let is_call = next == Some("(");
        let is_aggregation = next.is_some_and(|n| n == "by" || n == "without");
        if is_identifier && !is_call && !is_aggregation && !KEYWORDS.contains(&word) {
            names.insert(word.to_owned());
        }
    }
    names
}

/// The sample names a Prometheus text page exports, including those of families that have
/// no sample yet (their `# TYPE` line: counters as `_total`, histograms as `_bucket`,
/// `_sum` and `_count`).
pub fn exported_metrics(page: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in page.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let mut parts = declared.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "counter" => {
                    names.insert(format!("{}_total", name.trim_end_matches("_total")));
                }
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
                _ => {
                    names.insert(name.to_owned());
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Every PromQL expression of the shipped alert rules and the dashboard, with where it
/// comes from.
pub fn shipped_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    let rules_text =
        std::fs::read_to_string(Path::new(ROOT).join("manifests/monitoring/alerts.yaml"))
            .expect("manifests/monitoring/alerts.yaml");
    let rules: Value = serde_saphyr::from_str(&rules_text).expect("alerts.yaml parses");
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            queries.push((
                format!("alerts.yaml {}", rule["alert"].as_str().unwrap_or("?")),
                rule["expr"].as_str().expect("expr").to_owned(),
            ));
        }
    }
    let dashboard_text =
        std::fs::read_to_string(Path::new(ROOT).join("manifests/monitoring/dashboard.json"))
            .expect("manifests/monitoring/dashboard.json");
    let dashboard: Value = serde_json::from_str(&dashboard_text).expect("dashboard.json parses");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push((
                format!(
                    "dashboard.json panel {:?} {}",
                    panel["title"].as_str().unwrap_or("?"),
                    target["refId"].as_str().unwrap_or("?")
                ),
                target["expr"].as_str().expect("expr").to_owned(),
            ));
        }
    }
    queries
}

/// The shipped queries' metrics with the given prefix that `exported` lacks, as
/// `where: metric` lines (empty when all exist).
pub fn missing(prefix: &str, exported: &BTreeSet<String>) -> Vec<String> {
    shipped_queries()
        .into_iter()
        .flat_map(|(at, expr)| {
            queried_metrics(&expr)
                .into_iter()
                .filter(|m| m.starts_with(prefix) && !exported.contains(m))
                .map(move |m| format!("{at}: {m}"))
        })
        .collect()
}
