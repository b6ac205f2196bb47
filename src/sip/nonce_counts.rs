//! Nonce counts (RFC 7616 §3.4, §5.12): the highest `nc` accepted per nonce, so that a replayed
//! response is refused; a capped table, no I/O.
//!
//! Nonces themselves stay stateless (`auth::NonceMaker`: timestamp, serial, HMAC). Only a nonce
//! that carried a *correct* response enters this table, so a peer without a password cannot grow
//! it. It holds at most `max_entries` nonces and `max_per_user` per user name. Past either cap
//! the nonce with the lowest serial is forgotten and a floor rises to that serial: a nonce that
//! is not in the table and not above the floor is answered as stale (the phone authenticates
//! again with a fresh nonce), so a forgotten nonce is never taken for an unused one. Nonces older
//! than their lifetime leave the table by themselves (they are stale anyway).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

/// What the nonce count of a correct response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NcCheck {
    /// Higher than any accepted with this nonce (or the nonce's first use): accept.
    Fresh,
    /// The same request again (same nc, Call-ID, CSeq and branch) within the retransmission
    /// window: a UDP retransmission; accepted, as handling a REGISTER twice changes nothing.
    Retransmission,
    /// Not higher than one already accepted: a replay. Refused.
    Replay,
    /// Unknown, but not newer than what the table had to forget. Refused as stale.
    Forgotten,
}

#[derive(Debug)]
struct Entry {
    ts: u64,
    serial: u64,
    user: String,
    nc: u32,
    /// Fingerprint of the request that carried `nc`, and when it came (registrar seconds).
    request: u64,
    at: u64,
}

/// One authenticated request, as the table sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Use<'a> {
    pub(crate) nonce: &'a str,
    /// The nonce's own timestamp (registrar seconds) and serial.
    pub(crate) nonce_ts: u64,
    pub(crate) serial: u64,
    pub(crate) user: &'a str,
    pub(crate) nc: u32,
    /// Call-ID, CSeq and top-Via branch of the request (a retransmission repeats all three).
    pub(crate) request: (&'a str, u32, &'a str),
}

/// Nonce → highest accepted nc, capped.
#[derive(Debug)]
pub(crate) struct NonceCounts {
    pub(crate) max_entries: usize,
    pub(crate) max_per_user: usize,
    /// Seconds for which an identical request counts as a retransmission (64·T1 = 32 s).
    pub(crate) retransmit_window: u64,
    entries: HashMap<String, Entry>,
    /// Serial → nonce, oldest first (serials grow with time, so this is also by timestamp).
    by_serial: BTreeMap<u64, String>,
    per_user: HashMap<String, BTreeSet<u64>>,
    /// Unknown nonces with a serial up to this are refused (something that old was forgotten).
    floor: u64,
    /// Per user: the highest serial forgotten for the per-user cap, and its nonce's timestamp
    /// (once that is past the lifetime, every nonce up to the serial is stale anyway).
    user_floor: HashMap<String, (u64, u64)>,
    hasher: RandomState,
}

impl Default for NonceCounts {
    fn default() -> Self {
        Self {
            max_entries: 16_384,
            max_per_user: 8,
            retransmit_window: 32,
            entries: HashMap::new(),
            by_serial: BTreeMap::new(),
            per_user: HashMap::new(),
            floor: 0,
            user_floor: HashMap::new(),
            hasher: RandomState::new(),
        }
    }
}

impl NonceCounts {
    /// Checks (and when accepted records) one use of a nonce at `now` (registrar seconds);
    /// nonces live `lifetime` seconds.
    pub(crate) fn check(&mut self, now: u64, lifetime: u64, u: Use<'_>) -> NcCheck {
        self.expire(now, lifetime);
        let fingerprint = self.hasher.hash_one(u.request);
        if let Some(e) = self.entries.get_mut(u.nonce) {
            if u.nc > e.nc {
                e.nc = u.nc;
                e.request = fingerprint;
                e.at = now;
                return NcCheck::Fresh;
            }
            let again = u.nc == e.nc
                && e.request == fingerprint
                && now.saturating_sub(e.at) <= self.retransmit_window;
            return if again {
                NcCheck::Retransmission
            } else {
                NcCheck::Replay
            };
        }
        let forgotten = u.serial <= self.floor
            || self
                .user_floor
                .get(u.user)
                .is_some_and(|&(f, _)| u.serial <= f);
        if forgotten {
            return NcCheck::Forgotten;
        }
        self.insert(now, u, fingerprint);
        NcCheck::Fresh
    }

    /// Nonces in the table (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn insert(&mut self, now: u64, u: Use<'_>, request: u64) {
        self.entries.insert(
            u.nonce.to_string(),
            Entry {
                ts: u.nonce_ts,
                serial: u.serial,
                user: u.user.to_string(),
                nc: u.nc,
                request,
                at: now,
            },
        );
        self.by_serial.insert(u.serial, u.nonce.to_string());
        let mine = self.per_user.entry(u.user.to_string()).or_default();
        mine.insert(u.serial);
        if mine.len() > self.max_per_user
            && let Some(oldest) = mine.first().copied()
            && let Some(ts) = self.forget(oldest)
        {
            let f = self
                .user_floor
                .entry(u.user.to_string())
                .or_insert((oldest, ts));
            *f = (*f).max((oldest, ts));
        }
        while self.entries.len() > self.max_entries {
            let Some((&oldest, _)) = self.by_serial.first_key_value() else {
                break;
            };
            self.forget(oldest);
            self.floor = self.floor.max(oldest);
        }
    }

    /// Removes one nonce; returns its timestamp.
    fn forget(&mut self, serial: u64) -> Option<u64> {
        let nonce = self.by_serial.remove(&serial)?;
        let e = self.entries.remove(&nonce)?;
        if let Some(mine) = self.per_user.get_mut(&e.user) {
            mine.remove(&e.serial);
            if mine.is_empty() {
                self.per_user.remove(&e.user);
            }
        }
        Some(e.ts)
    }

    /// Drops nonces past their lifetime (oldest serials first; they are stale anyway).
    fn expire(&mut self, now: u64, lifetime: u64) {
        while let Some((&serial, nonce)) = self.by_serial.first_key_value() {
            let stale = self
                .entries
                .get(nonce)
                .is_none_or(|e| now.saturating_sub(e.ts) > lifetime);
            if !stale {
                break;
            }
            self.forget(serial);
        }
        // A user floor whose nonce is past its lifetime guards nothing any more: every nonce
        // up to it is stale (serials and timestamps grow together).
        self.user_floor
            .retain(|_, (_, ts)| now.saturating_sub(*ts) <= lifetime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(nonce: &'a str, serial: u64, user: &'a str, nc: u32, cseq: u32) -> Use<'a> {
        Use {
            nonce,
            nonce_ts: serial,
            serial,
            user,
            nc,
            request: ("reg-1", cseq, "z9hG4bK1"),
        }
    }

    #[test]
    fn counts_must_rise_and_a_retransmission_is_not_a_replay() {
        let mut t = NonceCounts::default();
        assert_eq!(t.check(10, 300, at("n1", 10, "2001", 1, 2)), NcCheck::Fresh);
        assert_eq!(
            t.check(11, 300, at("n1", 10, "2001", 1, 2)),
            NcCheck::Retransmission,
            "same nc, same request"
        );
        assert_eq!(
            t.check(11, 300, at("n1", 10, "2001", 1, 3)),
            NcCheck::Replay,
            "same nc in a new request"
        );
        assert_eq!(t.check(12, 300, at("n1", 10, "2001", 3, 4)), NcCheck::Fresh);
        assert_eq!(
            t.check(12, 300, at("n1", 10, "2001", 2, 5)),
            NcCheck::Replay
        );
        // The retransmission window closes after 32 s.
        assert_eq!(
            t.check(45, 300, at("n1", 10, "2001", 3, 4)),
            NcCheck::Replay
        );
        // Another nonce has its own count.
        assert_eq!(t.check(46, 300, at("n2", 46, "2001", 1, 6)), NcCheck::Fresh);
    }

    #[test]
    fn expired_nonces_leave_the_table() {
        let mut t = NonceCounts::default();
        t.check(1, 300, at("n1", 1, "2001", 1, 1));
        t.check(100, 300, at("n2", 100, "2001", 1, 2));
        assert_eq!(t.len(), 2);
        t.check(302, 300, at("n3", 302, "2001", 1, 3));
        assert_eq!(t.len(), 2, "n1 is past its lifetime");
    }

    #[test]
    fn a_forgotten_nonce_is_never_taken_for_an_unused_one() {
        let mut t = NonceCounts {
            max_entries: 4,
            ..NonceCounts::default()
        };
        let users = ["a", "b", "c", "d", "e"];
        let nonces = ["n0", "n1", "n2", "n3", "n4"];
        for (i, (user, nonce)) in users.iter().zip(nonces).enumerate() {
            let s = i as u64 + 1;
            assert_eq!(t.check(s, 300, at(nonce, s, user, 1, 1)), NcCheck::Fresh);
        }
        assert_eq!(t.len(), 4, "capped");
        // n0 was forgotten: its replay is refused, not accepted as a first use.
        assert_eq!(t.check(6, 300, at("n0", 1, "a", 1, 1)), NcCheck::Forgotten);
        // A newer nonce is still a first use, even within the same second.
        assert_eq!(t.check(6, 300, at("n5", 6, "a", 1, 2)), NcCheck::Fresh);
    }

    #[test]
    fn one_user_cannot_push_the_others_out() {
        let mut t = NonceCounts {
            max_per_user: 2,
            ..NonceCounts::default()
        };
        assert_eq!(
            t.check(0, 300, at("other", 1, "2002", 1, 1)),
            NcCheck::Fresh
        );
        let names: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            let s = 2 + i as u64;
            assert_eq!(
                t.check(1, 300, at(n, s, "2001", 1, 1)),
                NcCheck::Fresh,
                "{n}"
            );
        }
        assert_eq!(t.len(), 3, "two of 2001's and the other user's");
        assert_eq!(
            t.check(60, 300, at("other", 1, "2002", 1, 1)),
            NcCheck::Replay,
            "the other user's nonce is still known"
        );
        assert_eq!(
            t.check(60, 300, at("m0", 2, "2001", 1, 1)),
            NcCheck::Forgotten
        );
    }
}
