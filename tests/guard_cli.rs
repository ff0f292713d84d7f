//! The rate guard as a user meets it: runs of the real binary against a
//! loopback stand-in, with the clock set by MTGSY_DDNS_NOW.

mod common;

use common::*;
use serde_json::Value;

const T0: i64 = 1_800_000_000;

/// One client setup: a server, a state directory and a password.
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

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state.json")
    }

    /// Runs `update --json` at time `now` for address `ip`.
    fn run_at(&self, now: i64, ip: &str, extra: &[&str]) -> (i32, Value, String) {
        self.run_with("pw-one", now, ip, extra)
    }

    fn run_with(&self, password: &str, now: i64, ip: &str, extra: &[&str]) -> (i32, Value, String) {
        let mut c = update_cmd(&self.server.url(), &self.state());
        c.args(["--allow-http", "--json", "--ip", ip])
            .args(extra)
            .env("MTGSY_PASSWORD", password)
            .env("MTGSY_DDNS_NOW", now.to_string());
        let (code, out, err) = texts(&run(c));
        let json = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("stdout {out:?} is not JSON ({e}); stderr {err}"));
        (code, json, err)
    }

    fn sent(&self) -> usize {
        self.server.requests().len()
    }

    fn state_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.state()).unwrap()).unwrap()
    }
}

#[test]
fn unchanged_address_is_never_resent_inside_force_interval() {
    let c = Client::new("unchanged");
    let (code, j, _) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    for dt in [1, 599, 600, 601, 3600, 86_400, 72 * 3600 - 1] {
        let (code, j, err) = c.run_at(T0 + dt, "1.2.3.4", &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(j["outcome"], "unchanged", "dt={dt}");
        assert_eq!(j["sent"], false);
    }
    assert_eq!(c.sent(), 1);
    // The force interval (72 h by default) refreshes it once.
    let (code, j, _) = c.run_at(T0 + 72 * 3600, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
}

#[test]
fn changed_address_waits_for_the_floor() {
    let c = Client::new("floor");
    c.run_at(T0, "1.2.3.4", &[]);
    let (code, j, _) = c.run_at(T0 + 100, "5.6.7.8", &[]);
    assert_eq!(code, 3);
    assert_eq!(j["outcome"], "deferred");
    assert_eq!(j["retry_after_s"], 500);
    assert_eq!(c.sent(), 1, "nothing sent inside the floor");
    let (code, j, _) = c.run_at(T0 + 599, "5.6.7.8", &[]);
    assert_eq!((code, j["retry_after_s"].as_i64()), (3, Some(1)));
    let (code, j, _) = c.run_at(T0 + 600, "5.6.7.8", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
    assert_eq!(c.server.requests()[1].query("ip").unwrap(), "5.6.7.8");
}

#[test]
fn force_never_beats_the_floor() {
    let c = Client::new("force");
    c.run_at(T0, "1.2.3.4", &[]);
    for dt in [0, 1, 300, 599] {
        let (code, j, _) = c.run_at(T0 + dt, "5.6.7.8", &["--force"]);
        assert_eq!(code, 3, "dt={dt}");
        assert_eq!(j["retry_after_s"], 600 - dt);
    }
    assert_eq!(c.sent(), 1);
    let (code, j, _) = c.run_at(T0 + 600, "5.6.7.8", &["--force"]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
}

/// A cron job calling `--force` every 10 minutes sends an unchanged
/// address once a day, no more.
#[test]
fn forced_unchanged_updates_go_out_at_most_once_a_day() {
    let c = Client::new("force-daily");
    let (code, _, _) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!(code, 0);
    for dt in (600..86_400).step_by(600 * 12).chain([86_399]) {
        let (code, j, err) = c.run_at(T0 + dt, "1.2.3.4", &["--force"]);
        assert_eq!(code, 3, "dt={dt}: {err}");
        assert_eq!(j["outcome"], "deferred");
        assert_eq!(j["sent"], false);
        assert_eq!(j["retry_after_s"], 86_400 - dt);
        assert!(
            j["message"].as_str().unwrap().contains("24 h"),
            "{}",
            j["message"]
        );
    }
    assert_eq!(c.sent(), 1);
    let (code, j, _) = c.run_at(T0 + 86_400, "1.2.3.4", &["--force"]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
    // The day counts again from that refresh.
    let (code, _, _) = c.run_at(T0 + 86_400 + 600, "1.2.3.4", &["--force"]);
    assert_eq!(code, 3);
    assert_eq!(c.sent(), 2);
}

#[test]
fn force_interval_below_a_day_is_refused() {
    let c = Client::new("force-interval");
    let (code, _, err) = c.run_at(T0, "1.2.3.4", &["--force-interval", "3600"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("force_interval"), "{err}");
    assert!(err.contains("86400"), "{err}");
    // The same from a config file.
    let config = c.dir.path().join("config.json");
    std::fs::write(&config, r#"{"force_interval": 600}"#).unwrap();
    let (code, _, err) = c.run_at(T0, "1.2.3.4", &["--config", config.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("force_interval"), "{err}");
    assert_eq!(c.sent(), 0);
    let (code, _, _) = c.run_at(T0, "1.2.3.4", &["--force-interval", "86400"]);
    assert_eq!(code, 0);
}

/// A changed request option (here hb) is a change: it is sent, once.
#[test]
fn a_changed_request_option_is_sent() {
    let c = Client::new("options");
    c.run_at(T0, "1.2.3.4", &[]);
    let (code, j, _) = c.run_at(T0 + 100, "1.2.3.4", &["--hb", "1"]);
    assert_eq!((code, j["outcome"].as_str()), (3, Some("deferred")));
    let (code, j, _) = c.run_at(T0 + 600, "1.2.3.4", &["--hb", "1"]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.server.requests()[1].query("hb").as_deref(), Some("1"));
    let (code, j, _) = c.run_at(T0 + 1200, "1.2.3.4", &["--hb", "1"]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("unchanged")));
    for (flag, value) in [
        ("--port", "8080"),
        ("--mx", "mail.example.com."),
        ("--offline-text", "back soon"),
    ] {
        let before = c.sent();
        let (code, j, err) = c.run_at(
            T0 + 3600 * before as i64,
            "1.2.3.4",
            &["--hb", "1", flag, value],
        );
        assert_eq!(
            (code, j["outcome"].as_str()),
            (0, Some("updated")),
            "{flag} {err}"
        );
        assert_eq!(c.sent(), before + 1);
    }
}

/// The attempt time is read just before the request leaves, not when
/// the run starts: a slow address detection does not shorten the floor.
#[test]
fn the_floor_counts_from_the_send_not_the_start_of_the_run() {
    let c = Client::new("send-time");
    let mut cmd = update_cmd(&c.server.url(), &c.state());
    cmd.args([
        "--allow-http",
        "--json",
        "--ip-source",
        "command",
        "--ip-command",
        "sleep 2; echo 1.2.3.4",
    ])
    .env("MTGSY_DDNS_NOW", T0.to_string());
    let (code, out, err) = texts(&run(cmd));
    assert_eq!(code, 0, "{out}{err}");
    let at = c.state_json()["records"][0]["record"]["last_attempt_at"]
        .as_i64()
        .unwrap();
    assert!(
        at >= T0 + 2,
        "attempt recorded at {at}, the run started at {T0}"
    );
    let (code, j, _) = c.run_at(T0 + 600, "5.6.7.8", &[]);
    assert_eq!(code, 3, "{j}");
    assert!(j["retry_after_s"].as_i64().unwrap() >= 2, "{j}");
    assert_eq!(c.sent(), 1);
}

/// Letter case and a trailing dot make no other account.
#[test]
fn spellings_of_one_account_share_one_guard() {
    let c = Client::new("spellings");
    let run = |now: i64, user: &str, ip: &str| {
        let mut cmd = update_cmd(&c.server.url(), &c.state());
        cmd.args(["--allow-http", "--json", "--ip", ip, "--username", user])
            .env("MTGSY_DDNS_NOW", now.to_string());
        let (code, out, err) = texts(&run(cmd));
        assert!(code == 0 || code == 3, "{user}: {out}{err}");
        code
    };
    assert_eq!(run(T0, "Alice@Example.com", "1.2.3.4"), 0);
    assert_eq!(run(T0 + 10, "alice@example.com", "5.6.7.8"), 3);
    assert_eq!(run(T0 + 20, "ALICE@EXAMPLE.COM", "9.9.9.9"), 3);
    assert_eq!(c.sent(), 1);
    assert_eq!(run(T0 + 30, "Home.Example.COM.", "1.2.3.4"), 0);
    assert_eq!(run(T0 + 40, "home.example.com", "5.6.7.8"), 3);
    assert_eq!(c.sent(), 2);
    // The domain went out without its final dot.
    assert_eq!(
        c.server.requests()[1].query("email").as_deref(),
        Some("Home.Example.COM")
    );
}

/// Sets the modification time of `path` to `t` (Unix seconds).
fn set_mtime(path: &std::path::Path, t: i64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
        .unwrap();
}

#[test]
fn unreadable_state_holds_the_floor_from_its_last_change() {
    for (name, body) in [
        ("empty", ""),
        ("truncated", "{\"version\":2,\"records\":[{\"ser"),
        ("garbage", "\u{0}\u{1}not json at all"),
        ("newer", "{\"version\":3,\"records\":[]}"),
    ] {
        let c = Client::new(&format!("unreadable-{name}"));
        std::fs::write(c.state(), body).unwrap();
        set_mtime(&c.state(), T0 - 100);
        let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
        assert_eq!(code, 3, "{name}: {j} {err}");
        assert_eq!(j["retry_after_s"], 500, "{name}");
        assert!(err.contains("could not be read"), "{name}: {err}");
        assert!(err.contains("state.json.corrupt"), "{name}: {err}");
        assert_eq!(
            std::fs::read_to_string(c.dir.path().join("state.json.corrupt")).unwrap(),
            body
        );
        // The next run still knows.
        let (code, _, _) = c.run_at(T0 + 499, "1.2.3.4", &[]);
        assert_eq!(code, 3, "{name}");
        assert_eq!(c.sent(), 0, "{name}");
        let (code, j, _) = c.run_at(T0 + 500, "1.2.3.4", &[]);
        assert_eq!(
            (code, j["outcome"].as_str()),
            (0, Some("updated")),
            "{name}"
        );
    }
}

#[test]
fn times_that_cannot_be_right_hold_the_floor() {
    for bad in [-5i64, 0, i64::MIN, i64::MAX - 10] {
        let c = Client::new("bad-times");
        c.run_at(T0 - 5000, "1.2.3.4", &[]);
        let mut state = c.state_json();
        let rec = &mut state["records"][0]["record"];
        rec["last_attempt_at"] = bad.into();
        rec["registered_at"] = bad.into();
        rec["written_at"] = bad.into();
        std::fs::write(c.state(), state.to_string()).unwrap();
        set_mtime(&c.state(), T0 - 100);
        let (code, j, err) = c.run_at(T0, "5.6.7.8", &[]);
        assert_eq!(code, 3, "{bad}: {j} {err}");
        assert_eq!(j["retry_after_s"], 500, "{bad}: {j}");
        assert!(err.contains("cannot be right"), "{bad}: {err}");
        assert_eq!(c.sent(), 1, "{bad}");
    }
}

#[test]
fn a_clock_before_2020_or_far_ahead_sends_nothing() {
    let c = Client::new("clock-wrong");
    for now in [0i64, 1_000_000_000, 5_000_000_000, i64::MAX] {
        let (code, j, err) = c.run_at(now, "1.2.3.4", &[]);
        assert_eq!(code, 3, "{now}: {j} {err}");
        assert!(j["message"].as_str().unwrap().contains("not synced"), "{j}");
        assert!(j["retry_after_s"].as_i64().unwrap() >= 0);
    }
    assert_eq!(c.sent(), 0);
}

#[test]
fn a_stuck_lock_holder_defers_after_the_timeout_and_a_margin() {
    let c = Client::new("stuck-lock");
    let lock = c.dir.path().join("state.json.lock");
    std::fs::write(&lock, "").unwrap();
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let start = std::time::Instant::now();
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &["--timeout", "1"]);
    let waited = start.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 3, "{j} {err}");
    assert_eq!(j["outcome"], "deferred");
    assert!(err.contains("state.json.lock"), "{err}");
    assert!(waited < std::time::Duration::from_secs(20), "{waited:?}");
    assert!(waited >= std::time::Duration::from_secs(1), "{waited:?}");
    assert_eq!(c.sent(), 0);
}

#[test]
fn unreachable_server_backs_off_60s_doubling() {
    let c = Client::new("backoff");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}/dns/update.php");
    let run = |now: i64| {
        let mut cmd = cmd();
        cmd.args([
            "update",
            "--username",
            "user@example.com",
            "--allow-http",
            "--json",
            "--ip",
            "1.2.3.4",
        ])
        .args(["--server", &dead])
        .arg("--state")
        .arg(c.state())
        .env("MTGSY_PASSWORD", "pw")
        .env("MTGSY_DDNS_NOW", now.to_string());
        let (code, out, _) = texts(&run(cmd));
        (code, serde_json::from_str::<Value>(out.trim()).unwrap())
    };
    let (code, j) = run(T0);
    assert_eq!((code, j["retry_after_s"].as_i64()), (4, Some(60)));
    let (code, j) = run(T0 + 30);
    assert_eq!(
        (code, j["outcome"].as_str(), j["retry_after_s"].as_i64()),
        (3, Some("deferred"), Some(30))
    );
    let (code, j) = run(T0 + 60);
    assert_eq!((code, j["retry_after_s"].as_i64()), (4, Some(120)));
    let (code, j) = run(T0 + 180);
    assert_eq!((code, j["retry_after_s"].as_i64()), (4, Some(240)));
    let state = c.state_json();
    assert_eq!(state["records"][0]["record"]["failures"], 3);
    assert!(
        state["records"][0]["record"]["last_attempt_at"].is_null(),
        "nothing reached a server"
    );
}

#[test]
fn server_error_counts_toward_floor_and_backs_off() {
    let c = Client::new("5xx");
    c.server.set_reply(503, "busy");
    let (code, j, _) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["http_status"].as_i64()), (4, Some(503)));
    assert_eq!(j["retry_after_s"], 600);
    c.server.set_reply(200, "800 OK");
    let (code, _, _) = c.run_at(T0 + 599, "1.2.3.4", &[]);
    assert_eq!(code, 3);
    let (code, j, _) = c.run_at(T0 + 600, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
}

#[test]
fn rejected_login_is_not_retried_for_a_day_unless_it_changes() {
    let c = Client::new("rejected");
    c.server.set_reply(200, "300 Invalid login");
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!(code, 5, "{err}");
    assert_eq!(j["outcome"], "rejected");
    assert!(err.contains("rejected"), "{err}");
    c.server.set_reply(200, "800 OK");
    // Same password, same address: held for 24 h, force or not.
    for (dt, force) in [(600, false), (3600, true), (86_399, false)] {
        let extra: &[&str] = if force { &["--force"] } else { &[] };
        let (code, j, _) = c.run_at(T0 + dt, "1.2.3.4", extra);
        assert_eq!(code, 3, "dt={dt}");
        assert_eq!(j["retry_after_s"], 86_400 - dt);
    }
    assert_eq!(c.sent(), 1);
    // A new password may try after the floor.
    let (code, j, _) = c.run_with("pw-two", T0 + 700, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert_eq!(c.sent(), 2);
    assert_eq!(c.server.requests()[1].query("pass").unwrap(), "pw-two");
}

#[test]
fn blocked_sends_nothing_for_a_day_and_says_so_every_run() {
    let c = Client::new("blocked");
    c.server.set_reply(200, "Client blocked for abuse");
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!(code, 6);
    assert_eq!(j["outcome"], "blocked");
    assert!(err.contains("BLOCKED"), "{err}");
    c.server.set_reply(200, "800 OK");
    for (dt, ip) in [(600, "1.2.3.4"), (7200, "5.6.7.8"), (86_399, "9.9.9.9")] {
        let (code, j, err) = c.run_at(T0 + dt, ip, &["--force"]);
        assert_eq!(code, 6, "dt={dt}");
        assert_eq!(j["retry_after_s"], 86_400 - dt);
        assert!(err.contains("BLOCKED"), "every run says so: {err}");
    }
    assert_eq!(c.sent(), 1);
    let (code, _, _) = c.run_at(T0 + 86_400, "5.6.7.8", &[]);
    assert_eq!(code, 0);
    assert_eq!(c.sent(), 2);
}

#[test]
fn clock_behind_the_state_sends_nothing() {
    let c = Client::new("clock");
    c.run_at(T0, "1.2.3.4", &[]);
    // A router without RTC boots in 1970 until NTP syncs. (A state written
    // up to a second "ahead" is the rounding between two runs' readings of
    // the clock, or a run that got the lock first: not a clock behind.)
    for now in [0, 86_400, T0 - 5] {
        let (code, j, err) = c.run_at(now, "5.6.7.8", &["--force"]);
        assert_eq!(code, 3);
        assert_eq!(j["outcome"], "deferred");
        let msg = j["message"].as_str().unwrap();
        assert!(msg.contains("clock"), "{msg}");
        assert!(!err.is_empty() || msg.contains("NTP"));
    }
    assert_eq!(c.sent(), 1);
}

#[test]
fn unconfirmed_reply_is_recorded_and_not_resent() {
    let c = Client::new("unconfirmed");
    c.server.set_reply(200, "<html>Thanks!</html>");
    let (code, j, _) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("unconfirmed")));
    assert_eq!(j["reply"], "<html>Thanks!</html>");
    let (code, j, _) = c.run_at(T0 + 700, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("unchanged")));
    assert_eq!(c.sent(), 1);
}

#[test]
fn twenty_concurrent_runs_send_one_request() {
    let c = Client::new("concurrent");
    c.server
        .set_behaviour(Behaviour::Delay(std::time::Duration::from_millis(300)));
    let children: Vec<_> = (0..20)
        .map(|_| {
            let mut cmd = update_cmd(&c.server.url(), &c.state());
            cmd.args(["--allow-http", "--json", "--ip", "1.2.3.4"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut outcomes = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        outcomes.push(j["outcome"].as_str().unwrap().to_string());
    }
    assert_eq!(c.sent(), 1, "exactly one request");
    assert_eq!(outcomes.iter().filter(|o| *o == "updated").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| *o == "unchanged").count(), 19);
}

#[test]
fn corrupt_state_is_moved_aside_and_run_goes_on() {
    let c = Client::new("corrupt");
    std::fs::write(c.state(), "{\"version\":2,\"records\":[{\"ser").unwrap();
    set_mtime(&c.state(), T0 - 600);
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
    assert!(err.contains("corrupt"), "{err}");
    let aside = c.dir.path().join("state.json.corrupt");
    assert_eq!(
        std::fs::read_to_string(aside).unwrap(),
        "{\"version\":2,\"records\":[{\"ser"
    );
    assert_eq!(
        c.state_json()["records"][0]["record"]["registered_ip"],
        "1.2.3.4"
    );
}

#[test]
fn state_file_is_0600_and_holds_no_password() {
    use std::os::unix::fs::PermissionsExt;
    let c = Client::new("perm");
    c.server.set_reply(200, "800 OK pw-one echoed");
    c.run_at(T0, "1.2.3.4", &[]);
    let meta = std::fs::metadata(c.state()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(c.state()).unwrap();
    assert!(
        !text.contains("pw-one") && !text.contains("pw%2Done"),
        "{text}"
    );
    assert!(text.contains("800 OK *** echoed"), "{text}");
}

#[test]
fn killed_mid_request_the_attempt_still_counts() {
    let c = Client::new("crash");
    c.server.set_behaviour(Behaviour::Hang);
    let mut cmd = update_cmd(&c.server.url(), &c.state());
    cmd.args(["--allow-http", "--ip", "1.2.3.4"])
        .env("MTGSY_DDNS_NOW", T0.to_string())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    while c.sent() == 0 {
        assert!(start.elapsed().as_secs() < 10, "no request arrived");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let state = c.state_json();
    assert_eq!(state["records"][0]["record"]["last_result"], "pending");
    assert_eq!(state["records"][0]["record"]["last_attempt_at"], T0);
    c.server.set_reply(200, "800 OK");
    let (code, j, _) = c.run_at(T0 + 300, "1.2.3.4", &[]);
    assert_eq!(
        (code, j["retry_after_s"].as_i64()),
        (3, Some(300)),
        "the killed attempt counts"
    );
    let (code, j, _) = c.run_at(T0 + 600, "1.2.3.4", &[]);
    assert_eq!(
        (code, j["outcome"].as_str()),
        (0, Some("updated")),
        "outcome unknown: retried after the floor"
    );
    assert_eq!(c.sent(), 2);
}

#[test]
fn unwritable_state_refuses_to_send() {
    let c = Client::new("readonly");
    let dir = c.dir.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    // A regular file where the directory should be: cannot create the lock
    // file even as root.
    let blocker = dir.join("state");
    std::fs::write(&blocker, "").unwrap();
    let mut cmd = update_cmd(&c.server.url(), &blocker.join("state.json"));
    cmd.args(["--allow-http", "--ip", "1.2.3.4"]);
    let (code, _, err) = texts(&run(cmd));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(c.server.connections(), 0);
}

#[test]
fn lookup_host_match_counts_as_registered_without_state() {
    let c = Client::new("lookup");
    let (code, j, _) = c.run_at(
        T0,
        "127.0.0.1",
        &["--lookup-host", "localhost", "--allow-private"],
    );
    assert_eq!((code, j["outcome"].as_str()), (0, Some("unchanged")));
    assert_eq!(c.sent(), 0);
    // Nothing attempted: only the heartbeat is written, and the record stays
    // blank for the guard (the next run looks the name up again).
    let state = c.state_json();
    let rec = &state["records"][0]["record"];
    assert_eq!(rec["last_check"], T0, "{state}");
    for field in [
        "registered_ip",
        "registered_at",
        "last_attempt_at",
        "written_at",
    ] {
        assert!(rec[field].is_null(), "{field}: {state}");
    }
    let (code, j, _) = c.run_at(T0, "1.2.3.4", &["--lookup-host", "localhost"]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")));
}

#[test]
fn separate_users_have_separate_guards() {
    let c = Client::new("users");
    c.run_at(T0, "1.2.3.4", &[]);
    let mut cmd = cmd();
    cmd.args([
        "update",
        "--username",
        "home.example.com",
        "--allow-http",
        "--json",
        "--ip",
        "1.2.3.4",
    ])
    .arg("--server")
    .arg(c.server.url())
    .arg("--state")
    .arg(c.state())
    .env("MTGSY_PASSWORD", "pw")
    .env("MTGSY_DDNS_NOW", (T0 + 1).to_string());
    let (code, _, err) = texts(&run(cmd));
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.sent(), 2);
    assert_eq!(c.state_json()["records"].as_array().unwrap().len(), 2);
}

/// A run reads the clock, then may wait for the state lock while another
/// run writes the record a second later. That record is not a clock
/// running behind: the waiting run goes on with the later time.
#[test]
fn a_record_written_while_waiting_for_the_lock_is_not_a_clock_behind() {
    use std::os::fd::AsRawFd;
    let c = Client::new("g-lockwait");
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");

    // Hold the lock, start a run at T0 + 700, and while it waits, let the
    // record say it was written at T0 + 701.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(c.dir.path().join("state.json.lock"))
        .unwrap();
    // SAFETY: flock on an open descriptor.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut cmd = update_cmd(&c.server.url(), &c.state());
    cmd.args(["--allow-http", "--json", "--ip", "1.2.3.4"])
        .env("MTGSY_PASSWORD", "pw-one")
        .env("MTGSY_DDNS_NOW", (T0 + 700).to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let waiting = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut state = c.state_json();
    state["records"][0]["record"]["written_at"] = (T0 + 701).into();
    std::fs::write(c.state(), state.to_string()).unwrap();
    drop(lock);

    let out = waiting.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout} {stderr}");
    let j: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(j["outcome"], "unchanged", "{stdout} {stderr}");
    assert_eq!(c.sent(), 1);
}

/// `./state.json`, its absolute path and a path through a symlinked
/// directory are one state file, so one guard.
#[test]
fn spellings_of_one_state_file_share_one_guard() {
    let c = Client::new("state-spellings");
    let link = c.dir.path().join("link");
    std::os::unix::fs::symlink(c.dir.path(), &link).unwrap();
    let run = |now: i64, state: &std::path::Path, ip: &str| {
        let mut cmd = update_cmd(&c.server.url(), state);
        cmd.args(["--allow-http", "--json", "--ip", ip])
            .current_dir(c.dir.path())
            .env("MTGSY_DDNS_NOW", now.to_string());
        texts(&run(cmd)).0
    };
    assert_eq!(run(T0, std::path::Path::new("./state.json"), "1.2.3.4"), 0);
    assert_eq!(run(T0 + 10, &c.state(), "5.6.7.8"), 3);
    assert_eq!(run(T0 + 20, &link.join("state.json"), "9.9.9.9"), 3);
    assert_eq!(c.sent(), 1);
}

/// A slow server (connect or reply) moves the floor later, never earlier:
/// the stored attempt time is read after the reply.
#[test]
fn a_slow_reply_moves_the_floor_later() {
    let c = Client::new("slow-reply");
    c.server
        .set_behaviour(Behaviour::Delay(std::time::Duration::from_secs(2)));
    let (code, j, err) = c.run_at(T0, "1.2.3.4", &[]);
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    let at = c.state_json()["records"][0]["record"]["last_attempt_at"]
        .as_i64()
        .unwrap();
    assert!(at >= T0 + 2, "{at}");
    let (code, _, _) = c.run_at(T0 + 600, "5.6.7.8", &[]);
    assert_eq!(code, 3);
    assert_eq!(c.sent(), 1);
}

/// A clock stepped forward by hours just after a request (NTP after a boot
/// with the clock restored from a file) does not shorten the floor: on
/// the same boot it is also counted on the boot clock, here given by
/// MTGSY_DDNS_BOOT. After a reboot the wall clock counts alone.
#[test]
fn a_clock_stepped_forward_still_waits_for_the_floor_on_the_same_boot() {
    let c = Client::new("stepped-clock");
    let run_booted = |now: i64, boot: &str, ip: &str| {
        let mut cmd = update_cmd(&c.server.url(), &c.state());
        cmd.args(["--allow-http", "--json", "--ip", ip])
            .env("MTGSY_PASSWORD", "pw-one")
            .env("MTGSY_DDNS_NOW", now.to_string())
            .env("MTGSY_DDNS_BOOT", boot);
        let (code, out, err) = texts(&run(cmd));
        let json: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("stdout {out:?} is not JSON ({e}); stderr {err}"));
        (code, json, err)
    };
    let (code, j, err) = run_booted(T0, "boot-1:100", "1.2.3.4");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    let record = &c.state_json()["records"][0]["record"];
    assert_eq!(record["last_attempt_boot"]["secs"], 100, "{record}");

    // Five seconds later in real time the wall clock reads 3 h on.
    let stepped = T0 + 3 * 3600;
    let (code, j, err) = run_booted(stepped, "boot-1:105", "5.6.7.8");
    assert_eq!(code, 3, "{j} {err}");
    assert_eq!(j["outcome"], "deferred");
    assert_eq!(j["sent"], false);
    assert_eq!(j["retry_after_s"], 595);
    assert_eq!(c.sent(), 1, "sent within the floor");

    // 600 s of boot time after the request it goes.
    let (code, j, err) = run_booted(stepped + 595, "boot-1:700", "5.6.7.8");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    assert_eq!(c.sent(), 2);

    // Another boot: its clock says nothing about the floor, the wall
    // clock's has passed.
    let (code, j, err) = run_booted(stepped + 1200, "boot-2:30", "9.9.9.9");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    assert_eq!(c.sent(), 3);
}

/// After a reboot the boot clock starts again, and a wall clock the kernel
/// does not count as synchronised may be hours ahead: the first request
/// waits until the boot is 10 minutes old (`MTGSY_DDNS_BOOT`'s
/// `:unsynced` stands in for the kernel's word). A synchronised clock, or
/// a boot 10 minutes old, sends at once.
#[test]
fn an_unsynced_clock_after_a_reboot_waits_until_the_boot_is_ten_minutes_old() {
    let c = Client::new("unsynced-reboot");
    let run_booted = |now: i64, boot: &str, ip: &str| {
        let mut cmd = update_cmd(&c.server.url(), &c.state());
        cmd.args(["--allow-http", "--json", "--ip", ip])
            .env("MTGSY_PASSWORD", "pw-one")
            .env("MTGSY_DDNS_NOW", now.to_string())
            .env("MTGSY_DDNS_BOOT", boot);
        let (code, out, err) = texts(&run(cmd));
        let json: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("stdout {out:?} is not JSON ({e}); stderr {err}"));
        (code, json, err)
    };
    let (code, j, err) = run_booted(T0, "boot-1:5000", "1.2.3.4");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");

    // A power cut; 100 s after the boot the clock reads 4 h on, maybe
    // ahead of true time: held for the 500 s left of the boot's first 600.
    let ahead = T0 + 4 * 3600;
    let (code, j, err) = run_booted(ahead, "boot-2:100:unsynced", "5.6.7.8");
    assert_eq!(code, 3, "{j} {err}");
    assert_eq!(j["outcome"], "deferred");
    assert_eq!(j["sent"], false);
    assert_eq!(j["retry_after_s"], 500);
    let message = j["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("deferred by the 10-minute minimum between requests"),
        "{j}"
    );
    let (code, j, _) = run_booted(ahead + 499, "boot-2:599:unsynced", "5.6.7.8");
    assert_eq!((code, j["retry_after_s"].as_i64()), (3, Some(1)), "{j}");
    assert_eq!(
        c.sent(),
        1,
        "sent within 600 s of boot on an unsynced clock"
    );

    // Synchronised, the wall clock's floor is proof enough.
    let (code, j, err) = run_booted(ahead, "boot-2:100", "5.6.7.8");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    assert_eq!(c.sent(), 2);

    // Another reboot, still unsynchronised, but the boot is 600 s old.
    let (code, j, err) = run_booted(ahead + 3600, "boot-3:600:unsynced", "9.9.9.9");
    assert_eq!((code, j["outcome"].as_str()), (0, Some("updated")), "{err}");
    assert_eq!(c.sent(), 3);
}
