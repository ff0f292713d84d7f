//! The command line: bad input is refused with the field named, exit 2 and
//! nothing sent; the password never shows; config files, password files,
//! dry runs, JSON and `status` behave as documented.

mod common;

use common::*;
use serde_json::Value;

const PASSWORD: &str = "Zq9-unique-Pa55!";

/// A command against `server` with a valid baseline; `args` come last and
/// override the baseline.
fn base(server: &StubServer, state: &TempDir) -> std::process::Command {
    let mut c = cmd();
    c.args(["update", "--username", "user@example.com", "--allow-http"])
        .arg("--server")
        .arg(server.url())
        .arg("--state")
        .arg(state.path().join("state.json"))
        .env("MTGSY_PASSWORD", PASSWORD);
    c
}

fn assert_no_password(texts: &[&str]) {
    for t in texts {
        assert!(!t.contains(PASSWORD), "password leaked: {t}");
        assert!(!t.contains("Pa55%21"), "encoded password leaked: {t}");
    }
}

#[test]
fn every_invalid_field_is_refused_by_name() {
    let server = StubServer::plain();
    let state = TempDir::new("invalid");
    let cases: &[(&[&str], &str)] = &[
        (&["--ip", "1.2.3"], "ip"),
        (&["--ip", "192.168.1.1"], "ip"),
        (&["--ip", "100.64.0.1"], "ip"),
        (&["--ip", "127.0.0.1"], "ip"),
        (&["--ip", "224.0.0.1"], "ip"),
        (
            &["--ip", "1.2.3.4", "--username", "not an email"],
            "username",
        ),
        (&["--ip", "1.2.3.4", "--username", "user@"], "username"),
        (&["--ip", "1.2.3.4", "--hb", "2"], "hb"),
        (&["--ip", "1.2.3.4", "--stealth", "true"], "stealth"),
        (&["--ip", "1.2.3.4", "--port", "80"], "port"),
        (&["--ip", "1.2.3.4", "--port", "0"], "port"),
        (&["--ip", "1.2.3.4", "--port", "70000"], "port"),
        (
            &["--ip", "1.2.3.4", "--offline-url", "www.example.com"],
            "offline_url",
        ),
        (
            &["--ip", "1.2.3.4", "--offline-text", "bell\u{7}"],
            "offline_text",
        ),
        (&["--ip", "1.2.3.4", "--mx", "mail.example.com"], "mx"),
        (&["--ip", "1.2.3.4", "--timeout", "0"], "timeout"),
        (
            &["--ip", "1.2.3.4", "--force-interval", "60"],
            "force_interval",
        ),
        (
            &["--ip", "1.2.3.4", "--server", "ftp://example.com/"],
            "server",
        ),
        (
            &["--ip", "1.2.3.4", "--server", "https://u:p@example.com/"],
            "server",
        ),
        (
            &["--ip", "1.2.3.4", "--ca-file", "/nonexistent/ca.pem"],
            "ca_file",
        ),
        (&["--ip", "1.2.3.4", "--password", "x"], "password"),
        (&["--ip", "1.2.3.4", "--bogus", "x"], "bogus"),
        (&["--ip-source", "interface"], "interface"),
        (&["--ip-source", "carrier-pigeon"], "ip_source"),
        (&[], "ip"),
    ];
    for (args, field) in cases {
        let mut c = base(&server, &state);
        c.args(*args);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{field}:")),
            "{args:?}: the message must name {field}: {err}"
        );
        assert_no_password(&[&out, &err]);
    }
    assert_eq!(server.connections(), 0, "bad input must send nothing");
    assert!(!state.path().join("state.json").exists());
}

#[test]
fn missing_credentials_name_where_to_put_them() {
    let server = StubServer::plain();
    let state = TempDir::new("creds");
    let mut c = base(&server, &state);
    c.env_remove("MTGSY_PASSWORD").args(["--ip", "1.2.3.4"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(
        err.contains("password:") && err.contains("MTGSY_PASSWORD"),
        "{err}"
    );
    let mut c = cmd();
    c.args(["update", "--ip", "1.2.3.4"])
        .env("MTGSY_PASSWORD", "x");
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(err.contains("username:"), "{err}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn password_file_and_stdin() {
    let server = StubServer::plain();
    let state = TempDir::new("pwfile");
    let file = state.path().join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let mut c = base(&server, &state);
    c.env_remove("MTGSY_PASSWORD")
        .args(["--ip", "1.2.3.4", "--password-file"])
        .arg(&file);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        server.requests()[0].query("pass").unwrap(),
        PASSWORD,
        "one newline stripped"
    );
    assert_no_password(&[&out, &err]);

    let mut c = base(&server, &state);
    c.env_remove("MTGSY_PASSWORD")
        .args(["--ip", "5.6.7.8", "--password-file", "-", "--dry-run"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pass=***") && !text.contains("from-stdin"),
        "{text}"
    );

    std::fs::write(&file, "two\nlines\n").unwrap();
    let mut c = base(&server, &state);
    c.env_remove("MTGSY_PASSWORD")
        .args(["--ip", "1.2.3.4", "--password-file"])
        .arg(&file);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(
        err.contains("password_file:") && !err.contains("lines"),
        "{err}"
    );
}

#[test]
fn config_file_keys_and_flag_override() {
    let server = StubServer::plain();
    let state = TempDir::new("config");
    let config = state.path().join("config.json");
    let json = serde_json::json!({
        "username": "home.example.com",
        "password": PASSWORD,
        "server": server.url(),
        "allow_http": true,
        "ip": "1.2.3.4",
        "hb": 1,
        "offline_text": "away",
        "state": state.path().join("state.json"),
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let mut c = cmd();
    c.args(["update", "--config"])
        .arg(&config)
        .args(["--offline-text", "flag wins"]);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let r = &server.requests()[0];
    assert_eq!(r.query("email").unwrap(), "home.example.com");
    assert_eq!(r.query("hb").unwrap(), "1");
    assert_eq!(r.query("offlinetext").unwrap(), "flag wins");
    assert_no_password(&[&out, &err]);

    std::fs::write(
        &config,
        r#"{"username": "u@example.com", "port": "eighty"}"#,
    )
    .unwrap();
    let mut c = cmd();
    c.args(["update", "--config"]).arg(&config);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(err.contains("config.json: port:"), "{err}");

    // Values that are no setting's: refused by key, exit 2, and with
    // --json an "invalid" outcome on stdout.
    for value in ["[80]", "{\"n\": 80}", "80.5"] {
        std::fs::write(
            &config,
            format!(r#"{{"username": "u@example.com", "port": {value}}}"#),
        )
        .unwrap();
        let mut c = cmd();
        c.args(["update", "--json", "--config"]).arg(&config);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, 2, "{value}");
        assert!(
            err.contains("config.json: port: must be a string, a whole number or true/false"),
            "{value}: {err}"
        );
        let j: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(j["outcome"], "invalid", "{out}");
        assert_eq!(j["sent"], false, "{out}");
    }

    for text in ["not json", "[1, 2]", "{\"port\": 80} trailing"] {
        std::fs::write(&config, text).unwrap();
        let mut c = cmd();
        c.args(["update", "--config"]).arg(&config);
        let (code, _, err) = texts(&run(c));
        assert_eq!(code, 2, "{text}");
        assert!(
            err.contains("config:") && err.contains("JSON"),
            "{text}: {err}"
        );
    }
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn dry_run_shows_masked_request_and_sends_nothing() {
    let server = StubServer::plain();
    let state = TempDir::new("dry");
    let mut c = base(&server, &state);
    c.args(["--ip", "1.2.3.4", "--dry-run", "--json"]);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["outcome"], "dry-run");
    assert_eq!(j["sent"], false);
    assert_eq!(
        j["request"],
        format!(
            "{}?email=user%40example.com&pass=***&hb=0&ip=1.2.3.4",
            server.url()
        )
    );
    assert!(j["message"].as_str().unwrap().contains("would send"));
    assert_no_password(&[&out, &err]);
    assert_eq!(server.connections(), 0);
    assert!(!state.path().join("state.json").exists());
}

#[test]
fn json_output_has_the_documented_fields() {
    let server = StubServer::plain();
    let state = TempDir::new("json");
    let mut c = base(&server, &state);
    c.args(["--ip", "1.2.3.4", "--json"]);
    let (code, out, _) = texts(&run(c));
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "one JSON object, one line");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    for key in [
        "outcome",
        "ip",
        "http_status",
        "reply",
        "retry_after_s",
        "sent",
        "message",
    ] {
        assert!(j.get(key).is_some(), "missing {key}: {j}");
    }
    assert_eq!(j["ip"], "1.2.3.4");
    assert_eq!(j["reply"], "800 OK");
    assert_eq!(j["retry_after_s"], Value::Null);
}

#[test]
fn password_echoed_by_server_is_masked_everywhere() {
    let server = StubServer::plain();
    server.set_reply(
        200,
        &format!("300 bad login for pass={PASSWORD} / Zq9-unique-Pa55%21"),
    );
    let state = TempDir::new("echo");
    let mut c = base(&server, &state);
    c.args(["--ip", "1.2.3.4", "--json", "-vv"]);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 5);
    assert_no_password(&[&out, &err]);
    assert!(out.contains("pass=***"), "{out}");
    let state_text = std::fs::read_to_string(state.path().join("state.json")).unwrap();
    assert_no_password(&[&state_text]);
}

#[test]
fn status_reports_the_state() {
    let server = StubServer::plain();
    let state = TempDir::new("status");
    let mut c = base(&server, &state);
    c.args(["--ip", "1.2.3.4"])
        .env("MTGSY_DDNS_NOW", "1800000000");
    assert_eq!(run(c).status.code(), Some(0));
    let status = |extra: &[&str]| {
        let mut c = cmd();
        c.args(["status", "--state"])
            .arg(state.path().join("state.json"))
            .args(extra)
            .env("MTGSY_DDNS_NOW", "1800000100");
        texts(&run(c))
    };
    let (code, out, _) = status(&["--json"]);
    assert_eq!(code, 0);
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    let rec = &j["records"][0];
    assert_eq!(rec["username"], "user@example.com");
    assert_eq!(rec["server"], "127.0.0.1");
    assert_eq!(rec["registered_ip"], "1.2.3.4");
    assert_eq!(rec["last_result"], "updated");
    assert_eq!(rec["next_allowed_at"], 1_800_000_600i64);
    let (code, out, _) = status(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("registered address: 1.2.3.4"), "{out}");
    assert!(out.contains("allowed in 500 s"), "{out}");
    let (code, out, _) = status(&["--registered-ip"]);
    assert_eq!((code, out.as_str()), (0, "1.2.3.4\n"));
    let (code, out, _) = status(&["--registered-ip", "--username", "other@example.com"]);
    assert_eq!((code, out.as_str()), (1, ""));
}

#[test]
fn help_and_version() {
    let mut c = cmd();
    c.arg("--version");
    let (code, out, _) = texts(&run(c));
    assert_eq!(
        (code, out.trim()),
        (
            0,
            format!("mtgsy-ddns {}", env!("CARGO_PKG_VERSION")).as_str()
        )
    );
    let mut c = cmd();
    c.arg("--help");
    let (code, out, _) = texts(&run(c));
    assert_eq!(code, 0);
    for word in [
        "update",
        "status",
        "--password-file",
        "EXIT CODES",
        "--allow-http",
    ] {
        assert!(out.contains(word), "help lacks {word}");
    }
    let mut c = cmd();
    c.arg("frobnicate");
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(err.contains("not a command"), "{err}");
}

#[test]
fn private_address_allowed_with_opt_in() {
    let server = StubServer::plain();
    let state = TempDir::new("private");
    // The library says "set allow_private"; the command line names its flag.
    let mut c = base(&server, &state);
    c.args(["--ip", "192.168.1.10"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("add --allow-private"), "{err}");
    let mut c = base(&server, &state);
    c.args(["--ip", "192.168.1.10", "--allow-private"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[0].query("ip").unwrap(), "192.168.1.10");
}

/// A network namespace with a veth interface `v0` holding `addr`, removed
/// on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str, addr: &str) -> Netns {
        let name = format!("mtgsy-{tag}-{}", std::process::id());
        let ip = |args: &[&str]| {
            let st = std::process::Command::new("ip")
                .args(args)
                .status()
                .expect("the ip command (iproute2) is needed");
            assert!(st.success(), "ip {args:?} failed");
        };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let ns = Netns(name.clone());
        ip(&[
            "-n", &name, "link", "add", "v0", "type", "veth", "peer", "name", "v0p",
        ]);
        ip(&["-n", &name, "addr", "add", addr, "dev", "v0"]);
        ip(&["-n", &name, "link", "set", "v0", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[test]
fn address_from_interface() {
    if !namespaces_or_skip("address_from_interface") {
        return;
    }
    let ns = Netns::new("iface", "5.6.7.8/24");
    let state = TempDir::new("detect-if");
    let mut c = std::process::Command::new("ip");
    c.args(["netns", "exec", &ns.0, bin()])
        .args([
            "update",
            "--username",
            "user@example.com",
            "--dry-run",
            "--json",
        ])
        .args(["--ip-source", "interface", "--interface", "v0"])
        .arg("--state")
        .arg(state.path().join("state.json"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MTGSY_PASSWORD", PASSWORD);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        j["request"].as_str().unwrap().ends_with("&ip=5.6.7.8"),
        "{j}"
    );

    // Loopback is never a host's WAN address.
    let server = StubServer::plain();
    let mut c = base(&server, &state);
    c.args([
        "--ip-source",
        "interface",
        "--interface",
        "lo",
        "--allow-private",
    ]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("interface lo") && err.contains("loopback"),
        "{err}"
    );
    let mut c = base(&server, &state);
    c.args(["--ip-source", "interface", "--interface", "nosuch0"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("interface nosuch0"), "{err}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn address_from_command() {
    let server = StubServer::plain();
    let state = TempDir::new("detect-cmd");
    let mut c = base(&server, &state);
    c.args([
        "--ip-source",
        "command",
        "--ip-command",
        "echo current: 9.8.7.6",
    ]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[0].query("ip").unwrap(), "9.8.7.6");
    let mut c = base(&server, &state);
    c.args([
        "--ip-source",
        "command",
        "--ip-command",
        "echo no address; exit 0",
    ]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no IPv4 address"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn address_from_web_page() {
    let server = StubServer::plain();
    let checkip = StubServer::plain();
    checkip.set_reply(200, "<html><body>Current IP Address: 4.3.2.1</body></html>");
    let state = TempDir::new("detect-web");
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[0].query("ip").unwrap(), "4.3.2.1");
    assert!(
        checkip.requests()[0].query("pass").is_none(),
        "the check-IP page gets no secrets"
    );
    assert!(
        err.contains("warning:") && err.contains("plain HTTP") && err.contains("forge"),
        "a plain-HTTP address page is warned about: {err}"
    );
}

#[test]
fn address_page_redirects_are_followed_only_to_https() {
    let server = StubServer::plain();
    let state = TempDir::new("detect-redirect");
    // To another plain-HTTP page: refused, nothing fetched there, nothing sent.
    let other = StubServer::plain();
    other.set_reply(200, "6.6.6.6");
    let checkip = StubServer::plain();
    checkip.set_behaviour(Behaviour::ReplyWithHeaders(
        302,
        vec![format!("Location: {}", other.url())],
        String::new(),
    ));
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("only https://"), "{err}");
    assert_eq!(other.connections(), 0);
    assert_eq!(server.connections(), 0);

    // A relative redirect on a plain-HTTP page stays plain: refused too.
    checkip.set_behaviour(Behaviour::ReplyWithHeaders(
        301,
        vec!["Location: /elsewhere".into()],
        String::new(),
    ));
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert_eq!(checkip.requests().len(), 2, "not followed to /elsewhere");

    // To https://: followed (the test CA is not in the web PKI, so the
    // handshake fails, but it was attempted).
    let tls = StubServer::tls();
    checkip.set_behaviour(Behaviour::ReplyWithHeaders(
        307,
        vec![format!("Location: {}", tls.url())],
        String::new(),
    ));
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(tls.connections(), 1, "the https:// redirect was followed");
    assert_eq!(server.connections(), 0);

    // With the test CA as the system's bundle, the https:// page after the
    // plain one is trusted and gives the address.
    tls.set_reply(200, "Current IP Address: 5.4.3.2");
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url())
        .env("SSL_CERT_FILE", tls.ca_pem_path());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[0].query("ip").unwrap(), "5.4.3.2");
}

#[test]
fn address_command_gets_no_secret_in_its_environment() {
    let server = StubServer::plain();
    let state = TempDir::new("detect-cmd-env");
    let env_file = state.path().join("env");
    let command = format!("env >'{}'; echo 9.8.7.6", env_file.display());
    // Password and user name from the environment.
    let mut c = base(&server, &state);
    c.env("MTGSY_USERNAME", "user@example.com")
        .env("HARMLESS_VAR", "kept")
        .args(["--ip-source", "command", "--ip-command", &command]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains("HARMLESS_VAR=kept"), "{env}");
    for gone in ["MTGSY_PASSWORD", "MTGSY_USERNAME", PASSWORD] {
        assert!(!env.contains(gone), "{gone} reached the command:\n{env}");
    }
    // Password from a file, with a copy of it in some other variable.
    let pw = state.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let mut c = base(&server, &state);
    c.env_remove("MTGSY_PASSWORD")
        .env("SOME_COPY", format!("x{PASSWORD}y"))
        .args([
            "--ip-source",
            "command",
            "--ip-command",
            &command,
            "--force",
        ])
        .arg("--password-file")
        .arg(&pw);
    let (_, _, err) = texts(&run(c));
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains("PATH="), "{err}{env}");
    assert!(
        !env.contains("SOME_COPY") && !env.contains(PASSWORD),
        "{env}"
    );
}

#[test]
fn address_from_https_page_is_checked_against_the_web_pki() {
    // The check-IP page's certificate comes from a test CA, which is not
    // in the system's CA bundle: the run must end with a clear certificate
    // error (exit 4, nothing sent), not a crash.
    let server = StubServer::plain();
    let checkip = StubServer::tls();
    let state = TempDir::new("detect-web-tls");
    let mut c = base(&server, &state);
    c.args(["--ip-source", "web", "--ip-url"])
        .arg(checkip.url());
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(checkip.connections(), 1, "the TLS handshake was attempted");
    assert_eq!(server.connections(), 0);
}

#[test]
fn an_address_option_alone_selects_its_source() {
    let server = StubServer::plain();
    let state = TempDir::new("source-alone");
    let mut c = base(&server, &state);
    c.args(["--ip-command", "echo 9.8.7.6"])
        .env("MTGSY_DDNS_NOW", "2000000000");
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[0].query("ip").unwrap(), "9.8.7.6");

    // The same from a config file, keys spelt as the flags are.
    let config = state.path().join("config.json");
    let json = serde_json::json!({
        "ip-command": "echo 9.8.7.5",
        "allow-http": true,
        "offline-text": "away",
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let mut c = base(&server, &state);
    c.arg("--config")
        .arg(&config)
        .env("MTGSY_DDNS_NOW", "2000000700");
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let r = &server.requests()[1];
    assert_eq!(r.query("ip").unwrap(), "9.8.7.5");
    assert_eq!(r.query("offlinetext").unwrap(), "away");

    // An address flag replaces the config file's address source.
    let mut c = base(&server, &state);
    c.arg("--config")
        .arg(&config)
        .args(["--ip", "9.8.7.4"])
        .env("MTGSY_DDNS_NOW", "2000001400");
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.requests()[2].query("ip").unwrap(), "9.8.7.4");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn two_address_sources_are_refused_naming_both() {
    let server = StubServer::plain();
    let state = TempDir::new("two-sources");
    let cases: &[(&[&str], [&str; 2])] = &[
        (
            &["--ip", "1.2.3.4", "--ip-command", "echo 5.6.7.8"],
            ["ip", "ip_command"],
        ),
        (
            &["--ip-url", "https://x.example/", "--interface", "eth0"],
            ["interface", "ip_url"],
        ),
        (
            &["--ip-source", "web", "--ip-command", "echo 5.6.7.8"],
            ["ip_source", "ip_command"],
        ),
        (
            &["--ip-source", "interface", "--ip", "1.2.3.4"],
            ["ip_source", "ip"],
        ),
    ];
    for (args, [a, b]) in cases {
        let mut c = base(&server, &state);
        c.args(*args);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{a}:")) && err.contains(b) && err.contains("one address source"),
            "{args:?}: {err}"
        );
        assert_eq!(out, "", "{args:?}");
    }
    // A config file's keys, however spelt, follow the same rules.
    let config = state.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"ip": "1.2.3.4", "ip-command": "echo 5.6.7.8"}"#,
    )
    .unwrap();
    let mut c = base(&server, &state);
    c.arg("--config").arg(&config);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ip:") && err.contains("ip_command"), "{err}");
    assert_eq!(server.connections(), 0, "nothing sent");
    assert!(!state.path().join("state.json").exists());
}

#[test]
fn no_arguments_print_the_usage_on_stderr() {
    let (code, out, err) = texts(&run(cmd()));
    assert_eq!(code, 2);
    assert_eq!(out, "", "nothing on stdout");
    assert!(
        err.contains("USAGE:") && err.contains("mtgsy-ddns update") && err.contains("--help"),
        "{err}"
    );
}

#[test]
fn readable_files_holding_the_password_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let server = StubServer::plain();
    let state = TempDir::new("secret-modes");
    let config = state.path().join("config.json");
    let json = serde_json::json!({"password": PASSWORD, "ip": "1.2.3.4"});
    std::fs::write(&config, json.to_string()).unwrap();
    let pw = state.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let chmod = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let with_config = || {
        let mut c = base(&server, &state);
        c.env_remove("MTGSY_PASSWORD")
            .args(["--dry-run", "--config"])
            .arg(&config);
        texts(&run(c))
    };
    let with_file = || {
        let mut c = base(&server, &state);
        c.env_remove("MTGSY_PASSWORD")
            .args(["--dry-run", "--ip", "1.2.3.4", "--password-file"])
            .arg(&pw);
        texts(&run(c))
    };
    for mode in [0o644, 0o640, 0o604] {
        chmod(&config, mode);
        chmod(&pw, mode);
        for (path, (code, _, err)) in [(&config, with_config()), (&pw, with_file())] {
            assert_eq!(code, 0, "a warning, not an error: {err}");
            let fix = format!("chmod 600 {}", path.display());
            assert!(
                err.contains("warning:") && err.contains(&fix),
                "{mode:o} {}: {err}",
                path.display()
            );
        }
    }
    chmod(&config, 0o600);
    chmod(&pw, 0o600);
    for (code, _, err) in [with_config(), with_file()] {
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("chmod"), "{err}");
    }
    // A config file without the password is not warned about.
    std::fs::write(&config, r#"{"ip": "1.2.3.4"}"#).unwrap();
    chmod(&config, 0o644);
    let (code, _, err) = texts(&run({
        let mut c = base(&server, &state);
        c.args(["--dry-run", "--config"]).arg(&config);
        c
    }));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("chmod"), "{err}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn config_prints_the_resolved_settings_never_the_password() {
    let state = TempDir::new("show");
    let config = state.path().join("config.json");
    let json = serde_json::json!({
        "username": "home.example.com.",
        "password": PASSWORD,
        "ip": "1.2.3.4",
        "hb": 1,
        "offline_text": "away",
        "timeout": 10,
    });
    std::fs::write(&config, json.to_string()).unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // file, then the environment, then the flags; an address flag replaces
    // the file's address source
    let mut c = cmd();
    c.args(["config", "--json", "--config"])
        .arg(&config)
        .args(["--timeout", "20", "--interface", "eth0", "--allow-private"])
        .env("MTGSY_USERNAME", "me@example.com");
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_no_password(&[&out, &err]);
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    for (key, value) in [
        ("username", Value::from("me@example.com")),
        ("password", "(set)".into()),
        ("password_file", Value::Null),
        ("ip", Value::Null),
        ("interface", "eth0".into()),
        ("hb", "1".into()),
        ("offline_text", "away".into()),
        ("allow_private", "1".into()),
        ("allow_http", "0".into()),
        ("timeout", "20".into()),
        ("force_interval", "259200".into()),
        ("check_interval", "600".into()),
        ("server", "https://www.mtgsy.net/dns/update.php".into()),
        ("port", Value::Null),
    ] {
        assert_eq!(j[key], value, "{key}: {out}");
    }

    // text: key = value lines, every setting, nothing sent or written
    let mut c = cmd();
    c.args(["config", "--config"]).arg(&config);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_no_password(&[&out, &err]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"username = home.example.com"), "{out}");
    assert!(lines.contains(&"password = (set)"), "{out}");
    assert!(lines.contains(&"ip = 1.2.3.4"), "{out}");
    assert!(lines.contains(&"mx ="), "{out}");
    assert!(lines.iter().all(|l| l.contains(" =")), "{out}");
    assert_eq!(lines.len(), mtgsy_ddns::config::SETTINGS.len(), "{out}");

    // bad input: exit 2 as for update, with --json an "invalid" outcome
    for bad in [
        &["--port", "80"][..],
        &["--ip", "5.6.7.8", "--interface", "eth0"],
    ] {
        let mut c = cmd();
        c.args(["config", "--json", "--config"])
            .arg(&config)
            .args(bad);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, 2, "{bad:?}: {err}");
        let j: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(j["outcome"], "invalid", "{out}");
        assert_no_password(&[&out, &err]);
    }
    let mut c = cmd();
    c.args(["config", "--username", "me@example.com", "--ip", "1.2.3.4"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(err.contains("password: is missing"), "{err}");
    let mut c = cmd();
    c.args(["config", "--colour", "red"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(err.contains("--colour is not an option"), "{err}");
}

#[test]
fn any_number_of_v_is_taken() {
    let server = StubServer::plain();
    let state = TempDir::new("vvv");
    for v in [
        &["-v"][..],
        &["-vv"],
        &["-vvv"],
        &["-v", "-vv", "--verbose"],
    ] {
        let mut c = base(&server, &state);
        c.args(["--ip", "1.2.3.4", "--dry-run"]).args(v);
        let (code, _, err) = texts(&run(c));
        assert_eq!(code, 0, "{v:?}: {err}");
    }
    assert!(server.requests().is_empty());
}
