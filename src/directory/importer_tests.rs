//! Tests of the two-pass import over a fresh database: a file with bad rows imports nothing
//! unless asked, then the valid rows only, in batches; a second import updates by external id.

use super::*;
use crate::store::testing::test_store;

fn options(preview: bool, valid_only: bool) -> ImportOptions {
    ImportOptions {
        preview,
        valid_only,
        overrides: Vec::new(),
        country_code: "31".into(),
        preview_rows: 3,
    }
}

/// `n` people, rows `bad` (spreadsheet numbers) broken.
fn file(dir: &tempfile::TempDir, n: u64, bad: &[u64]) -> PathBuf {
    let mut text = String::from("external_id,name,department,phone\n");
    for i in 0..n {
        let row = i + 2;
        if bad.contains(&row) {
            text.push_str(&format!("p-{i},Person {i},ICT,not a number\n"));
        } else {
            text.push_str(&format!("p-{i},Person {i},ICT,+3120{:07}\n", i));
        }
    }
    let path = dir.path().join("people.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn bad_rows_stop_the_import_until_the_valid_rows_are_chosen() {
    let (store, guard) = test_store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, 1203, &[10, 600, 1204]);

    let preview = import_file(&store, path.clone(), options(true, false))
        .await
        .unwrap();
    assert_eq!(
        (preview.rows, preview.valid, preview.rejected),
        (1203, 1200, 3)
    );
    assert_eq!(preview.preview.len(), 3);
    assert_eq!(preview.preview[0].row, 2);
    let rows: Vec<u64> = preview.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, [10, 600, 1204]);
    assert!(
        preview
            .errors
            .iter()
            .all(|e| e.column.as_deref() == Some("phone"))
    );
    assert!(!preview.committed);

    let refused = import_file(&store, path.clone(), options(false, false))
        .await
        .unwrap();
    assert!(!refused.committed);
    assert!(
        refused.message.contains("nothing imported"),
        "{}",
        refused.message
    );
    assert_eq!(store.count_customers(false).await.unwrap(), 0);

    let done = import_file(&store, path.clone(), options(false, true))
        .await
        .unwrap();
    assert!(done.committed);
    assert_eq!((done.inserted, done.updated), (1200, 0));
    assert_eq!(store.count_customers(false).await.unwrap(), 1200);
    let c = store
        .find_customer_by_phone("+31200000000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.department.as_deref()),
        ("Person 0", Some("ICT"))
    );

    let clean = file(&dir, 1203, &[]);
    let again = import_file(&store, clean, options(false, false))
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated), (3, 1200));
    assert_eq!(store.count_customers(false).await.unwrap(), 1203);
    let runs = store.recent_sync_runs("csv", 5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[1].inserted, runs[1].rejected, runs[1].status.as_str()),
        (1200, 3, "ok")
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn a_file_level_problem_is_an_error_not_a_report() {
    let (store, guard) = test_store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(&path, "name,phone\nAda,0201234567\n").unwrap();
    let err = import_file(&store, path, options(false, true))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("no column for external_id"),
        "{err}"
    );
    let missing = import_file(&store, dir.path().join("nope.csv"), options(true, false)).await;
    assert!(matches!(missing, Err(ImportError::Open { .. })));
    guard.cleanup().await;
}

#[test]
fn mappings_read_column_equals_field() {
    let got = parse_overrides(&["Personnel no.=external_id", " Tel = phone"]).unwrap();
    assert_eq!(
        got,
        [
            ("Personnel no.".to_owned(), Field::ExternalId),
            ("Tel".to_owned(), Field::Phone)
        ]
    );
    assert!(
        parse_overrides(&["Tel"])
            .unwrap_err()
            .contains("not column=field")
    );
    assert!(
        parse_overrides(&["Tel=fax"])
            .unwrap_err()
            .contains("is not one of external_id")
    );
    assert!(
        parse_overrides(&["=phone"])
            .unwrap_err()
            .contains("names no column")
    );
}
