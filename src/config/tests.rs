//! Unit tests of settings: each key's parsing and refusals, how the
//! settings resolve together, and the address source rules.

use super::*;
use crate::detect::AddressSource;
use crate::guard::DEFAULT_FORCE_INTERVAL_S;
use std::time::Duration;

fn base() -> Settings {
    let mut s = Settings::default();
    s.set("username", "u@example.com").unwrap();
    s.set("password", "pw").unwrap();
    s.set("ip", "1.2.3.4").unwrap();
    s
}

#[test]
fn resolves_defaults() {
    let c = base().resolve().unwrap();
    assert_eq!(c.server.url(), request::DEFAULT_SERVER);
    assert_eq!(c.transport.timeout, Duration::from_secs(30));
    assert_eq!(c.force_interval, DEFAULT_FORCE_INTERVAL_S);
    assert_eq!(c.state_path, crate::state::default_path());
    assert!(!c.hb);
    assert!(!format!("{c:?}").contains("pw\""));
}

/// A value the setting takes and one it refuses: the kind's, unless
/// the setting has a rule of its own.
fn samples(s: &Setting, password_file: &str) -> (String, String) {
    let (good, bad) = match s.name() {
        "username" => ("home.example.com.", "a b"),
        "password" => ("pw", "x\ny"),
        "password_file" => (password_file, "/nonexistent/pw"),
        "interface" | "bind_interface" => ("eth0", "much-too-long-interface-name"),
        "ip_url" | "check_url" => ("https://x.example/", "ftp://x"),
        "lookup_host" => ("home.example.com", "not a host"),
        "offline_url" => ("https://x.example/", "example.com"),
        "offline_text" => ("back soon", "a\u{1}b"),
        "mx" => ("mail.example.com.", "mail.example.com"),
        "port" => ("8080", "80"),
        "jitter" => ("10", "301"),
        _ => match s.kind {
            Kind::NonEmpty | Kind::Path => ("x", ""),
            Kind::Switch => ("yes", "maybe"),
            Kind::ZeroOne => ("1", "yes"),
            Kind::Ipv4 => ("1.2.3.4", "1.2.3"),
            Kind::OneOf => (s.value().split('|').next().unwrap(), "none of them"),
            Kind::Seconds { min, .. } => {
                return (min.to_string(), (min - 1).to_string());
            }
            Kind::Port | Kind::Text => panic!("{}: give it samples here", s.name()),
        },
    };
    (good.to_string(), bad.to_string())
}

#[test]
fn every_row_takes_its_value_and_refuses_a_bad_one_by_name() {
    let file = std::env::temp_dir().join(format!("mtgsy-pw-{}", std::process::id()));
    std::fs::write(&file, "pw\n").unwrap();
    let before = Settings::default().into_shown();
    for (i, s) in SETTINGS.iter().enumerate() {
        let (good, bad) = samples(s, &file.display().to_string());
        let mut settings = Settings::default();
        settings
            .set(s.name(), &good)
            .unwrap_or_else(|e| panic!("{}: {good:?}: {e}", s.name()));
        // Kept where `mtgsy-ddns config` finds it.
        let shown = &settings.into_shown()[i];
        assert_eq!(shown.0.name(), s.name());
        assert!(
            shown.1.is_some() && shown.1 != before[i].1,
            "{}: {shown:?}",
            s.name()
        );
        let e = Settings::default().set(s.name(), &bad).expect_err(s.name());
        assert_eq!(e.field(), s.name(), "{e}");
        assert_ne!(e.reason(), "is not a known setting", "{e}");
    }
    let _ = std::fs::remove_file(&file);
    for unknown in ["colour", "Username", "ip-url", "dry_run"] {
        let e = Settings::default().set(unknown, "1").unwrap_err();
        assert_eq!(e.to_string(), format!("{unknown}: is not a known setting"));
    }
    assert_eq!(Settings::default().set("", "1").unwrap_err().field(), "key");
}

#[test]
fn the_default_shown_is_the_one_applied() {
    for s in SETTINGS.iter().filter(|s| !s.default().is_empty()) {
        let mut given = base();
        given.set(s.name(), s.default()).unwrap();
        assert_eq!(given.resolve(), base().resolve(), "{}", s.name());
    }
    let state = SETTINGS.iter().find(|s| s.name() == "state").unwrap();
    assert_eq!(
        default_of(state).map(PathBuf::from),
        Some(crate::state::default_path())
    );
}

#[test]
fn the_password_is_never_shown() {
    let shown = base().into_shown();
    let password = shown.iter().find(|s| s.0.name() == "password").unwrap();
    assert_eq!(password.1.as_deref(), Some("(set)"));
    assert!(!format!("{shown:?}").contains("\"pw\""), "{shown:?}");
}

#[test]
fn bad_values_name_the_key() {
    let cases = [
        ("hb", "2"),
        ("stealth", "yes"),
        ("port", "80"),
        ("port", "65536"),
        ("timeout", "0"),
        ("timeout", "abc"),
        ("ip", "1.2.3"),
        ("ip_source", "dns"),
        ("force_interval", "599"),
        ("force_interval", "86399"),
        ("force_interval", "-1"),
        ("check_interval", "5"),
        ("mx", "mail.example.com"),
        ("offline_url", "example.com"),
        ("username", "a b"),
        ("password", "x\ny"),
        ("lookup_host", "not a host"),
        ("allow_http", "maybe"),
        ("interface", "much-too-long-interface-name"),
        ("ip_url", "ftp://x"),
    ];
    for (key, value) in cases {
        let e = Settings::default().set(key, value).expect_err(key);
        assert_eq!(e.field(), key, "{e}");
    }
}

#[test]
fn force_interval_below_a_day_says_why() {
    let e = Settings::default()
        .set("force_interval", "3600")
        .unwrap_err();
    assert_eq!(e.field(), "force_interval");
    assert!(e.reason().contains("86400"), "{e}");
    assert!(e.reason().contains("abuse"), "{e}");
    let mut s = Settings::default();
    s.set("force_interval", "86400").unwrap();
    assert_eq!(s.force_interval, Some(86_400));
}

#[test]
fn a_domain_user_name_may_end_in_a_dot() {
    let mut s = Settings::default();
    s.set("username", "Home.Example.COM.").unwrap();
    assert_eq!(s.username.as_deref(), Some("Home.Example.COM"));
    assert!(s.set("username", "a@example.com.").is_err());
    assert!(s.set("username", "example.com..").is_err());
}

#[test]
fn address_source_rules() {
    let mut s = base();
    s.set("ip_source", "interface").unwrap();
    let e = s.resolve().unwrap_err();
    assert_eq!(
        e.to_string(),
        "ip_source: is \"interface\" but ip is set; give one address source"
    );
    s.ip = None;
    assert_eq!(s.resolve().unwrap_err().field(), "interface");
    s.set("interface", "eth0").unwrap();
    assert_eq!(
        s.resolve().unwrap().address,
        AddressSource::Interface("eth0".into())
    );
    let mut s = base();
    s.ip = None;
    assert_eq!(s.resolve().unwrap_err().field(), "ip");
}

#[test]
fn one_address_setting_selects_its_source() {
    let cases = [
        ("interface", "wan0", AddressSource::Interface("wan0".into())),
        (
            "ip_url",
            "https://x.example/",
            AddressSource::Web("https://x.example/".into()),
        ),
        (
            "ip_command",
            "echo 1.2.3.4",
            AddressSource::Command("echo 1.2.3.4".into()),
        ),
    ];
    for (key, value, source) in cases {
        let mut s = base();
        s.ip = None;
        s.set(key, value).unwrap();
        assert_eq!(s.resolve().unwrap().address, source, "{key}");
        // Naming the same source is fine; naming another is a conflict.
        for name in ["interface", "web", "command"] {
            s.set("ip_source", name).unwrap();
            match s.resolve() {
                Ok(c) => assert_eq!(c.address, source, "{key} {name}"),
                Err(e) => {
                    assert_eq!(e.field(), "ip_source", "{key} {name}");
                    assert!(e.reason().contains(key), "{e}");
                }
            }
        }
        s.clear_address();
        assert_eq!(s.resolve().unwrap_err().field(), "ip");
    }
}

#[test]
fn two_address_sources_are_refused_naming_both() {
    let keys = [
        ("ip", "1.2.3.4"),
        ("interface", "wan0"),
        ("ip_url", "https://x.example/"),
        ("ip_command", "echo 1.2.3.4"),
    ];
    for (i, (a, va)) in keys.iter().enumerate() {
        for (b, vb) in &keys[i + 1..] {
            let mut s = base();
            s.ip = None;
            s.set(a, va).unwrap();
            s.set(b, vb).unwrap();
            let e = s.resolve().unwrap_err();
            assert_eq!(e.field(), *a, "{e}");
            assert!(
                e.reason().starts_with(&format!("and {b} are both set")),
                "{e}"
            );
        }
    }
}

#[test]
fn json_values_of_each_type() {
    use crate::config_file::ConfigFile;
    let mut s = Settings::default();
    let file = ConfigFile::parse(
        "c.json",
        r#"{"username": "u@example.com", "hb": 1, "allow_private": true, "port": 8080,
            "timeout": 5, "hosts": [], "mx": null}"#,
    )
    .unwrap();
    s.merge_file(&file.settings).unwrap();
    assert_eq!(
        (s.hb, s.allow_private, s.port, s.timeout),
        (Some(true), true, Some(8080), Some(5))
    );
    for bad in [r#"{"port": [1]}"#, r#"{"port": {}}"#, r#"{"port": 80.5}"#] {
        let file = ConfigFile::parse("c.json", bad).unwrap();
        assert_eq!(s.merge_file(&file.settings).unwrap_err().field(), "port");
    }
    // A key that names no setting is refused as such, whatever its
    // value (found by the fuzzer: an empty key with a fraction).
    for (bad, field) in [(r#"{"": 18.11}"#, "key"), (r#"{"colour": [1]}"#, "colour")] {
        let file = ConfigFile::parse("c.json", bad).unwrap();
        let e = s.merge_file(&file.settings).unwrap_err();
        assert_eq!(e.field(), field, "{bad}");
        assert!(
            e.reason().contains("is empty") || e.reason().contains("not a known setting"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn plain_http_needs_opt_in() {
    let mut s = base();
    s.set("server", "http://127.0.0.1:8147/dns/update.php")
        .unwrap();
    assert_eq!(s.resolve().unwrap_err().field(), "server");
    s.set("allow_http", "1").unwrap();
    assert!(!s.resolve().unwrap().server.is_tls());
}

#[test]
fn without_password_the_password_is_neither_needed_nor_read() {
    let mut s = Settings {
        without_password: true,
        ..Settings::default()
    };
    s.set("username", "me@example.com").unwrap();
    s.set("ip", "1.2.3.4").unwrap();
    // Neither kept nor opened: a file that does not exist is no error.
    s.set("password", "pw").unwrap();
    s.set("password_file", "/nonexistent/pw").unwrap();
    assert_eq!((&s.password, &s.password_file), (&None, &None));
    assert_eq!(s.resolve().unwrap().password.expose(), "");
    s.without_password = false;
    assert_eq!(s.resolve().unwrap_err().field(), "password");
    assert!(s.set("password_file", "/nonexistent/pw").is_err());
}
