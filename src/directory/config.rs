//! `[directory]` and `[directory.sign_in]`: the LDAP / Active Directory server, the bind
//! account (its password from an environment variable or a file, never in the config), the
//! search, the attribute mapping with defaults for Active Directory and OpenLDAP's
//! inetOrgPerson, the schedule, and how group membership maps to desk role and level. No I/O
//! except [`DirectorySection::bind_password`].

use std::path::PathBuf;

use serde::Deserialize;

/// Which directory's attribute names the defaults follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// OpenLDAP with `inetOrgPerson` (`entryUUID`, `cn`, `uid`, `ou`).
    #[default]
    Openldap,
    /// Active Directory (`objectGUID`, `displayName`, `sAMAccountName`, `ipPhone`, `memberOf`).
    Ad,
}

/// `[directory]`; an empty `url` means no directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySection {
    /// `ldap://host[:port]` (StartTLS when `starttls`) or `ldaps://host[:port]`; `""`: none.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (RFC 4511 §4.14) before binding.
    pub starttls: bool,
    /// A PEM file of CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The service account's DN; `""`: an anonymous bind.
    pub bind_dn: String,
    /// The environment variable holding the bind password.
    pub password_env: Option<String>,
    /// A file holding the bind password (its first line), read at every run.
    pub password_file: Option<PathBuf>,
    /// Where the people are.
    pub base_dn: String,
    /// Which entries are people; default `(objectClass=inetOrgPerson)` or, for AD,
    /// `(&(objectCategory=person)(objectClass=user))`.
    pub filter: Option<String>,
    /// Attribute names (defaults per `flavour`).
    pub flavour: Flavour,
    /// Attribute per customer field; an empty string leaves a field unmapped.
    pub attributes: Attributes,
    /// Seconds between syncs; 0: only on demand ("sync now", `firstline admin sync-directory`).
    pub interval_secs: u64,
    /// Entries per page of the paged search (RFC 2696).
    pub page_size: i32,
    /// Seconds an LDAP operation may take before the run fails.
    pub timeout_secs: u64,
    /// At most this many entries per run (a runaway filter fails instead of filling the disk).
    pub max_entries: u64,
    /// Desk sign-in with directory accounts.
    pub sign_in: SignIn,
}

/// `[directory.attributes]`: `None` takes the flavour's default, `""` maps nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attributes {
    /// A stable id: `entryUUID` / `objectGUID`; `dn` uses the entry's DN.
    pub external_id: Option<String>,
    /// `cn` / `displayName`.
    pub name: Option<String>,
    /// `o` / `company`.
    pub organisation: Option<String>,
    /// `ou` / `department`.
    pub department: Option<String>,
    /// `mail`.
    pub email: Option<String>,
    /// `telephoneNumber` (the first value is the main number, further values extra ones).
    pub phone: Option<String>,
    /// `mobile`.
    pub mobile: Option<String>,
    /// More numbers: `homePhone` / `ipPhone`.
    pub other_phone: Option<String>,
    /// `l` / `physicalDeliveryOfficeName`.
    pub location: Option<String>,
    /// `description`.
    pub notes: Option<String>,
}

/// The attribute of each field, defaults applied; `None`: unmapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    /// The id attribute (`dn` for the DN).
    pub external_id: String,
    /// Full name.
    pub name: String,
    /// The others, in the order of [`Attributes`].
    pub organisation: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Main (and extra) numbers.
    pub phone: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// Further numbers.
    pub other_phone: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// `[directory.sign_in]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignIn {
    /// Let desk logins that are not local accounts sign in with their directory password.
    pub enabled: bool,
    /// The attribute matched against the login: `uid` / `sAMAccountName`.
    pub login_attribute: Option<String>,
    /// Where groups are searched (`groupOfNames` with `member`); `""`: `base_dn`.
    pub group_base_dn: String,
    /// Members may sign in as agents; empty: every person under `base_dn` may.
    pub agent_groups: Vec<String>,
    /// Members sign in as supervisors.
    pub supervisor_groups: Vec<String>,
    /// Members sign in as admins.
    pub admin_groups: Vec<String>,
    /// Members are second-level agents (level 2).
    pub level2_groups: Vec<String>,
}

impl DirectorySection {
    /// Whether a directory is configured.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The people filter, the flavour's default when unset.
    pub fn people_filter(&self) -> String {
        self.filter.clone().unwrap_or_else(|| match self.flavour {
            Flavour::Openldap => "(objectClass=inetOrgPerson)".to_owned(),
            Flavour::Ad => "(&(objectCategory=person)(objectClass=user))".to_owned(),
        })
    }

    /// The login attribute of sign-in.
    pub fn login_attribute(&self) -> String {
        self.sign_in
            .login_attribute
            .clone()
            .unwrap_or_else(|| match self.flavour {
                Flavour::Openldap => "uid".to_owned(),
                Flavour::Ad => "sAMAccountName".to_owned(),
            })
    }

    /// The attribute of each field with the flavour's defaults.
    pub fn attribute_map(&self) -> AttributeMap {
        let a = &self.attributes;
        let ad = self.flavour == Flavour::Ad;
        let pick = |set: &Option<String>, openldap: &str, active_dir: &str| -> Option<String> {
            let name = match set {
                Some(s) => s.trim().to_owned(),
                None if ad => active_dir.to_owned(),
                None => openldap.to_owned(),
            };
            (!name.is_empty()).then_some(name)
        };
        AttributeMap {
            external_id: pick(&a.external_id, "entryUUID", "objectGUID")
                .unwrap_or_else(|| "dn".to_owned()),
            name: pick(&a.name, "cn", "displayName").unwrap_or_else(|| "cn".to_owned()),
            organisation: pick(&a.organisation, "o", "company"),
            department: pick(&a.department, "ou", "department"),
            email: pick(&a.email, "mail", "mail"),
            phone: pick(&a.phone, "telephoneNumber", "telephoneNumber"),
            mobile: pick(&a.mobile, "mobile", "mobile"),
            other_phone: pick(&a.other_phone, "homePhone", "ipPhone"),
            location: pick(&a.location, "l", "physicalDeliveryOfficeName"),
            notes: pick(&a.notes, "", ""),
        }
    }

    /// Reads the bind password (`None`: anonymous bind). The value is never logged.
    pub fn bind_password(&self) -> Result<Option<String>, String> {
        if let Some(var) = &self.password_env {
            return std::env::var(var).map(Some).map_err(|_| {
                format!("environment variable {var} (directory.password_env) is not set")
            });
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read directory.password_file {}: {e}",
                    path.display()
                )
            })?;
            return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
        }
        Ok(None)
    }

    /// Checks the section; `Err((setting, reason))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled() {
            if self.sign_in.enabled {
                return Err(("directory.sign_in.enabled", "needs directory.url".into()));
            }
            return Ok(());
        }
        let url = self.url.trim();
        let rest = url
            .strip_prefix("ldap://")
            .or_else(|| url.strip_prefix("ldaps://"))
            .ok_or((
                "directory.url",
                format!("{url:?} is not ldap://… or ldaps://…"),
            ))?;
        if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) {
            return Err(("directory.url", format!("{url:?} names no host")));
        }
        if self.starttls && url.starts_with("ldaps://") {
            return Err((
                "directory.starttls",
                "ldaps:// is TLS already; StartTLS is for ldap://".into(),
            ));
        }
        if self.base_dn.trim().is_empty() {
            return Err(("directory.base_dn", "is required with a url".into()));
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err((
                "directory.password_env",
                "set password_env or password_file, not both".into(),
            ));
        }
        if !self.bind_dn.trim().is_empty()
            && self.password_env.is_none()
            && self.password_file.is_none()
        {
            return Err((
                "directory.bind_dn",
                "needs password_env or password_file (the password is never in the file)".into(),
            ));
        }
        if !(1..=10_000).contains(&self.page_size) {
            return Err(("directory.page_size", "must be 1 to 10000".into()));
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Err(("directory.timeout_secs", "must be 1 to 600".into()));
        }
        if self.max_entries == 0 {
            return Err(("directory.max_entries", "must be at least 1".into()));
        }
        let filter = self.people_filter();
        if !(filter.starts_with('(') && filter.ends_with(')')) {
            return Err((
                "directory.filter",
                format!("{filter:?} is not an LDAP filter (RFC 4515)"),
            ));
        }
        Ok(())
    }
}

impl Default for DirectorySection {
    fn default() -> Self {
        DirectorySection {
            url: String::new(),
            starttls: false,
            ca_file: None,
            bind_dn: String::new(),
            password_env: None,
            password_file: None,
            base_dn: String::new(),
            filter: None,
            flavour: Flavour::default(),
            attributes: Attributes::default(),
            interval_secs: 3600,
            page_size: 500,
            timeout_secs: 10,
            max_entries: 1_000_000,
            sign_in: SignIn::default(),
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
