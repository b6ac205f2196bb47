//! Test clients for TLS: certificates made on the spot, a rustls client that trusts exactly the
//! server's certificate, SIP OPTIONS over TLS or TCP, and raw HTTP/1.1 over HTTPS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A self-signed certificate for 127.0.0.1, localhost and the baresip namespace's address
/// (10.254.0.1) in `dir`: cert path, key path, PEM.
pub(crate) fn cert_files(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let pem = write_cert(&cert, &key);
    (cert, key, pem)
}

/// Writes a fresh certificate and key over `cert` and `key`; the certificate's PEM.
pub(crate) fn write_cert(cert: &Path, key: &Path) -> String {
    crate::tls_trust::write_cert(cert, key).unwrap()
}

/// A client that trusts exactly the certificate(s) in `pem` (TLS 1.3 and 1.2).
pub(crate) fn connector(pem: &str) -> TlsConnector {
    crate::tls_trust::connector(pem).unwrap()
}

/// A TLS connection to `addr` (name 127.0.0.1) trusting `pem`.
pub(crate) async fn tls_connect(
    addr: SocketAddr,
    pem: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    connector(pem).connect(name, tcp).await
}

/// The DER of the certificate the server presented.
pub(crate) fn served_cert(s: &TlsStream<TcpStream>) -> Vec<u8> {
    s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// DER of the first certificate in `pem`.
pub(crate) fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// An OPTIONS request as a phone over a stream transport would send it.
pub(crate) fn options(proto: &str, local: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let id = crate::helpers::random_u64();
    format!(
        "OPTIONS sip:firstline@{server} SIP/2.0\r\nVia: SIP/2.0/{proto} {local};branch=z9hG4bK{id:x}\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag={id:x}\r\nTo: <sip:firstline@{server}>\r\n\
Call-ID: {id:x}@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Reads one SIP or HTTP message head (and a Content-Length body) within `limit`.
pub(crate) async fn read_message<S: AsyncRead + Unpin>(
    s: &mut S,
    limit: Duration,
) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0usize);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf[..end + 4 + len]).to_string());
            }
        }
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends an OPTIONS over `s` and returns the status of the answer.
pub(crate) async fn options_status<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    proto: &str,
    local: SocketAddr,
    server: SocketAddr,
) -> Option<u16> {
    s.write_all(&options(proto, local, server)).await.ok()?;
    let reply = read_message(s, Duration::from_secs(5)).await?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until the peer closes `s` (EOF or reset); how long that took, or `None` past `limit`.
pub(crate) async fn closed_within<S: AsyncRead + Unpin>(
    s: &mut S,
    limit: Duration,
) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(start + limit, s.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// An HTTP/1.1 response: status, headers (names lower case), body.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpReply {
    /// The first header of that (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request with `Connection: close` over `s`.
pub(crate) async fn http_over<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    host: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> HttpReply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in extra {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// One HTTPS request to `addr`, trusting exactly `pem`.
pub(crate) async fn https(
    addr: SocketAddr,
    pem: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> HttpReply {
    let mut s = tls_connect(addr, pem).await.expect("HTTPS handshake");
    http_over(&mut s, addr, method, path, extra, body).await
}

/// One plain HTTP request to `addr`.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> HttpReply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    http_over(&mut s, addr, method, path, extra, None).await
}
