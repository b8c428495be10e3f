//! The reconciler's IO: the GC-lifetime guard against a real MariaDB, and the Backup
//! reconcile against an in-memory fake apiserver (plus MariaDB where `spec.from` is set).

mod fake_apiserver;
mod gc;
mod leader;
mod mariadb;
mod rbac;
mod reconcile;
mod serve;
