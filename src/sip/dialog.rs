//! Dialog state (RFC 3261 §12): identifiers, remote target, route set, CSeq; no I/O.
//!
//! UAS side (§12.1.1) and UAC side from a 2xx to our INVITE (§12.1.2).

use super::api::SipTransport;
use super::build::{self, RequestSpec};
use super::message::SipMsg;

/// Dialog identifier as seen from our side (RFC 3261 §12: Call-ID, local tag, remote tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    pub(crate) remote_tag: String,
}

impl DialogKey {
    /// The key an incoming in-dialog request names: its To-tag is ours (§12.2.2).
    pub(crate) fn of_request(msg: &SipMsg) -> Option<Self> {
        Some(Self {
            call_id: msg.call_id()?.to_string(),
            local_tag: msg.to_tag()?.to_string(),
            remote_tag: msg.from_tag().unwrap_or("").to_string(),
        })
    }
}

/// Outcome of the remote CSeq check (§12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CseqCheck {
    Ok,
    /// Lower than the last one seen: answer 500.
    TooLow,
}

/// One dialog.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub(crate) key: DialogKey,
    /// Our party (the INVITE's To, with our tag): From of our requests.
    local_party: String,
    /// The remote party (the INVITE's From): To of our requests.
    remote_party: String,
    /// Request-URI of our requests: the remote Contact (§12.1.1).
    pub(crate) remote_target: String,
    /// Record-Route of the INVITE in order, used as Route (§12.1.1).
    route_set: Vec<String>,
    local_cseq: u32,
    remote_cseq: u32,
}

impl Dialog {
    /// UAS dialog from an INVITE and our To-tag (§12.1.1). `None` if identifiers are missing.
    pub(crate) fn new_uas(invite: &SipMsg, local_tag: &str) -> Option<Self> {
        let from = invite.header("From")?;
        let to = invite.header("To")?;
        let (cseq, _) = invite.cseq()?;
        let remote_target = invite
            .header_list("Contact")
            .first()
            .map(|c| build::addr_uri(c).to_string())
            .unwrap_or_else(|| build::addr_uri(from).to_string());
        Some(Self {
            key: DialogKey {
                call_id: invite.call_id()?.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: invite.from_tag().unwrap_or("").to_string(),
            },
            local_party: format!("{};tag={local_tag}", to.trim()),
            remote_party: from.trim().to_string(),
            remote_target,
            route_set: invite.header_list("Record-Route"),
            local_cseq: 0,
            remote_cseq: cseq,
        })
    }

    /// UAC dialog from our INVITE and a 2xx with a To-tag (§12.1.2). `None` without identifiers.
    pub(crate) fn new_uac(invite: &SipMsg, resp: &SipMsg) -> Option<Self> {
        let from = invite.header("From")?;
        let to = resp.header("To")?;
        let (cseq, _) = invite.cseq()?;
        let remote_target = match resp.header_list("Contact").first() {
            Some(c) => build::addr_uri(c).to_string(),
            None => match &invite.start {
                super::message::StartLine::Request { uri, .. } => uri.clone(),
                super::message::StartLine::Response { .. } => return None,
            },
        };
        let mut route_set = resp.header_list("Record-Route");
        // §12.1.2: the UAC's route set is the Record-Route of the response in reverse order.
        route_set.reverse();
        Some(Self {
            key: DialogKey {
                call_id: invite.call_id()?.to_string(),
                local_tag: invite.from_tag()?.to_string(),
                remote_tag: resp.to_tag()?.to_string(),
            },
            local_party: from.trim().to_string(),
            remote_party: to.trim().to_string(),
            remote_target,
            route_set,
            local_cseq: cseq,
            remote_cseq: 0,
        })
    }

    /// Our ACK for a 2xx (§13.2.2.4): a new branch, the INVITE's CSeq number, the dialog's target.
    pub(crate) fn ack(&self, via_host: String, transport: SipTransport, ua: &str) -> Vec<u8> {
        let branch = build::new_branch();
        build::request(
            &RequestSpec {
                method: "ACK",
                target: &self.remote_target,
                via_host,
                transport,
                branch: &branch,
                route_set: &self.route_set,
                from: &self.local_party,
                to: &self.remote_party,
                call_id: &self.key.call_id,
                cseq: self.local_cseq,
            },
            ua,
        )
    }

    /// Checks and records the CSeq of an in-dialog request (§12.2.2).
    pub(crate) fn check_remote_cseq(&mut self, cseq: u32) -> CseqCheck {
        if cseq < self.remote_cseq {
            return CseqCheck::TooLow;
        }
        self.remote_cseq = cseq;
        CseqCheck::Ok
    }

    /// Builds our next in-dialog request (§12.2.1.1); returns its branch and bytes.
    pub(crate) fn next_request(
        &mut self,
        method: &str,
        via_host: String,
        transport: SipTransport,
        ua: &str,
    ) -> (String, Vec<u8>) {
        self.next_request_with(method, via_host, transport, ua, &[], None)
    }

    /// [`Dialog::next_request`] with extra headers and a body (a NOTIFY's sipfrag).
    pub(crate) fn next_request_with(
        &mut self,
        method: &str,
        via_host: String,
        transport: SipTransport,
        ua: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> (String, Vec<u8>) {
        self.local_cseq += 1;
        let branch = build::new_branch();
        let bytes = build::request_with(
            &RequestSpec {
                method,
                target: &self.remote_target,
                via_host,
                transport,
                branch: &branch,
                route_set: &self.route_set,
                from: &self.local_party,
                to: &self.remote_party,
                call_id: &self.key.call_id,
                cseq: self.local_cseq,
            },
            ua,
            extra,
            body,
        );
        (branch, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    const INVITE: &[u8] =
        b"INVITE sip:100@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK1\r\n\
From: \"A\" <sip:a@10.0.0.2>;tag=rt\r\nTo: <sip:100@10.0.0.1>\r\nCall-ID: cid\r\nCSeq: 5 INVITE\r\n\
Contact: <sip:a@10.0.0.2:5070;transport=udp>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\r\n";

    #[test]
    fn uas_dialog_builds_bye_from_its_state() {
        let m = parse(INVITE).unwrap();
        let mut d = Dialog::new_uas(&m, "lt").unwrap();
        assert_eq!(
            d.key,
            DialogKey {
                call_id: "cid".into(),
                local_tag: "lt".into(),
                remote_tag: "rt".into()
            }
        );
        let (branch, bye) = d.next_request("BYE", "10.0.0.1:5060".into(), SipTransport::Udp, "fl");
        let bye = parse(&bye).unwrap();
        assert!(branch.starts_with("z9hG4bK"));
        assert!(
            matches!(&bye.start, crate::sip::message::StartLine::Request { uri, .. }
            if uri == "sip:a@10.0.0.2:5070;transport=udp")
        );
        assert_eq!(bye.header_list("Route"), vec!["<sip:p1;lr>", "<sip:p2;lr>"]);
        assert_eq!(bye.from_tag(), Some("lt"));
        assert_eq!(bye.to_tag(), Some("rt"));
        assert_eq!(bye.cseq(), Some((1, "BYE")));
        assert_eq!(bye.branch(), Some(branch));
    }

    #[test]
    fn uac_dialog_from_2xx_reverses_routes_and_acks_with_invite_cseq() {
        let ours = parse(
            b"INVITE sip:2001@192.0.2.10:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo\r\n\
From: \"x\" <sip:fl@127.0.0.1>;tag=our\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: out1\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap();
        let ok = parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo\r\n\
From: \"x\" <sip:fl@127.0.0.1>;tag=our\r\nTo: <sip:2001@127.0.0.1>;tag=ph\r\nCall-ID: out1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:2001@192.0.2.10:5070;transport=tcp>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\r\n",
        )
        .unwrap();
        let mut d = Dialog::new_uac(&ours, &ok).unwrap();
        assert_eq!(
            (d.key.local_tag.as_str(), d.key.remote_tag.as_str()),
            ("our", "ph")
        );
        let ack = parse(&d.ack("127.0.0.1:5060".into(), SipTransport::Tcp, "fl")).unwrap();
        assert_eq!(ack.cseq(), Some((1, "ACK")));
        assert_eq!(ack.header_list("Route"), vec!["<sip:p2;lr>", "<sip:p1;lr>"]);
        assert!(
            ack.branch().unwrap() != "z9hG4bKo",
            "2xx ACK is a new transaction"
        );
        let (_, bye) = d.next_request("BYE", "127.0.0.1:5060".into(), SipTransport::Tcp, "fl");
        let bye = parse(&bye).unwrap();
        assert_eq!(bye.cseq(), Some((2, "BYE")));
        assert!(
            matches!(&bye.start, crate::sip::message::StartLine::Request { uri, .. }
            if uri == "sip:2001@192.0.2.10:5070;transport=tcp")
        );
        assert_eq!((bye.from_tag(), bye.to_tag()), (Some("our"), Some("ph")));
    }

    #[test]
    fn lower_cseq_is_refused_and_matching_uses_tags() {
        let m = parse(INVITE).unwrap();
        let mut d = Dialog::new_uas(&m, "lt").unwrap();
        assert_eq!(d.check_remote_cseq(4), CseqCheck::TooLow);
        assert_eq!(d.check_remote_cseq(6), CseqCheck::Ok);
        assert_eq!(d.check_remote_cseq(5), CseqCheck::TooLow);
        let bye = parse(
            b"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=rt\r\n\
To: <sip:c@d>;tag=lt\r\nCall-ID: cid\r\nCSeq: 7 BYE\r\n\r\n",
        )
        .unwrap();
        assert_eq!(DialogKey::of_request(&bye), Some(d.key.clone()));
    }
}
