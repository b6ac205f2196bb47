//! [`ZammadReceiver`], the handle a test holds: started on port 0, its URLs and token, what it
//! received, and the faults a test injects (failures, lost answers, down); and the state it
//! shares with the connections.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::handler::accept_loop;
use super::{CtiEvent, Direction, Duplicate, Received, Ticket, User, Violation, ZammadConfig};

/// The running receiver; dropping it stops the server.
pub(crate) struct ZammadReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ZammadReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the receiver and its connections share.
pub(crate) struct Shared {
    pub(crate) config: ZammadConfig,
    pub(crate) down: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the record from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything the receiver holds and records, behind [`Shared::lock`].
#[derive(Default)]
pub(crate) struct State {
    pub(crate) users: Vec<User>,
    pub(crate) tickets: Vec<Ticket>,
    pub(crate) next_article_id: u64,
    pub(crate) ticket_counter: u64,
    pub(crate) calls: HashMap<String, CallLog>,
    pub(crate) cti_events: Vec<CtiEvent>,
    pub(crate) violations: Vec<Violation>,
    pub(crate) requests: Vec<Received>,
    /// Idempotency key → (method, path, times processed with a 2xx).
    pub(crate) accepted_keys: BTreeMap<String, (String, String, usize)>,
    pub(crate) fail_next: u32,
    pub(crate) fail_status: u16,
    pub(crate) lose_next: u32,
}

/// What the receiver remembers of a call, as Zammad's caller log does (app/models/cti/log.rb).
pub(crate) struct CallLog {
    pub(crate) direction: Direction,
    pub(crate) answered: bool,
    pub(crate) hung_up: bool,
}

impl ZammadReceiver {
    /// Binds 127.0.0.1 on port 0 and serves until dropped.
    pub(crate) async fn start(config: ZammadConfig) -> ZammadReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut state = State {
            next_article_id: 1,
            ..State::default()
        };
        state.users.push(User {
            id: 1,
            login: "-".into(),
            email: String::new(),
            phone: String::new(),
            mobile: String::new(),
            firstname: "-".into(),
            lastname: String::new(),
            agent: false,
        });
        state.users.push(User {
            id: 2,
            login: config.agent_email.clone(),
            email: config.agent_email.clone(),
            phone: String::new(),
            mobile: String::new(),
            firstname: "firstline".into(),
            lastname: "API".into(),
            agent: true,
        });
        for c in &config.customers {
            let id = state.users.len() as u64 + 1;
            state.users.push(User {
                id,
                login: c.email.to_lowercase(),
                email: c.email.clone(),
                phone: c.phone.clone(),
                mobile: String::new(),
                firstname: c.firstname.clone(),
                lastname: c.lastname.clone(),
                agent: false,
            });
        }
        let shared = Arc::new(Shared {
            config,
            down: AtomicBool::new(false),
            state: Mutex::new(state),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        ZammadReceiver { addr, shared, task }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (the REST API is under `/api/v1/`).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The generic CTI endpoint with its token, as Zammad shows it in the integration settings.
    pub(crate) fn cti_url(&self) -> String {
        format!("{}{}", self.url(), self.cti_path())
    }

    /// The path part of [`Self::cti_url`].
    pub(crate) fn cti_path(&self) -> String {
        format!("/api/v1/cti/{}", self.shared.config.cti_token)
    }

    /// The REST API token the receiver accepts.
    pub(crate) fn api_token(&self) -> &str {
        &self.shared.config.api_token
    }

    /// The configuration it was started with.
    pub(crate) fn config(&self) -> &ZammadConfig {
        &self.shared.config
    }

    /// Everything that did not match the documented shapes, oldest first.
    pub(crate) fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// The violations so far, clearing them.
    pub(crate) fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Panics with the list if anything violated the documented shapes.
    #[track_caller]
    pub(crate) fn assert_no_violations(&self) {
        let v = self.violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "Zammad receiver saw {} violation(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }

    /// The accepted CTI events, in arrival order.
    pub(crate) fn cti_events(&self) -> Vec<CtiEvent> {
        self.shared.lock().cti_events.clone()
    }

    /// The tickets, by id.
    pub(crate) fn tickets(&self) -> Vec<Ticket> {
        self.shared.lock().tickets.clone()
    }

    /// All users: 1 `-`, 2 the API agent, then the configured customers, then created ones.
    pub(crate) fn users(&self) -> Vec<User> {
        self.shared.lock().users.clone()
    }

    /// Every request, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Received> {
        self.shared.lock().requests.clone()
    }

    /// Idempotency keys processed successfully more than once. A retry after an injected failure
    /// or a refused connection is not a duplicate; a retry after a lost answer is.
    pub(crate) fn duplicates(&self) -> Vec<Duplicate> {
        self.shared
            .lock()
            .accepted_keys
            .iter()
            .filter(|(_, (_, _, times))| *times > 1)
            .map(|(key, (method, path, times))| Duplicate {
                key: key.clone(),
                method: method.clone(),
                path: path.clone(),
                times: *times,
            })
            .collect()
    }

    /// Answers the next `n` requests (any endpoint) with `status` and a Zammad-style error body,
    /// without processing them.
    pub(crate) fn fail_next(&self, n: u32, status: u16) {
        let mut st = self.shared.lock();
        st.fail_next = n;
        st.fail_status = status;
    }

    /// Processes the next `n` successful requests, then closes the connection instead of
    /// answering: the caller cannot know the ticket was made (the case idempotency keys are for).
    pub(crate) fn lose_next(&self, n: u32) {
        self.shared.lock().lose_next = n;
    }

    /// While down, new connections are accepted and closed at once, and requests on open
    /// keep-alive connections are answered by closing the connection.
    pub(crate) fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }
}
