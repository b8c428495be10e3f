//! The HTTPS admission server on loopback, driven by real TLS clients.

mod admin;
mod connections;
mod iam;
mod malformed;
mod reviews;
mod rotation;
mod shutdown;
mod support;
