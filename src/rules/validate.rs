//! Validation of Backup and BackupSchedule objects with the grammars BR and TiDB Operator
//! use. Every problem is reported, each with its field path; nothing stops at the first.

use kube::api::ObjectMeta;

use super::cron;
use super::defaults::{IamMethod, SpecContext, iam_method};
use super::duration::GoDuration;
use super::finding::{Finding, Findings};
use super::go_url;
use super::names::{check_label, check_subdomain};
use super::suggest::unsupported;
use super::table_filter::{self, FilterErrorKind};
use super::vocab::*;
use crate::api::{
    BRConfig, Backup, BackupSchedule, BackupSpec, GcsStorageProvider, LocalStorageProvider,
    S3StorageProvider, TiDBAccessConfig,
};

/// Validates a Backup as it would be stored.
pub fn validate_backup(backup: &Backup) -> Vec<Finding> {
    let mut f = Findings::default();
    check_object_name(&backup.metadata, MAX_BACKUP_NAME_LEN, &mut f, |len| {
        format!(
            "name is {len} characters: Backup names must be at most {MAX_BACKUP_NAME_LEN}, so that the Job names \"backup-<name>\" and \"clean-<name>\" fit in {MAX_LABEL_VALUE_LEN}"
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

/// Validates a BackupSchedule, its retention policy and its Backup template.
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
    validate_spec(
        &spec.backup_template,
        &SpecContext::of(&schedule.metadata),
        "spec.backupTemplate",
        &mut f,
    );
    f.into_vec()
}

/// Name (or generateName) length, so that derived Job and Backup names stay valid.
fn check_object_name(
    meta: &ObjectMeta,
    max: usize,
    f: &mut Findings,
    too_long: impl Fn(usize) -> String,
) {
    let name = meta.name.as_deref().unwrap_or_default();
    let generate_name = meta.generate_name.as_deref().unwrap_or_default();
    if !name.is_empty() {
        if name.len() > max {
            f.error("metadata.name", too_long(name.len()));
        }
    } else if !generate_name.is_empty() {
        // The apiserver appends 5 random characters.
        if generate_name.len() + 5 > max {
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
enum Sign {
    Positive,
    NonNegative,
}

fn check_duration(f: &mut Findings, path: &str, value: &str, sign: Sign) {
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

/// Validates one Backup spec; `prefix` is its path (`spec` or `spec.backupTemplate`).
pub fn validate_spec(spec: &BackupSpec, ctx: &SpecContext, prefix: &str, f: &mut Findings) {
    let p = |field: &str| format!("{prefix}.{field}");

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
    if !spec.clean_policy.is_empty() && !CleanPolicy::NAMES.contains(&spec.clean_policy.as_str()) {
        f.error(
            p("cleanPolicy"),
            format!(
                "{}; TiDB Operator would silently retain the data",
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
    check_storage(spec, prefix, f);
    match &spec.br {
        Some(br) => check_br(br, spec, backup_type, iam, prefix, f),
        None => f.error(
            p("br.cluster"),
            "required: name of the TidbCluster to back up (spec.br is missing; only BR backups are supported)",
        ),
    }
    check_table_filter(spec, backup_type, prefix, f);
    match &spec.from {
        Some(from) => check_from(from, prefix, f),
        None => {
            if spec
                .tikv_gc_life_time
                .as_deref()
                .is_some_and(|v| !v.is_empty())
            {
                f.warn(
                    p("tikvGCLifeTime"),
                    format!("has no effect without {prefix}.from: the GC life time is only adjusted through a TiDB connection"),
                );
            }
        }
    }
    if let Some(gc) = spec.tikv_gc_life_time.as_deref().filter(|v| !v.is_empty()) {
        check_duration(f, &p("tikvGCLifeTime"), gc, Sign::Positive);
    }
    if CleanPolicy::effective(&spec.clean_policy) != CleanPolicy::Retain
        && let Some(s3) = &spec.s3
        && s3.prefix.trim_matches('/').is_empty()
    {
        f.warn(
            p("s3.prefix"),
            format!(
                "empty prefix with cleanPolicy {}: cleaning would delete the whole bucket, so it will be refused; set a prefix",
                spec.clean_policy
            ),
        );
    }
}

fn check_storage(spec: &BackupSpec, prefix: &str, f: &mut Findings) {
    let set: Vec<&str> = [
        ("s3", spec.s3.is_some()),
        ("gcs", spec.gcs.is_some()),
        ("local", spec.local.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    match set.len() {
        0 => f.error(
            prefix,
            "no storage provider: set exactly one of s3, gcs or local",
        ),
        1 => {}
        _ => f.error(
            prefix,
            format!(
                "several storage providers set ({}): set exactly one (TiDB Operator would silently use only {})",
                set.join(", "),
                set[0]
            ),
        ),
    }
    if let Some(s3) = &spec.s3 {
        check_s3(s3, &format!("{prefix}.s3"), f);
    }
    if let Some(gcs) = &spec.gcs {
        check_gcs(gcs, &format!("{prefix}.gcs"), f);
    }
    if let Some(local) = &spec.local {
        check_local(local, &format!("{prefix}.local"), f);
    }
}

fn check_s3(s3: &S3StorageProvider, path: &str, f: &mut Findings) {
    let p = |field: &str| format!("{path}.{field}");
    let aws = s3.provider == "aws";
    if s3.provider.is_empty() {
        f.error(
            p("provider"),
            format!("required: one of {}", S3_PROVIDERS.join(", ")),
        );
    } else if !S3_PROVIDERS.contains(&s3.provider.as_str()) {
        f.error(p("provider"), unsupported(&s3.provider, S3_PROVIDERS));
    }
    if s3.bucket.is_empty() {
        f.error(
            p("bucket"),
            "required: name of the bucket to write the backup to",
        );
    }
    if !s3.endpoint.is_empty() {
        check_endpoint(&s3.endpoint, &s3.provider, &p("endpoint"), f);
    } else if !aws && !s3.provider.is_empty() {
        f.warn(
            p("endpoint"),
            format!(
                "not set for provider {:?}: BR will contact Amazon S3; set the endpoint URL, e.g. \"http://minio:9000\"",
                s3.provider
            ),
        );
    }
    if !s3.acl.is_empty() {
        if !S3_ACLS.contains(&s3.acl.as_str()) {
            f.error(p("acl"), unsupported(&s3.acl, S3_ACLS));
        } else if PUBLIC_S3_ACLS.contains(&s3.acl.as_str()) {
            f.warn(
                p("acl"),
                format!("{:?} makes backup data readable by others; use \"private\" unless that is intended", s3.acl),
            );
        }
    }
    if !s3.storage_class.is_empty() {
        let known = S3_STORAGE_CLASSES.contains(&s3.storage_class.as_str());
        if aws && !known {
            f.error(
                p("storageClass"),
                unsupported(&s3.storage_class, S3_STORAGE_CLASSES),
            );
        } else if !known {
            f.warn(
                p("storageClass"),
                format!(
                    "{:?} is not an Amazon S3 storage class; make sure provider {:?} supports it",
                    s3.storage_class, s3.provider
                ),
            );
        } else if ARCHIVE_S3_STORAGE_CLASSES.contains(&s3.storage_class.as_str()) {
            f.warn(
                p("storageClass"),
                format!(
                    "{}: objects must be restored from the archive before BR can read them",
                    s3.storage_class
                ),
            );
        }
    }
    if aws && s3.region.is_empty() {
        f.warn(
            p("region"),
            "not set: set the bucket's region (e.g. us-west-1), or BR may not find the bucket",
        );
    }
    if !s3.secret_name.is_empty()
        && let Some(problem) = check_subdomain(&s3.secret_name)
    {
        f.error(p("secretName"), problem);
    }
}

/// Go `net/url` rules TiDB Operator applies to `s3.endpoint`, with a hint for each case.
fn check_endpoint(endpoint: &str, provider: &str, path: &str, f: &mut Findings) {
    let with_scheme = format!("http://{endpoint}");
    match go_url::parse(endpoint) {
        Err(err) => {
            // Suggest a scheme only where one is missing and adding it yields a host.
            let hint = if !endpoint.contains("://")
                && go_url::parse(&with_scheme).is_ok_and(|u| !u.hostname().is_empty())
            {
                format!("; did you mean {with_scheme:?} or \"https://{endpoint}\"?")
            } else {
                String::new()
            };
            f.error(path, format!("invalid endpoint {endpoint:?}: {err}{hint}"));
        }
        Ok(url) if url.scheme.is_empty() => f.error(
            path,
            format!(
                "scheme not found in endpoint {endpoint:?}: add http:// or https://, e.g. \"https://{}\"",
                endpoint.trim_start_matches('/')
            ),
        ),
        Ok(url) if url.host.is_empty() => {
            let hint = if !url.opaque.is_empty() {
                format!(
                    "; {endpoint:?} reads as scheme {:?}, did you mean {with_scheme:?}?",
                    url.scheme
                )
            } else {
                String::new()
            };
            f.error(path, format!("host not found in endpoint {endpoint:?}{hint}"));
        }
        Ok(url) => {
            if url.scheme != "http" && url.scheme != "https" {
                f.warn(
                    path,
                    format!("scheme {:?}: BR's S3 client expects http or https", url.scheme),
                );
            } else if provider == "ceph" && url.scheme == "https" {
                f.warn(
                    path,
                    "TiDB Operator v1.1 rejects ceph endpoints that do not start with http:// (only relevant if it runs the backup)",
                );
            }
        }
    }
}

fn check_gcs(gcs: &GcsStorageProvider, path: &str, f: &mut Findings) {
    if gcs.project_id.is_empty() {
        f.error(
            format!("{path}.projectId"),
            "required: the GCP project of the bucket",
        );
    }
    if gcs.bucket.is_empty() {
        f.error(
            format!("{path}.bucket"),
            "required: name of the bucket to write the backup to",
        );
    }
    if !gcs.secret_name.is_empty()
        && let Some(problem) = check_subdomain(&gcs.secret_name)
    {
        f.error(format!("{path}.secretName"), problem);
    }
}

fn check_local(local: &LocalStorageProvider, path: &str, f: &mut Findings) {
    if local.volume.name.is_empty() {
        f.error(
            format!("{path}.volume.name"),
            "required: name of the volume",
        );
    }
    if local.volume_mount.name != local.volume.name {
        f.error(
            format!("{path}.volumeMount.name"),
            format!(
                "must equal {path}.volume.name ({:?}), got {:?}",
                local.volume.name, local.volume_mount.name
            ),
        );
    }
    let mount_path = &local.volume_mount.mount_path;
    if mount_path.is_empty() {
        f.error(
            format!("{path}.volumeMount.mountPath"),
            "required: where to mount the volume",
        );
    } else if mount_path.contains(':') {
        f.error(
            format!("{path}.volumeMount.mountPath"),
            format!("must not contain ':', got {mount_path:?}"),
        );
    }
}

fn check_br(
    br: &BRConfig,
    spec: &BackupSpec,
    backup_type: Option<BackupType>,
    iam: Option<IamMethod>,
    prefix: &str,
    f: &mut Findings,
) {
    let p = |field: &str| format!("{prefix}.br.{field}");
    if br.cluster.is_empty() {
        f.error(p("cluster"), "required: name of the TidbCluster to back up");
    } else if let Some(problem) = check_label(&br.cluster) {
        f.error(p("cluster"), problem);
    }
    if !br.cluster_namespace.is_empty()
        && let Some(problem) = check_label(&br.cluster_namespace)
    {
        f.error(p("clusterNamespace"), problem);
    }
    match backup_type {
        Some(BackupType::Db | BackupType::Table) if br.db.is_empty() => f.error(
            p("db"),
            format!(
                "required with backupType {:?}: the database to back up",
                spec.backup_type
            ),
        ),
        Some(BackupType::Full) => {
            for (field, value) in [("db", &br.db), ("table", &br.table)] {
                if !value.is_empty() {
                    f.warn(
                        p(field),
                        "ignored with backupType full; use backupType db/table or tableFilter",
                    );
                }
            }
        }
        _ => {}
    }
    if backup_type == Some(BackupType::Table) && br.table.is_empty() {
        f.error(
            p("table"),
            "required with backupType \"table\": the table to back up",
        );
    }
    if !br.log_level.is_empty() && !BR_LOG_LEVELS.contains(&br.log_level.as_str()) {
        f.error(p("logLevel"), unsupported(&br.log_level, BR_LOG_LEVELS));
    }
    if let Some(concurrency) = br.concurrency
        && concurrency < 1
    {
        f.error(
            p("concurrency"),
            format!("must be at least 1, got {concurrency} (unset uses BR's default, 4)"),
        );
    }
    if let Some(rate) = br.rate_limit
        && rate < 0
    {
        f.error(
            p("rateLimit"),
            format!("must not be negative, got {rate} (MB/s per TiKV; unset means no limit)"),
        );
    }
    if !br.time_ago.is_empty() {
        check_duration(f, &p("timeAgo"), &br.time_ago, Sign::NonNegative);
    }
    if br.send_cred_to_tikv == Some(true)
        && let Some(method) = iam
    {
        let how = match method {
            IamMethod::PodAnnotation(role) => format!("pod role {role}"),
            IamMethod::ServiceAccount(sa) => format!("service account {sa}"),
        };
        f.warn(
            p("sendCredToTikv"),
            format!("true while the backup uses IAM ({how}): BR has no keys to send; set it to false so TiKV uses its own role"),
        );
    }
    if br.on_line.is_some() {
        f.warn(p("onLine"), "only used by restores; ignored for backups");
    }
    if let Some(options) = &br.options {
        for (i, option) in options.iter().enumerate() {
            check_br_option(option, br, spec, &p(&format!("options[{i}]")), f);
        }
    }
}

/// BR flags generated from spec fields, which an option of the same name overrides.
fn generated_flag_source(flag: &str, br: &BRConfig, spec: &BackupSpec) -> Option<&'static str> {
    let set = |s: &str| !s.is_empty();
    let (field, is_set) = match flag {
        "concurrency" => ("br.concurrency", br.concurrency.is_some()),
        "ratelimit" => ("br.rateLimit", br.rate_limit.is_some()),
        "timeago" => ("br.timeAgo", set(&br.time_ago)),
        "checksum" => ("br.checksum", br.checksum.is_some()),
        "send-credentials-to-tikv" => ("br.sendCredToTikv", br.send_cred_to_tikv.is_some()),
        "log-level" => ("br.logLevel", set(&br.log_level)),
        "status-addr" => ("br.statusAddr", set(&br.status_addr)),
        "db" => ("br.db", set(&br.db)),
        "table" => ("br.table", set(&br.table)),
        "filter" => (
            "tableFilter",
            spec.table_filter.as_ref().is_some_and(|t| !t.is_empty()),
        ),
        "s3.region" => (
            "s3.region",
            spec.s3.as_ref().is_some_and(|s| set(&s.region)),
        ),
        "s3.endpoint" => (
            "s3.endpoint",
            spec.s3.as_ref().is_some_and(|s| set(&s.endpoint)),
        ),
        "s3.acl" => ("s3.acl", spec.s3.as_ref().is_some_and(|s| set(&s.acl))),
        "s3.storage-class" => (
            "s3.storageClass",
            spec.s3.as_ref().is_some_and(|s| set(&s.storage_class)),
        ),
        "s3.sse" => ("s3.sse", spec.s3.as_ref().is_some_and(|s| set(&s.sse))),
        "s3.provider" => (
            "s3.provider",
            spec.s3.as_ref().is_some_and(|s| set(&s.provider)),
        ),
        _ => return None,
    };
    is_set.then_some(field)
}

fn check_br_option(option: &str, br: &BRConfig, spec: &BackupSpec, path: &str, f: &mut Findings) {
    let Some(body) = option.strip_prefix("--") else {
        f.error(
            path,
            format!("BR options must be long flags starting with \"--\", got {option:?}"),
        );
        return;
    };
    let (name, value) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    if let Some(space) = name.find(char::is_whitespace) {
        let (flag, rest) = name.split_at(space);
        f.error(
            path,
            format!(
                "each list entry is one argument: write \"--{flag}={}\"",
                rest.trim()
            ),
        );
        return;
    }
    match name {
        "pd" | "storage" | "ca" | "cert" | "key" => f.error(
            path,
            format!(
                "--{name} is generated from the spec (cluster, storage and TLS settings) and cannot be overridden"
            ),
        ),
        "lastbackupts" => match value {
            Some(ts) if ts.parse::<u64>().is_ok() => {}
            Some(ts) => f.error(
                path,
                format!("--lastbackupts must be a non-negative integer TSO (the commitTs of the previous backup), got {ts:?}"),
            ),
            None => f.error(path, "--lastbackupts needs a value: \"--lastbackupts=<commitTs>\""),
        },
        _ => {
            if let Some(field) = generated_flag_source(name, br, spec) {
                f.warn(
                    path,
                    format!("--{name} overrides spec field {field} (options come last and win)"),
                );
            }
        }
    }
}

fn check_table_filter(
    spec: &BackupSpec,
    backup_type: Option<BackupType>,
    prefix: &str,
    f: &mut Findings,
) {
    let path = format!("{prefix}.tableFilter");
    let Some(rules) = spec.table_filter.as_ref().filter(|r| !r.is_empty()) else {
        return;
    };
    if matches!(backup_type, Some(BackupType::Db | BackupType::Table)) {
        f.error(
            &path,
            format!(
                "cannot be combined with backupType {:?}: BR accepts --filter only for full backups; use backupType full with rules such as \"db.*\"",
                spec.backup_type
            ),
        );
    }
    let mut positive = 0;
    let mut negative = 0;
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("{path}[{i}]");
        match table_filter::parse_rule(rule) {
            Ok(None) => {}
            Ok(Some(parsed)) if parsed.is_negative() => negative += 1,
            Ok(Some(_)) => positive += 1,
            Err(err) => match err.kind {
                FilterErrorKind::FileImport => f.error(
                    rule_path,
                    format!("{rule:?}: importing rules from a file is not supported (the file would be read inside the BR container); list the rules inline"),
                ),
                FilterErrorKind::Syntax => f.error(
                    rule_path,
                    format!(
                        "invalid table filter rule {rule:?}: {}; quote names with special characters, e.g. `db-1`.tbl",
                        err.message
                    ),
                ),
            },
        }
    }
    if negative > 0 && positive == 0 {
        f.warn(
            path,
            "every rule is an exclusion (\"!...\"), so nothing matches and nothing is backed up: add \"*.*\" as the first rule",
        );
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
