//! `/metrics` series of the SLA (docs/sla.md): the open intakes' timers by state, per timer,
//! support level and group, so a breach can be alerted on. Nothing without `[sla]` targets.

use std::fmt::Write as _;

use crate::desk::intakes::SlaFigures;

/// Label values are group names typed by admins: quotes, backslashes and newlines escaped
/// (Prometheus text format 0.0.4).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the SLA series to `out`.
pub(crate) fn write(out: &mut String, f: &SlaFigures) {
    if !f.enabled {
        return;
    }
    let name = "firstline_sla_open_timers";
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP {name} Open intakes' SLA timers by state (running, warning, breached, paused), \
         per timer, level and group.\n# TYPE {name} gauge"
    );
    for g in &f.groups {
        let group = label(g.group.as_deref().unwrap_or(""));
        for (timer, c) in [("response", &g.response), ("resolution", &g.resolution)] {
            let states = [
                ("running", c.running),
                ("warning", c.warning),
                ("breached", c.breached),
                ("paused", c.paused),
            ];
            for (state, n) in states {
                let _ = writeln!(
                    out,
                    "{name}{{timer=\"{timer}\",state=\"{state}\",level=\"{}\",group=\"{group}\"}} {}",
                    g.level, n
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP firstline_sla_open_cut 1 when there were more open intakes than the SLA figures \
         count (the newest are counted).\n# TYPE firstline_sla_open_cut gauge\n\
         firstline_sla_open_cut {}",
        u8::from(f.cut)
    );
}
