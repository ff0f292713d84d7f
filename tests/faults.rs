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

// ---- Files: caps, links, the state directory -------------------------

/// A run of the binary with `args` in `cwd`, under a 512 MiB address-space
/// limit (an unbounded read fails there instead of eating the machine) and
/// GNU time for the peak RSS. Returns (exit code or -signal, stderr, RSS).
fn file_run(cwd: &std::path::Path, args: &[&str]) -> (i32, String, u64) {
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 524288; exec /usr/bin/time -f RSS=%M \"$@\"")
        .arg("sh")
        .arg(bin())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MTGSY_PASSWORD", "pw")
        .env("MTGSY_DDNS_NOW", T0.to_string())
        .stdin(std::process::Stdio::null());
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = err
        .lines()
        .filter_map(|l| l.strip_prefix("RSS="))
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    // GNU time reports a child killed by a signal on its own line.
    let code = match out.status.code() {
        Some(code) if !err.contains("terminated by signal") => code,
        _ => -1,
    };
    (code, err, rss)
}

fn update_args<'a>(url: &'a str, state: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "update",
        "--username",
        "user@example.com",
        "--ip",
        "1.2.3.4",
        "--allow-http",
        "--server",
        url,
        "--state",
        state,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn endless_or_huge_input_files_are_refused_in_bounded_memory() {
    let server = StubServer::plain();
    let dir = TempDir::new("caps");
    let d = dir.path();
    let url = server.url();
    let state = d.join("s/state.json").display().to_string();
    std::fs::create_dir(d.join("s")).unwrap();
    for (field, extra, limit) in [
        ("config", vec!["--config", "/dev/zero"], "1 MiB"),
        ("ca_file", vec!["--ca-file", "/dev/zero"], "1 MiB"),
        (
            "password_file",
            vec!["--password-file", "/dev/zero"],
            "4 KiB",
        ),
    ] {
        let mut args = update_args(&url, &state, &extra);
        if field == "ca_file" {
            // The CA bundle is for an https:// server.
            args[7] = "https://127.0.0.1:1/";
        }
        let (code, err, rss) = file_run(d, &args);
        assert_eq!(code, 2, "{field}: {err}");
        assert!(
            err.contains(&format!(
                "{field}: cannot read /dev/zero: is larger than {limit}"
            )),
            "{field}: {err}"
        );
        assert!(rss < 16 * 1024, "{field}: peak RSS {rss} KiB");
    }
    // A password file just over 4 KiB is refused, not cut short.
    let pw = d.join("pw");
    std::fs::write(&pw, "p".repeat(4097)).unwrap();
    let pw = pw.display().to_string();
    let (code, err, _) = file_run(d, &update_args(&url, &state, &["--password-file", &pw]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is larger than 4 KiB"), "{err}");
    assert_eq!(server.connections(), 0, "nothing was sent");
}

#[test]
fn two_gib_state_file_is_read_in_bounded_memory() {
    let server = StubServer::plain();
    let dir = TempDir::new("bigstate");
    let path = dir.path().join("state.json");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let state = path.display().to_string();
    let (code, err, rss) = file_run(dir.path(), &update_args(&server.url(), &state, &[]));
    // What a corrupt state leads to is the guard's business; here: a clean
    // exit that names the state file, in bounded memory.
    // (Without the address-space limit the old client read all 2 GiB;
    // under it, the allocation failed with "out of memory".)
    assert!(code >= 0, "killed: {err}");
    assert!(
        err.contains("state") && err.contains("larger than") && !err.contains("out of memory"),
        "{err}"
    );
    assert!(rss < 16 * 1024, "peak RSS {rss} KiB");
}

#[test]
fn links_where_the_client_writes_are_not_followed() {
    let server = StubServer::plain();
    let dir = TempDir::new("links");
    let d = dir.path();
    let url = server.url();
    // A dangling link as the lock file would make the client create the
    // file it points to.
    std::fs::create_dir(d.join("a")).unwrap();
    let planted = d.join("planted");
    std::os::unix::fs::symlink(&planted, d.join("a/state.json.lock")).unwrap();
    let state = d.join("a/state.json").display().to_string();
    let (code, err, _) = file_run(d, &update_args(&url, &state, &[]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("lock") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(!planted.exists(), "the link was followed");

    // The state file itself as a link to another record.
    std::fs::create_dir(d.join("b")).unwrap();
    let other = d.join("other.json");
    std::fs::write(&other, "{\"version\":2,\"records\":[]}\n").unwrap();
    std::os::unix::fs::symlink(&other, d.join("b/state.json")).unwrap();
    let state = d.join("b/state.json").display().to_string();
    let (code, err, _) = file_run(d, &update_args(&url, &state, &[]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "{\"version\":2,\"records\":[]}\n"
    );
    assert_eq!(server.connections(), 0, "nothing was sent");
}

#[test]
fn shared_state_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let server = StubServer::plain();
    let dir = TempDir::new("shared-dir");
    let d = dir.path();
    let s = d.join("s");
    std::fs::create_dir(&s).unwrap();
    let state = s.join("state.json").display().to_string();
    for mode in [0o770, 0o757, 0o1777] {
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, err, _) = file_run(d, &update_args(&server.url(), &state, &[]));
        assert_eq!(code, 2, "{mode:o}: {err}");
        assert!(
            err.contains("writable by") && err.contains("chmod go-w"),
            "{err}"
        );
    }
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o700)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&s, Some(65534), Some(65534)).unwrap();
        let (code, err, _) = file_run(d, &update_args(&server.url(), &state, &[]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("belongs to user id 65534"), "{err}");
        std::os::unix::fs::chown(&s, Some(0), Some(0)).unwrap();
    }
    assert_eq!(server.connections(), 0, "nothing was sent");
    let (code, err, _) = file_run(d, &update_args(&server.url(), &state, &[]));
    assert_eq!(code, 0, "a private directory works: {err}");
}

#[test]
fn relative_state_path_gets_its_directory_synced() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        skipped(
            "relative_state_path_gets_its_directory_synced",
            "strace is missing (apt-get install strace)",
        );
        return;
    }
    let server = StubServer::plain();
    let dir = TempDir::new("relative");
    let d = dir.path();
    let log = d.join("trace");
    let out = std::process::Command::new("strace")
        .args([
            "-f",
            "-e",
            "trace=openat,fsync,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&log)
        .arg(bin())
        .args(update_args(&server.url(), "state.json", &[]))
        .current_dir(d)
        .env_clear()
        .env("MTGSY_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    if !trace.contains("\"state.json\"") && trace.contains("rename") {
        // The rename's paths show as addresses: strace may not read the
        // process's memory here (non-root in some containers).
        skipped(
            "relative_state_path_gets_its_directory_synced",
            "needs root (strace cannot read the traced process's memory)",
        );
        return;
    }
    // After the last rename onto state.json: "." opened and fsynced.
    let last_rename = trace.rfind("\"state.json\"").expect("a rename");
    let after = &trace[last_rename..];
    let fd = after
        .lines()
        .find(|l| l.contains("openat(") && l.contains("\".\"") && l.contains("O_DIRECTORY"))
        .and_then(|l| l.rsplit("= ").next())
        .map(|fd| fd.trim().to_string())
        .unwrap_or_else(|| panic!("the directory was not opened after the rename:\n{after}"));
    assert!(
        after.contains(&format!("fsync({fd})")),
        "the directory was not synced:\n{after}"
    );
}
