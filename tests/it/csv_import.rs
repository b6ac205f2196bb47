//! CSV import of customers through the real server (issue 13 acceptance): 10,000 rows with
//! three bad ones → the report names exactly those three rows and nothing is imported; with
//! `valid_only` 9,997 customers exist. Admins only (agent and supervisor get 403), every
//! import audited, a file-level problem (a mapped column that is missing) is a clear 422, and
//! the CLI imports the same file into the same database.

use std::net::SocketAddr;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, account, http_body, http_json, spawn_app_with, within};

/// `POST path` with `body` as text/csv; the status and the JSON answer.
pub(crate) async fn post_csv(
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &[u8],
) -> (u16, Value) {
    http_body(addr, "POST", path, Some(token), Some("text/csv"), body).await
}

/// 10,000 people; rows 1001 (a bad number), 5002 (not UTF-8) and 9999 (a field missing) bad.
fn ten_thousand() -> Vec<u8> {
    let mut out = b"Personnel no.,Name,Department,Phone,Mobile\r\n".to_vec();
    for i in 0..10_000u32 {
        let row = i + 2;
        let line = match row {
            1001 => format!("E{i:05},Person {i},Sales,020 12x 4567,\r\n").into_bytes(),
            5002 => {
                let mut l = format!("E{i:05},Jos").into_bytes();
                l.push(0xe9); // "é" in Latin-1: not UTF-8
                l.extend_from_slice(b",Sales,,\r\n");
                l
            }
            9999 => format!("E{i:05},Person {i},Sales\r\n").into_bytes(),
            _ => format!(
                "E{i:05},\"Person {i}, Jr.\",Dept {},+3130{i:07},06{i:08}\r\n",
                i % 7
            )
            .into_bytes(),
        };
        out.extend_from_slice(&line);
    }
    out
}

async fn count(t: &TestApp, sql: &'static str) -> i64 {
    t.app.store().synced().await;
    sqlx::query_scalar(sql).fetch_one(&t.pool).await.unwrap()
}

const IMPORT: &str = "/api/admin/customers/import?map=Personnel%20no.%3Dexternal_id";

#[tokio::test]
async fn ten_thousand_rows_with_three_bad_ones_import_only_when_chosen() {
    within(120, async {
        let t = spawn_app_with(|c| c.load_demo = false).await;
        let addr = t.app.http_addr();
        let admin = account(&t, "olga", "admin").await;
        let agent = account(&t, "anton", "agent").await;
        let supervisor = account(&t, "sue", "supervisor").await;
        let file = ten_thousand();

        for token in [&agent, &supervisor] {
            let (status, json) = post_csv(addr, IMPORT, token, &file).await;
            assert_eq!(status, 403, "{json}");
        }
        for path in ["/api/admin/directory", "/api/admin/directory/sync"] {
            let method = if path.ends_with("sync") {
                "POST"
            } else {
                "GET"
            };
            let (status, _) = http_json(addr, method, path, Some(&supervisor), None).await;
            assert_eq!(status, 403, "{method} {path}");
        }

        let (status, preview) = post_csv(addr, IMPORT, &admin, &file).await;
        assert_eq!(status, 200, "{preview}");
        assert_eq!(
            (preview["rows"].as_u64(), preview["rejected"].as_u64()),
            (Some(10_000), Some(3))
        );
        assert_eq!(preview["preview"][0]["name"], "Person 0, Jr.");
        assert_eq!(preview["preview"][0]["phone"], "+31300000000");
        assert_eq!(preview["columns"][0]["field"], "external_id");

        let commit = format!("{IMPORT}&mode=commit");
        let (status, refused) = post_csv(addr, &commit, &admin, &file).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["committed"], false);
        let errors = refused["errors"].as_array().unwrap();
        let rows: Vec<u64> = errors.iter().map(|e| e["row"].as_u64().unwrap()).collect();
        assert_eq!(rows, [1001, 5002, 9999], "{refused}");
        assert_eq!(errors[0]["column"], "Phone");
        assert_eq!(errors[1]["column"], "Name");
        assert!(errors[1]["message"].as_str().unwrap().contains("not UTF-8"));
        assert!(
            errors[2]["message"]
                .as_str()
                .unwrap()
                .contains("has 3 fields")
        );
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM customers").await,
            0,
            "nothing imported"
        );

        let (status, done) =
            post_csv(addr, &format!("{commit}&valid_only=true"), &admin, &file).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(
            (done["committed"].as_bool(), done["inserted"].as_u64()),
            (Some(true), Some(9_997))
        );
        assert_eq!(count(&t, "SELECT COUNT(*) FROM customers").await, 9_997);
        assert_eq!(
            count(
                &t,
                "SELECT COUNT(*) FROM customers WHERE source = 'csv' AND active = 1"
            )
            .await,
            9_997
        );
        // The numbers were normalised once: the customers API finds a mobile in any format.
        let (status, found) = http_json(
            addr,
            "GET",
            "/api/customers?q=06%2000000042",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found[0]["name"], "Person 42, Jr.", "{found}");
        // The record says where it came from and which fields the import owns.
        let id = found[0]["id"].as_str().unwrap();
        let path = format!("/api/admin/customers/{id}/origin");
        let (status, origin) = http_json(addr, "GET", &path, Some(&admin), None).await;
        assert_eq!(status, 200, "{origin}");
        assert_eq!(
            (&origin["source"], &origin["external_id"], &origin["active"]),
            (&json!("csv"), &json!("E00042"), &json!(true))
        );
        assert_eq!(
            origin["synced_fields"],
            json!(["name", "department", "phone", "extra_phones"])
        );
        let (status, _) = http_json(addr, "GET", &path, Some(&supervisor), None).await;
        assert_eq!(status, 403);
        // A hand edit of a synced field keeps the imported value; other fields change.
        let edit = json!({"department": "Hand-made", "notes": "prefers e-mail"});
        let (status, edited) = http_json(
            addr,
            "PATCH",
            &format!("/api/customers/{id}"),
            Some(&agent),
            Some(edit),
        )
        .await;
        assert_eq!(status, 200, "{edited}");
        assert_eq!(
            (&edited["department"], &edited["notes"]),
            (&json!("Dept 0"), &json!("prefers e-mail"))
        );
        assert_eq!(
            count(
                &t,
                "SELECT COUNT(*) FROM audit WHERE action = 'customers_import'"
            )
            .await,
            2,
            "the refused and the done import are audited; the preview is not"
        );

        let (status, missing) = post_csv(
            addr,
            "/api/admin/customers/import?map=Badge%3Dexternal_id",
            &admin,
            &file,
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            missing["error"],
            "column \"Badge\" (mapped to external_id) is not in the header row"
        );
        let (status, _) =
            post_csv(addr, "/api/admin/customers/import?mode=all", &admin, &file).await;
        assert_eq!(status, 422);
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn the_cli_imports_the_valid_rows_when_asked() {
    let t = spawn_app_with(|c| c.load_demo = false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(
        &path,
        "id,name,phone\n1,Ada,020 123 4567\n2,Bob,12\n3,Cy,+32 2 555 12 12\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_firstline"))
            .arg("--database-url")
            .arg(t.db_url())
            .args(["admin", "import-customers"])
            .arg(&path)
            .args(extra)
            .env_remove("FIRSTLINE_CONFIG")
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{stdout}");
    assert!(
        stdout.contains("row 3, column \"phone\": phone: "),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--valid-only"));
    let done = run(&["--valid-only"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("imported 2 rows: 2 new"));
    assert_eq!(count(&t, "SELECT COUNT(*) FROM customers").await, 2);
    t.finish().await;
}
