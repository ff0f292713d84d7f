//! The request on the wire: exactly what the service receives.

mod common;

use common::*;

fn update(server: &StubServer, state: &TempDir, extra: &[&str]) -> (i32, String, String) {
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--allow-http"])
        .args(extra)
        .env("MTGSY_PASSWORD", "s3cret&pass word");
    texts(&run(c))
}

#[test]
fn plain_update_sends_exact_request() {
    let server = StubServer::plain();
    let state = TempDir::new("wire");
    let (code, out, err) = update(&server, &state, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.target,
        "/dns/update.php?email=user%40example.com&pass=s3cret%26pass%20word&hb=0&ip=1.2.3.4"
    );
    assert_eq!(
        r.header("user-agent").unwrap(),
        format!(
            "mtgsy-ddns/{} (linux; {})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH
        )
    );
    assert_eq!(
        r.header("host").unwrap(),
        format!("127.0.0.1:{}", server.port())
    );
    assert!(r.raw.starts_with("GET /dns/update.php?"));
    assert!(r.raw.contains(" HTTP/1.1\r\n"));
    assert!(!out.contains("s3cret") && !err.contains("s3cret"));
    assert!(err.contains("clear text"), "{err}");
}

#[test]
fn every_option_reaches_the_wire_in_order() {
    let server = StubServer::plain();
    let state = TempDir::new("wire-all");
    let (code, out, err) = update(
        &server,
        &state,
        &[
            "--hb",
            "1",
            "--stealth",
            "0",
            "--port",
            "8080",
            "--offline-url",
            "http://away.example.com/x?y=1",
            "--offline-text",
            "Back soon & see you",
            "--mx",
            "mail.example.com.",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let r = &server.requests()[0];
    assert_eq!(
        r.query_names(),
        [
            "email",
            "pass",
            "hb",
            "ip",
            "stealth",
            "port",
            "offlineurl",
            "offlinetext",
            "mx"
        ]
    );
    assert_eq!(r.query("hb").unwrap(), "1");
    assert_eq!(r.query("stealth").unwrap(), "0");
    assert_eq!(r.query("port").unwrap(), "8080");
    assert_eq!(
        r.query("offlineurl").unwrap(),
        "http://away.example.com/x?y=1"
    );
    assert_eq!(r.query("offlinetext").unwrap(), "Back soon & see you");
    assert_eq!(r.query("mx").unwrap(), "mail.example.com.");
    assert_eq!(r.query("pass").unwrap(), "s3cret&pass word");
    assert!(
        r.target
            .contains("&offlinetext=Back%20soon%20%26%20see%20you&"),
        "{}",
        r.target
    );
}

#[test]
fn https_update_verifies_against_the_given_ca() {
    let server = StubServer::tls();
    let state = TempDir::new("wire-tls");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--json"])
        .arg("--ca-file")
        .arg(server.ca_pem_path());
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("clear text"), "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["outcome"], "updated");
    assert_eq!(json["http_status"], 200);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn https_with_unknown_ca_sends_nothing_and_backs_off() {
    let server = StubServer::tls();
    let state = TempDir::new("wire-badca");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--json"])
        .env("MTGSY_DDNS_NOW", "1800000000");
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        server.requests().is_empty(),
        "no request may pass a failed handshake"
    );
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["outcome"], "failed");
    assert_eq!(json["sent"], false);
    assert_eq!(json["retry_after_s"], 60, "{json}");
    assert!(err.contains("TLS") || err.contains("certificate"), "{err}");
}

#[test]
fn plain_http_is_refused_without_opt_in() {
    let server = StubServer::plain();
    let state = TempDir::new("wire-nohttp");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4"]);
    let (code, _, err) = texts(&run(c));
    assert_eq!(code, 2);
    assert!(
        err.contains("server") && err.contains("--allow-http"),
        "{err}"
    );
    assert_eq!(server.connections(), 0);
    assert!(!state.path().join("state.json").exists());
}

#[test]
fn redirect_is_not_followed_and_counts_as_failure() {
    let server = StubServer::plain();
    server.set_behaviour(Behaviour::ReplyWithHeaders(
        302,
        vec![format!(
            "Location: http://127.0.0.1:{}/elsewhere",
            server.port()
        )],
        String::new(),
    ));
    let state = TempDir::new("wire-redirect");
    let (code, out, err) = update(&server, &state, &["--json"]);
    assert_eq!(code, 4, "{out}{err}");
    assert_eq!(server.requests().len(), 1, "the redirect was followed");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["http_status"], 302);
    assert_eq!(json["sent"], true);
    assert_eq!(
        json["retry_after_s"], 600,
        "a reply counts toward the floor: {json}"
    );
}

#[test]
fn an_over_long_reply_is_read_up_to_64_kib_and_never_success() {
    let server = StubServer::plain();
    server.set_behaviour(Behaviour::BigBody(4 << 20));
    let state = TempDir::new("wire-big");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--allow-http", "--json"]);
    let out = run_with_rss(c);
    let (code, stdout, err) = texts(&out.0);
    assert_eq!(code, 4, "{stdout}{err}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["outcome"], "failed");
    assert_eq!(json["retry_after_s"], 600, "{json}");
    assert!(json["reply"].as_str().unwrap().len() <= 512);
    // A 4 MiB body must not be held in memory.
    assert!(out.1 < 16 * 1024, "peak RSS {} KiB", out.1);
}

/// Replies read as a person would: whole words, a byte order mark and
/// white space ignored, a long body never success.
#[test]
fn replies_are_read_by_whole_words() {
    let long_ok = format!("800 OK\n{}", "x".repeat(8192));
    for (body, outcome, code) in [
        ("Your account was unblocked", "unconfirmed", 0),
        ("client not blocked", "unconfirmed", 0),
        ("\u{feff}800 OK\r\n", "updated", 0),
        ("\u{feff}  blocked\n", "blocked", 6),
        (long_ok.as_str(), "failed", 4),
    ] {
        let server = StubServer::plain();
        server.set_reply(200, body);
        let state = TempDir::new("wire-words");
        let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
        c.args(["--ip", "1.2.3.4", "--allow-http", "--json"]);
        let (got, stdout, err) = texts(&run(c));
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(
            (got, json["outcome"].as_str()),
            (code, Some(outcome)),
            "{body:?}: {stdout}{err}"
        );
    }
}

/// Runs `c` under GNU time (Debian's `time` package) to read its peak RSS
/// in KiB.
fn run_with_rss(c: std::process::Command) -> (std::process::Output, u64) {
    assert!(
        std::path::Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is missing: apt-get install time"
    );
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("RSS=%M")
        .arg(c.get_program())
        .args(c.get_args());
    timed.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    let out = run(timed);
    let err = String::from_utf8_lossy(&out.stderr);
    let rss = err
        .lines()
        .filter_map(|l| l.strip_prefix("RSS="))
        .filter_map(|v| v.trim().parse().ok())
        .next()
        .expect("GNU time printed no RSS");
    (out, rss)
}

#[test]
fn server_that_never_answers_times_out_and_counts_as_sent() {
    let server = StubServer::plain();
    server.set_behaviour(Behaviour::Hang);
    let state = TempDir::new("wire-hang");
    let start = std::time::Instant::now();
    let (code, out, err) = update(&server, &state, &["--timeout", "2", "--json"]);
    let took = start.elapsed();
    assert_eq!(code, 4, "{out}{err}");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["sent"], true, "the request was written: it counts");
    assert_eq!(json["retry_after_s"], 600, "{json}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn connection_refused_counts_as_unsent() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = TempDir::new("wire-refused");
    let mut c = update_cmd(
        &format!("http://127.0.0.1:{port}/dns/update.php"),
        &state.path().join("state.json"),
    );
    c.args(["--ip", "1.2.3.4", "--allow-http", "--json"]);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 4, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["sent"], false);
    assert_eq!(json["retry_after_s"], 60);
}

#[test]
fn closed_after_request_counts_as_sent() {
    let server = StubServer::plain();
    server.set_behaviour(Behaviour::CloseAfterRequest);
    let state = TempDir::new("wire-close");
    let (code, out, err) = update(&server, &state, &["--json"]);
    assert_eq!(code, 4, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["sent"], true, "{json}");
    assert_eq!(json["retry_after_s"], 600);
}

#[test]
fn longest_valid_request_goes_out_whole() {
    let server = StubServer::plain();
    let state = TempDir::new("wire-long");
    let url = format!("http://example.com/{}", "/".repeat(2048 - 19));
    let text = "&".repeat(512);
    let user = format!("{}@example.com", "a".repeat(64));
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args([
        "--ip",
        "1.2.3.4",
        "--allow-http",
        "--offline-url",
        &url,
        "--offline-text",
        &text,
    ])
    .args([
        "--username",
        &user,
        "--mx",
        &format!("{}.example.com.", "m".repeat(63)),
    ])
    .env("MTGSY_PASSWORD", "%".repeat(256));
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}{err}");
    let r = &server.requests()[0];
    assert!(r.target.len() > 8_000, "{}", r.target.len());
    assert_eq!(r.query("offlineurl").unwrap(), url);
    assert_eq!(r.query("offlinetext").unwrap(), text);
    assert_eq!(r.query("pass").unwrap(), "%".repeat(256));
}

/// Proxy variables in the environment are ignored: the password in the
/// query string must never be handed to a proxy the user did not choose.
#[test]
fn proxy_variables_are_ignored() {
    let server = StubServer::plain();
    let proxy = StubServer::plain();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let state = TempDir::new("wire-proxy");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--allow-http"])
        .env("MTGSY_PASSWORD", "s3cret")
        .env("http_proxy", &proxy_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("https_proxy", &proxy_url)
        .env("HTTPS_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url);
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(proxy.connections(), 0, "the proxy was contacted");
}

/// Host names are looked up (on a worker thread, with the deadline): a
/// name that resolves reaches the server; one that does not fails before
/// anything is sent, and says so.
#[test]
fn server_names_are_resolved_and_a_failed_lookup_sends_nothing() {
    let server = StubServer::plain();
    let state = TempDir::new("wire-dns");
    let url = server.url().replace("127.0.0.1", "localhost");
    let mut c = update_cmd(&url, &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--allow-http"])
        .env("MTGSY_PASSWORD", "s3cret");
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.requests().len(), 1);

    if !namespaces_or_skip("server_names_are_resolved_and_a_failed_lookup_sends_nothing") {
        return;
    }
    // The failing lookup runs in a private mount namespace whose
    // resolv.conf names only 127.0.0.1, where no DNS server listens: no
    // query leaves the machine.
    let state = TempDir::new("wire-nodns");
    let resolv = state.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let mut c = std::process::Command::new("unshare");
    c.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
    ])
    .arg(&resolv)
    .arg(bin())
    .args(["update", "--username", "user@example.com", "--server"])
    .arg("http://no-such-host.invalid/dns/update.php")
    .arg("--state")
    .arg(state.path().join("state.json"))
    .args([
        "--ip",
        "1.2.3.4",
        "--allow-http",
        "--json",
        "--timeout",
        "5",
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("MTGSY_PASSWORD", "s3cret")
    .stdin(std::process::Stdio::null());
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("server host name not found (DNS)"), "{err}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(
        state["records"][0]["record"]["last_result"],
        "failed_unsent"
    );
}

#[test]
fn without_ca_file_the_system_bundle_is_trusted() {
    // SSL_CERT_FILE names the system's bundle, as for OpenSSL and curl:
    // here one holding only the stand-in's test CA.
    let server = StubServer::tls();
    let state = TempDir::new("wire-sysca");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4", "--json"])
        .env("SSL_CERT_FILE", server.ca_pem_path());
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn no_system_bundle_is_bad_input_and_sends_nothing() {
    let server = StubServer::tls();
    let state = TempDir::new("wire-nosysca");
    let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
    c.args(["--ip", "1.2.3.4"])
        .env("SSL_CERT_FILE", state.path().join("missing.pem"));
    let (code, out, err) = texts(&run(c));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("ca_file: is not set, and SSL_CERT_FILE names ")
            && err.contains("missing.pem, which is not a file"),
        "{err}"
    );
    assert_eq!(server.connections(), 0);
    assert!(!state.path().join("state.json").exists());
}

#[test]
fn the_system_bundle_is_read_only_when_a_request_goes_out() {
    // A bundle that is not PEM: a run the guard holds never reads it; a run
    // that sends fails before connecting, says why, and counts as unsent.
    let server = StubServer::tls();
    let state = TempDir::new("wire-lazyca");
    let bundle = state.path().join("bundle.pem");
    std::fs::write(&bundle, "not a certificate\n").unwrap();
    let run_at = |now: &str| {
        let mut c = update_cmd(&server.url(), &state.path().join("state.json"));
        c.args(["--ip", "1.2.3.4", "--json"])
            .env("SSL_CERT_FILE", &bundle)
            .env("MTGSY_DDNS_NOW", now);
        texts(&run(c))
    };
    let (code, out, err) = run_at("1800000000");
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        out.contains("cannot load the trusted certificates")
            && out.contains("bundle.pem holds no PEM certificate"),
        "{out}{err}"
    );
    assert!(out.contains("\"sent\":false"), "{out}");
    assert_eq!(server.connections(), 0);
    // Within the first failure's 60 s backoff: held (exit 3) without a look
    // at the bundle.
    let (code, out, err) = run_at("1800000030");
    assert_eq!(code, 3, "{out}{err}");
    assert!(!format!("{out}{err}").contains("PEM"), "{out}{err}");
}
