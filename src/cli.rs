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
