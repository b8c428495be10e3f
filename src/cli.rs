//! The command line: every sub-command is defined here and dispatched to the layer that
//! implements it; so are its flags, except the reconciler's, which the controller's own
//! settings define once and `reconcile` flattens in. Every command ends with a status of
//! the one table in [`crate::exit`], and every long-running one runs on `block_on`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::check::{self, OutputFormat};
use crate::controller::run::{ReconcilerConfig, time_zone};
use crate::exit::{self, Exit};
use crate::server::{self, CertSource, ServeConfig, https, tls::CertFiles, webhook};
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "tidb-backup-webhook",
    version,
    about = "Admission webhook, offline validator and slim reconciler for TiDB Operator Backup/BackupSchedule resources",
    after_help = exit::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the mutating and validating admission webhook over HTTPS.
    #[command(after_help = exit::HELP)]
    Serve(Box<ServeArgs>),
    /// Write a CA and a serving certificate (`ca.crt`, `tls.crt`, `tls.key`) for the webhook.
    #[command(after_help = exit::HELP)]
    Certs {
        /// Directory to write the files into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS names (or IP addresses) of the webhook Service, e.g.
        /// `tidb-backup-webhook.tidb-admin.svc`; repeat the flag for each.
        #[arg(long = "dns", value_name = "NAME", required = true)]
        names: Vec<String>,
        /// Validity of the serving certificate in days (a new CA gets ten times as long).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Renew under this existing CA certificate instead of creating a CA (with
        /// --ca-key; the caBundle then stays valid).
        #[arg(long, value_name = "FILE", requires = "ca_key")]
        ca_cert: Option<PathBuf>,
        /// Private key of --ca-cert (`ca.key`, written when a CA is created).
        #[arg(long, value_name = "FILE", requires = "ca_cert")]
        ca_key: Option<PathBuf>,
    },
    /// Default and validate Backup/BackupSchedule manifests offline.
    ///
    /// Prints every problem as `FILE: KIND/NAME: FIELD: message` on stderr. Exits 0 when
    /// every object is valid (warnings allowed), 1 when any is invalid, 2 when an input
    /// cannot be read or parsed.
    #[command(after_help = exit::HELP)]
    Check {
        /// Print the defaulted objects in this format on stdout.
        #[arg(short = 'o', long = "output", value_enum)]
        output: Option<OutputFormat>,
        /// Treat fields the API does not have as errors (by default they are warnings:
        /// TiDB Operator's CRDs drop them silently).
        #[arg(long)]
        strict: bool,
        /// YAML or JSON files, multi-document allowed; `-` reads stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Show what the reconciler would do with Backups and BackupSchedules, offline: the
    /// defaulted object and its validation result; for a Backup the Job (with BR's command
    /// line) it would create, for a BackupSchedule its next fire times and the Backup the
    /// next tick would create.
    ///
    /// Exits 0 when every object is valid, 1 when any is invalid, 2 when an input cannot
    /// be read or parsed.
    #[command(after_help = exit::HELP)]
    Explain {
        /// TiKV image of the TidbCluster (its tag selects `pingcap/br:<tag>`).
        #[arg(long, value_name = "IMAGE")]
        tikv_image: Option<String>,
        /// The TidbCluster has `spec.tlsCluster.enabled` (BR gets the client certificate).
        #[arg(long)]
        cluster_tls: bool,
        /// BR image when neither `spec.toolImage` nor a TiKV image decides it.
        #[arg(long, value_name = "IMAGE", default_value = crate::reconcile::job::DEFAULT_BR_IMAGE)]
        br_image: String,
        /// BackupSchedules: the instant to count fire times from (RFC 3339, e.g.
        /// 2026-01-01T00:00:00Z; default: now).
        #[arg(long, value_name = "RFC3339")]
        now: Option<jiff::Timestamp>,
        /// BackupSchedules: how many fire times to print.
        #[arg(long, value_name = "N", default_value_t = 5)]
        count: usize,
        /// BackupSchedules: time zone the cron is evaluated in, as `reconcile --timezone`.
        #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = time_zone)]
        timezone: jiff::tz::TimeZone,
        /// YAML or JSON files, multi-document allowed; `-` reads stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Run the reconciler: execute Backups as BR Jobs and BackupSchedules as Backups
    /// (leader-elected).
    #[command(after_help = exit::HELP)]
    Reconcile(ReconcileArgs),
    /// Print the webhook configurations (Mutating/Validating, pods) as YAML.
    #[command(after_help = exit::HELP)]
    Manifests {
        /// PEM CA file whose bundle goes into `clientConfig.caBundle` (self-signed
        /// installs; leave it out with cert-manager, which injects it).
        #[arg(long, value_name = "FILE")]
        ca_bundle: Option<PathBuf>,
        /// Namespace of the webhook's Service.
        #[arg(long, default_value = crate::manifests::NAMESPACE)]
        namespace: String,
    },
    /// Work done inside the reconciler's Jobs (this project's image).
    #[command(subcommand, after_help = exit::HELP)]
    Runner(RunnerCommand),
    /// Print the Backup and BackupSchedule CustomResourceDefinitions as YAML.
    #[command(after_help = exit::HELP)]
    Crds {
        /// Write one file per CRD into this directory instead (as in `manifests/crds`).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<std::path::PathBuf>,
        /// `standalone`: this project's CRDs (`manifests/crds`). `tidb-operator`: the same
        /// fields shaped as TiDB Operator 1.6 ships its CRDs (no status subresource; its
        /// defaults, enums, CEL rules and required fields), for tests next to TiDB
        /// Operator; install TiDB Operator's own CRDs there.
        #[arg(
            long,
            value_name = "SHAPE",
            default_value = "standalone",
            value_parser = clap::builder::TypedValueParser::try_map(
                clap::builder::PossibleValuesParser::new(crate::api::CrdShape::NAMES),
                |name| name.parse::<crate::api::CrdShape>()
            )
        )]
        shape: crate::api::CrdShape,
    },
}

/// `tidb-backup-webhook runner …`.
#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Delete every object under `<bucket>/<prefix>/` through the S3 API (the clean Job of
    /// a Backup with cleanPolicy Delete or OnFailure).
    ///
    /// Credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY, web identity (IRSA), or instance metadata (kube2iam).
    /// Refuses an empty prefix. Exits 0 when done, 2 when refused, 1 on other failures;
    /// the last line then starts with `clean failed: `.
    #[command(after_help = exit::HELP)]
    Clean(CleanArgs),
}

/// Flags of `runner clean`; the environment names are TiDB Operator's where it has one.
#[derive(Clone, Debug, Args)]
pub struct CleanArgs {
    /// Bucket of the backup (`spec.s3.bucket`).
    #[arg(long, env = "S3_BUCKET")]
    pub bucket: String,
    /// Prefix of the backup in the bucket (`spec.s3.prefix`); normalised like BR's
    /// `path.Join(bucket, prefix)`. Must not be empty.
    #[arg(long, env = "S3_PREFIX", default_value = "")]
    pub prefix: String,
    /// S3-compatible provider (`spec.s3.provider`): aws, alibaba and netease use
    /// virtual-hosted addressing, the others path style.
    #[arg(long, env = "S3_PROVIDER", default_value = "aws")]
    pub provider: String,
    /// Region (default us-east-1).
    #[arg(long, env = "AWS_REGION", default_value = "")]
    pub region: String,
    /// Endpoint URL with scheme, e.g. `http://minio:9000` (default: AWS's).
    #[arg(long, env = "S3_ENDPOINT", default_value = "")]
    pub endpoint: String,
    /// Attempts per batch of up to 1,000 keys before giving up.
    #[arg(long, env = "CLEAN_ATTEMPTS", default_value_t = 5)]
    pub attempts: u32,
    /// Delay before a batch's second attempt; doubles per attempt.
    #[arg(long, env = "CLEAN_BACKOFF", default_value = "1s", value_parser = humantime::parse_duration)]
    pub backoff: Duration,
    /// Log line format.
    #[arg(long, env = "CLEAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl CleanArgs {
    pub fn config(&self) -> crate::runner::clean::CleanConfig {
        crate::runner::clean::CleanConfig {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            provider: self.provider.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            attempts: self.attempts,
            backoff: self.backoff,
        }
    }
}

/// Flags of `serve`; each can also be set through the environment.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS address the apiserver calls.
    #[arg(long, env = "WEBHOOK_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// PEM certificate (chain) to serve; reloaded when the file changes.
    #[arg(
        long,
        env = "WEBHOOK_TLS_CERT",
        value_name = "FILE",
        required_unless_present = "self_signed",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(
        long,
        env = "WEBHOOK_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (the apiserver's); optional.
    #[arg(long, env = "WEBHOOK_CLIENT_CA", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Plain-HTTP address of /livez, /readyz and /metrics.
    #[arg(long, env = "WEBHOOK_ADMIN_LISTEN", default_value = "0.0.0.0:8080")]
    pub admin_listen: SocketAddr,
    /// Development: generate a CA and a certificate for localhost in memory.
    #[arg(long, env = "WEBHOOK_SELF_SIGNED", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub self_signed: bool,
    /// With --self-signed, write the CA certificate here (for curl --cacert).
    #[arg(
        long,
        env = "WEBHOOK_CA_OUT",
        value_name = "FILE",
        requires = "self_signed"
    )]
    pub ca_out: Option<PathBuf>,
    /// Re-read the certificate files this often even without a change notification.
    #[arg(long, env = "WEBHOOK_CERT_POLL_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub cert_poll_interval: Duration,
    /// After SIGTERM, keep serving (unready) this long so endpoints stop routing here.
    #[arg(long, env = "WEBHOOK_SHUTDOWN_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// Longest time to let in-flight requests finish after the listener closes.
    #[arg(long, env = "WEBHOOK_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// A request must arrive completely within this time of its first byte.
    #[arg(long, env = "WEBHOOK_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Idle keep-alive connections are closed after this; keep it above the apiserver's 90s.
    #[arg(long, env = "WEBHOOK_IDLE_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Reviews answered at once; more are refused with 503.
    #[arg(long, env = "WEBHOOK_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// Request body bytes all reviews in flight may hold together; a review that would
    /// exceed it is refused with 503. At least the body limit (3.5 MiB).
    #[arg(
        long,
        env = "WEBHOOK_MAX_IN_FLIGHT_BYTES",
        default_value_t = webhook::DEFAULT_MAX_IN_FLIGHT_BYTES as u64,
        value_parser = clap::value_parser!(u64).range(webhook::MAX_BODY_BYTES as u64..=1 << 40)
    )]
    pub max_in_flight_bytes: u64,
    /// Connections served at once; more are closed.
    #[arg(long, env = "WEBHOOK_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Log line format.
    #[arg(long, env = "WEBHOOK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// IAM role for the pods of a TiDB cluster: `NAMESPACE/CLUSTER=ROLE`, ROLE a role ARN or,
    /// with --base-role-arn, a role name. Repeat for each cluster.
    #[arg(
        long = "iam-role",
        env = "WEBHOOK_IAM_ROLES",
        value_delimiter = ',',
        value_name = "NAMESPACE/CLUSTER=ROLE"
    )]
    pub iam_roles: Vec<String>,
    /// YAML file with `iamRoles: [{namespace, cluster, role, serviceAccount}]` (e.g. a
    /// mounted ConfigMap).
    #[arg(long, env = "WEBHOOK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// ARN prefix for bare role names, as kube2iam's `--base-role-arn`
    /// (e.g. `arn:aws:iam::123456789012:role/`).
    #[arg(long, env = "WEBHOOK_BASE_ROLE_ARN", value_name = "ARN")]
    pub base_role_arn: Option<String>,
    /// Set `serviceAccountName` of TiKV, backup and clean pods for IRSA when it is empty or
    /// `default` (never overrides another service account).
    #[arg(long, env = "WEBHOOK_INJECT_SERVICE_ACCOUNT", default_value_t = true, action = clap::ArgAction::Set)]
    pub inject_service_account: bool,
    /// Run without a cluster connection: only statically configured roles are injected.
    #[arg(long, env = "WEBHOOK_NO_KUBE")]
    pub no_kube: bool,
}

impl ServeArgs {
    fn config(&self) -> Result<ServeConfig, crate::iam::ConfigError> {
        let iam = crate::iam::StaticConfig::load(
            &self.iam_roles,
            self.config.as_deref(),
            self.base_role_arn.as_deref(),
        )?;
        let certs = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) if !self.self_signed => CertSource::Files(CertFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => CertSource::SelfSigned {
                ca_out: self.ca_out.clone(),
            },
        };
        Ok(ServeConfig {
            listen: self.listen,
            admin_listen: self.admin_listen,
            certs,
            client_ca: self.client_ca.clone(),
            cert_poll: self.cert_poll_interval,
            shutdown_delay: self.shutdown_delay,
            connections: https::ConnectionLimits {
                request_read_timeout: self.header_read_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections,
                drain_timeout: self.shutdown_timeout,
                ..Default::default()
            },
            reviews: webhook::Limits {
                max_in_flight: self.max_in_flight,
                max_in_flight_bytes: usize::try_from(self.max_in_flight_bytes)
                    .unwrap_or(usize::MAX),
                ..Default::default()
            },
            iam,
            inject_service_account: self.inject_service_account,
            watch_cluster: !self.no_kube,
        })
    }
}

/// Flags of `tidb-backup-webhook reconcile`: the reconciler's settings, and how it logs.
#[derive(Clone, Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub reconciler: ReconcilerConfig,
    /// Log line format.
    #[arg(long, env = "RECONCILER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            // `check` words its own status, by the same table.
            Command::Check {
                output,
                strict,
                files,
            } => check::run(&files, output, strict),
            Command::Serve(args) => serve(&args).into(),
            Command::Certs {
                out,
                names,
                days,
                ca_cert,
                ca_key,
            } => {
                let ca = match (ca_cert.as_deref(), ca_key.as_deref()) {
                    (Some(cert), Some(key)) => crate::certs::CaSource::Existing { cert, key },
                    _ => crate::certs::CaSource::New,
                };
                certs(&out, &names, days, ca).into()
            }
            Command::Explain {
                tikv_image,
                cluster_tls,
                br_image,
                now,
                count,
                timezone,
                files,
            } => crate::explain::run(
                &files,
                &crate::explain::ExplainOptions {
                    tikv_image,
                    cluster_tls,
                    default_br_image: br_image,
                },
                &crate::explain::ScheduleOptions {
                    now: now.unwrap_or_else(jiff::Timestamp::now),
                    count,
                    timezone,
                },
            )
            .into(),
            Command::Reconcile(args) => reconcile(args).into(),
            Command::Manifests {
                ca_bundle,
                namespace,
            } => manifests(ca_bundle, namespace).into(),
            Command::Runner(RunnerCommand::Clean(args)) => runner_clean(&args).into(),
            Command::Crds { out_dir, shape } => match write_crds(out_dir.as_deref(), shape) {
                Ok(()) => Exit::Success.into(),
                Err(e) => {
                    eprintln!("cannot write the CRDs: {e}");
                    Exit::Failure.into()
                }
            },
        }
    }
}

fn certs(out: &std::path::Path, names: &[String], days: u32, ca: crate::certs::CaSource) -> Exit {
    match crate::certs::generate_files(out, names, days, ca) {
        Ok(()) => {
            println!("wrote {0}/ca.crt, {0}/tls.crt, {0}/tls.key", out.display());
            Exit::Success
        }
        Err(e) => {
            eprintln!("cannot write certificates: {e}");
            e.exit()
        }
    }
}

fn reconcile(args: ReconcileArgs) -> Exit {
    telemetry::init(args.log_format, "info");
    install_crypto_provider();
    block_on("", async {
        match crate::controller::run::run(args.reconciler).await {
            Ok(()) => Exit::Success,
            Err(e) => {
                tracing::error!(error = %e, "the reconciler stopped");
                Exit::Failure
            }
        }
    })
}

fn manifests(ca_bundle: Option<PathBuf>, namespace: String) -> Exit {
    let ca_bundle = match ca_bundle.map(std::fs::read_to_string).transpose() {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("cannot read --ca-bundle: {e}");
            return Exit::Usage;
        }
    };
    print!(
        "{}",
        crate::manifests::webhook_configurations(&crate::manifests::Options {
            namespace,
            ca_bundle
        })
    );
    Exit::Success
}

fn runner_clean(args: &CleanArgs) -> Exit {
    telemetry::init(args.log_format, "info");
    install_crypto_provider();
    let config = args.config();
    block_on(
        crate::reconcile::clean::FAILURE_PREFIX,
        crate::runner::clean::run(&config),
    )
}

/// Why `crds` could not print or write the CRDs.
#[derive(Debug, thiserror::Error)]
enum CrdsError {
    #[error(transparent)]
    Render(#[from] serde_saphyr::SerializeError),
    #[error(transparent)]
    Write(#[from] std::io::Error),
}

fn write_crds(
    out_dir: Option<&std::path::Path>,
    shape: crate::api::CrdShape,
) -> Result<(), CrdsError> {
    match out_dir {
        None => print!("{}", crate::api::crds_yaml(shape)?),
        Some(dir) => {
            for (name, yaml) in crate::api::crd_files(shape)? {
                std::fs::write(dir.join(name), yaml)?;
            }
        }
    }
    Ok(())
}

/// The only crypto provider of the process, installed before any TLS user starts.
fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is then the same ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs a long-running command's `future` on a multi-threaded tokio runtime, the one
/// way every such command gets one. If the runtime cannot start, says so on stderr
/// (after `prefix`, which a caller whose last line is read by others needs) and fails.
fn block_on(prefix: &str, future: impl Future<Output = Exit>) -> Exit {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => {
            eprintln!("{prefix}cannot start the async runtime: {e}");
            Exit::Failure
        }
    }
}

fn serve(args: &ServeArgs) -> Exit {
    telemetry::init(args.log_format, "info");
    install_crypto_provider();
    let config = match args.config() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return Exit::Usage;
        }
    };
    block_on("", async {
        match server::run(config).await {
            Ok(()) => Exit::Success,
            Err(e) => {
                tracing::error!(error = %e, "cannot serve");
                Exit::Failure
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// clap checks names, ids and relations only when a command is built: flattened
    /// settings must not clash with each other.
    #[test]
    fn every_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reconcile_flags_come_from_the_controllers_settings() {
        let cli = Cli::try_parse_from([
            "tidb-backup-webhook",
            "reconcile",
            "--namespace",
            "test1",
            "--lease-namespace",
            "tidb-admin",
            "--br-image",
            "pingcap/br:v8.5.0",
            "--retry-period",
            "1s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Reconcile(args) = cli.command else {
            panic!("not reconcile: {:?}", cli.command);
        };
        let config = args.reconciler;
        assert_eq!(config.reconcile.namespace.as_deref(), Some("test1"));
        assert_eq!(config.lease.namespace, "tidb-admin");
        assert_eq!(config.lease.name, "tidb-backup-reconciler");
        assert_eq!(config.reconcile.default_br_image, "pingcap/br:v8.5.0");
        assert_eq!(config.lease.timing.retry_period, Duration::from_secs(1));
        assert_eq!(config.lease.timing.lease_duration, Duration::from_secs(15));
        assert_eq!(
            config.reconcile.runner_image,
            crate::controller::DEFAULT_RUNNER_IMAGE
        );
    }

    #[test]
    fn help_shows_the_exit_status_table() {
        for path in [
            &[][..],
            &["check"][..],
            &["runner", "clean"][..],
            &["certs"][..],
        ] {
            let mut command = Cli::command();
            let mut sub = &mut command;
            for name in path {
                sub = sub
                    .find_subcommand_mut(name)
                    .unwrap_or_else(|| panic!("no sub-command {name}"));
            }
            let help = sub.render_help().to_string();
            assert!(help.contains(exit::HELP), "{path:?}:\n{help}");
        }
    }
}
