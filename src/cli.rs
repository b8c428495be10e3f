//! The command line: every sub-command and flag is defined here and dispatched to the
//! layer that implements it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::check::{self, OutputFormat};

#[derive(Debug, Parser)]
#[command(
    name = "tidb-backup-webhook",
    version,
    about = "Admission webhook, offline validator and slim reconciler for TiDB Operator Backup/BackupSchedule resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Default and validate Backup/BackupSchedule manifests offline.
    ///
    /// Prints every problem as `FILE: KIND/NAME: FIELD: message` on stderr. Exits 0 when
    /// every object is valid (warnings allowed), 1 when any is invalid, 2 when an input
    /// cannot be read or parsed.
    Check {
        /// Print the defaulted objects in this format on stdout.
        #[arg(short = 'o', long = "output", value_enum)]
        output: Option<OutputFormat>,
        /// YAML or JSON files, multi-document allowed; `-` reads stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Show what the reconciler would do with Backups, offline: the defaulted Backup, its
    /// validation result, and the Job (with BR's command line) it would create.
    ///
    /// Exits 0 when every Backup is valid, 1 when any is invalid, 2 when an input cannot
    /// be read or parsed.
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
        /// YAML or JSON files, multi-document allowed; `-` reads stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Run the Backup reconciler: execute Backups as BR Jobs (leader-elected).
    Reconcile(crate::controller::ReconcileArgs),
    /// Print the Backup and BackupSchedule CustomResourceDefinitions as YAML.
    Crds {
        /// Write one file per CRD into this directory instead (as in `manifests/crds`).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<std::path::PathBuf>,
    },
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Check { output, files } => check::run(&files, output),
            Command::Explain {
                tikv_image,
                cluster_tls,
                br_image,
                files,
            } => crate::explain::run(
                &files,
                &crate::explain::ExplainOptions {
                    tikv_image,
                    cluster_tls,
                    default_br_image: br_image,
                },
            ),
            Command::Reconcile(args) => crate::controller::run_blocking(args),
            Command::Crds { out_dir } => match write_crds(out_dir.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot write the CRDs: {e}");
                    ExitCode::FAILURE
                }
            },
        }
    }
}

fn write_crds(out_dir: Option<&std::path::Path>) -> Result<(), Box<dyn std::error::Error>> {
    match out_dir {
        None => print!("{}", crate::api::crds_yaml()?),
        Some(dir) => {
            for (name, yaml) in crate::api::crd_files()? {
                std::fs::write(dir.join(name), yaml)?;
            }
        }
    }
    Ok(())
}
