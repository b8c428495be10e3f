//! The README's commands can be followed verbatim: every `tidb-backup-webhook` sub-command
//! and flag exists, every `make` target exists, every repository path exists, every value a
//! `helm` command sets is one of the chart's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

use clap::CommandFactory;
use tidb_backup_webhook::cli::Cli;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const README: &str = include_str!("../README.md");

/// Shell commands from the README's `sh` and `console` blocks (prompts removed,
/// continuation lines joined, comments dropped).
fn commands() -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut console = false;
    let mut pending = String::new();
    for line in README.lines() {
        if let Some(info) = line.strip_prefix("```") {
            in_block = !in_block && (info == "sh" || info == "console");
            console = info == "console";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = if console {
            match line.strip_prefix("$ ") {
                Some(command) => command,
                None if !pending.is_empty() => line,
                None => continue,
            }
        } else {
            line
        };
        let line = line.split(" # ").next().unwrap_or_default().trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Splits a command line into words, honouring single and double quotes.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn check_binary(words: &[String]) -> Result<(), String> {
    let cli = Cli::command();
    let Some(name) = words.get(1) else {
        return Err("no sub-command".into());
    };
    let sub = cli
        .find_subcommand(name)
        .ok_or_else(|| format!("unknown sub-command {name:?}"))?;
    let flags: Vec<String> = sub
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .chain(["--help".to_owned()])
        .collect();
    for word in &words[2..] {
        if word.starts_with("--") {
            let flag = word.split('=').next().unwrap_or(word);
            if !flags.iter().any(|f| f == flag) {
                return Err(format!(
                    "{name}: unknown flag {flag} (known: {})",
                    flags.join(" ")
                ));
            }
        }
    }
    // Files given to the commands that ship with the repository must exist.
    for word in &words[2..] {
        check_path(word)?;
    }
    Ok(())
}

fn check_path(word: &str) -> Result<(), String> {
    let shipped = ["manifests/", "benches/", "charts/"];
    if shipped.iter().any(|p| word.starts_with(p))
        && !word.contains('*')
        && !Path::new(ROOT).join(word).exists()
    {
        return Err(format!("path {word} does not exist"));
    }
    Ok(())
}

fn check_make(words: &[String]) -> Result<(), String> {
    let makefile =
        std::fs::read_to_string(Path::new(ROOT).join("Makefile")).map_err(|e| e.to_string())?;
    for target in words[1..].iter().filter(|w| !w.contains('=')) {
        if !makefile
            .lines()
            .any(|l| l.starts_with(&format!("{target}:")))
        {
            return Err(format!("no make target {target}"));
        }
    }
    Ok(())
}

/// `helm` commands: shipped paths exist and every `--set`/`--set-file` key is a value of
/// the chart (values.yaml).
fn check_helm(words: &[String]) -> Result<(), String> {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("charts/tidb-backup-webhook/values.yaml"))
            .map_err(|e| e.to_string())?;
    let values: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        check_path(word)?;
        if word == "--set" || word == "--set-file" {
            let assignment = words.next().ok_or("--set without a value")?;
            let key = assignment.split('=').next().unwrap_or_default();
            let mut at = &values;
            for part in key.split('.') {
                let name = part.split('[').next().unwrap_or_default();
                at = at
                    .get(name)
                    .ok_or_else(|| format!("{word} {key}: the chart has no value {name:?}"))?;
            }
        }
    }
    Ok(())
}

#[test]
fn readme_commands_exist() {
    let commands = commands();
    let mut checked = 0;
    let mut problems = Vec::new();
    for command in &commands {
        let words = words(command);
        let result = match words.first().map(String::as_str) {
            Some("tidb-backup-webhook") => check_binary(&words),
            Some("make") => check_make(&words),
            Some("helm") => check_helm(&words),
            Some("kubectl") | Some("curl") => words.iter().try_for_each(|w| check_path(w)),
            _ => continue,
        };
        checked += 1;
        if let Err(problem) = result {
            problems.push(format!("{command}\n    {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "README commands that cannot be followed:\n{}",
        problems.join("\n")
    );
    assert!(
        checked >= 15,
        "only {checked} commands found: {commands:#?}"
    );
}

#[test]
fn the_checker_catches_mistakes() {
    assert!(check_binary(&words("tidb-backup-webhook certs --out certs --dns x")).is_ok());
    assert!(check_binary(&words("tidb-backup-webhook certs --outdir certs")).is_err());
    assert!(check_binary(&words("tidb-backup-webhook certify")).is_err());
    assert!(check_path("manifests/overlays/nope").is_err());
    assert!(check_make(&words("make certs IMAGE=x")).is_ok());
    assert!(check_make(&words("make deploy")).is_err());
    assert_eq!(words(r#"a "b c" 'd e' f"#), ["a", "b c", "d e", "f"]);
    assert!(
        check_helm(&words(
            "helm install x charts/tidb-backup-webhook --set crds.install=true"
        ))
        .is_ok()
    );
    assert_eq!(
        check_helm(&words(
            "helm install x charts/tidb-backup-webhook --set crd.install=true"
        )),
        Err("--set crd.install: the chart has no value \"crd\"".to_owned())
    );
    assert!(check_helm(&words("helm install x charts/nope")).is_err());
}
