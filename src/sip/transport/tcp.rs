//! TCP listener (I/O): admits each connection within the caps (`limits::ConnTable`), then runs
//! it as a stream connection (`stream`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

use super::limits::{ConnClock, ConnGuard, ConnLimits};
use super::stream::{self, Shared};
use crate::sip::core::Peer;

/// Connection ids, unique across the TCP and TLS listeners.
pub(super) static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// The next connection admitted within the caps, with the peer's and our address; `None` at
/// shutdown. One past a cap is closed at once (counted by the table). Shared by the TCP and TLS
/// listeners.
pub(super) async fn next_admitted(
    listener: &TcpListener,
    tls: bool,
    limits: &ConnLimits,
    sh: &Shared,
) -> Option<(TcpStream, SocketAddr, SocketAddr, ConnGuard)> {
    let fallback = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let accepted = tokio::select! {
            _ = sh.shutdown.cancelled() => return None,
            r = listener.accept() => r,
        };
        let Ok((tcp, addr)) = accepted else {
            // EMFILE and the like: give the system a moment instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Ok(guard) = sh.table.admit(addr.ip(), tls, limits) else {
            let kind = if tls { "TLS" } else { "TCP" };
            tracing::debug!(peer = %addr, "SIP {kind} connection refused: over the cap");
            continue; // dropping the stream closes it
        };
        stream::tune(&tcp);
        let local = tcp.local_addr().unwrap_or(fallback);
        return Some((tcp, addr, local, guard));
    }
}

/// Accepts connections until shutdown and runs each as a stream connection.
pub(crate) async fn run_listener(listener: TcpListener, limits: Arc<ConnLimits>, sh: Shared) {
    while let Some((tcp, addr, local, guard)) = next_admitted(&listener, false, &limits, &sh).await
    {
        let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        let peer = Peer::Tcp {
            conn,
            addr,
            tls: false,
        };
        let clock = ConnClock::new(Instant::now(), (*limits).clone(), false);
        tokio::spawn(stream::run(tcp, peer, local, clock, guard, sh.clone()));
    }
}
