//! Test support: a stand-in for the service on 127.0.0.1 (plain HTTP and
//! HTTPS with a CA made at test time) that records every request, and
//! helpers to run the real binary.
//!
//! Never the real service: every server here binds 127.0.0.1 on a random
//! port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the stand-in does with a request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with this status and body.
    Reply(u16, String),
    /// Answer with extra raw header lines (each without CRLF).
    ReplyWithHeaders(u16, Vec<String>, String),
    /// Read the request, then never answer (until the client gives up).
    Hang,
    /// Read the request, then close without a reply.
    CloseAfterRequest,
    /// Close the connection as soon as it is accepted, reading nothing.
    CloseAtOnce,
    /// A 200 reply whose body is `n` bytes of 'x' (Content-Length set).
    BigBody(usize),
    /// Wait this long before answering 200 "800 OK".
    Delay(Duration),
    /// Write these bytes as the whole response, then close.
    Raw(Vec<u8>),
    /// Write the response one byte every `Duration` (slow headers).
    Trickle(Duration),
    /// A 200 reply with a header line of this many bytes.
    HugeHeader(usize),
    /// A chunked 200 reply that sends a chunk every 50 ms and never ends
    /// (for at most 60 s).
    ChunkedForever,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The raw request head, CRLFs included.
    pub raw: String,
    /// The request line's method.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Header lines as (name in lower case, value).
    pub headers: Vec<(String, String)>,
    /// The client's address and port.
    pub peer: Option<std::net::SocketAddr>,
}

impl Recorded {
    /// The decoded value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// All query parameters, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(n), decode(v))
            })
            .collect()
    }

    /// The names of the query parameters, in order.
    pub fn query_names(&self) -> Vec<String> {
        self.query_pairs().into_iter().map(|(n, _)| n).collect()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    requests: Mutex<Vec<Recorded>>,
    connections: Mutex<usize>,
}

/// A stand-in for the service.
pub struct StubServer {
    port: u16,
    tls: bool,
    shared: Arc<Shared>,
    ca_pem: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl StubServer {
    /// A plain-HTTP server answering `200 "800 OK"`.
    pub fn plain() -> StubServer {
        Self::start(None)
    }

    /// A plain-HTTP server listening on `ip` (`0.0.0.0`: every address)
    /// instead of 127.0.0.1; [`StubServer::url`] still names 127.0.0.1.
    pub fn plain_on(ip: &str) -> StubServer {
        Self::start_on(ip, None)
    }

    /// An HTTPS server with a certificate for 127.0.0.1 and localhost,
    /// signed by a CA made now; [`StubServer::ca_pem_path`] holds the CA.
    pub fn tls() -> StubServer {
        Self::tls_with(TlsOptions::default())
    }

    /// An HTTPS server with the given certificate quirks.
    pub fn tls_with(options: TlsOptions) -> StubServer {
        Self::start(Some(options))
    }

    fn start(tls: Option<TlsOptions>) -> StubServer {
        Self::start_on("127.0.0.1", tls)
    }

    fn start_on(ip: &str, tls: Option<TlsOptions>) -> StubServer {
        let listener = TcpListener::bind((ip, 0)).expect("bind the stand-in");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(Behaviour::Reply(200, "800 OK".into())),
            requests: Mutex::new(Vec::new()),
            connections: Mutex::new(0),
        });
        let (config, dir, ca_pem) = match tls {
            Some(options) => {
                let dir = TempDir::new("stub-tls");
                let (config, ca) = tls_config(&options);
                let ca_path = dir.path().join("ca.pem");
                std::fs::write(&ca_path, ca).unwrap();
                (Some(config), Some(dir), Some(ca_path))
            }
            None => (None, None, None),
        };
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let s = s.clone();
                let config = config.clone();
                std::thread::spawn(move || {
                    *s.connections.lock().unwrap() += 1;
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                    let peer = stream.peer_addr().ok();
                    match config {
                        Some(cfg) => {
                            let conn = match rustls::ServerConnection::new(cfg) {
                                Ok(c) => c,
                                Err(_) => return,
                            };
                            let mut tls = rustls::StreamOwned::new(conn, stream);
                            serve(&mut tls, &s, peer);
                        }
                        None => {
                            let mut stream = stream;
                            serve(&mut stream, &s, peer);
                        }
                    }
                });
            }
        });
        StubServer {
            port,
            tls: ca_pem.is_some(),
            shared,
            ca_pem,
            _dir: dir,
        }
    }

    /// The update URL on this server.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/dns/update.php", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test CA's PEM file (HTTPS servers only).
    pub fn ca_pem_path(&self) -> PathBuf {
        self.ca_pem.clone().expect("a TLS server")
    }

    /// Answer every following request with `status` and `body`.
    pub fn set_reply(&self, status: u16, body: &str) {
        self.set_behaviour(Behaviour::Reply(status, body.to_string()));
    }

    /// Change what the server does.
    pub fn set_behaviour(&self, b: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = b;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        *self.shared.connections.lock().unwrap()
    }
}

fn serve<S: Read + Write>(stream: &mut S, shared: &Shared, peer: Option<std::net::SocketAddr>) {
    let behaviour = shared.behaviour.lock().unwrap().clone();
    if let Behaviour::CloseAtOnce = behaviour {
        return;
    }
    let mut reader = BufReader::new(&mut *stream);
    let mut raw = String::new();
    loop {
        let mut line = String::new();
        match reader.by_ref().take(70_000).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        raw.push_str(&line);
        if line == "\r\n" || line == "\n" || raw.len() > 65_536 {
            break;
        }
    }
    drop(reader);
    let mut lines = raw.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    shared.requests.lock().unwrap().push(Recorded {
        raw: raw.clone(),
        method,
        target,
        headers,
        peer,
    });
    let respond = |stream: &mut S, status: u16, extra: &[String], body: &[u8]| {
        let mut head = format!(
            "HTTP/1.1 {status} Stub\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for h in extra {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    match behaviour {
        Behaviour::Reply(status, body) => respond(stream, status, &[], body.as_bytes()),
        Behaviour::ReplyWithHeaders(status, extra, body) => {
            respond(stream, status, &extra, body.as_bytes())
        }
        Behaviour::Hang => std::thread::sleep(Duration::from_secs(30)),
        Behaviour::CloseAfterRequest | Behaviour::CloseAtOnce => {}
        Behaviour::BigBody(n) => respond(stream, 200, &[], &vec![b'x'; n]),
        Behaviour::Delay(d) => {
            std::thread::sleep(d);
            respond(stream, 200, &[], b"800 OK");
        }
        Behaviour::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
        }
        Behaviour::Trickle(every) => {
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n800 OK" {
                if stream
                    .write_all(&[*b])
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(every);
            }
        }
        Behaviour::HugeHeader(n) => {
            let mut head = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            head.extend(std::iter::repeat_n(b'a', n));
            head.extend_from_slice(b"\r\nContent-Length: 6\r\n\r\n800 OK");
            let _ = stream.write_all(&head);
            let _ = stream.flush();
        }
        Behaviour::ChunkedForever => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                if stream.write_all(b"400\r\n").is_err()
                    || stream.write_all(&[b'x'; 0x400]).is_err()
                    || stream
                        .write_all(b"\r\n")
                        .and_then(|_| stream.flush())
                        .is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Certificate quirks for TLS servers.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Names on the leaf certificate (default: localhost and 127.0.0.1).
    pub names: Option<Vec<String>>,
    /// Make the leaf certificate expired.
    pub expired: bool,
    /// Offer only this TLS version: 12 or 13 (default: both).
    pub only_version: Option<u8>,
    /// The key type of the CA and the server (default: ECDSA P-256).
    pub key: KeyKind,
    /// Offer only the ChaCha20-Poly1305 cipher suites.
    pub only_chacha: bool,
}

/// Key types for test certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 (rcgen's default).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA, 2048 bits (made with the openssl command).
    Rsa2048,
    /// Ed25519.
    Ed25519,
}

fn key_pair(kind: KeyKind) -> rcgen::KeyPair {
    match kind {
        KeyKind::EcdsaP256 => rcgen::KeyPair::generate().unwrap(),
        KeyKind::EcdsaP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        KeyKind::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        KeyKind::Rsa2048 => {
            // ring cannot make RSA keys; openssl can.
            let out = Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .output()
                .expect("the openssl command");
            assert!(out.status.success(), "openssl genpkey failed");
            let pem = String::from_utf8(out.stdout).unwrap();
            rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
        }
    }
}

fn tls_config(options: &TlsOptions) -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa};
    let ca_key = key_pair(options.key);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mtgsy-ddns test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let names = options
        .names
        .clone()
        .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into()]);
    let mut leaf_params = CertificateParams::new(names).unwrap();
    if options.expired {
        leaf_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let leaf_key = key_pair(options.key);
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let mut provider = rustls::crypto::ring::default_provider();
    if options.only_chacha {
        use rustls::crypto::ring::cipher_suite as cs;
        provider.cipher_suites = vec![
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ];
    }
    let provider = Arc::new(provider);
    let versions: &[&rustls::SupportedProtocolVersion] = match options.only_version {
        Some(12) => &[&rustls::version::TLS12],
        Some(13) => &[&rustls::version::TLS13],
        _ => rustls::DEFAULT_VERSIONS,
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(config), ca.pem())
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("mtgsy-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mtgsy-ddns")
}

/// A command for the binary with a clean environment (no proxies, no
/// inherited MTGSY_* variables).
pub fn cmd() -> Command {
    let mut c = Command::new(bin());
    c.env_clear();
    c.env("PATH", std::env::var("PATH").unwrap_or_default());
    c.stdin(Stdio::null());
    c
}

/// `mtgsy-ddns update` for `user@example.com` against `server_url`, with
/// its state file at `state` and the password `pw` in the environment;
/// callers add the rest (`--ip`, `--allow-http`, …). Later flags override.
pub fn update_cmd(server_url: &str, state: &Path) -> Command {
    let mut c = cmd();
    c.args([
        "update",
        "--username",
        "user@example.com",
        "--server",
        server_url,
    ])
    .arg("--state")
    .arg(state)
    .env("MTGSY_PASSWORD", "pw");
    c
}

/// Runs a command to completion with a 60 s limit.
pub fn run(mut c: Command) -> Output {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().expect("spawn the binary");
    let start = Instant::now();
    let out = child.wait_with_output().expect("wait for the binary");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the binary ran for over 60 s"
    );
    out
}

/// The exit code, stdout and stderr of a run, as text.
pub fn texts(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Says on the terminal, past the test harness's output capture, that
/// `test` did not run and why: a test that cannot run must not pass
/// unnoticed.
pub fn skipped(test: &str, reason: &str) {
    // One write, so that the line is not split by the harness's own output.
    let line = format!("skipped: {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// True when this process may make mount and network namespaces
/// (`unshare -m -n true` succeeds: root, or a container that allows it);
/// otherwise says `skipped: TEST: needs root ...` and returns false.
pub fn namespaces_or_skip(test: &str) -> bool {
    let ok = Command::new("unshare")
        .args(["-m", "-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skipped(
            test,
            "needs root (mount and network namespaces: `unshare -m -n` failed)",
        );
    }
    ok
}

/// True when the tests run as root; otherwise says
/// `skipped: TEST: needs root (WHY)` and returns false.
pub fn root_or_skip(test: &str, why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        skipped(test, &format!("needs root ({why})"));
    }
    root
}

/// Runs `ip ARGS` (iproute2), failing the test if it cannot run or fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2 is needed): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with `lo` up, deleted on drop (also when the test
/// fails). Needs root: check [`namespaces_or_skip`] first.
pub struct Netns {
    /// Its name under /var/run/netns.
    pub name: String,
}

impl Netns {
    /// A new namespace named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Netns {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "mtg{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// The namespace's file, for setns(2).
    pub fn file(&self) -> std::fs::File {
        std::fs::File::open(format!("/var/run/netns/{}", self.name)).expect("open the namespace")
    }

    /// `make()` run on a thread that has entered the namespace (a stand-in
    /// server started there listens inside it).
    pub fn inside<T: Send + 'static>(&self, make: impl FnOnce() -> T + Send + 'static) -> T {
        use std::os::fd::AsRawFd;
        let ns = self.file();
        std::thread::spawn(move || {
            // SAFETY: setns on this thread only, with a namespace fd.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            make()
        })
        .join()
        .expect("run inside the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The stand-in's address in [`TwoWans`], behind both WANs.
pub const TWO_WANS_SERVER_IP: &str = "192.0.2.80";

/// A router with two WANs and "the internet" behind them, as two network
/// namespaces: the router has `wana` (10.1.0.1) and `wanb` (10.2.0.1),
/// veth pairs whose other ends (`wanap` 10.1.0.2, `wanbp` 10.2.0.2) are in
/// the internet namespace, where a plain-HTTP stand-in listens on
/// [`TWO_WANS_SERVER_IP`]. The router reaches it through either WAN,
/// `wana` first (lower metric), so an unbound request comes from 10.1.0.1
/// and only one bound to `wanb` comes from 10.2.0.1. The router's
/// addresses are /32s with a route to the peer, so a WAN's address can be
/// changed (add the new one, then delete the old) without losing its
/// routes. Needs root: check [`namespaces_or_skip`] first.
pub struct TwoWans {
    /// The router's namespace.
    pub router: Netns,
    /// The internet's namespace.
    pub internet: Netns,
    /// The stand-in in the internet namespace.
    pub server: StubServer,
}

impl TwoWans {
    /// Makes both namespaces, the WANs and the stand-in.
    pub fn new() -> TwoWans {
        let router = Netns::new("br");
        let internet = Netns::new("bi");
        internet.ip(&[
            "addr",
            "add",
            &format!("{TWO_WANS_SERVER_IP}/32"),
            "dev",
            "lo",
        ]);
        for (dev, net, metric) in [("wana", "10.1.0", "10"), ("wanb", "10.2.0", "20")] {
            let peer = format!("{dev}p");
            let gateway = format!("{net}.2");
            router.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
            router.ip(&["link", "set", &peer, "netns", &internet.name]);
            router.ip(&["addr", "add", &format!("{net}.1/32"), "dev", dev]);
            internet.ip(&["addr", "add", &format!("{net}.2/24"), "dev", &peer]);
            router.ip(&["link", "set", dev, "up"]);
            internet.ip(&["link", "set", &peer, "up"]);
            router.ip(&["route", "add", &gateway, "dev", dev]);
            router.ip(&[
                "route",
                "add",
                TWO_WANS_SERVER_IP,
                "via",
                &gateway,
                "dev",
                dev,
                "metric",
                metric,
            ]);
        }
        let server = internet.inside(|| StubServer::plain_on("0.0.0.0"));
        TwoWans {
            router,
            internet,
            server,
        }
    }

    /// The update URL on the stand-in, as the router reaches it.
    pub fn url(&self) -> String {
        format!(
            "http://{TWO_WANS_SERVER_IP}:{}/dns/update.php",
            self.server.port()
        )
    }

    /// The source address of each request the stand-in got, in order.
    pub fn sources(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| r.peer.map(|p| p.ip().to_string()).unwrap_or_default())
            .collect()
    }
}
