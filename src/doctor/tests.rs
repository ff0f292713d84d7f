//! Unit tests of `doctor`'s table, texts and formats (the checks
//! themselves run against stand-ins in `tests/doctor.rs`).

use super::*;

/// Every id, in the table's order.
const ALL: [Id; 36] = [
    Id::ClockOk,
    Id::ClockUnset,
    Id::ClockWrong,
    Id::Source,
    Id::SourceRefused,
    Id::SourceFailed,
    Id::BoxAddresses,
    Id::NoBoxAddress,
    Id::Outside,
    Id::OutsideFailed,
    Id::OutsideUnknown,
    Id::WanOk,
    Id::DoubleNat,
    Id::WanDiffers,
    Id::BehindNat,
    Id::DnsOk,
    Id::DnsOther,
    Id::DnsSeen,
    Id::DnsStale,
    Id::DnsFailed,
    Id::DnsUnknown,
    Id::Registered,
    Id::NeverRegistered,
    Id::StateUnreadable,
    Id::SendNow,
    Id::Floor,
    Id::Backoff,
    Id::Rejected,
    Id::Blocked,
    Id::Unchanged,
    Id::ClockBehind,
    Id::TlsOk,
    Id::TlsPlain,
    Id::TlsUnreachable,
    Id::TlsCertificate,
    Id::TlsHandshake,
];

fn finding(id: Id, args: &[&str]) -> Finding {
    Finding {
        id,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

#[test]
fn every_id_has_its_own_row() {
    assert_eq!(ROWS.lines().count(), ALL.len());
    let mut names: Vec<&str> = ALL.iter().map(|id| finding(*id, &[]).name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ALL.len(), "names are unique");
    for (i, id) in ALL.iter().enumerate() {
        assert_eq!(*id as usize, i, "{id:?}");
        let line = ROWS.lines().nth(i).unwrap();
        assert_eq!(line.split('|').count(), 4, "{line}");
        let f = finding(*id, &[]);
        let [name, severity, what, action] = f.row();
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        assert!(["o", "i", "w", "e"].contains(&severity), "{line}");
        assert!(!what.is_empty(), "{name}");
        // `{` only in blanks.
        for text in [what, action] {
            assert_eq!(
                text.matches('{').count(),
                text.matches("{}").count(),
                "{name}"
            );
        }
        // What needs the user says what to do.
        if f.severity() >= Severity::Warn {
            assert!(!action.is_empty(), "{name} has no action");
        }
    }
}

#[test]
fn blanks_are_filled_in_order_and_actions_take_the_last_words() {
    assert_eq!(fill("a {} b {} c", &["1".into(), "2".into()]), "a 1 b 2 c");
    assert_eq!(fill("{}{}", &["x".into()]), "x");
    assert_eq!(fill("none", &["x".into()]), "none");
    let f = finding(
        Id::DoubleNat,
        &[
            "wan0",
            "100.64.3.4",
            "a CGNAT address",
            "203.0.113.7",
            "203.0.113.7",
        ],
    );
    assert_eq!(
        f.message(),
        "double NAT / CGNAT: wan0 has 100.64.3.4 (a CGNAT address) but the outside sees 203.0.113.7"
    );
    assert!(
        f.action()
            .starts_with("a DNS record pointing at 203.0.113.7 will not reach"),
        "{}",
        f.action()
    );
    assert_eq!(f.severity(), Severity::Warn);
}

#[test]
fn dates_are_utc() {
    assert_eq!(utc(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    assert_eq!(utc(1_800_000_000), "2027-01-15 08:00 UTC");
    assert_eq!(utc(4_102_444_799), "2099-12-31 23:59 UTC");
    assert_eq!(utc(-1), "1969-12-31 23:59 UTC");
    // No overflow at the ends.
    let _ = (utc(i64::MIN), utc(i64::MAX));
}

#[test]
fn the_build_time_is_believable() {
    assert!(build_time() >= guard::EARLIEST_TIME);
    assert!(guard::is_plausible_time(build_time()));
}

#[test]
fn text_and_json_show_each_finding() {
    let report = Report {
        server: "www.mtgsy.net".into(),
        username: "me@example.com".into(),
        findings: vec![
            finding(Id::ClockOk, &["2027-01-15 08:00 UTC"]),
            finding(
                Id::TlsUnreachable,
                &["www.mtgsy.net:443", "connection refused"],
            ),
        ],
        facts: vec![
            ("address", "\"203.0.113.7\"".into()),
            ("dns", "null".into()),
        ],
    };
    assert!(report.needs_user());
    assert_eq!(
        report.text(),
        "me@example.com at www.mtgsy.net\n  [ok] the clock reads 2027-01-15 08:00 UTC\n  [error] www.mtgsy.net:443 cannot be reached: connection refused — check the network, bind_interface and the server setting\n"
    );
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["address"], "203.0.113.7");
    assert!(json["dns"].is_null());
    assert_eq!(json["findings"][1]["id"], "tls_unreachable");
    assert_eq!(json["findings"][1]["severity"], "error");
    assert_eq!(json["findings"][0]["action"], "");
    let fine = Report {
        findings: vec![finding(Id::DnsUnknown, &[])],
        ..report
    };
    assert!(!fine.needs_user());
}
