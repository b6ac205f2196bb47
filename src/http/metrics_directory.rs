//! `/metrics` series of the directory sync (`directory::Directory`): runs that ended well or
//! failed, and when the last good one ended (0 when never). No credentials ever appear here.

use std::fmt::Write as _;

use crate::directory::DirectoryStatus;

/// Appends the directory's series to `out`.
pub(crate) fn write(out: &mut String, d: &DirectoryStatus) {
    let last = if d.last_success_at > 0 {
        d.last_success_at as f64 / 1000.0
    } else {
        0.0
    };
    let rows: [(&str, &str, &str, String); 4] = [
        (
            "firstline_directory_syncs_total",
            "counter",
            "Directory (LDAP) syncs that ended well.",
            d.syncs_ok.to_string(),
        ),
        (
            "firstline_directory_sync_failures_total",
            "counter",
            "Directory (LDAP) syncs that failed (unreachable, bind refused, search failed); nothing was deactivated.",
            d.sync_failures.to_string(),
        ),
        (
            "firstline_directory_last_success_timestamp_seconds",
            "gauge",
            "Unix time the last good directory sync ended; 0 when none has.",
            format!("{last:.3}"),
        ),
        (
            "firstline_directory_configured",
            "gauge",
            "1 when a [directory] url is set.",
            u8::from(d.configured).to_string(),
        ),
    ];
    for (name, kind, help, value) in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_carry_the_counts_and_no_url() {
        let mut out = String::new();
        write(
            &mut out,
            &DirectoryStatus {
                configured: true,
                url: "ldap://secret-host".into(),
                interval_secs: 60,
                sign_in: false,
                syncs_ok: 3,
                sync_failures: 2,
                last_success_at: 1_780_000_000_500,
                last_error: Some("bind refused".into()),
                running: false,
            },
        );
        assert!(
            out.contains("\nfirstline_directory_syncs_total 3\n"),
            "{out}"
        );
        assert!(out.contains("\nfirstline_directory_sync_failures_total 2\n"));
        assert!(
            out.contains("\nfirstline_directory_last_success_timestamp_seconds 1780000000.500\n")
        );
        assert!(!out.contains("secret-host"));
    }
}
