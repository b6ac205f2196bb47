//! The LDAP client glue over `ldap3` (RFC 4511): connect (`ldaps://`, or `ldap://` upgraded
//! with StartTLS, RFC 4511 §4.14), simple bind (RFC 4513 §5.1), a paged subtree search
//! (RFC 2696) streamed entry by entry, and an entry's values as a [`RawPerson`]. Every
//! operation has a timeout; passwords are never logged. I/O: the sync and the sign-in drive it.

use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::config::{AttributeMap, DirectorySection};
use super::mapping::{Field, RawPerson};

/// RFC 4511 §4.1.9 resultCode `invalidCredentials`.
pub const INVALID_CREDENTIALS: u32 = 49;

/// Why talking to the directory failed (the message never holds a password).
#[derive(Debug, thiserror::Error)]
pub enum LdapFailure {
    /// The config cannot be used (CA file, password source).
    #[error("{0}")]
    Config(String),
    /// Connecting, TLS, or the connection dropped.
    #[error("cannot reach the directory at {url}: {reason}")]
    Connect {
        /// `directory.url`.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The bind was refused (wrong DN or password, account locked).
    #[error("the directory refused the bind as {dn:?} (result code {rc})")]
    Bind {
        /// Who tried.
        dn: String,
        /// RFC 4511 resultCode.
        rc: u32,
    },
    /// An operation failed or timed out.
    #[error("{op} failed: {reason}")]
    Operation {
        /// `search`, …
        op: &'static str,
        /// What the server or client said.
        reason: String,
    },
}

/// An open, bound connection.
pub struct Connection {
    ldap: Ldap,
    timeout: Duration,
}

/// Opens a connection to `cfg.url` (TLS as configured); not yet bound.
pub async fn connect(cfg: &DirectorySection) -> Result<Connection, LdapFailure> {
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(timeout)
        .set_starttls(cfg.starttls);
    if let Some(ca) = &cfg.ca_file {
        settings = settings.set_config(Arc::new(client_config(ca)?));
    }
    let url = cfg.url.trim().to_owned();
    let connecting = LdapConnAsync::with_settings(settings, &url);
    let (conn, ldap) = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| LdapFailure::Connect {
            url: url.clone(),
            reason: format!("no answer within {} s", timeout.as_secs()),
        })?
        .map_err(|e| LdapFailure::Connect {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "directory connection ended");
        }
    });
    Ok(Connection { ldap, timeout })
}

/// A rustls client config trusting the PEM certificates in `path` only.
fn client_config(path: &std::path::Path) -> Result<rustls::ClientConfig, LdapFailure> {
    let bad =
        |why: String| LdapFailure::Config(format!("directory.ca_file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

impl Connection {
    /// Simple bind as `dn` with `password`; an empty DN and password bind anonymously.
    pub async fn bind(&mut self, dn: &str, password: &str) -> Result<(), LdapFailure> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| LdapFailure::Operation {
                op: "bind",
                reason: e.to_string(),
            })?;
        if result.rc != 0 {
            return Err(LdapFailure::Bind {
                dn: dn.to_owned(),
                rc: result.rc,
            });
        }
        Ok(())
    }

    /// A paged subtree search under `base` for `filter`, read entry by entry with
    /// [`Entries::next`]; at most `max` entries (more fails the search). The server sends a
    /// page when the last is read, so memory holds one page.
    pub async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attrs: &[String],
        page_size: i32,
        max: u64,
    ) -> Result<Entries, LdapFailure> {
        let adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page_size)),
        ];
        let stream = self
            .ldap
            .with_timeout(self.timeout)
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs.to_vec())
            .await
            .map_err(search_failed)?;
        Ok(Entries {
            stream,
            timeout: self.timeout,
            seen: 0,
            max,
        })
    }

    /// Ends the session politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.ldap.unbind()).await;
    }
}

fn search_failed(e: ldap3::LdapError) -> LdapFailure {
    LdapFailure::Operation {
        op: "search",
        reason: e.to_string(),
    }
}

/// The entries of a search, one at a time.
pub struct Entries {
    stream: ldap3::SearchStream<'static, String, Vec<String>>,
    timeout: Duration,
    seen: u64,
    max: u64,
}

impl Entries {
    /// The next entry; `None` once the search is done (and ended well).
    pub async fn next(&mut self) -> Result<Option<SearchEntry>, LdapFailure> {
        let next = tokio::time::timeout(self.timeout, self.stream.next())
            .await
            .map_err(|_| LdapFailure::Operation {
                op: "search",
                reason: format!("no entry within {} s", self.timeout.as_secs()),
            })?
            .map_err(search_failed)?;
        let Some(entry) = next else {
            let result = self.stream.finish().await;
            if result.rc != 0 {
                return Err(LdapFailure::Operation {
                    op: "search",
                    reason: format!("result code {}: {}", result.rc, result.text),
                });
            }
            return Ok(None);
        };
        self.seen += 1;
        if self.seen > self.max {
            let _ = self.stream.finish().await;
            return Err(LdapFailure::Operation {
                op: "search",
                reason: format!("more than directory.max_entries = {} entries", self.max),
            });
        }
        Ok(Some(SearchEntry::construct(entry)))
    }

    /// Entries read so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// The attributes to ask for.
pub fn requested_attributes(map: &AttributeMap) -> Vec<String> {
    let mut attrs: Vec<String> = [
        Some(&map.external_id),
        Some(&map.name),
        map.organisation.as_ref(),
        map.department.as_ref(),
        map.email.as_ref(),
        map.phone.as_ref(),
        map.mobile.as_ref(),
        map.other_phone.as_ref(),
        map.location.as_ref(),
        map.notes.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter(|a| !a.eq_ignore_ascii_case("dn"))
    .cloned()
    .collect();
    attrs.dedup();
    if attrs.is_empty() {
        attrs.push("1.1".into()); // RFC 4511 §4.5.1.8: no attributes
    }
    attrs
}

/// The values of `attr` in `entry`, matched without regard to case (RFC 4512 §2.5).
pub fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    if let Some((_, v)) = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
    {
        return v.clone();
    }
    // Binary values (objectGUID): as lowercase hex.
    entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map(|(_, v)| v.iter().map(|b| hex(b)).collect())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields of one entry per the map; the mapped fields.
pub fn person_of(entry: &SearchEntry, map: &AttributeMap) -> RawPerson {
    let mut p = RawPerson::default();
    if map.external_id.eq_ignore_ascii_case("dn") {
        p.push(Field::ExternalId, &entry.dn);
    } else if let Some(id) = values(entry, &map.external_id).first() {
        p.push(Field::ExternalId, id);
    }
    if let Some(name) = values(entry, &map.name).first() {
        p.push(Field::Name, name);
    }
    let single = [
        (Field::Organisation, &map.organisation),
        (Field::Department, &map.department),
        (Field::Email, &map.email),
        (Field::Location, &map.location),
        (Field::Notes, &map.notes),
    ];
    for (field, attr) in single {
        if let Some(v) = attr
            .as_ref()
            .and_then(|a| values(entry, a).into_iter().next())
        {
            p.push(field, &v);
        }
    }
    let multi = [
        (Field::Phone, &map.phone),
        (Field::Mobile, &map.mobile),
        (Field::ExtraPhones, &map.other_phone),
    ];
    for (field, attr) in multi {
        for v in attr.as_ref().map(|a| values(entry, a)).unwrap_or_default() {
            p.push(field, &v);
        }
    }
    p
}

/// The fields a map sets (for `customers.synced_fields`).
pub fn mapped_fields(map: &AttributeMap) -> Vec<Field> {
    let mut out = vec![Field::ExternalId, Field::Name];
    let optional = [
        (Field::Organisation, &map.organisation),
        (Field::Department, &map.department),
        (Field::Email, &map.email),
        (Field::Phone, &map.phone),
        (Field::Mobile, &map.mobile),
        (Field::ExtraPhones, &map.other_phone),
        (Field::Location, &map.location),
        (Field::Notes, &map.notes),
    ];
    out.extend(
        optional
            .iter()
            .filter(|(_, a)| a.is_some())
            .map(|(f, _)| *f),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn entry(pairs: &[(&str, &[&str])]) -> SearchEntry {
        SearchEntry {
            dn: "uid=ada,ou=people,dc=example,dc=com".into(),
            attrs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
            bin_attrs: HashMap::from([("objectGUID".to_owned(), vec![vec![0xab, 0x01]])]),
        }
    }

    #[test]
    fn an_entry_maps_case_insensitively_with_several_numbers() {
        let cfg: DirectorySection =
            toml::from_str("url = \"ldap://x\"\nbase_dn = \"dc=x\"").unwrap();
        let map = cfg.attribute_map();
        let e = entry(&[
            ("entryUUID", &["0c1f-77"]),
            ("cn", &["Ada Lovelace"]),
            ("ou", &["Research"]),
            ("telephonenumber", &["+31 20 555 0101", "+31 20 555 0199"]),
            ("mobile", &["06 5555 0101"]),
        ]);
        let p = person_of(&e, &map).build("31").unwrap();
        assert_eq!(p.external_id, "0c1f-77");
        assert_eq!(p.department.as_deref(), Some("Research"));
        assert_eq!(p.phone.as_deref(), Some("+31205550101"));
        let extra: Vec<&str> = p.extra_phones.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(extra, ["+31205550199", "+31655550101"]);
        let attrs = requested_attributes(&map);
        assert!(attrs.contains(&"entryUUID".to_owned()) && attrs.contains(&"mobile".to_owned()));

        let ad: DirectorySection =
            toml::from_str("url = \"ldap://x\"\nbase_dn = \"dc=x\"\nflavour = \"ad\"").unwrap();
        let e = entry(&[("displayName", &["Ada"])]);
        let p = person_of(&e, &ad.attribute_map()).build("31").unwrap();
        assert_eq!(p.external_id, "ab01", "a binary objectGUID as hex");

        let by_dn: DirectorySection = toml::from_str(
            "url = \"ldap://x\"\nbase_dn = \"dc=x\"\n[attributes]\nexternal_id = \"dn\"",
        )
        .unwrap();
        let p = person_of(&e_with_cn(), &by_dn.attribute_map())
            .build("31")
            .unwrap();
        assert_eq!(p.external_id, "uid=ada,ou=people,dc=example,dc=com");
    }

    fn e_with_cn() -> SearchEntry {
        entry(&[("cn", &["Ada"])])
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_clear_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = client_config(&path).unwrap_err().to_string();
        assert!(
            err.contains("directory.ca_file") && err.contains("no certificate"),
            "{err}"
        );
    }
}
