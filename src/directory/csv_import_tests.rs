//! Tests of the CSV reader: RFC 4180 quoting, the header mapping and its overrides, and every
//! bad row named by row and column (wrong field count, not UTF-8, bad number, no id).

use super::*;

fn rows(text: &[u8], overrides: &[(String, Field)]) -> Vec<(u64, Row)> {
    let mut r = CsvRows::open(text, overrides, "31").unwrap();
    let mut out = Vec::new();
    while let Some(row) = r.next_row().unwrap() {
        out.push(row);
    }
    out
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines_read_as_one_row() {
    let text = "\u{feff}External ID,Name,Department,Phone,Mobile,Notes\r\n\
                e-1,\"Lovelace, Ada\",ICT,020 123 4567,06 1234 5678,\"said \"\"hi\"\"\nline two\"\r\n\
                e-2,Bob,,+32 2 555 12 12,,\r\n";
    let got = rows(text.as_bytes(), &[]);
    assert_eq!(got.len(), 2);
    let (row, ada) = &got[0];
    let ada = ada.as_ref().unwrap();
    assert_eq!(*row, 2);
    assert_eq!(ada.external_id, "e-1");
    assert_eq!(ada.name, "Lovelace, Ada");
    assert_eq!(ada.phone.as_deref(), Some("+31201234567"));
    assert_eq!(ada.extra_phones[0].0, "+31612345678");
    assert_eq!(ada.notes.as_deref(), Some("said \"hi\"\nline two"));
    let bob = got[1].1.as_ref().unwrap();
    assert_eq!((got[1].0, bob.department.as_deref()), (3, None));
    assert_eq!(bob.phone.as_deref(), Some("+3225551212"));
}

#[test]
fn bad_rows_are_named_by_row_and_column_and_the_others_read_on() {
    let mut text = b"id,name,phone\n1,Ada,020 123 4567\n2,Bob\n3,Cy,12\n,Dee,\n5,".to_vec();
    text.extend_from_slice(b"Ev\xe9,\n6,Fay,0201234568\n");
    let got = rows(&text, &[]);
    let bad: Vec<(u64, Option<String>, String)> = got
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .flatten()
        .map(|e| (e.row, e.column.clone(), e.message.clone()))
        .collect();
    assert_eq!(bad.len(), 4, "{bad:?}");
    assert_eq!(bad[0], (3, None, "has 2 fields, the header has 3".into()));
    assert_eq!((bad[1].0, bad[1].1.as_deref()), (4, Some("phone")));
    assert!(bad[1].2.starts_with("phone: "), "{}", bad[1].2);
    assert_eq!((bad[2].0, bad[2].1.as_deref()), (5, Some("id")));
    assert_eq!((bad[3].0, bad[3].1.as_deref()), (6, Some("name")));
    assert!(bad[3].2.contains("not UTF-8"));
    assert!(got[5].1.is_ok(), "the row after the bad ones reads");
}

#[test]
fn the_mapping_comes_from_titles_and_overrides_and_names_what_is_missing() {
    let map = |s: &str, f: Field| (s.to_owned(), f);
    let text = b"Personnel no.,Full name,Afdeling,Telefoon\n77,Ada,ICT,0201234567\n";
    let err = CsvRows::open(&text[..], &[], "31").err().unwrap();
    assert!(
        matches!(
            err,
            CsvError::MissingField {
                field: "external_id"
            }
        ),
        "{err}"
    );
    let overrides = [
        map("personnel NO.", Field::ExternalId),
        map("Afdeling", Field::Department),
        map("Telefoon", Field::Phone),
    ];
    let got = rows(text, &overrides);
    let ada = got[0].1.as_ref().unwrap();
    assert_eq!(
        (ada.external_id.as_str(), ada.department.as_deref()),
        ("77", Some("ICT"))
    );
    assert_eq!(ada.phone.as_deref(), Some("+31201234567"));

    let missing = CsvRows::open(&text[..], &[map("Email", Field::Email)], "31")
        .err()
        .unwrap();
    assert_eq!(
        missing.to_string(),
        "column \"Email\" (mapped to email) is not in the header row"
    );
    let twice = CsvRows::open(&b"id,name,mail,email\n"[..], &[], "31")
        .err()
        .unwrap();
    assert!(matches!(
        twice,
        CsvError::DuplicateField { field: "email", .. }
    ));
    let empty = CsvRows::open(&b""[..], &[], "31").err().unwrap();
    assert!(matches!(empty, CsvError::NoHeader));
    let latin1 = CsvRows::open(&b"id,name,t\xe9l\n"[..], &[], "31")
        .err()
        .unwrap();
    assert_eq!(
        latin1.to_string(),
        "row 1, column 3: the header is not UTF-8 (save the file as CSV UTF-8)"
    );
}

#[test]
fn several_number_columns_all_count() {
    let text =
        b"id,name,phone,phone,numbers\n1,Ada,0201234567,0201234568,06 1111 2222;06 3333 4444\n";
    let got = rows(text, &[]);
    let ada = got[0].1.as_ref().unwrap();
    assert_eq!(ada.phone.as_deref(), Some("+31201234567"));
    let extra: Vec<&str> = ada.extra_phones.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(extra, ["+31201234568", "+31611112222", "+31633334444"]);
}

/// Malformed-input sweep: random bytes, cut-off quotes and stray separators never panic; each
/// input ends in rows or a clear error.
#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: &[u8] = b"id,name,phone\n\r\"; 0123456789+abc\xff\xe9\x00";
    for _ in 0..2000 {
        let len = usize::try_from(next() % 200).unwrap();
        let mut input = b"id,name,phone,mobile\n".to_vec();
        for _ in 0..len {
            let i = usize::try_from(next() % alphabet.len() as u64).unwrap();
            input.push(alphabet[i]);
        }
        if let Ok(mut rows) = CsvRows::open(&input[..], &[], "31") {
            let mut n = 0;
            while let Ok(Some((row, parsed))) = rows.next_row() {
                n += 1;
                assert_eq!(row, n + 1);
                if let Err(errors) = parsed {
                    assert!(!errors.is_empty() && errors.iter().all(|e| e.row == row));
                }
            }
        }
    }
}
