//! `GET /metrics` (Prometheus text exposition format 0.0.4, written by hand: call, SIP and RTP
//! counters, waiting callers per queue, agents per state, the day's service level) and
//! `GET /ready` (the store, queue engine and supervisor feed answer). Series: docs/supervisor.md.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use super::HttpState;
use crate::sip::SipStatsSnapshot;

/// Agent states, so that every state has a series (0 included).
const STATES: [&str; 6] = [
    "offline",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "not_ready",
];

/// `/metrics` and `/ready`.
pub(super) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
        .with_state(state)
}

/// What one scrape reports.
pub(crate) struct Inputs<'a> {
    pub(crate) calls_active: usize,
    /// Calls whose agent leg is the browser softphone (ringing or bridged).
    pub(crate) browser_calls: usize,
    pub(crate) calls_total: u64,
    pub(crate) calls_refused: u64,
    pub(crate) rtp_ignored: u64,
    /// RTP datagrams dropped, per reason (strict RTP: docs/media-security.md).
    pub(crate) rtp_drops: crate::media::strict::DropSnapshot,
    /// Prompt and music frames the pacer reached more than 2 ms after their slot.
    pub(crate) rtp_paced_late: u64,
    /// ... and dropped as stale (100 ms after their slot: the pacer caught up after a stall).
    pub(crate) rtp_paced_dropped: u64,
    /// Legs that ran SDES-SRTP (callers', agents' phones') and phones skipped for it.
    pub(crate) srtp_legs: (u64, u64),
    pub(crate) srtp_agent_skipped: u64,
    pub(crate) sip: SipStatsSnapshot,
    /// INVITEs refused for their SDP before any record; live SIP state.
    pub(crate) calls_refused_sdp: u64,
    pub(crate) sip_live: crate::sip::SipLive,
    /// The supervisor feed's sections (`None`: the feed is not answering).
    pub(crate) live: Option<&'a Map<String, Value>>,
    /// The desk's screen-pop latency histogram.
    pub(crate) pop_latency: crate::desk::latency::PopLatencySnapshot,
    /// Repairs after lagging the event stream: desk hub, supervisor feed.
    pub(crate) lag_repairs: (u64, u64),
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = if labels.is_empty() {
        writeln!(out, "{name} {value}")
    } else {
        writeln!(out, "{name}{{{labels}}} {value}")
    };
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    sample(out, name, "", value);
}

/// Label values come from our own enums (queue and state names); escaped anyway.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text.
pub(crate) fn render(i: &Inputs<'_>) -> String {
    let mut out = String::new();
    let c = "counter";
    one(
        &mut out,
        "firstline_calls_in_progress",
        "gauge",
        "Calls in progress.",
        i.calls_active,
    );
    one(
        &mut out,
        "firstline_browser_calls_in_progress",
        "gauge",
        "Calls whose agent answers in the browser (ringing or connected).",
        i.browser_calls,
    );
    one(
        &mut out,
        "firstline_calls_total",
        c,
        "Calls taken since start.",
        i.calls_total,
    );
    one(
        &mut out,
        "firstline_calls_refused_total",
        c,
        "Calls refused with 503 (limit).",
        i.calls_refused,
    );
    one(
        &mut out,
        "firstline_rtp_ignored_packets_total",
        c,
        "RTP packets ignored or malformed.",
        i.rtp_ignored,
    );
    family(
        &mut out,
        "firstline_rtp_dropped_packets_total",
        c,
        "RTP datagrams dropped, by reason (strict RTP: foreign_source, learning, ...).",
    );
    for (reason, n) in i.rtp_drops.0 {
        let labels = format!("reason=\"{}\"", reason.as_str());
        sample(&mut out, "firstline_rtp_dropped_packets_total", &labels, n);
    }
    one(
        &mut out,
        "firstline_rtp_paced_late_packets_total",
        c,
        "Prompt and hold-music packets the pacer reached more than 2 ms after their slot.",
        i.rtp_paced_late,
    );
    one(
        &mut out,
        "firstline_rtp_paced_dropped_packets_total",
        c,
        "Prompt and hold-music packets the pacer dropped as stale (100 ms after their slot).",
        i.rtp_paced_dropped,
    );
    family(
        &mut out,
        "firstline_srtp_legs_total",
        c,
        "Call legs that ran SDES-SRTP, by leg (caller, agent phone).",
    );
    sample(
        &mut out,
        "firstline_srtp_legs_total",
        "leg=\"caller\"",
        i.srtp_legs.0,
    );
    sample(
        &mut out,
        "firstline_srtp_legs_total",
        "leg=\"agent\"",
        i.srtp_legs.1,
    );
    one(
        &mut out,
        "firstline_srtp_agent_skipped_total",
        c,
        "Agents' phones not rung: SRTP mandatory and not registered over TLS.",
        i.srtp_agent_skipped,
    );
    let s = &i.sip;
    one(
        &mut out,
        "firstline_sip_messages_in_total",
        c,
        "SIP messages received.",
        s.messages_in,
    );
    one(
        &mut out,
        "firstline_sip_messages_out_total",
        c,
        "SIP messages sent.",
        s.messages_out,
    );
    one(
        &mut out,
        "firstline_sip_parse_errors_total",
        c,
        "SIP inputs dropped unparsed.",
        s.parse_errors_dropped,
    );
    family(
        &mut out,
        "firstline_sip_error_responses_total",
        c,
        "SIP error responses sent, by status.",
    );
    sample(
        &mut out,
        "firstline_sip_error_responses_total",
        "status=\"400\"",
        s.bad_requests_400,
    );
    sample(
        &mut out,
        "firstline_sip_error_responses_total",
        "status=\"413\"",
        s.too_large_413,
    );
    sample(
        &mut out,
        "firstline_sip_error_responses_total",
        "status=\"503\"",
        s.unavailable_503,
    );
    one(
        &mut out,
        "firstline_sip_retransmissions_total",
        c,
        "SIP retransmissions sent or absorbed.",
        s.retransmissions,
    );
    one(
        &mut out,
        "firstline_sip_registrations_total",
        c,
        "REGISTERs accepted.",
        s.registrations,
    );
    one(
        &mut out,
        "firstline_sip_auth_failures_total",
        c,
        "REGISTERs refused for authentication.",
        s.auth_failures,
    );
    signalling_plane(&mut out, i);
    one(
        &mut out,
        "firstline_supervisor_feed_up",
        "gauge",
        "1 when the supervisor feed answers.",
        u8::from(i.live.is_some()),
    );
    let Some(live) = i.live else { return out };
    family(
        &mut out,
        "firstline_queue_waiting",
        "gauge",
        "Callers waiting, by queue.",
    );
    let queues = live.get("queues").and_then(Value::as_array);
    for q in queues.into_iter().flatten() {
        let name = label(q["name"].as_str().unwrap_or(""));
        sample(
            &mut out,
            "firstline_queue_waiting",
            &format!("queue=\"{name}\""),
            &q["waiting"],
        );
    }
    family(
        &mut out,
        "firstline_queue_longest_wait_seconds",
        "gauge",
        "Longest current wait, by queue.",
    );
    for q in queues.into_iter().flatten() {
        let name = label(q["name"].as_str().unwrap_or(""));
        let secs = q["longest_wait_ms"].as_f64().unwrap_or(0.0) / 1000.0;
        sample(
            &mut out,
            "firstline_queue_longest_wait_seconds",
            &format!("queue=\"{name}\""),
            secs,
        );
    }
    family(
        &mut out,
        "firstline_agents",
        "gauge",
        "Agents known to the queue engine, by state.",
    );
    let agents = live.get("agents").and_then(Value::as_array);
    for st in STATES {
        let n = agents
            .into_iter()
            .flatten()
            .filter(|a| a["state"].as_str() == Some(st))
            .count();
        sample(&mut out, "firstline_agents", &format!("state=\"{st}\""), n);
    }
    one(
        &mut out,
        "firstline_calls_in_ivr",
        "gauge",
        "Callers in the IVR.",
        &live["in_ivr"],
    );
    one(
        &mut out,
        "firstline_callbacks_pending",
        "gauge",
        "Callback requests waiting.",
        &live["callbacks_pending"],
    );
    let today = &live["today"];
    family(
        &mut out,
        "firstline_today_calls",
        "gauge",
        "Calls today (UTC day), by result.",
    );
    for k in [
        "offered",
        "answered",
        "abandoned",
        "answered_within_threshold",
    ] {
        sample(
            &mut out,
            "firstline_today_calls",
            &format!("result=\"{k}\""),
            &today[k],
        );
    }
    if let Some(sl) = today["service_level"].as_f64() {
        one(
            &mut out,
            "firstline_service_level_ratio",
            "gauge",
            "Service level today (0..1).",
            sl,
        );
    }
    pop_histogram(&mut out, &i.pop_latency);
    lag_repairs(&mut out, i.lag_repairs);
    out
}

/// `firstline_event_lag_repairs_total{view}`: a live view fell behind the event stream and
/// rebuilt itself from its owners.
fn lag_repairs(out: &mut String, (desk, feed): (u64, u64)) {
    let name = "firstline_event_lag_repairs_total";
    family(
        out,
        name,
        "counter",
        "Live views rebuilt after falling behind the event stream.",
    );
    sample(out, name, "view=\"desk_hub\"", desk);
    sample(out, name, "view=\"supervisor_feed\"", feed);
}

/// Rate limits, refused INFOs, SDP refusals and the live SIP state (issue 11).
fn signalling_plane(out: &mut String, i: &Inputs<'_>) {
    let s = &i.sip;
    let name = "firstline_sip_rate_limited_total";
    family(
        out,
        name,
        "counter",
        "New INVITEs and REGISTERs over their source's rate, by method and action (503 or drop).",
    );
    for (method, action, v) in [
        ("INVITE", "503", s.rate_limited_invite),
        ("INVITE", "drop", s.rate_dropped_invite),
        ("REGISTER", "503", s.rate_limited_register),
        ("REGISTER", "drop", s.rate_dropped_register),
    ] {
        sample(
            out,
            name,
            &format!("method=\"{method}\",action=\"{action}\""),
            v,
        );
    }
    one(
        out,
        "firstline_sip_info_refused_busy_total",
        "counter",
        "INFOs answered 500 because their call task was behind on its events.",
        s.info_refused_busy,
    );
    one(
        out,
        "firstline_sip_leg_events_lost_total",
        "counter",
        "Leg events that could not be queued for a call task (always 0).",
        s.leg_events_lost,
    );
    one(
        out,
        "firstline_calls_refused_sdp_total",
        "counter",
        "INVITEs refused for their SDP (488), counted and not stored.",
        i.calls_refused_sdp,
    );
    let l = &i.sip_live;
    for (name, help, v) in [
        (
            "firstline_sip_transactions",
            "Live SIP transactions.",
            l.transactions,
        ),
        ("firstline_sip_dialogs", "Live SIP dialogs.", l.dialogs),
        (
            "firstline_sip_registered_extensions",
            "Extensions with a registered phone.",
            l.registrations,
        ),
    ] {
        one(out, name, "gauge", help, v);
    }
}

/// `firstline_screen_pop_latency_seconds`: routing decision → pop queued for the agent.
fn pop_histogram(out: &mut String, h: &crate::desk::latency::PopLatencySnapshot) {
    let name = "firstline_screen_pop_latency_seconds";
    family(
        out,
        name,
        "histogram",
        "From the routing decision (INVITE to the agent's phone) to the screen pop queued for the agent's desk.",
    );
    for (le_ms, count) in &h.buckets {
        let le = *le_ms as f64 / 1000.0;
        sample(
            out,
            &format!("{name}_bucket"),
            &format!("le=\"{le}\""),
            count,
        );
    }
    sample(out, &format!("{name}_bucket"), "le=\"+Inf\"", h.count);
    sample(
        out,
        &format!("{name}_sum"),
        "",
        h.sum_us as f64 / 1_000_000.0,
    );
    sample(out, &format!("{name}_count"), "", h.count);
}

async fn metrics(State(st): State<HttpState>) -> Response {
    let live = st.supervisor.sections().await.ok();
    let stats = &st.calls.stats;
    let mut text = render(&Inputs {
        calls_active: stats.active(),
        browser_calls: st.calls.browser.len(),
        calls_total: stats.total(),
        calls_refused: stats.refused(),
        rtp_ignored: stats.rtp_ignored(),
        rtp_drops: stats.rtp_drops_by_reason(),
        rtp_paced_late: st.calls.pacer.late(),
        rtp_paced_dropped: st.calls.pacer.dropped(),
        srtp_legs: stats.srtp_legs(),
        srtp_agent_skipped: stats.srtp_agent_skipped(),
        sip: st.sip.stats(),
        calls_refused_sdp: stats.refused_sdp(),
        sip_live: st.sip.live(),
        live: live.as_ref(),
        pop_latency: st.desk.pop_latency(),
        lag_repairs: (st.desk.lag_repairs(), st.supervisor.lag_repairs()),
    });
    super::metrics_conn::write(&mut text, &st.sip.connections());
    super::metrics_conn::write_http(&mut text, &st.http_conns);
    super::metrics_journal::write(&mut text, &st.calls.journal.stats());
    super::metrics_directory::write(&mut text, &st.directory.status());
    match st.integrations.status().await {
        Ok(targets) => super::metrics_integrations::write(&mut text, &targets),
        Err(e) => {
            tracing::warn!(error = %crate::error_chain(&e), "cannot read the outbox for /metrics")
        }
    }
    match st.desk.ops().sla_open().await {
        Ok(figures) => super::metrics_sla::write(&mut text, &figures),
        Err(e) => tracing::warn!(error = %e, "cannot read the SLA figures for /metrics"),
    }
    let ct = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], text).into_response()
}

async fn ready(State(st): State<HttpState>) -> Response {
    let db = sqlx::query("SELECT 1")
        .execute(st.store.pool())
        .await
        .is_ok();
    let acd = st.acd.snapshot().await.is_ok();
    let feed = st.supervisor.sections().await.is_ok();
    let status = if db && acd && feed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "ready": status == StatusCode::OK, "database": db,
                                   "queues": acd, "supervisor_feed": feed });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_documented_series() {
        let live = serde_json::json!({
            "queues": [{"name": "hardware", "waiting": 2, "longest_wait_ms": 90500},
                       {"name": "software", "waiting": 0, "longest_wait_ms": 0}],
            "agents": [{"state": "available"}, {"state": "on_call"}, {"state": "on_call"}],
            "in_ivr": 1, "callbacks_pending": 0,
            "today": {"offered": 4, "answered": 3, "abandoned": 1,
                      "answered_within_threshold": 3, "service_level": 0.75},
        });
        let Value::Object(live) = live else { panic!() };
        let text = render(&Inputs {
            calls_active: 3,
            browser_calls: 2,
            calls_total: 10,
            calls_refused: 1,
            rtp_ignored: 7,
            rtp_drops: {
                let c = crate::media::strict::DropCounters::default();
                c.count(crate::media::strict::DropReason::ForeignSource);
                c.snapshot()
            },
            rtp_paced_late: 4,
            rtp_paced_dropped: 1,
            srtp_legs: (2, 1),
            srtp_agent_skipped: 3,
            sip: SipStatsSnapshot {
                bad_requests_400: 5,
                rate_limited_invite: 4,
                ..SipStatsSnapshot::default()
            },
            calls_refused_sdp: 6,
            sip_live: crate::sip::SipLive {
                transactions: 2,
                ..crate::sip::SipLive::default()
            },
            live: Some(&live),
            pop_latency: {
                let h = crate::desk::latency::PopLatency::default();
                h.observe(3_000);
                h.observe(30_000);
                h.snapshot()
            },
            lag_repairs: (2, 1),
        });
        for line in [
            "firstline_event_lag_repairs_total{view=\"desk_hub\"} 2",
            "firstline_event_lag_repairs_total{view=\"supervisor_feed\"} 1",
            "# TYPE firstline_calls_in_progress gauge",
            "firstline_calls_in_progress 3",
            "firstline_browser_calls_in_progress 2",
            "firstline_calls_total 10",
            "firstline_rtp_paced_late_packets_total 4",
            "firstline_rtp_paced_dropped_packets_total 1",
            "firstline_rtp_ignored_packets_total 7",
            "firstline_rtp_dropped_packets_total{reason=\"foreign_source\"} 1",
            "firstline_rtp_dropped_packets_total{reason=\"learning\"} 0",
            "firstline_rtp_dropped_packets_total{reason=\"srtp_auth\"} 0",
            "firstline_srtp_legs_total{leg=\"caller\"} 2",
            "firstline_srtp_legs_total{leg=\"agent\"} 1",
            "firstline_srtp_agent_skipped_total 3",
            "firstline_sip_error_responses_total{status=\"400\"} 5",
            "firstline_sip_rate_limited_total{method=\"INVITE\",action=\"503\"} 4",
            "firstline_sip_rate_limited_total{method=\"REGISTER\",action=\"drop\"} 0",
            "firstline_calls_refused_sdp_total 6",
            "firstline_sip_transactions 2",
            "firstline_sip_dialogs 0",
            "firstline_queue_waiting{queue=\"hardware\"} 2",
            "firstline_queue_waiting{queue=\"software\"} 0",
            "firstline_queue_longest_wait_seconds{queue=\"hardware\"} 90.5",
            "firstline_agents{state=\"on_call\"} 2",
            "firstline_agents{state=\"not_ready\"} 0",
            "firstline_calls_in_ivr 1",
            "firstline_today_calls{result=\"abandoned\"} 1",
            "firstline_service_level_ratio 0.75",
            "firstline_supervisor_feed_up 1",
            "# TYPE firstline_screen_pop_latency_seconds histogram",
            "firstline_screen_pop_latency_seconds_bucket{le=\"0.002\"} 0",
            "firstline_screen_pop_latency_seconds_bucket{le=\"0.005\"} 1",
            "firstline_screen_pop_latency_seconds_bucket{le=\"0.05\"} 2",
            "firstline_screen_pop_latency_seconds_bucket{le=\"+Inf\"} 2",
            "firstline_screen_pop_latency_seconds_sum 0.033",
            "firstline_screen_pop_latency_seconds_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line belongs to a family declared before it.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            // A histogram's samples are `<family>_bucket`, `_sum` and `_count`.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| text.contains(&format!("# TYPE {base} histogram")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{name}");
        }
    }
}
