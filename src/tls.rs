//! TLS certificates for SIP over TLS and HTTPS: a PEM chain and key from files, reloaded when
//! the files change (checked every few seconds and on SIGHUP), or a self-signed certificate for
//! `--demo`. One certificate resolver serves both listeners, so a reload reaches both at once.
//!
//! rustls with the ring provider, TLS 1.3 and 1.2 only (docs/security.md). A reload that fails
//! (unreadable file, key not matching the certificate, half-written renewal) keeps the old
//! certificate and is retried at the next check.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

/// Errors loading or making a certificate.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM `CERTIFICATE`.
    #[error("no PEM certificate in {path}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("no PEM private key in {path}")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the key, or the key does not belong to the certificate.
    #[error("the key in {key} does not fit the certificate in {cert}")]
    Key {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// The cause.
        #[source]
        source: rustls::Error,
    },
    /// The self-signed certificate could not be made.
    #[error("cannot make a self-signed certificate")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the protocol versions (cannot happen with the ring provider).
    #[error("TLS configuration")]
    Config(#[source] rustls::Error),
}

/// What a certificate's files looked like when last loaded: a changed stamp means reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    cert: (Option<SystemTime>, u64),
    key: (Option<SystemTime>, u64),
}

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Stamp {
        let one =
            |p: &Path| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
        Stamp {
            cert: one(cert),
            key: one(key),
        }
    }
}

/// Where the certificate comes from.
#[derive(Debug)]
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
        /// The stamp of the files now served (std mutex, never held across an await).
        loaded: Mutex<Stamp>,
    },
    SelfSigned,
}

/// The certificate handed to every handshake; swapped whole on reload.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The server certificate of SIP over TLS and HTTPS; cheap to clone.
#[derive(Debug, Clone)]
pub struct Certs {
    resolver: Arc<Resolver>,
    source: Arc<Source>,
    provider: Arc<CryptoProvider>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM chain and key and checks that they belong together.
fn load_files(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.to_owned(),
            source,
        })
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: key.to_owned(),
    })?;
    CertifiedKey::from_der(chain, der, provider).map_err(|source| TlsError::Key {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    })
}

impl Certs {
    /// Loads a PEM certificate chain (leaf first) and its private key.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Certs, TlsError> {
        let provider = provider();
        let stamp = Stamp::of(cert, key);
        let loaded = load_files(cert, key, &provider)?;
        Ok(Certs {
            resolver: Arc::new(Resolver {
                current: RwLock::new(Arc::new(loaded)),
            }),
            source: Arc::new(Source::Files {
                cert: cert.to_owned(),
                key: key.to_owned(),
                loaded: Mutex::new(stamp),
            }),
            provider,
        })
    }

    /// A new self-signed certificate (ECDSA P-256) for these DNS names and IP addresses; for
    /// `--demo`, so TLS works out of the box. Clients must trust it explicitly.
    pub fn self_signed(names: Vec<String>) -> Result<Certs, TlsError> {
        let provider = provider();
        let made = rcgen::generate_simple_self_signed(names)?;
        let der = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let key = CertifiedKey::from_der(vec![made.cert.der().clone()], der, &provider)
            .map_err(TlsError::Config)?;
        Ok(Certs {
            resolver: Arc::new(Resolver {
                current: RwLock::new(Arc::new(key)),
            }),
            source: Arc::new(Source::SelfSigned),
            provider,
        })
    }

    fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone());
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(cfg))
    }

    /// The rustls configuration of the SIP TLS listener (no ALPN: SIP defines none).
    pub fn sip_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.server_config(&[])
    }

    /// The rustls configuration of the HTTPS listener (ALPN `http/1.1`).
    pub fn https_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.server_config(&[b"http/1.1"])
    }

    fn leaf(&self) -> CertificateDer<'static> {
        let current = self
            .resolver
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // A CertifiedKey is never built from an empty chain (checked on load).
        current
            .cert
            .first()
            .cloned()
            .unwrap_or_else(|| CertificateDer::from(Vec::new()))
    }

    /// The certificate served now, as PEM (a client of the demo certificate trusts exactly this).
    pub fn certificate_pem(&self) -> String {
        pem_of(self.leaf().as_ref())
    }

    /// SHA-256 fingerprint of the certificate served now (`AB:CD:…`), for the log.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(self.leaf().as_ref());
        let hex: Vec<String> = hash.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// Reloads the files when their modification time or size changed since the last load.
    /// `Ok(true)`: a new certificate is served; `Ok(false)`: nothing changed (or self-signed).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let Source::Files { cert, key, loaded } = &*self.source else {
            return Ok(false);
        };
        let now = Stamp::of(cert, key);
        if *loaded.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return Ok(false);
        }
        let fresh = load_files(cert, key, &self.provider)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        *loaded.lock().unwrap_or_else(PoisonError::into_inner) = now;
        Ok(true)
    }

    /// Checks the files every `every` and on SIGHUP until `stop`; logs each reload.
    pub async fn watch(self, every: Duration, stop: CancellationToken) {
        if matches!(*self.source, Source::SelfSigned) {
            return;
        }
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<()>();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
                _ = hangup => tracing::info!("SIGHUP: checking the TLS certificate files"),
            }
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(
                    fingerprint = %self.fingerprint(),
                    "TLS certificate reloaded"
                ),
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "TLS certificate files changed but cannot be loaded; still serving the old one"
                ),
            }
        }
    }
}

/// PEM armour for one DER certificate (RFC 7468 §2).
fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
