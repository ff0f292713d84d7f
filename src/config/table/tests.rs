//! Unit tests of the settings table: names, kinds, defaults and rows.

use super::*;

#[test]
fn names_are_unique_lower_case_keys() {
    for (i, s) in SETTINGS.iter().enumerate() {
        assert!(
            s.name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{}",
            s.name()
        );
        assert!(
            SETTINGS[i + 1..].iter().all(|t| t.name() != s.name()),
            "{} twice",
            s.name()
        );
        assert_eq!(find(s.name()), Some(s));
    }
    assert_eq!(find("colour"), None);
}

#[test]
fn every_flag_with_a_value_has_its_placeholder() {
    for s in SETTINGS.iter().filter(|s| !s.secret) {
        let expected = match s.kind {
            Kind::Switch => String::new(),
            Kind::ZeroOne => "0|1".into(),
            _ => s.value().to_string(),
        };
        assert_eq!(s.value(), expected, "{}", s.name());
        assert_eq!(s.value().is_empty(), s.is_switch(), "{}", s.name());
    }
}

#[test]
fn each_part_of_a_row_is_its_own() {
    let timeout = find("timeout").unwrap();
    assert_eq!(
        (
            timeout.value(),
            timeout.help(),
            timeout.default(),
            timeout.uci()
        ),
        ("SECONDS", "connect + whole request", "30", "timeout")
    );
    let state = find("state").unwrap();
    assert_eq!((state.default(), state.uci()), ("", ""));
    assert_eq!(
        find("server").unwrap().default(),
        crate::request::DEFAULT_SERVER
    );
    for s in SETTINGS {
        assert!(
            !s.help().is_empty() && !s.help().contains('\x1f'),
            "{}",
            s.name()
        );
    }
}

#[test]
fn groups_are_contiguous_and_in_help_order() {
    let order: Vec<usize> = SETTINGS
        .iter()
        .map(|s| Group::ALL.iter().position(|g| *g == s.group).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
}
