//! BR's log: the success summary of each BR generation, error lines, and go-humanize sizes.

use tidb_backup_webhook::reconcile::summary::{error_lines, humanize_bytes, parse_summary};

const V4_LOG: &str = r#"[2021/01/18 13:39:40.001 -05:00] [INFO] [backup.go:50] ["start backup"]
Full backup <------------------------------------------------------------> 100.00%
Checksum <---------------------------------------------------------------> 100.00%
[2021/01/18 13:39:52.129 -05:00] [INFO] [collector.go:60] ["Full backup Success summary: total backup ranges: 28, total success: 28, total failed: 0, total take(Full backup time): 11.599128783s, total take(real time): 15.218534235s, total kv: 841399, total size(MB): 173.31, avg speed(MB/s): 14.94"] ["backup fast checksum"=40.578617ms] ["backup checksum"=563.344738ms] ["backup total regions"=28] [BackupTS=422312719696527362] [Size=83443904]
"#;

const V7_LOG: &str = r#"Detail BR log in /tmp/br.log.2024-02-04T22.55.05-0500
[2024/02/04 22:55:05.851 -05:00] [WARN] [backup.go:311] ["setting `--ratelimit` and `--concurrency` at the same time, ignoring `--concurrency`"]
Full Backup <--------------------------------------------------------------> 100.00%
[2024/02/04 22:55:12.429 -05:00] [INFO] [collector.go:77] ["Full Backup success summary"] [total-ranges=19] [ranges-succeed=19] [ranges-failed=0] [backup-checksum=168.863382ms] [backup-fast-checksum=58.320307ms] [backup-total-ranges=119] [total-take=6.578538393s] [total-kv=1398] [total-kv-size=408.8kB] [average-speed=62.15kB/s] [backup-data-size(after-compressed)=102.5kB] [Size=102451] [BackupTS=447518343168000000]
"#;

const DB_LOG: &str = r#"[2026/06/12 09:19:21.804 +00:00] [INFO] [collector.go:77] ["Database Backup success summary"] [total-ranges=8] [ranges-succeed=8] [ranges-failed=0] [backup-checksum=3.717806ms] [backup-data-size(after-compressed)=14.08kB] [Size=14079] [BackupTS=466945561939935258] [total-kv=8]"#;

#[test]
fn v4_summary() {
    let s = parse_summary(V4_LOG).expect("summary");
    assert_eq!(s.commit_ts.as_deref(), Some("422312719696527362"));
    assert_eq!(s.size, Some(83_443_904));
    assert_eq!(s.size_readable().as_deref(), Some("83 MB"));
}

#[test]
fn v7_summary() {
    let s = parse_summary(V7_LOG).expect("summary");
    assert_eq!(s.commit_ts.as_deref(), Some("447518343168000000"));
    assert_eq!(s.size, Some(102_451));
    assert_eq!(s.size_readable().as_deref(), Some("102 kB"));
    assert_eq!(s.size_text.as_deref(), Some("102.5kB"));
}

#[test]
fn database_summary() {
    let s = parse_summary(DB_LOG).expect("summary");
    assert_eq!(s.commit_ts.as_deref(), Some("466945561939935258"));
    assert_eq!(s.size_readable().as_deref(), Some("14 kB"));
}

#[test]
fn no_summary_in_a_failed_log() {
    let log = "[2024/02/04 22:55:05.851 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]\nError: [BR:KV:ErrKVStorage]tikv storage occur I/O error\n";
    assert_eq!(parse_summary(log), None);
    assert_eq!(
        error_lines(log),
        vec![
            "[2024/02/04 22:55:05.851 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]".to_owned(),
            "Error: [BR:KV:ErrKVStorage]tikv storage occur I/O error".to_owned(),
        ]
    );
    assert!(error_lines(V7_LOG).is_empty(), "WARN lines are not errors");
}

#[test]
fn error_lines_keep_the_last_twenty() {
    let log: String = (0..30).map(|i| format!("[ERROR] line {i}\n")).collect();
    let lines = error_lines(&log);
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[0], "[ERROR] line 10");
    assert_eq!(lines[19], "[ERROR] line 29");
}

/// go-humanize `Bytes` values (TiDB Operator's `backupSizeReadable`).
#[test]
fn humanized_sizes() {
    assert_eq!(humanize_bytes(0), "0 B");
    assert_eq!(humanize_bytes(9), "9 B");
    assert_eq!(humanize_bytes(82), "82 B");
    assert_eq!(humanize_bytes(1000), "1.0 kB");
    assert_eq!(humanize_bytes(1104), "1.1 kB");
    assert_eq!(humanize_bytes(5_000_000), "5.0 MB");
    assert_eq!(humanize_bytes(12_345_678), "12 MB");
    assert_eq!(humanize_bytes(1_500_000_000_000), "1.5 TB");
}
