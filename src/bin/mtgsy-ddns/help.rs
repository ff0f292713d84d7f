//! `--help`: the usage, then one section per group of settings, generated
//! at run time from the library's table ([`SETTINGS`]), with the command
//! line's own options after the settings of their group.

use mtgsy_ddns::config::{self, table::MAX_SECONDS, Group, Kind, Setting, SETTINGS};

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
";

/// Where an option's description starts, and the width it keeps to.
const COLUMN: usize = 27;
const WIDTH: usize = 79;

/// The whole `--help` text.
pub fn text() -> String {
    let mut out = format!("mtgsy-ddns: {USAGE}\n");
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
/// bounds in parentheses (the default unless the help already names it).
fn option(out: &mut String, setting: &Setting) {
    let mut flag = format!("    --{}", setting.name.replace('_', "-"));
    if !setting.is_switch() {
        flag.push(' ');
        flag.push_str(&setting.placeholder());
    }
    let mut notes = Vec::new();
    let seconds = matches!(setting.kind, Kind::Seconds { .. });
    if let Some(default) = config::default_of(setting).filter(|d| !setting.help.contains(d)) {
        match default.parse() {
            Ok(n) if seconds => notes.push(format!("default {}", in_hours(n))),
            _ => notes.push(format!("default {default}")),
        }
    }
    if let Kind::Seconds { min, max, .. } = setting.kind {
        notes.push(match max {
            MAX_SECONDS => format!("at least {}", in_hours(min)),
            _ => format!("{min} to {max}"),
        });
    }
    let mut lines: Vec<String> = setting.help.lines().map(String::from).collect();
    if !notes.is_empty() {
        let note = format!("({})", notes.join(", "));
        match lines.last_mut() {
            Some(last) if COLUMN + last.len() + 1 + note.len() <= WIDTH => {
                last.push(' ');
                last.push_str(&note);
            }
            _ => lines.push(note),
        }
    }
    out.push_str(&flag);
    let pad = match COLUMN.checked_sub(flag.len()) {
        Some(pad) if pad >= 2 => pad,
        _ => 3,
    };
    for (i, line) in lines.iter().enumerate() {
        let indent = if i == 0 { pad } else { COLUMN };
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(line);
        out.push('\n');
    }
}

/// A number of seconds, with its hours when it is whole hours
/// (`86400 = 24 h`).
fn in_hours(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{s} = {} h", s / 3600),
        s => s.to_string(),
    }
}
