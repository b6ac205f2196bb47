//! Waiting in the queue: entering it, announcements of place and estimated wait, the waiting
//! menu (1 callback, 2 voice message), the wait limit, and leaving it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Ending, Phase, Session};
use crate::acd::{CancelReason, Entry, EntryId, EntryKind, QueueNotice, RemoveReason};
use crate::domain::{CallId, Priority};
use crate::events::EventKind;
use crate::media::prompts::{Playback, Prompt};
use crate::store::{NewCallback, NewVoiceMessage, OfferResult, Outcome, Write, now_ms};

/// Notices a waiting caller's task may have queued before it reads them.
const NOTICE_QUEUE: usize = 16;
/// Priority of a caller who skipped the priority question (normal).
const DEFAULT_PRIORITY: u8 = 3;

/// The caller's place in the queue, as far as the call task knows it.
pub(super) struct Waiting {
    /// What the queue engine tells this caller.
    pub(super) notices: mpsc::Receiver<QueueNotice>,
    entry: EntryId,
    /// Epoch ms of entering the queue (a callback keeps it).
    queued_ms: i64,
    /// Announcements to play when the current one ends, in order.
    pub(super) pending: Vec<Arc<Prompt>>,
    /// An announcement or the options prompt is playing (not the hold music).
    pub(super) busy: bool,
    /// The caller may press 1 (callback) or 2 (voice message).
    options_open: bool,
}

impl Waiting {
    /// Leaves the queue; records how long the caller waited.
    pub(super) async fn leave(self, ctx: &super::CallContext, id: &CallId, reason: RemoveReason) {
        match ctx.acd.remove(self.entry, reason).await {
            Ok(waited) => {
                let ms = i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
                ctx.journal.write(Write::Waited {
                    call: id.clone(),
                    wait_ms: ms,
                });
            }
            // Already served or removed (e.g. an agent answered at the same moment).
            Err(e) => tracing::debug!(error = %e, "queue entry already gone"),
        }
    }
}

impl Session {
    /// Puts the caller in the queue of the category they chose.
    pub(super) async fn enqueue(&mut self, now: Instant) {
        let Some((category, priority)) = self.choice else {
            return;
        };
        let (tx, notices) = mpsc::channel(NOTICE_QUEUE);
        let entry = Entry {
            id: EntryId::from(&self.id),
            category,
            priority: priority
                .or(Priority::new(DEFAULT_PRIORITY))
                .unwrap_or(Priority::QUESTION),
            arrived: now,
            kind: EntryKind::Call,
        };
        let queued_ms = now_ms();
        let prefer = self.prefer.take();
        if let Err(e) = self.ctx.acd.enqueue_preferring(entry, tx, prefer).await {
            // The caller still hears hold music until the wait limit: nothing is lost.
            tracing::error!(error = %e, "cannot enter the queue");
            return;
        }
        self.waiting = Some(Waiting {
            notices,
            entry: EntryId::from(&self.id),
            queued_ms,
            pending: Vec::new(),
            busy: false,
            options_open: false,
        });
        // A caller handed to a queue keeps the record of their first wait (service level).
        if !self.requeued {
            self.ctx.journal.write(Write::Queued {
                call: self.id.clone(),
                at: queued_ms,
                category,
                priority,
            });
        }
        self.ctx.events.publish(EventKind::CallQueued {
            call_id: self.id.clone(),
            category,
            priority,
        });
    }

    /// Acts on what the queue engine says about this caller.
    pub(super) async fn on_notice(&mut self, notice: QueueNotice) -> Option<Ending> {
        match notice {
            QueueNotice::Offer { offer, agent } => self.ring_agent(offer, agent).await,
            QueueNotice::CancelOffer { offer, reason } => {
                self.withdraw_offer(offer, offer_result(reason)).await
            }
            QueueNotice::Announce { place, estimate } => {
                let prompts = self.announcement(place, estimate);
                self.queue_announcement(prompts);
            }
            QueueNotice::OfferCallback { reason } => {
                tracing::info!(?reason, "offering callback or voice message");
                if let Some(w) = self.waiting.as_mut() {
                    w.options_open = true;
                }
                let options: Vec<_> = self.prompt("waiting_options").into_iter().collect();
                self.queue_announcement(options);
            }
        }
        None
    }

    /// "You are caller number N. The estimated waiting time is about M minutes."
    fn announcement(&self, place: usize, estimate: Option<Duration>) -> Vec<Arc<Prompt>> {
        let mut names: Vec<String> = Vec::new();
        if (1..=20).contains(&place) {
            names.push("position_intro".into());
            names.push(format!("number_{place}"));
        }
        if let Some(estimate) = estimate {
            let minutes = estimate.as_secs().div_ceil(60);
            names.push("wait_intro".into());
            names.push(match minutes {
                0 => "wait_under_1".into(),
                1..=15 => format!("wait_{minutes}"),
                _ => "wait_over_15".into(),
            });
        }
        names.iter().filter_map(|n| self.prompt(n)).collect()
    }

    /// Plays an announcement now if only hold music is playing, else after the current one.
    fn queue_announcement(&mut self, prompts: Vec<Arc<Prompt>>) {
        if prompts.is_empty() {
            return;
        }
        let in_hold = matches!(self.phase, Phase::Hold { .. });
        let Some(w) = self.waiting.as_mut() else {
            return;
        };
        if in_hold && !w.busy {
            w.busy = true;
            self.play(Playback::sequence(prompts, false));
        } else {
            w.pending.extend(prompts);
        }
    }

    /// A digit while waiting: 1 opens the options; then 1 = callback, 2 = voice message.
    pub(super) async fn on_waiting_digit(&mut self, now: Instant, digit: char) -> Option<Ending> {
        let open = self.waiting.as_ref()?.options_open;
        match (open, digit) {
            (false, '1') => {
                if let Some(w) = self.waiting.as_mut() {
                    w.options_open = true;
                    w.busy = true;
                    w.pending.clear();
                }
                if let Some(p) = self.prompt("waiting_options") {
                    self.play(Playback::once(p));
                }
            }
            (true, '1') => self.request_callback().await,
            (true, '2') => {
                // Issue 11: voice messages per number per day are capped (`[call]`).
                if crate::call::bounds::voice_message_allowed(&self.ctx, &self.caller.number).await
                {
                    self.start_recording(now).await;
                } else if let Some(p) = self.prompt("invalid") {
                    if let Some(w) = self.waiting.as_mut() {
                        w.busy = true;
                    }
                    self.play(Playback::once(p));
                }
            }
            _ => {}
        }
        None
    }

    /// Ends the wait when its limit passed (goodbye) and a recording when it is long enough.
    pub(super) async fn on_wait_limits(&mut self, now: Instant) -> Option<Ending> {
        match self.phase {
            Phase::Hold { until } if now >= until => {
                self.leave_queue(RemoveReason::Abandoned).await;
                self.phase = Phase::Closing {
                    outcome: Outcome::MaxWait,
                };
                self.play_prompt("max_wait");
            }
            Phase::Recording { until } if now >= until => self.finish_recording(now).await,
            _ => {}
        }
        None
    }

    /// Leaves the queue now (and stops ringing an agent for this caller).
    async fn leave_queue(&mut self, reason: RemoveReason) {
        self.end_agent_leg().await;
        if let Some(w) = self.waiting.take() {
            w.leave(&self.ctx, &self.id, reason).await;
        }
    }

    /// The caller asked to be called back: stored with their original place, then goodbye.
    async fn request_callback(&mut self) {
        let queued_ms = self.waiting.as_ref().map_or_else(now_ms, |w| w.queued_ms);
        self.leave_queue(RemoveReason::Callback).await;
        let (category, priority) = self
            .choice
            .unwrap_or((crate::domain::Category::Unclassified, None));
        let callback = NewCallback {
            call_id: Some(self.id.clone()),
            intake_id: self.intake_id.clone(),
            number: self.caller.number.clone(),
            contact: None,
            category,
            priority,
            queued_at: queued_ms,
            requested_at: now_ms(),
        };
        // Issue 11: one open callback per number; a second request is confirmed, not stored.
        // The caller hears the same confirmation either way, so the insert runs off the call
        // task (it needs the database's answer) once the journal has stored the call row the
        // callback refers to.
        let (ctx, call_id) = (self.ctx.clone(), self.id.clone());
        let store_it = async move {
            ctx.store.synced().await;
            match crate::call::bounds::store_callback(&ctx, &callback).await {
                Ok(crate::store::CallbackInsert::AlreadyOpen(_)) => {}
                Ok(crate::store::CallbackInsert::Stored(id)) => {
                    tracing::info!(callback = %id, "callback requested");
                    ctx.events.publish(EventKind::CallbackRequested {
                        call_id,
                        callback_id: id.clone(),
                    });
                    crate::call::callback::spawn(
                        ctx.clone(),
                        crate::call::callback::Callback {
                            id,
                            number: callback.number,
                            intake: callback.intake_id,
                            category,
                            priority,
                            queued_at: queued_ms,
                            dial_attempts: 0,
                            retry_at: None,
                        },
                    );
                }
                Err(e) => tracing::error!(error = %e, "cannot store callback request"),
            }
        };
        self.ctx
            .tasks
            .spawn(tracing::Instrument::in_current_span(store_it));
        self.phase = Phase::Closing {
            outcome: Outcome::Callback,
        };
        self.play_prompt("callback_confirmed");
    }

    /// The caller chose to leave a message: instructions, a beep, then recording.
    async fn start_recording(&mut self, now: Instant) {
        self.leave_queue(RemoveReason::VoiceMessage).await;
        let prompts: Vec<_> = ["record_message", "beep"]
            .iter()
            .filter_map(|n| self.prompt(n))
            .collect();
        // Recording starts when the beep has played (see `on_playback_finished`).
        self.phase = Phase::Recording {
            until: now
                + crate::call::bounds::max_voice_message(&self.ctx)
                + Duration::from_secs(30),
        };
        self.recording = None;
        self.play(Playback::sequence(prompts, false));
    }

    /// The beep ended: capture the caller's audio from now on.
    pub(super) fn begin_capture(&mut self, now: Instant) {
        self.recording = Some(Vec::with_capacity(8000 * 10));
        self.phase = Phase::Recording {
            until: now + crate::call::bounds::max_voice_message(&self.ctx),
        };
    }

    /// `#`, the time limit, or silence: store the message and say goodbye.
    pub(super) async fn finish_recording(&mut self, now: Instant) {
        self.save_voice_message(now).await;
        self.phase = Phase::Closing {
            outcome: Outcome::VoiceMessage,
        };
        self.play_prompt("message_saved");
    }

    /// Writes the captured audio as a WAV file and links it to the call and intake.
    pub(super) async fn save_voice_message(&mut self, _now: Instant) {
        let Some(samples) = self.recording.take() else {
            return;
        };
        if samples.is_empty() {
            return;
        }
        let dir = self.ctx.recordings_dir.clone();
        let path = dir.join(format!("{}.wav", self.id));
        let duration_ms = i64::try_from(samples.len() / 8).unwrap_or(i64::MAX);
        let written = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || write_wav(&dir, &path, &samples)).await
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, path = %path.display(), "cannot write voice message");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "voice message writer failed");
                return;
            }
        }
        let message = NewVoiceMessage {
            call_id: Some(self.id.clone()),
            intake_id: self.intake_id.clone(),
            path: path.display().to_string(),
            duration_ms,
            created_at: now_ms(),
        };
        let id = crate::store::new_voice_message_id();
        self.ctx.journal.write(Write::VoiceMessage {
            id: id.clone(),
            message,
        });
        tracing::info!(message = %id, duration_ms, "voice message stored");
        self.ctx.events.publish(EventKind::VoiceMessage {
            call_id: self.id.clone(),
            message_id: id,
        });
    }
}

/// How a withdrawn offer is recorded: `no_answer` only when the phone rang out; an agent who
/// logged out or a caller who left did not let it ring unanswered.
fn offer_result(reason: CancelReason) -> OfferResult {
    match reason {
        CancelReason::RingTimeout => OfferResult::NoAnswer,
        CancelReason::AgentLeft | CancelReason::Withdrawn => OfferResult::Cancelled,
    }
}

/// 8 kHz 16-bit mono PCM, like the prompts.
fn write_wav(
    dir: &std::path::Path,
    path: &std::path::Path,
    samples: &[i16],
) -> Result<(), hound::Error> {
    std::fs::create_dir_all(dir)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_ring_timeout_is_recorded_as_no_answer() {
        assert_eq!(
            offer_result(CancelReason::RingTimeout),
            OfferResult::NoAnswer
        );
        assert_eq!(
            offer_result(CancelReason::AgentLeft),
            OfferResult::Cancelled
        );
        assert_eq!(
            offer_result(CancelReason::Withdrawn),
            OfferResult::Cancelled
        );
    }
}
