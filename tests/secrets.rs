//! Secrets: every path of the client runs with one distinctive password, and
//! everything it leaves behind — stdout, stderr, syslog lines, the state
//! file, the process's command line — is searched for it in every spelling.
//!
//! syslog is captured by busybox syslogd on a private /dev/log: the runs
//! happen in a mount namespace (`unshare -m`) with a tmpfs over /dev.

mod common;

use std::path::Path;

use common::*;

const PASSWORD: &str = "Zz9-Distinct/Pa55 word&";

/// Every spelling of the password that could leak.
fn spellings() -> Vec<String> {
    let encoded = mtgsy_ddns::request::percent_encode(PASSWORD);
    vec![
        PASSWORD.to_string(),
        encoded.clone(),
        lower_hex(&encoded),
        encoded.replace("%20", "+"),
        "Distinct/Pa55".to_string(),
        "Distinct%2FPa55".to_string(),
        "Distinct%2fPa55".to_string(),
        "Distinct\\/Pa55".to_string(),
    ]
}

/// `%2F` to `%2f`: the hex digits in lower case, the letters of the
/// password as they are.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::new();
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for s in spellings() {
        assert!(
            !text.contains(&s),
            "{what} holds the password as {s:?}:\n{text}"
        );
    }
}

/// Each path: (name, server reply or behaviour, extra arguments).
fn paths(url: &str, dead: &str) -> Vec<(&'static str, String)> {
    let base = format!("update --username user@example.com --allow-http --state \"$D/state-$N.json\" --server {url}");
    vec![
        ("updated", format!("{base} --ip 1.2.3.4 -vv --syslog")),
        ("dry-run", format!("{base} --ip 1.2.3.4 -vv --dry-run --syslog")),
        ("json", format!("{base} --ip 1.2.3.4 --json --syslog")),
        ("bad-input", format!("{base} --ip 1.2.3.4 --port 80 --syslog")),
        ("private-ip", format!("{base} --ip 10.0.0.1 --syslog")),
        ("refused", format!("update --username user@example.com --allow-http --state \"$D/state-$N.json\" --server {dead} --ip 1.2.3.4 -vv --syslog --json")),
        ("status", "status --state \"$D/state-updated.json\" --json".to_string()),
        ("status-text", "status --state \"$D/state-updated.json\"".to_string()),
    ]
}

#[test]
fn password_never_leaves_a_trace() {
    if !namespaces_or_skip("password_never_leaves_a_trace") {
        return;
    }
    for tool in ["busybox", "unshare"] {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success(),
            "{tool} is needed (apt-get install busybox util-linux)"
        );
    }
    let dir = TempDir::new("secrets");
    let d = dir.path();
    let server = StubServer::plain();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{dead_port}/dns/update.php");
    let echo_replies = [
        (
            "rejected",
            format!(
                "300 Invalid login for {PASSWORD} / {}",
                mtgsy_ddns::request::percent_encode(PASSWORD)
            ),
        ),
        ("blocked", format!("blocked: {PASSWORD}")),
        (
            "unconfirmed",
            format!(
                "<p>pass={} or {}</p>",
                lower_hex(&mtgsy_ddns::request::percent_encode(PASSWORD)),
                PASSWORD.replace('&', "&amp;")
            ),
        ),
        (
            "json-echo",
            format!("{{\"pass\": \"{}\"}}", PASSWORD.replace('/', "\\/")),
        ),
        ("server-error", format!("stack trace: pass={PASSWORD}")),
    ];

    // One shell script runs every path inside the namespace, each with its
    // stdout and stderr in files; the server's reply is switched between
    // runs through a FIFO handshake with this test.
    let mut script = String::from(
        "set -u\nmount -t tmpfs tmpfs /dev\nmknod -m 666 /dev/null c 1 3\nbusybox syslogd -n -O \"$D/syslog\" &\nSYSLOGD=$!\n\
         i=0; while [ ! -S /dev/log ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n",
    );
    for (name, args) in paths(&server.url(), &dead) {
        script.push_str(&format!(
            "N={name}; \"$BIN\" {args} >\"$D/$N.out\" 2>\"$D/$N.err\"; echo $? >\"$D/$N.code\"\n"
        ));
    }
    script.push_str("echo done >\"$D/fifo-plain-done\"\n");
    for (name, _) in &echo_replies {
        script.push_str(&format!(
            "read go <\"$D/fifo-{name}\"; N={name}; \"$BIN\" update --username user@example.com --allow-http \
             --state \"$D/state-$N.json\" --server {url} --ip 1.2.3.4 -vv --json --syslog >\"$D/$N.out\" 2>\"$D/$N.err\"; \
             echo $? >\"$D/$N.code\"; echo done >\"$D/fifo-{name}-done\"\n",
            url = server.url()
        ));
    }
    // The command line of a running client, while the server hangs.
    script.push_str(&format!(
        "read go <\"$D/fifo-cmdline\"\nN=cmdline; \"$BIN\" update --username user@example.com --allow-http --state \"$D/state-$N.json\" \
         --server {url} --ip 5.6.7.8 --timeout 5 --syslog >\"$D/$N.out\" 2>\"$D/$N.err\" &\nP=$!\n\
         read go <\"$D/fifo-hang\"\ncat /proc/$P/cmdline | tr '\\0' ' ' >\"$D/cmdline\"\n\
         kill $P; wait $P\n\
         sleep 0.3; kill $SYSLOGD\n",
        url = server.url()
    ));
    for (name, _) in &echo_replies {
        mkfifo(&d.join(format!("fifo-{name}")));
        mkfifo(&d.join(format!("fifo-{name}-done")));
    }
    mkfifo(&d.join("fifo-hang"));
    mkfifo(&d.join("fifo-cmdline"));
    mkfifo(&d.join("fifo-plain-done"));

    let child = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MTGSY_PASSWORD", PASSWORD)
        .env("BIN", bin())
        .env("D", d)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(d.join("sh.err")).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    // The plain paths run against the default "800 OK" first.
    std::fs::read_to_string(d.join("fifo-plain-done")).unwrap();
    for (name, reply) in &echo_replies {
        let status = if *name == "server-error" { 500 } else { 200 };
        server.set_reply(status, reply);
        std::fs::write(d.join(format!("fifo-{name}")), "go\n").unwrap();
        std::fs::read_to_string(d.join(format!("fifo-{name}-done"))).unwrap();
    }
    server.set_behaviour(Behaviour::Hang);
    // Start the hanging run, wait until its request arrived, then let the
    // script look at the process.
    let before = server.requests().len();
    std::fs::write(d.join("fifo-cmdline"), "go\n").unwrap();
    let start = std::time::Instant::now();
    let mut fifo_written = false;
    while start.elapsed().as_secs() < 20 {
        if server.requests().len() > before {
            std::fs::write(d.join("fifo-hang"), "go\n").unwrap();
            fifo_written = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        fifo_written,
        "the hanging request never arrived: {:?} {:?}",
        std::fs::read_to_string(d.join("sh.err")),
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    let _ = child.0.wait();

    // The requests carried the password: the test is not vacuous.
    assert!(server
        .requests()
        .iter()
        .all(|r| r.query("pass").as_deref() == Some(PASSWORD)));
    let code = |name: &str| {
        std::fs::read_to_string(d.join(format!("{name}.code")))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(code("updated"), "0");
    assert_eq!(code("bad-input"), "2");
    assert_eq!(code("rejected"), "5");
    assert_eq!(code("blocked"), "6");
    assert_eq!(code("refused"), "4");
    let syslog = std::fs::read_to_string(d.join("syslog")).expect("syslogd wrote the log");
    assert!(
        syslog.contains("mtgsy-ddns"),
        "syslog captured nothing: {syslog}"
    );
    assert!(syslog.contains("rejected"), "{syslog}");
    // Facility daemon, the right severity, the program's name and pid.
    assert!(syslog.contains("daemon.err mtgsy-ddns["), "{syslog}");
    assert!(syslog.contains("daemon.info mtgsy-ddns["), "{syslog}");
    let cmdline = std::fs::read_to_string(d.join("cmdline")).unwrap();
    assert!(cmdline.contains("update --username"), "{cmdline}");

    // Search everything left behind.
    let mut searched = 0;
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("fifo") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert_clean(&name, &text);
        searched += 1;
    }
    assert!(searched >= 30, "only {searched} files searched");
    assert_clean_state_files(d);
}

fn assert_clean_state_files(d: &Path) {
    let states: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("state-"))
        .collect();
    assert!(
        states.len() >= 5,
        "expected state files for the sending paths"
    );
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Kills the namespace's shell if the test fails half-way.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A password with every awkward character: capitals (the old masker
/// lower-cased them in its lower-hex spelling), a space, `&`, `%`, `<`, `"`,
/// a non-ASCII letter and `+`. Every spelling of it starts with "Aw0".
const AWKWARD: &str = "Aw0 k&%<\"\u{e9}+Q9";

/// The spellings a server could echo AWKWARD in, built here independently
/// of the client's masker.
fn awkward_spellings() -> Vec<(&'static str, String)> {
    let upper = mtgsy_ddns::request::percent_encode(AWKWARD);
    let lower = lower_hex(&upper);
    let html: String = AWKWARD
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect();
    let html_numeric: String = AWKWARD
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_string(),
            c => format!("&#{};", u32::from(c)),
        })
        .collect();
    let json = serde_json::to_string(AWKWARD).unwrap();
    let json = json[1..json.len() - 1].to_string();
    let json_ascii: String = AWKWARD
        .chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            c if c.is_ascii() => c.to_string(),
            c => format!("\\u{:04x}", u32::from(c)),
        })
        .collect();
    vec![
        ("raw", AWKWARD.to_string()),
        ("percent", upper.clone()),
        ("percent-lower", lower.clone()),
        ("form", upper.replace("%20", "+")),
        ("form-lower", lower.replace("%20", "+")),
        ("html", html),
        ("html-numeric", html_numeric),
        ("json", json),
        ("json-ascii", json_ascii),
    ]
}

/// The `reply` field of a `--json` outcome.
fn json_reply(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));
    v["reply"].as_str().unwrap_or_default().to_string()
}

fn awkward_run(server: &StubServer, state: &Path) -> (i32, String, String, String) {
    let mut c = update_cmd(&server.url(), state);
    c.args(["--allow-http", "--ip", "1.2.3.4", "--json", "-vv"])
        .env("MTGSY_PASSWORD", AWKWARD);
    let (code, out, err) = texts(&run(c));
    let state_text = std::fs::read_to_string(state).unwrap_or_default();
    (code, out, err, state_text)
}

#[test]
fn awkward_password_echoed_in_any_encoding_is_masked() {
    let dir = TempDir::new("awkward");
    let server = StubServer::plain();
    for (name, spelling) in awkward_spellings() {
        server.set_reply(200, &format!("300 Invalid login: pass={spelling}; bye"));
        let state = dir.path().join(format!("state-{name}.json"));
        let (code, out, err, state_text) = awkward_run(&server, &state);
        assert_eq!(code, 5, "{name}: {out}{err}");
        for (what, text) in [("stdout", &out), ("stderr", &err), ("state", &state_text)] {
            assert!(
                !text.contains("Aw0"),
                "{name}: {what} holds the password:\n{text}"
            );
        }
        assert_eq!(
            json_reply(&out),
            "300 Invalid login: pass=***; bye",
            "{name}"
        );
    }
    // The server really got the password each time.
    assert!(server
        .requests()
        .iter()
        .all(|r| r.query("pass").as_deref() == Some(AWKWARD)));
}

#[test]
fn password_at_the_512_character_cut_leaves_no_prefix() {
    let dir = TempDir::new("awkward-cut");
    let server = StubServer::plain();
    for (name, spelling) in awkward_spellings()
        .into_iter()
        .filter(|(n, _)| matches!(*n, "raw" | "percent-lower"))
    {
        // The cut at 512 characters falls after 1, 2, … characters of the
        // spelling (the padding holds no 'A', so any piece shows as one).
        for shown in 1..=spelling.chars().count() {
            let body = format!("{}{spelling} tail", "x".repeat(512 - shown));
            server.set_reply(200, &body);
            let state = dir.path().join(format!("state-{name}-{shown}.json"));
            let (_, out, err, state_text) = awkward_run(&server, &state);
            let reply = json_reply(&out);
            assert!(
                !reply.contains('A') && !state_text.contains("xA"),
                "{name} cut after {shown}: {reply}"
            );
            assert!(
                !err.contains("Aw") && !out.contains("Aw"),
                "{name} {shown}: {out}{err}"
            );
            assert!(reply.starts_with("xxx"), "{name} {shown}: {reply}");
        }
    }
}

#[test]
fn c_abi_result_and_last_error_never_hold_the_password() {
    use mtgsy_ddns::capi::*;
    use std::ffi::{CStr, CString};
    let dir = TempDir::new("awkward-capi");
    let server = StubServer::plain();
    let body = awkward_spellings()
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(" | ");
    server.set_reply(200, &format!("300 Invalid login {body}"));
    let state = dir.path().join("state.json");
    let settings = [
        ("username", "user@example.com".to_string()),
        ("password", AWKWARD.to_string()),
        ("server", server.url()),
        ("allow_http", "1".to_string()),
        ("ip", "1.2.3.4".to_string()),
        ("state", state.display().to_string()),
    ];
    // SAFETY: a handle from mtgsy_new, used by this thread only and freed
    // once; every string is NUL-terminated and outlives its call.
    unsafe {
        let h = mtgsy_new();
        assert!(!h.is_null());
        for (key, value) in &settings {
            let (k, v) = (
                CString::new(*key).unwrap(),
                CString::new(value.as_str()).unwrap(),
            );
            assert_eq!(mtgsy_set(h, k.as_ptr(), v.as_ptr()), MTGSY_OK, "{key}");
        }
        let mut result: mtgsy_result = std::mem::zeroed();
        let code = mtgsy_update(h, 0, &mut result);
        assert_eq!(code, MTGSY_REJECTED);
        let reply = CStr::from_ptr(result.reply.as_ptr())
            .to_string_lossy()
            .into_owned();
        let message = CStr::from_ptr(result.message.as_ptr())
            .to_string_lossy()
            .into_owned();
        let error = CStr::from_ptr(mtgsy_last_error(h))
            .to_string_lossy()
            .into_owned();
        mtgsy_free(h);
        assert!(reply.starts_with("300 Invalid login ***"), "{reply}");
        for (what, text) in [
            ("reply", &reply),
            ("message", &message),
            ("last error", &error),
        ] {
            assert!(!text.contains("Aw0"), "{what} holds the password: {text}");
        }
    }
    let state_text = std::fs::read_to_string(&state).unwrap();
    assert!(!state_text.contains("Aw0"), "{state_text}");
}
