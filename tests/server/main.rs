//! The HTTPS admission server on loopback, driven by real TLS clients.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod admin;
mod connections;
mod iam;
mod keepalive;
mod malformed;
mod reviews;
mod rotation;
mod shutdown;
mod support;
