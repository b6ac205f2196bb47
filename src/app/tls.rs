//! Which certificate the server uses (`[tls]` files, or a self-signed one for `--demo`) and the
//! SIP stream settings made from it and `[sip]`.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context as _;

use crate::config::Config;
use crate::sip::StreamSettings;
use crate::tls::Certs;

/// The configured certificate, a self-signed one under `--demo` without one, or none (then
/// neither SIP over TLS nor HTTPS listens).
pub(super) fn certificate(cfg: &Config) -> anyhow::Result<Option<Certs>> {
    if let (Some(cert), Some(key)) = (&cfg.tls.cert_file, &cfg.tls.key_file) {
        let certs = Certs::from_files(cert, key)?;
        tracing::info!(
            cert = %cert.display(),
            fingerprint = %certs.fingerprint(),
            "TLS certificate loaded"
        );
        return Ok(Some(certs));
    }
    if !cfg.load_demo {
        return Ok(None);
    }
    let certs = Certs::self_signed(demo_names(cfg)).context("demo certificate")?;
    tracing::info!(
        fingerprint = %certs.fingerprint(),
        "demo: self-signed TLS certificate made (clients must trust it explicitly)"
    );
    Ok(Some(certs))
}

/// The names of the demo certificate: localhost and the loopback addresses, and the listen
/// addresses when they are specific.
fn demo_names(cfg: &Config) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ips: [IpAddr; 4] = [
        cfg.sip.tls_listen.ip(),
        cfg.http.https_listen.ip(),
        cfg.sip.udp_listen.ip(),
        cfg.webrtc.candidate_ip(),
    ];
    for ip in ips {
        let name = ip.to_string();
        if !ip.is_unspecified() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// SIP over TLS (when there is a certificate) and the connection limits.
pub(super) fn sip_streams(cfg: &Config, certs: Option<&Certs>) -> anyhow::Result<StreamSettings> {
    let tls: Option<(SocketAddr, _)> = match certs {
        Some(c) => Some((cfg.sip.tls_listen, c.sip_config()?)),
        None => None,
    };
    Ok(StreamSettings {
        tls,
        limits: cfg.sip.connections.limits(),
    })
}
