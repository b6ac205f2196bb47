//! `firstline admin check-config`: what is wrong with a config file, with line numbers (no I/O).

use toml::de::{DeTable, DeValue};

use crate::config::{Config, ConfigError};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// What is wrong, with its causes.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Checks `text` as `App::start` would: the TOML and every setting's type (unknown settings
/// included), then the checks serde cannot make. Empty when the file is good.
pub fn check_config(text: &str) -> Vec<Problem> {
    let cfg = match Config::from_toml(text) {
        Ok(cfg) => cfg,
        Err(e) => {
            return vec![Problem {
                line: e.span().map(|s| line_at(text, s.start)),
                message: e.message().trim().to_owned(),
            }];
        }
    };
    match cfg.validate() {
        Ok(()) => Vec::new(),
        Err(e) => {
            let setting = match &e {
                ConfigError::Invalid { setting, .. } => Some(*setting),
                ConfigError::Ivr(_) => Some("ivr"),
                ConfigError::Sla(_) => Some("sla"),
                ConfigError::Read { .. } | ConfigError::Parse { .. } => None,
            };
            vec![Problem {
                line: setting.and_then(|s| line_of_setting(text, s)),
                message: crate::error_chain(&e),
            }]
        }
    }
}

/// The 1-based line holding byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of a dotted setting (`sip.max_message_bytes`), or of the deepest table of it that
/// the file names; `None` when the file sets none of it (the default is at fault).
fn line_of_setting(text: &str, setting: &str) -> Option<usize> {
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut found = None;
    for part in setting.split('.') {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        found = Some(key.span().start);
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found.map(|at| line_at(text, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_and_the_shipped_one_have_no_problems() {
        assert_eq!(check_config(""), Vec::new());
        let shipped = include_str!("../../firstline.toml");
        assert_eq!(check_config(shipped), Vec::new());
    }

    #[test]
    fn syntax_and_type_errors_name_their_line() {
        let p =
            check_config("[sip]\nudp_listen = \"127.0.0.1:5060\"\nmax_message_bytes = \"big\"\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(3), "{}", p[0]);
        let p = check_config("[http]\n\nlisten = 127.0.0.1:8080\n");
        assert_eq!(p[0].line, Some(3), "{}", p[0]);
        let p = check_config("[media]\nrtp_sorce = \"sdp\"\n");
        assert_eq!(p[0].line, Some(2), "{}", p[0]);
        assert!(p[0].message.contains("rtp_sorce"), "{}", p[0]);
    }

    #[test]
    fn a_value_serde_accepts_but_validate_refuses_names_its_line() {
        let p = check_config("log = \"info\"\n\n[sip]\nmax_message_bytes = 100\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(4), "{}", p[0]);
        assert!(p[0].message.contains("sip.max_message_bytes"), "{}", p[0]);
    }
}
