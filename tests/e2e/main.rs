//! End-to-end tests against a real control plane: etcd, kube-apiserver and
//! kube-controller-manager built from their Go modules by `make test-deps`, with the real
//! webhook binary registered through the shipped configurations. Run alone with `cargo
//! test --test e2e`.
//!
//! Two phases, each with a control plane of its own (see `harness`): the project's own
//! CRDs (the README's standalone case), then CRDs shaped as TiDB Operator 1.6 ships them
//! (the "next to TiDB Operator" case), whose tests are named `tidb_operator_crds::…`.
//! The reconciler's tests run in the first phase (the standalone reconciler needs the
//! project's CRDs, with their status subresource). `helm` installs the chart into a
//! control plane of its own.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod cluster;
mod corpus;
mod harness;
mod helm;
mod reconciler;
mod webhook;

use std::process::ExitCode;

use harness::crds::CrdSet;
use harness::{Phase, Settings};

fn settings(crds: CrdSet) -> Box<dyn FnOnce() -> Settings> {
    Box::new(move || {
        let (webhook_args, webhook_config) = webhook::static_iam_config();
        Settings {
            crds,
            webhook_args,
            webhook_config,
        }
    })
}

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let phases = vec![
        Phase {
            prefix: "",
            settings: settings(CrdSet::Standalone),
            tests: cluster::tests()
                .into_iter()
                .chain(webhook::tests())
                .chain(corpus::tests())
                .chain(reconciler::tests())
                .collect(),
        },
        Phase {
            prefix: "tidb_operator_crds::",
            settings: settings(CrdSet::TidbOperator),
            tests: webhook::tests()
                .into_iter()
                .chain(corpus::tests())
                .chain(helm::tests())
                .collect(),
        },
    ];
    harness::run_phases(&args, phases).exit_code()
}
