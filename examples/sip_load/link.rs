//! The load client's signalling links to the server: UDP sockets, or a pool of TCP or TLS
//! connections shared by many calls (as a carrier trunk or SBC holds them), each with a reader
//! task that frames messages and hands each to the call (or registration) waiting for its
//! Call-ID. An INVITE for an unknown Call-ID goes to the run's [`OnInvite`] hook (agent phones,
//! `--mode agents`) with a fresh inbox; other requests for an unknown Call-ID get 481. Nothing
//! here grows without a bound.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use crate::sip_msg::SipMsg;

/// Messages buffered for one call before further ones are dropped (and counted).
const INBOX: usize = 32;
/// Messages queued for one connection's writer; a full queue makes senders wait.
const OUTBOX: usize = 1024;
/// The largest message a stream reader buffers before it gives up on the connection.
const MAX_MESSAGE: usize = 256 * 1024;

/// The SIP transport of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// `udp`, `tcp` or `tls`.
    pub(crate) fn parse(s: &str) -> Result<Transport, String> {
        match s {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            "tls" => Ok(Transport::Tls),
            _ => Err(format!("--transport: udp, tcp or tls, not {s:?}")),
        }
    }

    /// The Via protocol token (RFC 3261 §20.42).
    pub(crate) fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The `transport=` URI parameter of our Contact (none for UDP).
    pub(crate) fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }
}

/// Where each Call-ID's messages go.
type Routes = Rc<RefCell<HashMap<String, mpsc::Sender<SipMsg>>>>;

/// What takes a new dialog's INVITE, the inbox of the dialog's later messages and the link
/// the INVITE came on.
pub(crate) type OnInvite = Rc<dyn Fn(SipMsg, Inbox, Link)>;

/// How a link sends.
#[derive(Clone)]
enum Tx {
    Udp(Rc<UdpSocket>),
    Stream(mpsc::Sender<Vec<u8>>),
}

/// One socket or connection to the server.
#[derive(Clone)]
pub(crate) struct Link {
    /// Our address on it (for Via and Contact).
    pub(crate) local: SocketAddr,
    tx: Tx,
    alive: Rc<Cell<bool>>,
}

impl Link {
    /// Sends one message; fails once the connection is gone.
    pub(crate) async fn send(&self, msg: &str) -> Result<(), String> {
        if !self.alive.get() {
            return Err("connection closed".into());
        }
        match &self.tx {
            Tx::Udp(s) => s
                .send(msg.as_bytes())
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Tx::Stream(tx) => {
                (tx.send(msg.as_bytes().to_vec()).await).map_err(|_| "connection closed".to_owned())
            }
        }
    }
}

/// Counters of what the readers could not deliver.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    /// Messages for a Call-ID nobody waits for (late retransmissions; requests got 481).
    pub(crate) stray: Cell<u64>,
    /// Messages dropped because the call's inbox was full.
    pub(crate) inbox_full: Cell<u64>,
    /// Datagrams or stream data that did not parse as SIP.
    pub(crate) unparsable: Cell<u64>,
    /// Connections the server closed (or that failed) during the run.
    pub(crate) closed: Cell<u64>,
}

/// All links of a run and the routing of what they receive.
pub(crate) struct Links {
    pub(crate) transport: Transport,
    pub(crate) server: SocketAddr,
    links: Vec<Link>,
    routes: Routes,
    on_invite: Option<OnInvite>,
    pub(crate) stats: Rc<LinkStats>,
}

/// What a call reads its messages from; unregisters its Call-ID when dropped.
pub(crate) struct Inbox {
    pub(crate) rx: mpsc::Receiver<SipMsg>,
    call_id: String,
    routes: Routes,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.routes.borrow_mut().remove(&self.call_id);
    }
}

impl Links {
    /// Opens `n` links to `server` (TLS: trusting exactly what `tls` trusts); new dialogs'
    /// INVITEs go to `on_invite` (none: 481).
    pub(crate) async fn open(
        transport: Transport,
        server: SocketAddr,
        n: usize,
        tls: Option<&TlsConnector>,
        on_invite: Option<OnInvite>,
    ) -> Result<Links, String> {
        let mut links = Links {
            transport,
            server,
            links: Vec::with_capacity(n),
            routes: Rc::default(),
            on_invite,
            stats: Rc::default(),
        };
        for i in 0..n.max(1) {
            let link = match transport {
                Transport::Udp => links.udp().await,
                Transport::Tcp => {
                    let tcp = connect(server).await?;
                    let local = tcp.local_addr().map_err(|e| e.to_string())?;
                    Ok(links.stream(tcp, local))
                }
                Transport::Tls => {
                    let tls = tls.ok_or("--transport tls needs --ca")?;
                    let tcp = connect(server).await?;
                    let local = tcp.local_addr().map_err(|e| e.to_string())?;
                    // The certificate names 127.0.0.1 (tls_trust::write_cert, the demo's).
                    let name = ServerName::from(server.ip());
                    let s = (tls.connect(name, tcp).await)
                        .map_err(|e| format!("TLS handshake with {server}: {e}"))?;
                    Ok(links.stream(s, local))
                }
            }
            .map_err(|e| format!("link {i}: {e}"))?;
            links.links.push(link);
        }
        Ok(links)
    }

    /// The number of links.
    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    /// Link `k` modulo the pool size.
    pub(crate) fn pick(&self, k: u64) -> &Link {
        // `open` made at least one link, so the modulus is not zero and the index in range.
        &self.links[(k % self.links.len() as u64) as usize]
    }

    /// Starts routing `call_id`'s messages to the returned inbox.
    pub(crate) fn inbox(&self, call_id: &str) -> Inbox {
        inbox(&self.routes, call_id)
    }

    /// What a reader task needs to deliver.
    fn reader(&self, link: &Link) -> Reader {
        Reader {
            routes: self.routes.clone(),
            stats: self.stats.clone(),
            on_invite: self.on_invite.clone(),
            link: link.clone(),
        }
    }

    async fn udp(&self) -> Result<Link, String> {
        let sock = UdpSocket::bind(SocketAddr::new(self.server.ip(), 0))
            .await
            .map_err(|e| e.to_string())?;
        sock.connect(self.server).await.map_err(|e| e.to_string())?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let sock = Rc::new(sock);
        let link = Link {
            local,
            tx: Tx::Udp(sock.clone()),
            alive: Rc::new(Cell::new(true)),
        };
        let reader = self.reader(&link);
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = sock.recv(&mut buf).await {
                match buf.get(..n).and_then(SipMsg::parse) {
                    Some(m) => reader.deliver(m).await,
                    None => (reader.stats.unparsable).set(reader.stats.unparsable.get() + 1),
                }
            }
        });
        Ok(link)
    }

    fn stream<S>(&self, s: S, local: SocketAddr) -> Link
    where
        S: AsyncRead + AsyncWrite + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(s);
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
        let alive = Rc::new(Cell::new(true));
        let link = Link {
            local,
            tx: Tx::Stream(tx),
            alive: alive.clone(),
        };
        let gone = alive.clone();
        tokio::task::spawn_local(async move {
            while let Some(bytes) = rx.recv().await {
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            gone.set(false);
            let _ = wr.shutdown().await;
        });
        let reader = self.reader(&link);
        tokio::task::spawn_local(async move {
            let stats = reader.stats.clone();
            let mut buf = Vec::with_capacity(16384);
            let mut chunk = vec![0u8; 16384];
            let why = loop {
                match rd.read(&mut chunk).await {
                    Ok(0) => break "closed by the server".to_owned(),
                    Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                    Err(e) => break e.to_string(),
                }
                // Keep-alive CRLFs between messages (RFC 5626 §3.5.1) are skipped.
                while buf.starts_with(b"\r\n") {
                    buf.drain(..2);
                }
                while let Some(m) = SipMsg::parse(&buf) {
                    buf.drain(..m.raw.len());
                    reader.deliver(m).await;
                    while buf.starts_with(b"\r\n") {
                        buf.drain(..2);
                    }
                }
                if buf.len() > MAX_MESSAGE {
                    stats.unparsable.set(stats.unparsable.get() + 1);
                    break format!("no complete message in {} bytes", buf.len());
                }
            };
            if alive.replace(false) {
                stats.closed.set(stats.closed.get() + 1);
                eprintln!("sip_load: connection {local}: {why}");
            }
        });
        link
    }
}

async fn connect(server: SocketAddr) -> Result<TcpStream, String> {
    let tcp = (TcpStream::connect(server).await).map_err(|e| format!("connect {server}: {e}"))?;
    // Small messages, many of them: no Nagle delay on the trunk.
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(tcp)
}

fn inbox(routes: &Routes, call_id: &str) -> Inbox {
    let (tx, rx) = mpsc::channel(INBOX);
    routes.borrow_mut().insert(call_id.to_owned(), tx);
    Inbox {
        rx,
        call_id: call_id.to_owned(),
        routes: routes.clone(),
    }
}

/// One reader task's view of the run.
struct Reader {
    routes: Routes,
    stats: Rc<LinkStats>,
    on_invite: Option<OnInvite>,
    link: Link,
}

impl Reader {
    /// Hands `m` to the call waiting for its Call-ID, or a new dialog's INVITE to the hook;
    /// answers another request nobody waits for with 481.
    async fn deliver(&self, m: SipMsg) {
        let Some(call_id) = m.header("call-id").map(str::to_owned) else {
            self.stats.unparsable.set(self.stats.unparsable.get() + 1);
            return;
        };
        let to = self.routes.borrow().get(&call_id).cloned();
        let Some(tx) = to else {
            if let (Some(hook), Some("INVITE")) = (&self.on_invite, m.method()) {
                hook(m, inbox(&self.routes, &call_id), self.link.clone());
                return;
            }
            self.stats.stray.set(self.stats.stray.get() + 1);
            if m.method().is_some_and(|method| method != "ACK") {
                let _ = (self.link)
                    .send(&m.response(481, "Call/Transaction Does Not Exist"))
                    .await;
            }
            return;
        };
        if tx.try_send(m).is_err() {
            self.stats.inbox_full.set(self.stats.inbox_full.get() + 1);
        }
    }
}
