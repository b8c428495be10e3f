//! The admission handler on the 8 KB UPDATE review (managedFields included), without
//! the network: the CPU cost per review that the load test adds to HTTP and TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a panic is the failure report

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tidb_backup_webhook::admission::{Admission, Endpoint};

const REVIEW: &[u8] = include_bytes!("fixtures/review-backup-update.json");

fn admission(c: &mut Criterion) {
    let admission = Admission::new();
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        c.bench_function(&format!("handle {} 8KB review", endpoint.path()), |b| {
            b.iter(|| admission.handle(endpoint, black_box(REVIEW)))
        });
    }
    c.bench_function("parse 8KB review as serde_json::Value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(REVIEW)))
    });
}

criterion_group!(benches, admission);
criterion_main!(benches);
