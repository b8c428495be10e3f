//! Network serving: the admin port, and (issue 3) the HTTPS admission server.

pub mod admin;
pub mod signal;
