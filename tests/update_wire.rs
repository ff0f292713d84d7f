//! The request on the wire: exactly what the service receives.

mod common;

use common::*;

fn update(server: &StubServer, state: &TempDir, extra: &[&str]) -> (i32, String, String) {
    let mut c = cmd();
    c.args([
        "update",
        "--username",
        "user@example.com",
        "--ip",
        "1.2.3.4",
        "--allow-http",
    ])
    .arg("--server")
    .arg(server.url())
    .arg("--state")
    .arg(state.path().join("state.json"))
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
