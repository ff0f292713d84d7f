//! Configuration: raw settings by name, then one validated [`Config`].
//!
//! Two steps, as ripgrep does it. [`Settings::set`] takes one key and a
//! string value, the same way from a JSON config file, a command-line flag
//! (`--offline-url` is the key `offline_url`) and the C ABI's `mtgsy_set`;
//! a bad value is refused at once, naming the key. [`Settings::resolve`]
//! then checks how the settings fit together and yields a [`Config`].

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config_file::{FileObject, FileValue};
use crate::detect::AddressSource;
use crate::error::InputError;
use crate::guard::{DEFAULT_FORCE_INTERVAL_S, MIN_FORCE_INTERVAL_S};
use crate::request::{self, Secret, Server};
use crate::transport::TransportConfig;

/// Every key [`Settings::set`] knows, in the order `--help` lists them.
pub const KEYS: &[&str] = &[
    "username",
    "password",
    "password_file",
    "server",
    "ca_file",
    "allow_http",
    "timeout",
    "bind_interface",
    "ip",
    "ip_source",
    "interface",
    "ip_url",
    "ip_command",
    "allow_private",
    "hb",
    "stealth",
    "port",
    "offline_url",
    "offline_text",
    "mx",
    "state",
    "lookup_host",
    "force_interval",
    "check_interval",
];

/// The settings that say where the address comes from. At most one of
/// `ip`, `interface`, `ip_url` and `ip_command` may be set; that one
/// selects the source, and `ip_source`, if given, must name the same one.
/// A later layer of settings (the flags over a config file, a watch host
/// over the top level) that names any of them replaces them all.
pub const ADDRESS_KEYS: &[&str] = &["ip", "ip_source", "interface", "ip_url", "ip_command"];

/// Default for `timeout`, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 30;
/// Default for `check_interval` (watch mode), in seconds.
pub const DEFAULT_CHECK_INTERVAL_S: u64 = 600;

/// Settings as given, each checked on its own. `Debug` masks the password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Account e-mail or dynamic domain.
    pub username: Option<String>,
    /// Account password.
    pub password: Option<Secret>,
    /// Update endpoint URL.
    pub server: Option<String>,
    /// PEM bundle of trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Permit a plain-HTTP server.
    pub allow_http: bool,
    /// Request timeout in seconds.
    pub timeout: Option<u64>,
    /// The network device requests leave through (several WANs).
    pub bind_interface: Option<String>,
    /// A fixed address.
    pub ip: Option<Ipv4Addr>,
    /// `interface`, `web` or `command`.
    pub ip_source: Option<String>,
    /// Interface for `ip_source = interface`.
    pub interface: Option<String>,
    /// URL for `ip_source = web`.
    pub ip_url: Option<String>,
    /// Shell command for `ip_source = command`.
    pub ip_command: Option<String>,
    /// Permit private and other non-public addresses.
    pub allow_private: bool,
    /// Heartbeats.
    pub hb: Option<bool>,
    /// Stealth offline redirect.
    pub stealth: Option<bool>,
    /// Web-site port.
    pub port: Option<u16>,
    /// Offline redirect URL.
    pub offline_url: Option<String>,
    /// Offline text.
    pub offline_text: Option<String>,
    /// MX host ending in a period.
    pub mx: Option<String>,
    /// State file.
    pub state: Option<PathBuf>,
    /// Host name to resolve when there is no state yet.
    pub lookup_host: Option<String>,
    /// Seconds after which an unchanged address is sent anyway.
    pub force_interval: Option<i64>,
    /// Watch mode's safety-net re-check interval, in seconds.
    pub check_interval: Option<u64>,
}

/// Parses a boolean: 1/0, true/false, yes/no, on/off.
pub fn parse_bool(key: &str, value: &str) -> Result<bool, InputError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(InputError::new(key, format!("{value:?} is not 0 or 1"))),
    }
}

fn parse_flag01(key: &str, value: &str) -> Result<bool, InputError> {
    match value.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(InputError::new(key, format!("{value:?} must be 0 or 1"))),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str, what: &str) -> Result<T, InputError> {
    value
        .trim()
        .parse()
        .map_err(|_| InputError::new(key, format!("{value:?} is not {what}")))
}

/// The error for a key that names no setting (an empty one included).
fn unknown_key(key: &str) -> InputError {
    if key.is_empty() {
        InputError::new("key", "is empty: every setting needs a name")
    } else {
        InputError::new(key, "is not a known setting")
    }
}

fn non_empty(key: &str, value: &str) -> Result<String, InputError> {
    if value.is_empty() {
        Err(InputError::new(key, "is empty"))
    } else if value.contains('\0') {
        Err(InputError::new(key, "contains a NUL byte"))
    } else {
        Ok(value.to_string())
    }
}

/// A network device name: at most 15 bytes, no `/` or space.
fn interface_name(key: &str, value: &str) -> Result<String, InputError> {
    let name = non_empty(key, value)?;
    if name.len() > 15 || name.contains(['/', ' ']) {
        return Err(InputError::new(
            key,
            format!("{name:?} is not an interface name"),
        ));
    }
    Ok(name)
}

impl Settings {
    /// Sets `key` from a string value. Unknown keys and bad values are
    /// refused with the key named; the value is never echoed for secrets.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), InputError> {
        match key {
            "username" => {
                // A domain may be written fully qualified, with a final
                // dot; the service knows it without.
                let value = match value.strip_suffix('.') {
                    Some(domain) if !value.contains('@') => domain,
                    _ => value,
                };
                request::check_username(value)?;
                self.username = Some(value.to_string());
            }
            "password" => {
                request::check_password(value)?;
                self.password = Some(Secret::new(value));
            }
            "password_file" => {
                let path = non_empty(key, value)?;
                let secret = read_password_file(&path)?;
                self.password = Some(secret);
            }
            "server" => {
                self.server = Some(non_empty(key, value)?);
            }
            "ca_file" => self.ca_file = Some(PathBuf::from(non_empty(key, value)?)),
            "allow_http" => self.allow_http = parse_bool(key, value)?,
            "timeout" => {
                let t: u64 = parse_number(key, value, "a number of seconds")?;
                if !(1..=300).contains(&t) {
                    return Err(InputError::new(key, "must be from 1 to 300 seconds"));
                }
                self.timeout = Some(t);
            }
            "ip" => {
                let ip = value.trim().parse().map_err(|_| {
                    InputError::new(key, format!("{value:?} is not an IPv4 address (a.b.c.d)"))
                })?;
                self.ip = Some(ip);
            }
            "ip_source" => match value {
                "interface" | "web" | "command" => self.ip_source = Some(value.to_string()),
                _ => {
                    return Err(InputError::new(
                        key,
                        format!("{value:?} is not one of interface, web, command"),
                    ))
                }
            },
            "interface" => self.interface = Some(interface_name(key, value)?),
            "bind_interface" => self.bind_interface = Some(interface_name(key, value)?),
            "ip_url" => {
                let url = non_empty(key, value)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(InputError::new(key, "must start with http:// or https://"));
                }
                self.ip_url = Some(url);
            }
            "ip_command" => self.ip_command = Some(non_empty(key, value)?),
            "allow_private" => self.allow_private = parse_bool(key, value)?,
            "hb" => self.hb = Some(parse_flag01(key, value)?),
            "stealth" => self.stealth = Some(parse_flag01(key, value)?),
            "port" => {
                let port: u16 = parse_number(key, value, "a port number from 1 to 65535")?;
                request::check_port(port)?;
                self.port = Some(port);
            }
            "offline_url" => {
                request::check_offline_url(value)?;
                self.offline_url = Some(value.to_string());
            }
            "offline_text" => {
                request::check_offline_text(value)?;
                self.offline_text = Some(value.to_string());
            }
            "mx" => {
                request::check_mx(value)?;
                self.mx = Some(value.to_string());
            }
            "state" => self.state = Some(PathBuf::from(non_empty(key, value)?)),
            "lookup_host" => {
                if !request::is_host_name(value, 1) {
                    return Err(InputError::new(
                        key,
                        format!("{value:?} is not a host name"),
                    ));
                }
                self.lookup_host = Some(value.to_string());
            }
            "force_interval" => {
                let s: i64 = parse_number(key, value, "a number of seconds")?;
                if s < MIN_FORCE_INTERVAL_S {
                    return Err(InputError::new(
                        key,
                        format!(
                            "must be at least {MIN_FORCE_INTERVAL_S} seconds (24 h): updates that change nothing count as abuse"
                        ),
                    ));
                }
                self.force_interval = Some(s);
            }
            "check_interval" => {
                let s: u64 = parse_number(key, value, "a number of seconds")?;
                if s < 60 {
                    return Err(InputError::new(key, "must be at least 60 seconds"));
                }
                self.check_interval = Some(s);
            }
            _ => return Err(unknown_key(key)),
        }
        Ok(())
    }

    /// Sets every key of a config file's object (see [`crate::config_file`]);
    /// `hosts` is skipped (watch mode reads it) and `null` leaves a key unset.
    pub fn merge_file(&mut self, object: &FileObject) -> Result<(), InputError> {
        for (key, value) in object {
            match value {
                _ if key == "hosts" => {}
                FileValue::Null => {}
                FileValue::Text(text) => self.set(key, text)?,
                FileValue::Unusable if !KEYS.contains(&key.as_str()) => {
                    return Err(unknown_key(key))
                }
                FileValue::Unusable => {
                    return Err(InputError::new(
                        key.as_str(),
                        "must be a string, a whole number or true/false",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Forgets every address setting ([`ADDRESS_KEYS`]), for a layer of
    /// settings that gives its own address source.
    pub fn clear_address(&mut self) {
        self.ip = None;
        self.ip_source = None;
        self.interface = None;
        self.ip_url = None;
        self.ip_command = None;
    }

    /// Checks the settings together and builds the [`Config`].
    pub fn resolve(&self) -> Result<Config, InputError> {
        let username =
            (self.username.clone()).ok_or_else(|| InputError::new("username", "is missing"))?;
        let password =
            (self.password.clone()).ok_or_else(|| InputError::new("password", "is missing"))?;
        let server = Server::parse(
            self.server.as_deref().unwrap_or(request::DEFAULT_SERVER),
            self.allow_http,
        )?;
        let address = self.address_source()?;
        let ca_pem = match &self.ca_file {
            None => None,
            Some(path) => Some(
                crate::fsio::read_file_capped(path, crate::fsio::MAX_FILE_BYTES).map_err(|e| {
                    InputError::new("ca_file", format!("cannot read {}: {e}", path.display()))
                })?,
            ),
        };
        if ca_pem.is_some() && !server.is_tls() {
            return Err(InputError::new(
                "ca_file",
                "is set but the server is plain HTTP",
            ));
        }
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
                ca_pem,
                bind_interface: self.bind_interface.clone(),
            },
            state_path: self
                .state
                .clone()
                .unwrap_or_else(crate::state::default_path),
            lookup_host: self.lookup_host.clone(),
            force_interval: self.force_interval.unwrap_or(DEFAULT_FORCE_INTERVAL_S),
            check_interval: Duration::from_secs(
                self.check_interval.unwrap_or(DEFAULT_CHECK_INTERVAL_S),
            ),
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

/// Reads a password file (`-` is standard input); one trailing newline
/// (`\n` or `\r\n`) is stripped.
pub fn read_password_file(path: &str) -> Result<Secret, InputError> {
    use crate::fsio::{read_file_capped, read_stdin_capped, MAX_PASSWORD_FILE_BYTES};
    let key = "password_file";
    let result = if path == "-" {
        read_stdin_capped(MAX_PASSWORD_FILE_BYTES)
    } else {
        read_file_capped(std::path::Path::new(path), MAX_PASSWORD_FILE_BYTES)
    };
    let bytes = result.map_err(|e| InputError::new(key, format!("cannot read {path}: {e}")))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| InputError::new(key, format!("{path} is not UTF-8 text")))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    request::check_password(&text)
        .map_err(|e| InputError::new(key, format!("{path}: the password {}", e.reason())))?;
    Ok(Secret::new(text))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        let mut s = Settings::default();
        s.set("username", "u@example.com").unwrap();
        s.set("password", "pw").unwrap();
        s.set("ip", "1.2.3.4").unwrap();
        s
    }

    #[test]
    fn resolves_defaults() {
        let c = base().resolve().unwrap();
        assert_eq!(c.server.url(), request::DEFAULT_SERVER);
        assert_eq!(c.transport.timeout, Duration::from_secs(30));
        assert_eq!(c.force_interval, DEFAULT_FORCE_INTERVAL_S);
        assert_eq!(c.state_path, crate::state::default_path());
        assert!(!c.hb);
        assert!(!format!("{c:?}").contains("pw\""));
    }

    #[test]
    fn every_key_is_known() {
        for key in KEYS {
            let err = Settings::default().set(key, "\u{1}bad\u{1}");
            if let Err(e) = err {
                assert_ne!(e.reason(), "is not a known setting", "{key}");
                assert_eq!(e.field(), *key);
            }
        }
        let e = Settings::default().set("colour", "x").unwrap_err();
        assert_eq!(e.field(), "colour");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("hb", "2"),
            ("stealth", "yes"),
            ("port", "80"),
            ("port", "65536"),
            ("timeout", "0"),
            ("timeout", "abc"),
            ("ip", "1.2.3"),
            ("ip_source", "dns"),
            ("force_interval", "599"),
            ("force_interval", "86399"),
            ("force_interval", "-1"),
            ("check_interval", "5"),
            ("mx", "mail.example.com"),
            ("offline_url", "example.com"),
            ("username", "a b"),
            ("password", "x\ny"),
            ("lookup_host", "not a host"),
            ("allow_http", "maybe"),
            ("interface", "much-too-long-interface-name"),
            ("ip_url", "ftp://x"),
        ];
        for (key, value) in cases {
            let e = Settings::default().set(key, value).expect_err(key);
            assert_eq!(e.field(), key, "{e}");
        }
    }

    #[test]
    fn force_interval_below_a_day_says_why() {
        let e = Settings::default()
            .set("force_interval", "3600")
            .unwrap_err();
        assert_eq!(e.field(), "force_interval");
        assert!(e.reason().contains("86400"), "{e}");
        assert!(e.reason().contains("abuse"), "{e}");
        let mut s = Settings::default();
        s.set("force_interval", "86400").unwrap();
        assert_eq!(s.force_interval, Some(86_400));
    }

    #[test]
    fn a_domain_user_name_may_end_in_a_dot() {
        let mut s = Settings::default();
        s.set("username", "Home.Example.COM.").unwrap();
        assert_eq!(s.username.as_deref(), Some("Home.Example.COM"));
        assert!(s.set("username", "a@example.com.").is_err());
        assert!(s.set("username", "example.com..").is_err());
    }

    #[test]
    fn address_source_rules() {
        let mut s = base();
        s.set("ip_source", "interface").unwrap();
        let e = s.resolve().unwrap_err();
        assert_eq!(
            e.to_string(),
            "ip_source: is \"interface\" but ip is set; give one address source"
        );
        s.ip = None;
        assert_eq!(s.resolve().unwrap_err().field(), "interface");
        s.set("interface", "eth0").unwrap();
        assert_eq!(
            s.resolve().unwrap().address,
            AddressSource::Interface("eth0".into())
        );
        let mut s = base();
        s.ip = None;
        assert_eq!(s.resolve().unwrap_err().field(), "ip");
    }

    #[test]
    fn one_address_setting_selects_its_source() {
        let cases = [
            ("interface", "wan0", AddressSource::Interface("wan0".into())),
            (
                "ip_url",
                "https://x.example/",
                AddressSource::Web("https://x.example/".into()),
            ),
            (
                "ip_command",
                "echo 1.2.3.4",
                AddressSource::Command("echo 1.2.3.4".into()),
            ),
        ];
        for (key, value, source) in cases {
            let mut s = base();
            s.ip = None;
            s.set(key, value).unwrap();
            assert_eq!(s.resolve().unwrap().address, source, "{key}");
            // Naming the same source is fine; naming another is a conflict.
            for name in ["interface", "web", "command"] {
                s.set("ip_source", name).unwrap();
                match s.resolve() {
                    Ok(c) => assert_eq!(c.address, source, "{key} {name}"),
                    Err(e) => {
                        assert_eq!(e.field(), "ip_source", "{key} {name}");
                        assert!(e.reason().contains(key), "{e}");
                    }
                }
            }
            s.clear_address();
            assert_eq!(s.resolve().unwrap_err().field(), "ip");
        }
    }

    #[test]
    fn two_address_sources_are_refused_naming_both() {
        let keys = [
            ("ip", "1.2.3.4"),
            ("interface", "wan0"),
            ("ip_url", "https://x.example/"),
            ("ip_command", "echo 1.2.3.4"),
        ];
        for (i, (a, va)) in keys.iter().enumerate() {
            for (b, vb) in &keys[i + 1..] {
                let mut s = base();
                s.ip = None;
                s.set(a, va).unwrap();
                s.set(b, vb).unwrap();
                let e = s.resolve().unwrap_err();
                assert_eq!(e.field(), *a, "{e}");
                assert!(
                    e.reason().starts_with(&format!("and {b} are both set")),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn json_values_of_each_type() {
        use crate::config_file::ConfigFile;
        let mut s = Settings::default();
        let file = ConfigFile::parse(
            "c.json",
            r#"{"username": "u@example.com", "hb": 1, "allow_private": true, "port": 8080,
                "timeout": 5, "hosts": [], "mx": null}"#,
        )
        .unwrap();
        s.merge_file(&file.settings).unwrap();
        assert_eq!(
            (s.hb, s.allow_private, s.port, s.timeout),
            (Some(true), true, Some(8080), Some(5))
        );
        for bad in [r#"{"port": [1]}"#, r#"{"port": {}}"#, r#"{"port": 80.5}"#] {
            let file = ConfigFile::parse("c.json", bad).unwrap();
            assert_eq!(s.merge_file(&file.settings).unwrap_err().field(), "port");
        }
        // A key that names no setting is refused as such, whatever its
        // value (found by the fuzzer: an empty key with a fraction).
        for (bad, field) in [(r#"{"": 18.11}"#, "key"), (r#"{"colour": [1]}"#, "colour")] {
            let file = ConfigFile::parse("c.json", bad).unwrap();
            let e = s.merge_file(&file.settings).unwrap_err();
            assert_eq!(e.field(), field, "{bad}");
            assert!(
                e.reason().contains("is empty") || e.reason().contains("not a known setting"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn plain_http_needs_opt_in() {
        let mut s = base();
        s.set("server", "http://127.0.0.1:8147/dns/update.php")
            .unwrap();
        assert_eq!(s.resolve().unwrap_err().field(), "server");
        s.set("allow_http", "1").unwrap();
        assert!(!s.resolve().unwrap().server.is_tls());
    }
}
