//! `/metrics` series of the integration targets (`integrations::Integrations`), labelled by
//! target name: deliveries, retried attempts and dead letters since start; rows pending and
//! dead in the outbox now; paused; the longest delivery lag. No URL or secret appears here.

use std::fmt::Write as _;

use crate::integrations::TargetStatus;

/// Appends the targets' series to `out` (nothing without targets).
pub(crate) fn write(out: &mut String, targets: &[TargetStatus]) {
    if targets.is_empty() {
        return;
    }
    type Value = fn(&TargetStatus) -> String;
    let series: [(&str, &str, &str, Value); 6] = [
        (
            "firstline_integration_deliveries_total",
            "counter",
            "Outbox rows the target took, since start.",
            |t| t.stats.delivered.to_string(),
        ),
        (
            "firstline_integration_retries_total",
            "counter",
            "Failed delivery attempts that will be retried (timeout, 5xx, 429), since start.",
            |t| t.stats.retried.to_string(),
        ),
        (
            "firstline_integration_dead_letters_total",
            "counter",
            "Outbox rows given up (refused or out of attempts), since start.",
            |t| t.stats.dead.to_string(),
        ),
        (
            "firstline_integration_pending",
            "gauge",
            "Outbox rows waiting for delivery now.",
            |t| t.pending.to_string(),
        ),
        (
            "firstline_integration_dead",
            "gauge",
            "Dead outbox rows now (retry them on the admin page).",
            |t| t.dead.to_string(),
        ),
        (
            "firstline_integration_paused",
            "gauge",
            "1 while an admin has paused the target.",
            |t| u8::from(t.paused).to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in targets {
            let _ = writeln!(
                out,
                "{name}{{target=\"{}\",kind=\"{}\"}} {}",
                t.name,
                t.kind,
                value(t)
            );
        }
    }
    let name = "firstline_integration_max_lag_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} The longest time from a change to its delivery, since start.\n# TYPE {name} gauge"
    );
    for t in targets {
        let _ = writeln!(
            out,
            "{name}{{target=\"{}\",kind=\"{}\"}} {:.3}",
            t.name,
            t.kind,
            t.stats.max_lag_ms as f64 / 1000.0
        );
    }
}
