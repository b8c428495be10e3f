//! `spec.br`: TiDB Operator's BR checks (`ValidateBackup`: cluster, backup type, db and
//! table), plus BR's own flag grammars (log level, ranges, durations, `br.options`) and
//! TiDB's table-filter grammar.

use super::super::defaults::IamMethod;
use super::super::finding::Findings;
use super::super::names::check_label;
use super::super::suggest::unsupported_any_case;
use super::super::table_filter::{self, FilterErrorKind};
use super::super::vocab::*;
use super::{Sign, check_duration};
use crate::api::{BRConfig, BackupSpec};

pub(super) fn check_br(
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
    // BR's logger reads the level with zap, which also takes upper and mixed case.
    if !br.log_level.is_empty()
        && !BR_LOG_LEVELS
            .iter()
            .any(|level| level.eq_ignore_ascii_case(&br.log_level))
    {
        f.error(
            p("logLevel"),
            unsupported_any_case(&br.log_level, BR_LOG_LEVELS),
        );
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
        "check-requirements" => ("br.checkRequirements", br.check_requirements.is_some()),
        "gcs.storage-class" => (
            "gcs.storageClass",
            spec.gcs.as_ref().is_some_and(|g| set(&g.storage_class)),
        ),
        "gcs.predefined-acl" => (
            "gcs.objectAcl",
            spec.gcs.as_ref().is_some_and(|g| set(&g.object_acl)),
        ),
        "azblob.access-tier" => (
            "azblob.accessTier",
            spec.azblob.as_ref().is_some_and(|a| set(&a.access_tier)),
        ),
        "backupts" => ("commitTs", set(&spec.commit_ts)),
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
        // BR takes the last value of a repeated flag. Another --storage writes the data
        // where status.backupPath, restores and cleanPolicy do not look (a Delete would
        // clean the spec's prefix, not this one).
        "storage" => f.error(
            path,
            "--storage overrides the storage generated from the spec: the data would land there while status.backupPath and cleanPolicy use the spec's; set the storage fields (s3, gcs, azblob, local) instead",
        ),
        // These may be meant (a PD behind another address, certificates mounted through
        // additionalVolumes), but they replace what the spec's cluster settings imply.
        "pd" | "ca" | "cert" | "key" => f.warn(
            path,
            format!(
                "--{name} overrides the one generated from the spec's cluster (and its TLS settings); make sure it points at the same TiDB cluster"
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

pub(super) fn check_table_filter(
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
