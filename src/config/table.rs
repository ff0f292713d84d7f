//! The one table of settings: every key [`Settings::set`] takes, with what
//! the command line, `--help`, the config file, `mtgsy-ddns config` and
//! the OpenWrt package need to know about it.
//!
//! The config file's key check, [`Settings::set`]'s generic parsing and
//! bounds, the CLI's flags (which exist, which take no value) and the
//! option sections of `--help` are all driven from [`SETTINGS`];
//! `tests/settings_table.rs` checks that README's option list and the
//! OpenWrt shell's `MTGSY_OPTIONS` agree with it.
//!
//! # Adding a setting
//!
//! `timeout` is one row here and its behaviour a few lines in `config.rs`:
//!
//! ```text
//! // 1. a row of SETTINGS (its place in the list is its place in --help):
//! //  name       kind: generic parsing and bounds
//! row!("timeout", Kind::Seconds { min: 1, max: 300 },
//! //  group             placeholder  help line                  default  UCI option
//!     Group::Transport, "SECONDS",   "connect + whole request", "30",    "timeout"),
//! // 2. in config.rs: a field `timeout: Option<u64>` of Settings, its slot
//! //    in Settings::slot ("timeout" => Slot::Seconds(&mut self.timeout)),
//! //    and what resolve() makes of it (the Config's transport timeout);
//! // 3. only if the kind's checks are not enough, a rule of its own: an
//! //    arm of Settings::rule (as "port" has, refusing port 80).
//! ```
//!
//! Then `--timeout SECONDS` exists, `--help` lists it, a config file may
//! hold `"timeout"`, `mtgsy_set(h, "timeout", ...)` takes it and
//! `mtgsy-ddns config` shows it. Document the flag in README's option list
//! and, when the row names a UCI option, add it to `MTGSY_OPTIONS` in
//! `openwrt/files/usr/lib/mtgsy-ddns/common.sh`. The tests say what is
//! missing: a row without a slot or with the wrong kind
//! (`config::tests::every_row_takes_its_value_and_refuses_a_bad_one_by_name`
//! gives each kind a good and a bad value), README or `MTGSY_OPTIONS`
//! lacking it (`tests/settings_table.rs`).
//!
//! [`Settings::set`]: crate::config::Settings::set

#![forbid(unsafe_code)]

use crate::guard::MIN_FORCE_INTERVAL_S;

/// How a setting's value is written and what the generic parser checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text that the setting's own rule checks (it may allow it empty).
    Text,
    /// Text that may be neither empty nor hold a NUL byte.
    NonEmpty,
    /// A file path: not empty, no NUL byte.
    Path,
    /// On or off: a flag without a value on the command line; elsewhere
    /// 1/0, true/false, yes/no or on/off.
    Switch,
    /// Exactly `0` or `1`.
    ZeroOne,
    /// A whole number of seconds from `min` to `max` ([`NO_MAX`]: no
    /// upper bound).
    Seconds {
        /// Smallest value taken.
        min: u32,
        /// Largest value taken.
        max: u32,
    },
    /// A TCP port number, 1 to 65535.
    Port,
    /// An IPv4 address, `a.b.c.d`.
    Ipv4,
    /// One of the words of the placeholder ([`Setting::value`]), which
    /// are written `a|b|c`.
    OneOf,
}

/// The sections of `--help`, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Who is updated.
    Account,
    /// Where the address comes from.
    Address,
    /// The protocol's optional fields.
    Request,
    /// The server and how it is reached.
    Transport,
    /// The rate guard and its state file.
    GuardAndState,
    /// Commands run after an attempt.
    Hooks,
    /// `watch` mode.
    Watch,
}

impl Group {
    /// Every group, in `--help` order.
    pub const ALL: [Group; 7] = [
        Group::Account,
        Group::Address,
        Group::Request,
        Group::Transport,
        Group::GuardAndState,
        Group::Hooks,
        Group::Watch,
    ];

    /// The section's heading in `--help`.
    pub fn title(self) -> &'static str {
        match self {
            Group::Account => "ACCOUNT",
            Group::Address => "ADDRESS (give one source)",
            Group::Request => "REQUEST",
            Group::Transport => "TRANSPORT",
            Group::GuardAndState => "GUARD AND STATE",
            Group::Hooks => "HOOKS",
            Group::Watch => "WATCH",
        }
    }
}

/// One setting: a row of [`SETTINGS`], made by `row!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// How the value is written and checked.
    pub kind: Kind,
    /// The `--help` section.
    pub group: Group,
    /// Never a flag value and never shown (the password).
    pub secret: bool,
    /// [`Setting::name`], [`Setting::value`], [`Setting::help`],
    /// [`Setting::default`] and [`Setting::uci`], each ended by a unit
    /// separator: one string, not five, keeps the table small in the
    /// binary.
    text: &'static str,
}

impl Setting {
    /// Does the flag take no value (`--allow-http`)?
    pub fn is_switch(&self) -> bool {
        self.kind == Kind::Switch
    }

    /// The key: in a config file, for `mtgsy_set`; the flag is `--` and
    /// the key with dashes (`ip_url` is `--ip-url`).
    pub fn name(&self) -> &'static str {
        self.part(0)
    }

    /// The value's placeholder in `--help` (`SECONDS`, `0|1`, for
    /// [`Kind::OneOf`] its words joined by `|`); empty for a switch.
    pub fn value(&self) -> &'static str {
        self.part(1)
    }

    /// What it does, for `--help`; `\n` starts a new line.
    pub fn help(&self) -> &'static str {
        self.part(2)
    }

    /// The default as `--help` and `mtgsy-ddns config` show it; empty
    /// when unset means "not sent" or the default is found at run time.
    pub fn default(&self) -> &'static str {
        self.part(3)
    }

    /// The OpenWrt UCI option that feeds it (`MTGSY_OPTIONS` in
    /// `common.sh`); empty when none does.
    pub fn uci(&self) -> &'static str {
        self.part(4)
    }

    /// Part `n` of `text` (a byte loop: smaller than `split` in the binary).
    fn part(&self, n: usize) -> &'static str {
        let text = self.text;
        let (mut start, mut part) = (0, 0);
        for (i, byte) in text.bytes().enumerate() {
            if byte == 0x1f {
                if part == n {
                    return text.get(start..i).unwrap_or("");
                }
                part += 1;
                start = i + 1;
            }
        }
        ""
    }
}

/// The row named `name`, if any.
pub fn find(name: &str) -> Option<&'static Setting> {
    // The name is the row text's first part: compare it in place rather
    // than scanning each row for its end (every key of every run comes
    // through here).
    SETTINGS
        .iter()
        .find(|s| s.text.as_bytes().get(name.len()) == Some(&0x1f) && s.text.starts_with(name))
}

/// A row: name, kind, group, placeholder, help, default, UCI option (the
/// last four literals); `secret` after them for the password.
macro_rules! row {
    ($name:literal, $kind:expr, $group:expr, $value:literal, $help:literal,
     $default:literal, $uci:literal $(,)?) => {
        row!(@ $name, $kind, $group, $value, $help, $default, $uci, false)
    };
    ($name:literal, $kind:expr, $group:expr, $value:literal, $help:literal,
     $default:literal, $uci:literal, secret $(,)?) => {
        row!(@ $name, $kind, $group, $value, $help, $default, $uci, true)
    };
    (@ $name:literal, $kind:expr, $group:expr, $value:literal, $help:literal,
     $default:literal, $uci:literal, $secret:literal) => {
        Setting {
            kind: $kind,
            group: $group,
            secret: $secret,
            text: concat!(
                $name, "\x1f", $value, "\x1f", $help, "\x1f", $default, "\x1f", $uci, "\x1f"
            ),
        }
    };
}

/// [`Kind::Seconds`]' `max` for "no upper bound".
pub const NO_MAX: u32 = u32::MAX;

/// Every setting, in `--help` order.
pub const SETTINGS: &[Setting] = &[
    row!(
        "username",
        Kind::Text,
        Group::Account,
        "NAME",
        "account e-mail or one dynamic domain (or MTGSY_USERNAME)",
        "",
        "username",
    ),
    row!(
        "password",
        Kind::Text,
        Group::Account,
        "",
        "the account password: MTGSY_PASSWORD or the config file",
        "",
        "password",
        secret
    ),
    row!(
        "password_file",
        Kind::Path,
        Group::Account,
        "FILE",
        "read the password from FILE ('-' = stdin); or set\nMTGSY_PASSWORD; never given as a flag value",
        "",
        "",
    ),
    row!(
        "ip",
        Kind::Ipv4,
        Group::Address,
        "ADDR",
        "the IPv4 address to register",
        "",
        "ip",
    ),
    row!(
        "interface",
        Kind::NonEmpty,
        Group::Address,
        "IFACE",
        "the first global address of IFACE",
        "",
        "ip_interface",
    ),
    row!(
        "ip_url",
        Kind::NonEmpty,
        Group::Address,
        "URL",
        "the first IPv4 address in the page at URL",
        "",
        "ip_url",
    ),
    row!(
        "ip_command",
        Kind::NonEmpty,
        Group::Address,
        "CMD",
        "the first IPv4 address CMD prints",
        "",
        "ip_script",
    ),
    row!(
        "ip_source",
        Kind::OneOf,
        Group::Address,
        "interface|web|command",
        "optional; names the source given",
        "",
        "ip_source",
    ),
    row!(
        "allow_private",
        Kind::Switch,
        Group::Address,
        "",
        "permit private, CGNAT, loopback, ... addresses",
        "",
        "allow_private",
    ),
    row!(
        "lookup_host",
        Kind::Text,
        Group::Address,
        "NAME",
        "with no state yet, NAME resolving to the address\ncounts as already registered",
        "",
        "lookup_host",
    ),
    row!(
        "check_url",
        Kind::NonEmpty,
        Group::Address,
        "URL",
        "doctor: a page showing the address the outside sees\n(default: ip_url)",
        "",
        "",
    ),
    row!(
        "hb",
        Kind::ZeroOne,
        Group::Request,
        "0|1",
        "heartbeats, always sent",
        "0",
        "hb",
    ),
    row!(
        "stealth",
        Kind::ZeroOne,
        Group::Request,
        "0|1",
        "offline redirect in a hidden frame",
        "",
        "stealth",
    ),
    row!(
        "port",
        Kind::Port,
        Group::Request,
        "N",
        "port of your web site when the ISP blocks 80 (not 80)",
        "",
        "port",
    ),
    row!(
        "offline_url",
        Kind::Text,
        Group::Request,
        "URL",
        "where visitors go while offline (http:// or https://)",
        "",
        "offline_url",
    ),
    row!(
        "offline_text",
        Kind::Text,
        Group::Request,
        "TEXT",
        "what visitors see while offline",
        "",
        "offline_text",
    ),
    row!(
        "mx",
        Kind::Text,
        Group::Request,
        "HOST.",
        "MX host, fully qualified, ending in a period",
        "",
        "mx",
    ),
    row!(
        "server",
        Kind::NonEmpty,
        Group::Transport,
        "URL",
        "the update endpoint",
        "https://www.mtgsy.net/dns/update.php",
        "server",
    ),
    row!(
        "ca_file",
        Kind::Path,
        Group::Transport,
        "PEM",
        "trust these roots instead of the system's CA bundle",
        "",
        "cacert",
    ),
    row!(
        "allow_http",
        Kind::Switch,
        Group::Transport,
        "",
        "permit a http:// server (password in clear text!)",
        "",
        "use_https",
    ),
    row!(
        "timeout",
        Kind::Seconds { min: 1, max: 300 },
        Group::Transport,
        "SECONDS",
        "connect + whole request",
        "30",
        "timeout",
    ),
    row!(
        "bind_interface",
        Kind::NonEmpty,
        Group::Transport,
        "DEV",
        "send through network device DEV (one WAN of several)",
        "",
        "bind_network",
    ),
    row!(
        "state",
        Kind::Path,
        Group::GuardAndState,
        "PATH",
        "the guard's state file: /etc/mtgsy-ddns/state.json\non OpenWrt, else /var/lib/mtgsy-ddns/state.json",
        "",
        "",
    ),
    row!(
        "force_interval",
        Kind::Seconds {
            min: MIN_FORCE_INTERVAL_S as u32,
            max: NO_MAX,
        },
        Group::GuardAndState,
        "SECS",
        "resend an unchanged address after this long;\n24 h = 86400, 72 h = 259200",
        "259200",
        "force_interval",
    ),
    // At most 300 s: a spread over half the 10-minute floor is plenty for
    // a fleet, an update after an outage still goes out within 5 minutes,
    // and `mtgsy_update` blocks no longer than the longest `timeout`.
    row!(
        "jitter",
        Kind::Seconds { min: 0, max: 300 },
        Group::GuardAndState,
        "SECS",
        "a random wait of 0..SECS before sending;\nupdate: 0, watch: 10 (after address events)",
        "",
        "jitter",
    ),
    row!(
        "on_update",
        Kind::NonEmpty,
        Group::Hooks,
        "CMD",
        "sh -c CMD after each attempt (not when held or a\ndry run), MTGSY_OUTCOME etc. set; killed at the\ntimeout",
        "",
        "on_update",
    ),
    row!(
        "on_change",
        Kind::NonEmpty,
        Group::Hooks,
        "CMD",
        "sh -c CMD after an attempt that changed the\nregistered address",
        "",
        "on_change",
    ),
    row!(
        "check_interval",
        Kind::Seconds {
            min: 60,
            max: NO_MAX,
        },
        Group::Watch,
        "SECS",
        "safety-net re-check",
        "600",
        "check_interval",
    ),
];

#[cfg(test)]
mod tests;
