//! The alert rules and the dashboard of `manifests/monitoring`: the real `promtool`
//! checks and unit-tests the rules, the PrometheusRule and the kustomization carry the
//! same rules and dashboard, and every metric they query is one a running webhook
//! exports (the reconciler's: `tests/e2e/reconciler/process.rs`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{ROOT, Server, find, kustomize, post_review, tool};

#[path = "../common/monitoring.rs"]
mod queries;

fn monitoring(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("manifests/monitoring").join(file))
        .unwrap_or_else(|e| panic!("manifests/monitoring/{file}: {e}"))
}

fn monitoring_example(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("manifests/examples").join(file))
        .unwrap_or_else(|e| panic!("manifests/examples/{file}: {e}"))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("YAML")
}

fn promtool(args: &[&str]) -> String {
    let output = Command::new(tool("promtool"))
        .args(args)
        .current_dir(Path::new(ROOT).join("manifests/monitoring"))
        .output()
        .expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{report}");
    report
}

fn alert_names(rules: &Value) -> BTreeSet<String> {
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .map(|r| r["alert"].as_str().expect("alerting rules only").to_owned())
        .collect()
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let rules = yaml(&monitoring("alerts.yaml"));
    let alerts = alert_names(&rules);
    let check = promtool(&["check", "rules", "alerts.yaml"]);
    assert!(
        check.contains(&format!("SUCCESS: {} rules found", alerts.len())),
        "{check}"
    );
    let test = promtool(&["test", "rules", "alerts.test.yaml"]);
    assert!(test.contains("SUCCESS"), "{test}");

    // Every alert is shown firing (with its rendered annotations) by some test case.
    let tests = yaml(&monitoring("alerts.test.yaml"));
    let fired: BTreeSet<String> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().expect("alert_rule_test"))
        .filter(|case| case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|case| case["alertname"].as_str().expect("alertname").to_owned())
        .collect();
    let untested: Vec<&String> = alerts.difference(&fired).collect();
    assert!(
        untested.is_empty(),
        "alerts never shown firing: {untested:?}"
    );
    assert!(alerts.len() >= 15, "{alerts:?}");
}

#[test]
fn the_prometheus_rule_carries_the_same_rules() {
    let rules = yaml(&monitoring("alerts.yaml"));
    let rule = yaml(&monitoring("prometheusrule.yaml"));
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert!(
        rule["spec"]["groups"] == rules["groups"],
        "manifests/monitoring/prometheusrule.yaml differs from alerts.yaml: run `make manifests`"
    );
}

#[test]
fn kustomize_renders_the_rule_and_the_dashboard_config_map() {
    let objects = kustomize(&Path::new(ROOT).join("manifests/monitoring"));
    let dashboard = find(&objects, "ConfigMap", "tidb-backup-webhook-dashboard");
    assert_eq!(dashboard["metadata"]["namespace"], "tidb-admin");
    assert_eq!(
        dashboard["metadata"]["labels"],
        serde_json::json!({"grafana_dashboard": "1"}),
        "the sidecar's usual label"
    );
    assert_eq!(
        dashboard["data"]["tidb-backup-webhook.json"],
        monitoring("dashboard.json").as_str()
    );
    let rule = find(&objects, "PrometheusRule", "tidb-backup-webhook");
    assert_eq!(rule["metadata"]["namespace"], "tidb-admin");
    assert_eq!(
        rule["spec"]["groups"],
        yaml(&monitoring("alerts.yaml"))["groups"]
    );
}

#[test]
fn the_dashboard_is_grafana_json_over_a_data_source_variable() {
    let dashboard: Value = serde_json::from_str(&monitoring("dashboard.json")).expect("JSON");
    assert_eq!(dashboard["uid"], "tidb-backup-webhook");
    assert_eq!(dashboard["templating"]["list"][0]["type"], "datasource");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().expect("id")), "unique ids");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        assert!(
            panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
            "{} queries something",
            panel["title"]
        );
    }
}

/// The queried names come out of PromQL right: functions, aggregations, keywords,
/// labels, strings, durations and grouping lists are no metric names.
#[test]
fn the_query_scanner_finds_metric_names_only() {
    let names = |expr: &str| {
        queries::queried_metrics(expr)
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (le, webhook) (rate(a_bucket{webhook="/x",le!="b_total"}[5m])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        names(
            r#"max(max_over_time(x[1d])) unless max(y == 1) or sum without (i) (z offset 15m) > 5 * (vector(0))"#
        ),
        ["x", "y", "z"]
    );
    assert_eq!(
        names(
            r#"min(c > 0) - time() < 14 * 86400 and on () group_left (k) absent(up{job="j"} == 1)"#
        ),
        ["c", "up"]
    );
    let page = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 2\n# TYPE a_latency histogram\n# TYPE a_up gauge\na_up 1\n# EOF\n";
    assert_eq!(
        queries::exported_metrics(page)
            .into_iter()
            .collect::<Vec<_>>(),
        [
            "a_latency_bucket",
            "a_latency_count",
            "a_latency_sum",
            "a_requests_total",
            "a_up"
        ]
    );
}

/// Metrics the rules may use that no server of this project exports: the apiserver's
/// view of the webhook and Prometheus' own `up`. The dashboard uses none of them.
const EXTERNAL: [&str; 4] = [
    "up",
    "apiserver_admission_webhook_rejection_count",
    "apiserver_admission_webhook_fail_open_count",
    "apiserver_admission_webhook_admission_duration_seconds_bucket",
];

/// A TiKV pod of the guide's cluster `test1/demo1`, as the StatefulSet controller creates it.
fn tikv_pod_review() -> Value {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "test1", "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:statefulset-controller"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"generateName": "demo1-tikv-", "labels": {
                           "app.kubernetes.io/component": "tikv", "app.kubernetes.io/instance": "demo1",
                           "app.kubernetes.io/managed-by": "tidb-operator"}},
                       "spec": {"containers": [{"name": "tikv", "image": "pingcap/tikv:v8.5.0"}]}}
        }
    })
}

#[test]
fn every_queried_metric_is_exported_by_a_running_webhook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_path = dir.path().join("ca.crt");
    let server = Server::start(&[
        "--self-signed",
        "--ca-out",
        ca_path.to_str().expect("utf-8"),
        "--iam-role",
        "test1/demo1=arn:aws:iam::123456789012:role/user",
    ]);
    let ca = std::fs::read(&ca_path).expect("CA written");
    // Labelled series appear with their first event: a defaulted Backup, a denied one
    // and a TiKV pod that gets its role.
    let backup: Value =
        serde_json::from_str(&monitoring_example("review-backup-create.json")).expect("review");
    let (code, answer) = post_review(server.https.port(), &ca, "/mutate", &backup);
    assert_eq!(
        (code, &answer["response"]["allowed"]),
        (200, &Value::Bool(true)),
        "{answer}"
    );
    let mut invalid = backup.clone();
    invalid["request"]["object"]["spec"]["s3"]["acl"] = Value::from("public");
    let (code, answer) = post_review(server.https.port(), &ca, "/validate", &invalid);
    assert_eq!(
        (code, &answer["response"]["status"]["code"]),
        (200, &Value::from(422)),
        "{answer}"
    );
    let (code, answer) = post_review(server.https.port(), &ca, "/mutate", &tikv_pod_review());
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer["response"]["patch"].is_string(),
        "the role is injected: {answer}"
    );

    let (code, page) = server.admin_get("/metrics");
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("tidb_backup_webhook_requests_total{webhook=\"/validate\",code=\"422\",kind=\"Backup\",operation=\"CREATE\",allowed=\"false\",mutated=\"false\"} 1\n"),
        "{page}"
    );
    // What the alerts count is exported before the first event.
    for series in [
        "tidb_backup_webhook_certificate_reloads_total{result=\"failure\"} 0\n",
        "tidb_backup_webhook_iam_conflicts_total{kind=\"Pod\"} 0\n",
    ] {
        assert!(page.contains(series), "{series}{page}");
    }
    let exported = queries::exported_metrics(&page);

    let missing = queries::missing("tidb_backup_webhook_", &exported);
    assert!(
        missing.is_empty(),
        "queried but not exported by `serve`:\n{}\nexported: {exported:#?}",
        missing.join("\n")
    );
    // Every other metric is the reconciler's (checked against a running reconciler in
    // tests/e2e/reconciler/process.rs) or one of the few external ones, and those only in
    // alerts.
    let mut seen = BTreeSet::new();
    for (at, expr) in queries::shipped_queries() {
        for metric in queries::queried_metrics(&expr) {
            seen.insert(metric.clone());
            if metric.starts_with("tidb_backup_webhook_")
                || metric.starts_with("tidb_backup_reconcile_")
            {
                continue;
            }
            assert!(
                EXTERNAL.contains(&metric.as_str()) && at.starts_with("alerts.yaml"),
                "{at}: {metric} is neither exported by this project nor a known external metric"
            );
        }
    }
    // The scan found the webhook's and the reconciler's metrics in both files.
    for prefix in ["tidb_backup_webhook_", "tidb_backup_reconcile_"] {
        assert!(
            seen.iter().filter(|m| m.starts_with(prefix)).count() >= 5,
            "{seen:?}"
        );
    }
}
