//! `runner clean` against a real S3-protocol server: s3s-fs (an S3 implementation over a
//! directory) served in-process on loopback, with signature checking on. Objects are
//! laid out as files; everything the runner does goes through the S3 API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod clean;
