//! `--help`: the usage, then one section per group of settings, generated
//! at run time from the library's table ([`SETTINGS`]), with the command
//! line's own options after the settings of their group.

use mtgsy_ddns::config::{table::NO_MAX, Group, Kind, Setting, SETTINGS};

/// The help's first lines, also printed alone when no arguments are given.
pub const USAGE: &str = "\
dynamic DNS client for Microtech (mtgsy.net), with a rate guard
that never gets the account blocked.

USAGE:
    mtgsy-ddns update [OPTIONS]      one guarded update
    mtgsy-ddns status [OPTIONS]      what the state file says
    mtgsy-ddns watch [OPTIONS]       stay running; update within a second of an
                                     address change (Linux rtnetlink, no polling)
    mtgsy-ddns config [OPTIONS]      the settings as resolved (never the password)
    mtgsy-ddns doctor [OPTIONS]      per host: addresses, double NAT, DNS, the
                                     guard, TLS; sends no update, needs no password
    mtgsy-ddns --version | --help";

/// Options of the command line alone, each after the settings of a group.
const CLI_ONLY: &[(Group, &str)] = &[
    (
        Group::Account,
        "    --config FILE          JSON object with the same keys as the long options
                           (dashes or underscores); flags override it
",
    ),
    (
        Group::GuardAndState,
        "    --force                send even if unchanged; the 10-minute floor holds,
                           and an update that changes nothing goes out at
                           most once a day
",
    ),
    (
        Group::Watch,
        "    config \"hosts\": [{...}, ...]  several hosts, each with its own user name;
                           top-level keys and flags are their defaults
    signals: SIGTERM/SIGINT stop, SIGHUP reloads the config, SIGUSR1 checks now
",
    ),
];

/// What follows the settings.
const TAIL: &str = "
OUTPUT:
    --dry-run              show the request (password masked); send nothing
    --json                 one JSON object on stdout
    -v, --verbose          more detail on stderr (-vv, -vvv: more still)
    --syslog               also log to syslog
    status --registered-ip print only the registered address (exit 1 if none)

EXIT CODES:
    0 updated or nothing to do    2 bad input or configuration (nothing sent)
    3 deferred by the rate guard  4 network, TLS or server error
    5 rejected by the service     6 blocked by the service
    1 watch: the system refused signals or netlink (nothing sent);
      doctor: a finding needs you (0: all is well)
";

/// Where an option's description starts, and the width it keeps to.
const COLUMN: usize = 27;
const WIDTH: usize = 79;

/// The whole `--help` text.
pub fn text() -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("mtgsy-ddns: ");
    out.push_str(USAGE);
    out.push('\n');
    for group in Group::ALL {
        out.push('\n');
        out.push_str(group.title());
        out.push_str(":\n");
        for setting in SETTINGS.iter().filter(|s| s.group == group && !s.secret) {
            option(&mut out, setting);
        }
        for (_, lines) in CLI_ONLY.iter().filter(|(g, _)| *g == group) {
            out.push_str(lines);
        }
    }
    out.push_str(TAIL);
    out
}

/// One setting's lines: `--flag VALUE`, its help, then its default and
/// bounds in parentheses, on the last line if they fit.
fn option(out: &mut String, setting: &Setting) {
    let start = out.len();
    out.push_str("    --");
    out.push_str(&setting.name().replace('_', "-"));
    if !setting.is_switch() {
        out.push(' ');
        out.push_str(setting.value());
    }
    let flag = out.len() - start;
    pad(out, if flag + 2 <= COLUMN { COLUMN - flag } else { 3 });
    let mut last = 0;
    for (i, line) in setting.help().split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            pad(out, COLUMN);
        }
        out.push_str(line);
        last = line.len();
    }
    let default = setting.default();
    let bounds = match setting.kind {
        Kind::Seconds { min, max: NO_MAX } => format!("at least {min}"),
        Kind::Seconds { min, max } => format!("{min} to {max}"),
        _ => String::new(),
    };
    if default.is_empty() && bounds.is_empty() {
        out.push('\n');
        return;
    }
    // " (default D, B)"
    let width = default.len() + bounds.len() + 14;
    if COLUMN + last + width <= WIDTH {
        out.push(' ');
    } else {
        out.push('\n');
        pad(out, COLUMN);
    }
    out.push('(');
    if !default.is_empty() {
        out.push_str("default ");
        out.push_str(default);
        out.push_str(if bounds.is_empty() { "" } else { ", " });
    }
    out.push_str(&bounds);
    out.push_str(")\n");
}

/// `n` spaces (at most [`COLUMN`]).
fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                           ";
    out.push_str(SPACES.get(..n).unwrap_or(SPACES));
}
