//! Tests of `[directory]`: defaults per flavour, URL and password rules, an unknown key refused.

use super::*;

fn parse(toml_text: &str) -> DirectorySection {
    toml::from_str(toml_text).unwrap()
}

fn problem(toml_text: &str) -> (&'static str, String) {
    parse(toml_text).validate().unwrap_err()
}

#[test]
fn an_empty_section_is_no_directory_and_valid() {
    let d = parse("");
    assert!(!d.enabled());
    assert_eq!(d.validate(), Ok(()));
    assert_eq!(
        (d.page_size, d.interval_secs, d.timeout_secs),
        (500, 3600, 10)
    );
}

#[test]
fn defaults_follow_openldap_or_active_directory() {
    let open = parse("url = \"ldap://dir\"\nbase_dn = \"dc=x\"");
    let m = open.attribute_map();
    assert_eq!(
        (m.external_id.as_str(), m.name.as_str()),
        ("entryUUID", "cn")
    );
    assert_eq!(m.department.as_deref(), Some("ou"));
    assert_eq!(m.notes, None);
    assert_eq!(open.people_filter(), "(objectClass=inetOrgPerson)");
    assert_eq!(open.login_attribute(), "uid");

    let ad = parse(
        "url = \"ldaps://dc1\"\nbase_dn = \"dc=x\"\nflavour = \"ad\"\n\
         [attributes]\ndepartment = \"\"\nnotes = \"info\"\n",
    );
    let m = ad.attribute_map();
    assert_eq!(
        (m.external_id.as_str(), m.name.as_str()),
        ("objectGUID", "displayName")
    );
    assert_eq!(m.other_phone.as_deref(), Some("ipPhone"));
    assert_eq!(m.department, None, "an empty name unmaps the field");
    assert_eq!(m.notes.as_deref(), Some("info"));
    assert_eq!(ad.login_attribute(), "sAMAccountName");
    assert_eq!(ad.validate(), Ok(()));
}

#[test]
fn bad_settings_are_named() {
    assert_eq!(
        problem("url = \"http://dir\"\nbase_dn = \"dc=x\"").0,
        "directory.url"
    );
    assert_eq!(
        problem("url = \"ldap://\"\nbase_dn = \"dc=x\"").0,
        "directory.url"
    );
    assert_eq!(problem("url = \"ldap://dir\"").0, "directory.base_dn");
    assert_eq!(
        problem("url = \"ldaps://dir\"\nstarttls = true\nbase_dn = \"dc=x\"").0,
        "directory.starttls"
    );
    let no_password = problem("url = \"ldap://dir\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=svc\"");
    assert_eq!(no_password.0, "directory.bind_dn");
    assert!(no_password.1.contains("password_env or password_file"));
    assert_eq!(
        problem(
            "url = \"ldap://dir\"\nbase_dn = \"dc=x\"\npassword_env = \"A\"\npassword_file = \"/f\""
        )
        .0,
        "directory.password_env"
    );
    assert_eq!(
        problem("url = \"ldap://dir\"\nbase_dn = \"dc=x\"\npage_size = 0").0,
        "directory.page_size"
    );
    assert_eq!(
        problem("url = \"ldap://dir\"\nbase_dn = \"dc=x\"\nfilter = \"uid=x\"").0,
        "directory.filter"
    );
    assert_eq!(
        problem("[sign_in]\nenabled = true").0,
        "directory.sign_in.enabled"
    );
    assert!(toml::from_str::<DirectorySection>("bind_password = \"x\"").is_err());
}

#[test]
fn the_password_comes_from_the_environment_or_the_first_line_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret\nignored\n").unwrap();
    let mut d = parse("url = \"ldap://dir\"\nbase_dn = \"dc=x\"");
    assert_eq!(d.bind_password(), Ok(None));
    d.password_file = Some(file);
    assert_eq!(d.bind_password(), Ok(Some("s3cret".into())));
    d.password_file = Some(dir.path().join("missing"));
    assert!(d.bind_password().unwrap_err().contains("password_file"));
    d.password_file = None;
    d.password_env = Some("FIRSTLINE_TEST_SURELY_UNSET_VAR".into());
    assert!(d.bind_password().unwrap_err().contains("is not set"));
}
