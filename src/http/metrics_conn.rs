//! `/metrics` series of the SIP stream connections (open, refused by the caps, cut by the
//! deadlines; `sip::ConnCounts`) and of the HTTP listeners' (open, refused at the cap),
//! appended to the exposition text.

use std::fmt::Write as _;

use crate::sip::ConnCounts;

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = if labels.is_empty() {
            writeln!(out, "{name} {value}")
        } else {
            writeln!(out, "{name}{{{labels}}} {value}")
        };
    }
}

/// Appends the connection series to `out`.
pub(crate) fn write(out: &mut String, c: &ConnCounts) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    family(
        out,
        "firstline_sip_connections_open",
        "gauge",
        "Open SIP stream connections by transport.",
        &[
            ("transport=\"tcp\"", n(c.open.saturating_sub(c.open_tls))),
            ("transport=\"tls\"", n(c.open_tls)),
        ],
    );
    family(
        out,
        "firstline_sip_connections_refused_total",
        "counter",
        "SIP TCP/TLS connections closed at accept because a cap was reached.",
        &[
            ("reason=\"total_cap\"", c.refused_total),
            ("reason=\"source_cap\"", c.refused_per_source),
        ],
    );
    family(
        out,
        "firstline_sip_connections_cut_total",
        "counter",
        "SIP TCP/TLS connections closed by a deadline.",
        &[
            ("reason=\"handshake\"", c.handshake_failed),
            ("reason=\"first_message\"", c.first_message_timeouts),
            ("reason=\"message\"", c.message_timeouts),
            ("reason=\"idle\"", c.idle_closed),
        ],
    );
}

/// Appends the HTTP connection series to `out`.
pub(crate) fn write_http(out: &mut String, c: &super::OpenConns) {
    family(
        out,
        "firstline_http_connections_open",
        "gauge",
        "Open HTTP and HTTPS connections.",
        &[("", u64::try_from(c.get()).unwrap_or(u64::MAX))],
    );
    family(
        out,
        "firstline_http_connections_refused_total",
        "counter",
        "HTTP connections closed at accept because [http] max_connections were open.",
        &[("", c.refused())],
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn series_have_help_type_and_labels() {
        let c = crate::sip::ConnCounts {
            open: 5,
            open_tls: 2,
            refused_per_source: 7,
            ..Default::default()
        };
        let mut out = String::new();
        super::write(&mut out, &c);
        assert!(out.contains("firstline_sip_connections_open{transport=\"tcp\"} 3\n"));
        assert!(out.contains("firstline_sip_connections_open{transport=\"tls\"} 2\n"));
        assert!(out.contains("firstline_sip_connections_refused_total{reason=\"source_cap\"} 7\n"));
        assert_eq!(out.matches("# TYPE").count(), 3);
    }
}
