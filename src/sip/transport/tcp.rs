//! TCP listener (I/O): admits each connection within the caps (`limits::ConnTable`), then runs
//! it as a stream connection (`stream`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::net::TcpListener;

use super::limits::{ConnClock, ConnLimits};
use super::stream::{self, Shared};
use crate::sip::core::Peer;

/// Connection ids, unique across the TCP and TLS listeners.
pub(super) static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Accepts connections until shutdown; one past a cap is closed at once (counted).
pub(crate) async fn run_listener(listener: TcpListener, limits: Arc<ConnLimits>, sh: Shared) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let accepted = tokio::select! {
            _ = sh.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        let Ok((tcp, addr)) = accepted else {
            // EMFILE and the like: give the system a moment instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Ok(guard) = sh.table.admit(addr.ip(), false, &limits) else {
            tracing::debug!(peer = %addr, "SIP TCP connection refused: over the cap");
            continue; // dropping the stream closes it
        };
        stream::tune(&tcp);
        let local = tcp.local_addr().unwrap_or(local);
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
