//! The reconciler's IO: the GC-lifetime guard against a real MariaDB, the Backup
//! reconcile against an in-memory fake apiserver (plus MariaDB where `spec.from` is set),
//! cleanPolicy (finalizer, clean Job, terminating namespace), the GC-lifetime finalizer
//! and the BackupSchedule reconcile against the same fake.

mod clean;
mod fake_apiserver;
mod gc;
mod gc_finalizer;
mod leader;
mod mariadb;
mod rbac;
mod reconcile;
mod schedule;
mod serve;
