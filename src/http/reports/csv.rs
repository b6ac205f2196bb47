//! CSV encoding of export tables (RFC 4180), safe to open in a spreadsheet (pure, no I/O).
//!
//! RFC 4180 §2: records end in CRLF (rule 1); the first record is the header (rule 3); a field
//! holding a comma, double quote, CR or LF is enclosed in double quotes (rule 6) and a double
//! quote inside it is doubled (rule 7). Formula injection (OWASP "CSV Injection"): a text cell
//! starting with `=`, `+`, `-` or `@` (or a tab or CR, which some spreadsheets skip before
//! them) is prefixed with `'`, so a spreadsheet shows it as text instead of evaluating it.
//! Numbers are written as they are (our numbers are never negative, so none starts with `-`).

use crate::store::{Cell, ExportTable};

/// The whole table as CSV text: header, then one record per row.
pub(super) fn encode(table: &ExportTable) -> String {
    let mut out = String::new();
    let header: Vec<Cell> = table
        .columns
        .iter()
        .map(|c| Cell::Text((*c).to_owned()))
        .collect();
    write_record(&mut out, &header);
    for row in &table.rows {
        write_record(&mut out, row);
    }
    out
}

fn write_record(out: &mut String, cells: &[Cell]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Null => {}
            Cell::Int(n) => out.push_str(&n.to_string()),
            Cell::Text(t) => write_text(out, t),
        }
    }
    out.push_str("\r\n");
}

fn write_text(out: &mut String, text: &str) {
    let risky = matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    let quote = text.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if risky {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn quoting_follows_rfc_4180_and_formulas_are_defused() {
        let table = ExportTable {
            columns: &["id", "name", "n"],
            rows: vec![
                vec![t("a"), t("Jansen, \"Piet\""), Cell::Int(42)],
                vec![t("b"), t("line1\r\nline2"), Cell::Null],
                vec![t("=1+2"), t("+31201234567"), Cell::Int(0)],
                vec![t("-2"), t("@SUM(A1)"), Cell::Int(7)],
                vec![t("=HYPERLINK(\"x\",\"y\")"), t(""), Cell::Null],
                vec![t("\tx"), t("plain - text = ok"), Cell::Int(1)],
            ],
        };
        assert_eq!(
            encode(&table),
            "id,name,n\r\n\
             a,\"Jansen, \"\"Piet\"\"\",42\r\n\
             b,\"line1\r\nline2\",\r\n\
             '=1+2,'+31201234567,0\r\n\
             '-2,'@SUM(A1),7\r\n\
             \"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\",,\r\n\
             '\tx,plain - text = ok,1\r\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = ExportTable {
            columns: &["id", "at"],
            rows: Vec::new(),
        };
        assert_eq!(encode(&table), "id,at\r\n");
    }
}
