//! Zammad (docs/zammad.md): the Generic CTI events and tickets through the REST API.

use std::time::Duration;

use super::config::ZammadTarget;
use super::retry::Outcome;
use crate::store::{OutboxRow, Store};

/// One Zammad target.
#[derive(Debug)]
pub struct Zammad {
    cfg: ZammadTarget,
}

impl Zammad {
    /// The target of `cfg`.
    pub fn new(
        cfg: &ZammadTarget,
        _public_url: &str,
        _timeout: Duration,
    ) -> Result<Zammad, String> {
        Ok(Zammad { cfg: cfg.clone() })
    }

    /// The event kinds it takes.
    pub fn events(&self) -> Vec<String> {
        let mut e = vec![
            "call.arrived".to_owned(),
            "call.answered".to_owned(),
            "call.ended".to_owned(),
        ];
        if self.cfg.tickets {
            e.push("intake.*".to_owned());
        }
        e
    }

    /// The tickets `email` has open in Zammad.
    pub async fn open_tickets(
        &self,
        _email: &str,
        _limit: usize,
    ) -> Result<Vec<super::rt::OpenTicket>, String> {
        Ok(Vec::new())
    }

    /// "Test delivery".
    pub async fn check(&self) -> Outcome {
        Outcome::Refused {
            status: None,
            error: "not yet".to_owned(),
        }
    }

    /// Delivers one row.
    pub async fn deliver(&self, _row: &OutboxRow, _store: &Store, _target: &str) -> Outcome {
        Outcome::Refused {
            status: None,
            error: "not yet".to_owned(),
        }
    }
}
