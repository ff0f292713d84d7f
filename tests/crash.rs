//! Crash and power-loss safety: the client is killed with SIGKILL at
//! hundreds of points of an update; the state file is always valid JSON,
//! and every request that reached the server is counted in it.

mod common;

use std::time::{Duration, Instant};

use common::*;

const T0: i64 = 1_800_000_000;

/// A deterministic spread of kill delays: half of them dense over the first
/// 6 ms (start-up, locking, writing the attempt), half over 0–45 ms (the
/// request, the reply, writing the outcome).
fn delays(n: u32) -> impl Iterator<Item = Duration> {
    (0..n).map(move |i| {
        let steps = if i % 2 == 0 { 60 } else { 450 };
        Duration::from_micros(u64::from(i * 7919 % steps) * 100)
    })
}

#[test]
fn sigkill_at_random_points_never_loses_an_attempt() {
    let server = StubServer::plain();
    // The server answers after 40 ms, so most kills land mid-run
    // whatever the machine's speed.
    server.set_behaviour(Behaviour::Delay(Duration::from_millis(40)));
    let root = TempDir::new("crash");
    let mut kills = 0;
    let mut counted = 0;
    let mut before_request = 0;
    for (i, delay) in delays(300).enumerate() {
        let dir = root.path().join(format!("run{i}"));
        let state = dir.join("state.json");
        // A user name per run tells which run a request came from.
        let user = format!("run{i}.example.com");
        let mut c = cmd();
        c.args([
            "update",
            "--username",
            &user,
            "--ip",
            "1.2.3.4",
            "--allow-http",
        ])
        .arg("--server")
        .arg(server.url())
        .arg("--state")
        .arg(&state)
        .env("MTGSY_PASSWORD", "pw")
        .env("MTGSY_DDNS_NOW", T0.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        let start = Instant::now();
        while start.elapsed() < delay {
            std::hint::spin_loop();
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        // Ended by the signal, not by finishing first.
        if status.code().is_none() {
            kills += 1;
        }
        // Give the server thread a moment to record a request in flight
        // (late ones are still caught by the user name, below).
        std::thread::sleep(Duration::from_millis(5));
        let reached = server
            .requests()
            .iter()
            .any(|r| r.query("email").as_deref() == Some(user.as_str()));
        if state.exists() {
            let text = std::fs::read_to_string(&state).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("run {i} (kill after {delay:?}): state is not valid JSON ({e}): {text:?}")
            });
            assert_eq!(json["version"], 2, "run {i}");
            if reached {
                assert_eq!(
                    json["records"][0]["record"]["last_attempt_at"], T0,
                    "run {i}: the attempt was not counted: {text}"
                );
                counted += 1;
            }
        } else {
            assert!(!reached, "run {i} (kill after {delay:?}): a request reached the server but no state was written");
            before_request += 1;
        }
    }
    // A request that arrived only after its run was checked must still have
    // been counted.
    for r in server.requests() {
        let user = r.query("email").unwrap();
        let i: usize = user
            .trim_start_matches("run")
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let state = root.path().join(format!("run{i}")).join("state.json");
        let text = std::fs::read_to_string(&state)
            .unwrap_or_else(|_| panic!("run {i}: request reached the server, no state"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["records"][0]["record"]["last_attempt_at"], T0,
            "run {i}: {text}"
        );
    }
    println!("crash: {kills} kills; {counted} requests reached the server, all counted; {before_request} killed before writing state");
    assert!(kills >= 250, "only {kills} runs were killed mid-way");
    assert!(
        counted > 0,
        "no kill landed after the request went out: spread the delays"
    );
}

#[test]
fn full_state_directory_refuses_to_send() {
    if !namespaces_or_skip("full_state_directory_refuses_to_send") {
        return;
    }
    // A 64 KiB tmpfs, filled up: the attempt cannot be recorded.
    let dir = TempDir::new("full");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let server = StubServer::plain();
    let script = format!(
        "set -e; mount -t tmpfs -o size=64k tmpfs '{m}'; \
         mkdir '{m}/s'; dd if=/dev/zero of='{m}/fill' bs=4k count=100 2>/dev/null || true; set +e; \
         MTGSY_PASSWORD=pw '{bin}' update --username user@example.com --ip 1.2.3.4 --allow-http \
           --server '{url}' --state '{m}/s/state.json'; echo rc=$?",
        m = mnt.display(),
        bin = bin(),
        url = server.url()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux) is needed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("rc=2"), "stdout {stdout} stderr {stderr}");
    assert!(
        stderr.contains("nothing was sent") || stderr.contains("cannot"),
        "{stderr}"
    );
    assert_eq!(
        server.connections(),
        0,
        "nothing may be sent when the attempt cannot be recorded"
    );
}
