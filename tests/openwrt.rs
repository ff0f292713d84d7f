//! OpenWrt integration: the ddns-scripts provider script, the hotplug hook and
//! the procd init script run under busybox `ash` (the shell OpenWrt uses) in
//! stand-ins of their environments, with the real binary against a loopback
//! stand-in of the service; the provider JSON checked the way ddns-scripts
//! and LuCI read it. (The packages themselves: tests/packages.rs.)
//!
//! busybox is required: without it these tests fail (they never skip).

mod common;

use common::StubServer;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mtgsy-ddns");
/// Quotes, a space, `$` and `%` catch every quoting or eval slip on the way.
const PASSWORD: &str = "s3cr3t p'a\"ss$HOME%41";
const IP1: &str = "81.2.69.142";
const IP2: &str = "81.2.69.150";

// ---------------------------------------------------------------- helpers --

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
fn files() -> PathBuf {
    root().join("openwrt/files")
}
fn fixtures() -> PathBuf {
    root().join("tests/openwrt")
}
fn provider_script() -> PathBuf {
    files().join("usr/lib/ddns/update_mtgsy_net.sh")
}
fn hook_script() -> PathBuf {
    files().join("etc/hotplug.d/iface/96-mtgsy-ddns")
}
fn init_script() -> PathBuf {
    files().join("etc/init.d/mtgsy-ddns")
}
fn lib_dir() -> PathBuf {
    files().join("usr/lib/mtgsy-ddns")
}

/// busybox from PATH (or the usual places); panics when it is missing, so a
/// machine without it fails these tests instead of skipping them.
fn busybox() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/bin", "/usr/bin", "/sbin", "/usr/sbin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join("busybox");
        if p.is_file() {
            return p;
        }
    }
    panic!("busybox is required by the OpenWrt tests (apt-get install busybox)");
}

fn ash() -> Command {
    let mut c = Command::new(busybox());
    c.arg("ash");
    // a clean environment: nothing from the developer's shell leaks in
    c.env_clear()
        .env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        )
        .env("HOME", "/nonexistent");
    c
}

/// A scratch directory, removed when dropped.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mtgsy-openwrt-{}-{}-{}",
            name,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("run")).unwrap();
        fs::create_dir_all(dir.join("config")).unwrap();
        Sandbox { dir }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_default()
    }
    /// The calls the argv recorder saw: each a list of argv words, plus
    /// whether MTGSY_PASSWORD was in its environment.
    fn calls(&self) -> Vec<(Vec<String>, bool)> {
        let mut out = Vec::new();
        let mut cur: Option<(Vec<String>, bool)> = None;
        for line in self.read("argv.log").lines() {
            if line == "=== call" {
                cur = Some((Vec::new(), false));
            } else if line == "=== end" {
                out.extend(cur.take());
            } else if let Some(c) = cur.as_mut() {
                if let Some(w) = line.strip_prefix("arg ") {
                    c.0.push(w.to_string());
                } else if line == "env MTGSY_PASSWORD" {
                    c.1 = true;
                }
            }
        }
        out
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn arg_after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.iter()
        .position(|a| a == flag)
        .and_then(|i| argv.get(i + 1))
        .map(|s| s.as_str())
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------- ddns-scripts provider script --

struct ProviderRun {
    rc: i32,
    registered: Option<String>,
    stdout: String,
}

/// Source update_mtgsy_net.sh the way ddns-scripts does (inside send_update,
/// or inside get_registered_ip with GET_REGISTERED_IP=1) with the section's
/// options as variables.
fn run_provider(
    sb: &Sandbox,
    server: &str,
    section: &[(&str, &str)],
    ip: &str,
    mode: &str,
) -> ProviderRun {
    let mut sec = String::new();
    for (k, v) in section {
        sec.push_str(&format!("{}={}\n", k, sh_quote(v)));
    }
    fs::write(sb.path("section.sh"), sec).unwrap();
    let out = ash()
        .arg(fixtures().join("ddns-harness.sh"))
        .arg(sb.path("section.sh"))
        .arg(mode)
        .env("MTGSY_DDNS_BIN", fixtures().join("record-argv.sh"))
        .env("MTGSY_TEST_REAL", BIN)
        .env("MTGSY_TEST_LOG", sb.path("argv.log"))
        .env("MTGSY_DDNS_LIB", lib_dir())
        .env("MTGSY_DDNS_STATE", sb.path("state/state.json"))
        .env("MTGSY_DDNS_SERVER", server)
        .env("TEST_RUNDIR", sb.path("run"))
        .env("TEST_LOGFILE", sb.path("ddns.log"))
        .env("TEST_SCRIPT", provider_script())
        .env("TEST_IP", ip)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let rc = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rc="))
        .unwrap_or_else(|| {
            panic!(
                "the harness printed no rc=\nstdout: {stdout}\nstderr: {}\nlog:\n{}",
                String::from_utf8_lossy(&out.stderr),
                sb.read("ddns.log")
            )
        })
        .parse()
        .unwrap();
    let registered = stdout
        .lines()
        .find_map(|l| l.strip_prefix("registered="))
        .map(str::to_string);
    ProviderRun {
        rc,
        registered,
        stdout,
    }
}

fn section<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut s = vec![
        ("username", "user@example.com"),
        ("password", PASSWORD),
        ("domain", "home.example.com"),
        // resolvable without a network, and never the address we send
        ("lookup_host", "localhost"),
        ("use_https", "0"),
    ];
    for (k, v) in extra {
        s.retain(|(kk, _)| kk != k);
        s.push((k, v));
    }
    s
}

/// The password must reach the service, and never appear in argv or a log.
fn assert_password_hidden(sb: &Sandbox) {
    for f in [
        "argv.log",
        "ddns.log",
        "run/mtgsy_test.dat",
        "run/mtgsy_test.err",
    ] {
        assert!(
            !sb.read(f).contains(PASSWORD),
            "{f} contains the password:\n{}",
            sb.read(f)
        );
    }
    let calls = sb.calls();
    assert!(!calls.is_empty(), "the binary was never called");
    for (argv, env) in &calls {
        assert!(
            argv.iter().all(|a| !a.contains("s3cr3t")),
            "password in argv: {argv:?}"
        );
        assert!(
            *env,
            "MTGSY_PASSWORD was not in the binary's environment: {argv:?}"
        );
    }
}

/// One successful update of IP1; returns the sandbox holding its state.
fn updated(stub: &StubServer, name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    let r = run_provider(
        &sb,
        &stub.url(),
        &section(&[("param_opt", "hb=1")]),
        IP1,
        "update",
    );
    assert_eq!(
        r.rc,
        0,
        "first update: {}\n{}",
        r.stdout,
        sb.read("ddns.log")
    );
    assert_eq!(stub.requests().len(), 1);
    sb
}

#[test]
fn provider_success_sends_once_and_fills_datfile() {
    let stub = StubServer::plain();
    let sb = updated(&stub, "success");
    let reqs = stub.requests();
    let q = |n: &str| reqs[0].query(n);
    assert_eq!(q("email").as_deref(), Some("user@example.com"));
    assert_eq!(q("pass").as_deref(), Some(PASSWORD));
    assert_eq!(q("ip").as_deref(), Some(IP1));
    assert_eq!(q("hb").as_deref(), Some("1"));

    let dat = sb.read("run/mtgsy_test.dat");
    assert!(dat.contains("800 OK"), "DATFILE lacks the reply: {dat:?}");
    let v: serde_json::Value =
        serde_json::from_str(dat.trim()).expect("DATFILE holds the --json object");
    assert_eq!(v["outcome"], "updated");

    let log = sb.read("ddns.log");
    // use_https=0 with an http:// server: allowed, and said loudly
    assert!(log.contains("CLEAR TEXT"), "no clear-text warning:\n{log}");
    let (argv, _) = &sb.calls()[0];
    assert_eq!(argv[0], "update");
    assert!(argv.contains(&"--allow-http".to_string()), "{argv:?}");
    assert_eq!(arg_after(argv, "--ip"), Some(IP1));
    assert_eq!(arg_after(argv, "--username"), Some("user@example.com"));
    assert_eq!(arg_after(argv, "--lookup-host"), Some("localhost"));
    assert_password_hidden(&sb);
}

#[test]
fn provider_password_only_in_the_environment() {
    let stub = StubServer::plain();
    let sb = updated(&stub, "password");
    assert_password_hidden(&sb);
    assert_eq!(stub.requests()[0].query("pass").as_deref(), Some(PASSWORD));
    assert!(!stub.requests()[0].raw.is_empty());
}

#[test]
fn provider_unchanged_returns_0_and_sends_nothing() {
    let stub = StubServer::plain();
    let sb = updated(&stub, "unchanged");
    let r = run_provider(
        &sb,
        &stub.url(),
        &section(&[("param_opt", "hb=1")]),
        IP1,
        "update",
    );
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(
        stub.requests().len(),
        1,
        "an update that changes nothing was sent"
    );
    assert_password_hidden(&sb);
}

#[test]
fn provider_deferred_by_the_guard_returns_127() {
    let stub = StubServer::plain();
    let sb = updated(&stub, "deferred");
    // a new address within 10 minutes of the last update: the guard waits
    let r = run_provider(
        &sb,
        &stub.url(),
        &section(&[("param_opt", "hb=1")]),
        IP2,
        "update",
    );
    assert_eq!(r.rc, 127, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(stub.requests().len(), 1, "sent within the 10-minute floor");
    assert!(
        sb.read("ddns.log").contains("deferred"),
        "{}",
        sb.read("ddns.log")
    );
}

#[test]
fn provider_rejected_returns_1() {
    let stub = StubServer::plain();
    stub.set_reply(200, "300 Invalid login");
    let sb = Sandbox::new("rejected");
    let r = run_provider(&sb, &stub.url(), &section(&[]), IP1, "update");
    assert_eq!(r.rc, 1, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(stub.requests().len(), 1);
    assert!(
        sb.read("ddns.log").contains("rejected"),
        "{}",
        sb.read("ddns.log")
    );
    assert!(sb.read("run/mtgsy_test.dat").contains("300 Invalid login"));
    assert_password_hidden(&sb);
}

#[test]
fn provider_bad_input_returns_127_and_sends_nothing() {
    let stub = StubServer::plain();
    // refused by the binary: port 80 is not allowed, and not an IPv4 address
    for (i, (extra, ip)) in [(vec![("param_opt", "port=80")], IP1), (vec![], "999.1.2.3")]
        .into_iter()
        .enumerate()
    {
        let sb = Sandbox::new(&format!("bad-bin-{i}"));
        let r = run_provider(&sb, &stub.url(), &section(&extra), ip, "update");
        assert_eq!(
            r.rc,
            127,
            "{extra:?} {ip}: {}\n{}",
            r.stdout,
            sb.read("ddns.log")
        );
        assert_eq!(sb.calls().len(), 1, "the binary should have been asked");
        assert_password_hidden(&sb);
    }
    // refused by the script before the binary runs
    for (i, extra) in [
        vec![("param_opt", "colour=blue")],
        vec![("param_opt", "hb")],
        vec![("password", "")],
        vec![("username", ""), ("domain", "")],
        vec![("use_ipv6", "1")],
    ]
    .into_iter()
    .enumerate()
    {
        let sb = Sandbox::new(&format!("bad-script-{i}"));
        let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
        assert_eq!(
            r.rc,
            127,
            "{extra:?}: {}\n{}",
            r.stdout,
            sb.read("ddns.log")
        );
        assert!(sb.calls().is_empty(), "{extra:?}: the binary ran");
        assert!(
            sb.read("ddns.log").starts_with("3 mtgsy.net:"),
            "{}",
            sb.read("ddns.log")
        );
    }
    assert_eq!(stub.requests().len(), 0, "something was sent");
}

#[test]
fn provider_param_opt_words_reach_the_request() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("param-opt");
    let opt = "hb=1 stealth=1 port=8080 offline_url=https://example.com/away offline_text=Back%20soon mx=mail.example.com.";
    let extra = [
        ("param_opt", opt),
        ("force_interval", "2"),
        ("force_unit", "hours"),
    ];
    let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(
        arg_after(&sb.calls()[0].0, "--force-interval"),
        Some("7200")
    );
    let reqs = stub.requests();
    let q = |n: &str| reqs[0].query(n);
    assert_eq!(q("stealth").as_deref(), Some("1"));
    assert_eq!(q("port").as_deref(), Some("8080"));
    assert_eq!(q("offlineurl").as_deref(), Some("https://example.com/away"));
    assert_eq!(q("offlinetext").as_deref(), Some("Back soon"));
    assert_eq!(q("mx").as_deref(), Some("mail.example.com."));

    // below the service's 10-minute floor: raised, not refused
    let sb = Sandbox::new("force-interval");
    let extra = [("force_interval", "1"), ("force_unit", "minutes")];
    let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(arg_after(&sb.calls()[0].0, "--force-interval"), Some("600"));
}

#[test]
fn provider_registered_ip_comes_from_the_state() {
    let stub = StubServer::plain();
    let fresh = Sandbox::new("registered-none");
    let r = run_provider(&fresh, &stub.url(), &section(&[]), "", "registered");
    assert_eq!(r.rc, 1, "{}", r.stdout);
    assert_eq!(r.registered.as_deref(), Some(""));

    let sb = updated(&stub, "registered");
    let r = run_provider(&sb, &stub.url(), &section(&[]), "", "registered");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(r.registered.as_deref(), Some(IP1));
    assert_eq!(
        stub.requests().len(),
        1,
        "the registered-IP check sent something"
    );
}

#[test]
fn provider_https_with_cacert_and_no_clear_text() {
    let stub = StubServer::tls();
    let sb = Sandbox::new("https");
    let ca_path = stub.ca_pem_path();
    let ca = AsRef::<Path>::as_ref(&ca_path)
        .to_str()
        .unwrap()
        .to_string();
    // an http:// server with use_https=1 is upgraded to https://
    let url = stub.url().replacen("https://", "http://", 1);
    let r = run_provider(
        &sb,
        &url,
        &section(&[("use_https", "1"), ("cacert", ca.as_str())]),
        IP1,
        "update",
    );
    assert_eq!(
        r.rc,
        0,
        "{}\n{}\n{}",
        r.stdout,
        sb.read("ddns.log"),
        sb.read("run/mtgsy_test.err")
    );
    assert_eq!(stub.requests().len(), 1);
    let (argv, _) = &sb.calls()[0];
    assert!(!argv.contains(&"--allow-http".to_string()), "{argv:?}");
    assert!(
        arg_after(argv, "--server").unwrap().starts_with("https://"),
        "{argv:?}"
    );
    assert_eq!(arg_after(argv, "--ca-file"), Some(ca.as_str()));
    assert!(!sb.read("ddns.log").contains("CLEAR TEXT"));
    assert_password_hidden(&sb);
}

// -------------------------------------------------------- the hotplug hook --

fn write_hook_config(sb: &Sandbox, stub_url: &str) {
    fs::write(
        sb.path("config/ddns"),
        format!(
            "config ddns 'global'\n\toption upd_privateip '0'\n\n\
             config service 'mt1'\n\toption enabled '1'\n\toption service_name 'mtgsy.net'\n\
             \toption interface 'wan'\n\toption username 'one@example.com'\n\
             \toption password {pw}\n\toption lookup_host 'localhost'\n\toption use_https '0'\n\
             \toption ip_source 'script'\n\toption ip_script 'echo {IP1}'\n\n\
             config service 'mt2'\n\toption enabled '1'\n\toption service_name 'mtgsy.net'\n\
             \toption username 'two.example.com'\n\toption password {pw}\n\toption lookup_host 'localhost'\n\n\
             config service 'other'\n\toption enabled '1'\n\toption service_name 'dyndns.org'\n\
             \toption username 'other'\n\toption password 'x'\n\n\
             config service 'mtoff'\n\toption enabled '0'\n\toption service_name 'mtgsy.net'\n\
             \toption username 'off@example.com'\n\toption password 'x'\n\n\
             config service 'mtlan'\n\toption enabled '1'\n\toption service_name 'mtgsy.net'\n\
             \toption interface 'lan'\n\toption username 'lan@example.com'\n\toption password 'x'\n",
            pw = sh_quote(PASSWORD),
        ),
    )
    .unwrap();
    fs::write(
        sb.path("config/mtgsy-ddns"),
        format!(
            "config service 'home'\n\toption enabled '1'\n\toption username 'home@example.com'\n\
             \toption password {pw}\n\toption ip_source 'static'\n\toption ip '{IP2}'\n\
             \toption lookup_host 'localhost'\n\toption use_https '0'\n\toption server '{stub_url}'\n\n\
             config service 'lan'\n\toption enabled '1'\n\toption interface 'lan'\n\
             \toption username 'lan2@example.com'\n\toption password 'x'\n\toption ip_source 'static'\n\
             \toption ip '{IP2}'\n\n\
             config service 'off'\n\toption username 'off2@example.com'\n\toption password 'x'\n",
            pw = sh_quote(PASSWORD),
        ),
    )
    .unwrap();
}

/// Run the hook as hotplug-call does (sourced in a subshell) with netifd's
/// variables; returns how long it took to return and its output.
fn run_hook(
    sb: &Sandbox,
    stub_url: &str,
    vars: &[(&str, &str)],
    delay: &str,
) -> (Duration, Output) {
    let mut c = ash();
    c.arg("-c")
        .arg(r#"( . "$HOOK" )"#)
        .env("HOOK", hook_script())
        .env("UCI_CONFIG_DIR", sb.path("config"))
        .env("MTGSY_DDNS_FUNCTIONS", fixtures().join("functions.sh"))
        .env("MTGSY_DDNS_LIB", lib_dir())
        .env("MTGSY_DDNS_BIN", fixtures().join("record-argv.sh"))
        .env("MTGSY_DDNS_STATE", sb.path("state/state.json"))
        .env("MTGSY_DDNS_SERVER", stub_url)
        .env("MTGSY_TEST_REAL", BIN)
        .env("MTGSY_TEST_LOG", sb.path("argv.log"))
        .env("MTGSY_TEST_DELAY", delay)
        .stdin(Stdio::null());
    for (k, v) in vars {
        c.env(k, v);
    }
    let start = Instant::now();
    // output() waits for EOF on stdout/stderr too: a background child that
    // kept hotplug's pipes open would show up here as a slow return
    let out = c.output().unwrap();
    (start.elapsed(), out)
}

fn assert_hook_updates_wan(vars: &[(&str, &str)], name: &str) {
    let stub = StubServer::plain();
    let sb = Sandbox::new(name);
    write_hook_config(&sb, &stub.url());
    // every binary run takes 1 s longer: the hook must not wait for them
    let (took, out) = run_hook(&sb, &stub.url(), vars, "1");
    assert!(out.status.success(), "{out:?}");
    assert!(
        took < Duration::from_secs(1),
        "the hook blocked hotplug for {took:?}"
    );

    wait_until("3 updates", Duration::from_secs(30), || {
        sb.calls().len() >= 3
    });
    // the two sections with a usable address reach the service
    wait_until("2 requests", Duration::from_secs(30), || {
        stub.requests().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let calls = sb.calls();
    let users: Vec<&str> = calls
        .iter()
        .map(|(a, _)| arg_after(a, "--username").unwrap())
        .collect();
    assert_eq!(
        users,
        ["one@example.com", "two.example.com", "home@example.com"],
        "{calls:?}"
    );
    for (argv, _) in &calls {
        assert_eq!(argv[0], "update");
        assert!(argv.contains(&"--syslog".to_string()), "{argv:?}");
    }
    // ip_source network (the default) follows the event's device
    assert_eq!(arg_after(&calls[1].0, "--ip-source"), Some("interface"));
    assert_eq!(arg_after(&calls[1].0, "--interface"), Some("mtgsy-test0"));
    assert_eq!(
        arg_after(&calls[0].0, "--ip-command"),
        Some(&*format!("echo {IP1}"))
    );
    let mut sent: Vec<(String, String)> = stub
        .requests()
        .iter()
        .map(|r| (r.query("email").unwrap(), r.query("ip").unwrap()))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            ("home@example.com".into(), IP2.into()),
            ("one@example.com".into(), IP1.into())
        ]
    );
    for r in stub.requests() {
        assert_eq!(r.query("pass").as_deref(), Some(PASSWORD));
    }
    assert_password_hidden_calls(&sb);
}

fn assert_password_hidden_calls(sb: &Sandbox) {
    assert!(!sb.read("argv.log").contains("s3cr3t"));
    for (argv, env) in sb.calls() {
        assert!(env, "no MTGSY_PASSWORD for {argv:?}");
    }
}

#[test]
fn hook_updates_on_ifup_of_wan_in_the_background() {
    assert_hook_updates_wan(
        &[
            ("ACTION", "ifup"),
            ("INTERFACE", "wan"),
            ("DEVICE", "mtgsy-test0"),
        ],
        "hook-ifup",
    );
}

#[test]
fn hook_updates_on_ifupdate_with_new_addresses() {
    assert_hook_updates_wan(
        &[
            ("ACTION", "ifupdate"),
            ("INTERFACE", "wan"),
            ("DEVICE", "mtgsy-test0"),
            ("IFUPDATE_ADDRESSES", "1"),
        ],
        "hook-ifupdate",
    );
}

#[test]
fn hook_ignores_other_events_and_interfaces() {
    let stub = StubServer::plain();
    let events: [&[(&str, &str)]; 5] = [
        &[
            ("ACTION", "ifupdate"),
            ("INTERFACE", "wan"),
            ("DEVICE", "mtgsy-test0"),
        ],
        &[
            ("ACTION", "ifupdate"),
            ("INTERFACE", "wan"),
            ("DEVICE", "mtgsy-test0"),
            ("IFUPDATE_ADDRESSES", "0"),
        ],
        &[("ACTION", "ifdown"), ("INTERFACE", "wan")],
        &[("ACTION", "ifup-failed"), ("INTERFACE", "wan")],
        // no section follows wan6
        &[
            ("ACTION", "ifup"),
            ("INTERFACE", "wan6"),
            ("DEVICE", "mtgsy-test1"),
        ],
    ];
    let sb = Sandbox::new("hook-ignore");
    write_hook_config(&sb, &stub.url());
    for vars in events {
        let (took, out) = run_hook(&sb, &stub.url(), vars, "");
        assert!(out.status.success(), "{vars:?}: {out:?}");
        assert!(took < Duration::from_secs(1), "{vars:?}: took {took:?}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(sb.calls().is_empty(), "updates ran: {:?}", sb.calls());
    assert_eq!(stub.requests().len(), 0);
}

// ------------------------------------------------------ procd init script --

/// Run start_service + service_triggers of the init script with recording
/// procd stand-ins; returns the recorded lines.
fn run_init(config_dir: &Path, sb: &Sandbox) -> Vec<String> {
    let out = ash()
        .arg(fixtures().join("procd-harness.sh"))
        .arg(init_script())
        .env("UCI_CONFIG_DIR", config_dir)
        .env("MTGSY_DDNS_FUNCTIONS", fixtures().join("functions.sh"))
        .env("MTGSY_DDNS_LIB", lib_dir())
        .env("MTGSY_DDNS_BIN", BIN)
        .env("MTGSY_DDNS_STATE", sb.path("state/state.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn init_script_runs_one_watch_instance_per_enabled_section() {
    let sb = Sandbox::new("init");
    fs::write(
        sb.path("config/mtgsy-ddns"),
        format!(
            "config service 'home'\n\toption enabled '1'\n\toption username 'home@example.com'\n\
             \toption password {pw}\n\toption ip_interface 'eth9'\n\toption hb '1'\n\
             \toption check_interval '300'\n\toption lookup_host 'home.example.com'\n\n\
             config service 'off'\n\toption enabled '0'\n\toption username 'off@example.com'\n\
             \toption password 'x'\n\toption ip_interface 'eth9'\n",
            pw = sh_quote(PASSWORD)
        ),
    )
    .unwrap();
    let lines = run_init(&sb.path("config"), &sb);
    let instances: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("instance "))
        .collect();
    assert_eq!(instances, ["instance home"], "{lines:#?}");
    let words: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("word "))
        .collect();
    assert_eq!(words[0], BIN);
    assert_eq!(words[1], "watch");
    let argv: Vec<String> = words.iter().map(|s| s.to_string()).collect();
    assert_eq!(arg_after(&argv, "--interface"), Some("eth9"));
    assert_eq!(arg_after(&argv, "--username"), Some("home@example.com"));
    assert_eq!(
        arg_after(&argv, "--state"),
        Some(sb.path("state/state.json").to_str().unwrap())
    );
    assert_eq!(arg_after(&argv, "--check-interval"), Some("300"));
    assert_eq!(arg_after(&argv, "--hb"), Some("1"));
    assert!(argv.contains(&"--syslog".to_string()));
    assert!(
        argv.iter().all(|w| !w.contains("s3cr3t")),
        "password in the command: {argv:?}"
    );
    assert!(
        lines.contains(&format!("env MTGSY_PASSWORD={PASSWORD}")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("param respawn")));
    assert!(lines.contains(&"reload-trigger mtgsy-ddns".to_string()));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("interface-trigger interface.*.up wan ")),
        "{lines:#?}"
    );
    assert!(
        sb.path("state").is_dir(),
        "the state directory was not created"
    );
    // The real binary accepts that command line: it starts watching and
    // stops cleanly on SIGTERM, as procd would stop it.
    let mut watch = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("MTGSY_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(watch.try_wait().unwrap().is_none(), "watch exited at once");
    // SIGTERM, as procd sends it.
    let _ = Command::new("kill").arg(watch.id().to_string()).status();
    let out = watch.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("watching 1 host(s)"), "{err}");
}

#[test]
fn shipped_uci_config_parses_and_starts_nothing() {
    let sb = Sandbox::new("init-shipped");
    let lines = run_init(&files().join("etc/config"), &sb);
    assert!(
        !lines.iter().any(|l| l.starts_with("instance ")),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"reload-trigger mtgsy-ddns".to_string()),
        "{lines:#?}"
    );
}

// ------------------------------------------------------------ shell syntax --

#[test]
fn scripts_parse_under_busybox_ash() {
    let mut scripts = vec![
        provider_script(),
        hook_script(),
        init_script(),
        lib_dir().join("common.sh"),
    ];
    for f in [
        "functions.sh",
        "ddns-harness.sh",
        "procd-harness.sh",
        "record-argv.sh",
    ] {
        scripts.push(fixtures().join(f));
    }
    for s in scripts {
        let out = ash().arg("-n").arg(&s).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = fs::read_to_string(&s).unwrap();
        assert!(!text.contains("[["), "{}: bash test syntax", s.display());
    }
    // sourced by ddns-scripts: a bare `exit` would end the updater itself
    let provider = fs::read_to_string(provider_script()).unwrap();
    assert!(
        !provider.lines().any(|l| l.trim_start().starts_with("exit")),
        "update_mtgsy_net.sh must return, never exit"
    );
}

// ------------------------------------------------------------ provider JSON --

#[test]
fn provider_json_is_listed_by_luci() {
    let dir = files().join("usr/share/ddns/default");
    let path = dir.join("mtgsy.net.json");
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // LuCI lists the file names of default/ and custom/; ddns-scripts finds
    // the provider by "<service_name>.json": the name must match the file
    assert_eq!(v["name"], "mtgsy.net");
    assert_eq!(path.file_stem().unwrap(), "mtgsy.net");
    let url = v["ipv4"]["url"].as_str().expect("ipv4.url");
    assert!(!url.starts_with("http"), "the url must name the script");
    assert!(
        files().join("usr/lib/ddns").join(url).is_file(),
        "no /usr/lib/ddns/{url}"
    );
    // use_api_check (25.12+) finds the script as update_<name, . and - as _>.sh
    assert_eq!(
        url,
        format!("update_{}.sh", "mtgsy.net".replace(['.', '-'], "_"))
    );
    assert!(v.get("ipv6").is_none(), "the service updates IPv4 only");
}
