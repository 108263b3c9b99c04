//! The local emulator's TLS identity: a self-signed certificate for loopback and for API
//! Gateway's host form (`API_ID.execute-api.localhost`), which the emulator's own generated
//! certificate does not name. `scripts/dev` hands the pair to MiniStack
//! (`MINISTACK_SSL_CERT`/`_KEY`) and the certificate to every client as `AWS_CA_BUNDLE`.

use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

/// The names the certificate covers.
pub const NAMES: [&str; 4] = ["localhost", "*.execute-api.localhost", "127.0.0.1", "::1"];

/// Writes `server.crt` and `server.key` into `dir` (created if missing).
pub fn write(dir: &Path) -> Result<(), String> {
    let mut params = CertificateParams::new(NAMES.map(str::to_owned).to_vec()).map_err(|e| e.to_string())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "crm-erp local stack");
    params.distinguished_name = name;
    // A CA certificate served as a server's own is refused by rustls (CaUsedAsEndEntity).
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("server.crt", cert.pem())?;
    write("server.key", key.serialize_pem())
}
