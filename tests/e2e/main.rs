//! End-to-end tests against a real control plane: etcd, kube-apiserver and
//! kube-controller-manager built from their Go modules by `make test-deps`, started once
//! for this test binary (see `harness`), with the real webhook binary registered through
//! the shipped configurations. Run alone with `cargo test --test e2e`.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod cluster;
mod harness;
mod reconciler;
mod webhook;

use std::process::ExitCode;

use harness::Settings;
use harness::crds::CrdSet;

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let settings = || {
        let (webhook_args, webhook_config) = webhook::static_iam_config();
        Settings {
            crds: CrdSet::Standalone,
            webhook_args,
            webhook_config,
        }
    };
    let tests = cluster::tests()
        .into_iter()
        .chain(webhook::tests())
        .chain(reconciler::tests())
        .collect();
    harness::run(&args, settings, tests).exit_code()
}
