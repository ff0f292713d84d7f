use super::*;
use crate::config::Settings;
use crate::update::Kind;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut s = Settings::default();
    for (k, v) in [
        ("username", "me@example.com"),
        ("password", "pw-s3cret"),
        ("ip", "192.0.2.7"),
        ("allow_private", "1"),
    ]
    .iter()
    .chain(extra)
    {
        s.set(k, v).unwrap();
    }
    s.resolve().unwrap()
}

fn outcome(kind: Kind, message: &str) -> Outcome {
    let mut o = Outcome::from_error(&crate::Error::Input(crate::InputError::new("x", "y")));
    o.outcome = kind;
    o.ip = Some(Ipv4Addr::new(192, 0, 2, 7));
    o.message = message.to_string();
    o
}

const OLD: Option<Ipv4Addr> = Some(Ipv4Addr::new(192, 0, 2, 1));
const NEW: Option<Ipv4Addr> = Some(Ipv4Addr::new(192, 0, 2, 7));

fn names(c: &Config, previous: Option<Ipv4Addr>, registered: Option<Ipv4Addr>) -> Vec<&str> {
    planned(c, previous, registered).map(|(n, _)| n).collect()
}

#[test]
fn on_change_only_when_the_registered_address_changed() {
    let both = config(&[("on_update", "u"), ("on_change", "c")]);
    assert_eq!(names(&both, OLD, NEW), ["on_update", "on_change"]);
    assert_eq!(names(&both, None, NEW), ["on_update", "on_change"]);
    // A forced resend of the same address, a failure, a rejection.
    assert_eq!(names(&both, NEW, NEW), ["on_update"]);
    assert_eq!(names(&both, OLD, OLD), ["on_update"]);
    assert_eq!(names(&both, None, None), ["on_update"]);
    let change = config(&[("on_change", "c")]);
    assert_eq!(names(&change, OLD, NEW), ["on_change"]);
    assert!(names(&change, NEW, NEW).is_empty());
    assert!(names(&config(&[]), OLD, NEW).is_empty());
}

#[test]
fn environment_has_the_outcome_and_no_credentials() {
    let c = config(&[("lookup_host", "home.example.net")]);
    let user = Secret::new(c.username.as_str());
    let o = outcome(
        Kind::Rejected,
        "login for me@example.com with pw-s3cret refused",
    );
    let env = environment(&c, &user, "on_update", &o, OLD);
    let expected = [
        ("MTGSY_HOOK", "on_update"),
        ("MTGSY_HOST", "home.example.net"),
        ("MTGSY_ADDRESS", "192.0.2.7"),
        ("MTGSY_PREVIOUS_ADDRESS", "192.0.2.1"),
        ("MTGSY_OUTCOME", "rejected"),
        ("MTGSY_EXIT_CODE", "5"),
        ("MTGSY_MESSAGE", "login for *** with *** refused"),
    ];
    let got: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(got, expected);
}

#[test]
fn host_is_empty_when_unset_or_the_user_name() {
    let o = outcome(Kind::Updated, "updated");
    for extra in [&[][..], &[("lookup_host", "Home.Example.NET")][..]] {
        let mut c = config(extra);
        c.username = "home.example.net".into();
        let user = Secret::new(c.username.as_str());
        let env = environment(&c, &user, "on_change", &o, None);
        assert_eq!(env[1], ("MTGSY_HOST", String::new()));
        assert_eq!(env[3], ("MTGSY_PREVIOUS_ADDRESS", String::new()));
    }
}
