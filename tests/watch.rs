//! `mtgsy-ddns watch` in a network namespace of its own.
//!
//! Each test makes a namespace (`ip netns add`), brings `lo` up and adds a
//! veth pair `wan0`/`wan0p` in it. The stand-in server must be reachable
//! from inside: a thread of this test process enters the namespace with
//! `setns(2)` (which moves that thread only) and starts
//! `common::StubServer` there, so its listening socket belongs to the
//! namespace's 127.0.0.1 while the test still reads what it recorded. The
//! watch process enters the namespace between fork and exec. Addresses
//! are then changed with `ip -n NS addr …`, which the process sees as
//! rtnetlink events.
//!
//! Time: the guard's 10-minute floor cannot be waited out in a test, so
//! the floor tests set `MTGSY_DDNS_TEST_WARP=60`, a hook that debug builds
//! of watch mode honour (release builds ignore it): guard time then runs
//! 60 times faster than real time, so the floor ends 10 s after a request.
//! Nothing else changes: the events, the timers and the state file are the
//! real ones. The test checks the binary announced the warp, so a release
//! build fails here instead of passing by accident.
//!
//! These tests need iproute2 (tests/a_prerequisites.rs checks it) and root:
//! where network namespaces cannot be made, each says
//! `skipped: NAME: needs root ...` and returns.
//!
//! Two tests need no namespace: watch refusing one account spelt two ways,
//! and watch reporting a setup the system refused (exit 1).

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Behaviour, Netns, StubServer, TempDir};

const PASSWORD: &str = "w4tch-s3cret";

/// A namespace for watch mode: `lo` up and a veth pair `wan0`/`wan0p`,
/// both up, no addresses.
fn wan_netns() -> Netns {
    let ns = Netns::new("w");
    add_wan(&ns);
    ns
}

/// Adds the veth pair `wan0`/`wan0p` to `ns`, both up.
fn add_wan(ns: &Netns) {
    ns.ip(&[
        "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p",
    ]);
    ns.ip(&["link", "set", "wan0", "up"]);
    ns.ip(&["link", "set", "wan0p", "up"]);
}

/// A stand-in server listening on the namespace's 127.0.0.1.
fn ns_server(ns: &Netns) -> StubServer {
    ns.inside(StubServer::plain)
}

/// A running `mtgsy-ddns watch` inside a namespace; killed on drop.
struct Watch {
    child: Child,
    log: PathBuf,
    state: PathBuf,
}

impl Watch {
    fn start(
        ns: &Netns,
        dir: &TempDir,
        server: &StubServer,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Watch {
        let log = dir.path().join(format!("watch-{}.log", dir_count()));
        let state = dir.path().join("state.json");
        let mut c = common::cmd();
        c.arg("watch")
            .args(["--server", &server.url(), "--allow-http", "-v"])
            .arg("--state")
            .arg(&state)
            .args(extra)
            .env("MTGSY_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        let ns_file = ns.file();
        let fd = ns_file.as_raw_fd();
        // SAFETY: only setns(2), async-signal-safe, runs between fork and exec.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c.spawn().expect("start mtgsy-ddns watch");
        drop(ns_file);
        Watch { child, log, state }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `text` `times` times; fails after `limit`.
    fn wait_log(&mut self, text: &str, times: usize, limit: Duration) {
        let start = Instant::now();
        while self.log().matches(text).count() < times {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "watch exited ({status}) waiting for {text:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < limit,
                "no {text:?} (x{times}) in the log after {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0);
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit; its exit code.
    fn wait_exit(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < limit,
                "still running after {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn status_value(&self, key: &str) -> u64 {
        proc_status(self.child.id(), key)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir_count() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A `/proc/PID/status` value in its first unit (kB or a count), summed
/// over all threads for the context-switch counters.
fn proc_status(pid: u32, key: &str) -> u64 {
    let read = |path: &Path| -> u64 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {}", path.display()))
    };
    if key.contains("ctxt") {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|t| read(&t.unwrap().path().join("status")))
            .sum()
    } else {
        read(Path::new(&format!("/proc/{pid}/status")))
    }
}

/// The `ip` parameters the server received, in order.
fn sent_ips(server: &StubServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.query("ip").unwrap_or_default())
        .collect()
}

/// Waits until the server has `n` requests; the time it took.
fn wait_requests(server: &StubServer, n: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    while server.requests().len() < n {
        assert!(
            start.elapsed() < limit,
            "{} request(s) after {limit:?}, wanted {n}: {:?}",
            server.requests().len(),
            sent_ips(server)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    start.elapsed()
}

fn wan_watch(ns: &Netns, dir: &TempDir, server: &StubServer, env: &[(&str, &str)]) -> Watch {
    Watch::start(
        ns,
        dir,
        server,
        &["--interface", "wan0", "--username", "home@example.com"],
        env,
    )
}

fn state_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the state file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{text}"))
}

fn record(path: &Path, username: &str) -> serde_json::Value {
    state_json(path)["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["username"] == username)
        .unwrap_or_else(|| panic!("no record for {username}"))["record"]
        .clone()
}

const WARP: &[(&str, &str)] = &[("MTGSY_DDNS_TEST_WARP", "60")];
/// Real time for the guard's 600 s floor at a warp of 60.
const FLOOR_REAL: Duration = Duration::from_secs(10);

#[test]
fn adding_an_address_sends_one_update_within_a_second() {
    if !common::namespaces_or_skip("adding_an_address_sends_one_update_within_a_second") {
        return;
    }
    let ns = wan_netns();
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-add");
    // With the fleet's random delay (default up to 10 s) turned off.
    let args = [
        "--interface",
        "wan0",
        "--username",
        "home@example.com",
        "--jitter",
        "0",
    ];
    let mut w = Watch::start(&ns, &dir, &server, &args, &[]);
    w.wait_log("waiting for an address event", 1, Duration::from_secs(10));

    let start = Instant::now();
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    wait_requests(&server, 1, Duration::from_secs(5));
    let latency = start.elapsed();
    println!("measurement: address change to request: {latency:?}");
    assert!(latency < Duration::from_secs(1), "took {latency:?}");

    // Another interface's address, and the same address again: nothing.
    ns.ip(&["addr", "add", "5.6.7.9/24", "dev", "wan0p"]);
    w.signal(libc::SIGUSR1);
    w.wait_log("SIGUSR1", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sent_ips(&server), ["1.2.3.4"]);
    let r = &server.requests()[0];
    assert_eq!(r.query("email").as_deref(), Some("home@example.com"));
    assert_eq!(r.query("pass").as_deref(), Some(PASSWORD));
    assert_eq!(
        record(&w.state, "home@example.com")["registered_ip"],
        "1.2.3.4"
    );
    assert!(!w.log().contains(PASSWORD), "password in the log");
    assert!(w.alive());
}

#[test]
fn flapping_sends_one_update_now_and_one_after_the_floor() {
    if !common::namespaces_or_skip("flapping_sends_one_update_now_and_one_after_the_floor") {
        return;
    }
    let ns = wan_netns();
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-flap");
    let mut w = wan_watch(&ns, &dir, &server, WARP);
    w.wait_log("time runs 60x faster", 1, Duration::from_secs(10));
    w.wait_log("waiting for an address event", 1, Duration::from_secs(10));

    // /32 each: deleting a primary address of a subnet would take its
    // secondaries with it.
    ns.ip(&["addr", "add", "5.6.7.1/32", "dev", "wan0"]);
    wait_requests(&server, 1, Duration::from_secs(2));
    let first = Instant::now();

    // Ten changes in under a minute of guard time (under 1 s real).
    for k in 2..=11 {
        ns.ip(&["addr", "add", &format!("5.6.7.{k}/32"), "dev", "wan0"]);
        ns.ip(&["addr", "del", &format!("5.6.7.{}/32", k - 1), "dev", "wan0"]);
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(first.elapsed() < FLOOR_REAL / 2, "flapping took too long");
    w.wait_log(
        "deferred by the 10-minute minimum",
        1,
        Duration::from_secs(3),
    );
    assert!(w.log().contains("retry timer set for"), "{}", w.log());
    assert_eq!(
        server.requests().len(),
        1,
        "sent inside the floor: {:?}",
        sent_ips(&server)
    );

    // The retry timer fires when the floor ends, with the latest address.
    wait_requests(&server, 2, FLOOR_REAL * 2);
    let second = first.elapsed();
    println!(
        "measurement: second request {second:?} after the first (floor = {FLOOR_REAL:?} real)"
    );
    assert!(
        second >= FLOOR_REAL - Duration::from_millis(300),
        "before the floor ended: {second:?}"
    );
    assert!(
        second < FLOOR_REAL + Duration::from_secs(3),
        "late: {second:?}"
    );
    assert_eq!(sent_ips(&server), ["5.6.7.1", "5.6.7.11"]);

    // And nothing more, across another floor and a safety-net check.
    std::thread::sleep(FLOOR_REAL + Duration::from_secs(2));
    assert_eq!(sent_ips(&server), ["5.6.7.1", "5.6.7.11"]);
    let rec = record(&w.state, "home@example.com");
    assert_eq!(rec["registered_ip"], "5.6.7.11");
    assert!(w.alive());
}

#[test]
fn removing_the_interface_and_bringing_it_back_is_survived() {
    if !common::namespaces_or_skip("removing_the_interface_and_bringing_it_back_is_survived") {
        return;
    }
    let ns = wan_netns();
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-relink");
    let mut w = wan_watch(&ns, &dir, &server, WARP);
    wait_requests(&server, 1, Duration::from_secs(5));
    let first = Instant::now();

    ns.ip(&["link", "del", "wan0"]);
    w.wait_log("removed 1.2.3.4/24", 1, Duration::from_secs(3));
    w.wait_log("waiting for an address event", 1, Duration::from_secs(3));
    assert!(w.alive());

    add_wan(&ns);
    ns.ip(&["addr", "add", "5.6.7.8/24", "dev", "wan0"]);
    w.wait_log("added 5.6.7.8/24 on wan0", 1, Duration::from_secs(3));
    w.wait_log("update to 5.6.7.8 deferred", 1, Duration::from_secs(3));
    wait_requests(&server, 2, FLOOR_REAL * 2);
    assert!(first.elapsed() >= FLOOR_REAL - Duration::from_millis(300));
    assert_eq!(sent_ips(&server), ["1.2.3.4", "5.6.7.8"]);

    // Gone and back again with the same address: nothing to send.
    ns.ip(&["link", "del", "wan0"]);
    add_wan(&ns);
    ns.ip(&["addr", "add", "5.6.7.8/24", "dev", "wan0"]);
    w.wait_log("added 5.6.7.8/24 on wan0", 2, Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(sent_ips(&server), ["1.2.3.4", "5.6.7.8"]);
    assert!(w.alive());
}

#[test]
fn sigterm_mid_update_leaves_a_valid_state() {
    if !common::namespaces_or_skip("sigterm_mid_update_leaves_a_valid_state") {
        return;
    }
    let ns = wan_netns();
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    let server = ns_server(&ns);
    server.set_behaviour(Behaviour::Delay(Duration::from_secs(20)));
    let dir = TempDir::new("watch-term");
    let mut w = wan_watch(&ns, &dir, &server, &[]);
    wait_requests(&server, 1, Duration::from_secs(5));

    let start = Instant::now();
    w.signal(libc::SIGTERM);
    let code = w.wait_exit(Duration::from_secs(5));
    println!(
        "measurement: SIGTERM mid-request to exit: {:?}",
        start.elapsed()
    );
    assert_eq!(code, 0, "{}", w.log());
    assert!(
        w.log().contains("SIGTERM: stopping during the check"),
        "{}",
        w.log()
    );

    // The attempt is on disk, the file is whole, nothing half-written.
    let rec = record(&w.state, "home@example.com");
    assert_eq!(rec["last_result"], "pending", "{rec}");
    assert_eq!(rec["last_attempt_ip"], "1.2.3.4");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state"))
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

    // The CLI reads it, and the floor holds for the next run.
    let mut status = common::cmd();
    status.args(["status", "--json", "--state"]).arg(&w.state);
    let (code, out, err) = common::texts(&common::run(status));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"last_attempt_ip\":\"1.2.3.4\""), "{out}");
    let mut update = common::cmd();
    update
        .args([
            "update",
            "--ip",
            "1.2.3.4",
            "--allow-http",
            "--username",
            "home@example.com",
        ])
        .args(["--server", &server.url(), "--state"])
        .arg(&w.state)
        .env("MTGSY_PASSWORD", PASSWORD);
    let (code, out, err) = common::texts(&common::run(update));
    assert_eq!(code, 3, "the floor must hold: {out}{err}");
}

#[test]
fn sigterm_and_sigint_when_idle_exit_at_once() {
    if !common::namespaces_or_skip("sigterm_and_sigint_when_idle_exit_at_once") {
        return;
    }
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let ns = wan_netns();
        ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
        let server = ns_server(&ns);
        let dir = TempDir::new("watch-idle-stop");
        let mut w = wan_watch(&ns, &dir, &server, &[]);
        wait_requests(&server, 1, Duration::from_secs(5));
        w.wait_log("updated to 1.2.3.4", 1, Duration::from_secs(5));
        let start = Instant::now();
        w.signal(sig);
        assert_eq!(w.wait_exit(Duration::from_secs(2)), 0, "{}", w.log());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(w.log().contains(": stopping"), "{}", w.log());
        assert_eq!(
            record(&w.state, "home@example.com")["last_result"],
            "updated"
        );
    }
}

#[test]
fn several_hosts_reload_on_sighup_and_check_on_sigusr1() {
    if !common::namespaces_or_skip("several_hosts_reload_on_sighup_and_check_on_sigusr1") {
        return;
    }
    let ns = wan_netns();
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-hosts");
    let config = dir.path().join("config.json");
    let write_config = |names: &[&str]| {
        let hosts: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!({ "username": n }))
            .collect();
        let json = serde_json::json!({ "interface": "wan0", "hb": 1, "hosts": hosts });
        std::fs::write(&config, json.to_string()).unwrap();
    };
    write_config(&["a.example.com", "b.example.com"]);
    let config_arg = config.to_str().unwrap().to_string();
    let mut w = Watch::start(&ns, &dir, &server, &["--config", &config_arg], &[]);
    wait_requests(&server, 2, Duration::from_secs(5));

    let emails = |server: &StubServer| -> Vec<String> {
        let mut v: Vec<String> = server
            .requests()
            .iter()
            .map(|r| r.query("email").unwrap_or_default())
            .collect();
        v.sort();
        v
    };
    assert_eq!(emails(&server), ["a.example.com", "b.example.com"]);
    assert!(server
        .requests()
        .iter()
        .all(|r| r.query("hb").as_deref() == Some("1")));

    // A third host appears on SIGHUP; the others are unchanged.
    write_config(&["a.example.com", "b.example.com", "c.example.com"]);
    w.signal(libc::SIGHUP);
    wait_requests(&server, 3, Duration::from_secs(5));
    w.wait_log("configuration reloaded", 1, Duration::from_secs(2));
    assert_eq!(
        emails(&server),
        ["a.example.com", "b.example.com", "c.example.com"]
    );

    // A broken config on SIGHUP keeps the running one.
    std::fs::write(&config, "{ not json").unwrap();
    w.signal(libc::SIGHUP);
    w.wait_log(
        "keeping the running configuration",
        1,
        Duration::from_secs(5),
    );

    // SIGUSR1 checks all three now: all registered, nothing sent.
    w.signal(libc::SIGUSR1);
    w.wait_log(
        "SIGUSR1: checking every host now",
        1,
        Duration::from_secs(5),
    );
    w.wait_log("is already registered", 3, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests().len(), 3);
    for name in ["a.example.com", "b.example.com", "c.example.com"] {
        assert_eq!(record(&w.state, name)["registered_ip"], "1.2.3.4");
    }
    // The plain-HTTP warning is shown once per host, not on every check.
    assert_eq!(
        w.log()
            .matches("warning: a.example.com: plain HTTP")
            .count(),
        1,
        "{}",
        w.log()
    );
    assert!(!w.log().contains(PASSWORD));
    assert!(w.alive());
}

/// A router with two WANs (`common::TwoWans`) and a host on each, its
/// address from its WAN and its requests bound to it (`interface` and
/// `bind_interface` per host): an address change on WAN A sends exactly one
/// request, for host A, from WAN A's new address; host B is not even
/// checked (the safety net is set to a day, so only address events and
/// SIGUSR1 check a host), let alone sends.
#[test]
fn two_wans_each_host_follows_its_own_wan() {
    if !common::namespaces_or_skip("two_wans_each_host_follows_its_own_wan") {
        return;
    }
    let net = common::TwoWans::new();
    let dir = TempDir::new("watch-two-wans");
    let config = dir.path().join("config.json");
    let hosts = serde_json::json!({ "hosts": [
        { "username": "a.example.com", "interface": "wana", "bind_interface": "wana" },
        { "username": "b.example.com", "interface": "wanb", "bind_interface": "wanb" },
    ] });
    std::fs::write(&config, hosts.to_string()).unwrap();
    let url = net.url();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--server",
        &url,
        "--allow-private",
        "--jitter",
        "0",
        "--check-interval",
        "86400",
        "-v",
    ];
    let mut w = Watch::start(&net.router, &dir, &net.server, &args, WARP);
    w.wait_log("time runs 60x faster", 1, Duration::from_secs(10));
    // (host, address sent, source address) of each request, in order.
    let sent = || -> Vec<(String, String, String)> {
        let sources = net.sources();
        net.server
            .requests()
            .iter()
            .zip(sources)
            .map(|(r, source)| {
                let q = |k: &str| r.query(k).unwrap_or_default();
                (q("email"), q("ip"), source)
            })
            .collect()
    };
    let row = |host: &str, ip: &str| (host.to_string(), ip.to_string(), ip.to_string());

    // At start each host registers its WAN's address, through that WAN.
    wait_requests(&net.server, 2, Duration::from_secs(10));
    let mut first = sent();
    first.sort();
    assert_eq!(
        first,
        [
            row("a.example.com", "10.1.0.1"),
            row("b.example.com", "10.2.0.1")
        ]
    );
    let b_attempt = record(&w.state, "b.example.com")["last_attempt_at"].clone();

    // Past the floor, WAN A's address changes (the new one added first,
    // so the WAN keeps its routes).
    std::thread::sleep(FLOOR_REAL + Duration::from_secs(1));
    net.router
        .ip(&["addr", "add", "10.1.0.9/32", "dev", "wana"]);
    net.router
        .ip(&["addr", "del", "10.1.0.1/32", "dev", "wana"]);
    wait_requests(&net.server, 3, Duration::from_secs(5));
    assert_eq!(sent()[2], row("a.example.com", "10.1.0.9"));

    // Nothing more: not for B, not again for A.
    std::thread::sleep(FLOOR_REAL + Duration::from_secs(2));
    assert_eq!(sent().len(), 3, "{:?}\n{}", sent(), w.log());
    assert_eq!(
        record(&w.state, "a.example.com")["registered_ip"],
        "10.1.0.9"
    );
    let b = record(&w.state, "b.example.com");
    assert_eq!(b["registered_ip"], "10.2.0.1");
    assert_eq!(b["last_attempt_at"], b_attempt);
    // A's events made A check (its new address added, its old one
    // deleted), never B.
    let b_checked = "b.example.com: 10.2.0.1 is already registered";
    assert_eq!(w.log().matches(b_checked).count(), 0, "{}", w.log());
    // Which is what a check of B logs (-vv).
    w.signal(libc::SIGUSR1);
    w.wait_log(b_checked, 1, Duration::from_secs(5));
    assert_eq!(sent().len(), 3);
    assert!(w.alive());
}

#[test]
fn idle_watch_does_not_wake_up() {
    if !common::namespaces_or_skip("idle_watch_does_not_wake_up") {
        return;
    }
    let ns = wan_netns();
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-idle");
    let mut w = wan_watch(&ns, &dir, &server, &[]);
    wait_requests(&server, 1, Duration::from_secs(5));
    w.wait_log("updated to 1.2.3.4", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));

    let window = Duration::from_secs(20);
    let before = w.status_value("voluntary_ctxt_switches");
    std::thread::sleep(window);
    let after = w.status_value("voluntary_ctxt_switches");
    let rss = w.status_value("VmRSS");
    let hwm = w.status_value("VmHWM");
    let threads = w.status_value("Threads");
    println!(
        "measurement: idle over {window:?}: {} wake-up(s); VmRSS {rss} kB, VmHWM {hwm} kB, {threads} thread(s)",
        after - before
    );
    assert_eq!(after - before, 0, "woke up while idle");
    assert_eq!(threads, 1, "a thread lingers after the check");
    assert!(w.alive());
}

/// One account spelt two ways is one guard: watch refuses the second host
/// before it starts, as bad input.
#[test]
fn hosts_spelt_two_ways_are_one_account() {
    let dir = TempDir::new("watch-spellings");
    let config = dir.path().join("config.json");
    let json = serde_json::json!({
        "ip": "1.2.3.4",
        "hosts": [
            {"username": "Home.Example.COM", "state": dir.path().join("a/state.json")},
            {"username": "home.example.com.", "state": dir.path().join("b/state.json")},
        ]
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let out = common::run({
        let mut c = common::cmd();
        c.args(["watch", "--config"])
            .arg(&config)
            .env("MTGSY_PASSWORD", PASSWORD);
        c
    });
    let (code, _, err) = common::texts(&out);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("hosts[1].username"), "{err}");
    assert!(err.contains("is already hosts[0]"), "{err}");
}

/// When the system refuses what watch mode needs, it says so, as its own
/// error with exit 1, not as an address detection failure (exit 4). A
/// descriptor limit of 4 leaves room for the dynamic loader and the
/// signalfd (fd 3), so the rtnetlink socket is the call refused.
#[test]
fn setup_refused_by_the_system_exits_1() {
    let dir = TempDir::new("watch-setup-refused");
    let out = common::run({
        let mut c = common::cmd();
        c.args(["watch", "--ip", "1.2.3.4", "--username", "home@example.com"])
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .env("MTGSY_PASSWORD", PASSWORD);
        // SAFETY: only fcntl(2) and setrlimit(2), async-signal-safe, run
        // between fork and exec. Descriptors this test process inherited
        // are closed at exec, so fd 3 is the first free one.
        unsafe {
            c.pre_exec(|| {
                for fd in 3..1024 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
                let limit = libc::rlimit {
                    rlim_cur: 4,
                    rlim_max: 4,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
    });
    let (code, _, err) = common::texts(&out);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("watch mode: cannot subscribe to rtnetlink address events: "),
        "{err}"
    );
    assert!(!err.contains("address detection"), "{err}");
}

/// Flash wear: a watch checking over and over (SIGUSR1 four times a
/// second, and the safety net) writes the state file for its heartbeat
/// (`last_check`) once per check interval, not once per check. Guard time
/// runs 60 times faster (600 s = 10 s here); each write replaces the file,
/// seen as a new inode while a descriptor keeps the old one in use.
#[test]
fn repeated_checks_write_the_heartbeat_once_per_check_interval() {
    if !common::namespaces_or_skip("repeated_checks_write_the_heartbeat_once_per_check_interval") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let ns = wan_netns();
    let server = ns_server(&ns);
    let dir = TempDir::new("watch-heartbeat");
    let args = [
        "--interface",
        "wan0",
        "--username",
        "home@example.com",
        "--jitter",
        "0",
    ];
    let mut w = Watch::start(&ns, &dir, &server, &args, WARP);
    w.wait_log("waiting for an address event", 1, Duration::from_secs(10));
    ns.ip(&["addr", "add", "1.2.3.4/24", "dev", "wan0"]);
    wait_requests(&server, 1, Duration::from_secs(5));
    let start = Instant::now();
    while record(&w.state, "home@example.com")["last_result"] != "updated" {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", w.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = record(&w.state, "home@example.com");
    assert_eq!(sent["last_check"], sent["last_attempt_at"]);

    // 15 s here: 900 s of guard time, one and a half check intervals.
    let mut file = File::open(&w.state).unwrap();
    let (mut writes, mut signals) = (0, 0);
    let start = Instant::now();
    while start.elapsed() < FLOOR_REAL * 3 / 2 {
        if start.elapsed() >= Duration::from_millis(250) * signals {
            w.signal(libc::SIGUSR1);
            signals += 1;
        }
        let now = std::fs::metadata(&w.state).unwrap();
        if now.ino() != file.metadata().unwrap().ino() {
            writes += 1;
            file = File::open(&w.state).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    w.wait_log("SIGUSR1", 40, Duration::from_secs(5));
    assert_eq!(
        writes,
        1,
        "state writes in 1.5 check intervals:\n{}",
        w.log()
    );
    let beat = record(&w.state, "home@example.com");
    let (sent_at, checked) = (
        sent["last_attempt_at"].as_i64().unwrap(),
        beat["last_check"].as_i64().unwrap(),
    );
    assert!((sent_at + 600..sent_at + 900).contains(&checked), "{beat}");
    assert_eq!(beat["last_attempt_at"], sent["last_attempt_at"]);
    assert_eq!(server.requests().len(), 1);
    assert!(w.alive());
}
