//! The Backup and BackupSchedule CRDs a run installs: a parameter of the harness, since
//! the project runs against two shapes of them (see the README's Install section).

use std::path::Path;

use super::kubectl::Kubectl;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrdSet {
    /// The project's own CRDs (`manifests/crds`, status subresource), the README's
    /// "Standalone" case, installed as the README says.
    Standalone,
    // The "next to TiDB Operator" case (TiDB Operator 1.6's shape: same fields and
    // pruning, no status subresource) joins here once the 1.6 types have landed.
}

impl CrdSet {
    pub fn name(self) -> &'static str {
        match self {
            CrdSet::Standalone => "standalone",
        }
    }

    /// Installs the CRDs and waits until both are established.
    pub fn install(self, kubectl: &Kubectl) -> Result<(), String> {
        let output = match self {
            CrdSet::Standalone => {
                let kustomization = repository_path("manifests/crds");
                kubectl.run(&["apply", "--server-side", "-k", &kustomization])
            }
        };
        if !output.status.success() {
            return Err(format!(
                "installing the {} CRDs failed:\n{output}",
                self.name()
            ));
        }
        let output = kubectl.run(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/backups.pingcap.com",
            "crd/backupschedules.pingcap.com",
        ]);
        if !output.status.success() {
            return Err(format!(
                "the {} CRDs were not established:\n{output}",
                self.name()
            ));
        }
        Ok(())
    }
}

/// A path inside this repository, as a string for a command line.
pub fn repository_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}
