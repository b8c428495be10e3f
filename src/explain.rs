//! `explain`: shows offline what the reconciler would do with a Backup (the defaulted
//! object, its validation result, and the exact Job with BR's command line it would
//! create) or a BackupSchedule (the defaulted object, its validation result, retention,
//! the next fire times and the Backup the next tick would create). Exit status: 0 every
//! object valid, 1 any invalid, 2 unreadable input.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use kube::api::ObjectMeta;
use serde_json::Value;

use crate::api::decode::{self, Decoded, Object};
use crate::api::{Backup, BackupSchedule};
use crate::check::read_input;
use crate::exit::Exit;
use crate::reconcile::job::{ClusterInfo, JobContext, backup_job};
use crate::reconcile::schedule;
use crate::reconcile::{PlanError, defaulted};
use crate::rules::{Finding, Severity};

/// Placeholder for the Backup's uid, which only the apiserver assigns.
pub const UID_PLACEHOLDER: &str = "<uid of the Backup>";
/// Placeholder for the BackupSchedule's uid (in the scheduled Backup's owner reference).
pub const SCHEDULE_UID_PLACEHOLDER: &str = "<uid of the BackupSchedule>";
/// Namespace assumed for a Backup without one (kubectl's default).
pub const DEFAULT_NAMESPACE: &str = "default";

/// What the TidbCluster would contribute, given on the command line.
#[derive(Clone, Debug, Default)]
pub struct ExplainOptions {
    /// TiKV image of the TidbCluster; its tag picks the BR image.
    pub tikv_image: Option<String>,
    /// The TidbCluster has `spec.tlsCluster.enabled`.
    pub cluster_tls: bool,
    /// BR image when neither `spec.toolImage` nor a TiKV tag decides it.
    pub default_br_image: String,
}

/// When and where a BackupSchedule is evaluated.
#[derive(Clone, Debug)]
pub struct ScheduleOptions {
    /// Fire times are counted from this instant.
    pub now: Timestamp,
    /// How many fire times to show.
    pub count: usize,
    /// Time zone of the cron (the reconciler's `--timezone`).
    pub timezone: TimeZone,
}

/// The explanation of one BackupSchedule: YAML text with `#` comments, and whether it is
/// valid.
pub fn explain_schedule(
    schedule: &BackupSchedule,
    options: &ScheduleOptions,
) -> Result<(String, bool), PlanError> {
    let mut schedule = schedule.clone();
    crate::rules::default_schedule(&mut schedule);
    default_namespace(&mut schedule.metadata);
    let name = schedule.metadata.name.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# BackupSchedule {name}, defaulted:");
    out.push_str("---\n");
    out.push_str(&to_yaml(&schedule)?);
    let valid = write_validation(
        &mut out,
        &schedule::findings(&schedule),
        "INVALID: the reconciler marks it Invalid and neither creates nor deletes Backups",
    );
    let cron = match crate::rules::cron::parse_standard(&schedule.spec.schedule) {
        Ok(cron) if valid => cron,
        _ => return Ok((out, false)),
    };
    if let Some((stops, unsupported)) = schedule::unsupported(&schedule) {
        let _ = writeln!(
            out,
            "# Reconciler: Unsupported ({}): {}",
            unsupported.reason, unsupported.message
        );
        if stops {
            return Ok((out, true));
        }
    }
    let retention = match schedule::Retention::of(&schedule.spec) {
        schedule::Retention::ReservedTime { text, .. } => {
            format!("finished Backups created more than {text} ago are deleted (maxReservedTime)")
        }
        schedule::Retention::MaxBackups(n) => {
            format!("the newest {n} finished Backups are kept (maxBackups)")
        }
        schedule::Retention::KeepAll => "none: every Backup is kept".to_owned(),
    };
    let _ = writeln!(
        out,
        "# Retention: {retention}; running Backups are never deleted"
    );
    if schedule.spec.pause == Some(true) {
        let _ = writeln!(
            out,
            "# Paused: no Backup is created until spec.pause is false (then one for the latest missed tick)"
        );
    }
    let tz = &options.timezone;
    let zone = tz.iana_name().unwrap_or("UTC");
    let times = schedule::fire_times(&cron, options.now, tz, options.count);
    let _ = writeln!(
        out,
        "# Next {} fire times after {} (cron evaluated in {zone}):",
        times.len(),
        options.now
    );
    for time in &times {
        let local = time.to_zoned(tz.clone());
        if zone == "UTC" {
            let _ = writeln!(out, "#   {time}");
        } else {
            let _ = writeln!(
                out,
                "#   {time} ({} {zone})",
                local.strftime("%Y-%m-%dT%H:%M:%S%:z")
            );
        }
    }
    let Some(tick) = times.first() else {
        let _ = writeln!(out, "#   none within five years");
        return Ok((out, true));
    };
    if schedule.metadata.uid.is_none() {
        schedule.metadata.uid = Some(SCHEDULE_UID_PLACEHOLDER.to_owned());
    }
    let backup = schedule::build_backup(&schedule, *tick);
    let _ = writeln!(out, "# Backup the tick at {tick} creates:");
    out.push_str("---\n");
    out.push_str(&to_yaml(&backup)?);
    Ok((out, true))
}

/// The explanation of one Backup: YAML text with `#` comments, and whether it is valid.
pub fn explain_backup(
    backup: &Backup,
    options: &ExplainOptions,
) -> Result<(String, bool), PlanError> {
    let mut backup = defaulted(backup);
    default_namespace(&mut backup.metadata);
    let name = backup.metadata.name.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# Backup {name}, defaulted:");
    out.push_str("---\n");
    out.push_str(&to_yaml(&backup)?);
    let valid = write_validation(
        &mut out,
        &crate::reconcile::findings(&backup),
        "INVALID: the reconciler marks it Invalid and creates no Job",
    );
    if !valid {
        return Ok((out, false));
    }
    if let Some(unsupported) = crate::reconcile::unsupported(&backup.spec) {
        let _ = writeln!(
            out,
            "# Reconciler: Unsupported ({}): {}",
            unsupported.reason, unsupported.message
        );
        return Ok((out, true));
    }

    if backup.metadata.uid.is_none() {
        backup.metadata.uid = Some(UID_PLACEHOLDER.to_owned());
    }
    let cluster = ClusterInfo {
        tikv_image: options.tikv_image.clone(),
        cluster_tls: options.cluster_tls,
        tidb_client_tls: false,
    };
    let job = backup_job(
        &backup,
        &JobContext {
            cluster: Some(&cluster),
            default_br_image: &options.default_br_image,
            tz: None,
        },
    )?;
    let container = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    if let Some(container) = container {
        let command: Vec<String> = container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .map(|a| shell_quote(a))
            .collect();
        let _ = writeln!(out, "# BR command line: {}", command.join(" "));
    }
    let _ = writeln!(out, "# Job the reconciler creates:");
    out.push_str("---\n");
    out.push_str(&to_yaml(&job)?);
    Ok((out, true))
}

/// kubectl's namespace for an object without one.
fn default_namespace(meta: &mut ObjectMeta) {
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some(DEFAULT_NAMESPACE.to_owned());
    }
}

/// `# Validation: …` and one line per finding; returns whether there is no error.
fn write_validation(out: &mut String, findings: &[Finding], invalid: &str) -> bool {
    let valid = !findings.iter().any(|f| f.severity == Severity::Error);
    let _ = writeln!(
        out,
        "# Validation: {}",
        if valid { "valid" } else { invalid }
    );
    for finding in findings {
        let severity = if finding.is_error() {
            "error"
        } else {
            "warning"
        };
        let _ = writeln!(out, "#   {severity}: {finding}");
    }
    valid
}

fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, PlanError> {
    serde_saphyr::to_string(value)
        .map_err(|e| PlanError::new("", format!("cannot print YAML: {e}")))
}

/// Quotes an argument for a POSIX shell when it needs it.
fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=./:,@+%".contains(&b));
    if safe {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs `explain` over files (`-` is stdin).
pub fn run(files: &[String], options: &ExplainOptions, schedule_options: &ScheduleOptions) -> Exit {
    let mut unreadable = false;
    let mut invalid = false;
    let mut explained = 0usize;
    for file in files {
        let (label, text) = match read_input(file) {
            Ok(read) => read,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                unreadable = true;
                continue;
            }
        };
        let documents: Vec<Value> = match decode::parse_documents(&text) {
            Ok(docs) => docs,
            Err(e) => {
                eprintln!("{label}: not valid YAML or JSON: {e}");
                unreadable = true;
                continue;
            }
        };
        for document in &documents {
            let explained_object = match decode::decode(document) {
                Ok(Decoded::Known {
                    object: Object::Backup(backup),
                    ..
                }) => explain_backup(&backup, options),
                Ok(Decoded::Known {
                    object: Object::BackupSchedule(schedule),
                    ..
                }) => explain_schedule(&schedule, schedule_options),
                Ok(_) => continue,
                Err(e) => {
                    let kind = document
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("object");
                    eprintln!("{label}: {kind}: {e}");
                    invalid = true;
                    continue;
                }
            };
            explained += 1;
            match explained_object {
                Ok((text, valid)) => {
                    print!("{text}");
                    invalid |= !valid;
                }
                Err(e) => {
                    let kind = document
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("object");
                    eprintln!("{label}: {kind}: {e}");
                    invalid = true;
                }
            }
        }
    }
    if explained == 0 && !unreadable {
        eprintln!("no Backup or BackupSchedule found in the input");
        return Exit::Failure;
    }
    match (unreadable, invalid) {
        (true, _) => Exit::Usage,
        (false, true) => Exit::Failure,
        (false, false) => Exit::Success,
    }
}
