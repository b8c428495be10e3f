//! TiDB Operator 1.6's rules for each engine, mode and storage (release-1.6
//! `pkg/backup/util/util.go` `ValidateBackup`, the CRDs' enums and CEL rules, the backup
//! and schedule managers), each test naming the upstream rule it mirrors. Where a rule is
//! stricter than TiDB Operator, the comment says how the manifest would fail later.

use tidb_backup_webhook::api::{
    AzblobStorageProvider, BackoffRetryPolicy, Backup, BackupSchedule, CleanOption, CompactSpec,
    TiDBAccessConfig,
};
use tidb_backup_webhook::rules::{
    default_backup, default_schedule, validate_backup, validate_schedule,
};

use super::*;

fn log_backup() -> Backup {
    backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: pitr, namespace: test1}
spec:
  backupMode: log
  br: {cluster: demo1}
  s3: {provider: aws, region: us-west-1, bucket: my-bucket, prefix: log}
"#,
    )
}

fn dumpling_backup() -> Backup {
    backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: dump, namespace: test1}
spec:
  from: {host: demo1-tidb, secretName: backup-demo1-tidb-secret}
  storageSize: 10Gi
  s3: {provider: aws, region: us-west-1, bucket: my-bucket, prefix: dump}
"#,
    )
}

fn azblob_backup() -> Backup {
    backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: az, namespace: test1}
spec:
  br: {cluster: demo1}
  azblob: {container: backups, prefix: demo1, secretName: azblob-secret}
"#,
    )
}

fn error_at(findings: &[tidb_backup_webhook::rules::Finding], path: &str) -> String {
    errors(findings)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no error at {path}: {findings:#?}"))
}

fn warning_at(findings: &[tidb_backup_webhook::rules::Finding], path: &str) -> String {
    warnings(findings)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no warning at {path}: {findings:#?}"))
}

#[test]
fn log_backups_are_valid_as_the_docs_write_them() {
    let mut b = log_backup();
    assert_eq!(validate_backup(&b), vec![]);
    b.spec.log_subcommand = "log-stop".into();
    b.spec.commit_ts = "2022-10-10 08:00:00".into();
    b.spec.log_truncate_until = "2022-10-10T17:21:00+08:00".into();
    assert_eq!(validate_backup(&b), vec![]);
    // Log backups get no snapshot-only defaults (backupType, the GC life time).
    b.spec.from = Some(TiDBAccessConfig {
        host: "demo1-tidb".into(),
        secret_name: "s".into(),
        ..Default::default()
    });
    let filled = default_backup(&mut b);
    assert!(
        !filled
            .iter()
            .any(|f| f == "spec.backupType" || f == "spec.tikvGCLifeTime" || f == "spec.from.port"),
        "{filled:?}"
    );
}

/// ValidateBackup, log mode: `config.ParseTSString` of commitTs and logTruncateUntil.
#[test]
fn log_mode_timestamps_follow_parse_ts_string() {
    let mut b = log_backup();
    b.spec.commit_ts = "2022-13-10 08:00:00".into();
    b.spec.log_truncate_until = "yesterday".into();
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "spec.commitTs"),
        r#"cannot parse ts string "2022-13-10 08:00:00": month out of range"#
    );
    assert_eq!(
        error_at(&findings, "spec.logTruncateUntil"),
        r#"cannot parse ts string "yesterday": not a TSO (e.g. 400036290571534337), a datetime "2006-01-02 15:04:05" or RFC 3339 "2006-01-02T15:04:05Z""#
    );
}

/// The CRD's enum on logSubcommand and its two CEL rules on logStop.
#[test]
fn log_subcommand_enum_and_log_stop_cel_rules() {
    let mut b = log_backup();
    b.spec.log_subcommand = "log-truncate".into();
    b.spec.log_stop = Some(false);
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "spec.logSubcommand"),
        r#"unsupported value "log-truncate" (supported: log-start, log-stop, log-pause)"#
    );
    // has(self.logStop) counts presence, so even `logStop: false` is refused.
    assert_eq!(
        error_at(&findings, "spec.logStop"),
        "cannot be set together with logSubcommand (TiDB Operator's CRD rejects it): logStop is the old form, use logSubcommand: log-stop"
    );
    b.spec.log_subcommand.clear();
    b.spec.log_stop = Some(true);
    assert_eq!(validate_backup(&b), vec![], "the old form alone is fine");
}

#[test]
fn fields_of_other_modes_are_ignored_with_a_warning() {
    let mut b = minimal_backup();
    b.spec.log_truncate_until = "420134118382108673".into();
    b.spec.federal_volume_backup_phase = "execute".into();
    let findings = validate_backup(&b);
    assert_eq!(errors(&findings), vec![]);
    assert_eq!(
        warning_at(&findings, "spec.logTruncateUntil"),
        "ignored: only log (backupMode: log) backups read it (this is a snapshot backup)"
    );
    assert_eq!(
        warning_at(&findings, "spec.federalVolumeBackupPhase"),
        "ignored: only volume-snapshot backups read it (this is a snapshot backup)"
    );
    let mut log = log_backup();
    log.spec.tikv_gc_life_time = Some("72h".into());
    assert_eq!(
        warning_at(&validate_backup(&log), "spec.tikvGCLifeTime"),
        "has no effect on log backups: only snapshot backups hold the GC life time"
    );
}

/// Stricter than TiDB Operator: its CRD has no enum for backupMode, and makeBackupJob's
/// default branch runs any other value as a snapshot backup, so `logs` would silently
/// never start the log backup the user asked for.
#[test]
fn an_unknown_backup_mode_is_refused_because_it_would_run_a_snapshot() {
    let mut b = log_backup();
    b.spec.backup_mode = "logs".into();
    assert_eq!(
        error_at(&validate_backup(&b), "spec.backupMode"),
        r#"unknown backup mode "logs": did you mean "log"? TiDB Operator would run a snapshot backup instead (modes: snapshot, log, volume-snapshot)"#
    );
}

/// Log Jobs are named `backup-<name>-log-truncate` (GetBackupJobName), which must fit a
/// label value; a longer name fails at Job creation.
#[test]
fn log_backup_names_leave_room_for_the_truncate_job() {
    let mut b = log_backup();
    b.metadata.name = Some("l".repeat(43));
    assert_eq!(validate_backup(&b), vec![]);
    b.metadata.name = Some("l".repeat(44));
    assert_eq!(
        error_at(&validate_backup(&b), "metadata.name"),
        r#"name is 44 characters: Backup names must be at most 43, so that TiDB Operator's Job names ("backup-<name>-log-truncate") fit in 63"#
    );
}

/// ValidateBackup, `spec.br == nil`: Dumpling needs `from` ("missing cluster config",
/// "missing tidbSecretName config") and `storageSize` ("missing StorageSize config").
#[test]
fn dumpling_backups_follow_validate_backup_without_br() {
    let mut b = dumpling_backup();
    assert_eq!(validate_backup(&b), vec![]);
    b.spec.storage_size.clear();
    b.spec.from.as_mut().expect("from").secret_name.clear();
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "spec.storageSize"),
        r#"required for Dumpling backups (no spec.br): size of the volume Dumpling exports to, e.g. "100Gi""#
    );
    assert_eq!(
        error_at(&findings, "spec.from.secretName"),
        r#"required: the Secret holding the TiDB user's password under key "password""#
    );
    b.spec.from = None;
    b.spec.storage_size = "10Gi".into();
    assert_eq!(
        error_at(&validate_backup(&b), "spec.from"),
        "required for Dumpling backups (no spec.br): the TiDB to export from (host, secretName)"
    );
    // Dumpling's defaults are its own: no backupMode or backupType, but the GC life time.
    let mut b = dumpling_backup();
    let filled = default_backup(&mut b);
    assert_eq!(
        filled,
        [
            "spec.cleanPolicy",
            "spec.serviceAccount",
            "spec.from.port",
            "spec.from.user",
            "spec.tikvGCLifeTime",
            "spec.s3.acl",
            "spec.s3.storageClass"
        ]
    );
}

/// GetBackupBucketName knows s3 and gcs only ("UnsupportedStorageType"), and the backup
/// manager refuses log work without BR ("no br config").
#[test]
fn dumpling_writes_to_s3_or_gcs_only_and_has_no_modes() {
    let mut b = dumpling_backup();
    b.spec.s3 = None;
    b.spec.azblob = azblob_backup().spec.azblob;
    assert_eq!(
        error_at(&validate_backup(&b), "spec.azblob"),
        "Dumpling backups (no spec.br) can only be written to s3 or gcs; TiDB Operator fails them with UnsupportedStorageType. Add spec.br to back up with BR"
    );
    let mut b = dumpling_backup();
    b.spec.backup_mode = "log".into();
    assert_eq!(
        error_at(&validate_backup(&b), "spec.br.cluster"),
        "required for log backups: they run with BR; set spec.br.cluster to the TidbCluster's name"
    );
}

/// A schedule's buildBackup fills a Dumpling template's storageSize (its own, else 100Gi).
#[test]
fn a_dumpling_template_needs_no_storage_size() {
    let mut s = schedule(SEED_SCHEDULE);
    s.spec.backup_template = dumpling_backup().spec;
    s.spec.backup_template.storage_size.clear();
    assert_eq!(errors(&validate_schedule(&s)), vec![]);
}

/// Azure: the URL is azure://<container>/<prefix>, and GenerateStorageCertEnv reads the
/// account and key (or Azure AD) from `secretName` unless storageAccount and sasToken are
/// both set; without the Secret it dereferences a missing one and never creates the Job.
#[test]
fn azblob_needs_a_container_and_credentials() {
    let b = azblob_backup();
    assert_eq!(validate_backup(&b), vec![]);
    let mut b = azblob_backup();
    b.spec.azblob = Some(AzblobStorageProvider {
        storage_account: "acct".into(),
        ..Default::default()
    });
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "spec.azblob.container"),
        "required: the container to write the backup to (without it BR reads the first part of the prefix as the container)"
    );
    assert_eq!(
        error_at(&findings, "spec.azblob.secretName"),
        "required unless storageAccount and sasToken are both set: the Secret with AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY (or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID for Azure AD)"
    );
    let azblob = b.spec.azblob.as_mut().expect("azblob");
    azblob.container = "backups".into();
    azblob.sas_token = "sv=2024-01-01&sig=x".into();
    azblob.access_tier = "cool".into();
    let findings = validate_backup(&b);
    assert_eq!(errors(&findings), vec![]);
    assert_eq!(
        warning_at(&findings, "spec.azblob.accessTier"),
        r#"unsupported value "cool": did you mean "Cool"? (supported: Hot, Cool, Cold, Archive; values are case-sensitive); Azure Blob Storage rejects other access tiers"#
    );
    assert!(warning_at(&findings, "spec.azblob.sasToken").starts_with("the SAS token is stored"));
    // Nothing S3-specific leaks into Azure.
    let mut b = azblob_backup();
    let filled = default_backup(&mut b);
    assert!(!filled.iter().any(|f| f.contains("s3")), "{filled:?}");
}

/// generateS3CertEnvVar: "ceph endpoint URI %s must start with http://" → RetryFailed
/// (InvalidS3Endpoint), requeued forever.
#[test]
fn ceph_endpoints_must_be_http() {
    let mut b = minimal_backup();
    let s3 = b.spec.s3.as_mut().expect("s3");
    s3.provider = "ceph".into();
    s3.endpoint = "https://rgw.example.net".into();
    assert_eq!(
        error_at(&validate_backup(&b), "spec.s3.endpoint"),
        r#"TiDB Operator requires ceph endpoints to start with http:// and never creates the Job otherwise; use "http://rgw.example.net" (or provider "other" for an https endpoint)"#
    );
}

/// The volume-snapshot fields: the CRD's defaults, and values the managers ignore.
#[test]
fn volume_snapshot_fields() {
    let mut b = minimal_backup();
    b.spec.backup_mode = "volume-snapshot".into();
    let filled = default_backup(&mut b);
    assert!(
        filled.contains(&"spec.calcSizeLevel".to_owned()),
        "{filled:?}"
    );
    assert_eq!(b.spec.volume_backup_init_job_max_active_seconds, Some(600));
    assert_eq!(b.spec.s3.as_ref().map(|s| s.acl.as_str()), Some(""));
    assert_eq!(validate_backup(&b), vec![]);
    b.spec.calc_size_level = "everything".into();
    b.spec.federal_volume_backup_phase = "finish".into();
    b.spec.volume_backup_init_job_max_active_seconds = Some(0);
    let findings = validate_backup(&b);
    assert_eq!(
        warning_at(&findings, "spec.calcSizeLevel"),
        r#"unsupported value "everything" (supported: all, full, incremental); with another value no backup size is calculated"#
    );
    assert_eq!(
        warning_at(&findings, "spec.federalVolumeBackupPhase"),
        r#"unsupported value "finish" (supported: initialize, execute, teardown); TiDB Operator only acts on these phases"#
    );
    assert_eq!(
        error_at(&findings, "spec.volumeBackupInitJobMaxActiveSeconds"),
        "must be positive, got 0 (the initialize Job's activeDeadlineSeconds; the CRD's default is 600)"
    );
}

/// ValidateBackup: "fail to parse minRetryDuration %s of backup %s/%s"; and the CRD's
/// defaults inside the object.
#[test]
fn backoff_retry_policy_and_clean_option() {
    let mut b = minimal_backup();
    b.spec.backoff_retry_policy = Some(BackoffRetryPolicy {
        min_retry_duration: "5min".into(),
        max_retry_times: Some(-1),
        ..Default::default()
    });
    b.spec.clean_option = Some(CleanOption {
        page_size: Some(-1),
        snapshots_delete_ratio: Some(0.0),
        ..Default::default()
    });
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "spec.backoffRetryPolicy.minRetryDuration"),
        r#"invalid duration "5min": time: unknown unit "min" in duration "5min"; use a Go duration such as "72h" or "1h30m" (units h, m, s, ms, us, ns; no days)"#
    );
    assert_eq!(
        error_at(&findings, "spec.backoffRetryPolicy.maxRetryTimes"),
        "must not be negative, got -1 (0 disables retries)"
    );
    assert_eq!(
        error_at(&findings, "spec.cleanOption.pageSize"),
        "must be between 0 and 9223372036854775807, got -1 (0 or unset uses TiDB Operator's default)"
    );
    assert!(
        warning_at(&findings, "spec.cleanOption.snapshotsDeleteRatio")
            .starts_with("0 snapshots per second")
    );

    let mut b = minimal_backup();
    b.spec.backoff_retry_policy = Some(BackoffRetryPolicy::default());
    b.spec.clean_option = Some(CleanOption::default());
    let filled = default_backup(&mut b);
    for field in [
        "spec.backoffRetryPolicy.minRetryDuration",
        "spec.backoffRetryPolicy.maxRetryTimes",
        "spec.backoffRetryPolicy.retryTimeout",
        "spec.cleanOption.retryCount",
        "spec.cleanOption.snapshotsDeleteRatio",
    ] {
        assert!(filled.contains(&field.to_owned()), "{field} in {filled:?}");
    }
    let policy = b.spec.backoff_retry_policy.as_ref().expect("policy");
    assert_eq!(
        (
            policy.min_retry_duration.as_str(),
            policy.max_retry_times,
            policy.retry_timeout.as_str()
        ),
        ("300s", Some(2), "30m")
    );
}

fn integrated_schedule() -> BackupSchedule {
    let mut s = schedule(SEED_SCHEDULE);
    s.spec.log_backup_template = Some(Box::new(log_backup().spec));
    s.spec.compact_backup_template = Some(Box::new(CompactSpec {
        br: log_backup().spec.br,
        s3: log_backup().spec.s3,
        ..Default::default()
    }));
    s.spec.compact_interval = Some("1h".into());
    s
}

/// backup_schedule_manager.go: the log template runs as the schedule's log backup, and
/// createCompact needs compactInterval (it returns early without one: nothing is ever
/// compacted) and parses minCompactStartTs with ParseTSStringToGoTime.
#[test]
fn schedule_log_and_compact_templates() {
    let mut s = integrated_schedule();
    assert_eq!(errors(&validate_schedule(&s)), vec![]);
    let filled = default_schedule(&mut s);
    assert!(filled.contains(&"spec.compactBackupTemplate.concurrency".to_owned()));
    assert!(filled.contains(&"spec.logBackupTemplate.cleanPolicy".to_owned()));

    let mut s = integrated_schedule();
    s.spec.compact_interval = None;
    s.spec.min_compact_start_ts = Some("2024-02-30 00:00:00".into());
    s.spec
        .log_backup_template
        .as_mut()
        .expect("log")
        .backup_mode
        .clear();
    let findings = validate_schedule(&s);
    assert_eq!(
        error_at(&findings, "spec.compactInterval"),
        r#"required with spec.compactBackupTemplate: the span of log backup each compaction covers (e.g. "1h"); without it TiDB Operator never compacts"#
    );
    assert_eq!(
        error_at(&findings, "spec.minCompactStartTs"),
        r#"cannot parse ts string "2024-02-30 00:00:00": day out of range"#
    );
    // Silently wrong otherwise: log-<name> would be a one-off snapshot backup.
    assert_eq!(
        error_at(&findings, "spec.logBackupTemplate.backupMode"),
        r#"must be "log", got "": TiDB Operator would run this template once as an ordinary backup and never start a log backup"#
    );

    // release-1.x's sharded compaction: the CRD's enum and minimum.
    let mut s = integrated_schedule();
    let compact = s.spec.compact_backup_template.as_mut().expect("compact");
    compact.mode = "Sharded".into();
    compact.shard_count = Some(0);
    compact.physical_file_cache_capacity = "150 GB".into();
    let findings = validate_schedule(&s);
    assert_eq!(
        error_at(&findings, "spec.compactBackupTemplate.mode"),
        r#"unsupported value "Sharded": did you mean "sharded"? (supported: sharded; values are case-sensitive)"#
    );
    assert_eq!(
        error_at(&findings, "spec.compactBackupTemplate.shardCount"),
        "must be at least 1, got 0"
    );
    assert_eq!(
        warning_at(
            &findings,
            "spec.compactBackupTemplate.physicalFileCacheCapacity"
        ),
        r#""150 GB" is not a Kubernetes quantity such as "150Gi"; tikv-ctl may not read it"#
    );
    let compact = s.spec.compact_backup_template.as_mut().expect("compact");
    compact.mode = "sharded".into();
    compact.shard_count = Some(8);
    compact.physical_file_cache_capacity = "1.5e3M".into();
    assert_eq!(errors(&validate_schedule(&s)), vec![]);

    let mut s = integrated_schedule();
    s.spec.log_backup_template = None;
    s.spec.compact_backup_template.as_mut().expect("compact").br = None;
    let findings = validate_schedule(&s);
    assert_eq!(
        warning_at(&findings, "spec.compactBackupTemplate"),
        "has no effect without spec.logBackupTemplate: compactions work on the schedule's log backup"
    );
    assert_eq!(
        error_at(&findings, "spec.compactBackupTemplate.br.cluster"),
        "required: name of the TidbCluster whose log backup is compacted"
    );
}

/// release-1.6's BackupScheduleSpec has `br` and the storage fields, but buildBackup
/// copies only the templates: they change nothing.
#[test]
fn schedule_level_br_and_storage_are_not_applied() {
    let mut s = schedule(SEED_SCHEDULE);
    s.spec.br = s.spec.backup_template.br.clone();
    s.spec.s3 = s.spec.backup_template.s3.clone();
    let findings = validate_schedule(&s);
    assert_eq!(errors(&findings), vec![]);
    assert_eq!(
        warning_at(&findings, "spec.s3"),
        "not applied by TiDB Operator to the Backups the schedule creates (release-1.6 copies only the templates); set it in spec.backupTemplate.s3"
    );
    assert!(warning_at(&findings, "spec.br").starts_with("not applied"));
}

/// The apiserver validates object names (DNS-1123 subdomain) and namespaces (label).
#[test]
fn names_and_namespaces_as_kubernetes_checks_them() {
    let mut b = minimal_backup();
    b.metadata.name = Some("Foo_Bar".into());
    b.metadata.namespace = Some("Bad_NS".into());
    let findings = validate_backup(&b);
    assert_eq!(
        error_at(&findings, "metadata.name"),
        r#"invalid name "Foo_Bar": must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"#
    );
    assert_eq!(
        error_at(&findings, "metadata.namespace"),
        r#"invalid name "Bad_NS": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"#
    );
    // Defaulting does not copy a bad namespace into a field the user never wrote.
    default_backup(&mut b);
    assert_eq!(
        b.spec.br.as_ref().map(|br| br.cluster_namespace.as_str()),
        Some("")
    );
    assert!(
        !validate_backup(&b)
            .iter()
            .any(|f| f.path == "spec.br.clusterNamespace")
    );
}
