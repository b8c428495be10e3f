#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tidb_backup_webhook::cli::Cli::parse().run()
}
