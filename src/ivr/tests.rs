//! Scenario tests for the IVR with simulated time (no sleeps) and config tests.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;
use crate::domain::Language::{En, Nl};

/// A call's IVR driven by a script; time is `t0 + ms`.
struct Sim {
    ivr: Ivr,
    t0: Instant,
}

impl Sim {
    fn new(config: IvrConfig) -> Sim {
        config.validate().unwrap();
        let t0 = Instant::now();
        Sim {
            ivr: Ivr::new(Arc::new(config), t0),
            t0,
        }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
    fn drain(&mut self) -> Vec<IvrAction> {
        std::iter::from_fn(|| self.ivr.poll_action()).collect()
    }
    fn digit(&mut self, ms: u64, d: char) -> Vec<IvrAction> {
        self.ivr.on_digit(self.at(ms), d);
        self.drain()
    }
    fn finished(&mut self, ms: u64) -> Vec<IvrAction> {
        self.ivr.on_prompt_finished(self.at(ms));
        self.drain()
    }
    fn timeout(&mut self, ms: u64) -> Vec<IvrAction> {
        self.ivr.on_timeout(self.at(ms));
        self.drain()
    }
    /// The outcome from the last action, which must be `Finished` right after `Play connecting`.
    fn outcome(actions: &[IvrAction], language: Language) -> IvrOutcome {
        match actions {
            [
                ..,
                IvrAction::Play {
                    prompt,
                    language: l,
                },
                IvrAction::Finished(o),
            ] => {
                assert_eq!((prompt.as_str(), *l), ("connecting", language));
                o.clone()
            }
            other => panic!("expected Play connecting then Finished, got {other:?}"),
        }
    }
}

fn play(prompt: &str, language: Language) -> IvrAction {
    IvrAction::Play {
        prompt: prompt.to_owned(),
        language,
    }
}

fn default_sim() -> Sim {
    let mut sim = Sim::new(IvrConfig::default());
    assert_eq!(sim.drain(), [play("greeting", Nl)]);
    sim
}

/// Parses an `[ivr]` section the way config.rs embeds it.
fn parse(toml_text: &str) -> Result<IvrConfig, toml::de::Error> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        ivr: IvrConfig,
    }
    toml::from_str::<File>(toml_text).map(|f| f.ivr)
}

#[test]
fn happy_path_in_english() {
    let mut sim = default_sim();
    assert_eq!(sim.finished(2000), [play("language", Nl)]);
    assert_eq!(sim.ivr.current_menu(), Some("language"));
    assert_eq!(
        sim.ivr.poll_timeout(),
        None,
        "no timer while the prompt plays"
    );
    assert!(sim.finished(5000).is_empty());
    assert_eq!(sim.ivr.poll_timeout(), Some(sim.at(11_000)));
    // The language choice switches the following prompts to English.
    assert_eq!(sim.digit(6000, '2'), [play("category", En)]);
    assert!(sim.finished(16_000).is_empty());
    assert_eq!(sim.digit(17_000, '1'), [play("priority", En)]);
    assert!(sim.finished(30_000).is_empty());
    let o = Sim::outcome(&sim.digit(31_000, '3'), En);
    assert_eq!(
        (o.language, o.category, o.priority),
        (En, Category::Hardware, Priority::new(3))
    );
    assert_eq!(o.end, IvrEnd::Completed);
    assert_eq!(o.path_string(), "language:2>category:1>priority:3");
    assert_eq!(o.path[1].value.as_deref(), Some("hardware"));
    assert!(sim.ivr.is_finished());
}

#[test]
fn happy_path_in_dutch() {
    let mut sim = default_sim();
    sim.finished(2000);
    sim.finished(5000);
    assert_eq!(sim.digit(5500, '1'), [play("category", Nl)]);
    sim.finished(15_000);
    assert_eq!(sim.digit(15_500, '2'), [play("priority", Nl)]);
    sim.finished(28_000);
    let o = Sim::outcome(&sim.digit(28_100, '1'), Nl);
    assert_eq!(
        (o.language, o.category, o.priority),
        (Nl, Category::Software, Some(Priority::CRITICAL))
    );
    assert_eq!(o.path_string(), "language:1>category:2>priority:1");
}

#[test]
fn barge_in_during_the_greeting_answers_the_first_menu() {
    let mut sim = default_sim();
    assert_eq!(
        sim.digit(800, '2'),
        [IvrAction::StopPlayback, play("category", En)]
    );
    assert_eq!(sim.ivr.current_menu(), Some("category"));
    sim.finished(9000);
    sim.digit(9100, '3');
    sim.finished(20_000);
    let o = Sim::outcome(&sim.digit(20_100, '5'), En);
    assert_eq!(o.path_string(), "language:2>category:3>priority:5");
    assert_eq!(
        (o.category, o.priority),
        (Category::Service, Some(Priority::QUESTION))
    );
}

#[test]
fn barge_in_during_a_menu_prompt_answers_that_menu() {
    let mut sim = default_sim();
    sim.finished(2000);
    sim.digit(3000, '1');
    // The category prompt plays; "2" cuts it short.
    assert_eq!(
        sim.digit(4000, '2'),
        [IvrAction::StopPlayback, play("priority", Nl)]
    );
    // A digit during the "invalid" prompt answers the menu too.
    sim.finished(15_000);
    assert_eq!(sim.digit(16_000, '9'), [play("invalid", Nl)]);
    let o = Sim::outcome(&sim.digit(16_500, '4'), Nl);
    assert_eq!(
        o.path_string(),
        "language:1>category:2>priority:invalid>priority:4"
    );
    assert_eq!(o.priority, Priority::new(4));
}

#[test]
fn zero_skips_the_remaining_questions_at_every_menu() {
    // Skip during the greeting: nothing chosen.
    let mut sim = default_sim();
    let actions = sim.digit(500, '0');
    assert_eq!(actions.first(), Some(&IvrAction::StopPlayback));
    let o = Sim::outcome(&actions, Nl);
    assert_eq!(
        (o.category, o.priority, o.end),
        (Category::Unclassified, None, IvrEnd::Skipped)
    );
    assert_eq!(o.path_string(), "language:skip");

    // Skip at the category menu (while waiting): the language is kept.
    let mut sim = default_sim();
    sim.digit(500, '2');
    sim.finished(9000);
    let actions = sim.digit(9500, '0');
    assert_eq!(
        actions.len(),
        2,
        "no StopPlayback while waiting: {actions:?}"
    );
    let o = Sim::outcome(&actions, En);
    assert_eq!(
        (o.language, o.category, o.priority),
        (En, Category::Unclassified, None)
    );
    assert_eq!(o.path_string(), "language:2>category:skip");

    // Skip at the priority menu: language and category are kept.
    let mut sim = default_sim();
    sim.digit(500, '2');
    sim.digit(900, '1');
    let o = Sim::outcome(&sim.digit(1200, '0'), En);
    assert_eq!(
        (o.category, o.priority, o.end),
        (Category::Hardware, None, IvrEnd::Skipped)
    );
    assert_eq!(o.path_string(), "language:2>category:1>priority:skip");
}

#[test]
fn star_repeats_the_menu_without_counting_a_failure() {
    let mut sim = default_sim();
    sim.digit(500, '1');
    sim.finished(9000);
    assert_eq!(sim.digit(10_000, '*'), [play("category", Nl)]);
    assert_eq!(sim.ivr.poll_timeout(), None);
    assert_eq!(
        sim.digit(11_000, '*'),
        [IvrAction::StopPlayback, play("category", Nl)]
    );
    // Two invalid attempts after two repeats still leave a third chance.
    sim.finished(20_000);
    assert_eq!(sim.digit(20_500, '#'), [play("invalid", Nl)]);
    assert_eq!(sim.finished(22_000), [play("category", Nl)]);
    sim.finished(30_000);
    assert_eq!(sim.digit(30_500, '8'), [play("invalid", Nl)]);
    sim.finished(32_000);
    assert_eq!(
        sim.digit(33_000, '2'),
        [IvrAction::StopPlayback, play("priority", Nl)]
    );
}

#[test]
fn silence_plays_invalid_then_the_menu_again() {
    let mut sim = default_sim();
    sim.finished(2000);
    sim.finished(5000);
    // Not yet: one millisecond before the 6 s deadline.
    assert!(sim.timeout(10_999).is_empty());
    assert_eq!(sim.timeout(11_000), [play("invalid", Nl)]);
    assert_eq!(
        sim.ivr.poll_timeout(),
        None,
        "no timer while `invalid` plays"
    );
    assert_eq!(sim.finished(12_500), [play("language", Nl)]);
    sim.finished(15_500);
    assert_eq!(sim.ivr.poll_timeout(), Some(sim.at(21_500)));
    assert_eq!(sim.digit(16_000, '2'), [play("category", En)]);
    let o = Sim::outcome(&sim.digit(16_500, '0'), En);
    assert_eq!(o.path_string(), "language:timeout>language:2>category:skip");
    assert!(sim.ivr.is_finished());
}

#[test]
fn three_failures_go_on_unclassified_keeping_earlier_choices() {
    let mut sim = default_sim();
    sim.digit(500, '2');
    sim.finished(9000);
    // Two failures in the category menu, then a valid choice: failures count per menu.
    sim.digit(9500, '7');
    sim.finished(11_000);
    sim.finished(19_000);
    sim.timeout(25_000);
    sim.finished(26_000);
    assert_eq!(
        sim.digit(26_500, '1'),
        [IvrAction::StopPlayback, play("priority", En)]
    );
    sim.finished(40_000);
    assert_eq!(sim.digit(41_000, '6'), [play("invalid", En)]);
    sim.finished(42_000);
    sim.finished(55_000);
    assert_eq!(sim.timeout(61_000), [play("invalid", En)]);
    sim.finished(62_000);
    // The third failure: no "invalid", straight to connecting.
    let actions = sim.digit(63_000, '9');
    assert_eq!(actions.len(), 3, "{actions:?}");
    let o = Sim::outcome(&actions, En);
    assert_eq!(
        (o.category, o.priority, o.end),
        (Category::Hardware, None, IvrEnd::TooManyFailures)
    );
    assert_eq!(
        o.path_string(),
        "language:2>category:invalid>category:timeout>category:1>priority:invalid>priority:timeout>priority:invalid"
    );
    assert_eq!(o.path[1].input, StepInput::Invalid('7'));
}

#[test]
fn three_silences_in_the_first_menu_leave_everything_unset() {
    let mut sim = default_sim();
    sim.finished(2000);
    let mut t = 5000;
    for _ in 0..2 {
        sim.finished(t);
        assert_eq!(sim.timeout(t + 6000), [play("invalid", Nl)]);
        assert_eq!(sim.finished(t + 7000), [play("language", Nl)]);
        t += 10_000;
    }
    sim.finished(t);
    let o = Sim::outcome(&sim.timeout(t + 6000), Nl);
    assert_eq!(
        (o.language, o.category, o.priority),
        (Nl, Category::Unclassified, None)
    );
    assert_eq!(
        o.path_string(),
        "language:timeout>language:timeout>language:timeout"
    );
}

#[test]
fn language_menu_switched_off_uses_the_default_language() {
    let config = parse(
        r#"
        [ivr]
        default_language = "en"
        [[ivr.menu]]
        id = "language"
        enabled = false
        prompt = "language"
        sets = "language"
        options = { "1" = "nl", "2" = "en" }
        [[ivr.menu]]
        id = "category"
        prompt = "category"
        sets = "category"
        options = { "1" = "hardware", "2" = "software", "3" = "service" }
        "#,
    )
    .unwrap();
    assert_eq!(config.languages(), [En]);
    let mut sim = Sim::new(config);
    assert_eq!(sim.drain(), [play("greeting", En)]);
    assert_eq!(sim.finished(2000), [play("category", En)]);
    // "2" during the greeting would have been English; here it is the category menu's "software".
    let o = Sim::outcome(&sim.digit(2500, '2'), En);
    assert_eq!(
        (o.language, o.category, o.priority),
        (En, Category::Software, None)
    );
    assert_eq!(o.path_string(), "category:2");
}

#[test]
fn custom_reordered_menu_from_toml() {
    let config = parse(
        r#"
        [ivr]
        greeting = ""
        connecting = "connecting"
        digit_timeout_ms = 4000
        max_attempts = 2
        [[ivr.menu]]
        id = "urgency"
        prompt = "urgency"
        sets = "priority"
        options = { "9" = 1, "5" = "3" }
        [[ivr.menu]]
        id = "kind"
        prompt = "kind"
        sets = "category"
        options = { "4" = "service" }
        "#,
    )
    .unwrap();
    let mut sim = Sim::new(config);
    // No greeting: the first menu starts at once.
    assert_eq!(sim.drain(), [play("urgency", Nl)]);
    sim.finished(3000);
    assert_eq!(sim.ivr.poll_timeout(), Some(sim.at(7000)));
    assert_eq!(sim.digit(3500, '1'), [play("invalid", Nl)]);
    sim.finished(5000);
    assert_eq!(
        sim.digit(5100, '9'),
        [IvrAction::StopPlayback, play("kind", Nl)]
    );
    let o = Sim::outcome(&sim.digit(5200, '4'), Nl);
    assert_eq!(
        (o.category, o.priority),
        (Category::Service, Some(Priority::CRITICAL))
    );
    assert_eq!(o.path_string(), "urgency:invalid>urgency:9>kind:4");
}

#[test]
fn no_menus_goes_from_greeting_to_connecting() {
    let mut sim = Sim::new(parse("[ivr]\nmenu = []\n").unwrap());
    assert_eq!(sim.drain(), [play("greeting", Nl)]);
    assert!(sim.digit(100, '1').is_empty(), "no menu to answer");
    let o = Sim::outcome(&sim.finished(2000), Nl);
    assert_eq!(
        (o.category, o.end, o.path_string().as_str()),
        (Category::Unclassified, IvrEnd::Completed, "")
    );
}

#[test]
fn inputs_after_finished_are_ignored() {
    let mut sim = default_sim();
    sim.digit(500, '0');
    assert!(sim.digit(1000, '1').is_empty());
    assert!(sim.finished(3000).is_empty());
    assert!(sim.timeout(60_000).is_empty());
    assert_eq!(sim.ivr.poll_timeout(), None);
    assert_eq!(sim.ivr.current_menu(), None);
}

#[test]
fn default_toml_is_the_default_and_is_in_the_docs() {
    let text = include_str!("default.toml");
    assert_eq!(parse(text).unwrap(), IvrConfig::default());
    assert_eq!(
        parse("").unwrap(),
        IvrConfig::default(),
        "[ivr] may be left out"
    );
    IvrConfig::default().validate().unwrap();
    let docs = include_str!("../../docs/ivr.md");
    assert!(
        docs.contains(text),
        "docs/ivr.md must quote src/ivr/default.toml verbatim"
    );
}

#[test]
fn required_prompts_cover_both_languages() {
    let c = IvrConfig::default();
    assert_eq!(c.languages(), [Nl, En]);
    let needed = c.required_prompts();
    assert_eq!(needed.len(), 14);
    for name in [
        "greeting",
        "invalid",
        "connecting",
        "recognized",
        "language",
        "category",
        "priority",
    ] {
        for lang in [Nl, En] {
            assert!(needed.contains(&(lang, name.to_owned())), "{lang}/{name}");
        }
    }
}

#[test]
fn invalid_configs_are_rejected() {
    let with = |f: &dyn Fn(&mut IvrConfig)| {
        let mut c = IvrConfig::default();
        f(&mut c);
        c.validate().unwrap_err().to_string()
    };
    assert!(with(&|c| c.digit_timeout_ms = 0).contains("digit_timeout_ms"));
    assert!(with(&|c| c.max_attempts = 0).contains("max_attempts"));
    assert!(with(&|c| c.invalid = String::new()).contains("invalid prompt"));
    assert!(with(&|c| c.menus[1].prompt = "../etc/passwd".into()).contains("menu prompt"));
    assert!(with(&|c| c.menus[2].id = "category".into()).contains("two menus"));
    assert!(with(&|c| c.menus[2].sets = Field::Category).contains("both set the category"));
    assert!(with(&|c| c.menus[0].options.clear()).contains("no options"));
    for key in ["0", "*", "10", "a", ""] {
        let err = with(&|c| {
            c.menus[1]
                .options
                .insert(key.to_owned(), OptionValue::Text("hardware".into()));
        });
        assert!(err.contains("single digit"), "{key:?}: {err}");
    }
    let bad_values = [
        (0, OptionValue::Text("fr".into())),
        (1, OptionValue::Text("printer".into())),
    ];
    for (menu, value) in bad_values.into_iter().chain([
        (2, OptionValue::Number(6)),
        (2, OptionValue::Text("x".into())),
    ]) {
        let err = with(&|c| {
            c.menus[menu].options.insert("9".into(), value.clone());
        });
        assert!(err.contains("is not a valid"), "{err}");
    }
    // A disabled duplicate field is fine (e.g. an alternative menu kept switched off).
    let mut c = IvrConfig::default();
    c.menus[2].sets = Field::Category;
    c.menus[2].options = [("1".to_owned(), OptionValue::Text("software".into()))].into();
    c.menus[2].enabled = false;
    c.validate().unwrap();
}

#[test]
fn toml_rejects_duplicate_digits_and_unknown_keys() {
    let dup = "[ivr]\n[[ivr.menu]]\nid = \"c\"\nprompt = \"c\"\nsets = \"category\"\n\
               options = { \"1\" = \"hardware\", \"1\" = \"software\" }\n";
    assert!(parse(dup).is_err());
    assert!(parse("[ivr]\ntimeout = 5\n").is_err());
    assert!(
        parse("[ivr]\nmenu = [{ id = \"x\", prompt = \"x\", sets = \"colour\", options = {} }]\n")
            .is_err()
    );
}

#[path = "recognition_tests.rs"]
mod recognition;
