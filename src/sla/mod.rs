//! Service-level agreements: the checked `[sla]` policy and the two timers of an intake,
//! response and resolution, evaluated at a given instant (pure, no I/O).
//!
//! A priority (1 to 5) has a target per timer, counted on business hours ([`Calendar`]) or
//! around the clock. A priority without a `[[sla.target]]` has no SLA: `evaluate` answers
//! `None`, and so it does for every intake when there is no `[sla]` section (the default
//! [`SlaConfig`] checks into a policy whose `enabled()` is false).
//!
//! Rules, all in ms on the target's clock:
//! - response runs from `created_at` to `responded_at` (or `resolved_at` when the intake was
//!   resolved without a recorded response); it is never paused;
//! - resolution runs from `created_at` to `resolved_at`, minus pauses: the finished ones
//!   (`paused_ms`) and the one in progress since `paused_since`;
//! - `due_at = add_business_ms(created_at, target + paused_ms)`; a timer stopped at or before
//!   it is `Met`, after it `MetLate`; a running one past it is `Breached`, and `Warning` once
//!   `warn_percent` of the target has elapsed;
//! - during a pause the resolution timer is `Paused` with no `due_at`, unless it was already
//!   breached when the pause began: then it stays `Breached` with the due time it missed.

mod calendar;
mod config;
mod hours;
mod summary;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use calendar::{Calendar, CalendarError, DAY_MINUTES, DAY_NAMES, MAX_SCAN_DAYS};
pub use config::{SlaConfig, SlaConfigError, SlaTargetConfig};
pub use hours::{HoursConfig, HoursError};
pub use summary::{GroupSla, StateCounts, summarize};

/// The highest priority number (priorities are 1 to 5, 1 the most urgent).
pub const MAX_PRIORITY: u8 = 5;

/// Which clock a target counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ClockKind {
    /// The opening hours of `sla.hours`, holidays closed.
    #[serde(rename = "business")]
    Business,
    /// Every hour of every day.
    #[serde(rename = "24x7")]
    AllHours,
}

/// The checked targets of one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTarget {
    /// Time to the first response (ms on `clock`).
    pub response_ms: i64,
    /// Time to resolution, pauses excluded (ms on `clock`).
    pub resolution_ms: i64,
    /// The clock both timers count on.
    pub clock: ClockKind,
}

/// The checked SLA settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Opening hours for business-clock targets (24x7 when no target needs them).
    calendar: Calendar,
    /// The 24x7 clock.
    always: Calendar,
    warn_percent: u8,
    default_priority: Option<u8>,
    /// Index `p - 1` holds priority `p`'s target.
    targets: [Option<SlaTarget>; MAX_PRIORITY as usize],
}

/// One timer's facts: start, stop, and pauses.
#[derive(Debug, Clone, Copy)]
struct Run {
    created: i64,
    stopped: Option<i64>,
    paused_ms: i64,
    paused_since: Option<i64>,
}

/// The instants an intake's timers are computed from (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaClock {
    /// When the intake was created: both timers start here.
    pub created_at: i64,
    /// The first response, which stops the response timer.
    pub responded_at: Option<i64>,
    /// The resolution, which stops both timers.
    pub resolved_at: Option<i64>,
    /// Business ms of finished pauses, on the target's clock (sum of `pause_ms`).
    pub paused_ms: i64,
    /// The start of a pause in progress.
    pub paused_since: Option<i64>,
}

/// Where a timer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerState {
    /// Counting, below the warning share.
    Running,
    /// Counting, at or past `warn_percent` of the target.
    Warning,
    /// Counting past the due time.
    Breached,
    /// Held by a pause in progress.
    Paused,
    /// Stopped at or before the due time.
    Met,
    /// Stopped after the due time.
    MetLate,
}

/// One timer at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timer {
    /// Where it stands.
    pub state: TimerState,
    /// When the target is (or was) reached; `None` while paused.
    pub due_at: Option<i64>,
    /// The target (ms on the target's clock).
    pub target_ms: i64,
    /// Time used so far or until stopped (ms on the target's clock, pauses excluded).
    pub elapsed_ms: i64,
}

/// Both timers of an intake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaView {
    /// The priority whose target applies (the default one for an intake without a priority).
    pub priority: u8,
    /// Time to first response.
    pub response: Timer,
    /// Time to resolution.
    pub resolution: Timer,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy::disabled()
    }
}

impl SlaPolicy {
    /// No targets: every `evaluate` answers `None`.
    pub fn disabled() -> SlaPolicy {
        SlaPolicy {
            calendar: Calendar::always(),
            always: Calendar::always(),
            warn_percent: config::DEFAULT_WARN_PERCENT,
            default_priority: None,
            targets: [None; MAX_PRIORITY as usize],
        }
    }

    /// Whether any priority has a target.
    pub fn enabled(&self) -> bool {
        self.targets.iter().any(Option::is_some)
    }

    /// The opening hours business-clock targets count on.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The share of a target (percent) after which a running timer warns.
    pub fn warn_percent(&self) -> u8 {
        self.warn_percent
    }

    /// The priority that applies (`priority`, or the default) and its target, if it has one.
    pub fn target(&self, priority: Option<u8>) -> Option<(u8, SlaTarget)> {
        let priority = priority.or(self.default_priority)?;
        let slot = usize::from(priority).checked_sub(1)?;
        let target = (*self.targets.get(slot)?)?;
        Some((priority, target))
    }

    /// Both timers of an intake at `now`; `None` when its priority has no target.
    pub fn evaluate(&self, priority: Option<u8>, clock: &SlaClock, now: i64) -> Option<SlaView> {
        let (priority, target) = self.target(priority)?;
        let cal = self.clock(target.clock);
        // Response: never paused; a resolution without a recorded response also answers.
        let response = Run {
            created: clock.created_at,
            stopped: clock.responded_at.or(clock.resolved_at),
            paused_ms: 0,
            paused_since: None,
        };
        let resolution = Run {
            created: clock.created_at,
            stopped: clock.resolved_at,
            paused_ms: clock.paused_ms,
            paused_since: clock.paused_since,
        };
        let response = self.timer(cal, target.response_ms, response, now);
        let resolution = self.timer(cal, target.resolution_ms, resolution, now);
        Some(SlaView {
            priority,
            response,
            resolution,
        })
    }

    /// [`SlaPolicy::evaluate`] from raw pauses `(started_at, ended_at)`: the finished ones
    /// count in business time on the priority's clock, an unfinished one is the running pause.
    pub fn evaluate_with_pauses(
        &self,
        priority: Option<u8>,
        (created_at, responded_at, resolved_at): (i64, Option<i64>, Option<i64>),
        pauses: impl IntoIterator<Item = (i64, Option<i64>)>,
        now: i64,
    ) -> Option<SlaView> {
        if !self.enabled() {
            return None;
        }
        let mut clock = SlaClock {
            created_at,
            responded_at,
            resolved_at,
            paused_ms: 0,
            paused_since: None,
        };
        for (start, end) in pauses {
            match end {
                Some(end) => clock.paused_ms += self.pause_ms(priority, start, end),
                None => clock.paused_since = Some(start),
            }
        }
        self.evaluate(priority, &clock, now)
    }

    /// Business ms of a pause `[from, to)` on that priority's clock (0 without a target): what
    /// a finished pause adds to `paused_ms`.
    pub fn pause_ms(&self, priority: Option<u8>, from: i64, to: i64) -> i64 {
        self.target(priority).map_or(0, |(_, target)| {
            self.clock(target.clock).business_ms_between(from, to)
        })
    }

    fn clock(&self, kind: ClockKind) -> &Calendar {
        match kind {
            ClockKind::Business => &self.calendar,
            ClockKind::AllHours => &self.always,
        }
    }

    /// One timer of `target_ms` on `cal` at `now`.
    fn timer(&self, cal: &Calendar, target_ms: i64, run: Run, now: i64) -> Timer {
        let Run {
            created,
            stopped,
            paused_ms,
            paused_since,
        } = run;
        let paused_ms = paused_ms.max(0);
        let end = stopped.unwrap_or(now);
        // A pause still open counts until the timer stops (or now), from no earlier than creation.
        let pause_start = paused_since.map(|p| p.max(created));
        let open_pause = pause_start.map_or(0, |p| cal.business_ms_between(p, end));
        let elapsed_ms = cal
            .business_ms_between(created, end)
            .saturating_sub(paused_ms.saturating_add(open_pause))
            .max(0);
        // A pause the store did not close when the timer stopped ends with it.
        let closed_pause = if stopped.is_some() { open_pause } else { 0 };
        let budget = target_ms
            .saturating_add(paused_ms)
            .saturating_add(closed_pause);
        let due = cal.add_business_ms(created, budget);
        let (state, due_at) = match (stopped, pause_start) {
            (Some(stop), _) if stop <= due => (TimerState::Met, Some(due)),
            (Some(_), _) => (TimerState::MetLate, Some(due)),
            (None, Some(pause)) if pause > due => (TimerState::Breached, Some(due)),
            (None, Some(_)) => (TimerState::Paused, None),
            (None, None) if now > due => (TimerState::Breached, Some(due)),
            (None, None) => {
                let warn = elapsed_ms.saturating_mul(100)
                    >= target_ms.saturating_mul(i64::from(self.warn_percent));
                let state = if warn {
                    TimerState::Warning
                } else {
                    TimerState::Running
                };
                (state, Some(due))
            }
        };
        Timer {
            state,
            due_at,
            target_ms,
            elapsed_ms,
        }
    }
}
