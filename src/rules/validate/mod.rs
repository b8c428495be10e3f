//! Validation of Backup and BackupSchedule objects: TiDB Operator's own rules (release-1.6
//! `ValidateBackup`, its CRD's required fields, enums and CEL rules, the schedule
//! manager's parsing) for every engine, mode and storage, plus the exact grammars BR and
//! Go apply later (durations, cron, table filters, endpoints, names). Where this is
//! stricter than TiDB Operator, the manifest would fail later in TiDB Operator or BR
//! (each check says how); anything else is a warning. Every problem is reported, each
//! with its field path; nothing stops at the first.

mod br;
mod mode;
mod storage;

use kube::api::ObjectMeta;

use super::cron;
use super::defaults::{SpecContext, iam_method};
use super::duration::GoDuration;
use super::finding::{Finding, Findings};
use super::names::{check_label, check_subdomain};
use super::suggest::unsupported;
use super::vocab::*;
use crate::api::{Backup, BackupSchedule, BackupSpec, TiDBAccessConfig};

pub use storage::StorageUse;

/// Validates a Backup as it would be stored.
pub fn validate_backup(backup: &Backup) -> Vec<Finding> {
    let mut f = Findings::default();
    let max = mode::max_backup_name_len(&backup.spec);
    check_object_name(&backup.metadata, max, &mut f, |len| {
        format!(
            "name is {len} characters: Backup names must be at most {max}, so that TiDB Operator's Job names ({}) fit in {MAX_LABEL_VALUE_LEN}",
            mode::job_names(&backup.spec)
        )
    });
    validate_spec(
        &backup.spec,
        &SpecContext::of(&backup.metadata),
        "spec",
        &mut f,
    );
    f.into_vec()
}

/// Validates a BackupSchedule, its retention policy and its templates.
pub fn validate_schedule(schedule: &BackupSchedule) -> Vec<Finding> {
    let mut f = Findings::default();
    check_object_name(&schedule.metadata, MAX_SCHEDULE_NAME_LEN, &mut f, |len| {
        format!(
            "name is {len} characters: BackupSchedule names must be at most {MAX_SCHEDULE_NAME_LEN}, because each Backup it creates is named \"<name>-YYYY-MM-DDtHH-MM-SS\" ({SCHEDULED_SUFFIX_LEN} more) and Backup names are limited to {MAX_BACKUP_NAME_LEN}"
        )
    });
    let spec = &schedule.spec;
    check_schedule(&spec.schedule, &mut f);
    if let Some(max) = spec.max_backups
        && max < 0
    {
        f.error(
            "spec.maxBackups",
            format!("must not be negative, got {max} (0 or unset keeps every backup)"),
        );
    }
    if let Some(reserved) = &spec.max_reserved_time {
        // The schedule manager logs the parse error and skips retention.
        check_duration(&mut f, "spec.maxReservedTime", reserved, Sign::Positive);
    }
    match (spec.max_backups, &spec.max_reserved_time) {
        (Some(max), Some(_)) if max > 0 => f.warn(
            "spec.maxBackups",
            "ignored: spec.maxReservedTime is also set and wins; remove one of them",
        ),
        (None | Some(0), None) => f.warn(
            "spec",
            "no retention policy: set spec.maxReservedTime or spec.maxBackups, or backups accumulate forever",
        ),
        _ => {}
    }
    let ctx = SpecContext::of_schedule(&schedule.metadata);
    validate_spec(&spec.backup_template, &ctx, "spec.backupTemplate", &mut f);
    mode::check_schedule_templates(schedule, &ctx, &mut f);
    f.into_vec()
}

/// Name (or generateName) as the apiserver checks it (a DNS-1123 subdomain), and its
/// length, so that derived Job and Backup names stay valid.
fn check_object_name(
    meta: &ObjectMeta,
    max: usize,
    f: &mut Findings,
    too_long: impl Fn(usize) -> String,
) {
    let name = meta.name.as_deref().unwrap_or_default();
    let generate_name = meta.generate_name.as_deref().unwrap_or_default();
    if !name.is_empty() {
        if let Some(problem) = check_subdomain(name) {
            f.error("metadata.name", problem);
        } else if name.len() > max {
            f.error("metadata.name", too_long(name.len()));
        }
    } else if !generate_name.is_empty() {
        // The apiserver appends 5 random characters to a prefix it checks the same way.
        if let Some(problem) = check_subdomain(&format!("{generate_name}x")) {
            f.error("metadata.generateName", problem);
        } else if generate_name.len() + 5 > max {
            f.error(
                "metadata.generateName",
                format!(
                    "{} (generateName {generate_name:?} plus 5 random characters)",
                    too_long(generate_name.len() + 5)
                ),
            );
        }
    } else {
        f.error("metadata.name", "required: set metadata.name");
    }
    if let Some(namespace) = meta.namespace.as_deref().filter(|ns| !ns.is_empty())
        && let Some(problem) = check_label(namespace)
    {
        f.error("metadata.namespace", problem);
    }
}

fn check_schedule(schedule: &str, f: &mut Findings) {
    const PATH: &str = "spec.schedule";
    match cron::parse_standard(schedule) {
        Err(err) => {
            let hint = if schedule.trim().is_empty() {
                "set a 5-field cron schedule such as \"0 2 * * *\""
            } else if schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=") {
                "time zone prefixes are not supported: the controller's time zone applies"
            } else if schedule.split_whitespace().count() == 6 {
                "use 5 fields (minute hour day-of-month month day-of-week): seconds are not supported"
            } else {
                "use 5 fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly, @every <duration>"
            };
            f.error(PATH, format!("invalid cron schedule: {err}; {hint}"));
        }
        Ok(parsed) => {
            if let Some(why) = parsed.silence() {
                f.error(
                    PATH,
                    format!("cron schedule {schedule:?} never fires: {why}"),
                );
            }
            if let cron::Schedule::Every { .. } = parsed
                && let Some(text) = schedule.strip_prefix("@every ")
                && GoDuration::parse(text).is_ok_and(|d| !d.is_positive())
            {
                f.error(
                    PATH,
                    format!("@every needs a positive duration, got {text:?} (it would fire every second)"),
                );
            }
        }
    }
}
/// Whether a duration must be positive or may be zero.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sign {
    Positive,
    NonNegative,
}

pub(super) fn check_duration(f: &mut Findings, path: &str, value: &str, sign: Sign) {
    match GoDuration::parse(value) {
        Err(err) => f.error(
            path,
            format!(
                "invalid duration {value:?}: {err}; use a Go duration such as \"72h\" or \"1h30m\" (units h, m, s, ms, us, ns; no days)"
            ),
        ),
        Ok(d) if sign == Sign::Positive && !d.is_positive() => {
            f.error(path, format!("must be a positive duration, got {value:?}"))
        }
        Ok(d) if d.as_nanos() < 0 => f.error(path, format!("must not be negative, got {value:?}")),
        Ok(_) => {}
    }
}

/// Validates one Backup spec; `prefix` is its path (`spec`, `spec.backupTemplate` or
/// `spec.logBackupTemplate`).
pub fn validate_spec(spec: &BackupSpec, ctx: &SpecContext, prefix: &str, f: &mut Findings) {
    let p = |field: &str| format!("{prefix}.{field}");
    let engine = if spec.br.is_some() {
        Engine::Br
    } else {
        Engine::Dumpling
    };
    let mode = mode::check_mode(spec, engine, prefix, f);

    // ValidateBackup checks the type whatever the mode ("invalid backup type %s for BR").
    let backup_type = BackupType::parse(&spec.backup_type);
    if backup_type.is_none() {
        let message = if matches!(spec.backup_type.as_str(), "raw" | "tiflash-replica") {
            format!(
                "backup type {:?} is not supported by BR backups (supported: full, db, table)",
                spec.backup_type
            )
        } else {
            unsupported(&spec.backup_type, BackupType::NAMES)
        };
        f.error(p("backupType"), message);
    }
    // The CRD's enum (v1.4+) rejects other values; v1.1 silently retained the data.
    if !spec.clean_policy.is_empty() && !CleanPolicy::NAMES.contains(&spec.clean_policy.as_str()) {
        f.error(
            p("cleanPolicy"),
            format!(
                "{}; TiDB Operator's CRD rejects it (v1.1 silently retained the data)",
                unsupported(&spec.clean_policy, CleanPolicy::NAMES)
            ),
        );
    }
    if !spec.service_account.is_empty()
        && let Some(problem) = check_subdomain(&spec.service_account)
    {
        f.error(p("serviceAccount"), problem);
    }

    let iam = iam_method(spec, ctx);
    storage::check_storage(
        spec.storage(),
        StorageUse::Backup {
            dumpling: engine == Engine::Dumpling,
        },
        prefix,
        f,
    );
    match &spec.br {
        Some(br_config) => br::check_br(br_config, spec, backup_type, iam, prefix, f),
        None => mode::check_dumpling(spec, mode, ctx, prefix, f),
    }
    br::check_table_filter(spec, backup_type, prefix, f);
    if let Some(from) = &spec.from {
        check_from(from, prefix, f);
    }
    mode::check_mode_fields(spec, engine, mode, prefix, f);
    mode::check_retry_and_clean(spec, mode, prefix, f);
    if CleanPolicy::effective(&spec.clean_policy) != CleanPolicy::Retain
        && let Some((field, data_prefix)) = cleaned_prefix(spec)
        && data_prefix.trim_matches('/').is_empty()
    {
        f.warn(
            p(&format!("{field}.prefix")),
            format!(
                "empty prefix with cleanPolicy {}: cleaning would delete the whole bucket, so it will be refused; set a prefix",
                spec.clean_policy
            ),
        );
    }
}

/// The object storage whose prefix a clean deletes, and that prefix.
fn cleaned_prefix(spec: &BackupSpec) -> Option<(&'static str, &str)> {
    let storage = spec.storage();
    match storage.kind()? {
        crate::api::StorageKind::S3 => storage.s3.map(|s| ("s3", s.prefix.as_str())),
        crate::api::StorageKind::Gcs => storage.gcs.map(|g| ("gcs", g.prefix.as_str())),
        crate::api::StorageKind::Azblob => storage.azblob.map(|a| ("azblob", a.prefix.as_str())),
        crate::api::StorageKind::Local => None,
    }
}

fn check_from(from: &TiDBAccessConfig, prefix: &str, f: &mut Findings) {
    let p = |field: &str| format!("{prefix}.from.{field}");
    if from.host.is_empty() {
        f.error(
            p("host"),
            "required: the TiDB service host, e.g. \"basic-tidb\"",
        );
    }
    if from.secret_name.is_empty() {
        f.error(
            p("secretName"),
            "required: the Secret holding the TiDB user's password under key \"password\"",
        );
    } else if let Some(problem) = check_subdomain(&from.secret_name) {
        f.error(p("secretName"), problem);
    }
    if let Some(port) = from.port
        && !(1..=65535).contains(&port)
    {
        f.error(
            p("port"),
            format!("must be between 1 and 65535, got {port}"),
        );
    }
    if let Some(secret) = from.tls_client_secret_name.as_deref()
        && let Some(problem) = check_subdomain(secret)
    {
        f.error(p("tlsClientSecretName"), problem);
    }
}
