//! The pages' message catalogues (issue 10 point 5): every `web/i18n/en/<part>.json` has a
//! `web/i18n/nl/<part>.json` and the other way round, each pair with the same keys, and each key
//! with the same `{placeholders}` in both languages (a Dutch message that drops `{name}` or
//! invents `{naam}` would show a hole or a literal brace). Values are strings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 2] = ["en", "nl"];

fn catalogue_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/i18n")
}

/// The catalogue files of one language: file name → key → value.
fn catalogues(dir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let obj = json
            .as_object()
            .unwrap_or_else(|| panic!("{}: not a flat object", path.display()));
        let messages = obj
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: {k} is not a string", path.display()));
                (k.clone(), v.to_owned())
            })
            .collect();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, messages);
    }
    out
}

/// The `{name}` placeholders of a message (as `t()` in web/i18n.js fills them: word characters).
fn placeholders(message: &str) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.insert(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

#[test]
fn every_catalogue_has_the_same_keys_and_placeholders_in_english_and_dutch() {
    let dir = catalogue_dir();
    let [en, nl] = LANGUAGES.map(|l| catalogues(&dir.join(l)));
    let files =
        |c: &BTreeMap<String, BTreeMap<String, String>>| c.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        files(&en),
        files(&nl),
        "the same catalogue files in en and nl"
    );
    assert!(
        en.contains_key("supervisor.json") && en.contains_key("common.json"),
        "{:?}",
        files(&en)
    );
    let mut problems = Vec::new();
    for (file, english) in &en {
        let dutch = &nl[file];
        for key in english.keys().filter(|k| !dutch.contains_key(*k)) {
            problems.push(format!("{file}: {key} missing in nl"));
        }
        for key in dutch.keys().filter(|k| !english.contains_key(*k)) {
            problems.push(format!("{file}: {key} missing in en"));
        }
        for (key, e) in english {
            if let Some(d) = dutch.get(key)
                && placeholders(e) != placeholders(d)
            {
                problems.push(format!("{file}: {key}: en {e:?}, nl {d:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn placeholders_are_word_names_in_braces() {
    assert_eq!(
        placeholders("{actor} set {target}: {reason}"),
        BTreeSet::from(["actor", "reason", "target"])
    );
    assert_eq!(placeholders("no { here } or {}"), BTreeSet::new());
    assert_eq!(placeholders("{n} %"), BTreeSet::from(["n"]));
}
