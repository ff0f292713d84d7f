//! `mtgsy-ddns`: the command-line front of the library. It parses words,
//! runs one library call and owns the exit policy; all logic is in the
//! library.

mod args;
mod output;
mod syslog;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use mtgsy_ddns::transport::HttpTransport;
use mtgsy_ddns::update::{self, Level, RunOptions};
use mtgsy_ddns::watch;
use mtgsy_ddns::{Error, Status};

use args::{Action, Cli};
use output::Printer;

fn main() -> ExitCode {
    forbid_core_dumps();
    let words: Vec<String> = std::env::args().skip(1).collect();
    let code = match args::parse(&words) {
        Ok(cli) => run(&cli),
        Err(e) => {
            Printer::stderr_only().error(&e.to_string());
            Status::BadInput.code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The process holds the password: no core dump may write it to disk, and
/// other users may not attach to it or read its memory.
fn forbid_core_dumps() {
    // SAFETY: PR_SET_DUMPABLE takes plain integer arguments and touches no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

fn run(cli: &Cli) -> i32 {
    match cli.action {
        Action::Help => {
            print!(
                "mtgsy-ddns: {USAGE}\n\n{HELP}{}{HELP_TAIL}",
                mtgsy_ddns::state::default_path().display()
            );
            0
        }
        Action::Usage => {
            // The synopsis only (the first lines of the help), on stderr
            // through the one line printer.
            Printer::new(1, false).log(Level::Info, USAGE);
            Status::BadInput.code()
        }
        Action::Version => {
            println!("mtgsy-ddns {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Action::Update => run_update(cli),
        Action::Status => run_status(cli),
        Action::Watch => run_watch(cli),
    }
}

fn run_update(cli: &Cli) -> i32 {
    let mut printer = Printer::new(cli.verbose, cli.syslog);
    let result = (|| -> Result<update::Outcome, Error> {
        let (settings, _) = args::settings(cli)?;
        let config = settings.resolve()?;
        let now = mtgsy_ddns::now()?;
        let transport = HttpTransport::new(&config.transport)?;
        let opts = RunOptions {
            force: cli.force,
            dry_run: cli.dry_run,
            now,
        };
        update::run(&config, &opts, &transport, &mut |level, msg| {
            printer.log(level, msg)
        })
    })();
    match result {
        Ok(outcome) => {
            printer.outcome(&outcome, cli.json);
            outcome.status().code()
        }
        Err(e) => {
            printer.failure(&e, cli.json);
            e.status().code()
        }
    }
}

/// `watch`: runs until SIGTERM or SIGINT. What each check did is logged
/// (info lines shown by default here, unlike `update`), one line per event.
fn run_watch(cli: &Cli) -> i32 {
    let printer = Arc::new(Mutex::new(Printer::new(
        cli.verbose.saturating_add(1),
        cli.syslog,
    )));
    let refuse = [
        (cli.force, "--force"),
        (cli.dry_run, "--dry-run"),
        (cli.json, "--json"),
    ];
    if let Some((_, flag)) = refuse.iter().find(|(given, _)| *given) {
        lock(&printer).error(&format!(
            "watch: {flag} is for `mtgsy-ddns update`; watch decides on its own when to send"
        ));
        return Status::BadInput.code();
    }
    let log_printer = printer.clone();
    let log: watch::SharedLog =
        Arc::new(move |level, msg: &str| lock(&log_printer).log(level, msg));
    let mut load = || -> Result<Vec<mtgsy_ddns::Config>, Error> {
        let (settings, file) = args::settings(cli)?;
        Ok(watch::configs(&settings, file.as_ref())?)
    };
    match watch::run(&mut load, log) {
        Ok(()) => 0,
        Err(e) => {
            lock(&printer).failure(&e, false);
            e.status().code()
        }
    }
}

fn lock(printer: &Mutex<Printer>) -> std::sync::MutexGuard<'_, Printer> {
    printer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_status(cli: &Cli) -> i32 {
    let mut printer = Printer::new(cli.verbose, false);
    let result = (|| -> Result<i32, Error> {
        let (settings, _) = args::settings(cli)?;
        let path = settings
            .state
            .clone()
            .unwrap_or_else(mtgsy_ddns::state::default_path);
        let server_host = match &settings.server {
            Some(url) => Some(
                mtgsy_ddns::request::Server::parse(url, true)?
                    .host()
                    .to_string(),
            ),
            None => None,
        };
        let now = mtgsy_ddns::now()?;
        let entries: Vec<_> = mtgsy_ddns::state::read_entries(&path)?
            .into_iter()
            .filter(|e| {
                let same = mtgsy_ddns::guard::same_key;
                settings
                    .username
                    .as_ref()
                    .is_none_or(|u| same(u, &e.username))
                    && server_host.as_ref().is_none_or(|h| same(h, &e.server))
            })
            .collect();
        if cli.registered_ip {
            return Ok(match entries.iter().find_map(|e| e.record.registered_ip) {
                Some(ip) => {
                    println!("{ip}");
                    0
                }
                None => 1,
            });
        }
        output::print_status(&path, &entries, now, cli.json);
        Ok(0)
    })();
    result.unwrap_or_else(|e| {
        printer.failure(&e, cli.json);
        e.status().code()
    })
}

/// The help's first lines, also printed alone when no arguments are given.
const USAGE: &str = "\
dynamic DNS client for Microtech (mtgsy.net), with a rate guard
that never gets the account blocked.

USAGE:
    mtgsy-ddns update [OPTIONS]      one guarded update
    mtgsy-ddns status [OPTIONS]      what the state file says
    mtgsy-ddns watch [OPTIONS]       stay running; update within a second of an
                                     address change (Linux rtnetlink, no polling)
    mtgsy-ddns --version | --help";

const HELP: &str = "\
ACCOUNT:
    --username NAME        account e-mail or one dynamic domain (or MTGSY_USERNAME)
    --password-file FILE   read the password from FILE ('-' = stdin); or set
                           MTGSY_PASSWORD; never given as a flag value
    --config FILE          JSON object with the same keys as the long options
                           (dashes or underscores); flags override it

ADDRESS (give one source):
    --ip ADDR              the IPv4 address to register
    --interface IFACE      the first global address of IFACE
    --ip-url URL           the first IPv4 address in the page at URL
    --ip-command CMD       the first IPv4 address CMD prints
    --ip-source interface|web|command   optional; names the source given
    --allow-private        permit private, CGNAT, loopback, ... addresses
    --lookup-host NAME     with no state yet, NAME resolving to the address
                           counts as already registered

REQUEST:
    --hb 0|1               heartbeats (default 0; always sent)
    --stealth 0|1          offline redirect in a hidden frame
    --port N               port of your web site when the ISP blocks 80 (not 80)
    --offline-url URL      where visitors go while offline (http:// or https://)
    --offline-text TEXT    what visitors see while offline
    --mx HOST.             MX host, fully qualified, ending in a period

TRANSPORT:
    --server URL           default https://www.mtgsy.net/dns/update.php
    --ca-file PEM          trust these roots instead of the built-in ones
    --allow-http           permit a http:// server (password in clear text!)
    --timeout SECONDS      connect + whole request (default 30)

GUARD AND STATE:
    --state PATH           default here: ";

const HELP_TAIL: &str = "
                           (/etc/mtgsy-ddns/state.json on OpenWrt, else
                           /var/lib/mtgsy-ddns/state.json)
    --force                send even if unchanged; the 10-minute floor holds,
                           and an update that changes nothing goes out at
                           most once a day
    --force-interval SECS  resend an unchanged address after this (default
                           259200 = 72 h; at least 86400 = 24 h)

WATCH:
    --check-interval SECS  safety-net re-check (default 600, at least 60)
    config \"hosts\": [{...}, ...]  several hosts, each with its own user name;
                           top-level keys and flags are their defaults
    signals: SIGTERM/SIGINT stop, SIGHUP reloads the config, SIGUSR1 checks now

OUTPUT:
    --dry-run              show the request (password masked); send nothing
    --json                 one JSON object on stdout
    -v, --verbose          more detail on stderr
    --syslog               also log to syslog
    status --registered-ip print only the registered address (exit 1 if none)

EXIT CODES:
    0 updated or nothing to do    2 bad input or configuration (nothing sent)
    3 deferred by the rate guard  4 network, TLS or server error
    5 rejected by the service     6 blocked by the service
    1 watch: the system refused signals or netlink (nothing sent)
";
