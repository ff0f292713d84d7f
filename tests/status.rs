//! The client's heartbeat (`last_check`) as a user and the flash see it:
//! runs of the real binary against a loopback stand-in, the clock set by
//! MTGSY_DDNS_NOW. A run that sends nothing writes the state file only
//! when the stored check time is a check interval old; each write is seen
//! as a new file (the state is replaced by rename), told apart from the old
//! one by an open descriptor that keeps the old file's inode in use.

mod common;

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::*;
use serde_json::Value;

const T0: i64 = 1_800_000_000;

struct Client {
    server: StubServer,
    dir: TempDir,
}

impl Client {
    fn new(tag: &str) -> Client {
        Client {
            server: StubServer::plain(),
            dir: TempDir::new(tag),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// `update --json` for 1.2.3.4 at `now`: its outcome word, and whether
    /// it replaced the state file.
    fn update_at(&self, now: i64, extra: &[&str]) -> (String, bool) {
        let before = File::open(self.state()).ok();
        let mut c = update_cmd(&self.server.url(), &self.state());
        c.args(["--allow-http", "--json", "--ip", "1.2.3.4"])
            .args(extra)
            .env("MTGSY_DDNS_NOW", now.to_string());
        let (code, out, err) = texts(&run(c));
        assert!(code == 0 || code == 3, "exit {code}: {out} {err}");
        let json: Value = serde_json::from_str(out.trim()).unwrap();
        let after = std::fs::metadata(self.state()).unwrap();
        let wrote = match before {
            Some(f) => f.metadata().unwrap().ino() != after.ino(),
            None => true,
        };
        (json["outcome"].as_str().unwrap().to_string(), wrote)
    }

    /// `status --json` at `now`, and its exit code.
    fn status_at(&self, now: i64, extra: &[&str]) -> (i32, String) {
        let mut c = cmd();
        c.args(["status", "--json", "--state"])
            .arg(self.state())
            .args(extra)
            .env("MTGSY_PASSWORD", "pw")
            .env("MTGSY_DDNS_NOW", now.to_string());
        let (code, out, _) = texts(&run(c));
        (code, out)
    }

    fn last_check(&self, now: i64) -> Value {
        let (code, out) = self.status_at(now, &[]);
        assert_eq!(code, 0, "{out}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["records"][0]["last_check"].clone()
    }
}

#[test]
fn checks_that_send_nothing_write_the_state_once_per_check_interval() {
    let c = Client::new("heartbeat");
    // The request sets the heartbeat with the writes it makes anyway.
    assert_eq!(c.update_at(T0, &[]), ("updated".into(), true));
    assert_eq!(c.last_check(T0 + 1), T0);
    // A cron job every 30 s: nothing written within the check interval
    // (600 s by default) ...
    for dt in (30..600).step_by(30) {
        assert_eq!(
            c.update_at(T0 + dt, &[]),
            ("unchanged".into(), false),
            "dt={dt}"
        );
    }
    assert_eq!(c.last_check(T0 + 599), T0);
    // ... one small write once it has passed, then none again for as long.
    assert_eq!(c.update_at(T0 + 600, &[]), ("unchanged".into(), true));
    for dt in (630..1200).step_by(30) {
        assert_eq!(
            c.update_at(T0 + dt, &[]),
            ("unchanged".into(), false),
            "dt={dt}"
        );
    }
    assert_eq!(c.last_check(T0 + 1199), T0 + 600);
    assert_eq!(c.update_at(T0 + 1200, &[]), ("unchanged".into(), true));
    assert_eq!(c.last_check(T0 + 1201), T0 + 1200);
    // The interval is the check_interval setting.
    let hourly = ["--check-interval", "3600"];
    assert_eq!(c.update_at(T0 + 2400, &hourly), ("unchanged".into(), false));
    assert_eq!(c.update_at(T0 + 4800, &hourly), ("unchanged".into(), true));
    assert_eq!(c.server.requests().len(), 1, "one request in all");
    assert_eq!(c.last_check(T0 + 4801), T0 + 4800);
}

#[test]
fn a_deferred_check_beats_too_and_the_state_stays_private() {
    let c = Client::new("heartbeat-deferred");
    assert_eq!(c.update_at(T0, &[]).0, "updated");
    // Another address inside the floor: deferred, nothing sent; with the
    // shortest check interval (60 s) its heartbeat is due.
    let other = |now: i64| {
        let before = File::open(c.state()).unwrap();
        let mut cmd = update_cmd(&c.server.url(), &c.state());
        cmd.args(["--allow-http", "--ip", "5.6.7.8", "--check-interval", "60"])
            .env("MTGSY_DDNS_NOW", now.to_string());
        let code = texts(&run(cmd)).0;
        let wrote = before.metadata().unwrap().ino() != std::fs::metadata(c.state()).unwrap().ino();
        (code, wrote)
    };
    assert_eq!(other(T0 + 30), (3, false));
    assert_eq!(other(T0 + 100), (3, true));
    assert_eq!(other(T0 + 159), (3, false));
    let (_, out) = c.status_at(T0 + 160, &[]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let r = &v["records"][0];
    assert_eq!(r["last_check"], T0 + 100);
    // Only the heartbeat moved: the floor still counts from the request.
    assert_eq!(r["last_attempt_at"], T0);
    assert_eq!(r["written_at"], T0);
    assert_eq!(r["next_allowed_at"], T0 + 600);
    assert_eq!(c.server.requests().len(), 1);
    let mode = std::fs::metadata(c.state()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn status_json_keeps_its_fields_and_adds_last_check() {
    let c = Client::new("status-fields");
    let (code, out) = c.status_at(T0, &[]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["records"], serde_json::json!([]));
    assert_eq!(v["now"], T0);

    c.update_at(T0, &[]);
    c.update_at(T0 + 700, &[]);
    let (_, out) = c.status_at(T0 + 800, &[]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let r = &v["records"][0];
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "blocked_until",
            "failures",
            "last_attempt_at",
            "last_attempt_boot",
            "last_attempt_ip",
            "last_check",
            "last_http_status",
            "last_reply",
            "last_result",
            "maybe_registered_ip",
            "next_allowed_at",
            "registered_at",
            "registered_ip",
            "registered_options",
            "registered_sent_at",
            "rejected",
            "retry_not_before",
            "server",
            "username",
            "written_at",
        ]
    );
    assert_eq!(r["last_check"], T0 + 700);
    assert_eq!(r["last_attempt_at"], T0);
    assert_eq!(r["registered_ip"], "1.2.3.4");
    assert_eq!(v["state"], c.state().to_str().unwrap());
    assert!(!out.contains("pw"), "{out}");
    // The text form says it too.
    let mut t = cmd();
    t.args(["status", "--state"])
        .arg(c.state())
        .env("MTGSY_DDNS_NOW", (T0 + 800).to_string());
    let (_, text, _) = texts(&run(t));
    assert!(text.contains("  last check:         100 s ago\n"), "{text}");
}
