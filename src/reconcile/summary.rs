//! What BR's log says about a finished backup.
//!
//! BR ends a successful backup with a summary line from its `collector.go`, in one of two
//! shapes depending on the version:
//!
//! * v4.0: `["Full backup Success summary: total backup ranges: 2, …"] … [BackupTS=4226…] [Size=834…]`
//! * v5 and later: `["Full Backup success summary"] [total-ranges=19] … [Size=102451] [BackupTS=4475…]`
//!
//! (`Database Backup …` and `Table Backup …` for db/table backups.) `BackupTS` is the
//! commit TSO TiDB Operator reports as `commitTs` and `Size` the bytes written; TiDB
//! Operator reads the same numbers from the backupmeta file, which needs S3 access the
//! reconciler does not have. A failed BR logs `[ERROR]` lines and ends with `Error: …`.

/// Numbers from BR's success summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrSummary {
    /// `BackupTS`: the TSO the backup is consistent at.
    pub commit_ts: Option<String>,
    /// `Size`: bytes of backup data written.
    pub size: Option<u64>,
    /// BR's own human-readable size, used only when `Size` is missing.
    pub size_text: Option<String>,
}

impl BrSummary {
    /// `backupSizeReadable`: go-humanize SI of `size`, as TiDB Operator shows it.
    pub fn size_readable(&self) -> Option<String> {
        self.size.map(humanize_bytes).or(self.size_text.clone())
    }
}

/// The summary of the last success-summary line in `log`, if any.
pub fn parse_summary(log: &str) -> Option<BrSummary> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("success summary"))?;
    Some(BrSummary {
        commit_ts: field(line, "BackupTS")
            .or_else(|| field(line, "backup-ts"))
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty())
            .map(str::to_owned),
        size: field(line, "Size").and_then(|v| v.parse().ok()),
        size_text: field(line, "backup-data-size(after-compressed)").map(str::to_owned),
    })
}

/// The value of a `[key=value]` field of a BR log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("[{key}=");
    let start = line.find(&needle)? + needle.len();
    let rest = &line[start..];
    let end = rest.find(']')?;
    Some(rest[..end].trim_matches('"'))
}

/// Most error lines kept for a condition message.
pub const MAX_ERROR_LINES: usize = 20;

/// BR's error lines: `[ERROR]` log lines and the final `Error: …`, last
/// [`MAX_ERROR_LINES`] of them, as TiDB Operator collects them for the `Failed` message.
pub fn error_lines(log: &str) -> Vec<String> {
    let mut lines: Vec<String> = log
        .lines()
        .map(str::trim_end)
        .filter(|l| l.contains("[ERROR]") || l.starts_with("Error: "))
        .map(str::to_owned)
        .collect();
    if lines.len() > MAX_ERROR_LINES {
        lines.drain(..lines.len() - MAX_ERROR_LINES);
    }
    lines
}

/// go-humanize's `Bytes` (SI, base 1000): `82 B`, `1.1 kB`, `12 MB`.
pub fn humanize_bytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    let s = size as f64;
    let exponent = (s.ln() / 1000f64.ln()).floor();
    let unit = UNITS[(exponent as usize).min(UNITS.len() - 1)];
    let value = (s / 1000f64.powf(exponent) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}
