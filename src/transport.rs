//! Sending the request: the only module with sockets and TLS.
//!
//! [`Transport`] is a trait so the update flow can be tested with a fake;
//! [`HttpTransport`] is the real one (ureq 3, rustls on ring). It never
//! retries, never follows redirects, reads at most [`MAX_BODY`] bytes of the
//! reply, sets `TCP_NODELAY`, and reports whether a failed request may have
//! reached the server, which the rate guard must count. With
//! `bind_interface` set, every connection leaves through that device
//! (`transport/bind.rs`); a connection that cannot be bound fails before
//! sending.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::InputError;
use crate::request::Request;

mod bind;
pub mod roots;

/// Most bytes of a reply body read; the rest is never read.
pub const MAX_BODY: usize = 64 * 1024;

/// A reply: status and body (at most [`MAX_BODY`] bytes, and one more to
/// tell that there was more).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status code.
    pub status: u16,
    /// The first bytes of the body.
    pub body: Vec<u8>,
}

/// A request that got no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// `false` only when the request certainly never reached the server
    /// (refused, no route, name not found, TLS handshake failed).
    pub may_have_reached_server: bool,
    /// What happened, for the user. Never holds the URL.
    pub message: String,
}

/// Something that sends one GET and returns the reply.
pub trait Transport {
    /// Sends `request` once.
    fn send(&self, request: &Request) -> Result<HttpReply, SendError>;
}

/// Transport settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// Connect plus whole-request timeout.
    pub timeout: Duration,
    /// Which certificate authorities the update server's certificate may
    /// come from.
    pub trust: Trust,
    /// The network device every connection leaves through
    /// (`bind_interface`); `None`: wherever the routing table says.
    pub bind_interface: Option<String>,
}

/// Which roots HTTPS connections to the update server trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The user's `ca_file`: its PEM text, read when the settings were
    /// resolved.
    CaFile(Vec<u8>),
    /// The system's CA bundle at this path ([`roots::system_bundle`]),
    /// read when the first request is sent, so that a run that sends
    /// nothing never parses it.
    System(PathBuf),
    /// None: a plain-HTTP server (an HTTPS connection would fail).
    Nothing,
}

/// TLS settings for every HTTPS connection the client makes: rustls with
/// the provider of [`crate::crypto`], trusting `roots`.
pub(crate) fn tls_config(roots: ureq::tls::RootCerts) -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(crate::crypto::provider())
        .root_certs(roots)
        .build()
}

/// An agent whose connections are TCP (bound to device `bind` when given,
/// see [`bind`]), then rustls for `https`, and nothing else. ureq's default
/// chain also links SOCKS and HTTP CONNECT proxy code that `proxy(None)`
/// never runs. (This uses ureq's `unversioned` API, which may change in a
/// minor release: Cargo.lock pins the version.)
pub(crate) fn agent(config: ureq::config::Config, bind: Option<&str>) -> ureq::Agent {
    use ureq::unversioned::transport::{Connector, RustlsConnector};
    let connector =
        ().chain(bind::BoundConnector(bind.map(str::to_string)))
            .chain(RustlsConnector::default());
    ureq::Agent::with_parts(config, connector, Resolver)
}

/// Name lookups on a [`crate::worker`] thread, given up at ureq's deadline,
/// as ureq's own resolver does with `std::thread` (which this binary does
/// not link). A failed lookup is "host not found": nothing was sent.
#[derive(Debug)]
struct Resolver;

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        use std::net::ToSocketAddrs;
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        // An IPv6 literal comes in brackets.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let lookup = move || {
            (host.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.collect::<Vec<_>>())
        };
        let found = if timeout.after.is_not_happening() {
            lookup()
        } else {
            let worker = crate::worker::spawn(lookup).map_err(ureq::Error::Io)?;
            if !worker.wait_timeout(*timeout.after) {
                // Dropping the worker detaches it; the lookup ends on its own.
                return Err(ureq::Error::Timeout(timeout.reason));
            }
            worker
                .join()
                .ok_or_else(|| io::Error::other("the name lookup failed"))
                .and_then(|r| r)
        };
        let found = found.map_err(|_| ureq::Error::HostNotFound)?;
        let mut out = self.empty();
        for addr in config.ip_family().keep_wanted(found.into_iter()).take(16) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// The real transport. Its agent is made at the first request, when the
/// system's CA bundle is read (never, for a run that sends nothing).
pub struct HttpTransport {
    config: TransportConfig,
    /// The user's `ca_file`, checked when the transport was made.
    ca_file: Option<ureq::tls::RootCerts>,
    agent: OnceLock<Result<ureq::Agent, String>>,
}

impl HttpTransport {
    /// Makes the transport; checks a `ca_file` now. Fails when it is not
    /// PEM or holds no certificate.
    pub fn new(config: &TransportConfig) -> Result<HttpTransport, InputError> {
        let ca_file = match &config.trust {
            Trust::CaFile(pem) => {
                Some(roots::from_pem(pem).map_err(|why| InputError::new("ca_file", why))?)
            }
            _ => None,
        };
        Ok(HttpTransport {
            config: config.clone(),
            ca_file,
            agent: OnceLock::new(),
        })
    }

    /// The agent, made on first use; an error says why the roots could not
    /// be loaded.
    fn agent(&self) -> Result<&ureq::Agent, SendError> {
        self.agent
            .get_or_init(|| {
                let trusted = match &self.ca_file {
                    Some(roots) => roots.clone(),
                    None => trusted_roots(&self.config.trust)?,
                };
                Ok(make_agent(&self.config, trusted))
            })
            .as_ref()
            .map_err(|why| SendError {
                may_have_reached_server: false,
                message: format!("cannot load the trusted certificates: {why}"),
            })
    }
}

/// The roots `trust` names: a `ca_file`'s certificates, the system's
/// bundle (read now), or none.
fn trusted_roots(trust: &Trust) -> Result<ureq::tls::RootCerts, String> {
    match trust {
        Trust::CaFile(pem) => roots::from_pem(pem),
        Trust::System(path) => roots::load(path),
        Trust::Nothing => Ok(roots::none()),
    }
}

/// The agent for the update server, trusting `roots`.
fn make_agent(config: &TransportConfig, roots: ureq::tls::RootCerts) -> ureq::Agent {
    agent(
        agent_config(config, roots),
        config.bind_interface.as_deref(),
    )
}

/// The agent settings of every connection to the update server: `roots`
/// trusted, the timeouts, no proxy, no redirect, small buffers.
fn agent_config(config: &TransportConfig, roots: ureq::tls::RootCerts) -> ureq::config::Config {
    let tls = tls_config(roots);
    // Connection setup (DNS, TCP, TLS) gets two thirds of the budget, so
    // that a hang there is reported as "never reached the server".
    let setup = config.timeout.mul_f64(2.0 / 3.0);
    ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(None)
        .no_delay(true)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout))
        .timeout_resolve(Some(setup))
        .timeout_connect(Some(setup))
        .max_response_header_size(16 * 1024)
        // ureq's 128 KiB default buffers are zero-filled on every
        // connection: half of an update's instructions and 0.5 MiB of
        // RSS. The longest valid request (every field at its bound,
        // every byte encoded) is under 12 KiB; a reply head, 16 KiB.
        .input_buffer_size(20 * 1024)
        .output_buffer_size(16 * 1024)
        .max_idle_connections(0)
        .build()
}

/// What a connection to the update server without a request showed
/// ([`probe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The TLS handshake completed with a verified certificate.
    Trusted,
    /// A plain-HTTP server: the connection opened; nothing is encrypted.
    Plain,
    /// No connection: refused, no route, timed out, name not found, or
    /// `bind_interface` refused.
    Unreachable(String),
    /// The server's certificate was refused (rustls's reason).
    Certificate(String),
    /// The handshake failed otherwise (rustls's reason).
    Handshake(String),
}

/// Connects to the server of `url` as an update does (the same roots,
/// algorithms, timeouts and `bind_interface`), completes the TLS
/// handshake and closes: no HTTP request is written, so nothing of an
/// update (nor the password) reaches the server.
pub fn probe(url: &str, config: &TransportConfig) -> Result<Probe, InputError> {
    use ureq::unversioned::transport::{Connector, RustlsConnector};
    let connector =
        ().chain(bind::BoundConnector(config.bind_interface.clone()))
            .chain(RustlsConnector::default())
            .chain(StopBeforeRequest);
    let trusted = trusted_roots(&config.trust).map_err(|why| InputError::new("ca_file", why))?;
    let agent = ureq::Agent::with_parts(agent_config(config, trusted), connector, Resolver);
    let Err(e) = agent.get(url).call() else {
        // The connector never yields a connection.
        return Ok(Probe::Unreachable("no connection".into()));
    };
    let io = match &e {
        ureq::Error::Io(io) => Some(io),
        _ => None,
    };
    if let Some(Stopped(tls)) = io.and_then(|io| io.get_ref()?.downcast_ref::<Stopped>()) {
        return Ok(if *tls { Probe::Trusted } else { Probe::Plain });
    }
    let tls_error = io.and_then(|io| io.get_ref()?.downcast_ref::<rustls::Error>());
    Ok(match tls_error {
        Some(
            r @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) => Probe::Certificate(r.to_string()),
        Some(r) => Probe::Handshake(io.and_then(handshake_failure).unwrap_or(r.to_string())),
        None => Probe::Unreachable(describe(e).message),
    })
}

/// The last connector of [`probe`]'s chain: takes the connection the TCP
/// and TLS connectors made and ends the call before ureq writes a request.
#[derive(Debug)]
struct StopBeforeRequest;

/// The error [`StopBeforeRequest`] ends the call with: whether the
/// connection was TLS.
#[derive(Debug)]
struct Stopped(bool);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connected; no request sent")
    }
}

impl std::error::Error for Stopped {}

impl<In: ureq::unversioned::transport::Transport> ureq::unversioned::transport::Connector<In>
    for StopBeforeRequest
{
    type Out = In;

    fn connect(
        &self,
        _details: &ureq::unversioned::transport::ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        let tls = chained.is_some_and(|c| c.is_tls());
        Err(io::Error::other(Stopped(tls)).into())
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: &Request) -> Result<HttpReply, SendError> {
        let mut response = self
            .agent()?
            .get(request.url())
            .header("User-Agent", request.user_agent())
            .header("Accept", "*/*")
            .call()
            .map_err(describe)?;
        let status = response.status().as_u16();
        let mut body = Vec::with_capacity(1024);
        let reader = response.body_mut().with_config().limit(u64::MAX).reader();
        // A body cut short (timeout, reset) is no answer: the outcome is
        // unknown. One byte over the cap tells the classifier it is too long.
        if let Err(e) = reader.take(MAX_BODY as u64 + 1).read_to_end(&mut body) {
            return Err(SendError {
                may_have_reached_server: true,
                message: format!("the reply (HTTP {status}) was cut short: {e}"),
            });
        }
        Ok(HttpReply { status, body })
    }
}

/// Maps a ureq error to a message and whether the request may have gone out.
fn describe(e: ureq::Error) -> SendError {
    use std::io::ErrorKind;
    use ureq::Error as E;
    use ureq::Timeout as T;
    let unsent = |message: String| SendError {
        may_have_reached_server: false,
        message,
    };
    let maybe = |message: String| SendError {
        may_have_reached_server: true,
        message,
    };
    if let Some(refusal) = bind_refusal(&e) {
        return unsent(refusal);
    }
    match e {
        E::HostNotFound => unsent("server host name not found (DNS)".into()),
        E::ConnectionFailed => unsent("could not connect to the server".into()),
        E::Timeout(t @ (T::Resolve | T::Connect)) => {
            unsent(format!("timed out before the request was sent ({t})"))
        }
        E::Timeout(t) => maybe(format!("timed out waiting for the server ({t})")),
        E::Rustls(e) => unsent(format!("TLS handshake failed: {e}")),
        E::Tls(e) => unsent(format!("TLS failed: {e}")),
        E::Pem(e) => unsent(format!("bad certificate data: {e}")),
        E::Io(io) => match (handshake_failure(&io), io.kind()) {
            (Some(tls), _) => unsent(format!("TLS handshake failed: {tls}")),
            (None, ErrorKind::ConnectionRefused) => unsent("connection refused".into()),
            (
                None,
                ErrorKind::NotFound
                | ErrorKind::AddrNotAvailable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkDown,
            ) => unsent(format!("cannot reach the server: {io}")),
            (None, _) => maybe(format!("connection failed: {io}")),
        },
        E::BadUri(_) | E::Http(_) => unsent("the request could not be formed".into()),
        other => maybe(format!("{other}")),
    }
}

/// The message when the connection could not be bound to `bind_interface`
/// (nothing was sent).
fn bind_refusal(e: &ureq::Error) -> Option<String> {
    match e {
        ureq::Error::Io(io) => bind::bind_refusal(io),
        _ => None,
    }
}

/// A rustls error inside `io` that can only happen during the handshake,
/// i.e. before the request was written.
fn handshake_failure(io: &std::io::Error) -> Option<String> {
    use rustls::{AlertDescription as A, Error as R};
    let inner = io.get_ref()?.downcast_ref::<R>()?;
    let handshake_only = match inner {
        R::InvalidCertificate(_)
        | R::NoCertificatesPresented
        | R::PeerIncompatible(_)
        | R::UnsupportedNameType
        | R::InappropriateHandshakeMessage { .. }
        | R::InvalidCertRevocationList(_) => true,
        R::AlertReceived(alert) => matches!(
            alert,
            A::HandshakeFailure
                | A::ProtocolVersion
                | A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::InsufficientSecurity
                | A::UnrecognisedName
                | A::NoApplicationProtocol
        ),
        _ => false,
    };
    let no_common_algorithm = matches!(
        inner,
        R::PeerIncompatible(_) | R::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity)
    );
    handshake_only.then(|| {
        if no_common_algorithm {
            format!("{inner}; {NO_COMMON_ALGORITHM_HINT}")
        } else {
            inner.to_string()
        }
    })
}

/// Added to handshake failures that mean "no algorithm in common".
const NO_COMMON_ALGORITHM_HINT: &str = "the server and this client may share no \
TLS algorithm: the client offers AES-GCM with P-256/P-384 key exchange and accepts \
RSA and ECDSA certificates, not ChaCha20-only servers or Ed25519 certificates \
(README, \"TLS\")";
