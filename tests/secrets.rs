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
        encoded.to_ascii_lowercase(),
        encoded.replace("%20", "+"),
        "Distinct/Pa55".to_string(),
        "Distinct%2FPa55".to_string(),
    ]
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
    for tool in ["busybox", "unshare"] {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
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
                "<p>pass={}</p>",
                mtgsy_ddns::request::percent_encode(PASSWORD).to_ascii_lowercase()
            ),
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
