//! `update --jitter J`: a run that would send first waits a random delay of
//! 0..=J seconds (and says so); a run the guard holds back returns at once.
//! The wait writes nothing, and the floor counts from the send after it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// One `update --ip IP --jitter 2 -v`; its exit code, output (stdout and
/// stderr) and how long it took.
fn jittered(server: &StubServer, state: &Path, ip: &str) -> (i32, String, Duration) {
    let mut c = update_cmd(&server.url(), state);
    c.args(["--ip", ip, "--allow-http", "--allow-private"])
        .args(["--jitter", "2", "-v"]);
    let start = Instant::now();
    let (code, out, err) = texts(&run(c));
    (code, out + &err, start.elapsed())
}

/// The seconds of the run's "waiting N s (jitter)" line, if it has one.
fn announced_wait(err: &str) -> Option<u64> {
    let at = err.find("waiting ")? + "waiting ".len();
    let rest = &err[at..];
    if !rest.contains(" s (jitter) before sending") {
        return None;
    }
    rest.split(' ').next()?.parse().ok()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn last_attempt_at(state: &Path) -> i64 {
    let text = std::fs::read_to_string(state).expect("the state file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("state JSON");
    json["records"][0]["record"]["last_attempt_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("no last_attempt_at in {text}"))
}

#[test]
fn update_waits_its_jitter_only_when_the_guard_would_send() {
    let server = StubServer::plain();
    // Fresh state each time: the guard sends, after the drawn delay.
    let mut waits = Vec::new();
    for n in 0..8 {
        let dir = TempDir::new("jitter-send");
        let state = dir.path().join("state.json");
        let started = unix_now();
        let (code, err, took) = jittered(&server, &state, "10.0.0.1");
        assert_eq!(code, 0, "{err}");
        assert_eq!(server.requests().len(), n + 1, "{err}");
        let wait = announced_wait(&err).unwrap_or(0);
        assert!(wait <= 2, "{err}");
        assert!(took >= Duration::from_secs(wait), "{took:?}, {err}");
        // The attempt is recorded when it goes out, after the wait.
        assert!(last_attempt_at(&state) >= started + wait as i64, "{err}");
        waits.push(wait);
    }
    assert!(waits.iter().any(|w| *w > 0), "never waited: {waits:?}");

    // Held back by the 10-minute floor: no wait, at once, nothing written.
    let dir = TempDir::new("jitter-defer");
    let state = dir.path().join("state.json");
    let (code, err, _) = jittered(&server, &state, "10.0.0.1");
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(&state).unwrap();
    let modified = std::fs::metadata(&state).unwrap().modified().unwrap();
    let sent = server.requests().len();
    for _ in 0..5 {
        let (code, err, took) = jittered(&server, &state, "10.0.0.2");
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("deferred"), "{err}");
        assert_eq!(announced_wait(&err), None, "{err}");
        assert!(took < Duration::from_secs(1), "{took:?}: {err}");
    }
    assert_eq!(server.requests().len(), sent);
    assert_eq!(std::fs::read(&state).unwrap(), before);
    let after = std::fs::metadata(&state).unwrap().modified().unwrap();
    assert_eq!(after, modified, "the state file was written");
}

#[test]
fn update_without_jitter_never_waits() {
    let server = StubServer::plain();
    for _ in 0..5 {
        let dir = TempDir::new("jitter-none");
        let mut c = update_cmd(&server.url(), &dir.path().join("state.json"));
        c.args(["--ip", "10.0.0.1", "--allow-http", "--allow-private", "-v"]);
        let start = Instant::now();
        let (code, _, err) = texts(&run(c));
        assert_eq!(code, 0, "{err}");
        assert_eq!(announced_wait(&err), None, "{err}");
        assert!(start.elapsed() < Duration::from_secs(1), "{err}");
    }
}

#[test]
fn jitter_is_bounded() {
    let server = StubServer::plain();
    let dir = TempDir::new("jitter-bounds");
    for bad in ["301", "-1", "ten"] {
        let mut c = update_cmd(&server.url(), &dir.path().join("state.json"));
        c.args(["--ip", "10.0.0.1", "--allow-http", "--allow-private"])
            .args(["--jitter", bad]);
        let (code, _, err) = texts(&run(c));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("jitter"), "{bad}: {err}");
    }
    assert!(server.requests().is_empty());
}
