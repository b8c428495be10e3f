//! Properties over generated objects: defaulting is idempotent, and defaulting a valid
//! object keeps it valid.

use proptest::prelude::*;
use tidb_backup_webhook::api::{
    BRConfig, Backup, BackupSchedule, BackupScheduleSpec, S3StorageProvider, TiDBAccessConfig,
};
use tidb_backup_webhook::rules::{
    default_backup, default_schedule, has_errors, validate_backup, validate_schedule,
};

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

/// Backups mixing valid values, empty fields and typical mistakes.
fn any_backup() -> impl Strategy<Value = Backup> {
    let meta = (
        "[a-z][a-z0-9-]{0,40}[a-z0-9]",
        proptest::option::of(Just("test1".to_owned())),
        proptest::option::of(one_of(&["arn:aws:iam::123456789012:role/user", ""])),
    );
    let spec_top = (
        one_of(&["", "full", "db", "table", "Full", "raw"]),
        one_of(&["", "Retain", "Delete", "OnFailure", "delete"]),
        one_of(&["", "tidb-backup-manager", "backup-irsa"]),
        proptest::option::of(one_of(&["72h", "1h30m", "3d", "0"])),
        proptest::option::of(proptest::collection::vec(
            one_of(&["*.*", "!db.t", "db-1.t", "# c"]),
            0..4,
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
        one_of(&["", "my-bucket"]),
        one_of(&["", "http://minio:9000", "minio:9000"]),
        one_of(&["", "private", "public-read", "Private"]),
        one_of(&["", "STANDARD", "STANDARD_IA", "GLACIER", "standard"]),
        one_of(&["", "s3-secret"]),
        one_of(&["", "my-folder"]),
    );
    let br = (
        one_of(&["", "demo1"]),
        one_of(&["", "test1", "other"]),
        one_of(&["", "db1"]),
        one_of(&["", "t1"]),
        proptest::option::of(0..64i64),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        one_of(&["", "info", "WARN"]),
    );
    (meta, spec_top, from, s3, br).prop_map(|(meta, top, from, s3, br)| {
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
        b.spec.from = from.map(|(host, port, user, secret_name)| TiDBAccessConfig {
            host,
            port,
            user,
            secret_name,
            tls_client_secret_name: None,
        });
        b.spec.s3 = Some(S3StorageProvider {
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
        b.spec.br = Some(BRConfig {
            cluster: br.0,
            cluster_namespace: br.1,
            db: br.2,
            table: br.3,
            concurrency: br.4,
            checksum: br.5,
            send_cred_to_tikv: br.6,
            log_level: br.7,
            ..Default::default()
        });
        b
    })
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
