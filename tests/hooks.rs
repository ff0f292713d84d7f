//! `--on-update CMD` and `--on-change CMD`: which runs start them, what
//! they see (the outcome in `MTGSY_*` variables, the record already
//! stored, no credentials), and that a failing or hanging hook is a
//! warning that changes nothing else. Against the loopback stand-in; the
//! clock is set with MTGSY_DDNS_NOW except where a hook runs the client
//! itself (the hook's environment has no MTGSY_* variable).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const T0: i64 = 1_800_000_000;
const PASSWORD: &str = "h00k-s3cret";

/// `update` as user@example.com on `server` with state in `dir`, at `now`
/// (real time when `None`), the password in MTGSY_PASSWORD.
fn update(server: &StubServer, dir: &TempDir, now: Option<i64>, args: &[&str]) -> Command {
    let mut c = update_cmd(&server.url(), &dir.path().join("state.json"));
    c.args(["--allow-http"])
        .args(args)
        .env("MTGSY_PASSWORD", PASSWORD);
    if let Some(now) = now {
        c.env("MTGSY_DDNS_NOW", now.to_string());
    }
    c
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A hook that appends one line to `dir/log`: `TAG outcome exit address
/// previous`.
fn logging_hook(dir: &TempDir, tag: &str) -> String {
    format!(
        "echo \"{tag} $MTGSY_OUTCOME $MTGSY_EXIT_CODE $MTGSY_ADDRESS <$MTGSY_PREVIOUS_ADDRESS>\" >>{}/log",
        dir.path().display()
    )
}

fn hook_log(dir: &TempDir) -> Vec<String> {
    read(&dir.path().join("log"))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn hook_sees_the_outcome_and_no_credentials() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-env");
    let d = dir.path().display().to_string();
    let hook = format!("env >{d}/env.$MTGSY_HOOK; tr '\\0' ' ' </proc/$$/cmdline >{d}/argv");
    let pw_file = dir.path().join("pw");
    fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let env_of = |hook: &str| read(&dir.path().join(format!("env.{hook}")));
    let mtgsy_lines = |env: &str| -> Vec<String> {
        let mut v: Vec<String> = env
            .lines()
            .filter(|l| l.starts_with("MTGSY_"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };

    // The password in MTGSY_PASSWORD (then in a file); copies of it and of
    // the user name in other variables.
    let copy = format!("x{PASSWORD}x");
    let others = [
        ("COPY_OF_PASSWORD", copy.as_str()),
        ("WHO", "user@example.com"),
        ("HARMLESS_FOR_TEST", "kept"),
    ];
    let mut c = update(
        &server,
        &dir,
        Some(T0),
        &["--ip", "1.2.3.4", "--lookup-host", "localhost"],
    );
    c.args(["--on-update", &hook, "--on-change", &hook])
        .envs(others);
    let (code, out, err) = texts(&run(c));
    assert_eq!((code, out.as_str()), (0, "updated to 1.2.3.4\n"), "{err}");
    let expected = |hook: &str, previous: &str, ip: &str| {
        vec![
            format!("MTGSY_ADDRESS={ip}"),
            "MTGSY_EXIT_CODE=0".to_string(),
            format!("MTGSY_HOOK={hook}"),
            "MTGSY_HOST=localhost".to_string(),
            format!("MTGSY_MESSAGE=updated to {ip}"),
            "MTGSY_OUTCOME=updated".to_string(),
            format!("MTGSY_PREVIOUS_ADDRESS={previous}"),
        ]
    };
    assert_eq!(
        mtgsy_lines(&env_of("on_update")),
        expected("on_update", "", "1.2.3.4")
    );
    assert_eq!(
        mtgsy_lines(&env_of("on_change")),
        expected("on_change", "", "1.2.3.4")
    );
    assert_eq!(read(&dir.path().join("argv")), format!("sh -c {hook} "));

    // The password from --password-file, a new address after the floor.
    let mut c = update(
        &server,
        &dir,
        Some(T0 + 700),
        &["--ip", "5.6.7.8", "--lookup-host", "localhost"],
    );
    c.args(["--on-update", &hook, "--on-change", &hook])
        .arg("--password-file")
        .arg(&pw_file)
        .env_remove("MTGSY_PASSWORD")
        .envs(others);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        mtgsy_lines(&env_of("on_change")),
        expected("on_change", "1.2.3.4", "5.6.7.8")
    );
    assert_eq!(server.requests().len(), 2);
    for hook in ["on_update", "on_change"] {
        let env = env_of(hook);
        assert!(env.contains("HARMLESS_FOR_TEST=kept"), "{env}");
        for secret in [PASSWORD, "user@example.com", "user%40example.com"] {
            assert!(!env.contains(secret), "{secret} reached {hook}:\n{env}");
        }
    }
}

#[test]
fn the_record_is_stored_and_unlocked_before_the_hook_runs() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-record");
    let d = dir.path().display().to_string();
    let state = dir.path().join("state.json");
    let pw_file = dir.path().join("pw");
    fs::write(&pw_file, PASSWORD).unwrap();
    // The hook asks the client for the registered address, then runs an
    // update of its own on the same state file: with the lock still held
    // it would wait for it until the hook is killed.
    let hook = format!(
        "B={bin}; S={s}; \"$B\" status --state \"$S\" --registered-ip >{d}/registered; \
         \"$B\" update --username user@example.com --server {url} --allow-http \
         --ip 9.9.9.9 --state \"$S\" --password-file {pw} --timeout 2 >{d}/nested 2>&1; \
         echo \"exit $?\" >>{d}/nested",
        bin = bin(),
        s = state.display(),
        url = server.url(),
        pw = pw_file.display(),
    );
    let start = Instant::now();
    let mut c = update(&server, &dir, None, &["--ip", "1.2.3.4", "--timeout", "8"]);
    c.args(["--on-update", &hook]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("hook failed"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(6), "{err}");
    assert_eq!(read(&dir.path().join("registered")), "1.2.3.4\n");
    let nested = read(&dir.path().join("nested"));
    assert!(
        nested.contains("10-minute minimum") && nested.ends_with("exit 3\n"),
        "{nested}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn on_change_runs_on_a_change_and_not_on_a_forced_resend() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-change");
    let (on_update, on_change) = (logging_hook(&dir, "update"), logging_hook(&dir, "change"));
    let hooks = ["--on-update", &on_update, "--on-change", &on_change];
    for (now, ip, extra) in [
        (T0, "1.2.3.4", None),
        // More than a day later: a forced resend of the same address.
        (T0 + 90_000, "1.2.3.4", Some("--force")),
        (T0 + 90_700, "5.6.7.8", None),
    ] {
        let mut c = update(&server, &dir, Some(now), &["--ip", ip]);
        c.args(hooks).args(extra);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, 0, "{out}{err}");
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        hook_log(&dir),
        [
            "update updated 0 1.2.3.4 <>",
            "change updated 0 1.2.3.4 <>",
            "update updated 0 1.2.3.4 <1.2.3.4>",
            "update updated 0 5.6.7.8 <1.2.3.4>",
            "change updated 0 5.6.7.8 <1.2.3.4>",
        ]
    );
}

#[test]
fn on_update_runs_on_failures_with_their_word_and_exit_code() {
    let server = StubServer::plain();
    server.set_reply(503, "busy");
    let dir = TempDir::new("hook-fail");
    let (on_update, on_change) = (logging_hook(&dir, "update"), logging_hook(&dir, "change"));
    let mut c = update(&server, &dir, Some(T0), &["--ip", "1.2.3.4"]);
    c.args(["--on-update", &on_update, "--on-change", &on_change]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert_eq!(hook_log(&dir), ["update failed 4 1.2.3.4 <>"]);

    // Nothing reached a server (a closed port): an attempt all the same.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/dns/update.php",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let dir = TempDir::new("hook-unsent");
    let on_update = logging_hook(&dir, "update");
    let mut c = update(&server, &dir, Some(T0), &["--ip", "1.2.3.4"]);
    c.args(["--server", &url, "--on-update", &on_update]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 4, "{err}");
    assert_eq!(hook_log(&dir), ["update failed 4 1.2.3.4 <>"]);
}

#[test]
fn a_failing_hook_is_a_warning_and_changes_nothing_else() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-exit3");
    let hook = "echo hook-output; exit 3";
    let mut c = update(&server, &dir, Some(T0), &["--ip", "1.2.3.4"]);
    c.args(["--on-update", hook]);
    let (code, out, err) = texts(&run(c));
    assert_eq!((code, out.as_str()), (0, "updated to 1.2.3.4\n"), "{err}");
    assert!(
        err.contains("mtgsy-ddns: warning: on_update hook failed: exit status 3\n"),
        "{err}"
    );
    assert!(!err.contains("hook-output"), "{err}");

    // With -vv its output is shown too.
    let dir = TempDir::new("hook-exit3-vv");
    let mut c = update(&server, &dir, Some(T0), &["--ip", "1.2.3.4", "-vv"]);
    c.args(["--on-update", hook]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("on_update hook printed: hook-output\n"),
        "{err}"
    );
}

#[test]
fn a_hanging_hook_is_killed_with_its_group_at_the_timeout() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-hang");
    let d = dir.path().display().to_string();
    let hook = format!("sleep 100 & echo $! >{d}/bg; sleep 100");
    let start = Instant::now();
    let mut c = update(
        &server,
        &dir,
        Some(T0),
        &["--ip", "1.2.3.4", "--timeout", "2"],
    );
    c.args(["--on-update", &hook]);
    let (code, out, err) = texts(&run(c));
    let took = start.elapsed();
    assert_eq!((code, out.as_str()), (0, "updated to 1.2.3.4\n"), "{err}");
    assert!(
        err.contains(
            "warning: on_update hook failed: did not finish within 2 s; killed with its process group"
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let bg = read(&dir.path().join("bg"));
    let pid = bg.trim();
    assert!(!pid.is_empty());
    let gone = (0..100).any(|_| {
        let stat = read(Path::new(&format!("/proc/{pid}/stat")));
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        if stat.is_empty() || state.starts_with('Z') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
        false
    });
    assert!(gone, "the hook's background job {pid} outlived it");
}

#[test]
fn the_hook_leads_its_own_process_group() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-pgid");
    // Its own pid and group, and the group of its parent (the client).
    let hook = format!(
        "echo $$ $(cut -d' ' -f5 /proc/$$/stat) $(cut -d' ' -f5 /proc/$PPID/stat) >{}/ids",
        dir.path().display()
    );
    let mut c = update(&server, &dir, Some(T0), &["--ip", "1.2.3.4"]);
    c.args(["--on-update", &hook]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 0, "{err}");
    let ids = read(&dir.path().join("ids"));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], ids[1], "the hook leads its group: {ids:?}");
    assert_ne!(ids[1], ids[2], "the client's group: {ids:?}");
}

#[test]
fn held_runs_dry_runs_and_runs_stopped_before_the_guard_run_no_hook() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-held");
    let (on_update, on_change) = (logging_hook(&dir, "update"), logging_hook(&dir, "change"));
    let hooks = ["--on-update", &on_update, "--on-change", &on_change];
    let runs: [(i64, &[&str], i32); 5] = [
        (T0, &["--ip", "1.2.3.4"], 0),
        // Deferred by the 10-minute floor.
        (T0 + 60, &["--ip", "5.6.7.8"], 3),
        // Unchanged.
        (T0 + 700, &["--ip", "1.2.3.4"], 0),
        (T0 + 700, &["--ip", "5.6.7.8", "--dry-run"], 0),
        // No address: the command prints none.
        (T0 + 700, &["--ip-command", "echo none"], 4),
    ];
    for (now, args, expected) in runs {
        let mut c = update(&server, &dir, Some(now), args);
        c.args(hooks);
        let (code, out, err) = texts(&run(c));
        assert_eq!(code, expected, "{args:?}: {out}{err}");
    }
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        hook_log(&dir),
        ["update updated 0 1.2.3.4 <>", "change updated 0 1.2.3.4 <>"]
    );
}

#[test]
fn watch_mode_runs_the_hooks() {
    let server = StubServer::plain();
    let dir = TempDir::new("hook-watch");
    let (on_update, on_change) = (logging_hook(&dir, "update"), logging_hook(&dir, "change"));
    let mut c = cmd();
    c.args(["watch", "--username", "user@example.com", "--allow-http"])
        .args([
            "--server",
            &server.url(),
            "--ip",
            "1.2.3.4",
            "--jitter",
            "0",
        ])
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .args(["--on-update", &on_update, "--on-change", &on_change])
        .env("MTGSY_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("start mtgsy-ddns watch");
    let start = Instant::now();
    while hook_log(&dir).len() < 2 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        hook_log(&dir),
        ["update updated 0 1.2.3.4 <>", "change updated 0 1.2.3.4 <>"]
    );
}

/// The ddns-scripts provider passes a section's `on_update` / `on_change`
/// options on (MTGSY_OPTIONS' column 3): run under busybox ash with the
/// test stand-in of ddns-scripts, the real binary behind it.
#[test]
fn openwrt_options_reach_the_binary_and_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/openwrt");
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        panic!("busybox is required (apt-get install busybox)");
    };
    let server = StubServer::plain();
    let dir = TempDir::new("hook-openwrt");
    let d = dir.path();
    fs::create_dir_all(d.join("run")).unwrap();
    let on_update = logging_hook(&dir, "update");
    let on_change = format!("{} # a 'quoted' word", logging_hook(&dir, "change"));
    let section = [
        ("username", "user@example.com"),
        ("password", PASSWORD),
        ("lookup_host", "localhost"),
        ("use_https", "0"),
        ("jitter", "0"),
        ("on_update", on_update.as_str()),
        ("on_change", on_change.as_str()),
    ];
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let text: String = section
        .iter()
        .map(|(k, v)| format!("{k}={}\n", quote(v)))
        .collect();
    fs::write(d.join("section.sh"), text).unwrap();
    let mut path = fixtures.join("bin").into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let out = Command::new(busybox)
        .arg("ash")
        .arg(fixtures.join("ddns-harness.sh"))
        .arg(d.join("section.sh"))
        .arg("update")
        .env_clear()
        .env("PATH", path)
        .env("MTGSY_DDNS_BIN", fixtures.join("record-argv.sh"))
        .env("MTGSY_TEST_REAL", bin())
        .env("MTGSY_TEST_LOG", d.join("argv.log"))
        .env(
            "MTGSY_DDNS_LIB",
            root.join("openwrt/files/usr/lib/mtgsy-ddns"),
        )
        .env("MTGSY_DDNS_STATE", d.join("state/state.json"))
        .env("MTGSY_DDNS_RUNDIR", d.join("varrun"))
        .env("MTGSY_DDNS_SERVER", server.url())
        .env("MTGSY_DDNS_NETWORK_SH", d.join("network.sh"))
        .env("TEST_RUNDIR", d.join("run"))
        .env("TEST_LOGFILE", d.join("ddns.log"))
        .env(
            "TEST_SCRIPT",
            root.join("openwrt/files/usr/lib/ddns/update_mtgsy_net.sh"),
        )
        .env("TEST_IP", "81.2.69.142")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rc=0"),
        "{stdout}\n{}",
        read(&d.join("ddns.log"))
    );
    let argv = read(&d.join("argv.log"));
    assert!(
        argv.contains(&format!("arg --on-update\narg {on_update}\n"))
            && argv.contains(&format!("arg --on-change\narg {on_change}\n")),
        "{argv}"
    );
    assert_eq!(
        hook_log(&dir),
        [
            "update updated 0 81.2.69.142 <>",
            "change updated 0 81.2.69.142 <>"
        ]
    );
}
