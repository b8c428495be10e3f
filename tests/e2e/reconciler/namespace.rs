//! The README's "Namespace deletion never hangs": deleting a namespace that holds
//! Backups with the cleanPolicy finalizer finishes, through the real namespace
//! controller. The apiserver refuses the clean Jobs there (NamespaceLifecycle); the
//! reconciler records `CleanFailed` (`NamespaceTerminating`) naming the data left
//! behind, announces it on the Namespace (stored in `default`), and lets go.

use serde_json::{Value, json};

use super::gc::last_status_written;
use super::{CLEAN_FINALIZER, PATIENCE, apply, simple_backup, wait_for_phase};
use crate::harness::Env;
use crate::harness::audit;
use crate::harness::kubelet;
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;

pub fn deleting_a_namespace_with_backups_never_hangs(env: &Env) {
    let namespace = env.namespace("rec-namespace");
    let ns = namespace.name.clone();
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let with_policy = |name: &str, policy: &str| {
        let mut backup = simple_backup(name);
        backup["spec"]["cleanPolicy"] = json!(policy);
        backup["spec"]["s3"]["prefix"] = json!(format!("my-folder/{name}"));
        backup
    };
    apply(
        &namespace,
        &[
            &with_policy("finished", "Delete"),
            &with_policy("running", "Delete"),
            &with_policy("kept", "Retain"),
        ],
    );
    for name in ["finished", "running", "kept"] {
        wait_for_phase(&namespace, &reconciler, name, "Scheduled");
    }
    kubelet::complete_job(env, &ns, "backup-finished");
    let finished = wait_for_phase(&namespace, &reconciler, "finished", "Complete");
    assert_eq!(finished["metadata"]["finalizers"], json!([CLEAN_FINALIZER]));

    let deleted = env
        .kubectl()
        .ok(&["delete", "namespace", &ns, "--timeout=90s"]);
    assert_eq!(deleted.stdout.trim(), format!("namespace \"{ns}\" deleted"));
    let gone = env.kubectl().run(&["get", "namespace", &ns]).failed();
    assert!(gone.stderr.contains("NotFound"), "{gone}");

    // The clean Jobs were refused; the data left behind is named.
    for (name, prefix) in [
        ("finished", "my-folder/finished"),
        ("running", "my-folder/running"),
    ] {
        let status = last_status_written(env, &ns, name);
        assert_eq!(status["phase"], "CleanFailed", "{name}: {status}");
        let failed = status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "CleanFailed"))
            .expect("CleanFailed")
            .clone();
        assert_eq!(failed["status"], "True");
        assert_eq!(failed["reason"], "NamespaceTerminating");
        let message = format!(
            "namespace {ns} is being deleted, so Job clean-{name} cannot be created: the backup data at s3://my-bucket/{prefix}/ is retained and must be deleted by hand if it is not wanted"
        );
        assert_eq!(failed["message"], message, "{name}");
        let event = retained_event(env, &ns, name);
        assert_eq!(event["type"], "Warning");
        assert_eq!(
            event["regarding"],
            json!({"apiVersion": "v1", "kind": "Namespace", "name": ns})
        );
        assert_eq!(event["note"], format!("Backup {ns}/{name}: {message}"));
        assert_eq!(event["related"]["kind"], "Backup");
        assert_eq!(event["related"]["name"], name);
    }
    let requests = audit::requests_in(env, &ns);
    for name in ["finished", "running"] {
        let refused: Vec<&audit::Request> = requests
            .iter()
            .filter(|r| r.is("create", "jobs", &format!("clean-{name}")))
            .collect();
        assert!(!refused.is_empty(), "{name}: the clean Job was tried");
        for request in refused {
            assert_eq!(request.code, 403, "{:?}", request.event["responseStatus"]);
            assert_eq!(
                request.event["responseStatus"]["details"]["causes"][0]["reason"],
                "NamespaceTerminating"
            );
        }
    }
    assert!(
        !requests.iter().any(|r| r.is("patch", "backups", "kept")),
        "a Retain Backup has no finalizer to remove"
    );
    audit::assert_none_forbidden(&requests);
}

/// The `BackupDataRetained` Event about Backup `name` of namespace `ns`, on the Namespace.
fn retained_event(env: &Env, ns: &str, name: &str) -> Value {
    let mut found = None;
    wait_for("the BackupDataRetained Event", PATIENCE, &mut [], || {
        let output = env.kubectl().ok(&[
            "-n",
            "default",
            "get",
            "events.events.k8s.io",
            "--field-selector",
            &format!("regarding.name={ns},reason=BackupDataRetained"),
            "-o",
            "json",
        ]);
        let list: Value = serde_json::from_str(&output.stdout).expect("JSON");
        found = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| {
                e["note"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&format!("Backup {ns}/{name}: ")))
            })
            .cloned();
        Ok(found.is_some())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    found.expect("found")
}
