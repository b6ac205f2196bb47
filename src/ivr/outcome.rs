//! What the IVR hands over when it ends: the choices and the path the caller took (no I/O).

use std::fmt::{self, Write as _};

use crate::domain::{AgentId, Category, IntakeId, Language, Priority};

/// The result of one caller's IVR, stored as the draft intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrOutcome {
    /// Chosen in the language menu, else the configured default.
    pub language: Language,
    /// `Unclassified` unless chosen.
    pub category: Category,
    /// `None` unless chosen.
    pub priority: Option<Priority>,
    /// Every input in order, including repeats, failures and the skip.
    pub path: Vec<IvrStep>,
    /// How the questions ended.
    pub end: IvrEnd,
    /// The caller's open intake they chose to be put through about (the recognition prompt's
    /// 1); the call continues it instead of drafting a new one.
    pub continues: Option<KnownIntake>,
}

/// A caller's open intake, as the call task found it for the recognition prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownIntake {
    /// The intake.
    pub id: IntakeId,
    /// Its category (the queue the call goes to).
    pub category: Category,
    /// Its priority.
    pub priority: Option<Priority>,
    /// Who handles it (offered first when available).
    pub owner: Option<AgentId>,
}

/// How the questions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrEnd {
    /// Every menu was answered.
    Completed,
    /// The caller pressed `0`.
    Skipped,
    /// `max_attempts` invalid digits or silences in one menu.
    TooManyFailures,
    /// The caller chose to be put through about their open intake.
    Continued,
}

impl IvrEnd {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IvrEnd::Completed => "completed",
            IvrEnd::Skipped => "skipped",
            IvrEnd::TooManyFailures => "too_many_failures",
            IvrEnd::Continued => "continued",
        }
    }
}

/// One input in one menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrStep {
    /// The menu's `id`.
    pub menu: String,
    /// What the caller did.
    pub input: StepInput,
    /// The value set (`en`, `hardware`, `3`) when the input chose an option.
    pub value: Option<String>,
}

/// What the caller did in a menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepInput {
    /// A digit that chose an option.
    Digit(char),
    /// A digit that is no option of this menu.
    Invalid(char),
    /// Silence for `digit_timeout_ms` after the prompt.
    Timeout,
    /// `0`: no further questions.
    Skip,
    /// `*`: the menu again.
    Repeat,
}

impl fmt::Display for StepInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepInput::Digit(d) => f.write_char(*d),
            StepInput::Invalid(_) => f.write_str("invalid"),
            StepInput::Timeout => f.write_str("timeout"),
            StepInput::Skip => f.write_str("skip"),
            StepInput::Repeat => f.write_str("repeat"),
        }
    }
}

impl IvrOutcome {
    /// The compact path stored in `intakes.ivr_path`, e.g.
    /// `language:2>category:1>priority:timeout>priority:3`; empty when no menu was asked.
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('>');
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "{}:{}", step.menu, step.input);
        }
        out
    }
}
