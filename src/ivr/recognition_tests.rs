//! The recognition prompt with simulated time: a caller with an open intake is asked after the
//! language menu (1 continues it, 2 goes on with the menus, silence gives up on the question),
//! an answer that comes too late is not asked about, and `recognized = ""` switches it off.

use super::*;
fn known() -> KnownIntake {
    KnownIntake {
        id: crate::domain::IntakeId::from_string("intake-open-1"),
        category: Category::Software,
        priority: Priority::new(2),
        owner: Some(crate::domain::AgentId::from_string("agent-demo-eva")),
    }
}

#[test]
fn a_caller_with_an_open_intake_is_asked_after_the_language_and_continues_it() {
    let mut sim = default_sim();
    sim.ivr.on_open_intake(sim.at(500), known());
    assert_eq!(sim.finished(2000), [play("language", Nl)]);
    sim.finished(2500);
    // The language first; then the question in that language.
    assert_eq!(sim.digit(3000, '2'), [play("recognized", En)]);
    assert_eq!(sim.ivr.current_menu(), Some("recognized"));
    assert!(sim.finished(10_000).is_empty());
    assert_eq!(sim.ivr.poll_timeout(), Some(sim.at(16_000)));
    let o = Sim::outcome(&sim.digit(11_000, '1'), En);
    assert_eq!(o.end, IvrEnd::Continued);
    assert_eq!(o.continues, Some(known()));
    assert_eq!(
        (o.category, o.priority),
        (Category::Software, Priority::new(2)),
        "the open intake's queue and priority"
    );
    assert_eq!(o.path_string(), "language:2>recognized:1");
}

#[test]
fn two_goes_on_with_the_menus_and_silence_gives_up_on_the_question() {
    let mut sim = default_sim();
    sim.ivr.on_open_intake(sim.at(500), known());
    sim.finished(2000);
    sim.finished(2500);
    assert_eq!(sim.digit(3000, '1'), [play("recognized", Nl)]);
    // Barge-in with 2: a new question, the menus as usual.
    assert_eq!(
        sim.digit(4000, '2'),
        [IvrAction::StopPlayback, play("category", Nl)]
    );
    sim.finished(9000);
    sim.digit(9500, '3');
    sim.finished(12_000);
    let o = Sim::outcome(&sim.digit(12_500, '5'), Nl);
    assert_eq!((o.end, o.continues.as_ref()), (IvrEnd::Completed, None));
    assert_eq!(
        o.path_string(),
        "language:1>recognized:2>category:3>priority:5"
    );

    // Silence three times: the question is dropped and the menus go on.
    let mut sim = default_sim();
    sim.ivr.on_open_intake(sim.at(500), known());
    sim.finished(2000);
    sim.finished(2500);
    sim.digit(3000, '1');
    let mut t = 4000;
    for attempt in 1..=3 {
        sim.finished(t);
        let deadline = t + 6000;
        let next = sim.timeout(deadline);
        t = deadline + 1;
        if attempt < 3 {
            assert_eq!(next, [play("invalid", Nl)]);
            assert_eq!(sim.finished(t), [play("recognized", Nl)]);
        } else {
            assert_eq!(next, [play("category", Nl)], "on with the menus");
        }
    }
}

#[test]
fn an_open_intake_found_too_late_is_not_asked_about() {
    let mut sim = default_sim();
    sim.finished(2000);
    sim.finished(2500);
    assert_eq!(sim.digit(3000, '2'), [play("category", En)]);
    // The lookup answers while the category menu plays: too late, the menus go on.
    sim.ivr.on_open_intake(sim.at(3500), known());
    sim.finished(8000);
    assert_eq!(sim.digit(9000, '1'), [play("priority", En)]);
    sim.finished(12_000);
    let o = Sim::outcome(&sim.digit(12_500, '3'), En);
    assert_eq!(o.continues, None);
    // Without a recognized prompt configured the question is never asked.
    let mut sim = Sim::new(IvrConfig {
        recognized: String::new(),
        ..IvrConfig::default()
    });
    sim.drain();
    sim.ivr.on_open_intake(sim.at(100), known());
    sim.finished(2000);
    sim.finished(2500);
    assert_eq!(sim.digit(3000, '2'), [play("category", En)]);
}
