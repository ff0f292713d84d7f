//! The copies of the settings table agree with it, so a setting cannot be
//! half-added: `mtgsy-ddns config --json` shows exactly the table's keys,
//! `--help` lists each one's flag, README's option list documents exactly
//! the flags there are, and the OpenWrt shell's `MTGSY_OPTIONS` names
//! exactly the UCI options the table says feed a setting (plus its own,
//! listed below with why), and passes the binary only flags it knows.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use common::*;
use mtgsy_ddns::config::SETTINGS;

/// Options of the command line alone (not settings) that README's option
/// list documents.
const CLI_ONLY: &[&str] = &[
    "--config",
    "--force",
    "--dry-run",
    "--json",
    "-v",
    "--verbose",
    "--syslog",
    "--registered-ip",
];

/// Options `--help` shows besides the settings' flags.
const HELP_ONLY: &[&str] = &["--help", "--version"];

/// Settings that are never a flag: the password (MTGSY_PASSWORD, the config
/// file, --password-file).
const NOT_FLAGS: &[&str] = &["password"];

/// Options of MTGSY_OPTIONS that feed no one setting, and why.
const SHELL_ONLY: &[(&str, &str)] = &[
    ("enabled", "whether the section runs at all"),
    (
        "interface",
        "the logical network whose events trigger an update (ddns-scripts' name)",
    ),
    (
        "domain",
        "ddns-scripts' host name: the user name and lookup host when those are unset",
    ),
    (
        "ip_network",
        "a logical network, turned into --interface DEVICE by the shell",
    ),
    (
        "check_unit",
        "the unit of check_interval, turned into seconds by the shell",
    ),
    (
        "force_unit",
        "the unit of force_interval, turned into seconds by the shell",
    ),
    (
        "param_opt",
        "free-form key=value words, each setting an option marked p",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The flag of a setting's key.
fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Every `--long-flag` in `text`, and `-v` for any run of v's (`-vvv`).
fn flags_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('-') {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-') {
            continue;
        }
        let rest = &text[i..];
        let long =
            rest.starts_with("--") && rest[2..].starts_with(|c: char| c.is_ascii_lowercase());
        let short = rest.starts_with("-v");
        if !long && !short {
            continue;
        }
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
            .map_or(rest.len(), |n| n + 1);
        let word = rest[..end].trim_end_matches('-');
        if long {
            found.insert(word.to_string());
        } else if word.bytes().skip(1).all(|b| b == b'v') {
            found.insert("-v".to_string());
        }
    }
    found
}

/// The keys `mtgsy-ddns config --json` shows, in order.
fn config_keys() -> Vec<String> {
    let mut c = cmd();
    c.args([
        "config",
        "--json",
        "--username",
        "me@example.com",
        "--ip",
        "192.0.2.1",
    ])
    .args(["--allow-private"])
    .env("MTGSY_PASSWORD", "pw");
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    // serde_json keeps no order: read the keys in the order printed.
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|k| (out.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// The flags of the settings, as `config --json` names them.
fn setting_flags() -> BTreeSet<String> {
    config_keys()
        .iter()
        .filter(|k| !NOT_FLAGS.contains(&k.as_str()))
        .map(|k| flag(k))
        .collect()
}

#[test]
fn config_shows_every_setting_of_the_table_in_its_order() {
    let names: Vec<&str> = SETTINGS.iter().map(|s| s.name()).collect();
    assert_eq!(config_keys(), names);
    for key in NOT_FLAGS {
        assert!(names.contains(key), "NOT_FLAGS names {key}, no setting");
    }
}

#[test]
fn help_lists_every_setting_flag_and_no_other() {
    let mut c = cmd();
    c.arg("--help");
    let (code, out, _) = texts(&run(c));
    assert_eq!(code, 0);
    let shown = flags_in(&out);
    let settings = setting_flags();
    let missing: Vec<_> = settings.difference(&shown).collect();
    assert!(missing.is_empty(), "--help lacks {missing:?}");
    let known: BTreeSet<String> = settings
        .iter()
        .cloned()
        .chain(CLI_ONLY.iter().chain(HELP_ONLY).map(|s| s.to_string()))
        .collect();
    let unknown: Vec<_> = shown.difference(&known).collect();
    assert!(unknown.is_empty(), "--help shows unknown flags {unknown:?}");
}

/// README's `### Options` section, up to the next heading.
fn readme_options() -> String {
    let readme = read("README.md");
    let start = readme
        .find("\n### Options\n")
        .expect("README has ### Options");
    let section = &readme[start + 1..];
    let end = section[4..].find("\n#").map_or(section.len(), |n| n + 4);
    section[..end].to_string()
}

#[test]
fn readme_documents_exactly_the_flags_there_are() {
    let documented = flags_in(&readme_options());
    let expected: BTreeSet<String> = setting_flags()
        .into_iter()
        .chain(CLI_ONLY.iter().map(|s| s.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "README's option list lacks {missing:?}");
    assert!(
        stale.is_empty(),
        "README's option list has unknown {stale:?}"
    );
}

/// The rows of MTGSY_OPTIONS in common.sh: (option, column 3).
fn mtgsy_options() -> Vec<(String, String)> {
    let common = read("openwrt/files/usr/lib/mtgsy-ddns/common.sh");
    let start = common.find("\nMTGSY_OPTIONS='").expect("MTGSY_OPTIONS") + 16;
    let end = start + common[start..].find('\'').expect("its closing quote");
    common[start..end]
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            Some((words.first()?.to_string(), words.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn openwrt_options_are_the_table_uci_options_plus_the_shell_own() {
    let options = mtgsy_options();
    let names: BTreeSet<&str> = options.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.len() > 10, "{options:?}");
    for s in SETTINGS.iter().filter(|s| !s.uci().is_empty()) {
        assert!(
            names.contains(s.uci()),
            "setting {} is fed by UCI option {}, which MTGSY_OPTIONS lacks",
            s.name(),
            s.uci()
        );
    }
    for name in &names {
        let fed = SETTINGS.iter().any(|s| s.uci() == *name);
        let own = SHELL_ONLY.iter().any(|(n, _)| n == name);
        assert!(
            fed != own,
            "MTGSY_OPTIONS' {name}: give it to a setting's `uci` in src/config/table.rs \
             or to SHELL_ONLY here, with why (not both)"
        );
    }
    for (name, _) in SHELL_ONLY {
        assert!(
            names.contains(name),
            "SHELL_ONLY names {name}, not an option"
        );
    }
    // Column 3's flag is the flag of the setting the option feeds.
    for (name, column3) in &options {
        if let Some(f) = column3.strip_prefix("--") {
            let f = format!("--{}", f.trim_end_matches("=bool"));
            let setting = SETTINGS.iter().find(|s| s.uci() == *name);
            assert_eq!(
                setting.map(|s| flag(s.name())),
                Some(f.clone()),
                "MTGSY_OPTIONS' {name} passes {f}"
            );
        }
    }
}

#[test]
fn openwrt_scripts_pass_only_known_flags() {
    let known: BTreeSet<String> = setting_flags()
        .into_iter()
        .chain(CLI_ONLY.iter().map(|s| s.to_string()))
        .collect();
    let mut passed = BTreeSet::new();
    for script in [
        "openwrt/files/usr/lib/mtgsy-ddns/common.sh",
        "openwrt/files/etc/init.d/mtgsy-ddns",
        "openwrt/files/etc/hotplug.d/iface/96-mtgsy-ddns",
        "openwrt/files/usr/lib/ddns/update_mtgsy_net.sh",
    ] {
        for line in read(script).lines() {
            let code = line.trim_start();
            if code.starts_with('#') {
                continue;
            }
            // the words given to the binary: mtgsy_add's, a direct call's
            // and its continuation lines, MTGSY_OPTIONS' column 3
            if line.contains("mtgsy_add")
                || line.contains("\"$MTGSY_BIN\"")
                || code.starts_with("--")
                || code
                    .split_whitespace()
                    .nth(2)
                    .is_some_and(|w| w.starts_with("--"))
            {
                passed.extend(flags_in(&line.replace("=bool", "")));
            }
        }
    }
    assert!(passed.contains("--timeout"), "{passed:?}");
    assert!(passed.contains("--password-file"), "{passed:?}");
    let unknown: Vec<_> = passed.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "the shell passes unknown flags {unknown:?}"
    );
}
