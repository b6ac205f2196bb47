//! `firstline admin` from the real binary (issue 13 item 5, first set-up): the first admin is
//! created with a password read from standard input (a weak one is refused, a taken login too),
//! is listed, and signs in to the server on that database; `check-config` points at the line.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::helpers::{TestDb, http_json, start_on};

/// Runs the binary with `args` on `db`, writing `stdin` to it.
fn firstline(db: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_firstline"))
        .arg("--database-url")
        .arg(db)
        .args(args)
        .env_remove("FIRSTLINE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run firstline");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("firstline ends")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CREATE: &[&str] = &[
    "admin",
    "create-user",
    "--login",
    "olga",
    "--name",
    "Olga Ops",
    "--role",
    "admin",
    "--categories",
    "hardware,service",
];

#[tokio::test]
async fn the_first_admin_is_created_listed_and_signs_in() {
    let db = TestDb::new().await;
    let url = db.url.clone();
    let weak = firstline(&url, CREATE, "olga-2026\n");
    assert!(!weak.status.success(), "a weak password was taken");
    assert!(
        text(&weak.stderr).contains("at least 12 characters"),
        "{}",
        text(&weak.stderr)
    );

    let ok = firstline(&url, CREATE, "correct horse battery staple\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).starts_with("created olga (agent-"),
        "{}",
        text(&ok.stdout)
    );
    let again = firstline(&url, CREATE, "another good password\n");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    let bad_role = firstline(
        &url,
        &[
            "admin",
            "create-user",
            "--login",
            "x",
            "--name",
            "X",
            "--role",
            "root",
        ],
        "correct horse battery staple\n",
    );
    assert!(!bad_role.status.success());
    assert!(text(&bad_role.stderr).contains("not one of agent, supervisor, admin"));

    let list = firstline(&url, &["admin", "list-users"], "");
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert_eq!(
        text(&list.stdout),
        "olga\tOlga Ops\tadmin\t1\t-\tphone\thardware,service\n"
    );

    // The server on that database: Olga signs in with the password she chose.
    let t = start_on(db, |c| c.load_demo = false).await;
    let addr = t.app.http_addr();
    let wrong = serde_json::json!({"login": "olga", "password": "another good password"});
    let (status, _) = http_json(addr, "POST", "/api/login", None, Some(wrong)).await;
    assert_eq!(status, 401);
    let right = serde_json::json!({"login": "olga", "password": "correct horse battery staple"});
    let (status, json) = http_json(addr, "POST", "/api/login", None, Some(right)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["agent"]["role"], "admin", "{json}");
    assert_eq!(json["agent"]["name"], "Olga Ops", "{json}");
    t.finish().await;
}

#[test]
fn check_config_names_the_line_and_passes_the_shipped_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[sip]\n# ok so far\nmax_mesage_bytes = 4096\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_firstline"))
        .args(["admin", "check-config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("bad.toml: line 3: "), "{stdout}");
    assert!(stdout.contains("max_mesage_bytes"), "{stdout}");

    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/firstline.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_firstline"))
        .args(["admin", "check-config", shipped])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).ends_with(": ok\n"));
}
