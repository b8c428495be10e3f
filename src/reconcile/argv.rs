//! BR's command line for a backup, in TiDB Operator's exact order (reference §5.5):
//! sub-command, PD, cluster TLS, global options, storage, selection, tuning, then
//! `br.options` last so that they win. Flags whose field is unset are omitted (BR's own
//! defaults apply) and booleans are written `--flag=value`, because BR's flag parser
//! would read `--checksum false` as `--checksum` followed by a stray argument.

use super::PlanError;
use crate::api::BackupSpec;
use crate::rules::vocab::BackupType;

/// Where the cluster client certificate is mounted in the BR container.
pub const CLUSTER_TLS_MOUNT: &str = "/var/lib/cluster-client-tls";
/// Where a `spec.local` volume's data lives is its own mount path; this is for GCS keys.
pub const GCS_CREDENTIALS_MOUNT: &str = "/var/lib/gcs-credentials";

/// The storage the backup writes to, as BR's `--storage` URL (also `status.backupPath`).
///
/// S3 `s3://<bucket>/<prefix>`, GCS `gcs://<bucket>/<prefix>/` (TiDB Operator keeps the
/// trailing slash there), Azure `azure://<container>/<prefix>/[?account-name=…]`, local
/// `local://<mountPath>/<prefix>`; each joined and cleaned like Go's `path.Join`.
pub fn remote_path(spec: &BackupSpec) -> Result<String, PlanError> {
    if let Some(s3) = &spec.s3 {
        if s3.bucket.is_empty() {
            return Err(PlanError::new("spec.s3.bucket", "required"));
        }
        return Ok(format!("s3://{}", go_path_join(&[&s3.bucket, &s3.prefix])));
    }
    if let Some(gcs) = &spec.gcs {
        if gcs.bucket.is_empty() {
            return Err(PlanError::new("spec.gcs.bucket", "required"));
        }
        return Ok(format!(
            "gcs://{}/",
            go_path_join(&[&gcs.bucket, &gcs.prefix])
        ));
    }
    if let Some(azblob) = &spec.azblob {
        if azblob.container.is_empty() {
            return Err(PlanError::new("spec.azblob.container", "required"));
        }
        return Ok(azure_url(
            &azblob.container,
            &azblob.prefix,
            &azblob.storage_account,
            &azblob.sas_token,
        ));
    }
    if let Some(local) = &spec.local {
        let mount = &local.volume_mount.mount_path;
        if mount.is_empty() {
            return Err(PlanError::new(
                "spec.local.volumeMount.mountPath",
                "required",
            ));
        }
        return Ok(format!("local://{}", go_path_join(&[mount, &local.prefix])));
    }
    Err(PlanError::new(
        "spec",
        "no storage provider: set exactly one of s3, gcs, azblob or local",
    ))
}

/// `azure://<container>/<prefix>/`, with the account and SAS token as the query
/// (`account-name`, `sas-token`) when set, encoded as Go's `url.Values.Encode` does
/// (sorted keys, `QueryEscape`d values), as TiDB Operator writes it.
fn azure_url(container: &str, prefix: &str, account: &str, sas_token: &str) -> String {
    let mut url = format!("azure://{}/", go_path_join(&[container, prefix]));
    let query: Vec<String> = [("account-name", account), ("sas-token", sas_token)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", go_query_escape(value)))
        .collect();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn go_query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The argv after the executable: `backup <type> --pd=… … <br.options>`.
///
/// `namespace` is the Backup's (the default cluster namespace); `cluster_tls` adds the
/// client certificate flags of a TidbCluster with `spec.tlsCluster.enabled`.
pub fn backup_args(
    spec: &BackupSpec,
    namespace: &str,
    cluster_tls: bool,
) -> Result<Vec<String>, PlanError> {
    let br = spec.br.as_ref().ok_or_else(|| {
        PlanError::new(
            "spec.br",
            "missing: only BR backups can be executed (spec.br.cluster names the TidbCluster)",
        )
    })?;
    if br.cluster.is_empty() {
        return Err(PlanError::new(
            "spec.br.cluster",
            "required: name of the TidbCluster to back up",
        ));
    }
    let backup_type = BackupType::parse(&spec.backup_type).ok_or_else(|| {
        PlanError::new(
            "spec.backupType",
            format!(
                "unsupported backup type {:?} (supported: full, db, table)",
                spec.backup_type
            ),
        )
    })?;
    let cluster_ns = if br.cluster_namespace.is_empty() {
        namespace
    } else {
        &br.cluster_namespace
    };

    let mut args = vec![
        "backup".to_owned(),
        backup_type.as_str().to_owned(),
        format!("--pd={}-pd.{cluster_ns}:2379", br.cluster),
    ];
    if cluster_tls {
        args.push(format!("--ca={CLUSTER_TLS_MOUNT}/ca.crt"));
        args.push(format!("--cert={CLUSTER_TLS_MOUNT}/tls.crt"));
        args.push(format!("--key={CLUSTER_TLS_MOUNT}/tls.key"));
    }
    push_set(&mut args, "log-level", &br.log_level);
    push_set(&mut args, "status-addr", &br.status_addr);
    if let Some(send) = br.send_cred_to_tikv {
        args.push(format!("--send-credentials-to-tikv={send}"));
    }
    let mut storage = remote_path(spec)?;
    // An explicit addressing style goes into the URL, which every BR version reads.
    if let Some(force) = spec.s3.as_ref().and_then(|s3| s3.force_path_style) {
        storage.push_str(&format!("?force-path-style={force}"));
    }
    args.push(format!("--storage={storage}"));
    if let Some(s3) = &spec.s3 {
        push_set(&mut args, "s3.region", &s3.region);
        push_set(&mut args, "s3.provider", &s3.provider);
        push_set(&mut args, "s3.endpoint", &s3.endpoint);
        push_set(&mut args, "s3.sse", &s3.sse);
        push_set(&mut args, "s3.acl", &s3.acl);
        push_set(&mut args, "s3.storage-class", &s3.storage_class);
    } else if let Some(azblob) = &spec.azblob {
        push_set(&mut args, "azblob.access-tier", &azblob.access_tier);
    } else if let Some(gcs) = &spec.gcs {
        push_set(&mut args, "gcs.storage-class", &gcs.storage_class);
        push_set(&mut args, "gcs.predefined-acl", &gcs.object_acl);
        if !gcs.secret_name.is_empty() {
            args.push(format!(
                "--gcs.credentials-file={GCS_CREDENTIALS_MOUNT}/credentials"
            ));
        }
    }
    match spec
        .table_filter
        .as_deref()
        .filter(|rules| !rules.is_empty())
    {
        // TiDB Operator emits the filter pairs instead of --db/--table.
        Some(rules) => {
            for rule in rules {
                args.push("--filter".to_owned());
                args.push(rule.clone());
            }
        }
        None => match backup_type {
            BackupType::Table => {
                push_set(&mut args, "table", &br.table);
                push_set(&mut args, "db", &br.db);
            }
            BackupType::Db => push_set(&mut args, "db", &br.db),
            BackupType::Full => {}
        },
    }
    if let Some(concurrency) = br.concurrency {
        args.push(format!("--concurrency={concurrency}"));
    }
    if let Some(rate) = br.rate_limit {
        args.push(format!("--ratelimit={rate}"));
    }
    push_set(&mut args, "timeago", &br.time_ago);
    if let Some(checksum) = br.checksum {
        args.push(format!("--checksum={checksum}"));
    }
    args.extend(br.options.iter().flatten().cloned());
    Ok(args)
}

fn push_set(args: &mut Vec<String>, flag: &str, value: &str) {
    if !value.is_empty() {
        args.push(format!("--{flag}={value}"));
    }
}

/// Go's `path.Join`: the non-empty elements joined with `/`, then `path.Clean`ed.
pub fn go_path_join(elements: &[&str]) -> String {
    let joined = elements
        .iter()
        .filter(|e| !e.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        String::new()
    } else {
        go_path_clean(&joined)
    }
}

/// Go's `path.Clean`: collapses `//`, removes `.` and resolves `..` lexically.
pub fn go_path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}
