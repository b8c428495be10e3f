//! cleanPolicy planning without an apiserver: the finalizer decision, the deletion
//! planner (reference §3.7, §5.6, `TestClean`, `TestBackupControlUpdateBackup`), the
//! clean target's normalisation, the clean Job, and the runner's addressing.

use serde_json::json;
use tidb_backup_webhook::api::Backup;
use tidb_backup_webhook::reconcile::clean::{
    self, CLEAN, CLEAN_FAILED, CleanJobContext, CleanRefusal, CleanTarget, DeletionStep, FINALIZER,
    Lifecycle, NAMESPACE_TERMINATING, lifecycle, plan_deletion,
};
use tidb_backup_webhook::reconcile::status::{FAILED, set_condition, set_condition_status};
use tidb_backup_webhook::reconcile::{JobOutcome, JobView, Step};
use tidb_backup_webhook::runner::clean::{Addressing, addressing};

use super::{SEED_BACKUP_IRSA, SEED_BACKUP_SECRET, backup};

const UID: &str = "6f1c8f9e-0000-4000-8000-000000000001";

fn at() -> jiff::Timestamp {
    "2026-01-01T00:00:00Z".parse().expect("time")
}

/// The guide's Backup with `policy`, uid, prefix `my-folder`, and the given conditions.
fn seed(policy: &str, conditions: &[&str]) -> Backup {
    let mut b = backup(SEED_BACKUP_SECRET);
    b.spec.clean_policy = policy.to_owned();
    b.metadata.uid = Some(UID.to_owned());
    if let Some(s3) = b.spec.s3.as_mut() {
        s3.bucket = "my-bucket".to_owned();
        s3.prefix = "my-folder".to_owned();
    }
    let mut status = tidb_backup_webhook::api::BackupStatus {
        backup_path: "s3://my-bucket/my-folder".to_owned(),
        ..Default::default()
    };
    for type_ in conditions {
        set_condition(&mut status, type_, "R", "", Some(1), at());
    }
    b.status = Some(status);
    b
}

fn deleting(mut b: Backup) -> Backup {
    b.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
    b.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at()));
    b
}

fn clean_job(outcome: Option<JobOutcome>, owner: Option<&str>) -> JobView {
    JobView {
        started: None,
        outcome,
        owner_uid: owner.map(str::to_owned),
    }
}

#[test]
fn the_finalizer_is_for_delete_and_on_failure_only() {
    for (policy, wanted) in [
        ("Delete", Lifecycle::AddFinalizer),
        ("OnFailure", Lifecycle::AddFinalizer),
        ("Retain", Lifecycle::Active),
        ("", Lifecycle::Active),
        ("delete", Lifecycle::Active),
        ("onfailure", Lifecycle::Active),
    ] {
        assert_eq!(lifecycle(&seed(policy, &[])), wanted, "{policy:?}");
    }
    let mut with = seed("Delete", &[]);
    with.metadata.finalizers = Some(vec!["example.com/x".into(), FINALIZER.into()]);
    assert_eq!(lifecycle(&with), Lifecycle::Active);
    assert_eq!(clean::finalizers_with(&with, false), vec!["example.com/x"]);
    assert_eq!(
        clean::finalizers_with(&with, true),
        vec!["example.com/x", FINALIZER],
        "never twice"
    );
    assert_eq!(
        lifecycle(&deleting(seed("Retain", &[]))),
        Lifecycle::Deleting
    );
    let mut released = deleting(seed("Delete", &[]));
    released.metadata.finalizers = Some(vec!["example.com/x".into()]);
    assert_eq!(lifecycle(&released), Lifecycle::Released);
}

#[test]
fn nothing_is_deleted_while_the_backup_job_runs() {
    let b = deleting(seed("Delete", &["Prepare", "Scheduled", "Running"]));
    assert_eq!(
        plan_deletion(&b, Step::Wait, None, false),
        DeletionStep::WaitForBackupJob
    );
    // A Job that ended is recorded first (its GC life time released there).
    let finish = Step::Finish(JobOutcome::Lost);
    assert_eq!(
        plan_deletion(&b, finish.clone(), None, false),
        DeletionStep::Backup(finish)
    );
    let running = Step::MarkRunning { started: at() };
    assert_eq!(
        plan_deletion(&b, running.clone(), None, false),
        DeletionStep::Backup(running)
    );
}

#[test]
fn a_deleted_backup_never_gets_its_job_and_releases_a_held_gc_life_time() {
    let mut b = deleting(seed("Delete", &["Prepare"]));
    if let Some(status) = b.status.as_mut() {
        status.tikv_gc_life_time = Some(tidb_backup_webhook::api::GcLifeTimeStatus {
            cluster: "test1/demo1".into(),
            original: "10m0s".into(),
            held: "72h".into(),
            state: "Holding".into(),
        });
    }
    assert_eq!(
        plan_deletion(&b, Step::CreateJob, None, false),
        DeletionStep::ReleaseGc
    );
    // Tried (and failed) in this reconcile: deletion goes on.
    assert_eq!(
        plan_deletion(&b, Step::CreateJob, None, true),
        DeletionStep::NothingToClean {
            reason: "no backup Job was ever created, so no data was written".into()
        }
    );
    let fresh = deleting(seed("Delete", &[]));
    assert_eq!(
        plan_deletion(&fresh, Step::Prepare, None, false),
        DeletionStep::NothingToClean {
            reason: "no backup Job was ever created, so no data was written".into()
        }
    );
}

#[test]
fn the_policy_decides_after_the_backup_settled() {
    let complete = &["Prepare", "Scheduled", "Running", "Complete"];
    let failed = &["Prepare", "Scheduled", "Running", FAILED];
    assert_eq!(
        plan_deletion(&deleting(seed("Delete", complete)), Step::Done, None, false),
        DeletionStep::CreateCleanJob
    );
    assert_eq!(
        plan_deletion(
            &deleting(seed("OnFailure", failed)),
            Step::Done,
            None,
            false
        ),
        DeletionStep::CreateCleanJob
    );
    assert_eq!(
        plan_deletion(
            &deleting(seed("OnFailure", complete)),
            Step::Done,
            None,
            false
        ),
        DeletionStep::Retain {
            reason: "cleanPolicy is OnFailure and the backup did not fail".into()
        }
    );
    // The finalizer from an earlier Delete, the policy now Retain: keep the data.
    assert_eq!(
        plan_deletion(&deleting(seed("Retain", failed)), Step::Done, None, false),
        DeletionStep::Retain {
            reason: "cleanPolicy is \"Retain\", which retains the data".into()
        }
    );
    let mut no_path = deleting(seed("Delete", complete));
    if let Some(s) = no_path.status.as_mut() {
        s.backup_path.clear();
    }
    assert_eq!(
        plan_deletion(&no_path, Step::Done, None, false),
        DeletionStep::NothingToClean {
            reason: "status.backupPath is empty".into()
        }
    );
    let mut gcs = deleting(seed("Delete", complete));
    gcs.spec.s3 = None;
    gcs.spec.gcs = Some(tidb_backup_webhook::api::GcsStorageProvider {
        project_id: "p".into(),
        bucket: "b".into(),
        ..Default::default()
    });
    assert_eq!(
        plan_deletion(&gcs, Step::Done, None, false),
        DeletionStep::Unsupported {
            message: "only S3-compatible storage can be cleaned by this reconciler; the data at s3://my-bucket/my-folder is retained".into()
        }
    );
}

#[test]
fn the_clean_job_outcome_decides_the_finalizer() {
    let b = deleting(seed("Delete", &["Scheduled", "Complete"]));
    let plan = |job: JobView| plan_deletion(&b, Step::Done, Some(&job), false);
    assert_eq!(
        plan(clean_job(None, Some(UID))),
        DeletionStep::WaitForCleanJob
    );
    assert_eq!(
        plan(clean_job(
            Some(JobOutcome::Succeeded { completed: None }),
            Some(UID)
        )),
        DeletionStep::Cleaned
    );
    assert_eq!(
        plan(clean_job(
            Some(JobOutcome::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: "Job has reached the specified backoff limit".into(),
                at: None
            }),
            Some(UID)
        )),
        DeletionStep::CleanJobFailed {
            refused: false,
            message:
                "Job failed (BackoffLimitExceeded: Job has reached the specified backoff limit)"
                    .into()
        }
    );
    assert_eq!(
        plan(clean_job(
            Some(JobOutcome::Failed {
                reason: "PodFailurePolicy".into(),
                message: String::new(),
                at: None
            }),
            Some(UID)
        )),
        DeletionStep::CleanJobFailed {
            refused: true,
            message: "Job failed (PodFailurePolicy)".into()
        }
    );
    assert_eq!(
        plan(clean_job(None, Some("someone-else"))),
        DeletionStep::CleanJobConflict {
            owner: Some("someone-else".into())
        }
    );

    // Recorded outcomes release the finalizer: Clean, or a terminating namespace.
    let mut cleaned = b.clone();
    if let Some(s) = cleaned.status.as_mut() {
        set_condition(s, CLEAN, "BackupDataDeleted", "", Some(1), at());
    }
    assert_eq!(
        plan_deletion(&cleaned, Step::Done, None, false),
        DeletionStep::RemoveFinalizer
    );
    let mut terminating = b.clone();
    if let Some(s) = terminating.status.as_mut() {
        set_condition(s, CLEAN_FAILED, NAMESPACE_TERMINATING, "", Some(1), at());
    }
    assert_eq!(
        plan_deletion(&terminating, Step::Done, None, false),
        DeletionStep::RemoveFinalizer
    );
    // A failed clean whose Job was deleted is retried; Clean=False alone changes nothing.
    let mut failed = b.clone();
    if let Some(s) = failed.status.as_mut() {
        set_condition(s, CLEAN_FAILED, "CleanBackupDataFailed", "", Some(1), at());
        set_condition_status(s, CLEAN, "False", "CleanJobCreated", "", Some(1), at());
    }
    assert_eq!(
        plan_deletion(&failed, Step::Done, None, false),
        DeletionStep::CreateCleanJob
    );
}

#[test]
fn the_target_is_normalised_like_the_backup_path() {
    let target = |bucket: &str, prefix: &str| CleanTarget::new(bucket, prefix);
    for (prefix, want) in [
        ("my-folder", "my-folder"),
        ("/my-folder/", "my-folder"),
        ("a//b/./c/", "a/b/c"),
        ("a/b/../c", "a/c"),
        (
            "demo1-pd.test1-2379-2026-01-01t00-00-00",
            "demo1-pd.test1-2379-2026-01-01t00-00-00",
        ),
    ] {
        let t = target("my-bucket", prefix).expect(prefix);
        assert_eq!(t.prefix, want, "{prefix:?}");
        assert_eq!(t.list_prefix(), format!("{want}/"));
        assert_eq!(t.url(), format!("s3://my-bucket/{want}/"));
    }
    for prefix in ["", "/", "//", ".", "./", "a/.."] {
        assert_eq!(
            target("my-bucket", prefix),
            Err(CleanRefusal::EmptyPrefix("my-bucket".into())),
            "{prefix:?}"
        );
    }
    assert_eq!(
        target("my-bucket", "../other-bucket/x"),
        Err(CleanRefusal::OutsideBucket {
            bucket: "my-bucket".into(),
            prefix: "../other-bucket/x".into()
        })
    );
    assert_eq!(target("", "x"), Err(CleanRefusal::Bucket(String::new())));
}

#[test]
fn the_clean_job_runs_the_runner_with_the_backups_identity() {
    let mut b = backup(SEED_BACKUP_IRSA);
    b.metadata.uid = Some(UID.to_owned());
    b.metadata.annotations = Some(
        [
            (
                "iam.amazonaws.com/role".to_owned(),
                "backup-role".to_owned(),
            ),
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                "{}".to_owned(),
            ),
        ]
        .into(),
    );
    if let Some(s3) = b.spec.s3.as_mut() {
        s3.bucket = "my-bucket".into();
        s3.prefix = "my-folder".into();
        s3.endpoint = "https://s3.example.com".into();
    }
    let job = clean::clean_job(
        &b,
        &CleanJobContext {
            runner_image: "registry.example.com/tidb-backup-webhook:0.1.0",
            tz: Some("UTC"),
        },
    )
    .expect("job");
    let v = serde_json::to_value(&job).expect("json");
    assert_eq!(v["metadata"]["name"], "clean-demo1-backup-s3");
    assert_eq!(v["metadata"]["namespace"], "test1");
    assert_eq!(
        v["metadata"]["labels"]["app.kubernetes.io/component"],
        "clean"
    );
    assert_eq!(v["spec"]["backoffLimit"], 6);
    let pod = &v["spec"]["template"];
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"iam.amazonaws.com/role": "backup-role"})
    );
    assert_eq!(pod["spec"]["serviceAccountName"], "tidb-backup-manager");
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.example.com/tidb-backup-webhook:0.1.0");
    assert_eq!(
        c["args"],
        json!([
            "runner",
            "clean",
            "--bucket=my-bucket",
            "--prefix=my-folder",
            "--provider=aws",
            "--region=us-west-1",
            "--endpoint=https://s3.example.com"
        ])
    );
    assert_eq!(
        c["env"],
        json!([{"name": "TZ", "value": "UTC"}]),
        "IRSA: no key secret, the pod identity webhook adds its own variables"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(
        c.get("command").is_none(),
        "the image's entrypoint is the binary"
    );

    let mut gcs = b.clone();
    gcs.spec.s3 = None;
    let error = clean::clean_job(
        &gcs,
        &CleanJobContext {
            runner_image: "x",
            tz: None,
        },
    )
    .expect_err("S3 only");
    assert_eq!(
        error.to_string(),
        "spec.s3: only S3-compatible storage can be cleaned by this reconciler"
    );
}

#[test]
fn the_runner_quotes_its_last_failure_line() {
    let log = "INFO listing\nclean failed: first\nWARN retrying\nclean failed: cannot list s3://b/p/: AccessDenied\n";
    assert_eq!(
        clean::failure_line(log),
        Some("cannot list s3://b/p/: AccessDenied")
    );
    assert_eq!(clean::failure_line("INFO only progress\n"), None);
}

#[test]
fn addressing_follows_the_provider() {
    assert_eq!(
        addressing("aws", "", "b"),
        Ok(Addressing {
            endpoint: None,
            virtual_hosted: true
        })
    );
    assert_eq!(
        addressing("alibaba", "https://oss-cn-hangzhou.aliyuncs.com/", "b"),
        Ok(Addressing {
            endpoint: Some("https://b.oss-cn-hangzhou.aliyuncs.com".into()),
            virtual_hosted: true
        })
    );
    for provider in ["minio", "ceph", "other", ""] {
        assert_eq!(
            addressing(provider, "http://minio.tidb:9000", "b"),
            Ok(Addressing {
                endpoint: Some("http://minio.tidb:9000".into()),
                virtual_hosted: false
            }),
            "{provider:?}"
        );
    }
    assert_eq!(
        addressing("ceph", "minio:9000", "b").map_err(|e| e.to_string()),
        Err("endpoint \"minio:9000\" has no scheme (http:// or https://)".into())
    );
}

/// `CleanFailed` quotes the runner's own last line when its pod's log could be read,
/// and the Job's failure otherwise (no pod, or no log to read); both end with how to go
/// on. (Through the apiserver, with the runner's log, in `tests/e2e/reconciler/clean.rs`.)
#[test]
fn a_failed_clean_quotes_the_runner_else_the_job() {
    let backup = seed("Delete", &["Complete"]);
    let next = "The data is retained; fix the cause and delete Job clean-b1 to retry, or set cleanPolicy to Retain to keep the data";
    let job = "Job failed (PodFailurePolicy: Container clean for pod test1/clean-b1-abcde failed with exit code 2 matching FailJob rule at index 0)";
    assert_eq!(
        clean::clean_failed_message(&backup, "clean-b1", job, None),
        format!("Job clean-b1 could not delete s3://my-bucket/my-folder/: {job}. {next}")
    );
    let log = "2026-01-01T00:20:32Z INFO listing and deleting every object under the prefix\nclean failed: cannot list s3://my-bucket/my-folder/: AccessDenied\n";
    assert_eq!(
        clean::clean_failed_message(&backup, "clean-b1", job, Some(log)),
        format!(
            "Job clean-b1 could not delete s3://my-bucket/my-folder/: cannot list s3://my-bucket/my-folder/: AccessDenied. {next}"
        )
    );
    assert_eq!(
        clean::clean_failed_message(&backup, "clean-b1", job, Some("no failure line\n")),
        format!("Job clean-b1 could not delete s3://my-bucket/my-folder/: {job}. {next}"),
        "a log without the runner's failure line"
    );
}
