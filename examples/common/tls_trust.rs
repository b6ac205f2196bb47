//! Trusting one self-signed certificate, shared by the integration tests (tests/it, included
//! with `#[path]`) and the SIP load client: a certificate for the loopback names made with
//! rcgen, and a rustls client that trusts exactly the certificate(s) in a PEM (TLS 1.3 and 1.2).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

/// Writes a fresh self-signed certificate for 127.0.0.1, localhost and the baresip namespace's
/// address (10.254.0.1) and its key over `cert` and `key`; returns the certificate's PEM.
pub(crate) fn write_cert(cert: &Path, key: &Path) -> Result<String, String> {
    let made = rcgen::generate_simple_self_signed(
        ["127.0.0.1", "localhost", "10.254.0.1"].map(String::from),
    )
    .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let pem = made.cert.pem();
    let write = |p: &Path, text: &str| {
        std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    // The key first: a reload between the two writes sees a mismatch and keeps the old pair.
    write(key, &made.signing_key.serialize_pem())?;
    write(cert, &pem)?;
    Ok(pem)
}

/// A client that trusts exactly the certificate(s) in `pem` (TLS 1.3 and 1.2).
pub(crate) fn connector(pem: &str) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let c = c.map_err(|e| format!("bad PEM certificate: {e}"))?;
        roots
            .add(c)
            .map_err(|e| format!("unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no certificate in the PEM".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(cfg)))
}
