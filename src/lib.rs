#![forbid(unsafe_code)]
//! tidb-backup-webhook: admission webhook, offline validator and slim reconciler for
//! TiDB Operator `Backup` and `BackupSchedule` resources.
//!
//! Layers, each depending only on those before it: [`api`] (types, CRDs, decoding) ←
//! [`rules`] (pure defaulting and validation) ← [`check`] (offline validation service) ←
//! [`cli`] (the command line).

pub mod admission;
pub mod api;
pub mod certs;
pub mod check;
pub mod cli;
pub mod rules;
pub mod server;
pub mod telemetry;
