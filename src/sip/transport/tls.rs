//! SIP over TLS listener (RFC 3261 §26, I/O): admits each connection within the caps, runs the
//! handshake in its own task under a deadline, then serves it as a stream connection.
//!
//! The certificate comes from `crate::tls` (reloaded there without a restart). Requests to a
//! phone that registered over TLS go back down the same connection (RFC 5626 §5.3 flow reuse):
//! the registrar's binding keeps the connection as its `Peer`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::limits::{ConnClock, ConnLimits, Expired};
use super::stream::{self, Shared};
use super::tcp::NEXT_CONN;
use crate::sip::core::Peer;

/// Accepts TLS connections until shutdown.
pub(crate) async fn run_listener(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: Arc<ConnLimits>,
    sh: Shared,
) {
    while let Some((tcp, addr, local, guard)) =
        super::tcp::next_admitted(&listener, true, &limits, &sh).await
    {
        let acceptor = acceptor.clone();
        let mut clock = ConnClock::new(Instant::now(), (*limits).clone(), true);
        let sh = sh.clone();
        tokio::spawn(async move {
            let (deadline, _) = clock.next(false);
            let shake = tokio::time::timeout_at(
                tokio::time::Instant::from_std(deadline),
                acceptor.accept(tcp),
            );
            let tls = tokio::select! {
                _ = sh.shutdown.cancelled() => return,
                r = shake => match r {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %addr, error = %e, "SIP TLS handshake failed");
                        sh.table.count_expired(Expired::Handshake);
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = %addr, "SIP TLS handshake timed out");
                        sh.table.count_expired(Expired::Handshake);
                        return;
                    }
                },
            };
            clock.handshake_done(Instant::now());
            let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
            let peer = Peer::Tcp {
                conn,
                addr,
                tls: true,
            };
            stream::run(tls, peer, local, clock, guard, sh).await;
        });
    }
}
