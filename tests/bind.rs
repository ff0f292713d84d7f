//! `--bind-interface DEV`: the update request and the address page leave
//! through the device named, on a router with two WANs.
//!
//! `common::TwoWans` stands for the router and "the internet": two WANs,
//! `wana` (10.1.0.1, the routing table's first choice) and `wanb`
//! (10.2.0.1), and a stand-in behind both that records each request's
//! source address.
//!
//! Since Linux 5.7 `SO_BINDTODEVICE` needs no capability, so the fallback
//! for when it is refused (bind to the device's IPv4 address) is tested by
//! running the client under `tests/c/no_bindtodevice.c`, compiled here with
//! gcc: a seccomp filter that makes exactly that `setsockopt` fail with
//! `EPERM`, as an older kernel does for a process without `CAP_NET_RAW`.
//!
//! Needs root and iproute2; otherwise each test says
//! `skipped: NAME: needs root ...` and returns. The missing-device test
//! needs neither.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{StubServer, TempDir, TwoWans};

/// `mtgsy-ddns update` run on the router with `args`; its exit code and
/// stderr.
fn update(net: &TwoWans, dir: &TempDir, args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = update_under(net, None, dir, args);
    (code, stderr)
}

/// As [`update`], the client started by `wrapper` (given the client's
/// path and arguments) when set; exit code, stdout, stderr.
fn update_under(
    net: &TwoWans,
    wrapper: Option<&Path>,
    dir: &TempDir,
    args: &[&str],
) -> (i32, String, String) {
    let mut c = common::update_cmd(&net.url(), &dir.path().join("state.json"));
    c.args(["--allow-http", "--allow-private", "--timeout", "5"])
        .args(args);
    if let Some(wrapper) = wrapper {
        let mut w = Command::new(wrapper);
        w.env_clear().stdin(std::process::Stdio::null());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                w.env(k, v);
            }
        }
        w.arg(c.get_program()).args(c.get_args());
        c = w;
    }
    let ns = net.router.file();
    let fd = ns.as_raw_fd();
    // SAFETY: only setns(2), async-signal-safe, runs between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    common::texts(&common::run(c))
}

#[test]
fn each_request_leaves_through_its_wan() {
    let test = "each_request_leaves_through_its_wan";
    if !common::root_or_skip(test, "network namespaces and veth pairs")
        || !common::namespaces_or_skip(test)
    {
        return;
    }
    let net = TwoWans::new();
    // Unbound: the routing table's first choice, wana.
    let dir = TempDir::new("bind-none");
    let (code, stderr) = update(&net, &dir, &["--ip", "10.9.9.9"]);
    assert_eq!(code, 0, "{stderr}");
    for (dev, source) in [("wanb", "10.2.0.1"), ("wana", "10.1.0.1")] {
        let dir = TempDir::new(&format!("bind-{dev}"));
        let (code, stderr) = update(&net, &dir, &["--ip", "10.9.9.9", "--bind-interface", dev]);
        assert_eq!(code, 0, "{dev}: {stderr}");
        assert_eq!(
            net.sources().last().map(String::as_str),
            Some(source),
            "{dev}"
        );
    }
    assert_eq!(net.sources(), ["10.1.0.1", "10.2.0.1", "10.1.0.1"]);
}

#[test]
fn the_address_page_is_fetched_through_the_same_wan() {
    let test = "the_address_page_is_fetched_through_the_same_wan";
    if !common::root_or_skip(test, "network namespaces and veth pairs")
        || !common::namespaces_or_skip(test)
    {
        return;
    }
    let net = TwoWans::new();
    let dir = TempDir::new("bind-web");
    // The stand-in answers "800 OK" to the update and to the address page
    // alike; the page's answer holds no address, so the run fails after
    // the page was fetched, and no update is sent.
    let page = format!(
        "http://{}:{}/ip",
        common::TWO_WANS_SERVER_IP,
        net.server.port()
    );
    let (code, stderr) = update(&net, &dir, &["--ip-url", &page, "--bind-interface", "wanb"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("no IPv4 address in the reply"), "{stderr}");
    let requests = net.server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, "/ip");
    assert_eq!(net.sources(), ["10.2.0.1"]);
}

#[test]
fn a_missing_device_sends_nothing() {
    let server = StubServer::plain();
    let dir = TempDir::new("bind-missing");
    let mut c = common::update_cmd(&server.url(), &dir.path().join("state.json"));
    c.args([
        "--allow-http",
        "--ip",
        "1.2.3.4",
        "--bind-interface",
        "nosuchwan9",
        "--json",
    ]);
    let (code, stdout, stderr) = common::texts(&common::run(c));
    assert_eq!(code, 4, "{stderr}");
    let message = "bind_interface: cannot send through nosuchwan9: no such device";
    assert!(stderr.contains(message), "{stderr}");
    assert_eq!(server.connections(), 0);
    assert!(stdout.contains("\"sent\":false"), "{stdout}");
}

/// `tests/c/no_bindtodevice.c` compiled into `dir`.
fn no_bindtodevice(dir: &TempDir) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/no_bindtodevice.c");
    let exe = dir.path().join("no_bindtodevice");
    let out = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-O2", "-o"])
        .arg(&exe)
        .arg(&source)
        .output()
        .expect("run gcc (tests/a_prerequisites.rs lists it)");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Where the kernel refuses `SO_BINDTODEVICE` (simulated by the seccomp
/// filter), the request is bound to the device's IPv4 address instead and
/// still comes from that WAN's address, not from the routing table's first
/// choice.
#[test]
fn without_permission_to_bind_to_the_device_the_source_address_is_bound() {
    let test = "without_permission_to_bind_to_the_device_the_source_address_is_bound";
    if !common::root_or_skip(test, "network namespaces and veth pairs")
        || !common::namespaces_or_skip(test)
    {
        return;
    }
    let net = TwoWans::new();
    let dir = TempDir::new("bind-eperm");
    let wrapper = no_bindtodevice(&dir);
    for (dev, source) in [("wanb", "10.2.0.1"), ("wana", "10.1.0.1")] {
        let state = TempDir::new(&format!("bind-eperm-{dev}"));
        let (code, _, stderr) = update_under(
            &net,
            Some(&wrapper),
            &state,
            &["--ip", "10.9.9.9", "--bind-interface", dev, "-vv"],
        );
        assert_eq!(code, 0, "{dev}: {stderr}");
        assert_eq!(
            net.sources().last().map(String::as_str),
            Some(source),
            "{dev}"
        );
    }
    assert_eq!(net.sources(), ["10.2.0.1", "10.1.0.1"]);
}

/// Refused `SO_BINDTODEVICE` and a device without an IPv4 address to bind
/// to instead: the clear error, exit 4, and nothing sent (nor written as
/// sent). With the permission the same device is a plain network failure.
#[test]
fn without_permission_a_device_without_ipv4_sends_nothing() {
    let test = "without_permission_a_device_without_ipv4_sends_nothing";
    if !common::root_or_skip(test, "network namespaces and veth pairs")
        || !common::namespaces_or_skip(test)
    {
        return;
    }
    let net = TwoWans::new();
    // A third WAN, up, without an address.
    net.router.ip(&[
        "link", "add", "wanc", "type", "veth", "peer", "name", "wancp",
    ]);
    net.router.ip(&["link", "set", "wanc", "up"]);
    net.router.ip(&["link", "set", "wancp", "up"]);
    let dir = TempDir::new("bind-eperm-noaddr");
    let wrapper = no_bindtodevice(&dir);
    let args = ["--ip", "10.9.9.9", "--bind-interface", "wanc", "--json"];
    let (code, stdout, stderr) = update_under(&net, Some(&wrapper), &dir, &args);
    assert_eq!(code, 4, "{stdout} {stderr}");
    let message = "bind_interface: cannot send through wanc: \
                   not permitted to bind to the device and it has no IPv4 address";
    assert!(stderr.contains(message), "{stderr}");
    assert!(stdout.contains("\"sent\":false"), "{stdout}");
    assert_eq!(net.server.connections(), 0);
    // Written down as a failure before sending: no floor, a backoff.
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let record = &state["records"][0]["record"];
    assert_eq!(record["last_result"], "failed_unsent", "{record}");
    assert_eq!(
        record["last_attempt_at"],
        serde_json::Value::Null,
        "{record}"
    );

    // Allowed to bind to the device, the message is not the fallback's.
    let dir = TempDir::new("bind-noaddr");
    let (code, stdout, stderr) = update_under(&net, None, &dir, &args);
    assert_eq!(code, 4, "{stdout} {stderr}");
    assert!(!stderr.contains("not permitted"), "{stderr}");
    assert_eq!(net.server.connections(), 0);
}
