//! A real OpenLDAP for the directory tests: a `slapd` of the test's own (not the system's) on
//! a free loopback port, from a generated `slapd.conf` (mdb, `dc=example,dc=com`, the core,
//! cosine, inetorgperson and nis schemas) in a temporary directory, loaded with an LDIF of a
//! few hundred people by `ldapadd`, and killed on drop. A missing slapd fails the test loudly.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The suffix.
pub(crate) const BASE: &str = "dc=example,dc=com";
/// The people's subtree.
pub(crate) const PEOPLE: &str = "ou=people,dc=example,dc=com";
/// The groups' subtree.
pub(crate) const GROUPS: &str = "ou=groups,dc=example,dc=com";
/// The service account the sync binds as, and its password.
pub(crate) const SERVICE_DN: &str = "cn=firstline,ou=services,dc=example,dc=com";
pub(crate) const SERVICE_PASSWORD: &str = "svc-pass-4711";
/// Generated people (plus the named ones below).
pub(crate) const GENERATED: usize = 300;
/// The named people of [`people_ldif`].
pub(crate) const NAMED: usize = 6;

const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
const ROOT_PW: &str = "root-secret";
const SLAPD: &str = "/usr/sbin/slapd";

/// A running slapd.
pub(crate) struct Slapd {
    child: Child,
    /// `ldap://127.0.0.1:PORT/`.
    pub(crate) url: String,
    /// `ldaps://127.0.0.1:PORT/` when started with TLS.
    pub(crate) ldaps_url: Option<String>,
    /// The server's self-signed certificate (for 127.0.0.1), PEM, when started with TLS.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl Slapd {
    /// Starts slapd on a free port (retried when the port was taken meanwhile), waits until it
    /// answers, loads the base entries and [`people_ldif`].
    pub(crate) fn start() -> Slapd {
        Slapd::start_with(false)
    }

    /// [`Slapd::start`] with TLS: StartTLS on the `ldap://` port and an `ldaps://` port, under
    /// a self-signed certificate for 127.0.0.1 ([`Slapd::ca_file`]).
    pub(crate) fn start_tls() -> Slapd {
        Slapd::start_with(true)
    }

    fn start_with(tls: bool) -> Slapd {
        assert!(
            Path::new(SLAPD).exists(),
            "{SLAPD} is missing: install the Debian packages slapd and ldap-utils (scripts/test does)"
        );
        for _ in 0..5 {
            if let Some(s) = Slapd::try_start(tls) {
                s.add(&base_ldif());
                s.add(&people_ldif());
                return s;
            }
        }
        panic!("slapd did not start on any of 5 free ports");
    }

    fn try_start(tls: bool) -> Option<Slapd> {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let conf = dir.path().join("slapd.conf");
        let mut tls_lines = String::new();
        let mut ca_file = None;
        if tls {
            let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert, made.cert.pem()).unwrap();
            std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
            tls_lines = format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                cert.display(),
                key.display()
            );
            ca_file = Some(cert);
        }
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 include /etc/ldap/schema/nis.schema\n\
                 pidfile {dir}/slapd.pid\n{tls_lines}\
                 modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
                 database mdb\nmaxsize 104857600\n\
                 suffix \"{BASE}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\n\
                 directory {db}\n",
                dir = dir.path().display(),
                db = db.display()
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ldap://127.0.0.1:{port}/");
        let ldaps_url = tls.then(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            format!("ldaps://127.0.0.1:{port}/")
        });
        let listen = match &ldaps_url {
            Some(s) => format!("{url} {s}"),
            None => url.clone(),
        };
        let mut child = Command::new(SLAPD)
            .arg("-f")
            .arg(&conf)
            .args(["-h", &listen, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {SLAPD}: {e}"));
        for _ in 0..100 {
            if child.try_wait().unwrap().is_some() {
                return None; // The port was taken, most likely: try another.
            }
            let ok = Command::new("ldapsearch")
                .args([
                    "-x", "-H", &url, "-D", ROOT_DN, "-w", ROOT_PW, "-b", "", "-s", "base",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("ldapsearch (ldap-utils) is installed")
                .success();
            if ok {
                return Some(Slapd {
                    child,
                    url,
                    ldaps_url,
                    ca_file,
                    _dir: dir,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// `ldapadd` of `ldif` as the root DN.
    pub(crate) fn add(&self, ldif: &str) {
        self.tool("ldapadd", &[], ldif);
    }

    /// `ldapdelete` of `dn`.
    pub(crate) fn delete(&self, dn: &str) {
        self.tool("ldapdelete", &[dn], "");
    }

    fn tool(&self, name: &str, args: &[&str], stdin: &str) {
        let mut child = Command::new(name)
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops slapd (the directory goes down).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn base_ldif() -> String {
    format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: firstline\nuserPassword: {SERVICE_PASSWORD}\n\n\
         dn: cn=helpdesk,{GROUPS}\nobjectClass: groupOfNames\ncn: helpdesk\n\
         member: uid=helga,{PEOPLE}\nmember: uid=piet,{PEOPLE}\n\n\
         dn: cn=helpdesk-admins,{GROUPS}\nobjectClass: groupOfNames\ncn: helpdesk-admins\n\
         member: uid=helga,{PEOPLE}\n\n\
         dn: cn=second-level,{GROUPS}\nobjectClass: groupOfNames\ncn: second-level\n\
         member: uid=piet,{PEOPLE}\n\n"
    )
}

fn person(uid: &str, cn: &str, ou: &str, extra: &str) -> String {
    let sn = cn.rsplit(' ').next().unwrap_or(cn);
    format!(
        "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {sn}\n\
         ou: {ou}\nmail: {uid}@example.com\n{extra}\n"
    )
}

/// [`GENERATED`] people `uid=pNNNN` (`+31 30 8NNNNNN`, even ones with a mobile), and the
/// named ones: Lieke (`+31 20 555 7001`, Facilities), two at the reception desk sharing
/// `+31 20 555 7000`, and helga (helpdesk admin), piet (second level) and olaf (in no group),
/// who have passwords `<uid>-ldap-pass`.
pub(crate) fn people_ldif() -> String {
    let mut out = String::new();
    for i in 0..GENERATED {
        let mobile = if i % 2 == 0 {
            format!("mobile: 06 8{i:07}\n")
        } else {
            String::new()
        };
        let extra = format!("telephoneNumber: +31 30 8{i:06}\n{mobile}");
        out.push_str(&person(
            &format!("p{i:04}"),
            &format!("Person {i}"),
            &format!("Dept {}", i % 10),
            &extra,
        ));
    }
    out.push_str(&person(
        "lieke",
        "Lieke Ldap",
        "Facilities",
        "telephoneNumber: +31 20 555 7001\n",
    ));
    for (uid, cn) in [("recep1", "Rita Reception"), ("recep2", "Ruud Reception")] {
        out.push_str(&person(
            uid,
            cn,
            "Front desk",
            "telephoneNumber: 020 555 7000\n",
        ));
    }
    for (uid, cn) in [
        ("helga", "Helga Helpdesk"),
        ("piet", "Piet Tweede"),
        ("olaf", "Olaf Other"),
    ] {
        out.push_str(&person(
            uid,
            cn,
            "ICT",
            &format!("userPassword: {uid}-ldap-pass\n"),
        ));
    }
    out
}
