//! The desk's requests to a browser call (answer with an SDP offer, reconnect, hang up, hold,
//! mute, DTMF, status) and hold: the music that replaces the agent while the call is held or
//! the browser is gone, and the hand-over of the caller's stream between the relay and our own
//! sender (no jump in SSRC, sequence or timestamp).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::call::rtp_socket::RtpSocket;

use super::browser::{BrowserLeg, MAX_DIGITS};
use super::{Ending, Phase, Session};
use crate::call::browser::{BrowserCallError, BrowserCallStatus, BrowserCommand, Registration};
use crate::events::EventKind;
use crate::media::prompts::{Playback, Prompt};
use crate::media::relay::RtpRelay;
use crate::store::{HangupBy, Outcome};
use crate::webrtc::BrowserPeer;

impl Session {
    /// Rings the desk of a browser agent: the call waits for the browser's offer (Answer).
    pub(super) fn ring_browser(
        &mut self,
        registration: Registration,
        rx: tokio::sync::mpsc::Receiver<BrowserCommand>,
    ) -> BrowserLeg {
        self.browser_cmds = Some(rx);
        BrowserLeg::new(registration, Instant::now())
    }

    /// A request from the agent's desk.
    pub(super) async fn on_browser_command(
        &mut self,
        cmd: Option<BrowserCommand>,
    ) -> Option<Ending> {
        let Some(cmd) = cmd else {
            self.browser_cmds = None;
            return None;
        };
        let bridged = self.phase == Phase::Bridged;
        match cmd {
            BrowserCommand::Offer { sdp, reply } => {
                let r = self.browser_offer(&sdp).await;
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Hangup { reply } => {
                let _ = reply.send(Ok(()));
                if bridged {
                    self.leg.hangup().await;
                    Some(Ending {
                        outcome: Outcome::Answered,
                        hangup_by: Some(HangupBy::Agent),
                        reason: "agent hung up".to_owned(),
                    })
                } else {
                    // Declined while ringing: the queue moves the caller on.
                    self.agent_failed(
                        crate::acd::FailReason::Rejected,
                        crate::store::OfferResult::Rejected,
                    )
                    .await;
                    None
                }
            }
            BrowserCommand::Hold { on, reply } => {
                let r = if bridged {
                    self.set_agent_hold(on);
                    Ok(())
                } else {
                    Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    ))
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Mute { on, reply } => {
                let r = match self.agent.as_mut().and_then(|a| a.browser.as_mut()) {
                    Some(b) if bridged => {
                        b.muted = on;
                        Ok(())
                    }
                    _ => Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    )),
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Dtmf { digits, reply } => {
                let on_hold = self
                    .agent
                    .as_ref()
                    .and_then(|a| a.browser.as_ref())
                    .is_some_and(BrowserLeg::on_hold);
                let r = if on_hold {
                    Err(BrowserCallError::Conflict(
                        "the caller is on hold".to_owned(),
                    ))
                } else if !bridged {
                    Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    ))
                } else if digits.is_empty()
                    || digits.len() > MAX_DIGITS
                    || !digits.chars().all(|c| "0123456789*#ABCD".contains(c))
                {
                    Err(BrowserCallError::Invalid(format!(
                        "digits must be 1 to {MAX_DIGITS} of 0-9 * # A-D"
                    )))
                } else {
                    self.send_digits_to_caller(&digits);
                    Ok(())
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Transfer { to, reason, reply } => {
                let r = self
                    .start_transfer(to, reason, false)
                    .await
                    .map_err(|e| BrowserCallError::Conflict(e.to_string()));
                let _ = reply.send(r);
                None
            }
            BrowserCommand::TransferToQueue {
                category,
                reason,
                reply,
            } => {
                let r = self
                    .transfer_to_queue(category, reason)
                    .await
                    .map_err(|e| BrowserCallError::Conflict(e.to_string()));
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Consult { to, reason, reply } => {
                let r = self
                    .hand_over(to, reason, false, true)
                    .await
                    .map_err(|e| BrowserCallError::Conflict(e.to_string()));
                let _ = reply.send(r);
                None
            }
            BrowserCommand::CompleteTransfer { reply }
            | BrowserCommand::CancelTransfer { reply } => {
                let _ = reply.send(Err(BrowserCallError::Conflict(
                    "no transfer of this call is under way".to_owned(),
                )));
                None
            }
            BrowserCommand::Status { reply } => {
                if let Some(b) = self.agent.as_ref().and_then(|a| a.browser.as_ref()) {
                    let state = if !bridged {
                        "ringing"
                    } else if b.gone_until.is_some() {
                        "browser_gone"
                    } else if b.held {
                        "held"
                    } else {
                        "connected"
                    };
                    let _ = reply.send(BrowserCallStatus {
                        call_id: self.id.clone(),
                        state,
                        device: "browser",
                        held: b.held,
                        muted: b.muted,
                    });
                }
                None
            }
        }
    }

    /// The browser's offer: answers the ringing call, or reconnects the bridged one.
    async fn browser_offer(&mut self, sdp: &str) -> Result<String, BrowserCallError> {
        let bridged = self.phase == Phase::Bridged;
        if self
            .agent
            .as_ref()
            .and_then(|a| a.browser.as_ref())
            .is_none()
        {
            return Err(BrowserCallError::Gone);
        }
        if self.agent_socket.is_none() {
            let bind = SocketAddr::new(self.ctx.webrtc.bind_ip, 0);
            match RtpSocket::bind(bind) {
                Ok(s) => self.agent_socket = Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot bind the browser leg's socket");
                    return Err(BrowserCallError::Conflict("no media port".to_owned()));
                }
            }
        }
        let local = self
            .agent_socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .ok_or_else(|| BrowserCallError::Conflict("no media port".to_owned()))?;
        let candidate = SocketAddr::new(self.ctx.webrtc.candidate_ip(), local.port());
        let now = Instant::now();
        let (peer, answer) = BrowserPeer::answer(now, sdp, local, candidate, self.media.codec())
            .map_err(|e| BrowserCallError::Invalid(e.to_string()))?;
        let Some(format) = peer.format() else {
            return Err(BrowserCallError::Invalid("no codec negotiated".to_owned()));
        };
        if !bridged && !self.connect_agent(format).await {
            return Err(BrowserCallError::Conflict(
                "the call was offered to another agent meanwhile".to_owned(),
            ));
        }
        let caller_format = self.media.format();
        let caller_stream = self.media.stream_position();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return Err(BrowserCallError::Gone);
        };
        if let Some(mut old) = b.peer.replace(peer) {
            // Its close alert goes out on the same socket (the old tab may still listen).
            old.close();
            if let Some(socket) = self.agent_socket.as_ref() {
                while let Some((data, to)) = old.poll_transmit() {
                    let _ = socket.try_send_to(&data, to);
                }
            }
            b.reconnects += 1;
        }
        b.local = Some(local);
        b.last_rx = now;
        b.next_stats = now + Duration::from_millis(self.ctx.webrtc.stats_interval_ms);
        b.to_browser = Some(RtpRelay::new(caller_format, format, 0, rand::random()));
        // Browser → caller continues our stream where it stands (prompts, music or relay).
        let (ssrc, seq, ts) = match b.to_caller.as_ref() {
            Some(r) => r.position(),
            None => (caller_stream.0, caller_stream.1, Some(caller_stream.2)),
        };
        let relay = RtpRelay::new(format, caller_format, ssrc, seq);
        b.to_caller = Some(match ts {
            Some(ts) => relay.continuing(ts),
            None => relay,
        });
        b.gone_until = None;
        if bridged {
            tracing::info!(reconnects = b.reconnects, "browser leg reconnected");
            // Off the media loop: the database must not stall the relay.
            let (store, id) = (self.ctx.store.clone(), self.id.clone());
            self.ctx.tasks.spawn(async move {
                if let Err(e) = store.add_browser_reconnect(&id).await {
                    tracing::warn!(error = %e, "cannot count the reconnect");
                }
            });
        }
        self.refresh_hold(now, "browser_gone");
        Ok(answer)
    }

    /// The agent pressed Hold (or took the caller off hold).
    fn set_agent_hold(&mut self, on: bool) {
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        if b.held == on {
            return;
        }
        b.held = on;
        self.refresh_hold(Instant::now(), "agent");
    }

    /// Starts or stops the hold music to match the leg's state (the agent's Hold, or the
    /// browser gone); the caller's stream passes between the relay and our own sender without
    /// a jump. Publishes `call_held` when the combined state changes (`cause`: why it changed,
    /// for an un-hold; a hold says `browser_gone` while the browser is gone).
    pub(super) fn refresh_hold(&mut self, now: Instant, cause: &str) {
        let Some(a) = self.agent.as_mut() else {
            return;
        };
        let agent_id = a.agent.clone();
        let Some(b) = a.browser.as_mut() else {
            return;
        };
        let hold = b.on_hold();
        if hold && !b.music {
            // While DTMF tones play our sender already owns the stream: music replaces them.
            if self.playback.is_none() {
                match b.to_caller.take() {
                    Some(relay) => {
                        let (_, seq, ts) = relay.position();
                        self.media.continue_from(seq, ts, now);
                    }
                    None => self.media.start_clock(now),
                }
            }
            b.to_caller = None;
            b.music = true;
            self.playback = Some(Playback::looping(self.ctx.prompts.hold()));
        }
        // Music → relay: the relay continues our sender's stream.
        let resume = !hold && b.music;
        if resume {
            b.music = false;
            self.playback = None;
        }
        if hold != b.announced_hold {
            b.announced_hold = hold;
            let reason = if b.gone_until.is_some() {
                "browser_gone"
            } else if hold {
                "agent"
            } else {
                cause
            };
            tracing::info!(held = hold, reason, "hold");
            self.ctx.events.publish(EventKind::CallHeld {
                call_id: self.id.clone(),
                agent_id,
                held: hold,
                reason: reason.to_owned(),
            });
        }
        if resume {
            self.rebuild_caller_relay();
        }
    }

    /// Our own audio to a bridged caller (DTMF tones) is over: hold music if the call is held
    /// meanwhile, else the agent's audio again.
    pub(super) fn after_server_audio(&mut self, now: Instant) {
        let held = self
            .agent
            .as_ref()
            .and_then(|a| a.browser.as_ref())
            .is_some_and(BrowserLeg::on_hold);
        if held {
            self.refresh_hold(now, "agent");
        } else {
            self.rebuild_caller_relay();
        }
    }

    /// After our own sender spoke to the caller, the relay continues from where it stopped.
    fn rebuild_caller_relay(&mut self) {
        let caller_format = self.media.format();
        let (ssrc, seq, ts) = self.media.stream_position();
        if let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut())
            && let Some(format) = b.peer.as_ref().and_then(|p| p.format())
        {
            b.to_caller = Some(RtpRelay::new(format, caller_format, ssrc, seq).continuing(ts));
        }
    }

    /// Plays DTMF tones to the caller (the agent's audio pauses meanwhile).
    fn send_digits_to_caller(&mut self, digits: &str) {
        let now = Instant::now();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        if let Some(relay) = b.to_caller.take() {
            let (_, seq, ts) = relay.position();
            self.media.continue_from(seq, ts, now);
        }
        let tones = Prompt::from_samples(crate::media::dtmf::synthesise(digits));
        self.playback = Some(Playback::once(std::sync::Arc::new(tones)));
    }
}
