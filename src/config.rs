//! Configuration: raw settings by name, then one validated [`Config`].
//!
//! Two steps, as ripgrep does it. [`Settings::set`] takes one key and a
//! string value, the same way from a JSON config file, a command-line flag
//! (`--offline-url` is the key `offline_url`) and the C ABI's `mtgsy_set`;
//! a bad value is refused at once, naming the key. [`Settings::resolve`]
//! then checks how the settings fit together and yields a [`Config`].
//!
//! Which keys exist, how each is written and its bounds are rows of one
//! table, [`table::SETTINGS`]; this file keeps each one's typed field
//! (`Settings::slot`) and the few checks a kind cannot express
//! (`Settings::rule`); `resolve.rs` says how they combine
//! ([`Settings::resolve`]) into a [`Config`].

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::config_file::{FileObject, FileValue};
use crate::error::InputError;
use crate::guard::MIN_FORCE_INTERVAL_S;
use crate::request::{self, Secret};

mod resolve;
pub mod table;

pub use resolve::Config;

pub use table::{Group, Kind, Setting, SETTINGS};

/// The settings that say where the address comes from. At most one of
/// `ip`, `interface`, `ip_url` and `ip_command` may be set; that one
/// selects the source, and `ip_source`, if given, must name the same one.
/// A later layer of settings (the flags over a config file, a watch host
/// over the top level) that names any of them replaces them all.
pub const ADDRESS_KEYS: &[&str] = &["ip", "ip_source", "interface", "ip_url", "ip_command"];

/// Default for `timeout`, in seconds (the table shows the same; a test
/// checks that the defaults shown are the ones applied).
pub const DEFAULT_TIMEOUT_S: u64 = 30;
/// Default for `check_interval` (watch mode), in seconds.
pub const DEFAULT_CHECK_INTERVAL_S: u64 = 600;

/// Default for `jitter` in watch mode and the OpenWrt hotplug hook, in
/// seconds (`update` run by hand: 0).
pub const DEFAULT_EVENT_JITTER_S: u64 = 10;

/// Settings as given, each checked on its own. `Debug` masks the password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Account e-mail or dynamic domain.
    pub username: Option<String>,
    /// Account password.
    pub password: Option<Secret>,
    /// The file the password was read from.
    pub password_file: Option<PathBuf>,
    /// Update endpoint URL.
    pub server: Option<String>,
    /// PEM bundle of trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Permit a plain-HTTP server.
    pub allow_http: bool,
    /// Request timeout in seconds.
    pub timeout: Option<u64>,
    /// The network device requests leave through (one WAN of several).
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
    /// `doctor`: a page showing the address the outside sees.
    pub check_url: Option<String>,
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
    pub force_interval: Option<u64>,
    /// Watch mode's safety-net re-check interval, in seconds.
    pub check_interval: Option<u64>,
    /// Longest random delay of an event-triggered update, in seconds.
    pub jitter: Option<u64>,
    /// Shell command run after every attempt (`crate::hook`).
    pub on_update: Option<String>,
    /// Shell command run when the registered address changed.
    pub on_change: Option<String>,
    /// `doctor`: the password is neither needed nor kept, and a password
    /// file is never opened (`password` and `password_file` are taken
    /// and dropped).
    pub without_password: bool,
}

/// A value as its [`Kind`] parses it, before it is stored.
enum Value {
    Text(String),
    Bool(bool),
    Number(u64),
    Ip(Ipv4Addr),
}

/// Where [`Settings`] keeps one setting, by type.
enum Slot<'a> {
    Text(&'a mut Option<String>),
    Path(&'a mut Option<PathBuf>),
    Secret(&'a mut Option<Secret>),
    Ip(&'a mut Option<Ipv4Addr>),
    Switch(&'a mut bool),
    Flag(&'a mut Option<bool>),
    Seconds(&'a mut Option<u64>),
    Port(&'a mut Option<u16>),
}

impl Slot<'_> {
    /// Stores `value`; `false` when the row's kind and the slot disagree
    /// (a setting added half-way, which the tests catch).
    fn put(self, value: Value) -> bool {
        match (self, value) {
            (Slot::Text(slot), Value::Text(v)) => *slot = Some(v),
            (Slot::Path(slot), Value::Text(v)) => *slot = Some(PathBuf::from(v)),
            (Slot::Secret(slot), Value::Text(v)) => *slot = Some(Secret::new(v)),
            (Slot::Ip(slot), Value::Ip(v)) => *slot = Some(v),
            (Slot::Switch(slot), Value::Bool(v)) => *slot = v,
            (Slot::Flag(slot), Value::Bool(v)) => *slot = Some(v),
            (Slot::Seconds(slot), Value::Number(v)) => *slot = Some(v),
            (Slot::Port(slot), Value::Number(v)) => match u16::try_from(v) {
                Ok(port) => *slot = Some(port),
                Err(_) => return false,
            },
            _ => return false,
        }
        true
    }

    /// The value as text (`1`/`0` for switches; text is taken out),
    /// `(set)` for a secret; `None` when unset.
    fn shown(self) -> Option<String> {
        let flag = |on: bool| String::from(if on { "1" } else { "0" });
        match self {
            Slot::Text(v) => v.take(),
            Slot::Path(v) => v.as_ref().map(|p| format!("{}", p.display())),
            Slot::Secret(v) => v.as_ref().map(|_| String::from("(set)")),
            Slot::Ip(v) => v.map(|ip| format!("{ip}")),
            Slot::Switch(v) => Some(flag(*v)),
            Slot::Flag(v) => v.map(flag),
            Slot::Seconds(v) => v.map(|n| format!("{n}")),
            Slot::Port(v) => v.map(|n| format!("{n}")),
        }
    }
}

impl Setting {
    /// The generic check of a value of this row's kind: its syntax (and
    /// for [`Kind::OneOf`] its words); bounds come after the setting's own
    /// rule, in [`Setting::check_bounds`].
    fn parse(&self, value: &str) -> Result<Value, InputError> {
        let key = self.name();
        Ok(match self.kind {
            Kind::Text => Value::Text(value.to_string()),
            Kind::NonEmpty | Kind::Path => Value::Text(non_empty(key, value)?),
            Kind::Switch => Value::Bool(parse_bool(key, value)?),
            Kind::ZeroOne => Value::Bool(parse_flag01(key, value)?),
            Kind::Seconds { .. } => Value::Number(parse_number(key, value, "a number of seconds")?),
            Kind::Port => {
                let port: u16 = parse_number(key, value, "a port number from 1 to 65535")?;
                Value::Number(port.into())
            }
            Kind::Ipv4 => Value::Ip(value.trim().parse().map_err(|_| {
                InputError::new(key, format!("{value:?} is not an IPv4 address (a.b.c.d)"))
            })?),
            Kind::OneOf => {
                // The words are the placeholder's: `interface|web|command`.
                if !self.value().split('|').any(|word| word == value) {
                    return Err(InputError::new(
                        key,
                        format!(
                            "{value:?} is not one of {}",
                            self.value().replace('|', ", ")
                        ),
                    ));
                }
                Value::Text(value.to_string())
            }
        })
    }

    /// A number of seconds within the row's bounds.
    fn check_bounds(&self, value: &Value) -> Result<(), InputError> {
        let (Kind::Seconds { min, max }, Value::Number(n)) = (self.kind, value) else {
            return Ok(());
        };
        match max {
            table::NO_MAX if *n < u64::from(min) => Err(InputError::new(
                self.name(),
                format!("must be at least {min} seconds"),
            )),
            table::NO_MAX => Ok(()),
            _ if !(u64::from(min)..=u64::from(max)).contains(n) => Err(InputError::new(
                self.name(),
                format!("must be from {min} to {max} seconds"),
            )),
            _ => Ok(()),
        }
    }
}

/// Is `key` a setting's name (a row of [`SETTINGS`])?
pub fn is_key(key: &str) -> bool {
    table::find(key).is_some()
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

impl Settings {
    /// Sets `key` from a string value. Unknown keys and bad values are
    /// refused with the key named; the value is never echoed for secrets.
    /// The row of [`SETTINGS`] gives the generic check, `Settings::rule`
    /// any check of the setting's own, `Settings::slot` where it is kept.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), InputError> {
        let setting = table::find(key).ok_or_else(|| unknown_key(key))?;
        if self.without_password && (setting.secret || key == "password_file") {
            return Ok(());
        }
        let value = setting.parse(value)?;
        let value = self.rule(key, value)?;
        setting.check_bounds(&value)?;
        if self.slot(key).is_some_and(|slot| slot.put(value)) {
            Ok(())
        } else {
            Err(InputError::new(key, "has no place in the settings"))
        }
    }

    /// The checks of a setting's own, after its kind's syntax and before
    /// its bounds; it may rewrite the value (a domain's final dot) or set
    /// more (`password_file`).
    fn rule(&mut self, key: &str, value: Value) -> Result<Value, InputError> {
        let text = match (key, value) {
            ("port", Value::Number(port)) => {
                request::check_port(u16::try_from(port).unwrap_or(0))?;
                return Ok(Value::Number(port));
            }
            ("force_interval", Value::Number(s)) if s < MIN_FORCE_INTERVAL_S as u64 => {
                return Err(InputError::new(
                    key,
                    format!(
                        "must be at least {MIN_FORCE_INTERVAL_S} seconds (24 h): updates that change nothing count as abuse"
                    ),
                ));
            }
            (_, Value::Text(text)) => text,
            (_, value) => return Ok(value),
        };
        match key {
            "username" => {
                // A domain may be written fully qualified, with a final
                // dot; the service knows it without.
                let name = match text.strip_suffix('.') {
                    Some(domain) if !text.contains('@') => domain,
                    _ => &text,
                };
                request::check_username(name)?;
                return Ok(Value::Text(name.to_string()));
            }
            "password" => request::check_password(&text)?,
            "password_file" => self.password = Some(read_password_file(&text)?),
            "interface" | "bind_interface" if text.len() > 15 || text.contains(['/', ' ']) => {
                return Err(InputError::new(
                    key,
                    format!("{text:?} is not an interface name"),
                ));
            }
            "ip_url" | "check_url"
                if !(text.starts_with("http://") || text.starts_with("https://")) =>
            {
                return Err(InputError::new(key, "must start with http:// or https://"));
            }
            "offline_url" => request::check_offline_url(&text)?,
            "offline_text" => request::check_offline_text(&text)?,
            "mx" => request::check_mx(&text)?,
            "lookup_host" if !request::is_host_name(&text, 1) => {
                return Err(InputError::new(key, format!("{text:?} is not a host name")));
            }
            _ => {}
        }
        Ok(Value::Text(text))
    }

    /// Where the setting named `key` is kept; `None` for no setting.
    fn slot(&mut self, key: &str) -> Option<Slot<'_>> {
        Some(match key {
            "username" => Slot::Text(&mut self.username),
            "password" => Slot::Secret(&mut self.password),
            "password_file" => Slot::Path(&mut self.password_file),
            "server" => Slot::Text(&mut self.server),
            "ca_file" => Slot::Path(&mut self.ca_file),
            "allow_http" => Slot::Switch(&mut self.allow_http),
            "timeout" => Slot::Seconds(&mut self.timeout),
            "bind_interface" => Slot::Text(&mut self.bind_interface),
            "ip" => Slot::Ip(&mut self.ip),
            "ip_source" => Slot::Text(&mut self.ip_source),
            "interface" => Slot::Text(&mut self.interface),
            "ip_url" => Slot::Text(&mut self.ip_url),
            "ip_command" => Slot::Text(&mut self.ip_command),
            "check_url" => Slot::Text(&mut self.check_url),
            "allow_private" => Slot::Switch(&mut self.allow_private),
            "hb" => Slot::Flag(&mut self.hb),
            "stealth" => Slot::Flag(&mut self.stealth),
            "port" => Slot::Port(&mut self.port),
            "offline_url" => Slot::Text(&mut self.offline_url),
            "offline_text" => Slot::Text(&mut self.offline_text),
            "mx" => Slot::Text(&mut self.mx),
            "state" => Slot::Path(&mut self.state),
            "lookup_host" => Slot::Text(&mut self.lookup_host),
            "force_interval" => Slot::Seconds(&mut self.force_interval),
            "check_interval" => Slot::Seconds(&mut self.check_interval),
            "jitter" => Slot::Seconds(&mut self.jitter),
            "on_update" => Slot::Text(&mut self.on_update),
            "on_change" => Slot::Text(&mut self.on_change),
            _ => return None,
        })
    }

    /// Every setting of [`SETTINGS`] with its value as text, or its default
    /// ([`default_of`]) when unset, or `None`. The password is never
    /// shown: `(set)` when it is.
    pub fn into_shown(mut self) -> Vec<(&'static Setting, Option<String>)> {
        SETTINGS
            .iter()
            .map(|s| {
                let value = self.slot(s.name()).and_then(Slot::shown);
                (s, value.or_else(|| default_of(s)))
            })
            .collect()
    }

    /// Sets every key of a config file's object (see [`crate::config_file`]);
    /// `hosts` is skipped (watch mode reads it) and `null` leaves a key unset.
    pub fn merge_file(&mut self, object: &FileObject) -> Result<(), InputError> {
        for (key, value) in object {
            match value {
                _ if key == "hosts" => {}
                FileValue::Null => {}
                FileValue::Text(text) => self.set(key, text)?,
                FileValue::Unusable if !is_key(key) => return Err(unknown_key(key)),
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
}

/// A setting's default as `--help` and `mtgsy-ddns config` show it: the
/// row's, or for `state` the path this system uses; `None` when unset
/// means "not sent".
pub fn default_of(setting: &Setting) -> Option<String> {
    match setting.default() {
        "" if setting.name() == "state" => Some(crate::state::default_path().display().to_string()),
        "" => None,
        default => Some(default.to_string()),
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

#[cfg(test)]
mod tests;
