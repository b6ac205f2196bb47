//! The caller's side of the session: digits, the 20 ms frame clock, prompts, the IVR, the
//! open-intake lookup of its recognition prompt, and the intake it produces (or continues).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Ending, Phase, Session};
use crate::call::{CallContext, CallerIdentity};
use crate::domain::{CustomerId, DtmfMode, IntakeId};
use crate::events::EventKind;
use crate::ivr::{IvrAction, IvrOutcome};
use crate::media::g711::G711;
use crate::media::prompts::{Playback, Prompt};
use crate::store::{NewIntake, Write, now_ms};

impl Session {
    /// Starts looking up the caller's open intake for the recognition prompt (a known number,
    /// the prompt configured); the answer arrives in the call's loop.
    pub(super) fn look_up_open_intake(
        ctx: &CallContext,
        caller: &CallerIdentity,
        customer: Option<&CustomerId>,
    ) -> Option<oneshot::Receiver<Option<crate::ivr::KnownIntake>>> {
        if !caller.normalised || ctx.ivr.recognized.is_empty() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let (store, number, customer) =
            (ctx.store.clone(), caller.number.clone(), customer.cloned());
        tokio::spawn(async move {
            let found = match store
                .open_intake_for_caller(customer.as_ref(), &number)
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "open-intake lookup failed");
                    None
                }
            };
            let _ = tx.send(found);
        });
        Some(rx)
    }

    /// The open-intake lookup answered: the IVR asks about it if it is not too late. Never
    /// ends the call (the loop's handlers answer `Option<Ending>`).
    pub(super) fn on_open_intake(
        &mut self,
        now: Instant,
        known: Option<crate::ivr::KnownIntake>,
    ) -> Option<Ending> {
        self.open_lookup = None;
        if let Some(k) = known {
            tracing::info!(intake = %k.id, "the caller has an open intake");
            self.ivr.on_open_intake(now, k);
        }
        None
    }

    /// A digit from any source: deduplicated, then given to the IVR or the waiting menu.
    pub(super) async fn on_digit(
        &mut self,
        now: Instant,
        digit: char,
        mode: DtmfMode,
    ) -> Option<Ending> {
        let digit = self.merger.on_digit(now, digit, mode)?;
        if mode != DtmfMode::Inband {
            self.media.disable_inband();
        }
        tracing::debug!(%digit, %mode, "digit");
        self.ctx.events.publish(EventKind::Digit {
            call_id: self.id.clone(),
            digit,
            mode,
        });
        match self.phase {
            Phase::Ivr => {
                self.ivr.on_digit(now, digit);
                None
            }
            Phase::Hold { .. } | Phase::Connecting => self.on_waiting_digit(now, digit).await,
            Phase::Recording { .. } if digit == '#' => {
                self.finish_recording(now).await;
                None
            }
            Phase::Recording { .. }
            | Phase::Bridged
            | Phase::Transferring
            | Phase::Closing { .. } => None,
        }
    }

    /// Sends due RTP frames, advances playback, fires the IVR timer.
    pub(super) fn on_timer(&mut self, now: Instant) {
        // A bridged call's media is relayed; we only speak during hold or DTMF (browser calls).
        if self.phase == Phase::Bridged && self.playback.is_none() {
            return;
        }
        if self.media.held_back(now) {
            // Not confirmed yet: the clock runs, nothing is sent, the prompt waits at its start.
            self.media.skip_due(now);
            if self.ivr.poll_timeout().is_some_and(|t| t <= now) {
                self.ivr.on_timeout(now);
            }
            return;
        }
        let due = self.media.due(now, self.builds_ahead());
        let codec = self.media.codec();
        for _ in 0..due {
            self.frame.clear();
            let finished = match self.playback.as_mut() {
                Some(p) => match p.next_frame(codec) {
                    Some(f) => {
                        self.frame.extend_from_slice(f);
                        false
                    }
                    None => true,
                },
                None => false,
            };
            if finished {
                self.playback = None;
                if self.phase == Phase::Bridged {
                    // Tones to a bridged caller are over: the agent's audio (or hold music)
                    // takes this very slot, so nothing more is sent from here.
                    self.after_server_audio(now);
                    break;
                }
                self.on_playback_finished(now);
            }
            if self.frame.is_empty() {
                self.frame.resize(160, silence(codec));
            }
            let frame = std::mem::take(&mut self.frame);
            self.media.send_frame(now, &frame);
            self.frame = frame;
        }
        if self.ivr.poll_timeout().is_some_and(|t| t <= now) {
            self.ivr.on_timeout(now);
        }
    }

    fn on_playback_finished(&mut self, now: Instant) {
        match self.phase {
            Phase::Ivr => self.ivr.on_prompt_finished(now),
            Phase::Connecting => {
                let until = now + Duration::from_secs(self.ctx.call.max_wait_secs);
                self.phase = Phase::Hold { until };
                self.after_announcement();
            }
            // An announcement or the options prompt ended: back to the music (or the next one).
            Phase::Hold { .. } => self.after_announcement(),
            Phase::Recording { .. } if self.recording.is_none() => self.begin_capture(now),
            Phase::Bridged => self.after_server_audio(now),
            // Hold music loops; nothing ends it but the transfer.
            Phase::Recording { .. } | Phase::Transferring | Phase::Closing { .. } => {}
        }
    }

    /// Starts hold music, unless an announcement is waiting to be played first.
    pub(super) fn after_announcement(&mut self) {
        let next = self
            .waiting
            .as_mut()
            .map(|w| {
                w.busy = !w.pending.is_empty();
                std::mem::take(&mut w.pending)
            })
            .unwrap_or_default();
        if next.is_empty() {
            self.play(Playback::looping(self.ctx.prompts.hold()));
        } else {
            self.play(Playback::sequence(next, false));
        }
    }

    /// Plays `playback` from its first frame (a new talkspurt).
    pub(super) fn play(&mut self, playback: Playback) {
        self.playback = Some(playback);
        self.media.talkspurt();
    }

    /// Looks a prompt up in the caller's language.
    pub(super) fn prompt(&self, name: &str) -> Option<std::sync::Arc<Prompt>> {
        let found = self.ctx.prompts.get(self.language, name);
        if found.is_none() {
            tracing::error!(prompt = name, language = %self.language, "prompt missing");
        }
        found
    }

    /// Plays a prompt once in the caller's language (nothing if it is missing).
    pub(super) fn play_prompt(&mut self, name: &str) {
        self.playback = None;
        if let Some(p) = self.prompt(name) {
            self.play(Playback::once(p));
        }
    }

    /// Carries out what the IVR asked for; stores the intake and queues the caller when it ends.
    pub(super) async fn drain_ivr(&mut self, now: Instant) {
        while let Some(action) = self.ivr.poll_action() {
            match action {
                IvrAction::Play { prompt, language } => {
                    self.language = language;
                    self.play_prompt(&prompt);
                    if self.playback.is_none() {
                        self.ivr.on_prompt_finished(now);
                    }
                }
                IvrAction::StopPlayback => self.playback = None,
                IvrAction::Finished(outcome) => {
                    if self.phase == Phase::Ivr {
                        self.phase = Phase::Connecting;
                    }
                    self.store_intake(&outcome).await;
                    self.enqueue(now).await;
                    if self.playback.is_none() {
                        self.on_playback_finished(now);
                    }
                }
            }
        }
    }

    async fn store_intake(&mut self, outcome: &IvrOutcome) {
        tracing::Span::current().record("category", outcome.category.as_str());
        // The queue needs the choice even if the record cannot be written.
        self.choice = Some((outcome.category, outcome.priority));
        let at = now_ms();
        let intake = NewIntake {
            call_id: Some(self.id.clone()),
            customer_id: self.customer_id.clone(),
            caller: Some(self.caller.number.clone()),
            category: outcome.category,
            priority: outcome.priority,
            language: Some(outcome.language),
            ivr_path: outcome.path_string(),
            dtmf_mode: self.merger.modes_seen(),
            description: None,
            created_at: at,
        };
        // Handed to the journal under an id chosen here: on disk within one group commit
        // (docs/durability.md), before the caller hears "connecting".
        self.ctx.journal.write(Write::IvrEnded {
            call: self.id.clone(),
            at,
            language: outcome.language,
        });
        if let Some(known) = &outcome.continues {
            // The caller rings about their open intake: the call continues it, and the pop
            // shows that intake with everything recorded so far.
            self.ctx.journal.write(Write::Attach {
                intake: known.id.clone(),
                call: self.id.clone(),
                at,
                ivr_path: outcome.path_string(),
            });
            tracing::info!(intake = %known.id, owner = ?known.owner, "the call continues an open intake");
            self.ctx.events.publish(EventKind::IntakeDrafted {
                call_id: self.id.clone(),
                intake_id: known.id.clone(),
                category: outcome.category,
                priority: outcome.priority,
            });
            self.intake_id = Some(known.id.clone());
            self.prefer.clone_from(&known.owner);
            return;
        }
        let intake_id = IntakeId::new_random();
        self.ctx.journal.write(Write::Intake {
            id: intake_id.clone(),
            intake,
        });
        tracing::info!(intake = %intake_id, category = %outcome.category, priority = ?outcome.priority, "intake drafted");
        self.ctx.events.publish(EventKind::IntakeDrafted {
            call_id: self.id.clone(),
            intake_id: intake_id.clone(),
            category: outcome.category,
            priority: outcome.priority,
        });
        self.intake_id = Some(intake_id);
    }
}

/// One byte of digital silence in the codec.
pub(super) fn silence(codec: G711) -> u8 {
    match codec {
        G711::Pcmu => 0xFF,
        G711::Pcma => 0xD5,
    }
}

/// The answer of `rx` (`None` when its sender went away), or never without one.
pub(super) async fn answer_opt<T>(rx: Option<&mut oneshot::Receiver<Option<T>>>) -> Option<T> {
    match rx {
        Some(rx) => rx.await.ok().flatten(),
        None => std::future::pending().await,
    }
}
