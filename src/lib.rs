#![forbid(unsafe_code)]
//! tidb-backup-webhook: admission webhook, offline validator and slim reconciler for
//! TiDB Operator `Backup` and `BackupSchedule` resources.
//!
//! Layers, each depending only on those before it:
//!
//! - [`api`] (types, CRDs, decoding) ← [`rules`] (pure defaulting and validation) ←
//!   [`admission`] (review in, decision and JSON Patch out, no IO) ← [`server`] (HTTPS,
//!   TLS, admin port, metrics);
//! - [`rules`] ← [`reconcile`] (pure planning: Job, BR command line, status, GC-lifetime
//!   guard) ← [`controller`] (kube client, SQL, leader election around it);
//! - offline services: [`check`] (validation) and [`explain`] (the reconciler's plan);
//!   [`certs`] (certificates); [`manifests`] (webhook configurations); [`cli`] (every
//!   command and flag); [`exit`] (the exit statuses every command shares);
//! - [`runner`]: what the reconciler's Jobs run from this project's image (`runner
//!   clean` deletes a Backup's data for cleanPolicy).

pub mod admission;
pub mod api;
pub mod certs;
pub mod check;
pub mod cli;
pub mod controller;
pub mod exit;
pub mod explain;
pub mod iam;
pub mod manifests;
pub mod reconcile;
pub mod rules;
pub mod runner;
pub mod server;
pub mod telemetry;
