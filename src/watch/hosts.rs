//! The hosts watch mode checks: [`configs`] builds their configurations
//! from the settings and the config file's `hosts` list, and [`Host`] is
//! what a check of one of them works with (label, configuration, shared
//! HTTP transport, warnings already shown) and its jitter: the random
//! delay of a check an address event asks for, and the spread safety net.
//!
//! Several hosts: the config file may hold `"hosts": [{…}, {…}]`. The
//! top-level keys, the environment and the command-line flags are the
//! defaults; each host object's own keys win over them. Each host has its
//! own guard record (records are keyed by server host and user name).

use std::sync::{Arc, Mutex};

use crate::config::{Config, Settings, DEFAULT_EVENT_JITTER_S};
use crate::config_file::{ConfigFile, Hosts};
use crate::error::{Error, InputError};
use crate::jitter;
use crate::transport::{HttpTransport, TransportConfig};
use crate::update::{self, Level};

use super::clock::Clock;
use super::SharedLog;

/// The hosts to watch, from the settings (flags, environment and the
/// config file's top level) and the config file's `hosts` list, if any.
///
/// With `interface` set and neither `ip` nor `ip_source`, the address comes
/// from that interface. A host that names any address setting replaces the
/// top level's address settings as a whole. Two hosts for the same server
/// and user name are refused: they would share one guard record.
pub fn configs(settings: &Settings, file: Option<&ConfigFile>) -> Result<Vec<Config>, InputError> {
    let configs = match file.and_then(|f| f.hosts.as_ref()) {
        None => vec![finish(settings.clone())?],
        Some(Hosts::List(items)) if !items.is_empty() => {
            let mut out = Vec::with_capacity(items.len());
            for (n, item) in items.iter().enumerate() {
                let named = |e: InputError| {
                    InputError::new(format!("hosts[{n}].{}", e.field()), e.reason())
                };
                let object = item.as_ref().ok_or_else(|| {
                    InputError::new(
                        format!("hosts[{n}]"),
                        "must be an object with the same keys as the top level",
                    )
                })?;
                let has = |key: &str| object.iter().any(|(k, _)| k == key);
                if has("hosts") {
                    return Err(InputError::new(
                        format!("hosts[{n}].hosts"),
                        "hosts cannot be nested",
                    ));
                }
                let mut s = settings.clone();
                // A host naming its own address source replaces the default one.
                if crate::config::ADDRESS_KEYS.iter().any(|k| has(k)) {
                    s.clear_address();
                }
                s.merge_file(object).map_err(named)?;
                out.push(finish(s).map_err(named)?);
            }
            out
        }
        Some(_) => {
            return Err(InputError::new(
                "hosts",
                "must be a non-empty list of objects, one per host",
            ))
        }
    };
    for (n, a) in configs.iter().enumerate() {
        if let Some(m) = configs[..n].iter().position(|b| same_account(a, b)) {
            return Err(InputError::new(
                format!("hosts[{n}].username"),
                format!(
                    "{:?} at {} is already hosts[{m}]; each host needs its own user name (an account e-mail or one dynamic domain)",
                    a.username,
                    a.server.host()
                ),
            ));
        }
    }
    Ok(configs)
}

/// Whether two hosts share one guard: the same user name at the same
/// server, letter case and a trailing dot aside, whatever state file each
/// names (one account must never have two guards).
fn same_account(a: &Config, b: &Config) -> bool {
    use crate::guard::same_key;
    same_key(a.server.host(), b.server.host()) && same_key(&a.username, &b.username)
}

/// One host's settings resolved, the interface as its address source
/// when it names an interface and no other source.
fn finish(mut s: Settings) -> Result<Config, InputError> {
    if s.ip.is_none() && s.ip_source.is_none() && s.interface.is_some() {
        s.ip_source = Some("interface".into());
    }
    s.resolve()
}

/// One watched host.
#[derive(Clone)]
pub(super) struct Host {
    /// The name it is logged under: its user name.
    pub(super) label: String,
    /// Its resolved configuration.
    pub(super) config: Arc<Config>,
    /// Its HTTP transport, shared by hosts with the same transport settings.
    pub(super) transport: Arc<HttpTransport>,
    /// Warnings already shown since the configuration was loaded; a
    /// repeat (plain HTTP on every check) is logged at debug level only.
    pub(super) warned: Arc<Mutex<Vec<String>>>,
    /// The longest random delay, in seconds, of a check an address event
    /// asks for (`jitter`, default [`DEFAULT_EVENT_JITTER_S`]).
    pub(super) event_jitter_s: i64,
}

impl Host {
    /// The random delay of a check an address event asks for, in the
    /// timers' milliseconds: [`jitter::event_delay`] with a fresh seed.
    pub(super) fn event_delay_ms(&self, clock: &Clock) -> u64 {
        let seed = update::jitter_seed(&self.config);
        clock.ms_for(jitter::event_delay(seed, self.event_jitter_s))
    }

    /// The safety-net interval, in the timers' milliseconds:
    /// `check_interval` spread by ±10% ([`jitter::safety_interval`]), so a
    /// fleet started together does not keep checking in step.
    pub(super) fn safety_ms(&self, clock: &Clock) -> u64 {
        let interval = clock.ms_for(self.config.check_interval.as_secs());
        jitter::safety_interval(update::jitter_seed(&self.config), interval)
    }
}

/// Most distinct warnings remembered per host.
pub(super) const WARNED_MAX: usize = 16;

/// The hosts for these configurations; hosts with the same transport
/// settings (timeout, roots and `bind_interface`: one WAN) share one
/// transport (one TLS setup).
pub(super) fn build_hosts(configs: Vec<Config>) -> Result<Vec<Host>, Error> {
    let mut transports: Vec<(TransportConfig, Arc<HttpTransport>)> = Vec::new();
    let mut hosts = Vec::with_capacity(configs.len());
    for mut config in configs {
        // Watch mode spreads the checks of address events in its schedule;
        // its runs must not wait once more.
        let event_jitter_s = config.jitter.unwrap_or(DEFAULT_EVENT_JITTER_S);
        config.jitter = Some(0);
        let transport = match transports.iter().find(|(c, _)| *c == config.transport) {
            Some((_, t)) => t.clone(),
            None => {
                let t = Arc::new(HttpTransport::new(&config.transport)?);
                transports.push((config.transport.clone(), t.clone()));
                t
            }
        };
        hosts.push(Host {
            label: config.username.clone(),
            config: Arc::new(config),
            transport,
            warned: Arc::default(),
            event_jitter_s: i64::try_from(event_jitter_s).unwrap_or(0),
        });
    }
    Ok(hosts)
}

/// Logs which hosts are watched, how, and the shortest safety-net interval.
pub(super) fn announce(hosts: &[Host], log: &SharedLog) {
    let list: Vec<String> = hosts
        .iter()
        .map(|h| format!("{} ({})", h.label, h.config.address.describe()))
        .collect();
    log(
        Level::Info,
        &format!(
            "watching {} host(s): {}; safety-net check every {} s",
            hosts.len(),
            list.join(", "),
            hosts
                .iter()
                .map(|h| h.config.check_interval.as_secs())
                .min()
                .unwrap_or(0)
        ),
    );
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::detect::AddressSource;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    /// A config file from a JSON value, as the CLI would read it.
    pub(in crate::watch) fn file(json: &serde_json::Value) -> ConfigFile {
        ConfigFile::parse("c.json", &json.to_string()).unwrap()
    }

    /// Settings with a user name and a password, no address source.
    pub(in crate::watch) fn base() -> Settings {
        let mut s = Settings::default();
        s.set("username", "top@example.com").unwrap();
        s.set("password", "pw").unwrap();
        s
    }

    #[test]
    fn interface_flag_alone_means_interface_source() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let c = configs(&s, None).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].address, AddressSource::Interface("wan0".into()));
    }

    #[test]
    fn hosts_inherit_and_override() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        s.set("check_interval", "300").unwrap();
        let json = serde_json::json!({
            "hosts": [
                {"username": "a.example.com"},
                {"username": "b.example.com", "interface": "wan1", "hb": 1},
                {"username": "c.example.com", "ip": "1.2.3.4"},
            ]
        });
        let c = configs(&s, Some(&file(&json))).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].username, "a.example.com");
        assert_eq!(c[0].address, AddressSource::Interface("wan0".into()));
        assert_eq!(c[1].address, AddressSource::Interface("wan1".into()));
        assert!(c[1].hb && !c[0].hb);
        assert_eq!(
            c[2].address,
            AddressSource::Fixed(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert!(c
            .iter()
            .all(|c| c.check_interval == Duration::from_secs(300)));
    }

    #[test]
    fn the_safety_net_is_spread_by_a_tenth() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        s.set("check_interval", "600").unwrap();
        let hosts = build_hosts(configs(&s, None).unwrap()).unwrap();
        let clock = Clock::new();
        let interval = clock.ms_for(600u64);
        let got: Vec<u64> = (0..300).map(|_| hosts[0].safety_ms(&clock)).collect();
        let tenth = interval / 10;
        assert!(got
            .iter()
            .all(|g| (interval - tenth..=interval + tenth).contains(g)));
        assert!(got.iter().any(|g| *g < interval - tenth / 2), "{got:?}");
        assert!(got.iter().any(|g| *g > interval + tenth / 2), "{got:?}");
    }

    #[test]
    fn host_errors_name_the_host() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let cases = [
            (
                serde_json::json!({"hosts": [{"username": "a.example.com"}, {"port": 80}]}),
                "hosts[1].port",
            ),
            (
                serde_json::json!({"hosts": [{"username": "a.example.com"}, {"username": "a.example.com"}]}),
                "hosts[1].username",
            ),
            // One account however it is spelt, whatever state file each names.
            (
                serde_json::json!({"hosts": [{"username": "A.Example.COM"}, {"username": "a.example.com."}]}),
                "hosts[1].username",
            ),
            (
                serde_json::json!({"hosts": [
                    {"username": "Alice@Example.com", "state": "/tmp/one/state.json"},
                    {"username": "alice@example.com", "state": "/tmp/two/state.json"}
                ]}),
                "hosts[1].username",
            ),
            (serde_json::json!({"hosts": []}), "hosts"),
            (serde_json::json!({"hosts": {"username": "x"}}), "hosts"),
            (serde_json::json!({"hosts": ["x"]}), "hosts[0]"),
            (
                serde_json::json!({"hosts": [{"hosts": []}]}),
                "hosts[0].hosts",
            ),
        ];
        for (json, field) in cases {
            let e = configs(&s, Some(&file(&json))).unwrap_err();
            assert_eq!(e.field(), field, "{json} → {e}");
        }
        let e = configs(&base(), None).unwrap_err();
        assert_eq!(e.field(), "ip");
    }
}
