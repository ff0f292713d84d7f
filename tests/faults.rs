//! Fault injection against loopback servers: each fault gives the right exit
//! code and state, in bounded time and memory.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const T0: i64 = 1_800_000_000;

struct Run {
    code: i32,
    json: Value,
    err: String,
    took: Duration,
    rss_kib: u64,
}

/// One `update --json` against `url`, timed, under GNU time for peak RSS.
fn update(url: &str, state: &TempDir, extra: &[&str]) -> Run {
    assert!(
        std::path::Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is missing: apt-get install time"
    );
    let mut c = std::process::Command::new("/usr/bin/time");
    c.args(["-f", "RSS=%M", bin()])
        .args([
            "update",
            "--username",
            "user@example.com",
            "--ip",
            "1.2.3.4",
            "--json",
            "--allow-http",
        ])
        .args(["--server", url, "--timeout", "2"])
        .arg("--state")
        .arg(state.path().join("state.json"))
        .args(extra)
        .env_clear()
        .env("MTGSY_PASSWORD", "pw")
        .env("MTGSY_DDNS_NOW", T0.to_string());
    let start = Instant::now();
    let out = run(c);
    let took = start.elapsed();
    let (code, stdout, err) = texts(&out);
    let rss_kib = err
        .lines()
        .filter_map(|l| l.strip_prefix("RSS="))
        .find_map(|v| v.trim().parse().ok())
        .expect("GNU time printed the peak RSS");
    let json =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout:?}: {e}; {err}"));
    Run {
        code,
        json,
        err,
        took,
        rss_kib,
    }
}

fn state_record(state: &TempDir) -> Value {
    let v: Value =
        serde_json::from_slice(&std::fs::read(state.path().join("state.json")).unwrap()).unwrap();
    v["records"][0]["record"].clone()
}

/// Assert a failure that may have reached the server: exit 4, counted
/// toward the floor.
fn assert_failed_sent(r: &Run, state: &TempDir) {
    assert_eq!(r.code, 4, "{} {}", r.json, r.err);
    assert_eq!(r.json["sent"], true, "{}", r.json);
    assert_eq!(r.json["retry_after_s"], 600, "{}", r.json);
    let rec = state_record(state);
    assert_eq!(rec["last_result"], "failed_sent");
    // Counted from when the attempt ended: a slow server moves the floor
    // later, never earlier.
    let at = rec["last_attempt_at"].as_i64().unwrap();
    assert!(
        (T0..=T0 + r.took.as_secs() as i64 + 1).contains(&at),
        "{at} after {:?}",
        r.took
    );
}

/// Assert a failure before anything reached the server: exit 4, backoff only.
fn assert_failed_unsent(r: &Run, state: &TempDir) {
    assert_eq!(r.code, 4, "{} {}", r.json, r.err);
    assert_eq!(r.json["sent"], false, "{}", r.json);
    assert_eq!(r.json["retry_after_s"], 60, "{}", r.json);
    let rec = state_record(state);
    assert_eq!(rec["last_result"], "failed_unsent");
    assert!(rec["last_attempt_at"].is_null());
}

fn bounded(r: &Run) {
    assert!(r.took < Duration::from_secs(8), "took {:?}", r.took);
    assert!(r.rss_kib < 16 * 1024, "peak RSS {} KiB", r.rss_kib);
}

#[test]
fn reset_before_the_request_is_read() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::CloseAtOnce);
    let state = TempDir::new("f-reset0");
    let r = update(&s.url(), &state, &[]);
    // The client cannot tell whether its bytes were read: it counts them.
    assert_failed_sent(&r, &state);
    bounded(&r);
}

#[test]
fn reset_after_the_request_was_read() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::CloseAfterRequest);
    let state = TempDir::new("f-reset1");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    assert_eq!(s.requests().len(), 1);
    bounded(&r);
}

#[test]
fn reset_mid_body_is_an_unknown_outcome() {
    // A body cut short is no answer, even if it starts like success.
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n800 OK, upd".to_vec(),
    ));
    let state = TempDir::new("f-midbody");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    assert!(
        r.json["message"].as_str().unwrap().contains("cut short"),
        "{}",
        r.json
    );
    assert_eq!(
        state_record(&state)["registered_ip"],
        serde_json::Value::Null
    );
    bounded(&r);
}

#[test]
fn server_that_never_answers() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::Hang);
    let state = TempDir::new("f-hang");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    bounded(&r);
}

#[test]
fn slow_headers_time_out() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::Trickle(Duration::from_millis(300)));
    let state = TempDir::new("f-slow");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    bounded(&r);
}

#[test]
fn one_mib_header_line_is_refused() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::HugeHeader(1 << 20));
    let state = TempDir::new("f-hugehdr");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    bounded(&r);
}

#[test]
fn invalid_utf8_reply_is_read_lossily() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n800 \xff\xfeok".to_vec(),
    ));
    let state = TempDir::new("f-utf8");
    let r = update(&s.url(), &state, &[]);
    assert_eq!(r.code, 0, "{}", r.json);
    assert_eq!(r.json["reply"], "800 \u{fffd}\u{fffd}ok");
    bounded(&r);
}

#[test]
fn garbage_instead_of_http() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::Raw(b"\x00\x01garbage\r\n\r\n".to_vec()));
    let state = TempDir::new("f-garbage");
    let r = update(&s.url(), &state, &[]);
    assert_failed_sent(&r, &state);
    bounded(&r);
}

#[test]
fn chunked_reply_that_never_ends() {
    let s = StubServer::plain();
    s.set_behaviour(Behaviour::ChunkedForever);
    let state = TempDir::new("f-chunked");
    let r = update(&s.url(), &state, &[]);
    // A 200 status arrived, but the body is cut at the timeout or at
    // 64 KiB: too long or cut short, the outcome is unknown, never success.
    assert_failed_sent(&r, &state);
    bounded(&r);
}

fn tls_update(options: TlsOptions, tag: &str) -> (StubServer, TempDir, Run) {
    let s = StubServer::tls_with(options);
    let state = TempDir::new(tag);
    let ca = s.ca_pem_path();
    let r = update(&s.url(), &state, &["--ca-file", ca.to_str().unwrap()]);
    (s, state, r)
}

#[test]
fn wrong_host_name_on_the_certificate() {
    let options = TlsOptions {
        names: Some(vec!["other.example.com".into()]),
        ..TlsOptions::default()
    };
    let (s, state, r) = tls_update(options, "f-wrongname");
    assert_failed_unsent(&r, &state);
    assert!(
        s.requests().is_empty(),
        "the password must not cross a failed handshake"
    );
    assert!(
        r.err.contains("certificate") || r.err.contains("TLS"),
        "{}",
        r.err
    );
    bounded(&r);
}

#[test]
fn expired_certificate() {
    let options = TlsOptions {
        expired: true,
        ..TlsOptions::default()
    };
    let (s, state, r) = tls_update(options, "f-expired");
    assert_failed_unsent(&r, &state);
    assert!(s.requests().is_empty());
    assert!(r.err.to_lowercase().contains("expired"), "{}", r.err);
    bounded(&r);
}

#[test]
fn tls12_only_server() {
    let options = TlsOptions {
        only_version: Some(12),
        ..TlsOptions::default()
    };
    let (s, _state, r) = tls_update(options, "f-tls12");
    assert_eq!(r.code, 0, "{} {}", r.json, r.err);
    assert_eq!(s.requests().len(), 1);
    bounded(&r);
}

#[test]
fn tls13_only_server() {
    let options = TlsOptions {
        only_version: Some(13),
        ..TlsOptions::default()
    };
    let (s, _state, r) = tls_update(options, "f-tls13");
    assert_eq!(r.code, 0, "{} {}", r.json, r.err);
    assert_eq!(s.requests().len(), 1);
    bounded(&r);
}

#[test]
fn plain_http_to_a_tls_port() {
    let s = StubServer::tls();
    let state = TempDir::new("f-mismatch");
    let url = s.url().replace("https://", "http://");
    let r = update(&url, &state, &[]);
    // The request went out in clear text to a TLS server: it counts.
    assert_failed_sent(&r, &state);
    bounded(&r);
}

/// The client's TLS algorithms are pruned (src/crypto.rs): every key type
/// a public CA uses must still work, over TLS 1.3 and 1.2.
#[test]
fn rsa_and_p384_certificates_are_accepted() {
    for (key, version) in [
        (KeyKind::Rsa2048, None),
        (KeyKind::Rsa2048, Some(12)),
        (KeyKind::EcdsaP384, None),
        (KeyKind::EcdsaP384, Some(12)),
        (KeyKind::EcdsaP256, Some(12)),
    ] {
        let options = TlsOptions {
            key,
            only_version: version,
            ..TlsOptions::default()
        };
        let (s, _state, r) = tls_update(options, "f-keys");
        assert_eq!(r.code, 0, "{key:?} TLS {version:?}: {} {}", r.json, r.err);
        assert_eq!(s.requests().len(), 1, "{key:?} TLS {version:?}");
    }
}

/// What was pruned fails before anything is sent, with an error that
/// names the cause.
#[test]
fn pruned_algorithms_fail_the_handshake_cleanly() {
    let cases = [
        (
            TlsOptions {
                key: KeyKind::Ed25519,
                ..TlsOptions::default()
            },
            "Ed25519 certificates",
        ),
        (
            TlsOptions {
                only_chacha: true,
                ..TlsOptions::default()
            },
            "ChaCha20-only servers",
        ),
    ];
    for (options, says) in cases {
        let what = format!("{options:?}");
        let (s, state, r) = tls_update(options, "f-pruned");
        assert_failed_unsent(&r, &state);
        assert!(s.requests().is_empty(), "{what}");
        assert!(r.err.contains(says), "{what}: {}", r.err);
        bounded(&r);
    }
}
