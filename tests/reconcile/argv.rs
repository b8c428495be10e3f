//! BR's command line, exactly as TiDB Operator builds it (reference §5.5 and the cases of
//! `TestConstructBRGlobalOptionsForBackup`, §9).

use tidb_backup_webhook::reconcile::argv::{backup_args, go_path_clean, go_path_join, remote_path};
use tidb_backup_webhook::reconcile::defaulted;

use super::{SEED_BACKUP_IRSA, SEED_BACKUP_KUBE2IAM, SEED_BACKUP_SECRET, backup, strings};

/// §9's fixture: `br{cluster-1, default}`, S3 ceph `http://10.0.0.1`, bucket `test1-demo1`.
fn operator_fixture(extra: &str) -> tidb_backup_webhook::api::Backup {
    backup(&format!(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {{name: demo1, namespace: default, uid: u1}}
spec:
  br: {{cluster: cluster-1, clusterNamespace: default}}
  s3: {{provider: ceph, endpoint: "http://10.0.0.1", bucket: test1-demo1, secretName: demo}}
{extra}
"#
    ))
}

/// The arguments after TiDB Operator's fixed `backup <type> --pd=…` prefix and before
/// the selection part: what `constructBROptions` calls the global options.
fn global_options(args: &[String]) -> Vec<String> {
    args.iter()
        .skip(3)
        .filter(|a| a.starts_with("--storage") || a.starts_with("--s3."))
        .cloned()
        .collect()
}

#[test]
fn operator_base_global_options() {
    let args = backup_args(&operator_fixture("").spec, "default", false).expect("argv");
    assert_eq!(
        global_options(&args),
        strings(&[
            "--storage=s3://test1-demo1",
            "--s3.provider=ceph",
            "--s3.endpoint=http://10.0.0.1"
        ])
    );
    assert_eq!(
        args,
        strings(&[
            "backup",
            "full",
            "--pd=cluster-1-pd.default:2379",
            "--storage=s3://test1-demo1",
            "--s3.provider=ceph",
            "--s3.endpoint=http://10.0.0.1",
        ])
    );
}

#[test]
fn operator_table_filter_case() {
    let b = operator_fixture("  tableFilter: [\"mysql.*\"]");
    let args = backup_args(&b.spec, "default", false).expect("argv");
    assert_eq!(&args[6..], strings(&["--filter", "mysql.*"]));
}

#[test]
fn operator_table_case_puts_table_before_db() {
    let mut b = operator_fixture("  backupType: table");
    let br = b.spec.br.as_mut().expect("br");
    br.table = "table1".into();
    br.db = "mysql".into();
    let args = backup_args(&b.spec, "default", false).expect("argv");
    assert_eq!(&args[..2], strings(&["backup", "table"]));
    assert_eq!(&args[6..], strings(&["--table=table1", "--db=mysql"]));
}

#[test]
fn operator_db_case() {
    let mut b = operator_fixture("  backupType: db");
    b.spec.br.as_mut().expect("br").db = "mysql".into();
    let args = backup_args(&b.spec, "default", false).expect("argv");
    assert_eq!(&args[..2], strings(&["backup", "db"]));
    assert_eq!(&args[6..], strings(&["--db=mysql"]));
}

#[test]
fn filter_wins_over_db_and_table_like_the_operator() {
    let mut b = operator_fixture("  backupType: table\n  tableFilter: [\"*.*\", \"!db.t\"]");
    let br = b.spec.br.as_mut().expect("br");
    br.table = "t".into();
    br.db = "db".into();
    let args = backup_args(&b.spec, "default", false).expect("argv");
    assert_eq!(
        &args[6..],
        strings(&["--filter", "*.*", "--filter", "!db.t"])
    );
}

#[test]
fn every_flag_in_order_with_equals_for_booleans_and_options_last() {
    let b = backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: b, namespace: ns}
spec:
  backupType: full
  br:
    cluster: demo1
    logLevel: debug
    statusAddr: "0.0.0.0:8080"
    sendCredToTikv: false
    concurrency: 8
    rateLimit: 100
    timeAgo: 1h30m
    checksum: false
    options: ["--lastbackupts=420134118382108673", "--ignore-stats=true"]
  s3:
    provider: aws
    region: us-west-1
    bucket: my-bucket
    prefix: /a//b/../c/
    endpoint: https://s3.us-west-1.amazonaws.com
    sse: aws:kms
    acl: private
    storageClass: STANDARD
  tableFilter: ["db1.*"]
"#,
    );
    let args = backup_args(&b.spec, "ns", true).expect("argv");
    assert_eq!(
        args,
        strings(&[
            "backup",
            "full",
            "--pd=demo1-pd.ns:2379",
            "--ca=/var/lib/cluster-client-tls/ca.crt",
            "--cert=/var/lib/cluster-client-tls/tls.crt",
            "--key=/var/lib/cluster-client-tls/tls.key",
            "--log-level=debug",
            "--status-addr=0.0.0.0:8080",
            "--send-credentials-to-tikv=false",
            "--storage=s3://my-bucket/a/c",
            "--s3.region=us-west-1",
            "--s3.provider=aws",
            "--s3.endpoint=https://s3.us-west-1.amazonaws.com",
            "--s3.sse=aws:kms",
            "--s3.acl=private",
            "--s3.storage-class=STANDARD",
            "--filter",
            "db1.*",
            "--concurrency=8",
            "--ratelimit=100",
            "--timeago=1h30m",
            "--checksum=false",
            "--lastbackupts=420134118382108673",
            "--ignore-stats=true",
        ])
    );
}

/// The three Backups of the user guide, defaulted as the reconciler executes them. The
/// webhook's aws defaults (`acl: private`, `storageClass: STANDARD_IA`) reach BR, so a
/// Backup runs the same whether or not the webhook admitted it.
#[test]
fn seed_examples() {
    let common = ["backup", "full", "--pd=demo1-pd.test1:2379"];
    let storage = [
        "--storage=s3://my-bucket/my-folder",
        "--s3.region=us-west-1",
        "--s3.provider=aws",
        "--s3.acl=private",
        "--s3.storage-class=STANDARD_IA",
    ];
    let secret = defaulted(&backup(SEED_BACKUP_SECRET));
    assert_eq!(
        backup_args(&secret.spec, "test1", false).expect("argv"),
        strings(&[&common[..], &storage[..]].concat())
    );
    for yaml in [SEED_BACKUP_KUBE2IAM, SEED_BACKUP_IRSA] {
        let iam = defaulted(&backup(yaml));
        assert_eq!(
            backup_args(&iam.spec, "test1", false).expect("argv"),
            strings(
                &[
                    &common[..],
                    &["--send-credentials-to-tikv=false"],
                    &storage[..]
                ]
                .concat()
            )
        );
    }
}

#[test]
fn cluster_namespace_defaults_to_the_backups() {
    let mut b = operator_fixture("");
    b.spec.br.as_mut().expect("br").cluster_namespace.clear();
    let args = backup_args(&b.spec, "prod", false).expect("argv");
    assert_eq!(args[2], "--pd=cluster-1-pd.prod:2379");
}

#[test]
fn remote_paths_match_the_operator() {
    let s3 = operator_fixture("");
    assert_eq!(remote_path(&s3.spec).expect("s3"), "s3://test1-demo1");
    let gcs = backup(
        "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: g}\nspec:\n  gcs: {projectId: p, bucket: test1-demo1, prefix: x}\n",
    );
    assert_eq!(remote_path(&gcs.spec).expect("gcs"), "gcs://test1-demo1/x/");
    let none =
        backup("apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: n}\nspec: {}\n");
    let err = remote_path(&none.spec).expect_err("no storage");
    assert_eq!(
        err.to_string(),
        "spec: no storage provider: set exactly one of s3, gcs, azblob or local"
    );
}

#[test]
fn missing_br_is_an_error_naming_the_field() {
    let b = backup(
        "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: n}\nspec:\n  s3: {provider: aws, bucket: b}\n",
    );
    let err = backup_args(&b.spec, "ns", false).expect_err("no br");
    assert_eq!(err.path, "spec.br");
}

#[test]
fn go_path_semantics() {
    assert_eq!(go_path_join(&["bucket", ""]), "bucket");
    assert_eq!(go_path_join(&["bucket", "/p/"]), "bucket/p");
    assert_eq!(go_path_join(&["bucket", "a/../../b"]), "b");
    assert_eq!(go_path_clean("/../a"), "/a");
    assert_eq!(go_path_clean(""), ".");
    assert_eq!(go_path_clean("a/./b//c/"), "a/b/c");
}

/// Golden command lines for the other storages, in TiDB Operator's order
/// (`GenStorageArgsForFlag`: the storage URL, then the provider's own flags).
#[test]
fn gcs_azblob_local_and_path_style_golden_argv() {
    let of = |storage: &str| {
        let b = defaulted(&backup(&format!(
            "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {{name: b, namespace: test1}}\nspec:\n  br: {{cluster: demo1, sendCredToTikv: false, logLevel: info}}\n{storage}\n"
        )));
        backup_args(&b.spec, "test1", false).expect("argv")
    };
    assert_eq!(
        of(
            "  gcs: {projectId: p, bucket: my-bucket, prefix: /demo1/, storageClass: NEARLINE, objectAcl: private, secretName: gcs-secret}"
        ),
        strings(&[
            "backup",
            "full",
            "--pd=demo1-pd.test1:2379",
            "--log-level=info",
            "--send-credentials-to-tikv=false",
            "--storage=gcs://my-bucket/demo1/",
            "--gcs.storage-class=NEARLINE",
            "--gcs.predefined-acl=private",
            "--gcs.credentials-file=/var/lib/gcs-credentials/credentials",
        ])
    );
    assert_eq!(
        of("  azblob: {container: backups, prefix: demo1, accessTier: Cool, secretName: az}"),
        strings(&[
            "backup",
            "full",
            "--pd=demo1-pd.test1:2379",
            "--log-level=info",
            "--send-credentials-to-tikv=false",
            "--storage=azure://backups/demo1/",
            "--azblob.access-tier=Cool",
        ])
    );
    // The account and the SAS token travel in the URL, query-escaped as Go's url.Values.
    assert_eq!(
        of(
            "  azblob: {container: backups, prefix: demo1, storageAccount: acct, sasToken: \"sv=2024-11-04&sig=a/b+c=\"}"
        )[5],
        "--storage=azure://backups/demo1/?account-name=acct&sas-token=sv%3D2024-11-04%26sig%3Da%2Fb%2Bc%3D"
    );
    assert_eq!(
        of(
            "  local:\n    volume: {name: nfs, nfs: {server: 10.0.0.9, path: /exports}}\n    volumeMount: {name: nfs, mountPath: /backup}\n    prefix: demo1/full"
        ),
        strings(&[
            "backup",
            "full",
            "--pd=demo1-pd.test1:2379",
            "--log-level=info",
            "--send-credentials-to-tikv=false",
            "--storage=local:///backup/demo1/full",
        ])
    );
    // s3.forcePathStyle (TiDB Operator v1.6.2) goes into the URL.
    assert_eq!(
        of(
            "  s3: {provider: minio, endpoint: \"http://minio:9000\", bucket: b, prefix: p, forcePathStyle: false}"
        )[5],
        "--storage=s3://b/p?force-path-style=false"
    );
}

/// Azure credentials reach BR as TiDB Operator passes them: the account from the spec or
/// the Secret, the key or Azure AD from the Secret, each optional; none with a SAS token.
#[test]
fn azblob_credentials_in_the_job_environment() {
    use tidb_backup_webhook::reconcile::job::azblob_env;
    let env = |azblob: &str| -> Vec<String> {
        let b = backup(&format!(
            "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {{name: b, namespace: test1}}\nspec:\n  br: {{cluster: demo1}}\n  azblob: {azblob}\n"
        ));
        azblob_env(&b)
            .iter()
            .map(|v| match (&v.value, &v.value_from) {
                (Some(value), _) => format!("{}={value}", v.name),
                (None, Some(from)) => {
                    let key = from.secret_key_ref.as_ref().expect("secret ref");
                    format!(
                        "{}<-{}/{} optional={:?}",
                        v.name, key.name, key.key, key.optional
                    )
                }
                _ => v.name.clone(),
            })
            .collect()
    };
    assert_eq!(
        env("{container: c, secretName: az}"),
        [
            "AZURE_STORAGE_ACCOUNT<-az/AZURE_STORAGE_ACCOUNT optional=Some(true)",
            "AZURE_STORAGE_KEY<-az/AZURE_STORAGE_KEY optional=Some(true)",
            "AZURE_CLIENT_ID<-az/AZURE_CLIENT_ID optional=Some(true)",
            "AZURE_CLIENT_SECRET<-az/AZURE_CLIENT_SECRET optional=Some(true)",
            "AZURE_TENANT_ID<-az/AZURE_TENANT_ID optional=Some(true)",
        ]
    );
    assert_eq!(
        env("{container: c, storageAccount: acct, sasToken: sv=1}"),
        ["AZURE_STORAGE_ACCOUNT=acct"]
    );
}
