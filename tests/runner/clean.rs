//! Deleting under a prefix: exactly the objects under `<prefix>/`, never a sibling
//! prefix or the rest of the bucket, across ListObjectsV2 pages and DeleteObjects
//! batches; an empty prefix is refused before any request; the binary's exit codes.

use std::collections::BTreeSet;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use tidb_backup_webhook::runner::clean::{CleanConfig, CleanError, clean_with};

#[path = "../common/s3.rs"]
mod s3;

use s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};

/// What to clean on `s3`, as the runner's flags say it.
fn config(s3: &S3Server, prefix: &str) -> CleanConfig {
    CleanConfig {
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        provider: "minio".into(),
        region: "us-west-1".into(),
        endpoint: s3.endpoint(),
        attempts: 3,
        backoff: Duration::from_millis(10),
    }
}

fn credentials() -> AmazonS3Builder {
    AmazonS3Builder::new()
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[tokio::test]
async fn deletes_every_object_under_the_prefix_and_nothing_else() {
    let s3 = S3Server::start().await;
    let under = [
        "my-folder/backupmeta",
        "my-folder/1_2_3.sst",
        "my-folder/sub/deeper/4_5_6.sst",
    ];
    let kept = [
        "my-folder-2/backupmeta",
        "my-folder-2/1_2_3.sst",
        "my-folderx",
        "other/backupmeta",
        "top-level.txt",
    ];
    for key in under.iter().chain(&kept) {
        s3.put(key);
    }

    // Written as users do (slashes around it); normalised like BR's path.Join.
    let report = clean_with(credentials(), &config(&s3, "/my-folder/"))
        .await
        .expect("clean");
    assert_eq!(report.deleted, 3);
    assert_eq!(report.target.url(), "s3://backups/my-folder/");
    assert_eq!(s3.keys(), set(&kept), "only the prefix's objects are gone");

    // Through the S3 API: one listing with the slash-terminated prefix, one batch delete.
    let requests = s3.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET ") && r.contains("prefix=my-folder%2F")),
        "{requests:?}"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("POST delete"))
            .count(),
        1,
        "{requests:?}"
    );

    // Running again finds nothing and deletes nothing.
    let again = clean_with(credentials(), &config(&s3, "my-folder"))
        .await
        .expect("second clean");
    assert_eq!(again.deleted, 0);
    assert_eq!(s3.keys(), set(&kept));
}

#[tokio::test]
async fn more_than_a_thousand_objects_are_deleted_across_pages_and_batches() {
    let s3 = S3Server::start().await;
    let prefix = "demo1-pd.tidb-cluster-2379-2026-01-01t00-00-00";
    for i in 0..2345 {
        s3.put(&format!("{prefix}/{:02}/{i:05}.sst", i % 7));
    }
    let sibling = format!("{prefix}-2/backupmeta");
    s3.put(&sibling);

    let report = clean_with(credentials(), &config(&s3, prefix))
        .await
        .expect("clean");
    assert_eq!(report.deleted, 2345);
    assert_eq!(s3.keys(), set(&[sibling.as_str()]));

    let requests = s3.requests();
    let lists = requests
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("list-type=2"))
        .count();
    let continued = requests
        .iter()
        .filter(|r| r.contains("continuation-token="))
        .count();
    let deletes = requests
        .iter()
        .filter(|r| r.starts_with("POST delete"))
        .count();
    assert_eq!(lists, 3, "1,000 keys a page: {requests:?}");
    assert_eq!(continued, 2, "pages 2 and 3 continue the listing");
    assert_eq!(deletes, 3, "batches of at most 1,000 keys");
}

#[tokio::test]
async fn an_empty_prefix_is_refused_before_any_request() {
    let s3 = S3Server::start().await;
    let all = ["my-folder/backupmeta", "top-level.txt"];
    for key in all {
        s3.put(key);
    }
    for prefix in ["", "/", "//", "./", "a/.."] {
        let error = clean_with(credentials(), &config(&s3, prefix))
            .await
            .expect_err("refused");
        assert!(
            matches!(error, CleanError::Refused(_)),
            "{prefix:?}: {error:?}"
        );
        assert_eq!(error.exit_code(), 2);
        assert_eq!(
            error.to_string(),
            "refusing to clean: the prefix is empty, so every object in bucket \"backups\" would be deleted (BR writes a backup under spec.s3.prefix; with cleanPolicy Delete or OnFailure set a prefix)"
        );
    }
    let error = clean_with(credentials(), &config(&s3, "../elsewhere"))
        .await
        .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "refusing to clean: prefix \"../elsewhere\" leaves bucket \"backups\""
    );
    assert_eq!(s3.keys(), set(&all), "nothing was deleted");
    assert!(s3.requests().is_empty(), "{:?}", s3.requests());
}

#[tokio::test]
async fn wrong_credentials_fail_with_the_path_and_nothing_is_deleted() {
    let s3 = S3Server::start().await;
    s3.put("my-folder/backupmeta");
    let wrong = AmazonS3Builder::new()
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key("not-the-secret");
    let error = clean_with(wrong, &config(&s3, "my-folder"))
        .await
        .expect_err("denied");
    assert_eq!(error.exit_code(), 1);
    let text = error.to_string();
    assert!(
        text.starts_with("cannot list s3://backups/my-folder/: "),
        "{text}"
    );
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert_eq!(s3.keys(), set(&["my-folder/backupmeta"]));
}

/// The binary as the clean Job runs it: flags from the Job, keys from the environment.
async fn run_binary(s3: &S3Server, args: &[String]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .args(["runner", "clean"])
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("S3_ENDPOINT", s3.endpoint())
        .env("CLEAN_BACKOFF", "10ms")
        .output()
        .await
        .expect("run the binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_runner_command_cleans_and_refuses_with_distinct_exit_codes() {
    let s3 = S3Server::start().await;
    for key in ["my-folder/a.sst", "my-folder/b.sst", "my-folder-2/c.sst"] {
        s3.put(key);
    }
    let args = |prefix: &str| {
        vec![
            format!("--bucket={BUCKET}"),
            format!("--prefix={prefix}"),
            "--provider=ceph".to_owned(),
        ]
    };
    let (code, stdout, stderr) = run_binary(&s3, &args("my-folder")).await;
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stdout, "deleted 2 objects under s3://backups/my-folder/\n");
    assert!(
        stderr.contains("deleted a batch"),
        "progress is logged: {stderr}"
    );
    assert_eq!(s3.keys(), set(&["my-folder-2/c.sst"]));

    let (code, _, stderr) = run_binary(&s3, &args("")).await;
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.lines().last(),
        Some(
            "clean failed: refusing to clean: the prefix is empty, so every object in bucket \"backups\" would be deleted (BR writes a backup under spec.s3.prefix; with cleanPolicy Delete or OnFailure set a prefix)"
        )
    );
    assert_eq!(s3.keys(), set(&["my-folder-2/c.sst"]));
}
