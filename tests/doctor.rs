//! `mtgsy-ddns doctor` against stand-ins on 127.0.0.1: what it reports, its
//! exit codes, and what it never does (send an update request, use the
//! password, write the state file).
//!
//! The double-NAT tests run the binary in a network namespace of its own
//! with a WAN device `wan0` holding a chosen address, and the
//! stand-ins (a web page answering the "outside" address, the HTTPS update
//! server) started inside it; they need root and say `skipped: ...`
//! without it. The others need nothing but loopback.

mod common;

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{cmd, run, texts, Netns, StubServer, TempDir, TlsOptions};

const PASSWORD: &str = "d0ctor-s3cret-pw";

/// `mtgsy-ddns doctor` for `user@example.com` against `server`, trusting
/// its test CA, with the state file in `dir` and the password in the
/// environment (which doctor must ignore).
fn doctor(server: &StubServer, dir: &TempDir) -> Command {
    let mut c = cmd();
    c.args(["doctor", "--username", "user@example.com", "--timeout", "5"])
        .args(["--server", &server.url()])
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .env("MTGSY_PASSWORD", PASSWORD);
    if server.url().starts_with("https:") {
        c.arg("--ca-file").arg(server.ca_pem_path());
    } else {
        c.arg("--allow-http");
    }
    c
}

/// Runs `c`: exit code, stdout, stderr; fails the test if the password
/// shows anywhere.
fn outcome(c: Command) -> (i32, String, String) {
    let (code, out, err) = texts(&run(c));
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "the password leaked:\n{out}\n{err}"
    );
    (code, out, err)
}

/// `c` run inside `ns` (entered between fork and exec).
fn inside(ns: &Netns, mut c: Command) -> Command {
    let file = ns.file();
    // SAFETY: only setns(2), async-signal-safe, runs between fork and exec;
    // the namespace file stays open in the closure, which the command keeps.
    unsafe {
        c.pre_exec(move || {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

/// A namespace with a WAN device `wan0` (a veth pair's end, as the
/// watch tests make it) holding `address` (with its prefix).
fn wan_with(address: &str) -> Netns {
    let ns = Netns::new("d");
    ns.ip(&[
        "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p",
    ]);
    ns.ip(&["addr", "add", address, "dev", "wan0"]);
    ns.ip(&["link", "set", "wan0", "up"]);
    ns.ip(&["link", "set", "wan0p", "up"]);
    ns
}

/// A plain-HTTP page inside `ns` answering `address`, as a "what is my
/// address" page would.
fn outside_page(ns: &Netns, address: &str) -> StubServer {
    let page = ns.inside(StubServer::plain);
    page.set_reply(200, &format!("Current IP Address: {address}"));
    page
}

/// The update server was reached (a connection) but got no request.
fn handshake_only(server: &StubServer) {
    // A plain connection closed at once may be counted a moment after
    // the run ends.
    let start = std::time::Instant::now();
    while server.connections() == 0 && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(server.connections() >= 1, "the server was never contacted");
    assert!(
        server.requests().is_empty(),
        "doctor sent a request: {:?}",
        server.requests()
    );
}

#[test]
fn cgnat_wan_with_another_outside_address_is_double_nat() {
    if !common::namespaces_or_skip("cgnat_wan_with_another_outside_address_is_double_nat") {
        return;
    }
    let ns = wan_with("100.64.3.4/10");
    let page = outside_page(&ns, "203.0.113.7");
    let server = ns.inside(StubServer::tls);
    let dir = TempDir::new("doctor-cgnat");
    let mut c = doctor(&server, &dir);
    c.args(["--interface", "wan0", "--check-url", &page.url()]);
    let (code, out, _) = outcome(inside(&ns, c));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "  [warn] double NAT / CGNAT: wan0 has 100.64.3.4 (a carrier-grade NAT (100.64.0.0/10) address) but the outside sees 203.0.113.7 — a DNS record pointing at 203.0.113.7 will not reach this router unless the upstream router or the ISP forwards ports to it"
        ),
        "{out}"
    );
    assert!(
        out.contains("  [info] IPv4 addresses on this box: 100.64.3.4 on wan0\n"),
        "{out}"
    );
    // update refuses a CGNAT address: the guard is not asked about it.
    assert!(
        out.contains("  [error] interface wan0 gives an address update refuses: 100.64.3.4 is a carrier-grade NAT"),
        "{out}"
    );
    assert!(!out.contains("an update may go now"), "{out}");
    assert!(
        out.contains(&format!(
            "  [info] {} sees this router as 203.0.113.7\n",
            page.url()
        )),
        "{out}"
    );

    let mut c = doctor(&server, &dir);
    c.args(["--interface", "wan0", "--check-url", &page.url(), "--json"]);
    let (code, out, _) = outcome(inside(&ns, c));
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(json["ok"], false);
    let host = &json["hosts"][0];
    assert_eq!(host["address"], "100.64.3.4");
    assert_eq!(host["outside"], "203.0.113.7");
    assert_eq!(host["interfaces"][0]["name"], "wan0");
    let nat = host["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "double_nat")
        .unwrap_or_else(|| panic!("no double_nat finding: {out}"));
    assert_eq!(nat["severity"], "warn");
    assert!(nat["message"].as_str().unwrap().contains("100.64.3.4"));
    assert!(nat["action"].as_str().unwrap().contains("203.0.113.7"));
    handshake_only(&server);
    assert!(!dir.path().join("state.json").exists());
}

#[test]
fn a_wan_address_the_outside_sees_too_is_all_well() {
    if !common::namespaces_or_skip("a_wan_address_the_outside_sees_too_is_all_well") {
        return;
    }
    let ns = wan_with("198.51.100.9/24");
    let page = outside_page(&ns, "198.51.100.9");
    let server = ns.inside(StubServer::tls);
    let dir = TempDir::new("doctor-clean");
    let mut c = doctor(&server, &dir);
    c.args(["--interface", "wan0", "--allow-private"])
        .args(["--check-url", &page.url()]);
    let (code, out, _) = outcome(inside(&ns, c));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("  [ok] wan0 has 198.51.100.9, the address the outside sees\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  [ok] 127.0.0.1:{} answers TLS with a trusted certificate\n",
            server.port()
        )),
        "{out}"
    );
    assert!(!out.contains("[warn]") && !out.contains("[error]"), "{out}");
    handshake_only(&server);
}

#[test]
fn an_outside_address_on_no_interface_is_behind_another_nat() {
    if !common::namespaces_or_skip("an_outside_address_on_no_interface_is_behind_another_nat") {
        return;
    }
    // No WAN device named: the web source alone, on a box whose only
    // address is private.
    let ns = wan_with("192.168.0.2/24");
    let page = outside_page(&ns, "203.0.113.7");
    let server = ns.inside(StubServer::tls);
    let dir = TempDir::new("doctor-behind");
    let mut c = doctor(&server, &dir);
    c.args(["--ip-url", &page.url(), "--allow-private"]);
    let (code, out, _) = outcome(inside(&ns, c));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("  [info] 203.0.113.7 is on no interface of this box: another router's NAT is in front of it — a record pointing at 203.0.113.7 reaches this box only if that router forwards ports to it"),
        "{out}"
    );
    handshake_only(&server);
}

#[test]
fn all_well_exits_0_with_dns_matching_and_no_password_read() {
    let server = StubServer::tls();
    let dir = TempDir::new("doctor-ok");
    let mut c = doctor(&server, &dir);
    // A password file that does not exist: update would stop at it
    // (exit 2); doctor never opens it.
    c.args([
        "--ip",
        "127.0.0.1",
        "--allow-private",
        "--lookup-host",
        "localhost",
    ])
    .arg("--password-file")
    .arg(dir.path().join("no-such-password"));
    let (code, out, err) = outcome(c);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("user@example.com at 127.0.0.1\n"), "{out}");
    assert!(
        out.contains("  [ok] localhost resolves to 127.0.0.1, the address to register\n"),
        "{out}"
    );
    assert!(
        out.contains("  [info] fixed 127.0.0.1 gives 127.0.0.1\n"),
        "{out}"
    );
    // As update does, an empty state counts an address lookup_host
    // resolves to as registered.
    assert!(
        out.contains("  [ok] 127.0.0.1 is registered; the next refresh goes at "),
        "{out}"
    );
    handshake_only(&server);
    assert!(!dir.path().join("state.json").exists());
    assert!(!dir.path().join("state.json.lock").exists());

    // Without lookup_host: a first update may go now.
    let mut c = doctor(&server, &dir);
    c.args(["--ip", "127.0.0.1", "--allow-private"]);
    let (code, out, _) = outcome(c);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("  [info] an update may go now: first update, 127.0.0.1\n"),
        "{out}"
    );

    // update agrees with the first answer: nothing to send.
    let mut c = common::update_cmd(&server.url(), &dir.path().join("state.json"));
    c.args([
        "--ip",
        "127.0.0.1",
        "--allow-private",
        "--lookup-host",
        "localhost",
    ])
    .arg("--ca-file")
    .arg(server.ca_pem_path());
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(server.requests().is_empty(), "update sent a request");
}

#[test]
fn a_closed_port_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = TempDir::new("doctor-closed");
    let mut c = cmd();
    c.args([
        "doctor",
        "--username",
        "user@example.com",
        "--ip",
        "8.8.8.8",
    ])
    .args([
        "--server",
        &format!("https://127.0.0.1:{port}/dns/update.php"),
    ])
    .arg("--state")
    .arg(dir.path().join("state.json"));
    let (code, out, _) = outcome(c);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "  [error] 127.0.0.1:{port} cannot be reached: connection refused — check the network"
        )),
        "{out}"
    );
}

#[test]
fn an_untrusted_certificate_or_a_wrong_name_is_an_error() {
    let dir = TempDir::new("doctor-cert");
    // The test CA not given: the web PKI does not know it.
    let server = StubServer::tls();
    let mut c = cmd();
    c.args([
        "doctor",
        "--username",
        "user@example.com",
        "--ip",
        "8.8.8.8",
    ])
    .args(["--server", &server.url()])
    .arg("--state")
    .arg(dir.path().join("state.json"))
    .env("MTGSY_PASSWORD", PASSWORD);
    let (code, out, _) = outcome(c);
    assert_eq!(code, 1, "{out}");
    let line = format!(
        "  [error] the certificate of 127.0.0.1:{} is not trusted: invalid peer certificate: UnknownIssuer — check the clock, ca_file",
        server.port()
    );
    assert!(out.contains(&line), "{out}");
    handshake_only(&server);

    // The CA given, but the certificate names another host.
    let other = StubServer::tls_with(TlsOptions {
        names: Some(vec!["other.example".into()]),
        ..TlsOptions::default()
    });
    let mut c = doctor(&other, &dir);
    c.args(["--ip", "8.8.8.8", "--json"]);
    let (code, out, _) = outcome(c);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["hosts"][0]["server_tls"], "untrusted");
    let finding = json["hosts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "tls_certificate")
        .unwrap_or_else(|| panic!("{out}"))
        .clone();
    assert_eq!(finding["severity"], "error");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("not valid for name"),
        "{finding}"
    );
    handshake_only(&other);
}

#[test]
fn a_clock_in_1970_is_not_set() {
    let server = StubServer::tls();
    let dir = TempDir::new("doctor-clock");
    let mut c = doctor(&server, &dir);
    c.args(["--ip", "8.8.8.8"]).env("MTGSY_DDNS_NOW", "0");
    let (code, out, _) = outcome(c);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "  [error] the clock reads 1970-01-01 00:00 UTC, before this program was built ("
        ),
        "{out}"
    );
    assert!(
        out.contains("): the clock is not set (no NTP yet?) — wait for NTP or set the time"),
        "{out}"
    );
}

#[test]
fn plain_http_is_not_encrypted() {
    let server = StubServer::plain();
    let dir = TempDir::new("doctor-plain");
    let mut c = doctor(&server, &dir);
    c.args(["--ip", "8.8.8.8"]);
    let (code, out, _) = outcome(c);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "  [warn] 127.0.0.1:{} is plain HTTP: not encrypted — use an https:// server",
            server.port()
        )),
        "{out}"
    );
    handshake_only(&server);
}

/// The time of the runs below: a plausible clock, whatever the machine's.
const T: i64 = 1_800_000_000;

#[test]
fn the_guard_holds_as_update_would_and_the_state_is_left_alone() {
    let server = StubServer::plain();
    let dir = TempDir::new("doctor-guard");
    let state = dir.path().join("state.json");
    // One accepted update of 127.0.0.1 at T.
    let mut c = common::update_cmd(&server.url(), &state);
    c.args(["--ip", "127.0.0.1", "--allow-private", "--allow-http"])
        .env("MTGSY_DDNS_NOW", T.to_string());
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.requests().len(), 1);
    let before = fs::read(&state).unwrap();
    let modified = fs::metadata(&state).unwrap().modified().unwrap();

    // A new address a minute later: the floor holds until T + 600.
    let at = |now: i64, ip: &str| {
        let mut c = doctor(&server, &dir);
        c.args(["--ip", ip, "--allow-private", "--json"])
            .env("MTGSY_DDNS_NOW", now.to_string());
        let (_, out, _) = outcome(c);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        json["hosts"][0].clone()
    };
    let host = at(T + 60, "127.0.0.2");
    assert_eq!(host["next_reason"], "floor");
    assert_eq!(host["next_allowed_at"], T + 600);
    assert_eq!(host["registered_ip"], "127.0.0.1");
    assert_eq!(host["registered_at"], T);
    // update says the same.
    let mut c = common::update_cmd(&server.url(), &state);
    c.args([
        "--ip",
        "127.0.0.2",
        "--allow-private",
        "--allow-http",
        "--json",
    ])
    .env("MTGSY_DDNS_NOW", (T + 60).to_string());
    let (code, out, _) = texts(&run(c));
    assert_eq!(code, 3, "{out}");
    let update: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(update["retry_after_s"], 540);

    // The registered address: unchanged until the 72 h refresh.
    let host = at(T + 60, "127.0.0.1");
    assert_eq!(host["next_reason"], "unchanged");
    assert_eq!(host["next_allowed_at"], T + 72 * 3600);
    let mut c = doctor(&server, &dir);
    c.args(["--ip", "127.0.0.1", "--allow-private"])
        .env("MTGSY_DDNS_NOW", (T + 60).to_string());
    let (_, out, _) = outcome(c);
    assert!(
        out.contains("  [info] last accepted: 127.0.0.1 at 2027-01-15 08:00 UTC\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  [ok] 127.0.0.1 is registered; the next refresh goes at 2027-01-18 08:00 UTC\n"
        ),
        "{out}"
    );

    // Nothing was sent and the state file is as the update left it.
    assert_eq!(server.requests().len(), 1, "doctor sent a request");
    assert_eq!(fs::read(&state).unwrap(), before);
    assert_eq!(fs::metadata(&state).unwrap().modified().unwrap(), modified);
}

#[test]
fn each_host_of_a_config_file_gets_a_block_and_the_password_stays_out() {
    let server = StubServer::tls();
    let dir = TempDir::new("doctor-hosts");
    let config = dir.path().join("config.json");
    let text = serde_json::json!({
        "server": server.url(),
        "ca_file": server.ca_pem_path(),
        "password": PASSWORD,
        "ip": "127.0.0.1",
        "allow_private": true,
        "state": dir.path().join("state.json"),
        "hosts": [{"username": "a@example.com"}, {"username": "b@example.com"}],
    });
    fs::write(&config, text.to_string()).unwrap();
    set_mode(&config, 0o600);
    let mut c = cmd();
    c.args(["doctor", "--config"]).arg(&config);
    let (code, out, err) = outcome(c);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("a@example.com at 127.0.0.1\n"), "{out}");
    assert!(out.contains("\n\nb@example.com at 127.0.0.1\n"), "{out}");

    let mut c = cmd();
    c.args(["doctor", "--json", "--config"]).arg(&config);
    let (code, out, _) = outcome(c);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["hosts"].as_array().unwrap().len(), 2);
    assert_eq!(json["hosts"][1]["username"], "b@example.com");
    handshake_only(&server);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn bad_input_is_exit_2_and_nothing_is_probed() {
    let server = StubServer::tls();
    let dir = TempDir::new("doctor-bad");
    let not_pem = dir.path().join("not.pem");
    fs::write(&not_pem, "no certificate here").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--ip", "8.8.8.8", "--timeout", "0"], "timeout"),
        (
            &["--ip", "8.8.8.8", "--check-url", "ftp://x.example/"],
            "check_url",
        ),
        (&["--ip", "8.8.8.8", "--interface", "wan0"], "ip"),
        (
            &["--ip", "8.8.8.8", "--ca-file", not_pem.to_str().unwrap()],
            "ca_file",
        ),
    ];
    for (args, field) in cases {
        let mut c = doctor(&server, &dir);
        c.args(args);
        let (code, out, err) = outcome(c);
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(err.contains(field), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    // Options of a command that sends.
    for flag in ["--force", "--dry-run"] {
        let mut c = doctor(&server, &dir);
        c.args(["--ip", "8.8.8.8", flag]);
        let (code, out, err) = outcome(c);
        assert_eq!(code, 2, "{flag}: {out}\n{err}");
        assert!(
            err.contains(&format!(
                "doctor: {flag} is for `mtgsy-ddns update`; doctor never sends one"
            )),
            "{err}"
        );
        assert!(out.is_empty(), "{out}");
    }
    // No user name.
    let mut c = cmd();
    c.args(["doctor", "--ip", "8.8.8.8", "--server", &server.url()]);
    let (code, _, err) = outcome(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("username"), "{err}");
    assert_eq!(server.connections(), 0, "probed despite bad input");
}
