//! The control plane's keys and certificates, generated for each run (ECDSA P-256, valid
//! for a day): one CA for the apiserver's serving certificate and its client
//! certificates, and the service-account signing key.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its key, written as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_pem: String,
    pub apiserver: Pair,
    /// `system:masters`: what `kubectl` uses as the cluster's administrator.
    pub admin: Pair,
    /// `system:kube-controller-manager`, bound by the apiserver's bootstrap RBAC policy.
    pub controller_manager: Pair,
    /// Signs service-account tokens (PKCS#8 private key) ...
    pub service_account_key: PathBuf,
    /// ... and verifies them (the public key: the apiserver reads no public key from a
    /// PKCS#8 file).
    pub service_account_public_key: PathBuf,
}

impl Pki {
    pub fn generate(dir: &Path) -> Result<Self, String> {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let fail = |e: rcgen::Error| format!("cannot generate the control plane's PKI: {e}");

        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = name("tidb-backup-webhook e2e CA", None);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        valid_for_a_day(&mut ca_params);
        let ca_key = KeyPair::generate().map_err(fail)?;
        let ca_pem = ca_params.self_signed(&ca_key).map_err(fail)?.pem();
        let ca = Issuer::new(ca_params, ca_key);
        let ca_cert = write(dir, "ca.crt", &ca_pem)?;

        let apiserver = issue(
            dir,
            "apiserver",
            &ca,
            "kube-apiserver",
            None,
            &[
                "127.0.0.1",
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let admin = issue(
            dir,
            "admin",
            &ca,
            "e2e-admin",
            Some("system:masters"),
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let controller_manager = issue(
            dir,
            "kube-controller-manager",
            &ca,
            "system:kube-controller-manager",
            None,
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let service_account = KeyPair::generate().map_err(fail)?;
        let service_account_key = write(dir, "sa.key", &service_account.serialize_pem())?;
        let service_account_public_key = write(dir, "sa.pub", &service_account.public_key_pem())?;
        Ok(Self {
            ca_cert,
            ca_pem,
            apiserver,
            admin,
            controller_manager,
            service_account_key,
            service_account_public_key,
        })
    }
}

fn issue(
    dir: &Path,
    file: &str,
    ca: &Issuer<'static, KeyPair>,
    common_name: &str,
    organization: Option<&str>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Result<Pair, String> {
    let fail = |e: rcgen::Error| format!("cannot issue the {file} certificate: {e}");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).map_err(fail)?;
    params.distinguished_name = name(common_name, organization);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    valid_for_a_day(&mut params);
    let key = KeyPair::generate().map_err(fail)?;
    let cert_pem = params.signed_by(&key, ca).map_err(fail)?.pem();
    let key_pem = key.serialize_pem();
    Ok(Pair {
        cert: write(dir, &format!("{file}.crt"), &cert_pem)?,
        key: write(dir, &format!("{file}.key"), &key_pem)?,
        cert_pem,
        key_pem,
    })
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = organization {
        name.push(DnType::OrganizationName, organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

fn valid_for_a_day(params: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(1);
}

fn write(dir: &Path, file: &str, contents: &str) -> Result<PathBuf, String> {
    let path = dir.join(file);
    fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// How a kubeconfig user authenticates.
pub enum Credentials<'a> {
    Certificate(&'a Pair),
    Token(&'a str),
}

/// Writes a kubeconfig for `server` (trusting the CA) with one user and context.
pub fn write_kubeconfig(
    path: &Path,
    server: &str,
    ca_pem: &str,
    user: &str,
    credentials: Credentials<'_>,
) -> Result<(), String> {
    use base64::Engine;
    let encode = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    let user_fields = match credentials {
        Credentials::Certificate(pair) => serde_json::json!({
            "client-certificate-data": encode(&pair.cert_pem),
            "client-key-data": encode(&pair.key_pem),
        }),
        Credentials::Token(token) => serde_json::json!({ "token": token }),
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "e2e",
            "cluster": { "server": server, "certificate-authority-data": encode(ca_pem) },
        }],
        "users": [{ "name": user, "user": user_fields }],
        "contexts": [{ "name": "e2e", "context": { "cluster": "e2e", "user": user } }],
        "current-context": "e2e",
    });
    // JSON is YAML; kubectl, kube-rs and the Go components all read it.
    fs::write(path, config.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}
