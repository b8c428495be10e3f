//! IAM identity injection: configuration, resolution, pod decisions, Backups.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod admission;
mod watch;

use json_patch::Patch;
use serde_json::{Value, json};
use tidb_backup_webhook::api::{Backup, BackupSchedule};
use tidb_backup_webhook::iam::pod::{PodView, decide};
use tidb_backup_webhook::iam::{
    Choice, ClusterRef, IamResolver, Identity, ObjectList, Source, StaticConfig, declared_by_backup,
};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/user";
pub const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/other";

pub fn demo1() -> ClusterRef {
    ClusterRef {
        namespace: "test1".into(),
        name: "demo1".into(),
    }
}

pub fn static_resolver(flags: &[&str]) -> IamResolver {
    let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
    IamResolver::new(
        StaticConfig::load(&flags, None, None).expect("config"),
        None,
    )
}

pub fn backup(yaml: &str) -> Backup {
    serde_saphyr::from_str(yaml).expect("Backup YAML")
}

/// A Backup of test1/demo1 with a kube2iam role annotation.
pub fn backup_with_role(name: &str, role: &str) -> Backup {
    backup(&format!(
        "{{apiVersion: pingcap.com/v1alpha1, kind: Backup, metadata: {{name: {name}, namespace: test1, annotations: {{iam.amazonaws.com/role: '{role}'}}}}, spec: {{br: {{cluster: demo1}}, s3: {{provider: aws, bucket: b}}}}}}"
    ))
}

/// A TiKV pod of test1/demo1 as TiDB Operator creates it.
pub fn tikv_pod(extra_meta: Value, service_account: Option<&str>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "demo1-tikv-",
            "labels": {
                "app.kubernetes.io/component": "tikv",
                "app.kubernetes.io/instance": "demo1",
                "app.kubernetes.io/managed-by": "tidb-operator",
                "app.kubernetes.io/name": "tidb-cluster"
            }
        },
        "spec": {"containers": [{"name": "tikv", "image": "pingcap/tikv:v5.0.6"}]}
    });
    if let Some(sa) = service_account {
        pod["spec"]["serviceAccountName"] = json!(sa);
    }
    if let Value::Object(extra) = extra_meta {
        for (k, v) in extra {
            pod["metadata"][k] = v;
        }
    }
    pod
}

pub fn decide_on(
    pod: &Value,
    resolver: &IamResolver,
) -> tidb_backup_webhook::iam::pod::PodDecision {
    let view: PodView = serde_json::from_value(pod.clone()).expect("pod view");
    decide(&view, "test1", resolver)
}

pub fn apply(pod: &Value, patch: &Patch) -> Value {
    let mut patched = pod.clone();
    json_patch::patch(&mut patched, patch).expect("patch applies");
    patched
}

#[test]
fn static_configuration_flags_and_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "iamRoles:\n- namespace: test2\n  cluster: demo2\n  serviceAccount: backup-irsa\n- namespace: test3\n  cluster: demo3\n  role: backup\n",
    )
    .expect("write");
    let config = StaticConfig::load(
        &[format!("test1/demo1={ROLE}")],
        Some(&file),
        Some("arn:aws-cn:iam::123456789012:role/tidb/"),
    )
    .expect("valid");
    assert_eq!(
        config.get(&demo1()),
        Some(&Identity {
            role: Some(ROLE.into()),
            service_account: None
        })
    );
    let cluster = |ns: &str, name: &str| ClusterRef {
        namespace: ns.into(),
        name: name.into(),
    };
    assert_eq!(
        config.get(&cluster("test2", "demo2")),
        Some(&Identity {
            role: None,
            service_account: Some("backup-irsa".into())
        })
    );
    // A bare name is completed with --base-role-arn, as kube2iam does.
    assert_eq!(
        config
            .get(&cluster("test3", "demo3"))
            .and_then(|i| i.role.as_deref()),
        Some("arn:aws-cn:iam::123456789012:role/tidb/backup")
    );
}

#[test]
fn configuration_errors_name_the_entry_and_the_fix() {
    let load = |flags: &[&str], base: Option<&str>| {
        let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        StaticConfig::load(&flags, None, base)
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        load(&["demo1=arn"], None),
        r#"--iam-role "demo1=arn": expected NAMESPACE/CLUSTER=ROLE"#
    );
    assert_eq!(
        load(&["test1/demo1=user"], None),
        r#"--iam-role "test1/demo1=user": "user" is a bare role name: give the full ARN, or --base-role-arn (as kube2iam's) to complete it"#
    );
    assert_eq!(
        load(&["test1/demo1=arn:aws:iam::1234:role/user"], None),
        r#"--iam-role "test1/demo1=arn:aws:iam::1234:role/user": invalid role ARN "arn:aws:iam::1234:role/user": the account must be 12 digits (expected arn:aws:iam::<12-digit account>:role/<path/name>)"#
    );
    assert_eq!(
        load(&["test1/demo1=arn:aws:s3:::bucket"], None),
        r#"--iam-role "test1/demo1=arn:aws:s3:::bucket": invalid role ARN "arn:aws:s3:::bucket": not an IAM ARN (expected arn:aws:iam::<12-digit account>:role/<path/name>)"#
    );
    assert_eq!(
        load(&["test1/demo1=arn:aws:iam::123456789012:user/bob"], None),
        r#"--iam-role "test1/demo1=arn:aws:iam::123456789012:user/bob": invalid role ARN "arn:aws:iam::123456789012:user/bob": not a role (expected arn:aws:iam::<12-digit account>:role/<path/name>)"#
    );
    assert_eq!(
        load(
            &["test1/demo1=role with spaces"],
            Some("arn:aws:iam::123456789012:role/")
        ),
        r#"--iam-role "test1/demo1=role with spaces": "role with spaces" is neither a role ARN (arn:aws:iam::<12-digit account>:role/<name>) nor a role name (up to 64 of A-Z a-z 0-9 + = , . @ _ -)"#
    );
    assert_eq!(
        load(&[&format!("Test1/demo1={ROLE}")], None),
        format!(
            r#"--iam-role "Test1/demo1={ROLE}": namespace: invalid name "Test1": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"#
        )
    );
    assert_eq!(
        load(
            &[
                &format!("test1/demo1={ROLE}"),
                &format!("test1/demo1={OTHER_ROLE}")
            ],
            None
        ),
        format!(
            r#"--iam-role "test1/demo1={OTHER_ROLE}": role {OTHER_ROLE} for test1/demo1 conflicts with {ROLE} configured earlier"#
        )
    );
    assert_eq!(
        load(&[], Some("arn:aws:iam::123456789012:role")),
        r#"--base-role-arn "arn:aws:iam::123456789012:role": expected an ARN prefix such as arn:aws:iam::123456789012:role/"#
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "iamRoles:\n- namespace: test1\n  cluster: demo1\n  roles: x\n",
    )
    .expect("write");
    let err = StaticConfig::load(&[], Some(&file), None)
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("unknown field `roles`"), "{err}");
    std::fs::write(&file, "iamRoles:\n- namespace: test1\n  cluster: demo1\n").expect("write");
    assert_eq!(
        StaticConfig::load(&[], Some(&file), None)
            .expect_err("empty")
            .to_string(),
        format!(
            "--config {}: iamRoles[0]: set role, serviceAccount or both",
            file.display()
        )
    );
}

#[test]
fn declarations_follow_the_three_permission_methods() {
    // kube2iam: the annotation.
    let d = declared_by_backup(&backup_with_role("a", ROLE)).expect("declares");
    assert_eq!(
        (d.cluster, d.identity.role.as_deref()),
        (demo1(), Some(ROLE))
    );
    // Keys: nothing declared.
    let keys = backup(include_str!(
        "../../manifests/examples/backup-s3-secret.yaml"
    ));
    assert_eq!(declared_by_backup(&keys), None);
    // IRSA as the guide writes it: default service account, no keys, sendCredToTikv false.
    let irsa = backup(include_str!("../../manifests/examples/backup-s3-irsa.yaml"));
    assert_eq!(
        declared_by_backup(&irsa).map(|d| d.identity),
        Some(Identity {
            role: None,
            service_account: Some("tidb-backup-manager".into())
        })
    );
    // A defaulted Backup with keys carries the default service account: no IRSA claim.
    let mut defaulted = keys.clone();
    tidb_backup_webhook::rules::default_backup(&mut defaulted);
    assert_eq!(declared_by_backup(&defaulted), None);
    // Finished Backups no longer count.
    let mut done = backup_with_role("done", OTHER_ROLE);
    done.status = Some(tidb_backup_webhook::api::BackupStatus {
        phase: "Complete".into(),
        ..Default::default()
    });
    assert_eq!(declared_by_backup(&done), None);
}

#[test]
fn resolution_static_wins_dynamic_agrees_or_conflicts() {
    let schedule: BackupSchedule = serde_saphyr::from_str(include_str!(
        "../../manifests/examples/schedule-s3-kube2iam.yaml"
    ))
    .expect("yaml");
    let list = ObjectList {
        backups: vec![backup_with_role("a", ROLE)],
        schedules: vec![schedule],
    };
    let resolver = IamResolver::new(StaticConfig::default(), Some(Box::new(list.clone())));
    assert_eq!(
        resolver.resolve(&demo1()).role,
        Choice::One {
            value: ROLE.into(),
            source: Source::Backup {
                namespace: "test1".into(),
                name: "a".into()
            }
        }
    );
    let mut conflicting = list.clone();
    conflicting.backups.push(backup_with_role("b", OTHER_ROLE));
    let resolver = IamResolver::new(StaticConfig::default(), Some(Box::new(conflicting.clone())));
    let Choice::Conflict(declared) = resolver.resolve(&demo1()).role else {
        panic!("a conflict")
    };
    let values: Vec<&str> = declared.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(values, [OTHER_ROLE, ROLE, ROLE]);
    // Static configuration is authoritative for its clusters.
    let flags = vec![format!("test1/demo1={OTHER_ROLE}")];
    let resolver = IamResolver::new(
        StaticConfig::load(&flags, None, None).expect("config"),
        Some(Box::new(conflicting)),
    );
    assert_eq!(
        resolver.resolve(&demo1()).role,
        Choice::One {
            value: OTHER_ROLE.into(),
            source: Source::Static
        }
    );
}

#[test]
fn tikv_pod_gets_exactly_one_patch_adding_the_role() {
    let resolver = static_resolver(&[&format!("test1/demo1={ROLE}")]);
    let pod = tikv_pod(json!({}), Some("default"));
    let decision = decide_on(&pod, &resolver);
    assert_eq!(
        serde_json::to_value(&decision.patch).expect("json"),
        json!([{"op": "add", "path": "/metadata/annotations", "value": {"iam.amazonaws.com/role": ROLE}}])
    );
    assert_eq!(decision.injected, ["role"]);
    assert_eq!(
        decision.audit.get("iam-role-injected").map(String::as_str),
        Some(format!("{ROLE} (from static configuration for TiDB cluster test1/demo1)").as_str())
    );
    // Re-invocation on the patched pod is a no-op.
    let patched = apply(&pod, &decision.patch);
    assert_eq!(
        patched["metadata"]["annotations"]["iam.amazonaws.com/role"],
        ROLE
    );
    assert!(decide_on(&patched, &resolver).patch.0.is_empty());
}

#[test]
fn annotation_keys_round_trip_through_the_escaping() {
    let resolver = static_resolver(&[&format!("test1/demo1={ROLE}")]);
    let pod = tikv_pod(
        json!({"annotations": {"prometheus.io/scrape": "true", "a~b/c": "x"}}),
        None,
    );
    let decision = decide_on(&pod, &resolver);
    assert_eq!(
        serde_json::to_value(&decision.patch).expect("json"),
        json!([{"op": "add", "path": "/metadata/annotations/iam.amazonaws.com~1role", "value": ROLE}])
    );
    let patched = apply(&pod, &decision.patch);
    assert_eq!(
        patched["metadata"]["annotations"],
        json!({"prometheus.io/scrape": "true", "a~b/c": "x", "iam.amazonaws.com/role": ROLE})
    );
}

#[test]
fn user_values_and_unrelated_pods_are_left_alone() {
    let resolver = static_resolver(&[&format!("test1/demo1={ROLE}")]);
    let mine = tikv_pod(
        json!({"annotations": {"iam.amazonaws.com/role": OTHER_ROLE}}),
        None,
    );
    let decision = decide_on(&mine, &resolver);
    assert!(decision.patch.0.is_empty() && decision.injected.is_empty());
    let unrelated = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "web"}}, "spec": {}});
    assert!(decide_on(&unrelated, &resolver).patch.0.is_empty());
    let pd = tikv_pod(json!({}), None);
    let mut pd = pd;
    pd["metadata"]["labels"]["app.kubernetes.io/component"] = json!("pd");
    assert!(decide_on(&pd, &resolver).patch.0.is_empty());
    // Another cluster in the namespace.
    let mut other = tikv_pod(json!({}), None);
    other["metadata"]["labels"]["app.kubernetes.io/instance"] = json!("demo2");
    assert!(decide_on(&other, &resolver).patch.0.is_empty());
}

#[test]
fn irsa_service_account_only_replaces_empty_or_default() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "iamRoles:\n- namespace: test1\n  cluster: demo1\n  serviceAccount: tidb-backup-manager\n",
    )
    .expect("write");
    let resolver = IamResolver::new(
        StaticConfig::load(&[], Some(&file), None).expect("config"),
        None,
    );
    let patch_of =
        |pod: &Value| serde_json::to_value(&decide_on(pod, &resolver).patch).expect("json");
    assert_eq!(
        patch_of(&tikv_pod(json!({}), Some("default"))),
        json!([{"op": "add", "path": "/spec/serviceAccountName", "value": "tidb-backup-manager"}])
    );
    assert_eq!(
        patch_of(&tikv_pod(json!({}), None)),
        json!([{"op": "add", "path": "/spec/serviceAccountName", "value": "tidb-backup-manager"}])
    );
    let mut deprecated = tikv_pod(json!({}), Some("default"));
    deprecated["spec"]["serviceAccount"] = json!("default");
    assert_eq!(
        patch_of(&deprecated),
        json!([
            {"op": "add", "path": "/spec/serviceAccountName", "value": "tidb-backup-manager"},
            {"op": "add", "path": "/spec/serviceAccount", "value": "tidb-backup-manager"}
        ])
    );
    assert_eq!(
        patch_of(&tikv_pod(json!({}), Some("tikv-custom"))),
        json!([])
    );
    let patched = apply(
        &tikv_pod(json!({}), Some("default")),
        &decide_on(&tikv_pod(json!({}), Some("default")), &resolver).patch,
    );
    assert_eq!(patch_of(&patched), json!([]), "re-invocation is a no-op");
    let mut off = IamResolver::new(
        StaticConfig::load(&[], Some(&file), None).expect("config"),
        None,
    );
    off.inject_service_account = false;
    let view: PodView = serde_json::from_value(tikv_pod(json!({}), Some("default"))).expect("view");
    assert!(decide(&view, "test1", &off).patch.0.is_empty());
}

#[test]
fn backup_pods_are_resolved_through_their_backup() {
    let list = ObjectList {
        backups: vec![backup_with_role("demo1-backup-s3", ROLE)],
        schedules: vec![],
    };
    let resolver = IamResolver::new(StaticConfig::default(), Some(Box::new(list)));
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"labels": {"tidb.pingcap.com/backup": "demo1-backup-s3", "app.kubernetes.io/component": "backup"}},
        "spec": {"serviceAccountName": "tidb-backup-manager"}
    });
    let decision = decide_on(&pod, &resolver);
    assert_eq!(
        serde_json::to_value(&decision.patch).expect("json"),
        json!([{"op": "add", "path": "/metadata/annotations", "value": {"iam.amazonaws.com/role": ROLE}}])
    );
    assert_eq!(
        decision.audit.get("iam-role-injected").map(String::as_str),
        Some(
            format!("{ROLE} (from Backup test1/demo1-backup-s3 for TiDB cluster test1/demo1)")
                .as_str()
        )
    );
    // A backup pod of an unknown Backup is left alone.
    let mut unknown = pod.clone();
    unknown["metadata"]["labels"]["tidb.pingcap.com/backup"] = json!("gone");
    assert!(decide_on(&unknown, &resolver).patch.0.is_empty());
}

#[test]
fn conflicting_backups_produce_no_injection_and_a_warning() {
    let list = ObjectList {
        backups: vec![
            backup_with_role("a", ROLE),
            backup_with_role("b", OTHER_ROLE),
        ],
        schedules: vec![],
    };
    let resolver = IamResolver::new(StaticConfig::default(), Some(Box::new(list)));
    let decision = decide_on(&tikv_pod(json!({}), None), &resolver);
    assert!(decision.patch.0.is_empty());
    assert!(decision.conflict);
    assert_eq!(
        decision.warnings,
        [format!(
            "tidb-backup-webhook: conflicting IAM roles for TiDB cluster test1/demo1 ({OTHER_ROLE} from Backup test1/b; {ROLE} from Backup test1/a): none injected; declare one per cluster"
        )]
    );
}
