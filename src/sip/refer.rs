//! Transfer requests from a phone (no I/O). An in-dialog REFER (RFC 3515) naming one target is
//! accepted with 202, its implicit subscription's first NOTIFY ("100 Trying", §2.4.5) goes out
//! at once, and the call hears of it as `LegEvent::Refer`; the call's progress goes back as
//! NOTIFYs with a `message/sipfrag` body (RFC 3420), the final one terminating the subscription.
//! One transfer at a time per dialog (a second REFER meanwhile: 491). A REFER with `Replaces`
//! in its Refer-To (RFC 3891, attended transfer between two of the phone's calls) is refused
//! with 501: the attended transfer is the desk's (consult, then complete).

use std::net::SocketAddr;
use std::time::Instant;

use super::api::{LegEvent, LegId, NameAddr};
use super::build::{self, ResponseSpec};
use super::core::{Core, CoreEvent, Peer, TxKey};
use super::message::SipMsg;

/// The longest Refer-To we read (a URI with a Replaces header is ~200 bytes).
const MAX_REFER_TO: usize = 1024;

/// Why a REFER cannot be taken, if it cannot.
fn check(msg: &SipMsg) -> Result<NameAddr, (u16, &'static str)> {
    let lines: Vec<&str> = msg
        .header_lines("Refer-To")
        .chain(msg.header_lines("r"))
        .collect();
    let [value] = lines.as_slice() else {
        return Err((400, "Bad Request (exactly one Refer-To)"));
    };
    if value.len() > MAX_REFER_TO {
        return Err((400, "Bad Request (Refer-To too long)"));
    }
    let target = build::name_addr(value);
    let uri = target.uri.to_ascii_lowercase();
    if !(uri.starts_with("sip:") || uri.starts_with("sips:") || uri.starts_with("tel:")) {
        return Err((400, "Bad Request (Refer-To is not a SIP or tel URI)"));
    }
    if uri.contains("replaces=") {
        return Err((
            501,
            "Not Implemented (REFER with Replaces: transfer from the desk)",
        ));
    }
    if target.user.as_deref().is_none_or(str::is_empty) {
        return Err((400, "Bad Request (Refer-To names no user)"));
    }
    Ok(target)
}

impl Core {
    /// A REFER in the dialog of leg `id`.
    pub(crate) fn on_refer(
        &mut self,
        now: Instant,
        peer: &Peer,
        msg: &SipMsg,
        key: &TxKey,
        id: LegId,
    ) {
        let (busy, allowed) = self
            .legs
            .get(&id)
            .map_or((false, false), |l| (l.refer, l.may_refer));
        let target = match check(msg) {
            Ok(_) if !allowed => Err((403, "Forbidden (the hotline's call cannot be transferred)")),
            Ok(_) if busy => Err((491, "Request Pending (a transfer is in progress)")),
            other => other,
        };
        let target = match target {
            Ok(t) => t,
            Err((code, reason)) => {
                let spec = ResponseSpec {
                    reason,
                    ..ResponseSpec::new(code)
                };
                return self.reply_new(now, peer, key, msg, spec);
            }
        };
        self.reply_new(now, peer, key, msg, ResponseSpec::new(202));
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.refer = true;
        }
        self.send_notify(now, id, 100, "Trying", false);
        let referred_by = msg.header("Referred-By").map(str::to_string);
        self.events.push_back(CoreEvent::Leg(
            id,
            LegEvent::Refer {
                target,
                referred_by,
            },
        ));
    }

    /// The transfer's progress to the phone that asked for it: a NOTIFY whose body is the
    /// status line of the new call (`SIP/2.0 200 OK`); `last` ends the subscription. Nothing
    /// is sent when no transfer is pending on the leg.
    pub(crate) fn send_notify(
        &mut self,
        now: Instant,
        id: LegId,
        status: u16,
        reason: &str,
        last: bool,
    ) {
        let ua = self.ua.clone();
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if !leg.refer {
            return;
        }
        if last {
            leg.refer = false;
        }
        let state = if last {
            "terminated;reason=noresource".to_string()
        } else {
            "active;expires=60".to_string()
        };
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        let body = format!("SIP/2.0 {status} {reason}\r\n");
        let via_host = SocketAddr::new(leg.local_ip, leg.local.port()).to_string();
        let extra = [
            ("Event", "refer".to_string()),
            ("Subscription-State", state),
            ("Contact", super::leg::contact(leg)),
        ];
        let (branch, bytes) = leg.dialog.next_request_with(
            "NOTIFY",
            via_host,
            leg.peer.transport(),
            &ua,
            &extra,
            Some(("message/sipfrag;version=2.0", body.as_bytes())),
        );
        let peer = leg.peer.clone();
        self.start_client_tx(now, id, peer, branch, bytes, true);
    }
}
