//! `--bind-interface DEV`: the update request and the address page leave
//! through the device named, on a router with two WANs.
//!
//! Two network namespaces stand for the router and "the internet": the
//! router has `wana` (10.1.0.1) and `wanb` (10.2.0.1), veth pairs whose
//! other ends are in the internet namespace, where the stand-in listens on
//! 192.0.2.80. The router reaches 192.0.2.80 through either WAN, `wana`
//! first (lower metric), so an unbound request comes from 10.1.0.1 and only
//! a request bound to `wanb` comes from 10.2.0.1. The stand-in records each
//! request's source address.
//!
//! Needs root and iproute2; otherwise each test says
//! `skipped: NAME: needs root ...` and returns. The missing-device test
//! needs neither.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use common::{Netns, StubServer, TempDir};

/// The stand-in's address, behind both WANs.
const SERVER_IP: &str = "192.0.2.80";

/// The router with its two WANs, the internet and the stand-in there.
struct TwoWans {
    router: Netns,
    _internet: Netns,
    server: StubServer,
}

impl TwoWans {
    fn new() -> TwoWans {
        let router = Netns::new("br");
        let internet = Netns::new("bi");
        internet.ip(&["addr", "add", &format!("{SERVER_IP}/32"), "dev", "lo"]);
        for (dev, net, metric) in [("wana", "10.1.0", "10"), ("wanb", "10.2.0", "20")] {
            let peer = format!("{dev}p");
            router.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
            router.ip(&["link", "set", &peer, "netns", &internet.name]);
            router.ip(&["addr", "add", &format!("{net}.1/24"), "dev", dev]);
            internet.ip(&["addr", "add", &format!("{net}.2/24"), "dev", &peer]);
            router.ip(&["link", "set", dev, "up"]);
            internet.ip(&["link", "set", &peer, "up"]);
            router.ip(&[
                "route",
                "add",
                SERVER_IP,
                "via",
                &format!("{net}.2"),
                "dev",
                dev,
                "metric",
                metric,
            ]);
        }
        let server = internet.inside(|| StubServer::plain_on("0.0.0.0"));
        TwoWans {
            router,
            _internet: internet,
            server,
        }
    }

    /// `mtgsy-ddns update` run on the router with `args`; its exit code
    /// and stderr.
    fn update(&self, dir: &TempDir, args: &[&str]) -> (i32, String) {
        let url = format!("http://{SERVER_IP}:{}/dns/update.php", self.server.port());
        let mut c = common::update_cmd(&url, &dir.path().join("state.json"));
        c.args(["--allow-http", "--allow-private", "--timeout", "5"])
            .args(args);
        let ns = self.router.file();
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
        let (code, _, stderr) = common::texts(&common::run(c));
        (code, stderr)
    }

    /// The source address of each request the stand-in got, in order.
    fn sources(&self) -> Vec<String> {
        let requests = self.server.requests();
        requests
            .iter()
            .map(|r| r.peer.map(|p| p.ip().to_string()).unwrap_or_default())
            .collect()
    }
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
    let (code, stderr) = net.update(&dir, &["--ip", "10.9.9.9"]);
    assert_eq!(code, 0, "{stderr}");
    for (dev, source) in [("wanb", "10.2.0.1"), ("wana", "10.1.0.1")] {
        let dir = TempDir::new(&format!("bind-{dev}"));
        let (code, stderr) = net.update(&dir, &["--ip", "10.9.9.9", "--bind-interface", dev]);
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
    let page = format!("http://{SERVER_IP}:{}/ip", net.server.port());
    let (code, stderr) = net.update(&dir, &["--ip-url", &page, "--bind-interface", "wanb"]);
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
