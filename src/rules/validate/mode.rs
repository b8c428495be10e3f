//! What depends on how a backup runs: BR or Dumpling (`spec.br`), and the BR mode
//! (`spec.backupMode`: snapshot, log, volume-snapshot), with TiDB Operator's rules for
//! each (release-1.6 `ValidateBackup`, its CRD's enum and CEL rules, the backup manager's
//! parsing); the retry and clean options; and a BackupSchedule's log and compact
//! templates (release-1.6 `backup_schedule_manager.go`).

use super::super::defaults::SpecContext;
use super::super::finding::Findings;
use super::super::suggest::{closest, unsupported};
use super::super::ts::{Ts, parse_ts};
use super::super::vocab::*;
use super::storage::{StorageUse, check_storage};
use super::{Sign, check_duration, validate_spec};
use crate::api::{BackupSchedule, BackupSpec, CompactSpec, StorageKind, is_true};

/// The longest Backup name whose TiDB Operator Job names still fit a label value:
/// `backup-<name>` and `clean-<name>`; log backups `backup-<name>-log-truncate`;
/// volume-snapshot backups `backup-<name>-init`.
pub(super) fn max_backup_name_len(spec: &BackupSpec) -> usize {
    MAX_LABEL_VALUE_LEN - "backup-".len() - job_suffix(spec).len()
}

fn job_suffix(spec: &BackupSpec) -> &'static str {
    match (spec.br.is_some(), BackupMode::effective(&spec.backup_mode)) {
        (true, BackupMode::Log) => "-log-truncate",
        (true, BackupMode::VolumeSnapshot) => "-init",
        _ => "",
    }
}

/// The Job names [`max_backup_name_len`] accounts for, for messages.
pub(super) fn job_names(spec: &BackupSpec) -> String {
    match job_suffix(spec) {
        "" => "\"backup-<name>\" and \"clean-<name>\"".to_owned(),
        suffix => format!("\"backup-<name>{suffix}\""),
    }
}

/// Reads `backupMode`. The CRD has no enum, and TiDB Operator runs a value it does not
/// name as a snapshot backup: the user asked for something else, so it is an error.
/// Dumpling has no modes.
pub(super) fn check_mode(
    spec: &BackupSpec,
    engine: Engine,
    prefix: &str,
    f: &mut Findings,
) -> BackupMode {
    let path = format!("{prefix}.backupMode");
    let mode = BackupMode::effective(&spec.backup_mode);
    if BackupMode::parse(&spec.backup_mode).is_none() {
        let hint = closest(&spec.backup_mode, BackupMode::NAMES)
            .map(|c| format!("did you mean {c:?}? "))
            .unwrap_or_default();
        // Not a failure but a silent substitute: TiDB Operator runs it as a snapshot
        // backup (makeBackupJob's default branch), so `logs` never starts a log backup.
        f.error(
            &path,
            format!(
                "unknown backup mode {:?}: {hint}TiDB Operator would run a snapshot backup instead (modes: {})",
                spec.backup_mode,
                BackupMode::NAMES.join(", ")
            ),
        );
    }
    if engine == Engine::Dumpling && mode != BackupMode::Snapshot {
        // Without spec.br TiDB Operator takes the Dumpling path, and the backup manager
        // refuses log and volume-snapshot work ("no br config").
        f.error(
            format!("{prefix}.br.cluster"),
            format!(
                "required for {} backups: they run with BR; set spec.br.cluster to the TidbCluster's name",
                mode.as_str()
            ),
        );
    }
    mode
}

/// A backup without `spec.br` is a Dumpling export (TiDB Operator's `ValidateBackup`,
/// `spec.BR == nil` branch): it needs `from` and `storageSize`. A spec with none of the
/// Dumpling fields most likely lacks `br` by mistake, and is told so.
pub(super) fn check_dumpling(
    spec: &BackupSpec,
    mode: BackupMode,
    ctx: &SpecContext,
    prefix: &str,
    f: &mut Findings,
) {
    let p = |field: &str| format!("{prefix}.{field}");
    if mode != BackupMode::Snapshot {
        return; // check_mode reported the missing spec.br
    }
    let dumpling_fields =
        spec.from.is_some() || !spec.storage_size.is_empty() || spec.dumpling.is_some();
    if !dumpling_fields {
        f.error(
            p("br.cluster"),
            "required: name of the TidbCluster to back up (spec.br is missing; for a Dumpling export instead, set spec.from and spec.storageSize)",
        );
        return;
    }
    // "missing cluster config in spec of %s/%s"; check_from reports a missing host or
    // secret of a `from` that is there.
    if spec.from.is_none() {
        f.error(
            p("from"),
            "required for Dumpling backups (no spec.br): the TiDB to export from (host, secretName)",
        );
    }
    // "missing StorageSize config in spec of %s/%s"; a schedule fills it from its own
    // storageSize, else 100Gi (buildBackup).
    if spec.storage_size.is_empty() && !ctx.in_schedule {
        f.error(
            p("storageSize"),
            "required for Dumpling backups (no spec.br): size of the volume Dumpling exports to, e.g. \"100Gi\"",
        );
    }
}

/// Fields that only one mode reads, and their formats.
pub(super) fn check_mode_fields(
    spec: &BackupSpec,
    engine: Engine,
    mode: BackupMode,
    prefix: &str,
    f: &mut Findings,
) {
    let p = |field: &str| format!("{prefix}.{field}");
    let ignored = |f: &mut Findings, field: &str, modes: &str| {
        f.warn(
            p(field),
            format!(
                "ignored: only {modes} backups read it (this is a {} backup)",
                if engine == Engine::Dumpling {
                    "Dumpling"
                } else {
                    mode.as_str()
                }
            ),
        )
    };
    let log_mode = engine == Engine::Br && mode == BackupMode::Log;
    let volume_mode = engine == Engine::Br && mode == BackupMode::VolumeSnapshot;

    if log_mode {
        // The CRD's enum; TiDB Operator would also mark any other value RetryFailed
        // ("subcommand `%s` is not supported") and retry forever.
        if !spec.log_subcommand.is_empty()
            && !LOG_SUBCOMMANDS.contains(&spec.log_subcommand.as_str())
        {
            f.error(
                p("logSubcommand"),
                unsupported(&spec.log_subcommand, LOG_SUBCOMMANDS),
            );
        }
        // The CRD's CEL rules: logStop is the old form of logSubcommand.
        if !spec.log_subcommand.is_empty() && spec.log_stop.is_some() {
            f.error(
                p("logStop"),
                "cannot be set together with logSubcommand (TiDB Operator's CRD rejects it): logStop is the old form, use logSubcommand: log-stop",
            );
        }
        // ValidateBackup parses both with ParseTSString and marks the backup Invalid.
        for field in ["commitTs", "logTruncateUntil"] {
            let value = if field == "commitTs" {
                &spec.commit_ts
            } else {
                &spec.log_truncate_until
            };
            if let Err(err) = parse_ts(value) {
                f.error(p(field), format!("cannot parse ts string {value:?}: {err}"));
            }
        }
        if spec
            .tikv_gc_life_time
            .as_deref()
            .is_some_and(|v| !v.is_empty())
        {
            f.warn(
                p("tikvGCLifeTime"),
                "has no effect on log backups: only snapshot backups hold the GC life time",
            );
        }
    } else {
        for (field, set) in [
            ("logSubcommand", !spec.log_subcommand.is_empty()),
            ("logTruncateUntil", !spec.log_truncate_until.is_empty()),
            ("logStop", spec.log_stop.is_some()),
        ] {
            if set {
                ignored(f, field, "log (backupMode: log)");
            }
        }
        if engine == Engine::Br
            && !spec.commit_ts.is_empty()
            && !matches!(parse_ts(&spec.commit_ts), Ok(Ts::Tso(_)))
        {
            // Snapshot backups pass it to BR as --backupts, which also reads datetimes
            // with TiDB's own (more lenient) parser.
            if let Err(err) = parse_ts(&spec.commit_ts) {
                f.warn(
                    p("commitTs"),
                    format!(
                        "{:?} is {err}; BR reads --backupts={} with TiDB's datetime parser, make sure it means what you want",
                        spec.commit_ts, spec.commit_ts
                    ),
                );
            }
        }
    }

    if volume_mode {
        if !spec.federal_volume_backup_phase.is_empty()
            && !FEDERAL_VOLUME_BACKUP_PHASES.contains(&spec.federal_volume_backup_phase.as_str())
        {
            f.warn(
                p("federalVolumeBackupPhase"),
                format!(
                    "{}; TiDB Operator only acts on these phases",
                    unsupported(
                        &spec.federal_volume_backup_phase,
                        FEDERAL_VOLUME_BACKUP_PHASES
                    )
                ),
            );
        }
        if !spec.calc_size_level.is_empty()
            && !CALC_SIZE_LEVELS.contains(&spec.calc_size_level.as_str())
        {
            f.warn(
                p("calcSizeLevel"),
                format!(
                    "{}; with another value no backup size is calculated",
                    unsupported(&spec.calc_size_level, CALC_SIZE_LEVELS)
                ),
            );
        }
        if let Some(seconds) = spec.volume_backup_init_job_max_active_seconds
            && seconds <= 0
        {
            f.error(
                p("volumeBackupInitJobMaxActiveSeconds"),
                format!(
                    "must be positive, got {seconds} (the initialize Job's activeDeadlineSeconds; the CRD's default is 600)"
                ),
            );
        }
    } else {
        for (field, set) in [
            (
                "federalVolumeBackupPhase",
                !spec.federal_volume_backup_phase.is_empty(),
            ),
            ("resumeGcSchedule", is_true(spec.resume_gc_schedule)),
        ] {
            if set {
                ignored(f, field, "volume-snapshot");
            }
        }
    }

    if let Some(gc) = spec.tikv_gc_life_time.as_deref().filter(|v| !v.is_empty()) {
        // The backup manager parses it with time.ParseDuration and fails the backup.
        check_duration(f, &p("tikvGCLifeTime"), gc, Sign::Positive);
        if spec.from.is_none() && !log_mode {
            f.warn(
                p("tikvGCLifeTime"),
                format!("has no effect without {prefix}.from: the GC life time is only adjusted through a TiDB connection"),
            );
        }
    }
}

/// `backoffRetryPolicy` (ValidateBackup parses both durations: "fail to parse
/// minRetryDuration …") and `cleanOption` (unsigned in TiDB Operator's types, so a
/// negative number makes the object unreadable to it).
pub(super) fn check_retry_and_clean(
    spec: &BackupSpec,
    mode: BackupMode,
    prefix: &str,
    f: &mut Findings,
) {
    if let Some(policy) = &spec.backoff_retry_policy {
        let p = |field: &str| format!("{prefix}.backoffRetryPolicy.{field}");
        if !policy.min_retry_duration.is_empty() {
            check_duration(
                f,
                &p("minRetryDuration"),
                &policy.min_retry_duration,
                Sign::NonNegative,
            );
        }
        if !policy.retry_timeout.is_empty() {
            check_duration(
                f,
                &p("retryTimeout"),
                &policy.retry_timeout,
                Sign::NonNegative,
            );
        }
        if let Some(times) = policy.max_retry_times
            && times < 0
        {
            f.error(
                p("maxRetryTimes"),
                format!("must not be negative, got {times} (0 disables retries)"),
            );
        }
        if spec.br.is_some() && mode != BackupMode::Snapshot {
            f.warn(
                format!("{prefix}.backoffRetryPolicy"),
                format!(
                    "ignored: TiDB Operator retries only snapshot backups (this is a {} backup)",
                    mode.as_str()
                ),
            );
        }
    }
    if let Some(option) = &spec.clean_option {
        let p = |field: &str| format!("{prefix}.cleanOption.{field}");
        for (field, value, max) in [
            ("pageSize", option.page_size, i64::MAX),
            (
                "batchConcurrency",
                option.batch_concurrency,
                i64::from(u32::MAX),
            ),
            (
                "routineConcurrency",
                option.routine_concurrency,
                i64::from(u32::MAX),
            ),
        ] {
            if let Some(value) = value
                && !(0..=max).contains(&value)
            {
                f.error(
                    p(field),
                    format!("must be between 0 and {max}, got {value} (0 or unset uses TiDB Operator's default)"),
                );
            }
        }
        if let Some(ratio) = option.snapshots_delete_ratio
            && !(ratio.is_finite() && ratio > 0.0)
        {
            f.warn(
                p("snapshotsDeleteRatio"),
                format!("{ratio} snapshots per second never deletes any: use a positive rate (default 1)"),
            );
        }
    }
}

/// A BackupSchedule's log and compact templates, its compaction settings, and the
/// schedule-level BR and storage fields TiDB Operator does not apply.
pub(super) fn check_schedule_templates(
    schedule: &BackupSchedule,
    ctx: &SpecContext,
    f: &mut Findings,
) {
    let spec = &schedule.spec;
    if spec.backup_template.br.is_some()
        && BackupMode::parse(&spec.backup_template.backup_mode) == Some(BackupMode::Log)
    {
        f.warn(
            "spec.backupTemplate.backupMode",
            "log: every tick would start another log backup of the cluster; put the log backup in spec.logBackupTemplate, which the schedule keeps running",
        );
    }
    if let Some(log) = &spec.log_backup_template {
        validate_spec(log, ctx, "spec.logBackupTemplate", f);
        // createLogBackup copies the template verbatim: in another mode, log-<name> is
        // a one-off backup and no log backup ever runs.
        if BackupMode::parse(&log.backup_mode) != Some(BackupMode::Log) {
            f.error(
                "spec.logBackupTemplate.backupMode",
                format!(
                    "must be \"log\", got {:?}: TiDB Operator would run this template once as an ordinary backup and never start a log backup",
                    log.backup_mode
                ),
            );
        }
    }
    if let Some(interval) = &spec.compact_interval {
        // createCompact: "failed to parse compact interval", logged, no compaction.
        check_duration(f, "spec.compactInterval", interval, Sign::Positive);
    }
    if let Some(min_start) = spec.min_compact_start_ts.as_deref()
        && let Err(err) = parse_ts(min_start)
    {
        f.error(
            "spec.minCompactStartTs",
            format!("cannot parse ts string {min_start:?}: {err}"),
        );
    }
    match &spec.compact_backup_template {
        Some(compact) => {
            check_compact(compact, f);
            // createCompact returns early without an interval, so nothing is ever
            // compacted, silently.
            if spec.compact_interval.is_none() {
                f.error(
                    "spec.compactInterval",
                    "required with spec.compactBackupTemplate: the span of log backup each compaction covers (e.g. \"1h\"); without it TiDB Operator never compacts",
                );
            }
            if spec.log_backup_template.is_none() {
                f.warn(
                    "spec.compactBackupTemplate",
                    "has no effect without spec.logBackupTemplate: compactions work on the schedule's log backup",
                );
            }
        }
        None => {
            if spec.compact_interval.is_some() {
                f.warn(
                    "spec.compactInterval",
                    "has no effect without spec.compactBackupTemplate",
                );
            }
        }
    }
    let storage = spec.storage();
    let mut schedule_level: Vec<&str> = storage.kinds().iter().map(|k| k.field()).collect();
    if spec.br.is_some() {
        schedule_level.insert(0, "br");
    }
    for field in schedule_level {
        f.warn(
            format!("spec.{field}"),
            format!(
                "not applied by TiDB Operator to the Backups the schedule creates (release-1.6 copies only the templates); set it in spec.backupTemplate.{field}"
            ),
        );
    }
}

/// A compact template: BR's cluster and storage are needed to find the log backup.
fn check_compact(compact: &CompactSpec, f: &mut Findings) {
    const PREFIX: &str = "spec.compactBackupTemplate";
    match &compact.br {
        Some(br) if !br.cluster.is_empty() => {}
        _ => f.error(
            format!("{PREFIX}.br.cluster"),
            "required: name of the TidbCluster whose log backup is compacted",
        ),
    }
    check_storage(
        compact.storage(),
        StorageUse::Backup { dumpling: false },
        PREFIX,
        f,
    );
    if compact.storage().kind() == Some(StorageKind::Local) {
        f.warn(
            format!("{PREFIX}.local"),
            "compaction reads the log backup through BR's storage; make sure the volume holds the schedule's log backup",
        );
    }
    if let Some(concurrency) = compact.concurrency
        && concurrency < 1
    {
        f.error(
            format!("{PREFIX}.concurrency"),
            format!("must be at least 1, got {concurrency} (the CRD's default is 4)"),
        );
    }
    // The CRD's enum and minimum (release-1.x).
    if !compact.mode.is_empty() && compact.mode != "sharded" {
        f.error(
            format!("{PREFIX}.mode"),
            unsupported(&compact.mode, &["sharded"]),
        );
    }
    if let Some(shards) = compact.shard_count
        && shards < 1
    {
        f.error(
            format!("{PREFIX}.shardCount"),
            format!("must be at least 1, got {shards}"),
        );
    }
    if !compact.physical_file_cache_capacity.is_empty()
        && !is_quantity(&compact.physical_file_cache_capacity)
    {
        f.warn(
            format!("{PREFIX}.physicalFileCacheCapacity"),
            format!(
                "{:?} is not a Kubernetes quantity such as \"150Gi\"; tikv-ctl may not read it",
                compact.physical_file_cache_capacity
            ),
        );
    }
    if let Some(times) = compact.max_retry_times
        && times < 0
    {
        f.error(
            format!("{PREFIX}.maxRetryTimes"),
            format!("must not be negative, got {times}"),
        );
    }
}

/// Kubernetes' quantity grammar (`resource.Quantity`): a signed decimal with an optional
/// binary (`Ki`…`Ei`), decimal (`n`…`E`) or exponent suffix.
fn is_quantity(value: &str) -> bool {
    let body = value.strip_prefix(['+', '-']).unwrap_or(value);
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let valid_number =
        number.matches('.').count() <= 1 && number.chars().any(|c| c.is_ascii_digit());
    let valid_suffix = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())),
    };
    valid_number && valid_suffix
}
