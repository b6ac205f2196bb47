//! A real Request Tracker 5 for the ticket hand-off tests: an `rt-server` of the test's own
//! (not the system's) on a free loopback port, with its own SQLite file and site config in a
//! temporary directory (`RT_SITE_CONFIG` + an empty `RT_SITE_CONFIG_DIR`, so nothing under
//! /etc/request-tracker5 is read or changed), outgoing mail into a file (`$MailCommand =
//! 'testfile'`), and killed on drop. The initialised database (schema, core data, the caller's
//! queues, the API user with its rights and auth token, the "Caller phone" custom field) is
//! built once per RT version and queue list into a cache directory under the system temp dir
//! and copied for each instance. A missing RT fails the test loudly. Notes: docs/rt-fixture.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The privileged API user the adapter logs in as, and its password (basic auth).
pub(crate) const API_USER: &str = "firstline";
pub(crate) const API_PASSWORD: &str = "fl-rt-pass-4711";
/// RT's superuser from the core initial data (basic auth); the read-back helpers use it.
pub(crate) const ROOT_PASSWORD: &str = "password";
/// A ticket custom field (freeform, one value, on all queues) the API user may set.
pub(crate) const CALLER_PHONE_CF: &str = "Caller phone";

const RT_SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";
const SETUP_DATABASE: &str = "/usr/sbin/rt-setup-database-5";
/// Holds RT's version string; part of the template's cache key.
const GENERATED_PM: &str = "/usr/share/request-tracker5/lib/RT/Generated.pm";

/// Run once per template after `rt-setup-database --action init`: queues (arguments after the
/// user and password), the API user with global rights, the custom field, and an auth token for
/// the user (printed on stdout).
const SETUP_PL: &str = r#"use strict; use warnings;
use lib '/usr/share/request-tracker5/lib';
use RT; RT::LoadConfig(); RT::Init();
my ($login, $password, @queues) = @ARGV;
for my $name (@queues) {
    my $q = RT::Queue->new(RT->SystemUser);
    my ($id, $msg) = $q->Create(Name => $name);
    die "queue $name: $msg\n" unless $id;
}
my $u = RT::User->new(RT->SystemUser);
my ($uid, $msg) = $u->Create(Name => $login, Password => $password, Privileged => 1,
    EmailAddress => "$login\@firstline.test", RealName => 'firstline');
die "user: $msg\n" unless $uid;
for my $right (qw(SeeQueue ShowTicket ShowTicketComments CreateTicket ModifyTicket
                  CommentOnTicket ReplyToTicket Watch SeeCustomField ModifyCustomField
                  AdminUsers ShowUserHistory SeeGroup ManageAuthTokens)) {
    my ($ok, $m) = $u->PrincipalObj->GrantRight(Right => $right, Object => RT->System);
    die "right $right: $m\n" unless $ok;
}
my $cf = RT::CustomField->new(RT->SystemUser);
my ($cfid, $cm) = $cf->Create(Name => 'Caller phone', Type => 'Freeform', MaxValues => 1,
    LookupType => 'RT::Queue-RT::Ticket');
die "custom field: $cm\n" unless $cfid;
my ($applied, $am) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
die "custom field apply: $am\n" unless $applied;
my $cu = RT::CurrentUser->new; $cu->Load($uid);
my ($tid, $tm, $auth) = RT::AuthToken->new($cu)->Create(Owner => $uid, Description => 'tests');
die "token: $tm\n" unless $tid;
print "$auth\n";
"#;

/// A running Request Tracker.
pub(crate) struct Rt {
    child: Option<Child>,
    /// `127.0.0.1:PORT` of the web server.
    pub(crate) addr: SocketAddr,
    /// The API user's auth token, for `Authorization: token <TOKEN>`.
    pub(crate) token: String,
    dir: tempfile::TempDir,
}

impl Rt {
    /// Starts RT with `queues` (besides RT's own "General") on a free port (retried when the
    /// port was taken meanwhile) and waits until REST 2.0 answers.
    pub(crate) async fn start(queues: &[&str]) -> Rt {
        for path in [RT_SERVER, SETUP_DATABASE, GENERATED_PM] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install the Debian packages request-tracker5, rt5-standalone \
                 and rt5-db-sqlite (scripts/test does)"
            );
        }
        let queues: Vec<String> = queues.iter().map(|q| (*q).to_owned()).collect();
        let template = tokio::task::spawn_blocking(move || template(&queues))
            .await
            .unwrap();
        let token = std::fs::read_to_string(template.join("token"))
            .unwrap()
            .trim()
            .to_owned();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            std::fs::copy(template.join("rt.db"), dir.path().join("rt.db")).unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            write_config(dir.path(), port);
            let mut rt = Rt {
                child: None,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                token: token.clone(),
                dir,
            };
            if rt.spawn().await {
                return rt;
            }
        }
        panic!("rt-server did not start on any of 5 free ports");
    }

    /// `http://127.0.0.1:PORT/REST/2.0`, the base URL the adapter is configured with.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/REST/2.0", self.addr)
    }

    /// The `Authorization` header value for the API user by token.
    pub(crate) fn token_auth(&self) -> String {
        format!("token {}", self.token)
    }

    /// The `Authorization` header value for `user` by HTTP basic auth.
    pub(crate) fn basic_auth(user: &str, password: &str) -> String {
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {pair}")
    }

    /// Kills the web server; the database stays for [`Rt::restart`].
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the web server again on the same port with the same database.
    pub(crate) async fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn().await,
            "rt-server did not come back on {}:\n{}",
            self.addr,
            self.log()
        );
    }

    /// Spawns rt-server and waits for REST 2.0; false when it exits early (port taken).
    async fn spawn(&mut self) -> bool {
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = rt_command(RT_SERVER, dir)
            .args(["--server", "Standalone", "--host", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {RT_SERVER}: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            let auth = self.token_auth();
            let probe = try_request(self.addr, "GET", "/REST/2.0/rt", &auth, None);
            if let Ok(Ok((200, _))) = tokio::time::timeout(Duration::from_secs(5), probe).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "rt-server on {} did not answer within 60 s:\n{}",
            self.addr,
            self.log()
        );
    }

    /// The server's log (RT's warnings and errors go to its stderr).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// One REST 2.0 request as the API user by token; `path` is below `/REST/2.0`. The status
    /// and the JSON answer (`Null` when it is not JSON).
    pub(crate) async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(&self.token_auth(), method, path, body).await
    }

    /// [`Rt::api`] with the given `Authorization` header value.
    pub(crate) async fn api_as(
        &self,
        auth: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let full = format!("/REST/2.0{path}");
        try_request(self.addr, method, &full, auth, body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("RT on {} unreachable: {e}", self.addr))
    }

    /// A read-back GET as root (sees everything, whatever the API user may); must answer 200.
    async fn get(&self, path: &str) -> Value {
        let (status, json) = self
            .api_as(&Rt::basic_auth("root", ROOT_PASSWORD), "GET", path, None)
            .await;
        assert_eq!(status, 200, "GET {path}: {json}\n{}", self.log());
        json
    }

    /// `GET /ticket/{id}`.
    pub(crate) async fn ticket(&self, id: u64) -> Value {
        self.get(&format!("/ticket/{id}")).await
    }

    /// The name of the ticket's queue.
    pub(crate) async fn queue_of(&self, id: u64) -> String {
        let ticket = self.ticket(id).await;
        let queue = ticket["Queue"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let queue = self.get(&format!("/queue/{queue}")).await;
        queue["Name"].as_str().unwrap_or_default().to_owned()
    }

    /// The full tickets of a queue, oldest first (RT's searches never return deleted ones).
    pub(crate) async fn tickets_in_queue(&self, queue: &str) -> Vec<Value> {
        let sql = format!(
            "Queue = '{}'",
            queue.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let found = self
            .get(&format!(
                "/tickets?query={}&orderby=id&order=ASC&per_page=100",
                encode(&sql)
            ))
            .await;
        let mut out = Vec::new();
        for item in found["items"].as_array().into_iter().flatten() {
            let id = item["id"].as_str().and_then(|s| s.parse().ok()).unwrap();
            out.push(self.ticket(id).await);
        }
        out
    }

    /// `(type, text)` of the ticket's Create, Comment and Correspond transactions in order;
    /// the text is the `text/plain` content of the transaction's attachments.
    pub(crate) async fn transactions(&self, id: u64) -> Vec<(String, String)> {
        let history = self
            .get(&format!("/ticket/{id}/history?fields=Type&per_page=100"))
            .await;
        let mut out = Vec::new();
        for txn in history["items"].as_array().into_iter().flatten() {
            let kind = txn["Type"].as_str().unwrap_or_default();
            if !matches!(kind, "Create" | "Comment" | "Correspond") {
                continue;
            }
            let txn_id = txn["id"].as_str().unwrap_or_default();
            // Not `Parent` in `fields`: RT 5.0.3 answers 500 for a part without one.
            let parts = self
                .get(&format!(
                    "/transaction/{txn_id}/attachments?fields=ContentType,Content&per_page=100"
                ))
                .await;
            let text: Vec<&str> = parts["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["ContentType"] == "text/plain")
                .filter_map(|p| p["Content"].as_str())
                .collect();
            out.push((kind.to_owned(), text.join("\n")));
        }
        out
    }

    /// The e-mail addresses of the ticket's requestors.
    pub(crate) async fn requestor_emails(&self, id: u64) -> Vec<String> {
        let ticket = self.ticket(id).await;
        let mut out = Vec::new();
        for user in ticket["Requestor"].as_array().into_iter().flatten() {
            let name = user["id"].as_str().unwrap_or_default();
            let user = self.get(&format!("/user/{}", encode(name))).await;
            out.push(user["EmailAddress"].as_str().unwrap_or_default().to_owned());
        }
        out
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A command with the instance's site config and nothing of the system's.
fn rt_command(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("RT_SITE_CONFIG", dir.join("RT_SiteConfig.pm"))
        .env("RT_SITE_CONFIG_DIR", dir.join("RT_SiteConfig.d"))
        // RT's 'testfile' mailer writes outgoing mail to a File::Temp file.
        .env("TMPDIR", dir)
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// Writes the site config of an instance in `dir` and the directories it names.
fn write_config(dir: &Path, port: u16) {
    for sub in ["RT_SiteConfig.d", "mason", "session"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("RT_SiteConfig.pm"), config(dir, port)).unwrap();
}

/// The site config of an instance in `dir` (database `dir/rt.db`) serving on `port`.
fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "Set($rtname, 'firstline-test');\n\
             Set($Organization, 'firstline.test');\n\
             Set($CorrespondAddress, 'rt@firstline.test');\n\
             Set($CommentAddress, 'rt-comment@firstline.test');\n\
             Set($WebDomain, '127.0.0.1');\n\
             Set($WebPort, {port});\n\
             Set($WebPath, '');\n\
             Set($WebBaseURL, 'http://127.0.0.1:{port}');\n\
             Set($DatabaseType, 'SQLite');\n\
             Set($DatabaseName, '{d}/rt.db');\n\
             Set($MailCommand, 'testfile');\n\
             Set($LogToSTDERR, 'warning');\n\
             Set($LogToSyslog, undef);\n\
             Set($LogToFile, undef);\n\
             Set($Timezone, 'UTC');\n\
             # Every REST request checks a bcrypt hash: 0.25 s at RT's cost 12.\n\
             Set($BcryptCost, 4);\n\
             $MasonDataDir = '{d}/mason';\n\
             $MasonSessionDir = '{d}/session';\n\
             1;\n"
    )
}

/// The directory with the initialised `rt.db` and the API user's `token` for `queues`: from the
/// cache under the system temp dir (keyed by RT's version, the setup and the queues), else
/// built (2 s on an idle machine, 7 s on a busy one) and put there by an atomic rename.
fn template(queues: &[String]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    // One build at a time in this process; others wait for it and find it in the cache.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(GENERATED_PM).unwrap().hash(&mut h);
    SETUP_PL.hash(&mut h);
    config(Path::new("/"), 0).hash(&mut h);
    API_PASSWORD.hash(&mut h);
    queues.hash(&mut h);
    let cache = std::env::temp_dir().join(format!("firstline-rt-template-{:016x}", h.finish()));
    if cache.join("rt.db").exists() && cache.join("token").exists() {
        return cache;
    }
    let build = tempfile::Builder::new()
        .prefix("firstline-rt-build-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let dir = build.path();
    write_config(dir, 8080);
    let started = Instant::now();
    run(rt_command(SETUP_DATABASE, dir).args(["--action", "init", "--skip-create"]));
    let token = run(rt_command("perl", dir)
        .arg("-e")
        .arg(SETUP_PL)
        .args([API_USER, API_PASSWORD])
        .args(queues));
    eprintln!(
        "rt_fixture: built the RT template in {:?}",
        started.elapsed()
    );
    std::fs::write(dir.join("token"), token.trim()).unwrap();
    let build = build.keep();
    for junk in ["RT_SiteConfig.pm", "RT_SiteConfig.d", "mason", "session"] {
        let _ = std::fs::remove_dir_all(build.join(junk));
        let _ = std::fs::remove_file(build.join(junk));
    }
    // A concurrent test process may have won the race: then its copy is as good as ours.
    if std::fs::rename(&build, &cache).is_err() {
        let _ = std::fs::remove_dir_all(&build);
    }
    assert!(
        cache.join("token").exists(),
        "no RT template in {}",
        cache.display()
    );
    cache
}

/// Runs a setup step to success; its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} failed: {}\n{}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a query or a path part).
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`; rt-server's standalone
/// server answers HTTP/1.0 with a Content-Length, never chunked) with `Authorization: auth`.
async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {auth}\r\n"
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    Ok(crate::helpers::http_response(&raw))
}

/// The id in a create answer: `{"id": "12", "type": "ticket", "_url": …}` (a string).
fn created_id(status: u16, json: &Value) -> u64 {
    assert_eq!(status, 201, "{json}");
    json["id"].as_str().and_then(|s| s.parse().ok()).unwrap()
}

#[tokio::test]
async fn rt_fixture_starts_and_answers() {
    let started = Instant::now();
    let mut rt = Rt::start(&[
        "Hardware",
        "Software",
        "Service",
        "Network",
        "Workplace",
        "Vendors",
    ])
    .await;
    eprintln!(
        "rt_fixture: RT up at {} in {:?}",
        rt.url(),
        started.elapsed()
    );

    // Create as the adapter will: token auth, queue by name, requestor by e-mail.
    let (status, json) = rt
        .api(
            "POST",
            "/ticket",
            Some(json!({
                "Queue": "Hardware",
                "Subject": "Printer on fire",
                "Requestor": "lieke@example.com",
                "Priority": 30,
                "Content": "Caller says the printer\nis on fire.",
                "ContentType": "text/plain",
                "CustomFields": { CALLER_PHONE_CF: "+31205557001" },
            })),
        )
        .await;
    let id = created_id(status, &json);
    let (status, json) = rt
        .api(
            "POST",
            &format!("/ticket/{id}/comment"),
            Some(json!({"Content": "Agent note: toner replaced", "ContentType": "text/plain"})),
        )
        .await;
    assert_eq!(
        (status, json.clone()),
        (201, json!(["Comments added"])),
        "{json}"
    );
    let (status, json) = rt
        .api(
            "PUT",
            &format!("/ticket/{id}"),
            Some(json!({"Queue": "Software"})),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json,
        json!([format!(
            "Ticket {id}: Queue changed from Hardware to Software"
        )])
    );
    // Straight from `new` to `resolved`.
    let (status, json) = rt
        .api(
            "PUT",
            &format!("/ticket/{id}"),
            Some(json!({"Status": "resolved"})),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json,
        json!([format!(
            "Ticket {id}: Status changed from 'new' to 'resolved'"
        )])
    );

    let ticket = rt.ticket(id).await;
    assert_eq!(ticket["Subject"], "Printer on fire");
    assert_eq!(ticket["Status"], "resolved");
    assert_eq!(ticket["Priority"], "30");
    assert_eq!(ticket["CustomFields"][0]["name"], CALLER_PHONE_CF);
    assert_eq!(ticket["CustomFields"][0]["values"], json!(["+31205557001"]));
    assert_eq!(rt.queue_of(id).await, "Software");
    assert_eq!(rt.requestor_emails(id).await, ["lieke@example.com"]);
    assert_eq!(
        rt.transactions(id).await,
        [
            (
                "Create".to_owned(),
                "Caller says the printer\nis on fire.".to_owned()
            ),
            (
                "Comment".to_owned(),
                "Agent note: toner replaced".to_owned()
            ),
        ]
    );
    let software = rt.tickets_in_queue("Software").await;
    assert_eq!(software.len(), 1);
    assert_eq!(software[0]["id"], id);
    assert!(rt.tickets_in_queue("Hardware").await.is_empty());

    // A caller known only by phone number: a placeholder address (a bare number is dropped).
    let (status, json) = rt
        .api(
            "POST",
            "/ticket",
            Some(
                json!({"Queue": "Network", "Subject": "No network", "Requestor":
                "+31205557001@phone.invalid", "Content": "x", "ContentType": "text/plain"}),
            ),
        )
        .await;
    let second = created_id(status, &json);
    assert_eq!(
        rt.requestor_emails(second).await,
        ["+31205557001@phone.invalid"]
    );

    // Basic auth works for REST 2.0 too; no or a wrong credential is 401.
    let basic = Rt::basic_auth(API_USER, API_PASSWORD);
    assert_eq!(
        rt.api_as(&basic, "GET", &format!("/ticket/{id}"), None)
            .await
            .0,
        200
    );
    let wrong = Rt::basic_auth(API_USER, "wrong");
    assert_eq!(
        rt.api_as(&wrong, "GET", &format!("/ticket/{id}"), None)
            .await,
        (401, json!({"message": "Unauthorized"}))
    );

    // An outage: down, then back on the same port with the same tickets.
    rt.stop();
    assert!(tokio::net::TcpStream::connect(rt.addr).await.is_err());
    let restarting = Instant::now();
    rt.restart().await;
    eprintln!("rt_fixture: restart in {:?}", restarting.elapsed());
    assert_eq!(rt.ticket(id).await["Status"], "resolved");
    eprintln!("rt_fixture: whole test {:?}", started.elapsed());
}
