//! Certificates for the webhook: a CA and a serving certificate signed by it, for the
//! `certs` command (files for a Secret) and `serve --self-signed` (development).

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::exit::Exit;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// `--ca-cert`/`--ca-key` are not a CA certificate and its key.
    #[error("cannot generate the certificate: {0}")]
    InvalidCa(#[source] rcgen::Error),
    /// `--ca-cert`/`--ca-key` cannot be read.
    #[error("{path}: {source}")]
    ReadCa {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("at least one DNS name or IP address is required")]
    NoNames,
}

impl CertError {
    /// The exit status of the `certs` command: what it was given is unusable, or writing
    /// the files failed.
    pub fn exit(&self) -> Exit {
        match self {
            Self::InvalidCa(_) | Self::ReadCa { .. } | Self::NoNames => Exit::Usage,
            Self::Generate(_) | Self::Io { .. } => Exit::Failure,
        }
    }
}

/// A certificate authority that can issue serving certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct ServingCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Authority {
    /// A new self-signed CA valid for `days` days.
    pub fn generate(common_name: &str, days: u32) -> Result<Self, CertError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, days);
        let key = KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// An existing CA, from its PEM certificate and key: serving certificates renewed
    /// under it keep every `caBundle` that trusts it valid.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(key_pem).map_err(CertError::InvalidCa)?;
        Ok(Self {
            issuer: Issuer::from_ca_cert_pem(cert_pem, key).map_err(CertError::InvalidCa)?,
            pem: cert_pem.to_owned(),
        })
    }

    /// The CA's private key, PEM-encoded (keep it out of the cluster).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The CA certificate (the webhook configuration's `caBundle`).
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// Issues an ECDSA P-256 serving certificate for `names` (DNS names or IP
    /// addresses) valid for `days` days.
    pub fn issue(&self, names: &[String], days: u32) -> Result<ServingCert, CertError> {
        self.issue_for(names, days, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// Issues a client certificate (e.g. for the apiserver when `--client-ca` is used);
    /// the first name is its common name.
    pub fn issue_client(&self, names: &[String], days: u32) -> Result<ServingCert, CertError> {
        self.issue_for(names, days, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue_for(
        &self,
        names: &[String],
        days: u32,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<ServingCert, CertError> {
        let first = names.first().ok_or(CertError::NoNames)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = name(first);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, days);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServingCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Valid from an hour ago (clock skew between nodes) for `days` days.
fn set_validity(params: &mut CertificateParams, days: u32) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`, the key names of a
/// `kubernetes.io/tls` Secret plus its CA.
pub fn write_files(dir: &Path, ca_pem: &str, serving: &ServingCert) -> Result<(), CertError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CertError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (file, contents) in [("ca.crt", ca_pem), ("tls.crt", &serving.cert_pem)] {
        let path = dir.join(file);
        std::fs::write(&path, contents).map_err(io(&path))?;
    }
    let key_path = dir.join("tls.key");
    write_private(&key_path, &serving.key_pem).map_err(io(&key_path))
}

/// Where the `certs` command gets its CA.
pub enum CaSource<'a> {
    /// A new CA, valid ten times as long as the serving certificate; its key is written
    /// as `ca.key` so later renewals can reuse it.
    New,
    /// An existing CA (`--ca-cert`, `--ca-key`): only the serving certificate changes.
    Existing { cert: &'a Path, key: &'a Path },
}

/// The `certs` command: a serving certificate for `names`, and its CA, written into
/// `dir` as `ca.crt`, `tls.crt` and `tls.key` (plus `ca.key` for a new CA).
pub fn generate_files(
    dir: &Path,
    names: &[String],
    days: u32,
    ca: CaSource,
) -> Result<(), CertError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| CertError::ReadCa {
            path: path.display().to_string(),
            source,
        })
    };
    let (authority, new_key) = match ca {
        CaSource::New => {
            let authority = Authority::generate("tidb-backup-webhook CA", days.saturating_mul(10))?;
            let key = authority.key_pem();
            (authority, Some(key))
        }
        CaSource::Existing { cert, key } => (Authority::load(&read(cert)?, &read(key)?)?, None),
    };
    let serving = authority.issue(names, days)?;
    write_files(dir, authority.cert_pem(), &serving)?;
    if let Some(key) = new_key {
        let path = dir.join("ca.key");
        write_private(&path, &key).map_err(|source| CertError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use x509_parser::prelude::*;

    #[test]
    fn issues_a_server_certificate_with_the_sans() {
        let ca = Authority::generate("test CA", 30).expect("CA");
        let names = [
            "tidb-backup-webhook",
            "tidb-backup-webhook.tidb-admin.svc",
            "127.0.0.1",
        ]
        .map(String::from);
        let serving = ca.issue(&names, 7).expect("issue");
        let der = rustls::pki_types::CertificateDer::from_pem_slice(serving.cert_pem.as_bytes())
            .expect("pem");
        let (_, cert) = X509Certificate::from_der(&der).expect("x509");
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("san")
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            sans,
            [
                "DNSName(tidb-backup-webhook)",
                "DNSName(tidb-backup-webhook.tidb-admin.svc)",
                "IPAddress(7f:00:00:01)"
            ]
        );
        let lifetime =
            cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert_eq!(lifetime, 7 * 86_400 + 3_600);
        assert!(ca.issue(&[], 1).is_err());
    }

    #[test]
    fn renewals_under_a_loaded_ca_chain_to_the_same_root() {
        let ca = Authority::generate("test CA", 30).expect("CA");
        let loaded = Authority::load(ca.cert_pem(), &ca.key_pem()).expect("load");
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        let renewed = loaded.issue(&["localhost".to_owned()], 1).expect("issue");
        let leaf = rustls::pki_types::CertificateDer::from_pem_slice(renewed.cert_pem.as_bytes())
            .expect("pem");
        let root = rustls::pki_types::CertificateDer::from_pem_slice(ca.cert_pem().as_bytes())
            .expect("pem");
        let (_, leaf) = X509Certificate::from_der(&leaf).expect("leaf");
        let (_, root) = X509Certificate::from_der(&root).expect("root");
        assert_eq!(leaf.issuer(), root.subject());
        assert!(
            leaf.verify_signature(Some(root.public_key())).is_ok(),
            "signed by the loaded CA's key"
        );
        assert!(Authority::load(ca.cert_pem(), "not a key").is_err());
    }
}
