#![forbid(unsafe_code)]
//! tidb-backup-webhook: admission webhook, offline validator and slim reconciler for
//! TiDB Operator `Backup` and `BackupSchedule` resources.
//!
//! Layers, each depending only on those before it: [`api`] (types, CRDs, decoding) ←
//! [`rules`] (pure defaulting and validation) ← [`check`] (offline validation service) ←
//! [`cli`] (the command line). The reconciler: [`reconcile`] (pure planning: Job, BR
//! command line, status, GC-lifetime guard) ← [`controller`] (kube, SQL and leader
//! election around it) and [`explain`] (the plan, offline).

pub mod api;
pub mod check;
pub mod cli;
pub mod controller;
pub mod explain;
pub mod reconcile;
pub mod rules;
pub mod server;
pub mod telemetry;
