//! Certificate loading, reload and handshakes over an in-memory stream (TLS 1.2 and 1.3).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A client that trusts exactly `pem`, limited to `version`.
fn client(
    pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// One handshake and a byte each way; the negotiated version.
async fn handshake(
    certs: &Certs,
    trust: &str,
    name: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<rustls::ProtocolVersion, std::io::Error> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(certs.sip_config().unwrap());
    let server = tokio::spawn(async move {
        let mut s = acceptor.accept(b).await?;
        let mut one = [0u8; 1];
        s.read_exact(&mut one).await?;
        s.write_all(&one).await?;
        s.flush().await?;
        Ok::<_, std::io::Error>(())
    });
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let mut c = client(trust, version).connect(name, a).await?;
    c.write_all(b"x").await?;
    let mut one = [0u8; 1];
    c.read_exact(&mut one).await?;
    let v = c.get_ref().1.protocol_version();
    server.await.unwrap()?;
    v.ok_or_else(|| std::io::Error::other("no version"))
}

#[tokio::test]
async fn files_load_and_both_versions_negotiate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "sip.example.test");
    let certs = Certs::from_files(&cert, &key).unwrap();
    let pem = certs.certificate_pem();
    assert_eq!(
        pem,
        std::fs::read_to_string(&cert)
            .unwrap()
            .replace("\r\n", "\n")
    );
    for (v, want) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let got = handshake(&certs, &pem, "sip.example.test", v)
            .await
            .unwrap();
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn self_signed_serves_its_names() {
    let certs = Certs::self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let pem = certs.certificate_pem();
    handshake(&certs, &pem, "localhost", &rustls::version::TLS13)
        .await
        .unwrap();
    handshake(&certs, &pem, "127.0.0.1", &rustls::version::TLS12)
        .await
        .unwrap();
    assert!(
        handshake(&certs, &pem, "other.example", &rustls::version::TLS13)
            .await
            .is_err(),
        "a name the certificate does not carry"
    );
    assert_eq!(certs.fingerprint().len(), 32 * 3 - 1);
    assert!(!certs.reload_if_changed().unwrap(), "nothing to reload");
}

#[tokio::test]
async fn changed_files_are_served_after_reload_and_a_bad_pair_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "old.example.test");
    let certs = Certs::from_files(&cert, &key).unwrap();
    let old = certs.certificate_pem();
    assert!(!certs.reload_if_changed().unwrap(), "unchanged files");

    // A renewal caught half-way: the new certificate with the old key.
    let made = rcgen::generate_simple_self_signed(vec!["new.example.test".to_owned()]).unwrap();
    std::fs::write(&cert, made.cert.pem()).unwrap();
    assert!(matches!(
        certs.reload_if_changed(),
        Err(TlsError::Key { .. })
    ));
    assert_eq!(certs.certificate_pem(), old, "still the old certificate");
    handshake(&certs, &old, "old.example.test", &rustls::version::TLS13)
        .await
        .unwrap();

    // The key follows: the next check serves the new pair.
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    assert!(certs.reload_if_changed().unwrap());
    let new = certs.certificate_pem();
    assert_ne!(new, old);
    handshake(&certs, &new, "new.example.test", &rustls::version::TLS13)
        .await
        .unwrap();
    assert!(!certs.reload_if_changed().unwrap(), "loaded once");
}

#[test]
fn unreadable_or_empty_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "x.example.test");
    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        Certs::from_files(&missing, &key),
        Err(TlsError::Read { path, .. }) if path == missing
    ));
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not pem").unwrap();
    assert!(matches!(
        Certs::from_files(&empty, &key),
        Err(TlsError::NoCertificate { .. })
    ));
    assert!(matches!(
        Certs::from_files(&cert, &empty),
        Err(TlsError::NoKey { .. })
    ));
}
