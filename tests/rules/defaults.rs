//! Defaulting: which fields are filled, with what, and what is left to BR.

use tidb_backup_webhook::rules::{default_backup, default_schedule};

use super::*;

#[test]
fn seed_backup_gets_visible_defaults_and_keeps_brs_own() {
    let mut b = backup(SEED_BACKUP);
    let filled = default_backup(&mut b);
    assert_eq!(
        filled,
        [
            "spec.backupMode",
            "spec.cleanPolicy",
            "spec.serviceAccount",
            "spec.tikvGCLifeTime",
            "spec.s3.acl",
            "spec.s3.storageClass",
        ]
    );
    assert_eq!(b.spec.backup_mode, "snapshot");
    assert_eq!(b.spec.clean_policy, "Retain");
    assert_eq!(b.spec.service_account, "tidb-backup-manager");
    assert_eq!(b.spec.tikv_gc_life_time.as_deref(), Some("72h"));
    let s3 = b.spec.s3.as_ref().expect("s3");
    assert_eq!(
        (s3.acl.as_str(), s3.storage_class.as_str()),
        ("private", "STANDARD_IA")
    );
    let br = b.spec.br.as_ref().expect("br");
    // BR's own defaults stay unset so BR remains authoritative; keys mean no IAM default.
    assert_eq!(br.concurrency, None);
    assert_eq!(br.checksum, None);
    assert_eq!(br.log_level, "");
    assert_eq!(br.send_cred_to_tikv, None);
}

#[test]
fn minimal_backup_is_filled_from_context() {
    let mut b = minimal_backup();
    b.spec.from = Some(tidb_backup_webhook::api::TiDBAccessConfig {
        host: "demo1-tidb".into(),
        secret_name: "backup-demo1-tidb-secret".into(),
        ..Default::default()
    });
    let filled = default_backup(&mut b);
    assert_eq!(
        filled,
        [
            "spec.backupMode",
            "spec.backupType",
            "spec.cleanPolicy",
            "spec.serviceAccount",
            "spec.from.port",
            "spec.from.user",
            "spec.tikvGCLifeTime",
            "spec.s3.acl",
            "spec.s3.storageClass",
            "spec.br.clusterNamespace",
        ]
    );
    let from = b.spec.from.as_ref().expect("from");
    assert_eq!((from.port, from.user.as_str()), (Some(4000), "root"));
    assert_eq!(b.spec.backup_type, "full");
    assert_eq!(b.spec.br.as_ref().expect("br").cluster_namespace, "test1");
}

#[test]
fn aws_only_storage_defaults_and_unknown_namespace() {
    let mut b = minimal_backup();
    b.metadata.namespace = None;
    b.spec.s3.as_mut().expect("s3").provider = "minio".into();
    let filled = default_backup(&mut b);
    assert_eq!(
        filled,
        [
            "spec.backupMode",
            "spec.backupType",
            "spec.cleanPolicy",
            "spec.serviceAccount"
        ]
    );
    let s3 = b.spec.s3.as_ref().expect("s3");
    assert_eq!((s3.acl.as_str(), s3.storage_class.as_str()), ("", ""));
    assert_eq!(b.spec.br.as_ref().expect("br").cluster_namespace, "");
}

#[test]
fn send_cred_to_tikv_false_only_for_iam_without_keys() {
    let role = || {
        Some(
            [(
                "iam.amazonaws.com/role".to_owned(),
                "arn:aws:iam::123456789012:role/user".to_owned(),
            )]
            .into(),
        )
    };
    let send = |b: &Backup| b.spec.br.as_ref().expect("br").send_cred_to_tikv;

    let mut kube2iam = minimal_backup();
    kube2iam.metadata.annotations = role();
    assert!(default_backup(&mut kube2iam).contains(&"spec.br.sendCredToTikv".to_owned()));
    assert_eq!(send(&kube2iam), Some(false));

    let mut irsa = minimal_backup();
    irsa.spec.service_account = "backup-irsa".into();
    default_backup(&mut irsa);
    assert_eq!(send(&irsa), Some(false));

    // The default service account cannot be told apart from plain RBAC.
    let mut default_sa = minimal_backup();
    default_sa.spec.service_account = "tidb-backup-manager".into();
    default_backup(&mut default_sa);
    assert_eq!(send(&default_sa), None);

    // Keys present: BR has credentials to send, so BR's default stays.
    let mut keys = minimal_backup();
    keys.metadata.annotations = role();
    keys.spec.s3.as_mut().expect("s3").secret_name = "s3-secret".into();
    default_backup(&mut keys);
    assert_eq!(send(&keys), None);

    // An explicit user choice is never overwritten.
    let mut explicit = minimal_backup();
    explicit.metadata.annotations = role();
    explicit.spec.br.as_mut().expect("br").send_cred_to_tikv = Some(true);
    default_backup(&mut explicit);
    assert_eq!(send(&explicit), Some(true));
}

#[test]
fn schedule_template_is_defaulted_from_the_schedule() {
    let mut s = schedule(SEED_SCHEDULE_KUBE2IAM);
    s.spec
        .backup_template
        .br
        .as_mut()
        .expect("br")
        .cluster_namespace = String::new();
    s.spec
        .backup_template
        .br
        .as_mut()
        .expect("br")
        .send_cred_to_tikv = None;
    let filled = default_schedule(&mut s);
    assert_eq!(
        filled,
        [
            "spec.backupTemplate.backupMode",
            "spec.backupTemplate.cleanPolicy",
            "spec.backupTemplate.serviceAccount",
            "spec.backupTemplate.tikvGCLifeTime",
            "spec.backupTemplate.s3.acl",
            "spec.backupTemplate.s3.storageClass",
            "spec.backupTemplate.br.clusterNamespace",
            "spec.backupTemplate.br.sendCredToTikv",
        ]
    );
    let br = s.spec.backup_template.br.as_ref().expect("br");
    assert_eq!(br.cluster_namespace, "test1");
    assert_eq!(br.send_cred_to_tikv, Some(false));
}

#[test]
fn defaulting_twice_changes_nothing_on_the_examples() {
    for yaml in [SEED_BACKUP, SEED_BACKUP_KUBE2IAM, SEED_BACKUP_IRSA] {
        let mut b = backup(yaml);
        default_backup(&mut b);
        let once = b.clone();
        assert_eq!(default_backup(&mut b), Vec::<String>::new());
        assert_eq!(b, once);
    }
}

/// `filled_field_json`, which `/mutate` writes its operations from, says of every field
/// the defaults fill what serialising the spec says, before (left out or present) and
/// after; all the fields it knows are filled here, explicit empty values included.
#[test]
fn filled_field_json_agrees_with_the_serialised_spec() {
    use tidb_backup_webhook::rules::defaults::filled_field_json;
    let cases = [
        r#"{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "test1",
                "annotations": {"iam.amazonaws.com/role": "arn:aws:iam::1:role/r"}},
            "spec": {"br": {"cluster": "demo1"}, "from": {"host": "db"},
                "tikvGCLifeTime": "", "s3": {"provider": "aws", "acl": ""},
                "backoffRetryPolicy": {}, "cleanOption": {}}}"#,
        r#"{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "test1"},
            "spec": {"backupMode": "volume-snapshot", "br": {"cluster": "demo1"},
                "s3": {"provider": "aws"}, "cleanPolicy": ""}}"#,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let before: Backup = serde_json::from_str(case).expect("Backup");
        let mut after = before.clone();
        let filled = default_backup(&mut after);
        let (before_json, after_json) = (
            serde_json::to_value(&before.spec).expect("serialises"),
            serde_json::to_value(&after.spec).expect("serialises"),
        );
        for path in filled {
            let field = path.strip_prefix("spec.").expect("under spec");
            let pointer = format!("/{}", field.replace('.', "/"));
            assert_eq!(
                filled_field_json(&after.spec, field),
                Some(after_json.pointer(&pointer).cloned()),
                "{path} after defaulting"
            );
            assert!(after_json.pointer(&pointer).is_some(), "{path} is written");
            assert_eq!(
                filled_field_json(&before.spec, field),
                Some(before_json.pointer(&pointer).cloned()),
                "{path} as received"
            );
            seen.insert(field.to_owned());
        }
    }
    // The `tikvGCLifeTime: ""` above is present before (its operation is a replace).
    assert_eq!(
        filled_field_json(
            &serde_json::from_str::<Backup>(cases[0])
                .expect("Backup")
                .spec,
            "tikvGCLifeTime"
        ),
        Some(Some(serde_json::json!("")))
    );
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "backoffRetryPolicy.maxRetryTimes",
            "backoffRetryPolicy.minRetryDuration",
            "backoffRetryPolicy.retryTimeout",
            "backupMode",
            "backupType",
            "br.clusterNamespace",
            "br.sendCredToTikv",
            "calcSizeLevel",
            "cleanOption.retryCount",
            "cleanOption.snapshotsDeleteRatio",
            "cleanPolicy",
            "from.port",
            "from.user",
            "s3.acl",
            "s3.storageClass",
            "serviceAccount",
            "tikvGCLifeTime",
            "volumeBackupInitJobMaxActiveSeconds",
        ]
    );
}
