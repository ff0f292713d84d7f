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
fn rpcd_plugin() -> PathBuf {
    files().join("usr/libexec/rpcd/mtgsy-ddns")
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
    // stand-ins of jsonfilter and logger come first on PATH
    let mut path = std::ffi::OsString::from(fixtures().join("bin"));
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
    c.env_clear().env("PATH", path).env("HOME", "/nonexistent");
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
        .env("MTGSY_DDNS_RUNDIR", sb.path("varrun"))
        .env("MTGSY_DDNS_SERVER", server)
        .env("MTGSY_DDNS_NETWORK_SH", sb.path("network.sh"))
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

/// The password file a call was given: 0600 in a 0700 directory, holding
/// exactly the password.
fn assert_password_file(argv: &[String]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = PathBuf::from(
        arg_after(argv, "--password-file")
            .unwrap_or_else(|| panic!("no --password-file in {argv:?}")),
    );
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    assert_eq!(mode(file.parent().unwrap()), 0o700, "{}", file.display());
    assert_eq!(fs::read_to_string(&file).unwrap(), PASSWORD);
    file
}

/// The password must reach the service, and never appear in argv, the
/// environment or a log: the binary reads it from a 0600 file.
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
            !*env,
            "MTGSY_PASSWORD was in the binary's environment: {argv:?}"
        );
        assert_password_file(argv);
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
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(sb.path("state")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "state directory");
    }
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
    // the outcome and message read from the binary's JSON (jsonfilter)
    let json_msg = v["message"].as_str().unwrap();
    assert!(
        log.contains(&format!("6 mtgsy.net: updated - {json_msg}\n")),
        "{log}"
    );
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
fn provider_password_only_in_a_0600_file() {
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

/// A stand-in of netifd's /lib/functions/network.sh in the sandbox: the
/// logical network `wanb` is up on device `lo`, every other one is down.
fn write_network_sh(sb: &Sandbox) {
    fs::write(
        sb.path("network.sh"),
        "network_get_device() {\n\tcase \"$2\" in\n\t\twanb) eval \"$1=lo\" ;;\n\
         \t\t*) eval \"$1=''\"; return 1 ;;\n\tesac\n}\n",
    )
    .unwrap();
}

#[test]
fn provider_bind_network_sends_through_its_device() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("bind");
    write_network_sh(&sb);
    let sec = section(&[("bind_network", "wanb")]);
    let r = run_provider(&sb, &stub.url(), &sec, IP1, "update");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    let (argv, _) = &sb.calls()[0];
    assert_eq!(arg_after(argv, "--bind-interface"), Some("lo"), "{argv:?}");
    assert_eq!(stub.requests().len(), 1);
    // A network with no device up: nothing sent, the reason logged.
    let sb = Sandbox::new("bind-down");
    write_network_sh(&sb);
    let sec = section(&[("bind_network", "wanc")]);
    let r = run_provider(&sb, &stub.url(), &sec, IP1, "update");
    assert_eq!(r.rc, 127, "{}", r.stdout);
    assert!(sb.calls().is_empty(), "the binary ran");
    let log = sb.read("ddns.log");
    assert!(
        log.contains("bind_network: no device is up for network 'wanc' yet"),
        "{log}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn provider_param_opt_words_reach_the_request() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("param-opt");
    let opt = "hb=1 stealth=1 port=8080 offline_url=https://example.com/away offline_text=Back%20soon mx=mail.example.com.";
    let extra = [
        ("param_opt", opt),
        ("force_interval", "2"),
        ("force_unit", "days"),
    ];
    let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(
        arg_after(&sb.calls()[0].0, "--force-interval"),
        Some("172800")
    );
    let reqs = stub.requests();
    let q = |n: &str| reqs[0].query(n);
    assert_eq!(q("stealth").as_deref(), Some("1"));
    assert_eq!(q("port").as_deref(), Some("8080"));
    assert_eq!(q("offlineurl").as_deref(), Some("https://example.com/away"));
    assert_eq!(q("offlinetext").as_deref(), Some("Back soon"));
    assert_eq!(q("mx").as_deref(), Some("mail.example.com."));

    // below a day (unchanged updates more often count as abuse): raised
    // with a note in ddns-scripts' log, not refused
    let sb = Sandbox::new("force-interval");
    let extra = [("force_interval", "1"), ("force_unit", "minutes")];
    let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
    assert_eq!(r.rc, 0, "{}\n{}", r.stdout, sb.read("ddns.log"));
    assert_eq!(
        arg_after(&sb.calls()[0].0, "--force-interval"),
        Some("86400")
    );
    assert!(
        sb.read("ddns.log")
            .contains("4 mtgsy.net: force_interval raised to 24 hours"),
        "{}",
        sb.read("ddns.log")
    );
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

/// Stand-ins of /etc/init.d/ddns and /etc/init.d/mtgsy-ddns answering
/// `enabled` as given.
fn write_initd(sb: &Sandbox, ddns: bool, own: bool) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(sb.path("initd")).unwrap();
    for (name, on) in [("ddns", ddns), ("mtgsy-ddns", own)] {
        let p = sb.path(&format!("initd/{name}"));
        fs::write(
            &p,
            format!(
                "#!/bin/sh\n[ \"$1\" = enabled ] && exit {}\nexit 0\n",
                if on { 0 } else { 1 }
            ),
        )
        .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn write_hook_config(sb: &Sandbox, stub_url: &str) {
    write_initd(sb, true, true);
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
        .env("MTGSY_DDNS_RUNDIR", sb.path("varrun"))
        .env("MTGSY_DDNS_INITD", sb.path("initd"))
        .env("MTGSY_TEST_SYSLOG", sb.path("syslog"))
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
        assert!(!env, "MTGSY_PASSWORD in the environment of {argv:?}");
        assert_password_file(&argv);
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

const WAN_UP: [(&str, &str); 3] = [
    ("ACTION", "ifup"),
    ("INTERFACE", "wan"),
    ("DEVICE", "mtgsy-test0"),
];

fn users_called(sb: &Sandbox) -> Vec<String> {
    sb.calls()
        .iter()
        .map(|(a, _)| arg_after(a, "--username").unwrap().to_string())
        .collect()
}

#[test]
fn hook_skips_the_sections_of_a_disabled_service() {
    let stub = StubServer::plain();
    // ddns disabled (/etc/init.d/ddns enabled fails): only the own section
    let sb = Sandbox::new("hook-ddns-off");
    write_hook_config(&sb, &stub.url());
    write_initd(&sb, false, true);
    let (_, out) = run_hook(&sb, &stub.url(), &WAN_UP, "");
    assert!(out.status.success(), "{out:?}");
    wait_until("1 update", Duration::from_secs(30), || {
        !sb.calls().is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(users_called(&sb), ["home@example.com"]);

    // mtgsy-ddns disabled: only the ddns-scripts sections
    let sb = Sandbox::new("hook-own-off");
    write_hook_config(&sb, &stub.url());
    write_initd(&sb, true, false);
    run_hook(&sb, &stub.url(), &WAN_UP, "");
    wait_until("2 updates", Duration::from_secs(30), || {
        sb.calls().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(users_called(&sb), ["one@example.com", "two.example.com"]);

    // both disabled (or not installed): nothing at all
    let sb = Sandbox::new("hook-both-off");
    write_hook_config(&sb, &stub.url());
    write_initd(&sb, false, false);
    run_hook(&sb, &stub.url(), &WAN_UP, "");
    fs::remove_file(sb.path("initd/ddns")).unwrap();
    run_hook(&sb, &stub.url(), &WAN_UP, "");
    std::thread::sleep(Duration::from_secs(2));
    assert!(sb.calls().is_empty(), "{:?}", sb.calls());
}

#[test]
fn hook_runs_one_update_per_section_for_ifup_then_ifupdate() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("hook-once");
    write_hook_config(&sb, &stub.url());
    // a stand-in of the binary that takes 2 s (as a run waiting its jitter
    // would) and sends nothing
    let mut ifup = WAN_UP.to_vec();
    ifup.push(("MTGSY_TEST_REAL", "true"));
    let mut ifupdate = ifup.clone();
    ifupdate[0] = ("ACTION", "ifupdate");
    ifupdate.push(("IFUPDATE_ADDRESSES", "1"));
    for vars in [&ifup, &ifupdate] {
        let (took, out) = run_hook(&sb, &stub.url(), vars, "2");
        assert!(out.status.success(), "{out:?}");
        assert!(took < Duration::from_secs(1), "blocked for {took:?}");
    }
    wait_until("3 updates", Duration::from_secs(30), || {
        sb.calls().len() >= 3
    });
    // both events' work is over well before this
    std::thread::sleep(Duration::from_secs(5));
    let mut users = users_called(&sb);
    users.sort();
    assert_eq!(
        users,
        ["home@example.com", "one@example.com", "two.example.com"],
        "{:?}",
        sb.calls()
    );
    for (argv, _) in sb.calls() {
        assert_eq!(arg_after(&argv, "--jitter"), Some("10"), "{argv:?}");
    }
    assert!(sb
        .read("syslog")
        .contains("an update pending or started since covers this event"));
    // the markers go with their runs: a later event updates again
    let left: Vec<_> = fs::read_dir(sb.path("varrun"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".run"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    run_hook(&sb, &stub.url(), &ifup, "");
    wait_until("3 more updates", Duration::from_secs(30), || {
        sb.calls().len() >= 6
    });
}

#[test]
fn hook_and_provider_pass_the_jitter_option() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("hook-jitter");
    write_hook_config(&sb, &stub.url());
    let config = sb.path("config/mtgsy-ddns");
    let own = fs::read_to_string(&config).unwrap().replacen(
        "config service 'home'\n",
        "config service 'home'\n\toption jitter '0'\n",
        1,
    );
    fs::write(&config, own).unwrap();
    write_initd(&sb, false, true);
    let mut ifup = WAN_UP.to_vec();
    ifup.push(("MTGSY_TEST_REAL", "true"));
    run_hook(&sb, &stub.url(), &ifup, "");
    wait_until("1 update", Duration::from_secs(30), || {
        !sb.calls().is_empty()
    });
    assert_eq!(arg_after(&sb.calls()[0].0, "--jitter"), Some("0"));

    // the provider: the section's option, 10 when unset
    for (extra, want) in [(vec![("jitter", "0")], "0"), (vec![], "10")] {
        let sb = Sandbox::new("provider-jitter");
        let r = run_provider(&sb, &stub.url(), &section(&extra), IP1, "update");
        assert_eq!(r.rc, 0, "{}", r.stdout);
        assert_eq!(arg_after(&sb.calls()[0].0, "--jitter"), Some(want));
    }
}

#[test]
fn hook_waits_for_the_clock_and_writes_no_1970_state() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("hook-clock");
    write_hook_config(&sb, &stub.url());
    // a build date in 2100: today's clock reads as "not set yet"
    let mut vars = WAN_UP.to_vec();
    vars.push(("MTGSY_DDNS_NOT_BEFORE", "4102444800"));
    vars.push(("MTGSY_DDNS_CLOCK_WAIT", "2"));
    let start = Instant::now();
    let (took, out) = run_hook(&sb, &stub.url(), &vars, "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        took < Duration::from_secs(1),
        "the hook blocked for {took:?}"
    );
    wait_until("the clock log line", Duration::from_secs(30), || {
        sb.read("syslog").contains("is not set yet")
    });
    // it waited for the clock before giving up
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert!(
        sb.read("syslog")
            .starts_with("daemon.warn hotplug: ifup of wan: the clock ("),
        "{}",
        sb.read("syslog")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(sb.calls().is_empty(), "{:?}", sb.calls());
    assert!(!sb.path("state/state.json").exists());
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
        .env("MTGSY_DDNS_RUNDIR", sb.path("varrun"))
        .env("MTGSY_DDNS_NETWORK_SH", sb.path("network.sh"))
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
             \toption check_interval '5'\n\toption lookup_host 'home.example.com'\n\n\
             config service 'off'\n\toption enabled '0'\n\toption username 'off@example.com'\n\
             \toption password 'x'\n\toption ip_interface 'eth9'\n",
            pw = sh_quote(PASSWORD)
        ),
    )
    .unwrap();
    // as a sysupgrade leaves it: the state restored, its directory 0755
    {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(sb.path("state")).unwrap();
        fs::set_permissions(sb.path("state"), fs::Permissions::from_mode(0o755)).unwrap();
    }
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
    // nothing of the password in procd's view (ubus call service list shows
    // the command and the environment): a 0600 file instead
    assert!(
        lines.iter().all(|l| !l.contains("s3cr3t")),
        "password handed to procd: {lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("env ")), "{lines:#?}");
    let pass = assert_password_file(&argv);
    assert_eq!(pass, sb.path("varrun/home.pass"));
    // keeps retrying (retry 0 = no limit), one start a minute, and says so
    assert!(
        lines.contains(&"param respawn 3600 60 0".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("logger daemon.info home: watching home@example.com")),
        "{lines:#?}"
    );
    // one log path: the binary's own syslog, not procd's capture as well
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("param stdout") || l.starts_with("param stderr")),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"validation validate_mtgsy_section".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"reload-trigger mtgsy-ddns".to_string()));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("interface-trigger interface.*.up wan ")),
        "{lines:#?}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(sb.path("state")).expect("the state directory was not created");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    }
    // The real binary accepts that command line (the password from the
    // file): it starts watching and stops cleanly on SIGTERM, as procd
    // would stop it.
    let mut watch = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
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
fn init_script_binds_a_section_to_its_wan() {
    let sb = Sandbox::new("init-bind");
    write_network_sh(&sb);
    fs::write(
        sb.path("config/mtgsy-ddns"),
        "config service 'b'\n\toption enabled '1'\n\toption username 'b@example.com'\n\
         \toption password 'x'\n\toption ip_source 'web'\n\toption ip_url 'https://ip.example/'\n\
         \toption bind_network 'wanb'\n",
    )
    .unwrap();
    let lines = run_init(&sb.path("config"), &sb);
    let argv: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("word "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        arg_after(&argv, "--bind-interface"),
        Some("lo"),
        "{lines:#?}"
    );
    // a reload when that WAN comes up, as for the section's interface
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("interface-trigger interface.*.up wanb ")),
        "{lines:#?}"
    );
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

/// Run one init script action (status, check, stop) through the harness.
fn run_init_action(config_dir: &Path, sb: &Sandbox, section: &str, action: &str) -> Output {
    ash()
        .arg(fixtures().join("procd-harness.sh"))
        .arg(init_script())
        .arg(section)
        .arg(action)
        .env("UCI_CONFIG_DIR", config_dir)
        .env("MTGSY_DDNS_FUNCTIONS", fixtures().join("functions.sh"))
        .env("MTGSY_DDNS_LIB", lib_dir())
        .env("MTGSY_DDNS_BIN", BIN)
        .env("MTGSY_DDNS_STATE", sb.path("state/state.json"))
        .env("MTGSY_DDNS_RUNDIR", sb.path("varrun"))
        .output()
        .unwrap()
}

#[test]
fn init_script_refuses_bad_values_naming_them() {
    let sb = Sandbox::new("init-bad");
    let sec = |name: &str, extra: &str| {
        format!(
            "config service '{name}'\n\toption enabled '1'\n\toption username '{name}@example.com'\n\
             \toption password 'x'\n\toption ip_interface 'eth9'\n{extra}\n"
        )
    };
    let config = [
        sec("unit", "\toption check_unit 'fortnights'\n"),
        sec("port", "\toption port 'eighty'\n"),
        sec(
            "force",
            "\toption force_interval '12'\n\toption force_unit 'hours'\n",
        ),
        sec(
            "check",
            "\toption check_interval '30'\n\toption check_unit 'seconds'\n",
        ),
        sec("src", "\toption ip_source 'script'\n"),
        sec(
            "good",
            "\toption force_interval '2'\n\toption force_unit 'days'\n\
             \toption check_interval '90'\n\toption check_unit 'seconds'\n",
        ),
    ]
    .concat();
    fs::write(sb.path("config/mtgsy-ddns"), config).unwrap();
    let lines = run_init(&sb.path("config"), &sb);
    let instances: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("instance "))
        .collect();
    assert_eq!(instances, ["instance good"], "{lines:#?}");
    let argv: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("word "))
        .map(str::to_string)
        .collect();
    assert_eq!(arg_after(&argv, "--force-interval"), Some("172800"));
    assert_eq!(arg_after(&argv, "--check-interval"), Some("90"));
    let log = lines.join("\n");
    for (section, says) in [
        ("unit", "invalid value of: check_unit - not started"),
        ("port", "invalid value of: port - not started"),
        (
            "force",
            "force_interval/force_unit: '12 hours' is less than 24 hours",
        ),
        (
            "check",
            "check_interval/check_unit: '30 seconds' is less than 60 seconds",
        ),
        (
            "src",
            "ip_script: missing (ip_source is 'script') - not started",
        ),
    ] {
        assert!(
            log.contains(&format!("logger daemon.err {section}: {says}")),
            "{section}: {log}"
        );
    }
    // defaults: 10 minutes and 72 hours
    let sb = Sandbox::new("init-defaults");
    fs::write(sb.path("config/mtgsy-ddns"), sec("home", "")).unwrap();
    let lines = run_init(&sb.path("config"), &sb);
    let argv: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("word "))
        .map(str::to_string)
        .collect();
    assert_eq!(arg_after(&argv, "--force-interval"), Some("259200"));
    assert_eq!(arg_after(&argv, "--check-interval"), Some("600"));
}

#[test]
fn init_script_status_shows_each_host_and_check_signals() {
    let stub = StubServer::plain();
    // a state with one update, made through the provider script
    let sb = updated(&stub, "init-status");
    let out = run_init_action(&sb.path("config"), &sb, "", "status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("user@example.com at 127.0.0.1"), "{text}");
    assert!(text.contains("  last result: updated, "), "{text}");
    // the heartbeat: the update itself checked, a moment ago
    assert!(text.contains("  last check: "), "{text}");
    assert!(
        text.contains(&format!("registered address: {IP1}")),
        "{text}"
    );
    // within 10 minutes of the update: the next send waits
    let wait: u64 = text
        .split("next send allowed: in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait shown: {text}"));
    assert!((500..=600).contains(&wait), "{text}");

    let fresh = Sandbox::new("init-status-none");
    let out = run_init_action(&fresh.path("config"), &fresh, "", "status");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no updates recorded yet"),
        "{out:?}"
    );

    // check: SIGUSR1 through procd, to every instance or the one named
    let out = run_init_action(&fresh.path("config"), &fresh, "", "check");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("signal mtgsy-ddns * USR1"),
        "{out:?}"
    );
    let out = run_init_action(&fresh.path("config"), &fresh, "home", "check");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("signal mtgsy-ddns home USR1"),
        "{out:?}"
    );
    // not running: said so, nothing signalled, a failing exit code
    let out = ash()
        .arg(fixtures().join("procd-harness.sh"))
        .arg(init_script())
        .args(["", "check"])
        .env("UCI_CONFIG_DIR", fresh.path("config"))
        .env("MTGSY_DDNS_FUNCTIONS", fixtures().join("functions.sh"))
        .env("MTGSY_TEST_STOPPED", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("signal"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mtgsy-ddns: not running"),
        "{out:?}"
    );
}

#[test]
fn state_file_survives_sysupgrade() {
    // listed in keep.d, at the path every script (and the binary on OpenWrt)
    // uses
    let keep = fs::read_to_string(files().join("lib/upgrade/keep.d/mtgsy-ddns")).unwrap();
    let listed: Vec<&str> = keep
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(listed, ["/etc/mtgsy-ddns/state.json"]);
    let common = fs::read_to_string(lib_dir().join("common.sh")).unwrap();
    assert!(
        common.contains("MTGSY_STATE=\"${MTGSY_DDNS_STATE:-/etc/mtgsy-ddns/state.json}\""),
        "common.sh uses another state path"
    );
}

// ----------------------------------------------------- feed Makefile --

/// The `define NAME` ... `endef` block of the feed Makefile.
fn make_block<'a>(mk: &'a str, name: &str) -> &'a str {
    let start = mk
        .find(&format!("define {name}\n"))
        .unwrap_or_else(|| panic!("no define {name}"));
    let end = mk[start..].find("endef").unwrap() + start;
    &mk[start..end]
}

#[test]
fn feed_makefile_metadata_a_reviewer_accepts() {
    let mk = fs::read_to_string(root().join("openwrt/Makefile")).unwrap();
    let field = |k: &str| -> String {
        mk.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:=")))
            .unwrap_or_else(|| panic!("no {k}"))
            .trim()
            .to_string()
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    // source by git commit, with the hash of the tarball made from it
    assert!(!mk.contains("PKG_HASH:=skip"));
    assert_eq!(field("PKG_SOURCE_PROTO"), "git");
    assert!(field("PKG_SOURCE_URL").starts_with("https://"));
    assert!(hex(&field("PKG_SOURCE_VERSION"), 40));
    assert!(hex(&field("PKG_MIRROR_HASH"), 64));
    // Name <address>
    let m = field("PKG_MAINTAINER");
    let (name, addr) = m.split_once(" <").expect("PKG_MAINTAINER: Name <address>");
    assert!(
        !name.trim().is_empty() && addr.ends_with('>') && addr.contains('@'),
        "{m}"
    );
    // the licence files exist and match Cargo.toml's licence
    let cargo = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("license = \"MIT OR Apache-2.0\""));
    let mut ids: Vec<String> = field("PKG_LICENSE")
        .split(' ')
        .map(str::to_string)
        .collect();
    ids.sort();
    assert_eq!(ids, ["Apache-2.0", "MIT"]);
    for (file, says) in [
        (
            "LICENSE-MIT",
            "Permission is hereby granted, free of charge",
        ),
        (
            "LICENSE-APACHE",
            "Apache License\n                           Version 2.0, January 2004",
        ),
    ] {
        assert!(field("PKG_LICENSE_FILES").split(' ').any(|f| f == file));
        let text = fs::read_to_string(root().join(file)).unwrap();
        assert!(text.contains(says), "{file}");
    }
    assert!(fs::read_to_string(root().join("LICENSE-MIT"))
        .unwrap()
        .contains("Copyright (c) 2026 mtgsy-ddns developers"));
    // the library as OpenWrt ships libraries: named by its ABI, the runtime
    // file named as its SONAME; .so, header and .pc for the SDK only
    let lib = make_block(&mk, "Package/libmtgsy-ddns");
    assert!(lib.contains("ABI_VERSION:=1"), "{lib}");
    let install = make_block(&mk, "Package/libmtgsy-ddns/install");
    assert!(
        install.contains("$(1)/usr/lib/libmtgsy_ddns.so.1\n"),
        "{install}"
    );
    assert!(
        !install.contains(".h") && !install.contains(".pc"),
        "{install}"
    );
    let dev = make_block(&mk, "Build/InstallDev");
    for want in [
        "mtgsy_ddns.h",
        "$(LN) libmtgsy_ddns.so.1 $(1)/usr/lib/libmtgsy_ddns.so",
        "pkgconfig/mtgsy-ddns.pc",
    ] {
        assert!(dev.contains(want), "{want}: {dev}");
    }
    // the sysupgrade keep list and the conffile are installed
    let main = make_block(&mk, "Package/mtgsy-ddns/install");
    assert!(main.contains("keep.d/mtgsy-ddns"), "{main}");
    assert!(
        !main.contains("$(1)/etc/mtgsy-ddns"),
        "a 0755 state directory: {main}"
    );
}

#[test]
fn nothing_restarts_a_service_at_install_time() {
    let mk = fs::read_to_string(root().join("openwrt/Makefile")).unwrap();
    // ddns-scripts upstream dropped the restart: on 25.12 it hangs apk add
    assert!(!mk.contains("define Package/ddns-scripts-mtgsy/postinst"));
    assert!(!mk.contains("define Package/mtgsy-ddns/postinst"));
    let prerm = make_block(&mk, "Package/ddns-scripts-mtgsy/prerm");
    assert!(prerm.contains("[ -z \"$${IPKG_INSTROOT}\" ]"), "{prerm}");
    assert!(
        !prerm.contains("restart") && !prerm.contains("start"),
        "{prerm}"
    );
    // and no shipped file runs a service command (the hook only asks
    // `enabled`, the init script is the service itself)
    let mut stack = vec![files()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = fs::read_to_string(&p).unwrap();
            for bad in [
                "init.d/ddns restart",
                "init.d/ddns start",
                "init.d/ddns reload",
                "init.d/ddns enable",
                "init.d/mtgsy-ddns restart",
                "init.d/mtgsy-ddns start",
                "init.d/mtgsy-ddns enable",
            ] {
                // a whole word: `init.d/ddns enabled` only asks
                let whole = text.match_indices(bad).any(|(i, _)| {
                    !text[i + bad.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
                });
                assert!(!whole, "{}: {bad}", p.display());
            }
        }
    }
}

// ------------------------------------------------------------ shell syntax --

#[test]
fn scripts_parse_under_busybox_ash() {
    let mut scripts = vec![
        provider_script(),
        hook_script(),
        init_script(),
        rpcd_plugin(),
        lib_dir().join("common.sh"),
    ];
    for f in [
        "functions.sh",
        "ddns-harness.sh",
        "procd-harness.sh",
        "record-argv.sh",
        "bin/logger",
        "bin/ubus",
    ] {
        scripts.push(fixtures().join(f));
    }
    scripts.push(root().join("openwrt/feed-hash"));
    scripts.push(root().join("openwrt/test.sh"));
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

#[test]
fn init_script_starts_no_section_the_binary_refuses() {
    // Values UCI's types let through but the binary refuses: the init
    // script asks it (`mtgsy-ddns config --json`) before starting a watch,
    // logs its reason and starts nothing for that section.
    let sb = Sandbox::new("init-binary-check");
    let sec = |name: &str, extra: &str| {
        format!(
            "config service '{name}'\n\toption enabled '1'\n\toption username '{name}@example.com'\n\
             \toption password {pw}\n\toption ip_interface 'eth9'\n{extra}\n",
            pw = sh_quote(PASSWORD)
        )
    };
    let config = [
        sec("mx", "\toption mx 'mail.example.com'\n"),
        sec("eighty", "\toption port '80'\n"),
        sec("good", "\toption mx 'mail.example.com.'\n"),
    ]
    .concat();
    fs::write(sb.path("config/mtgsy-ddns"), config).unwrap();
    let lines = run_init(&sb.path("config"), &sb);
    let instances: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("instance "))
        .collect();
    assert_eq!(instances, ["instance good"], "{lines:#?}");
    let log = lines.join("\n");
    assert!(!log.contains(PASSWORD), "{log}");
    for (section, says) in [
        (
            "mx",
            "mx: \"mail.example.com\" must be a fully qualified host name",
        ),
        ("eighty", "port: must not be 80"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("logger daemon.err {section}: {says}")))
            .unwrap_or_else(|| panic!("{section}: {log}"));
        assert!(line.ends_with(" - not started"), "{line}");
    }
    // the started one names the server the binary resolved
    assert!(
        lines.iter().any(|l| l.starts_with(
            "logger daemon.info good: watching good@example.com at https://www.mtgsy.net/dns/update.php"
        )),
        "{log}"
    );
}

// ---------------------------------------------------------- the rpcd plugin --

/// Runs the rpcd plugin as rpcd does (`list`, or `call METHOD` with the
/// arguments as JSON on stdin), with the binary behind the argv recorder,
/// the stand-ins of ubus, jsonfilter and logger, and `env` added.
fn run_rpcd(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> (Duration, Output) {
    use std::io::Write;
    let mut c = ash();
    c.arg(rpcd_plugin())
        .args(args)
        .env("UCI_CONFIG_DIR", sb.path("config"))
        .env("MTGSY_DDNS_FUNCTIONS", fixtures().join("functions.sh"))
        .env("MTGSY_DDNS_LIB", lib_dir())
        .env("MTGSY_DDNS_BIN", fixtures().join("record-argv.sh"))
        .env("MTGSY_DDNS_STATE", sb.path("state/state.json"))
        .env("MTGSY_DDNS_RUNDIR", sb.path("varrun"))
        .env("MTGSY_DDNS_INITD", sb.path("initd"))
        .env("MTGSY_DDNS_NETWORK_SH", sb.path("network.sh"))
        .env("MTGSY_TEST_SYSLOG", sb.path("syslog"))
        .env("MTGSY_TEST_UBUS_LOG", sb.path("ubus.log"))
        .env("MTGSY_TEST_REAL", BIN)
        .env("MTGSY_TEST_LOG", sb.path("argv.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let mut child = c.spawn().unwrap();
    // rpcd writes the call's arguments, then closes the pipe
    let _ = child.stdin.take().unwrap().write_all(b"{}");
    // waits for EOF too: a background child holding rpcd's pipe would
    // show up as a slow reply
    let out = child.wait_with_output().unwrap();
    (start.elapsed(), out)
}

/// The plugin's reply: one JSON object on stdout.
fn rpcd_reply(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one line: {out:?}");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    assert!(v.is_object(), "{v}");
    v
}

#[test]
fn rpcd_plugin_lists_its_two_methods() {
    let sb = Sandbox::new("rpcd-list");
    let (_, out) = run_rpcd(&sb, &["list"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"status\":{},\"check\":{}}\n"
    );
    let (_, out) = run_rpcd(&sb, &["call", "reboot"], &[]);
    assert!(!out.status.success());
    assert!(rpcd_reply(&out)["error"].is_string());
    assert_eq!(sb.read("argv.log"), "", "the binary ran");
}

#[test]
fn rpcd_status_is_the_binarys_status_json_without_the_password() {
    let stub = StubServer::plain();
    // a state with one update, made through the provider script (whose
    // section holds the password)
    let sb = updated(&stub, "rpcd-status");
    let (_, out) = run_rpcd(&sb, &["call", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("s3cr3t"), "{text}");
    let v = rpcd_reply(&out);
    assert_eq!(v["state"], sb.path("state/state.json").to_str().unwrap());
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{v}");
    let r = &records[0];
    assert_eq!(r["username"], "user@example.com");
    assert_eq!(r["server"], "127.0.0.1");
    assert_eq!(r["registered_ip"], IP1);
    assert_eq!(r["last_result"], "updated");
    // the heartbeat, and the next send: the floor from the update
    let sent = r["last_attempt_at"].as_i64().unwrap();
    assert_eq!(r["last_check"], sent);
    assert_eq!(r["next_allowed_at"], sent + 600);
    // the same object as the binary's own, but for the clock's reading
    let own = Command::new(BIN)
        .args(["status", "--json", "--state"])
        .arg(sb.path("state/state.json"))
        .output()
        .unwrap();
    let mut own: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    let mut v = v;
    for j in [&mut own, &mut v] {
        j.as_object_mut().unwrap().remove("now");
    }
    assert_eq!(v, own);

    // no state yet: no records; a corrupt one: the binary's JSON error
    let fresh = Sandbox::new("rpcd-status-none");
    let (_, out) = run_rpcd(&fresh, &["call", "status"], &[]);
    assert_eq!(rpcd_reply(&out)["records"], serde_json::json!([]));
    fs::create_dir_all(fresh.path("state")).unwrap();
    fs::write(fresh.path("state/state.json"), "{\"version\":2,").unwrap();
    let (_, out) = run_rpcd(&fresh, &["call", "status"], &[]);
    let v = rpcd_reply(&out);
    assert!(v["message"].as_str().unwrap().contains("corrupt"), "{v}");
}

#[test]
fn rpcd_check_signals_the_running_watches() {
    let sb = Sandbox::new("rpcd-check-watch");
    let (_, out) = run_rpcd(&sb, &["call", "check"], &[("MTGSY_TEST_WATCHING", "1")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(rpcd_reply(&out), serde_json::json!({"result": "signalled"}));
    // procd's service signal with SIGUSR1's number on this system
    let usr1 = libc::SIGUSR1;
    assert!(
        sb.read("ubus.log").contains(&format!(
            "ubus call service signal {{\"name\":\"mtgsy-ddns\",\"signal\":{usr1}}}"
        )),
        "{}",
        sb.read("ubus.log")
    );
    assert_eq!(sb.read("argv.log"), "", "an update ran besides the watch");
    let (_, out) = run_rpcd(
        &sb,
        &["call", "check"],
        &[
            ("MTGSY_TEST_WATCHING", "1"),
            ("MTGSY_TEST_SIGNAL_FAILS", "1"),
        ],
    );
    assert!(rpcd_reply(&out)["error"].is_string(), "{out:?}");
}

/// /etc/config/ddns and /etc/config/mtgsy-ddns with one enabled section
/// each for the stand-in (no random wait) and one disabled each.
fn write_rpcd_config(sb: &Sandbox, stub_url: &str) {
    fs::write(
        sb.path("config/ddns"),
        format!(
            "config ddns 'global'\n\toption upd_privateip '0'\n\n\
             config service 'mt1'\n\toption enabled '1'\n\toption service_name 'mtgsy.net'\n\
             \toption username 'one@example.com'\n\toption password {pw}\n\
             \toption lookup_host 'localhost'\n\toption use_https '0'\n\toption jitter '0'\n\
             \toption ip_source 'script'\n\toption ip_script 'echo {IP1}'\n\n\
             config service 'mtoff'\n\toption enabled '0'\n\toption service_name 'mtgsy.net'\n\
             \toption username 'off@example.com'\n\toption password 'x'\n",
            pw = sh_quote(PASSWORD),
        ),
    )
    .unwrap();
    fs::write(
        sb.path("config/mtgsy-ddns"),
        format!(
            "config service 'home'\n\toption enabled '1'\n\toption username 'home@example.com'\n\
             \toption password {pw}\n\toption ip_source 'static'\n\toption ip '{IP2}'\n\
             \toption lookup_host 'localhost'\n\toption use_https '0'\n\toption jitter '0'\n\
             \toption server '{stub_url}'\n\n\
             config service 'off'\n\toption username 'off2@example.com'\n\toption password 'x'\n",
            pw = sh_quote(PASSWORD),
        ),
    )
    .unwrap();
}

#[test]
fn rpcd_check_without_a_watch_runs_one_update_per_enabled_section() {
    let stub = StubServer::plain();
    let sb = Sandbox::new("rpcd-check-run");
    write_initd(&sb, true, true);
    write_rpcd_config(&sb, &stub.url());
    // every binary run takes 1 s longer: the reply must not wait for them
    let env = [
        ("MTGSY_DDNS_SERVER", stub.url()),
        ("MTGSY_TEST_DELAY", "1".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (took, out) = run_rpcd(&sb, &["call", "check"], &env);
    assert!(out.status.success(), "{out:?}");
    assert!(took < Duration::from_secs(1), "the reply waited {took:?}");
    assert_eq!(
        rpcd_reply(&out),
        serde_json::json!({"result": "started", "sections": 2})
    );
    wait_until("2 requests", Duration::from_secs(30), || {
        stub.requests().len() >= 2
    });
    wait_until("2 records", Duration::from_secs(10), || {
        sb.read("state/state.json").matches("\"updated\"").count() >= 2
    });
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
    let calls = sb.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for (argv, _) in &calls {
        assert_eq!(argv[0], "update");
        assert!(argv.contains(&"--syslog".to_string()), "{argv:?}");
    }
    assert_password_hidden_calls(&sb);
    assert!(sb.read("ubus.log").contains("ubus call service list"));
    assert!(!sb.read("ubus.log").contains("signal"));

    // the status shows both, with their heartbeat, and no password
    let (_, out) = run_rpcd(&sb, &["call", "status"], &[]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cr3t"));
    let v = rpcd_reply(&out);
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{v}");
    for r in records {
        assert_eq!(r["last_result"], "updated", "{r}");
        assert!(r["last_check"].is_i64(), "{r}");
    }

    // both services disabled: nothing to check, nothing run
    let off = Sandbox::new("rpcd-check-off");
    write_initd(&off, false, false);
    write_rpcd_config(&off, &stub.url());
    let (_, out) = run_rpcd(&off, &["call", "check"], &env);
    assert_eq!(rpcd_reply(&out)["sections"], 0, "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(off.read("argv.log"), "");
    assert_eq!(stub.requests().len(), 2);
}

#[test]
fn rpcd_acl_grants_status_to_read_and_check_to_write() {
    let acl = files().join("usr/share/rpcd/acl.d/mtgsy-ddns.json");
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(acl).unwrap()).unwrap();
    let groups = v.as_object().unwrap();
    assert_eq!(groups.len(), 1, "{v}");
    let g = &v["mtgsy-ddns"];
    assert!(g["description"].is_string());
    assert_eq!(
        g["read"]["ubus"]["mtgsy-ddns"],
        serde_json::json!(["status"])
    );
    assert_eq!(
        g["write"]["ubus"]["mtgsy-ddns"],
        serde_json::json!(["check"])
    );
    // the methods the ACL names are the ones the plugin lists
    let sb = Sandbox::new("rpcd-acl");
    let (_, out) = run_rpcd(&sb, &["list"], &[]);
    let listed = rpcd_reply(&out);
    for m in ["status", "check"] {
        assert!(listed.get(m).is_some(), "{listed}");
    }
    // the feed Makefile installs both (the .ipk/.apk writers pack the whole
    // tree: tests/packages.rs)
    let mk = fs::read_to_string(root().join("openwrt/Makefile")).unwrap();
    let main = make_block(&mk, "Package/mtgsy-ddns/install");
    for want in [
        "$(INSTALL_BIN) ./files/usr/libexec/rpcd/mtgsy-ddns $(1)/usr/libexec/rpcd/\n",
        "$(INSTALL_DATA) ./files/usr/share/rpcd/acl.d/mtgsy-ddns.json $(1)/usr/share/rpcd/acl.d/\n",
    ] {
        assert!(main.contains(want), "{want}: {main}");
    }
    // rpcd runs the plugin itself: it must be executable
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(rpcd_plugin()).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{mode:o}");
}
