//! Label keys on TiDB Operator's pods and Jobs that both sides of this project use: the
//! webhook recognises TiKV, backup and clean pods by them, and the reconciler puts them
//! on its Jobs so that those pods are recognised the same way.

/// The pod's role: `tikv` on TiKV pods, `backup` or `clean` on Job pods.
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// The TiDB cluster of TiKV pods; the Backup of Job pods.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// The Backup of backup and clean pods (TiDB Operator's Jobs and this project's).
pub const LABEL_BACKUP: &str = "tidb.pingcap.com/backup";
