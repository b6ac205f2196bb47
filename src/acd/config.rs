//! The `[acd]` section of firstline.toml: routing strategy and the engine's timers (no I/O).

use std::time::Duration;

use serde::Deserialize;

/// How the engine picks among several available agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent who has been available the longest (since login, not-ready or wrap-up ended).
    #[default]
    LongestIdle,
    /// The agent who was offered a call the longest ago (never offered = first).
    RoundRobin,
    /// The agent who answered the fewest calls since the counters were last reset.
    FewestCalls,
}

/// Queue engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcdConfig {
    /// How an available agent is chosen.
    pub strategy: Strategy,
    /// How long an agent's phone rings before the offer moves on (at least 1).
    pub ring_timeout_secs: u64,
    /// After-call work; 0 = until the agent says done.
    pub wrapup_secs: u64,
    /// A waiting entry's priority improves one level per this many seconds; 0 = off.
    pub ageing_secs: u64,
    /// Position and wait are announced at entry and every this many seconds; 0 = only at entry.
    pub announce_interval_secs: u64,
    /// A caller who has waited this long is offered a callback (once); 0 = never.
    pub max_wait_for_callback_secs: u64,
    /// Agents whose device is `phone` are offered calls only while their extension has a live
    /// registration (browser agents always); false = offer regardless (calls to an unregistered
    /// phone then fail as `unreachable`).
    pub require_registration: bool,
    /// A caller put through about their open intake waits this long for its owner (when the
    /// owner is logged in) before anyone in the queue may take the call; 0 = no preference.
    pub prefer_owner_secs: u64,
}

impl Default for AcdConfig {
    fn default() -> Self {
        AcdConfig {
            strategy: Strategy::LongestIdle,
            ring_timeout_secs: 15,
            // Until the agent says done: with `[desk] require_outcome` the intake needs an
            // outcome first, which a timer cannot know.
            wrapup_secs: 0,
            ageing_secs: 120,
            announce_interval_secs: 30,
            max_wait_for_callback_secs: 300,
            require_registration: true,
            prefer_owner_secs: 20,
        }
    }
}

impl AcdConfig {
    /// At least one second, so an offer always gets a chance to ring.
    pub(crate) fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_secs.max(1))
    }
    /// `None` when wrap-up lasts until the agent says done.
    pub(crate) fn wrapup(&self) -> Option<Duration> {
        (self.wrapup_secs > 0).then(|| Duration::from_secs(self.wrapup_secs))
    }
    pub(crate) fn ageing(&self) -> Option<Duration> {
        (self.ageing_secs > 0).then(|| Duration::from_secs(self.ageing_secs))
    }
    pub(crate) fn announce_interval(&self) -> Option<Duration> {
        (self.announce_interval_secs > 0).then(|| Duration::from_secs(self.announce_interval_secs))
    }
    pub(crate) fn prefer_owner(&self) -> Option<Duration> {
        (self.prefer_owner_secs > 0).then(|| Duration::from_secs(self.prefer_owner_secs))
    }
    pub(crate) fn max_wait(&self) -> Option<Duration> {
        (self.max_wait_for_callback_secs > 0)
            .then(|| Duration::from_secs(self.max_wait_for_callback_secs))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        acd: AcdConfig,
    }

    #[test]
    fn documented_block_parses_to_the_defaults() {
        let doc = include_str!("../../docs/acd.md");
        let block = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        let file: File = toml::from_str(block).unwrap();
        assert_eq!(file.acd, AcdConfig::default());
    }

    #[test]
    fn partial_unknown_and_strategies() {
        let file: File =
            toml::from_str("[acd]\nstrategy = \"fewest_calls\"\nwrapup_secs = 0").unwrap();
        assert_eq!(file.acd.strategy, Strategy::FewestCalls);
        assert_eq!(file.acd.wrapup(), None);
        assert_eq!(file.acd.ring_timeout(), Duration::from_secs(15));
        assert!(toml::from_str::<File>("[acd]\nring_timeout = 5").is_err());
        assert!(toml::from_str::<File>("[acd]\nstrategy = \"random\"").is_err());
        let zero: File = toml::from_str("[acd]\nring_timeout_secs = 0").unwrap();
        assert_eq!(zero.acd.ring_timeout(), Duration::from_secs(1));
    }
}
