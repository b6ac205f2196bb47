//! The IVR: a pure state machine over the menu in [`IvrConfig`]; digits, prompt ends and
//! timeouts in, [`IvrAction`]s out. No I/O, no tokio: the call task plays the prompts, reports
//! when each has finished, and drives time through `now` and [`Ivr::poll_timeout`].
//!
//! Rules (issue 2, point 6): `0` at any point goes on without further questions; `*` repeats the
//! menu; an invalid digit or silence plays `invalid` and repeats the menu, and after
//! `max_attempts` failures the call goes on with what was chosen so far. A digit during a prompt
//! cuts it short and answers the menu being played; during the greeting it answers the first menu.
//!
//! A caller whose number has an open intake (the call task reports it with
//! [`Ivr::on_open_intake`] as soon as it knows) hears the `recognized` prompt after the
//! language menu: `1` ends the questions to be put through about that intake, `2` goes on with
//! the menus; failures there go on with the menus too.

mod config;
mod outcome;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::domain::{Category, Language, Priority};

use config::Choice;
pub use config::{Field, IvrConfig, IvrConfigError, MenuConfig, OptionValue};
pub use outcome::{IvrEnd, IvrOutcome, IvrStep, KnownIntake, StepInput};

/// What the call task must do next, drained with [`Ivr::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    /// Stop what plays now (if anything) and play this prompt; report its end with
    /// [`Ivr::on_prompt_finished`].
    Play { prompt: String, language: Language },
    /// Cut the current prompt short (barge-in); a `Play` follows.
    StopPlayback,
    /// The questions are over; store the intake now. Comes after the `Play` of `connecting`.
    Finished(IvrOutcome),
}

/// Where the IVR is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The greeting plays.
    Greeting,
    /// In the menu at this index of `IvrConfig::menus`.
    Menu { index: usize, phase: Phase },
    /// Asking a caller with an open intake whether they call about it; the menus go on at
    /// `resume` when they do not.
    Recognition { resume: usize, phase: Phase },
    /// `Finished` was emitted; every input is ignored.
    Done,
}

/// Where a menu is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The menu prompt plays.
    Prompt,
    /// The prompt has finished; waiting for a digit until `deadline`.
    Waiting { deadline: Instant },
    /// The `invalid` prompt plays; the menu prompt follows.
    Invalid,
}

/// One caller's walk through the menu.
#[derive(Debug)]
pub struct Ivr {
    config: Arc<IvrConfig>,
    state: State,
    /// Failed attempts in the current menu.
    failures: u32,
    language: Language,
    category: Option<Category>,
    priority: Option<Priority>,
    path: Vec<IvrStep>,
    actions: VecDeque<IvrAction>,
    /// The caller's open intake, once the call task found one.
    open: Option<KnownIntake>,
    /// The recognition question was asked (or can no longer be).
    recognition_passed: bool,
}

/// The menu name of the recognition question in the IVR path.
const RECOGNITION: &str = "recognized";

impl Ivr {
    /// Starts a call's IVR: asks for the greeting (or the first menu when there is none).
    pub fn new(config: Arc<IvrConfig>, _now: Instant) -> Ivr {
        let mut ivr = Ivr {
            language: config.default_language,
            config,
            state: State::Greeting,
            failures: 0,
            category: None,
            priority: None,
            path: Vec::new(),
            actions: VecDeque::new(),
            open: None,
            recognition_passed: false,
        };
        if ivr.config.greeting.is_empty() {
            ivr.enter_menu(0);
        } else {
            let greeting = ivr.config.greeting.clone();
            ivr.play(greeting);
        }
        ivr
    }

    /// A DTMF digit (`0-9`, `*`, `#`, `A-D`) from any source, already deduplicated.
    pub fn on_digit(&mut self, _now: Instant, digit: char) {
        match self.state {
            State::Done => {}
            State::Greeting => {
                // Barge-in: a digit during the greeting answers the first menu.
                let first = self.config.active_menus().map(|(i, _)| i).next();
                let Some(index) = first else {
                    return;
                };
                self.actions.push_back(IvrAction::StopPlayback);
                self.failures = 0;
                self.state = State::Menu {
                    index,
                    phase: Phase::Prompt,
                };
                self.answer(index, digit);
            }
            State::Menu { index, phase } => {
                // Barge-in: a digit during the menu or `invalid` prompt cuts it short.
                if !matches!(phase, Phase::Waiting { .. }) {
                    self.actions.push_back(IvrAction::StopPlayback);
                }
                self.answer(index, digit);
            }
            State::Recognition { resume, phase } => {
                if !matches!(phase, Phase::Waiting { .. }) {
                    self.actions.push_back(IvrAction::StopPlayback);
                }
                self.answer_recognition(resume, digit);
            }
        }
    }

    /// The caller's number has this open intake: ask about it after the language menu (no
    /// effect once the questions are past that point).
    pub fn on_open_intake(&mut self, _now: Instant, open: KnownIntake) {
        if !self.recognition_passed && self.state != State::Done {
            self.open = Some(open);
        }
    }

    /// `digit` answers the recognition question.
    fn answer_recognition(&mut self, resume: usize, digit: char) {
        let step = |input, value: Option<&str>| IvrStep {
            menu: RECOGNITION.to_owned(),
            input,
            value: value.map(str::to_owned),
        };
        match digit {
            '1' => {
                self.path
                    .push(step(StepInput::Digit('1'), Some("continue")));
                self.finish(IvrEnd::Continued);
            }
            '2' => {
                self.path.push(step(StepInput::Digit('2'), Some("new")));
                self.recognition_passed = true;
                self.enter_menu(resume);
            }
            '*' => {
                self.path.push(step(StepInput::Repeat, None));
                self.ask_recognition(resume);
            }
            '0' => {
                self.path.push(step(StepInput::Skip, None));
                self.recognition_passed = true;
                self.finish(IvrEnd::Skipped);
            }
            other => {
                self.path.push(step(StepInput::Invalid(other), None));
                self.fail_recognition(resume);
            }
        }
    }

    fn ask_recognition(&mut self, resume: usize) {
        self.state = State::Recognition {
            resume,
            phase: Phase::Prompt,
        };
        let prompt = self.config.recognized.clone();
        self.play(prompt);
    }

    /// A failed attempt at the recognition question; after too many the menus go on.
    fn fail_recognition(&mut self, resume: usize) {
        self.failures += 1;
        if self.failures >= self.config.max_attempts {
            self.recognition_passed = true;
            self.enter_menu(resume);
        } else {
            self.state = State::Recognition {
                resume,
                phase: Phase::Invalid,
            };
            let invalid = self.config.invalid.clone();
            self.play(invalid);
        }
    }

    /// The prompt last asked for has played to its end.
    pub fn on_prompt_finished(&mut self, now: Instant) {
        match self.state {
            State::Greeting => self.enter_menu(0),
            State::Menu {
                index,
                phase: Phase::Prompt,
            } => {
                let deadline = now + self.config.digit_timeout();
                self.state = State::Menu {
                    index,
                    phase: Phase::Waiting { deadline },
                };
            }
            State::Menu {
                index,
                phase: Phase::Invalid,
            } => self.replay(index),
            State::Recognition {
                resume,
                phase: Phase::Prompt,
            } => {
                let deadline = now + self.config.digit_timeout();
                self.state = State::Recognition {
                    resume,
                    phase: Phase::Waiting { deadline },
                };
            }
            State::Recognition {
                resume,
                phase: Phase::Invalid,
            } => self.ask_recognition(resume),
            State::Menu {
                phase: Phase::Waiting { .. },
                ..
            }
            | State::Recognition {
                phase: Phase::Waiting { .. },
                ..
            }
            | State::Done => {}
        }
    }

    /// Time has passed; acts only when the deadline from [`Ivr::poll_timeout`] is reached.
    pub fn on_timeout(&mut self, now: Instant) {
        if let State::Menu {
            index,
            phase: Phase::Waiting { deadline },
        } = self.state
            && now >= deadline
        {
            self.record(index, StepInput::Timeout, None);
            self.fail(index);
        } else if let State::Recognition {
            resume,
            phase: Phase::Waiting { deadline },
        } = self.state
            && now >= deadline
        {
            self.path.push(IvrStep {
                menu: RECOGNITION.to_owned(),
                input: StepInput::Timeout,
                value: None,
            });
            self.fail_recognition(resume);
        }
    }

    /// When [`Ivr::on_timeout`] must be called next (only while waiting for a digit).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Menu {
                phase: Phase::Waiting { deadline },
                ..
            }
            | State::Recognition {
                phase: Phase::Waiting { deadline },
                ..
            } => Some(deadline),
            _ => None,
        }
    }

    /// The next action for the call task; drain after every input.
    pub fn poll_action(&mut self) -> Option<IvrAction> {
        self.actions.pop_front()
    }

    /// The menu being asked (for "IVR step entered" events), `None` in the greeting or after.
    pub fn current_menu(&self) -> Option<&str> {
        match self.state {
            State::Menu { index, .. } => self.config.menus.get(index).map(|m| m.id.as_str()),
            State::Recognition { .. } => Some(RECOGNITION),
            State::Greeting | State::Done => None,
        }
    }

    /// The language prompts are played in now.
    pub fn language(&self) -> Language {
        self.language
    }

    /// True once `Finished` has been emitted.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Handles `digit` as the answer to menu `index` (any playback already stopped).
    fn answer(&mut self, index: usize, digit: char) {
        let choice = self.config.menus.get(index).and_then(|m| m.choice(digit));
        match (digit, choice) {
            ('*', _) => {
                self.record(index, StepInput::Repeat, None);
                self.replay(index);
            }
            ('0', _) => {
                self.record(index, StepInput::Skip, None);
                self.finish(IvrEnd::Skipped);
            }
            (_, Some(choice)) => {
                match choice {
                    Choice::Language(l) => self.language = l,
                    Choice::Category(c) => self.category = Some(c),
                    Choice::Priority(p) => self.priority = Some(p),
                }
                self.record(index, StepInput::Digit(digit), Some(choice.as_string()));
                self.enter_menu(index + 1);
            }
            (_, None) => {
                self.record(index, StepInput::Invalid(digit), None);
                self.fail(index);
            }
        }
    }

    /// Starts the first enabled menu at or after `from`, or finishes when there is none.
    fn enter_menu(&mut self, from: usize) {
        let next = self
            .config
            .active_menus()
            .map(|(i, _)| i)
            .find(|&i| i >= from);
        // The recognition question comes before the first menu past the language.
        let past_language = |i: usize| {
            self.config
                .menus
                .get(i)
                .is_none_or(|m| m.sets != config::Field::Language)
        };
        if self.open.is_some()
            && !self.recognition_passed
            && !self.config.recognized.is_empty()
            && next.is_none_or(past_language)
        {
            self.failures = 0;
            self.ask_recognition(next.unwrap_or(usize::MAX));
            return;
        }
        if next.is_some_and(past_language) {
            // Past the language: an open intake found from now on comes too late to ask about.
            self.recognition_passed = true;
        }
        match next {
            Some(index) => {
                self.failures = 0;
                self.replay(index);
            }
            None => self.finish(IvrEnd::Completed),
        }
    }

    /// Plays menu `index`'s prompt (again).
    fn replay(&mut self, index: usize) {
        self.state = State::Menu {
            index,
            phase: Phase::Prompt,
        };
        if let Some(prompt) = self.config.menus.get(index).map(|m| m.prompt.clone()) {
            self.play(prompt);
        }
    }

    /// One failed attempt: `invalid` then the menu again, or on after too many.
    fn fail(&mut self, index: usize) {
        self.failures += 1;
        if self.failures >= self.config.max_attempts {
            self.finish(IvrEnd::TooManyFailures);
        } else {
            self.state = State::Menu {
                index,
                phase: Phase::Invalid,
            };
            let invalid = self.config.invalid.clone();
            self.play(invalid);
        }
    }

    /// Asks for `connecting`, then emits the final outcome.
    fn finish(&mut self, end: IvrEnd) {
        self.state = State::Done;
        if !self.config.connecting.is_empty() {
            let connecting = self.config.connecting.clone();
            self.play(connecting);
        }
        let continues = (end == IvrEnd::Continued)
            .then(|| self.open.clone())
            .flatten();
        let outcome = IvrOutcome {
            language: self.language,
            // A continued intake keeps its own category and priority.
            category: continues
                .as_ref()
                .map(|k| k.category)
                .or(self.category)
                .unwrap_or(Category::Unclassified),
            priority: continues.as_ref().map_or(self.priority, |k| k.priority),
            path: std::mem::take(&mut self.path),
            end,
            continues,
        };
        self.actions.push_back(IvrAction::Finished(outcome));
    }

    fn play(&mut self, prompt: String) {
        self.actions.push_back(IvrAction::Play {
            prompt,
            language: self.language,
        });
    }

    fn record(&mut self, index: usize, input: StepInput, value: Option<String>) {
        let menu = self
            .config
            .menus
            .get(index)
            .map(|m| m.id.clone())
            .unwrap_or_default();
        self.path.push(IvrStep { menu, input, value });
    }
}

#[cfg(test)]
mod tests;
