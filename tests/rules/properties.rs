//! Properties over generated objects of every storage × engine × mode: defaulting is
//! idempotent, round-trips losslessly through the wire format, and never turns a valid
//! object invalid.

use k8s_openapi::api::core::v1::{Volume, VolumeMount};
use proptest::prelude::*;
use tidb_backup_webhook::api::decode;
use tidb_backup_webhook::api::{
    AzblobStorageProvider, BRConfig, BackoffRetryPolicy, Backup, BackupSchedule,
    BackupScheduleSpec, CleanOption, GcsStorageProvider, LocalStorageProvider, S3StorageProvider,
    TiDBAccessConfig,
};
use tidb_backup_webhook::rules::{
    default_backup, default_schedule, has_errors, validate_backup, validate_schedule,
};

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

/// One of `valid` nine times in ten, else one of `mistakes`.
fn mostly(
    valid: &'static [&'static str],
    mistakes: &'static [&'static str],
) -> impl Strategy<Value = String> {
    prop_oneof![9 => one_of(valid), 1 => one_of(mistakes)]
}

/// Which providers a generated spec sets (any subset, most often one).
#[derive(Clone, Debug)]
struct Storages {
    s3: bool,
    gcs: bool,
    azblob: bool,
    local: bool,
}

fn any_storages() -> impl Strategy<Value = Storages> {
    prop_oneof![
        4 => (0..4usize).prop_map(|i| Storages { s3: i == 0, gcs: i == 1, azblob: i == 2, local: i == 3 }),
        1 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(s3, gcs, azblob, local)| Storages { s3, gcs, azblob, local }),
    ]
}

/// Backups of every storage × engine × mode, mixing valid values, empty fields and
/// typical mistakes.
fn any_backup() -> impl Strategy<Value = Backup> {
    let meta = (
        "[a-z][a-z0-9-]{0,40}[a-z0-9]",
        proptest::option::of(Just("test1".to_owned())),
        proptest::option::of(one_of(&["arn:aws:iam::123456789012:role/user", ""])),
    );
    let spec_top = (
        mostly(&["", "full", "db", "table"], &["Full", "raw"]),
        mostly(&["", "Retain", "Delete", "OnFailure"], &["delete"]),
        one_of(&["", "tidb-backup-manager", "backup-irsa"]),
        proptest::option::of(mostly(&["72h", "1h30m"], &["3d", "0"])),
        proptest::option::of(proptest::collection::vec(
            one_of(&["*.*", "!db.t", "db-1.t", "# c"]),
            0..4,
        )),
        mostly(&["", "snapshot", "log", "volume-snapshot"], &["logs"]),
        one_of(&["", "10Gi"]),
    );
    let modes = (
        mostly(
            &["", "log-start", "log-stop", "log-pause"],
            &["log-truncate"],
        ),
        mostly(
            &["", "420134118382108673", "2024-01-01 00:00:00"],
            &["yesterday"],
        ),
        mostly(&["", "2024-01-02T00:00:00Z"], &["1d"]),
        proptest::option::of(any::<bool>()),
        mostly(&["", "all", "incremental"], &["everything"]),
        mostly(&["", "initialize", "execute"], &["finish"]),
        proptest::option::of(-1..1000i64),
        proptest::option::of((
            one_of(&["", "300s", "5min"]),
            proptest::option::of(-1..5i64),
        )),
        proptest::option::of((
            proptest::option::of(-1..20000i64),
            proptest::option::of(0.0..3.0f64),
        )),
    );
    let from = proptest::option::of((
        one_of(&["", "demo1-tidb"]),
        proptest::option::of(0..70000i32),
        one_of(&["", "root", "backup"]),
        one_of(&["", "backup-demo1-tidb-secret"]),
    ));
    let s3 = (
        one_of(&["aws", "minio", "ceph", "AWS", ""]),
        one_of(&["", "us-west-1"]),
        mostly(&["my-bucket"], &[""]),
        one_of(&["", "http://minio:9000", "minio:9000", "https://ceph:443"]),
        one_of(&["", "private", "public-read", "Private"]),
        one_of(&["", "STANDARD", "STANDARD_IA", "GLACIER", "standard"]),
        one_of(&["", "s3-secret"]),
        one_of(&["", "my-folder"]),
    );
    let others = (
        (
            mostly(&["my-project"], &[""]),
            mostly(&["gcs-bucket"], &[""]),
            one_of(&["", "NEARLINE", "nearline"]),
            one_of(&["", "gcs-secret"]),
        ),
        (
            mostly(&["my-container"], &[""]),
            mostly(&["", "Cool", "Hot"], &["warm"]),
            mostly(&["azblob-secret"], &[""]),
            one_of(&["", "acct"]),
            one_of(&["", "sv=2024"]),
        ),
        (
            mostly(&["nfs"], &[""]),
            mostly(&["nfs"], &["", "other"]),
            mostly(&["/backup"], &["", "C:/x"]),
        ),
    );
    let br = (
        any::<bool>(),
        mostly(&["demo1"], &[""]),
        one_of(&["", "test1", "other"]),
        one_of(&["", "db1"]),
        one_of(&["", "t1"]),
        proptest::option::of(0..64i64),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        mostly(&["", "info", "WARN"], &["warning"]),
    );
    (meta, spec_top, modes, from, any_storages(), s3, others, br).prop_map(
        |(meta, top, modes, from, storages, s3, (gcs, azblob, local), br)| {
            let mut b = Backup::new(&meta.0, Default::default());
            b.metadata.namespace = meta.1;
            b.metadata.annotations = meta
                .2
                .map(|role| [("iam.amazonaws.com/role".to_owned(), role)].into());
            b.spec.backup_type = top.0;
            b.spec.clean_policy = top.1;
            b.spec.service_account = top.2;
            b.spec.tikv_gc_life_time = top.3;
            b.spec.table_filter = top.4;
            b.spec.backup_mode = top.5;
            b.spec.storage_size = top.6;
            b.spec.log_subcommand = modes.0;
            b.spec.commit_ts = modes.1;
            b.spec.log_truncate_until = modes.2;
            b.spec.log_stop = modes.3;
            b.spec.calc_size_level = modes.4;
            b.spec.federal_volume_backup_phase = modes.5;
            b.spec.volume_backup_init_job_max_active_seconds = modes.6;
            b.spec.backoff_retry_policy = modes.7.map(|(min, times)| BackoffRetryPolicy {
                min_retry_duration: min,
                max_retry_times: times,
                ..Default::default()
            });
            b.spec.clean_option = modes.8.map(|(page, ratio)| CleanOption {
                page_size: page,
                snapshots_delete_ratio: ratio,
                ..Default::default()
            });
            b.spec.from = from.map(|(host, port, user, secret_name)| TiDBAccessConfig {
                host,
                port,
                user,
                secret_name,
                tls_client_secret_name: None,
            });
            b.spec.s3 = storages.s3.then(|| S3StorageProvider {
                provider: s3.0,
                region: s3.1,
                bucket: s3.2,
                endpoint: s3.3,
                acl: s3.4,
                storage_class: s3.5,
                secret_name: s3.6,
                prefix: s3.7,
                ..Default::default()
            });
            b.spec.gcs = storages.gcs.then(|| GcsStorageProvider {
                project_id: gcs.0,
                bucket: gcs.1,
                storage_class: gcs.2,
                secret_name: gcs.3,
                ..Default::default()
            });
            b.spec.azblob = storages.azblob.then(|| AzblobStorageProvider {
                container: azblob.0,
                access_tier: azblob.1,
                secret_name: azblob.2,
                storage_account: azblob.3,
                sas_token: azblob.4,
                ..Default::default()
            });
            b.spec.local = storages.local.then(|| {
                Box::new(LocalStorageProvider {
                    volume: Volume {
                        name: local.0,
                        ..Default::default()
                    },
                    volume_mount: VolumeMount {
                        name: local.1,
                        mount_path: local.2,
                        ..Default::default()
                    },
                    prefix: String::new(),
                })
            });
            b.spec.br = br.0.then(|| BRConfig {
                cluster: br.1,
                cluster_namespace: br.2,
                db: br.3,
                table: br.4,
                concurrency: br.5,
                checksum: br.6,
                send_cred_to_tikv: br.7,
                log_level: br.8,
                ..Default::default()
            });
            b
        },
    )
}

fn any_schedule() -> impl Strategy<Value = BackupSchedule> {
    (
        any_backup(),
        one_of(&["*/2 * * * *", "0 0 * * *", "@daily", "0 0 2 * * *"]),
        proptest::option::of(-1..10i32),
        proptest::option::of(one_of(&["3h", "24h", "1d"])),
    )
        .prop_map(|(backup, cron, max_backups, reserved)| {
            let mut s = BackupSchedule::new(
                "demo1-schedule",
                BackupScheduleSpec {
                    schedule: cron,
                    max_backups,
                    max_reserved_time: reserved,
                    backup_template: backup.spec,
                    ..Default::default()
                },
            );
            s.metadata = backup.metadata;
            s.metadata.name = Some("demo1-schedule".into());
            s
        })
}

proptest! {
    #[test]
    fn backup_defaulting_is_idempotent(b in any_backup()) {
        let mut once = b.clone();
        default_backup(&mut once);
        let mut twice = once.clone();
        prop_assert_eq!(default_backup(&mut twice), Vec::<String>::new());
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn defaulted_backups_round_trip_losslessly(b in any_backup()) {
        let mut defaulted = b.clone();
        default_backup(&mut defaulted);
        for object in [&b, &defaulted] {
            let json = serde_json::to_value(object).expect("serialise");
            let (back, unknown) = decode::typed::<Backup>(&json).expect("decode");
            prop_assert_eq!(unknown, Vec::<String>::new());
            prop_assert_eq!(&back, object);
            prop_assert_eq!(serde_json::to_value(&back).expect("serialise"), json);
        }
    }

    #[test]
    fn defaulting_keeps_valid_backups_valid(b in any_backup()) {
        let before = validate_backup(&b);
        let mut defaulted = b.clone();
        default_backup(&mut defaulted);
        let after = validate_backup(&defaulted);
        if !has_errors(&before) {
            prop_assert!(!has_errors(&after), "valid {:?} became invalid: {:?}", b, after);
        }
        // Defaulting only fills empty fields, so it never fixes an error either: users
        // see their own mistakes.
        prop_assert_eq!(has_errors(&before), has_errors(&after));
    }

    #[test]
    fn schedule_defaulting_is_idempotent_and_keeps_validity(s in any_schedule()) {
        let mut once = s.clone();
        default_schedule(&mut once);
        let mut twice = once.clone();
        prop_assert_eq!(default_schedule(&mut twice), Vec::<String>::new());
        prop_assert_eq!(&twice, &once);
        if !has_errors(&validate_schedule(&s)) {
            prop_assert!(!has_errors(&validate_schedule(&once)));
        }
    }
}

#[test]
fn the_generator_reaches_valid_objects_of_every_storage_and_mode() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;
    let mut runner = TestRunner::deterministic();
    let strategy = any_backup();
    let mut valid = BTreeSet::new();
    for _ in 0..4_000 {
        let mut b = strategy.new_tree(&mut runner).expect("a value").current();
        default_backup(&mut b);
        if !has_errors(&validate_backup(&b)) {
            let storage = b.spec.storage().kind().map(|k| k.field());
            let mode = match b.spec.br {
                Some(_) => b.spec.backup_mode.clone(),
                None => "dumpling".to_owned(),
            };
            valid.insert((storage, mode));
        }
    }
    for storage in ["s3", "gcs", "azblob", "local"] {
        for mode in ["snapshot", "log", "volume-snapshot"] {
            assert!(
                valid.contains(&(Some(storage), mode.to_owned())),
                "no valid {storage} {mode} backup generated: {valid:?}"
            );
        }
    }
    assert!(valid.contains(&(Some("s3"), "dumpling".to_owned())));
    assert!(valid.contains(&(Some("gcs"), "dumpling".to_owned())));
}
