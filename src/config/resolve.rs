//! From settings to one checked [`Config`]: [`Settings::resolve`] checks
//! how the settings fit together (a login, one address source, a CA file
//! only with HTTPS) and fills in the defaults.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Settings, DEFAULT_CHECK_INTERVAL_S, DEFAULT_TIMEOUT_S};
use crate::detect::AddressSource;
use crate::error::InputError;
use crate::guard::DEFAULT_FORCE_INTERVAL_S;
use crate::request::{self, Secret, Server};
use crate::transport::{TransportConfig, Trust};

impl Settings {
    /// Checks the settings together and builds the [`Config`].
    pub fn resolve(&self) -> Result<Config, InputError> {
        let username =
            (self.username.clone()).ok_or_else(|| InputError::new("username", "is missing"))?;
        let password = match &self.password {
            Some(password) => password.clone(),
            None if self.without_password => Secret::new(""),
            None => return Err(InputError::new("password", "is missing")),
        };
        let server = Server::parse(
            self.server.as_deref().unwrap_or(request::DEFAULT_SERVER),
            self.allow_http,
        )?;
        let address = self.address_source()?;
        // The roots to trust: the user's file (read now, as every input
        // file is), else the system's bundle, found now so that a router
        // without one hears it before anything is sent (exit 2), and read
        // only when a request goes out.
        let trust = match &self.ca_file {
            Some(_) if !server.is_tls() => {
                return Err(InputError::new(
                    "ca_file",
                    "is set but the server is plain HTTP",
                ))
            }
            Some(path) => Trust::CaFile(
                crate::fsio::read_file_capped(path, crate::fsio::MAX_FILE_BYTES).map_err(|e| {
                    InputError::new("ca_file", format!("cannot read {}: {e}", path.display()))
                })?,
            ),
            None if server.is_tls() => Trust::System(
                crate::transport::roots::system_bundle()
                    .map_err(|why| InputError::new("ca_file", format!("is not set, and {why}")))?,
            ),
            None => Trust::Nothing,
        };
        Ok(Config {
            server,
            username,
            password,
            hb: self.hb.unwrap_or(false),
            stealth: self.stealth,
            port: self.port,
            offline_url: self.offline_url.clone(),
            offline_text: self.offline_text.clone(),
            mx: self.mx.clone(),
            address,
            allow_private: self.allow_private,
            transport: TransportConfig {
                timeout: Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT_S)),
                trust,
                bind_interface: self.bind_interface.clone(),
            },
            state_path: self
                .state
                .clone()
                .unwrap_or_else(crate::state::default_path),
            lookup_host: self.lookup_host.clone(),
            force_interval: self.force_interval.map_or(DEFAULT_FORCE_INTERVAL_S, |s| {
                i64::try_from(s).unwrap_or(i64::MAX)
            }),
            check_interval: Duration::from_secs(
                self.check_interval.unwrap_or(DEFAULT_CHECK_INTERVAL_S),
            ),
            jitter: self.jitter,
            on_update: self.on_update.clone(),
            on_change: self.on_change.clone(),
            check_url: self.check_url.clone(),
        })
    }

    /// The address source: the one of `ip`, `interface`, `ip_url` and
    /// `ip_command` that is set, which `ip_source` may name too.
    fn address_source(&self) -> Result<AddressSource, InputError> {
        // Each setting that names a source: (key, the ip_source naming it,
        // the source it gives when set).
        let given = [
            ("ip", "", self.ip.map(AddressSource::Fixed)),
            (
                "interface",
                "interface",
                self.interface.clone().map(AddressSource::Interface),
            ),
            ("ip_url", "web", self.ip_url.clone().map(AddressSource::Web)),
            (
                "ip_command",
                "command",
                self.ip_command.clone().map(AddressSource::Command),
            ),
        ];
        let wanted = self.ip_source.as_deref();
        let mut set = given
            .iter()
            .filter_map(|(key, name, source)| Some((*key, *name, source.as_ref()?)));
        let Some((key, name, source)) = set.next() else {
            return Err(match wanted {
                Some(w) => InputError::new(
                    given.iter().find(|g| g.1 == w).map_or("ip", |g| g.0),
                    format!("is needed with ip_source {w}"),
                ),
                None => InputError::new(
                    "ip",
                    "is missing: the client must know the address to check whether an update is needed; set ip, interface, ip_url or ip_command",
                ),
            });
        };
        if let Some(other) = set.next() {
            return Err(InputError::new(
                key,
                format!("and {} are both set; give one address source", other.0),
            ));
        }
        if let Some(w) = wanted.filter(|w| *w != name) {
            return Err(InputError::new(
                "ip_source",
                format!("is {w:?} but {key} is set; give one address source"),
            ));
        }
        Ok(source.clone())
    }
}

/// A complete, checked configuration for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The update endpoint.
    pub server: Server,
    /// Account e-mail or dynamic domain.
    pub username: String,
    /// Account password.
    pub password: Secret,
    /// Heartbeats.
    pub hb: bool,
    /// Stealth offline redirect.
    pub stealth: Option<bool>,
    /// Web-site port.
    pub port: Option<u16>,
    /// Offline redirect URL.
    pub offline_url: Option<String>,
    /// Offline text.
    pub offline_text: Option<String>,
    /// MX host.
    pub mx: Option<String>,
    /// Where the address comes from.
    pub address: AddressSource,
    /// Permit non-public addresses.
    pub allow_private: bool,
    /// Timeout and trusted roots.
    pub transport: TransportConfig,
    /// The state file.
    pub state_path: PathBuf,
    /// Host name to resolve when there is no state yet.
    pub lookup_host: Option<String>,
    /// Seconds after which an unchanged address is sent anyway.
    pub force_interval: i64,
    /// Watch mode's safety-net interval.
    pub check_interval: Duration,
    /// Longest random delay, in seconds, before an update an interface
    /// event triggered; `None`: the mode's default (`update` 0, watch
    /// [`DEFAULT_EVENT_JITTER_S`](super::DEFAULT_EVENT_JITTER_S)).
    pub jitter: Option<u64>,
    /// `sh -c` command run after every attempt ([`crate::hook`]).
    pub on_update: Option<String>,
    /// `sh -c` command run after an attempt that changed the registered
    /// address ([`crate::hook`]).
    pub on_change: Option<String>,
    /// `doctor`: a page showing the address the outside sees.
    pub check_url: Option<String>,
}

impl Config {
    /// The request fields for address `ip`.
    pub fn fields(&self, ip: Ipv4Addr) -> request::UpdateFields {
        request::UpdateFields {
            username: self.username.clone(),
            password: self.password.clone(),
            hb: self.hb,
            ip,
            stealth: self.stealth,
            port: self.port,
            offline_url: self.offline_url.clone(),
            offline_text: self.offline_text.clone(),
            mx: self.mx.clone(),
        }
    }
}
