//! What the command prints: log lines on stderr (and syslog), the outcome
//! on stdout, as text or one JSON object.

use std::path::Path;

use mtgsy_ddns::state::Entry;
use mtgsy_ddns::update::{Level, Outcome};
use mtgsy_ddns::Error;

use crate::syslog::{Severity, Syslog};

/// Prints messages; the library has already masked the password.
pub struct Printer {
    verbose: u8,
    syslog: Option<Syslog>,
}

impl Printer {
    /// A printer for a run with `-v` given `verbose` times.
    pub fn new(verbose: u8, syslog: bool) -> Printer {
        Printer {
            verbose,
            syslog: syslog.then(Syslog::open),
        }
    }

    /// A printer for errors before options were read.
    pub fn stderr_only() -> Printer {
        Printer {
            verbose: 0,
            syslog: None,
        }
    }

    /// One log line: warnings and errors always, info with `-v`, debug
    /// with `-vv`; with `--syslog`, everything but debug also to syslog.
    pub fn log(&mut self, level: Level, msg: &str) {
        let msg = &cli_words(msg);
        let shown = match level {
            Level::Error | Level::Warn => true,
            Level::Info => self.verbose >= 1,
            Level::Debug => self.verbose >= 2,
        };
        if shown {
            let tag = match level {
                Level::Error => "error: ",
                Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("mtgsy-ddns: {tag}{msg}");
        }
        if level != Level::Debug {
            self.send_to_syslog(level, msg);
        }
    }

    fn send_to_syslog(&mut self, level: Level, msg: &str) {
        if let Some(syslog) = &mut self.syslog {
            let severity = match level {
                Level::Error => Severity::Error,
                Level::Warn => Severity::Warning,
                _ => Severity::Info,
            };
            syslog.send(severity, msg);
        }
    }

    /// An error message.
    pub fn error(&mut self, msg: &str) {
        self.log(Level::Error, msg);
    }

    /// The result of an update run: on stdout (text or JSON); problems also
    /// on stderr; everything to syslog when asked.
    pub fn outcome(&mut self, outcome: &Outcome, json: bool) {
        let level = outcome.outcome.level();
        if json {
            self.print_json(outcome);
        } else if level == Level::Info {
            println!("{}", outcome.message);
        }
        if level == Level::Info {
            self.send_to_syslog(level, &outcome.message);
        } else {
            self.log(level, &outcome.message);
        }
    }

    /// One outcome as one line of JSON on stdout.
    fn print_json(&mut self, outcome: &Outcome) {
        match serde_json::to_string(outcome) {
            Ok(text) => println!("{text}"),
            Err(e) => self.error(&format!("cannot encode the result: {e}")),
        }
    }

    /// An error that stopped the run before any reply: on stderr (and
    /// syslog), and with `--json` as an outcome on stdout.
    pub fn failure(&mut self, error: &Error, json: bool) {
        let mut outcome = Outcome::from_error(error);
        outcome.message = cli_words(&outcome.message);
        if json {
            self.print_json(&outcome);
        }
        self.error(&outcome.message);
    }
}

/// The library names settings as the C ABI and the config file spell them
/// (`... set allow_http` at the end of a message); the command line says
/// which flags, variables or config keys set them. Only message ends are
/// compared, so no text search is linked; applying it twice changes
/// nothing.
fn cli_words(msg: &str) -> String {
    let mut out = msg.to_string();
    for (lib, cli) in [
        ("set allow_private", "add --allow-private"),
        ("set allow_http", "add --allow-http"),
        (
            "set ip, interface, ip_url or ip_command",
            "give --ip ADDR, --interface IFACE, --ip-url URL or --ip-command CMD",
        ),
        (
            "username: is missing",
            "username: is missing; set --username, MTGSY_USERNAME or \"username\" in the config file",
        ),
        (
            "password: is missing",
            "password: is missing; set MTGSY_PASSWORD, --password-file FILE or \"password\" in the config file",
        ),
    ] {
        if out.ends_with(lib) {
            out.truncate(out.len() - lib.len());
            out.push_str(cli);
            break;
        }
    }
    out
}

/// Prints the records of the state file at `path`: with `json`, the
/// library's status object ([`mtgsy_ddns::status::json`]).
pub fn print_status(path: &Path, entries: &[Entry], now: i64, json: bool) {
    if json {
        match mtgsy_ddns::status::json(path, entries, now) {
            Ok(text) => println!("{text}"),
            Err(e) => Printer::stderr_only().error(&e.to_string()),
        }
        return;
    }
    if entries.is_empty() {
        println!("{}: no updates recorded yet", path.display());
        return;
    }
    for e in entries {
        let r = &e.record;
        let ago = |t: Option<i64>| match t {
            Some(t) => format!("{} s ago", now.saturating_sub(t)),
            None => "never".into(),
        };
        println!("{} at {}", e.username, e.server);
        println!(
            "  registered address: {}",
            r.registered_ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "none".into())
        );
        println!("  registered:         {}", ago(r.registered_at));
        println!("  last attempt:       {}", ago(r.last_attempt_at));
        println!("  last check:         {}", ago(r.last_check));
        if let Some(result) = r.last_result {
            // The name the state file uses, without its JSON quotes.
            let name = serde_json::to_string(&result).unwrap_or_default();
            println!(
                "  last result:        {}{}",
                name.trim_matches('"'),
                r.last_http_status
                    .map(|s| format!(" (HTTP {s})"))
                    .unwrap_or_default()
            );
        }
        match r.next_allowed(now) {
            Some(t) => println!(
                "  next request:       allowed in {} s",
                t.saturating_sub(now)
            ),
            None => println!("  next request:       allowed now"),
        }
        if r.blocked_until.is_some_and(|t| t > now) {
            println!("  BLOCKED by the service; nothing is sent until the hold ends");
        }
    }
}
