//! Unit tests of the update request: the exact URLs built, that decoding
//! inverts building, percent-encoding, that good fields pass validation,
//! server URLs and the user agent. The masking tests are in `secret.rs`.

use super::*;

fn fields() -> UpdateFields {
    UpdateFields {
        username: "user@example.com".into(),
        password: Secret::new("p&ss w=rd%"),
        hb: false,
        ip: "1.2.3.4".parse().unwrap(),
        stealth: None,
        port: None,
        offline_url: None,
        offline_text: None,
        mx: None,
    }
}

fn server() -> Server {
    Server::parse(DEFAULT_SERVER, false).unwrap()
}

#[test]
fn minimal_request_is_exact() {
    let r = build(&server(), &fields());
    assert_eq!(
        r.url(),
        "https://www.mtgsy.net/dns/update.php?email=user%40example.com&pass=p%26ss%20w%3Drd%25&hb=0&ip=1.2.3.4"
    );
    assert_eq!(
        r.masked_url(),
        "https://www.mtgsy.net/dns/update.php?email=user%40example.com&pass=***&hb=0&ip=1.2.3.4"
    );
    assert!(!format!("{r:?}").contains("p%26ss"));
}

#[test]
fn every_option_in_order() {
    let mut f = fields();
    f.hb = true;
    f.stealth = Some(false);
    f.port = Some(8080);
    f.offline_url = Some("http://example.org/away?x=1".into());
    f.offline_text = Some("Back soon — ünïcode".into());
    f.mx = Some("mail.example.com.".into());
    f.validate(false).unwrap();
    let r = build(&server(), &f);
    let query = r.url().split_once('?').unwrap().1;
    let names: Vec<_> = query
        .split('&')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "email",
            "pass",
            "hb",
            "ip",
            "stealth",
            "port",
            "offlineurl",
            "offlinetext",
            "mx"
        ]
    );
    assert!(query.contains("&offlineurl=http%3A%2F%2Fexample.org%2Faway%3Fx%3D1&"));
    assert!(query.contains("&offlinetext=Back%20soon%20%E2%80%94%20%C3%BCn%C3%AFcode&"));
    assert!(query.ends_with("&mx=mail.example.com."));
    assert!(query.contains("&hb=1&"));
    assert!(query.contains("&stealth=0&"));
}

#[test]
fn decode_inverts_build() {
    let mut f = fields();
    f.offline_text = Some("100% & more +=?".into());
    f.port = Some(8147);
    let r = build(&server(), &f);
    let query = r.url().split_once('?').unwrap().1;
    let back = fields_from_pairs(&decode_query(query).unwrap()).unwrap();
    assert_eq!(back, f);
}

#[test]
fn percent_encoding_leaves_only_unreserved() {
    let all: String = (1u8..=127).map(char::from).collect();
    let enc = percent_encode(&all);
    assert!(enc
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    assert_eq!(percent_decode(&enc).unwrap(), all);
    assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    assert_eq!(percent_decode("%zz"), None);
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_decode("%FF"), None);
}

macro_rules! rejects {
    ($($name:ident: $field:literal, $mutate:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut f = fields();
            #[allow(clippy::redundant_closure_call)]
            ($mutate)(&mut f);
            let err = f.validate(false).expect_err("must be refused");
            assert_eq!(err.field(), $field, "{err}");
            assert!(!err.to_string().contains("p&ss"), "{err}");
        }
    )*};
}

rejects! {
    username_empty: "username", |f: &mut UpdateFields| f.username.clear();
    username_space: "username", |f: &mut UpdateFields| f.username = "a b@example.com".into();
    username_newline: "username", |f: &mut UpdateFields| f.username = "a@example.com\n".into();
    username_no_domain: "username", |f: &mut UpdateFields| f.username = "user@".into();
    username_single_label: "username", |f: &mut UpdateFields| f.username = "localhost".into();
    username_too_long: "username", |f: &mut UpdateFields| f.username = format!("{}@example.com", "a".repeat(250));
    username_bad_label: "username", |f: &mut UpdateFields| f.username = "-bad.example.com".into();
    password_empty: "password", |f: &mut UpdateFields| f.password = Secret::new("");
    password_newline: "password", |f: &mut UpdateFields| f.password = Secret::new("secret\n");
    password_too_long: "password", |f: &mut UpdateFields| f.password = Secret::new("x".repeat(MAX_PASSWORD + 1));
    ip_private: "ip", |f: &mut UpdateFields| f.ip = "192.168.1.1".parse().unwrap();
    ip_cgnat: "ip", |f: &mut UpdateFields| f.ip = "100.64.0.1".parse().unwrap();
    ip_zero: "ip", |f: &mut UpdateFields| f.ip = "0.0.0.0".parse().unwrap();
    port_80: "port", |f: &mut UpdateFields| f.port = Some(80);
    port_0: "port", |f: &mut UpdateFields| f.port = Some(0);
    offline_url_no_scheme: "offline_url", |f: &mut UpdateFields| f.offline_url = Some("www.example.com/x".into());
    offline_url_ftp: "offline_url", |f: &mut UpdateFields| f.offline_url = Some("ftp://example.com/".into());
    offline_url_space: "offline_url", |f: &mut UpdateFields| f.offline_url = Some("http://exa mple.com/".into());
    offline_url_no_host: "offline_url", |f: &mut UpdateFields| f.offline_url = Some("http:///path".into());
    offline_text_control: "offline_text", |f: &mut UpdateFields| f.offline_text = Some("a\u{7}b".into());
    offline_text_long: "offline_text", |f: &mut UpdateFields| f.offline_text = Some("x".repeat(MAX_OFFLINE_TEXT + 1));
    mx_no_period: "mx", |f: &mut UpdateFields| f.mx = Some("mail.example.com".into());
    mx_bad: "mx", |f: &mut UpdateFields| f.mx = Some("mail..example.com.".into());
    mx_single_label: "mx", |f: &mut UpdateFields| f.mx = Some("mail.".into());
}

#[test]
fn good_inputs_pass() {
    let mut f = fields();
    f.username = "home.example.com".into();
    f.port = Some(8080);
    f.offline_url = Some("https://user@example.com:8443/x".into());
    f.offline_text = Some(String::new());
    f.mx = Some("mx1.example.com.".into());
    f.validate(false).unwrap();
    f.ip = "10.0.0.1".parse().unwrap();
    f.validate(true).unwrap();
}

#[test]
fn server_urls() {
    let s = Server::parse("https://127.0.0.1:8443/dns/update.php", false).unwrap();
    assert_eq!((s.host(), s.port(), s.is_tls()), ("127.0.0.1", 8443, true));
    let s = Server::parse("http://WWW.mtgsy.net:8147/dns/update.php", true).unwrap();
    assert_eq!(
        (s.host(), s.port(), s.is_tls()),
        ("www.mtgsy.net", 8147, false)
    );
    assert_eq!(
        Server::parse("https://example.com", false).unwrap().url(),
        "https://example.com/"
    );
    for bad in [
        "http://www.mtgsy.net/dns/update.php",
        "ftp://x.example/",
        "https://u:p@example.com/",
        "https://example.com/?a=1",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://-x.com/",
        "www.mtgsy.net/dns/update.php",
    ] {
        let err = Server::parse(bad, false).expect_err(bad);
        assert_eq!(err.field(), "server");
    }
    let err = Server::parse("http://example.com/", false).unwrap_err();
    assert!(err.to_string().contains("set allow_http"), "{err}");
}

#[test]
fn user_agent_names_client_version_and_platform() {
    let ua = user_agent();
    assert!(ua.starts_with(&format!("mtgsy-ddns/{} (", env!("CARGO_PKG_VERSION"))));
    assert!(ua.contains(std::env::consts::ARCH));
}
