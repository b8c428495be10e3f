//! Every validation rule, asserting field paths and messages.

use tidb_backup_webhook::api::{
    Backup, GcsStorageProvider, LocalStorageProvider, TiDBAccessConfig,
};
use tidb_backup_webhook::rules::{
    default_backup, default_schedule, validate_backup, validate_schedule,
};

use super::*;

fn findings_of(b: &Backup) -> (Pairs, Pairs) {
    let f = validate_backup(b);
    (errors(&f), warnings(&f))
}

/// The single error of `b`, failing when there are more or none.
fn only_error(b: &Backup) -> (String, String) {
    let (errs, _) = findings_of(b);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    errs.into_iter().next().expect("one error")
}

fn error_at(b: &Backup, path: &str) -> String {
    let (errs, _) = findings_of(b);
    errs.into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no error at {path}; findings: {:#?}", validate_backup(b)))
}

fn warning_at(b: &Backup, path: &str) -> String {
    let (_, warns) = findings_of(b);
    warns
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("no warning at {path}; findings: {:#?}", validate_backup(b)))
}

fn s3(b: &mut Backup) -> &mut tidb_backup_webhook::api::S3StorageProvider {
    b.spec.s3.as_mut().expect("s3")
}

fn br(b: &mut Backup) -> &mut tidb_backup_webhook::api::BRConfig {
    b.spec.br.as_mut().expect("br")
}

#[test]
fn seed_examples_are_valid_without_warnings_after_defaulting() {
    for yaml in [SEED_BACKUP, SEED_BACKUP_KUBE2IAM, SEED_BACKUP_IRSA] {
        let mut b = backup(yaml);
        default_backup(&mut b);
        assert_eq!(validate_backup(&b), vec![], "{yaml}");
    }
    for yaml in [SEED_SCHEDULE, SEED_SCHEDULE_KUBE2IAM] {
        let mut s = schedule(yaml);
        default_schedule(&mut s);
        assert_eq!(validate_schedule(&s), vec![], "{yaml}");
    }
}

/// TiDB Operator's `TestValidateBackup` sequence (reference §9), reporting every problem
/// at once where v1.1 stopped at the first.
#[test]
fn tidb_operator_validate_backup_sequence() {
    let mut b = backup(
        "{apiVersion: pingcap.com/v1alpha1, kind: Backup, metadata: {name: b, namespace: ns}, spec: {}}",
    );
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            ("spec".into(), "no storage provider: set exactly one of s3, gcs, azblob or local".into()),
            (
                "spec.br.cluster".into(),
                "required: name of the TidbCluster to back up (spec.br is missing; for a Dumpling export instead, set spec.from and spec.storageSize)".into()
            ),
        ]
    );
    b.spec.br = Some(Default::default());
    b.spec.s3 = Some(Default::default());
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.s3.provider".into(),
                "required: one of aws, alibaba, digitalocean, dreamhost, ibmcos, minio, netease, wasabi, ceph, other".into()
            ),
            ("spec.s3.bucket".into(), "required: name of the bucket to write the backup to".into()),
            ("spec.br.cluster".into(), "required: name of the TidbCluster to back up".into()),
        ]
    );
    br(&mut b).cluster = "tidb".into();
    s3(&mut b).provider = "ceph".into();
    s3(&mut b).bucket = "test1-demo1".into();
    s3(&mut b).endpoint = "http://10.0.0.1".into();
    b.spec.backup_type = "invalid".into();
    assert_eq!(
        only_error(&b),
        (
            "spec.backupType".into(),
            r#"unsupported value "invalid" (supported: full, db, table)"#.into()
        )
    );
    b.spec.backup_type = "db".into();
    assert_eq!(
        only_error(&b),
        (
            "spec.br.db".into(),
            r#"required with backupType "db": the database to back up"#.into()
        )
    );
    br(&mut b).db = "mysql".into();
    b.spec.backup_type = "table".into();
    assert_eq!(
        only_error(&b),
        (
            "spec.br.table".into(),
            r#"required with backupType "table": the table to back up"#.into()
        )
    );
    br(&mut b).table = "table1".into();
    assert_eq!(validate_backup(&b), vec![]);
}

#[test]
fn backup_type_rejects_types_br_backup_does_not_take() {
    let mut b = minimal_backup();
    for t in ["raw", "tiflash-replica"] {
        b.spec.backup_type = t.into();
        assert_eq!(
            error_at(&b, "spec.backupType"),
            format!(
                "backup type {t:?} is not supported by BR backups (supported: full, db, table)"
            )
        );
    }
    b.spec.backup_type = "Full".into();
    assert_eq!(
        error_at(&b, "spec.backupType"),
        r#"unsupported value "Full": did you mean "full"? (supported: full, db, table; values are case-sensitive)"#
    );
}

#[test]
fn endpoints_follow_go_net_url() {
    let cases: &[(&str, &str)] = &[
        (
            "#$@$#^%**##",
            r##"invalid endpoint "#$@$#^%**##": parse "#$@$#^%**##": invalid URL escape "%**""##,
        ),
        (
            "/path",
            r#"scheme not found in endpoint "/path": add http:// or https://, e.g. "https://path""#,
        ),
        (
            "s3.amazonaws.com",
            r#"scheme not found in endpoint "s3.amazonaws.com": add http:// or https://, e.g. "https://s3.amazonaws.com""#,
        ),
        ("s3:///", r#"host not found in endpoint "s3:///""#),
        (
            "minio:9000",
            r#"host not found in endpoint "minio:9000"; "minio:9000" reads as scheme "minio", did you mean "http://minio:9000"?"#,
        ),
        (
            "localhost:9000",
            r#"host not found in endpoint "localhost:9000"; "localhost:9000" reads as scheme "localhost", did you mean "http://localhost:9000"?"#,
        ),
        (
            "10.0.0.1:9000",
            r#"invalid endpoint "10.0.0.1:9000": parse "10.0.0.1:9000": first path segment in URL cannot contain colon; did you mean "http://10.0.0.1:9000" or "https://10.0.0.1:9000"?"#,
        ),
        (
            "1http://x",
            r#"invalid endpoint "1http://x": parse "1http://x": first path segment in URL cannot contain colon"#,
        ),
        (
            ":9000",
            r#"invalid endpoint ":9000": parse ":9000": missing protocol scheme"#,
        ),
        (
            "http:// x",
            r#"invalid endpoint "http:// x": parse "http:// x": invalid character " " in host name"#,
        ),
    ];
    let mut b = minimal_backup();
    s3(&mut b).provider = "minio".into();
    for (endpoint, message) in cases {
        s3(&mut b).endpoint = (*endpoint).into();
        assert_eq!(
            only_error(&b),
            ("spec.s3.endpoint".into(), (*message).into()),
            "{endpoint}"
        );
    }
    for endpoint in [
        "http://minio:9000",
        "https://s3.amazonaws.com",
        "http://[::1]:9000",
        "HTTP://X",
    ] {
        s3(&mut b).endpoint = endpoint.into();
        assert_eq!(validate_backup(&b), vec![], "{endpoint}");
    }
    s3(&mut b).endpoint = "s3://localhost:80".into();
    assert_eq!(errors(&validate_backup(&b)), vec![]);
    assert_eq!(
        warning_at(&b, "spec.s3.endpoint"),
        r#"scheme "s3": BR's S3 client expects http or https"#
    );
}

#[test]
fn enums_are_case_sensitive_with_suggestions() {
    let mut b = minimal_backup();
    s3(&mut b).acl = "Private".into();
    s3(&mut b).storage_class = "standard-ia".into();
    s3(&mut b).provider = "aws".into();
    b.spec.clean_policy = "delete".into();
    b.spec.backup_mode = "Log".into();
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.backupMode".into(),
                r#"unknown backup mode "Log": did you mean "log"? TiDB Operator would run a snapshot backup instead (modes: snapshot, log, volume-snapshot)"#.into()
            ),
            (
                "spec.cleanPolicy".into(),
                r#"unsupported value "delete": did you mean "Delete"? (supported: Retain, Delete, OnFailure; values are case-sensitive); TiDB Operator's CRD rejects it (v1.1 silently retained the data)"#.into()
            ),
            (
                "spec.s3.acl".into(),
                r#"unsupported value "Private": did you mean "private"? (supported: private, public-read, public-read-write, authenticated-read, bucket-owner-read, bucket-owner-full-control; values are case-sensitive)"#.into()
            ),
            (
                "spec.s3.storageClass".into(),
                r#"unsupported value "standard-ia": did you mean "STANDARD_IA"? (supported: STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, GLACIER_IR, DEEP_ARCHIVE; values are case-sensitive)"#.into()
            ),
        ]
    );
    b.spec.backup_mode = "snapshot".into();
    // BR's logger (zap) reads levels in any case; BR itself takes any provider name.
    br(&mut b).log_level = "WARN".into();
    s3(&mut b).provider = "AWS".into();
    assert!(
        !errors(&validate_backup(&b))
            .iter()
            .any(|(p, _)| p == "spec.br.logLevel" || p == "spec.s3.provider")
    );
    assert_eq!(
        warning_at(&b, "spec.s3.provider"),
        r#""AWS" is not a provider BR knows; did you mean "aws"? BR treats it as a generic S3-compatible store (known: aws, alibaba, digitalocean, dreamhost, ibmcos, minio, netease, wasabi, ceph, other)"#
    );
    br(&mut b).log_level = "warning".into();
    assert_eq!(
        error_at(&b, "spec.br.logLevel"),
        r#"unsupported value "warning": did you mean "warn"? (supported, in any case: debug, info, warn, error, dpanic, panic, fatal)"#
    );
    // Other providers than aws may know more ACLs.
    s3(&mut b).provider = "minio".into();
    s3(&mut b).endpoint = "http://minio:9000".into();
    assert_eq!(
        warning_at(&b, "spec.s3.acl"),
        r#""Private" is not an S3 canned ACL; make sure provider "minio" accepts it"#
    );
    // Only aws restricts the storage class; other providers get a warning.
    s3(&mut b).provider = "ceph".into();
    s3(&mut b).endpoint = "http://ceph:80".into();
    s3(&mut b).storage_class = "COLD".into();
    assert_eq!(
        warning_at(&b, "spec.s3.storageClass"),
        r#""COLD" is not an Amazon S3 storage class; make sure provider "ceph" supports it"#
    );
}

#[test]
fn durations_use_go_grammar_and_sign_rules() {
    let mut b = minimal_backup();
    b.spec.from = Some(TiDBAccessConfig {
        host: "demo1-tidb".into(),
        secret_name: "backup-demo1-tidb-secret".into(),
        ..Default::default()
    });
    for ok in ["72h", "1.5h", ".5h", "2h45m", "1h1h", "10m0s"] {
        b.spec.tikv_gc_life_time = Some(ok.into());
        assert_eq!(validate_backup(&b), vec![], "{ok}");
    }
    let cases = [
        (
            "3d",
            r#"invalid duration "3d": time: unknown unit "d" in duration "3d"; use a Go duration such as "72h" or "1h30m" (units h, m, s, ms, us, ns; no days)"#,
        ),
        (
            "1h 30m",
            r#"invalid duration "1h 30m": time: unknown unit "h " in duration "1h 30m"; use a Go duration such as "72h" or "1h30m" (units h, m, s, ms, us, ns; no days)"#,
        ),
        (
            "10M",
            r#"invalid duration "10M": time: unknown unit "M" in duration "10M"; use a Go duration such as "72h" or "1h30m" (units h, m, s, ms, us, ns; no days)"#,
        ),
        (
            "1",
            r#"invalid duration "1": time: missing unit in duration "1"; use a Go duration such as "72h" or "1h30m" (units h, m, s, ms, us, ns; no days)"#,
        ),
        ("0", r#"must be a positive duration, got "0""#),
        ("-1h", r#"must be a positive duration, got "-1h""#),
    ];
    for (value, message) in cases {
        b.spec.tikv_gc_life_time = Some(value.into());
        assert_eq!(
            only_error(&b),
            ("spec.tikvGCLifeTime".into(), message.into()),
            "{value}"
        );
    }
    b.spec.tikv_gc_life_time = None;
    for ok in ["0", "0s", "1.5h", "2h45m"] {
        br(&mut b).time_ago = ok.into();
        assert_eq!(validate_backup(&b), vec![], "{ok}");
    }
    br(&mut b).time_ago = "-1h".into();
    assert_eq!(
        only_error(&b),
        (
            "spec.br.timeAgo".into(),
            r#"must not be negative, got "-1h""#.into()
        )
    );
}

#[test]
fn gc_life_time_without_from_is_a_warning() {
    let mut b = minimal_backup();
    b.spec.tikv_gc_life_time = Some("72h".into());
    assert_eq!(
        warning_at(&b, "spec.tikvGCLifeTime"),
        "has no effect without spec.from: the GC life time is only adjusted through a TiDB connection"
    );
}

#[test]
fn names_leave_room_for_job_and_backup_names() {
    let mut b = minimal_backup();
    b.metadata.name = Some("a".repeat(56));
    assert_eq!(validate_backup(&b), vec![]);
    b.metadata.name = Some("a".repeat(60));
    assert_eq!(
        only_error(&b),
        (
            "metadata.name".into(),
            r#"name is 60 characters: Backup names must be at most 56, so that TiDB Operator's Job names ("backup-<name>" and "clean-<name>") fit in 63"#.into()
        )
    );
    b.metadata.name = None;
    b.metadata.generate_name = Some("a".repeat(52));
    assert_eq!(
        only_error(&b),
        (
            "metadata.generateName".into(),
            format!(
                r#"name is 57 characters: Backup names must be at most 56, so that TiDB Operator's Job names ("backup-<name>" and "clean-<name>") fit in 63 (generateName "{}" plus 5 random characters)"#,
                "a".repeat(52)
            )
        )
    );
    b.metadata.generate_name = None;
    assert_eq!(
        only_error(&b),
        ("metadata.name".into(), "required: set metadata.name".into())
    );

    let mut s = schedule(SEED_SCHEDULE);
    s.metadata.name = Some("s".repeat(36));
    assert!(errors(&validate_schedule(&s)).is_empty());
    s.metadata.name = Some("s".repeat(37));
    assert_eq!(
        errors(&validate_schedule(&s)),
        vec![(
            "metadata.name".into(),
            r#"name is 37 characters: BackupSchedule names must be at most 36, because each Backup it creates is named "<name>-YYYY-MM-DDtHH-MM-SS" (20 more) and Backup names are limited to 56"#.into()
        )]
    );
}

#[test]
fn exactly_one_storage_provider() {
    let mut b = minimal_backup();
    b.spec.gcs = Some(GcsStorageProvider {
        project_id: "p".into(),
        bucket: "b".into(),
        ..Default::default()
    });
    // TiDB Operator uses the first (GetStorageType's order): it runs, so a warning.
    assert_eq!(errors(&validate_backup(&b)), vec![]);
    assert_eq!(
        warning_at(&b, "spec"),
        "several storage providers set (s3, gcs): TiDB Operator uses only s3 (GetStorageType's order s3, gcs, azblob, local); remove the others"
    );
    b.spec.s3 = None;
    assert_eq!(validate_backup(&b), vec![]);
    b.spec.gcs = Some(Default::default());
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.gcs.projectId".into(),
                "required: the GCP project of the bucket".into()
            ),
            (
                "spec.gcs.bucket".into(),
                "required: name of the bucket to write the backup to".into()
            ),
        ]
    );
}

#[test]
fn local_volume_rules() {
    let mut b = minimal_backup();
    b.spec.s3 = None;
    let mut local = LocalStorageProvider::default();
    local.volume.name = "nfs".into();
    local.volume_mount.name = "nfs".into();
    local.volume_mount.mount_path = "/some/path".into();
    b.spec.local = Some(Box::new(local.clone()));
    assert_eq!(validate_backup(&b), vec![]);
    local.volume_mount.name = "other".into();
    local.volume_mount.mount_path = "C:/backup".into();
    b.spec.local = Some(Box::new(local.clone()));
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.local.volumeMount.name".into(),
                r#"must equal spec.local.volume.name ("nfs"), got "other""#.into()
            ),
            (
                "spec.local.volumeMount.mountPath".into(),
                r#"must not contain ':', got "C:/backup""#.into()
            ),
        ]
    );
    local.volume_mount.name = "nfs".into();
    local.volume_mount.mount_path = String::new();
    b.spec.local = Some(Box::new(local));
    assert_eq!(
        only_error(&b),
        (
            "spec.local.volumeMount.mountPath".into(),
            "required: where to mount the volume".into()
        )
    );
}

#[test]
fn from_requires_host_and_secret_and_a_valid_port() {
    let mut b = minimal_backup();
    b.spec.from = Some(TiDBAccessConfig {
        port: Some(0),
        ..Default::default()
    });
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.from.host".into(),
                r#"required: the TiDB service host, e.g. "basic-tidb""#.into()
            ),
            (
                "spec.from.secretName".into(),
                r#"required: the Secret holding the TiDB user's password under key "password""#
                    .into()
            ),
            (
                "spec.from.port".into(),
                "must be between 1 and 65535, got 0".into()
            ),
        ]
    );
    b.spec.from = Some(TiDBAccessConfig {
        host: "demo1-tidb".into(),
        port: Some(65536),
        secret_name: "Backup_Secret".into(),
        tls_client_secret_name: Some("tls secret".into()),
        ..Default::default()
    });
    let (errs, _) = findings_of(&b);
    assert_eq!(
        errs,
        vec![
            (
                "spec.from.secretName".into(),
                r#"invalid name "Backup_Secret": must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"#.into()
            ),
            ("spec.from.port".into(), "must be between 1 and 65535, got 65536".into()),
            (
                "spec.from.tlsClientSecretName".into(),
                r#"invalid name "tls secret": must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"#.into()
            ),
        ]
    );
}

#[test]
fn br_ranges_and_names() {
    let mut b = minimal_backup();
    br(&mut b).cluster = "Demo1".into();
    br(&mut b).cluster_namespace = "test_1".into();
    br(&mut b).concurrency = Some(0);
    br(&mut b).rate_limit = Some(-1);
    s3(&mut b).secret_name = "S3".into();
    b.spec.service_account = "Backup SA".into();
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.serviceAccount".into(),
                r#"invalid name "Backup SA": must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"#.into()
            ),
            (
                "spec.s3.secretName".into(),
                r#"invalid name "S3": must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"#.into()
            ),
            (
                "spec.br.cluster".into(),
                r#"invalid name "Demo1": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"#.into()
            ),
            (
                "spec.br.clusterNamespace".into(),
                r#"invalid name "test_1": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"#.into()
            ),
            ("spec.br.concurrency".into(), "must be at least 1, got 0 (unset uses BR's default, 4)".into()),
            (
                "spec.br.rateLimit".into(),
                "must not be negative, got -1 (MB/s per TiKV; unset means no limit)".into()
            ),
        ]
    );
}

#[test]
fn br_options() {
    let mut b = minimal_backup();
    br(&mut b).concurrency = Some(8);
    br(&mut b).options = Some(
        [
            "--lastbackupts=420134118382108673",
            "-u=pd:2379",
            "--lastbackupts=-5",
            "--lastbackupts",
            "--lastbackupts 420134118382108673",
            "--storage=s3://other",
            "--pd=other-pd:2379",
            "--concurrency=16",
            "--check-requirements=false",
        ]
        .map(String::from)
        .to_vec(),
    );
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            ("spec.br.options[1]".into(), r#"BR options must be long flags starting with "--", got "-u=pd:2379""#.into()),
            (
                "spec.br.options[2]".into(),
                r#"--lastbackupts must be a non-negative integer TSO (the commitTs of the previous backup), got "-5""#.into()
            ),
            ("spec.br.options[3]".into(), r#"--lastbackupts needs a value: "--lastbackupts=<commitTs>""#.into()),
            (
                "spec.br.options[4]".into(),
                r#"each list entry is one argument: write "--lastbackupts=420134118382108673""#.into()
            ),
            (
                "spec.br.options[5]".into(),
                "--storage overrides the storage generated from the spec: the data would land there while status.backupPath and cleanPolicy use the spec's; set the storage fields (s3, gcs, azblob, local) instead".into()
            ),
        ]
    );
    assert_eq!(
        warnings(&validate_backup(&b)),
        vec![
            (
                "spec.br.options[6]".into(),
                "--pd overrides the one generated from the spec's cluster (and its TLS settings); make sure it points at the same TiDB cluster".into()
            ),
            (
                "spec.br.options[7]".into(),
                "--concurrency overrides spec field br.concurrency (options come last and win)".into()
            ),
        ]
    );
}

#[test]
fn risky_settings_are_warnings() {
    let mut b = minimal_backup();
    for acl in ["public-read", "public-read-write", "authenticated-read"] {
        s3(&mut b).acl = acl.into();
        assert_eq!(
            warning_at(&b, "spec.s3.acl"),
            format!(
                "{acl:?} makes backup data readable by others; use \"private\" unless that is intended"
            )
        );
        assert!(errors(&validate_backup(&b)).is_empty());
    }
    s3(&mut b).acl = "bucket-owner-full-control".into();
    for class in ["GLACIER", "DEEP_ARCHIVE"] {
        s3(&mut b).storage_class = class.into();
        assert_eq!(
            warning_at(&b, "spec.s3.storageClass"),
            format!("{class}: objects must be restored from the archive before BR can read them")
        );
    }
    s3(&mut b).storage_class = "GLACIER_IR".into();
    s3(&mut b).region = String::new();
    assert_eq!(
        warnings(&validate_backup(&b)),
        vec![(
            "spec.s3.region".into(),
            "not set: set the bucket's region (e.g. us-west-1), or BR may not find the bucket"
                .into()
        )]
    );

    let mut b = minimal_backup();
    b.metadata.annotations = Some(
        [(
            "iam.amazonaws.com/role".to_owned(),
            "arn:aws:iam::123456789012:role/user".to_owned(),
        )]
        .into(),
    );
    br(&mut b).send_cred_to_tikv = Some(true);
    assert_eq!(
        warning_at(&b, "spec.br.sendCredToTikv"),
        "true while the backup uses IAM (pod role arn:aws:iam::123456789012:role/user): BR has no keys to send; set it to false so TiKV uses its own role"
    );
    b.metadata.annotations = None;
    b.spec.service_account = "backup-irsa".into();
    assert_eq!(
        warning_at(&b, "spec.br.sendCredToTikv"),
        "true while the backup uses IAM (service account backup-irsa): BR has no keys to send; set it to false so TiKV uses its own role"
    );

    let mut b = minimal_backup();
    s3(&mut b).provider = "minio".into();
    s3(&mut b).prefix = "/".into();
    b.spec.clean_policy = "Delete".into();
    br(&mut b).db = "mysql".into();
    br(&mut b).on_line = Some(true);
    assert_eq!(
        warnings(&validate_backup(&b)),
        vec![
            (
                "spec.s3.endpoint".into(),
                r#"not set for provider "minio": BR will contact Amazon S3; set the endpoint URL, e.g. "http://minio:9000""#.into()
            ),
            ("spec.br.db".into(), "ignored with backupType full; use backupType db/table or tableFilter".into()),
            ("spec.br.onLine".into(), "only used by restores; ignored for backups".into()),
            (
                "spec.s3.prefix".into(),
                "empty prefix with cleanPolicy Delete: cleaning would delete the whole bucket, so it will be refused; set a prefix".into()
            ),
        ]
    );
}

#[test]
fn table_filter_rules() {
    let mut b = minimal_backup();
    b.spec.table_filter = Some(vec![
        "*.*".into(),
        "!db.table".into(),
        "# comment".into(),
        "".into(),
    ]);
    assert_eq!(validate_backup(&b), vec![]);

    b.spec.table_filter = Some(vec![
        "db-1.tbl".into(),
        "*.*".into(),
        "@/etc/filters".into(),
        "db.".into(),
    ]);
    assert_eq!(
        errors(&validate_backup(&b)),
        vec![
            (
                "spec.tableFilter[0]".into(),
                r#"invalid table filter rule "db-1.tbl": at <cmdline>:1: unexpected special character '-'; quote names with special characters, e.g. `db-1`.tbl"#.into()
            ),
            (
                "spec.tableFilter[2]".into(),
                r#""@/etc/filters": importing rules from a file is not supported (the file would be read inside the BR container); list the rules inline"#.into()
            ),
            (
                "spec.tableFilter[3]".into(),
                r#"invalid table filter rule "db.": at <cmdline>:1: syntax error: missing pattern; quote names with special characters, e.g. `db-1`.tbl"#.into()
            ),
        ]
    );

    // The guide's pitfall: exclusions alone match nothing.
    b.spec.table_filter = Some(vec!["!db.table".into(), "!mysql.*".into()]);
    assert_eq!(
        warnings(&validate_backup(&b)),
        vec![(
            "spec.tableFilter".into(),
            r#"every rule is an exclusion ("!..."), so nothing matches and nothing is backed up: add "*.*" as the first rule"#.into()
        )]
    );

    // BR rejects --filter with the db and table sub-commands.
    b.spec.table_filter = Some(vec!["db.*".into()]);
    b.spec.backup_type = "db".into();
    br(&mut b).db = "db".into();
    assert_eq!(
        only_error(&b),
        (
            "spec.tableFilter".into(),
            r#"cannot be combined with backupType "db": BR accepts --filter only for full backups; use backupType full with rules such as "db.*""#.into()
        )
    );
}

#[test]
fn schedule_rules() {
    let mut s = schedule(SEED_SCHEDULE);
    let cron_error = |s: &tidb_backup_webhook::api::BackupSchedule| {
        errors(&validate_schedule(s))
            .into_iter()
            .find(|(p, _)| p == "spec.schedule")
            .map(|(_, m)| m)
    };
    for ok in [
        "0 0 * * *",
        "*/2 * * * *",
        "@daily",
        "@every 1h30m",
        "0 0 1,15 * MON",
        "0 0 29 2 *",
    ] {
        s.spec.schedule = ok.into();
        assert_eq!(cron_error(&s), None, "{ok}");
    }
    let cases = [
        (
            "",
            r#"invalid cron schedule: Empty spec string; set a 5-field cron schedule such as "0 2 * * *""#,
        ),
        (
            "0 0 2 * * *",
            "invalid cron schedule: Expected exactly 5 fields, found 6: 0 0 2 * * *; use 5 fields (minute hour day-of-month month day-of-week): seconds are not supported",
        ),
        (
            "0 0 * * 7",
            "invalid cron schedule: End of range (7) above maximum (6): 7; use 5 fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly, @every <duration>",
        ),
        (
            "TZ=UTC 0 0 * * *",
            "invalid cron schedule: Expected exactly 5 fields, found 6: TZ=UTC 0 0 * * *; time zone prefixes are not supported: the controller's time zone applies",
        ),
        (
            "0 0 30 2 *",
            r#"cron schedule "0 0 30 2 *" never fires: no month has that day; check the day-of-month and month fields"#,
        ),
        (
            "@every -1h",
            r#"@every needs a positive duration, got "-1h" (it would fire every second)"#,
        ),
    ];
    for (spec, message) in cases {
        s.spec.schedule = spec.into();
        assert_eq!(cron_error(&s).as_deref(), Some(message), "{spec:?}");
    }

    let mut s = schedule(SEED_SCHEDULE);
    s.spec.max_backups = Some(-1);
    s.spec.max_reserved_time = Some("0s".into());
    assert_eq!(
        errors(&validate_schedule(&s)),
        vec![
            (
                "spec.maxBackups".into(),
                "must not be negative, got -1 (0 or unset keeps every backup)".into()
            ),
            (
                "spec.maxReservedTime".into(),
                r#"must be a positive duration, got "0s""#.into()
            ),
        ]
    );
    s.spec.max_backups = Some(5);
    s.spec.max_reserved_time = Some("24h".into());
    assert_eq!(
        warnings(&validate_schedule(&s)),
        vec![(
            "spec.maxBackups".into(),
            "ignored: spec.maxReservedTime is also set and wins; remove one of them".into()
        )]
    );
    s.spec.max_backups = None;
    s.spec.max_reserved_time = None;
    assert_eq!(
        warnings(&validate_schedule(&s)),
        vec![(
            "spec".into(),
            "no retention policy: set spec.maxReservedTime or spec.maxBackups, or backups accumulate forever".into()
        )]
    );
    // Template problems are reported under spec.backupTemplate.
    s.spec.max_backups = Some(3);
    s.spec.backup_template.s3.as_mut().expect("s3").acl = "Private".into();
    assert_eq!(
        errors(&validate_schedule(&s)),
        vec![(
            "spec.backupTemplate.s3.acl".into(),
            r#"unsupported value "Private": did you mean "private"? (supported: private, public-read, public-read-write, authenticated-read, bucket-owner-read, bucket-owner-full-control; values are case-sensitive)"#.into()
        )]
    );
}

/// robfig/cron v1.1.0 gives a `*` or `?` with a step the star bit, which AND-s
/// day-of-month and day-of-week, and its `Next` searches five years: TiDB Operator would
/// run `0 0 */31 1 2` ("1 January, and a Tuesday") in 2030 and never again.
#[test]
fn schedules_robfig_stops_finding_are_rejected() {
    let mut s = schedule(SEED_SCHEDULE);
    s.spec.schedule = "0 0 */31 1 2".into();
    assert_eq!(
        errors(&validate_schedule(&s)),
        vec![(
            "spec.schedule".into(),
            r#"cron schedule "0 0 */31 1 2" never fires: it fires only on days that match both day-of-month and day-of-week, and after 2030 the next such day is in 2036, beyond the 5 years robfig/cron's Next searches, so TiDB Operator would stop scheduling backups; robfig/cron v1 AND-s the two fields because day-of-month is written with "*" or "?" and a step: list the days without "*" (e.g. "1" instead of "*/31") to fire on the days of either field, or restrict only one of the two"#.into()
        )]
    );
    // Without the star the fields are OR-ed: 1 January or any Tuesday in January.
    for ok in ["0 0 1 1 2", "0 0 1-31/31 1 2", "0 0 */31 1 2,3"] {
        s.spec.schedule = ok.into();
        assert_eq!(errors(&validate_schedule(&s)), vec![], "{ok}");
    }
    s.spec.schedule = "0 0 , * *".into();
    assert_eq!(
        errors(&validate_schedule(&s)),
        vec![(
            "spec.schedule".into(),
            r#"cron schedule "0 0 , * *" never fires: the day-of-month field allows no value; list at least one"#.into()
        )]
    );
}
