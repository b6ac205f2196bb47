//! The HTTP and HTTPS listeners (I/O): our own accept loop over hyper's HTTP/1.1 server, so
//! that every connection has a place under the connection cap, a header-read timeout (which
//! also bounds an idle keep-alive connection), an idle timeout on the socket itself (also after
//! a WebSocket upgrade), and HTTPS handshakes run under a deadline in their own task.
//!
//! Each request is marked with its peer address (`ConnectInfo`) and whether it came over TLS
//! (`edge::Secure`) before the router sees it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::edge::Secure;

/// Timeouts and the cap of the HTTP listeners.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// A request's header section must arrive within this; also the longest an idle keep-alive
    /// connection waits for its next request.
    pub header_read: Duration,
    /// A connection on which nothing is read or written for this long is closed (bodies,
    /// upgraded WebSockets; the desk's feeds ping every 30 s).
    pub idle: Duration,
    /// An HTTPS handshake must finish within this.
    pub handshake: Duration,
    /// Open connections (HTTP and HTTPS together) at most; past it new ones are closed.
    pub max_connections: usize,
    /// How long a connection may finish its request at shutdown.
    pub drain: Duration,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            handshake: Duration::from_secs(10),
            max_connections: 4096,
            drain: Duration::from_secs(5),
        }
    }
}

/// Open HTTP connections, shared by the listeners, and those refused at the cap (read for
/// `/health` and `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct OpenConns {
    open: Arc<AtomicUsize>,
    refused: Arc<AtomicU64>,
}

impl OpenConns {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections closed at accept because `max_connections` were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn admit(&self, max: usize) -> Option<ConnGuard> {
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnGuard(self.open.clone()));
        if admitted.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }
}

struct ConnGuard(Arc<AtomicUsize>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` (HTTPS when `tls`) until `stop`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    settings: Arc<ServeSettings>,
    open: OpenConns,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::debug!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(guard) = open.admit(settings.max_connections) else {
            tracing::debug!(%peer, "HTTP connection refused: over the cap");
            continue;
        };
        // Small frames (screen pops) must not wait for the client's delayed ACK of the previous
        // one (Nagle): ~40 ms measured on 12-43 % of pops (BENCHMARKS.md).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (app, settings, stop, tls) = (app.clone(), settings.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            let _guard = guard;
            match tls {
                None => {
                    let io = IdleIo::new(tcp, settings.idle);
                    connection(io, peer, false, app, &settings, stop).await;
                }
                Some(acceptor) => {
                    let shake = tokio::time::timeout(settings.handshake, acceptor.accept(tcp));
                    let tls = tokio::select! {
                        _ = stop.cancelled() => return,
                        r = shake => match r {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "HTTPS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "HTTPS handshake timed out");
                                return;
                            }
                        },
                    };
                    let io = IdleIo::new(tls, settings.idle);
                    connection(io, peer, true, app, &settings, stop).await;
                }
            }
        });
    }
}

/// One HTTP/1.1 connection (with upgrades, for the WebSockets).
async fn connection<S>(
    io: S,
    peer: SocketAddr,
    secure: bool,
    app: Router,
    settings: &ServeSettings,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(Secure(secure));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(settings.drain, conn).await;
        }
    }
}

/// A socket that fails with `TimedOut` once nothing was read or written for `idle`; reading
/// into a full buffer or a peer that stops reading our writes count as nothing.
pub(crate) struct IdleIo<S> {
    io: S,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleIo<S> {
    pub(crate) fn new(io: S, idle: Duration) -> Self {
        Self {
            io,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touch(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.timer.as_mut().reset(at);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "idle connection")
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        match polled {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, data);
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_socket_times_out_and_traffic_keeps_it() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = IdleIo::new(a, Duration::from_secs(10));
        let mut byte = [0u8; 1];
        tokio::time::sleep(Duration::from_secs(8)).await;
        b.write_all(b"x").await.unwrap();
        io.read_exact(&mut byte).await.unwrap();
        // 8 s later the byte at 8 s still counts: not expired yet.
        let read = tokio::time::timeout(Duration::from_secs(9), io.read(&mut byte)).await;
        assert!(read.is_err(), "still waiting 9 s after the byte");
        let err = io.read(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

    #[test]
    fn the_cap_admits_up_to_max_and_frees_on_drop() {
        let open = OpenConns::default();
        let a = open.admit(2).unwrap();
        let _b = open.admit(2).unwrap();
        assert!(open.admit(2).is_none());
        assert_eq!(open.refused(), 1);
        drop(a);
        assert_eq!(open.get(), 1);
        assert!(open.admit(2).is_some());
    }
}
