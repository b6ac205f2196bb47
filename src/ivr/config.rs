//! The IVR menu as data: the `[ivr]` section of `firstline.toml` and its validation (no I/O).
//!
//! A menu is a prompt plus digit → value options that set one field of the intake (language,
//! category or priority). Menus run in the order listed; a helpdesk can reorder, disable or
//! renumber them without code. `0` (skip) and `*` (repeat) are reserved in every menu.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::{Category, Language, Priority};

/// The `[ivr]` section: prompts around the menus, timing, and the menus in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrConfig {
    /// Language of the greeting and of every prompt when no menu sets the language.
    pub default_language: Language,
    /// Silence after a menu prompt has finished before it counts as a failed attempt.
    pub digit_timeout_ms: u64,
    /// Failed attempts (invalid digit or silence) per menu before the call goes on unclassified.
    pub max_attempts: u32,
    /// Prompt played first; `""` for none. A digit pressed during it answers the first menu.
    pub greeting: String,
    /// Prompt played after an invalid digit or silence, before the menu repeats.
    pub invalid: String,
    /// Prompt played when the questions are over; `""` for none.
    pub connecting: String,
    /// Prompt for a caller whose number has an open intake ("press 1 to be put through to
    /// whoever handles it, 2 for a new question"), asked after the language; `""`: not asked.
    pub recognized: String,
    /// The menus, asked in this order (`[[ivr.menu]]` tables).
    #[serde(rename = "menu")]
    pub menus: Vec<MenuConfig>,
}

/// One menu: `[[ivr.menu]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuConfig {
    /// Name in the IVR path (`category:1`); letters, digits, `_` and `-`.
    pub id: String,
    /// `false` switches the menu off (e.g. the language menu on a one-language line).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Prompt name: `ivr-prompts/<lang>/<prompt>.wav`, else `ivr-prompts/<prompt>.wav`.
    pub prompt: String,
    /// The intake field this menu sets.
    pub sets: Field,
    /// Digit (`"1"`..`"9"`) → value: a language (`"nl"`), category (`"hardware"`) or priority (`3`).
    pub options: BTreeMap<String, OptionValue>,
}

fn enabled_by_default() -> bool {
    true
}

/// The intake field a menu sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Language,
    Category,
    Priority,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Language => "language",
            Field::Category => "category",
            Field::Priority => "priority",
        })
    }
}

/// An option's value as written in TOML: `3` or `"3"` for a priority, a name otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    Number(i64),
    Text(String),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Number(n) => write!(f, "{n}"),
            OptionValue::Text(s) => f.write_str(s),
        }
    }
}

/// A validated option value, typed by the menu's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Language(Language),
    Category(Category),
    Priority(Priority),
}

impl Choice {
    /// Parses `value` as a value of `field`.
    fn parse(field: Field, value: &OptionValue) -> Option<Choice> {
        match (field, value) {
            (Field::Priority, OptionValue::Number(n)) => u8::try_from(*n)
                .ok()
                .and_then(Priority::new)
                .map(Choice::Priority),
            (Field::Priority, OptionValue::Text(s)) => s
                .parse::<u8>()
                .ok()
                .and_then(Priority::new)
                .map(Choice::Priority),
            (Field::Language, OptionValue::Text(s)) => s.parse().ok().map(Choice::Language),
            (Field::Category, OptionValue::Text(s)) => s.parse().ok().map(Choice::Category),
            (Field::Language | Field::Category, OptionValue::Number(_)) => None,
        }
    }

    /// The value as stored in the IVR path (`en`, `hardware`, `3`).
    pub(crate) fn as_string(self) -> String {
        match self {
            Choice::Language(l) => l.as_str().to_owned(),
            Choice::Category(c) => c.as_str().to_owned(),
            Choice::Priority(p) => p.get().to_string(),
        }
    }
}

/// Why an `[ivr]` section is rejected at start.
#[derive(Debug, thiserror::Error)]
pub enum IvrConfigError {
    /// `digit_timeout_ms` is outside 1 000..=60 000.
    #[error("digit_timeout_ms = {0} is out of range (1000 to 60000)")]
    DigitTimeout(u64),
    /// `max_attempts` is outside 1..=9.
    #[error("max_attempts = {0} is out of range (1 to 9)")]
    MaxAttempts(u32),
    /// A prompt name or menu id is empty or holds characters other than `a-z0-9_-`.
    #[error("{what} {name:?} must be non-empty letters, digits, '_' or '-'")]
    BadName { what: &'static str, name: String },
    /// Two menus have the same id.
    #[error("two menus are called {0:?}")]
    DuplicateMenu(String),
    /// Two enabled menus set the same field.
    #[error("menus {first:?} and {second:?} both set the {field}")]
    DuplicateField {
        field: Field,
        first: String,
        second: String,
    },
    /// A menu has no options.
    #[error("menu {0:?} has no options")]
    NoOptions(String),
    /// An option key is not one of `"1"`..`"9"` (`0` skips and `*` repeats in every menu).
    #[error("menu {menu:?}: option {key:?} must be a single digit 1 to 9 (0 and * are reserved)")]
    BadDigit { menu: String, key: String },
    /// An option value is not valid for the menu's field.
    #[error("menu {menu:?}: option {key:?} = {value:?} is not a valid {field}")]
    BadValue {
        menu: String,
        key: String,
        value: String,
        field: Field,
    },
}

impl Default for IvrConfig {
    /// The menu of issue 2: greeting; language; category; priority (see `default.toml`).
    fn default() -> Self {
        let text = |s: &str| OptionValue::Text(s.to_owned());
        let menu = |id: &str, sets, options: Vec<(&str, OptionValue)>| MenuConfig {
            id: id.to_owned(),
            enabled: true,
            prompt: id.to_owned(),
            sets,
            options: options
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        };
        IvrConfig {
            default_language: Language::Nl,
            digit_timeout_ms: 6000,
            max_attempts: 3,
            greeting: "greeting".to_owned(),
            invalid: "invalid".to_owned(),
            connecting: "connecting".to_owned(),
            recognized: "recognized".to_owned(),
            menus: vec![
                menu(
                    "language",
                    Field::Language,
                    vec![("1", text("nl")), ("2", text("en"))],
                ),
                menu(
                    "category",
                    Field::Category,
                    vec![
                        ("1", text("hardware")),
                        ("2", text("software")),
                        ("3", text("service")),
                    ],
                ),
                menu(
                    "priority",
                    Field::Priority,
                    ["1", "2", "3", "4", "5"]
                        .into_iter()
                        .zip(1..)
                        .map(|(k, p)| (k, OptionValue::Number(p)))
                        .collect(),
                ),
            ],
        }
    }
}

impl IvrConfig {
    /// Language of the greeting and the start of every call.
    pub fn default_language(&self) -> Language {
        self.default_language
    }

    /// Silence allowed after a menu prompt.
    pub fn digit_timeout(&self) -> Duration {
        Duration::from_millis(self.digit_timeout_ms)
    }

    /// Checks everything except that the prompt files exist (`PromptLibrary::validate_menu`).
    pub fn validate(&self) -> Result<(), IvrConfigError> {
        if !(1000..=60_000).contains(&self.digit_timeout_ms) {
            return Err(IvrConfigError::DigitTimeout(self.digit_timeout_ms));
        }
        if !(1..=9).contains(&self.max_attempts) {
            return Err(IvrConfigError::MaxAttempts(self.max_attempts));
        }
        check_name("invalid prompt", &self.invalid, false)?;
        check_name("greeting prompt", &self.greeting, true)?;
        check_name("connecting prompt", &self.connecting, true)?;
        check_name("recognized prompt", &self.recognized, true)?;
        for (i, menu) in self.menus.iter().enumerate() {
            check_name("menu id", &menu.id, false)?;
            check_name("menu prompt", &menu.prompt, false)?;
            if self.menus.iter().take(i).any(|m| m.id == menu.id) {
                return Err(IvrConfigError::DuplicateMenu(menu.id.clone()));
            }
            if let Some(first) = self
                .menus
                .iter()
                .take(i)
                .find(|m| m.enabled && menu.enabled && m.sets == menu.sets)
            {
                return Err(IvrConfigError::DuplicateField {
                    field: menu.sets,
                    first: first.id.clone(),
                    second: menu.id.clone(),
                });
            }
            if menu.options.is_empty() {
                return Err(IvrConfigError::NoOptions(menu.id.clone()));
            }
            for (key, value) in &menu.options {
                if digit_of(key).is_none() {
                    return Err(IvrConfigError::BadDigit {
                        menu: menu.id.clone(),
                        key: key.clone(),
                    });
                }
                if Choice::parse(menu.sets, value).is_none() {
                    return Err(IvrConfigError::BadValue {
                        menu: menu.id.clone(),
                        key: key.clone(),
                        value: value.to_string(),
                        field: menu.sets,
                    });
                }
            }
        }
        Ok(())
    }

    /// The menus that are asked, in order.
    pub(crate) fn active_menus(&self) -> impl Iterator<Item = (usize, &MenuConfig)> {
        self.menus.iter().enumerate().filter(|(_, m)| m.enabled)
    }

    /// Every language a call can be in: the default, plus what an enabled language menu offers.
    pub fn languages(&self) -> Vec<Language> {
        let mut langs = vec![self.default_language];
        for (_, menu) in self.active_menus() {
            for value in menu.options.values() {
                if let Some(Choice::Language(l)) = Choice::parse(menu.sets, value)
                    && !langs.contains(&l)
                {
                    langs.push(l);
                }
            }
        }
        langs
    }

    /// Every `(language, prompt)` the IVR may ask to play.
    pub fn required_prompts(&self) -> Vec<(Language, String)> {
        let mut names = vec![
            self.greeting.as_str(),
            self.invalid.as_str(),
            self.connecting.as_str(),
            self.recognized.as_str(),
        ];
        names.extend(self.active_menus().map(|(_, m)| m.prompt.as_str()));
        names.retain(|n| !n.is_empty());
        let langs = self.languages();
        langs
            .iter()
            .flat_map(|&l| names.iter().map(move |n| (l, (*n).to_owned())))
            .collect()
    }
}

impl MenuConfig {
    /// The value `digit` selects in this menu, if any.
    pub(crate) fn choice(&self, digit: char) -> Option<Choice> {
        let (_, value) = self
            .options
            .iter()
            .find(|(k, _)| digit_of(k) == Some(digit))?;
        Choice::parse(self.sets, value)
    }
}

/// `Some('1')` for the key `"1"`; only single digits 1..=9 are option keys.
fn digit_of(key: &str) -> Option<char> {
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ '1'..='9'), None) => Some(c),
        _ => None,
    }
}

/// Names become file names and path entries: keep them to `a-z0-9_-`.
fn check_name(what: &'static str, name: &str, may_be_empty: bool) -> Result<(), IvrConfigError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok_chars && (may_be_empty || !name.is_empty()) {
        Ok(())
    } else {
        Err(IvrConfigError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}
