//! The exit statuses of every sub-command: one table, shown by `--help` and the README.
//!
//! clap exits 2 on a bad command line, so 2 is "unusable input, nothing done" for every
//! command; 1 is "ran, and failed or found a problem".

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done; for `check` and `explain`, every object is valid (warnings allowed).
    Success,
    /// 1: the command ran and failed: an object is invalid (`check`, `explain`), or the
    /// work could not be done (serving stopped on an error, files could not be written,
    /// the clean did not finish).
    Failure,
    /// 2: nothing was done because the input is unusable: an unknown flag or a bad value,
    /// an input file that cannot be read or parsed, an invalid configuration, a clean
    /// target `runner clean` refuses.
    Usage,
}

impl Exit {
    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The table as `--help` prints it.
pub const HELP: &str = "Exit status (every command):
  0  success; check and explain: every object is valid (warnings allowed)
  1  failure; check and explain: an object is invalid; other commands: the work failed
  2  unusable input, nothing done: a bad flag or value, an unreadable or unparsable file,
     an invalid configuration, a clean target runner clean refuses";
