//! `mtgsy-ddns`: the command-line front of the library. It parses words,
//! runs one library call and owns the exit policy; all logic is in the
//! library.

mod args;
mod help;
mod output;
mod syslog;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use mtgsy_ddns::doctor::{self, Report};
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
            print!("{}", help::text());
            0
        }
        Action::Usage => {
            // The synopsis only (the first lines of the help), on stderr
            // through the one line printer.
            Printer::new(1, false).log(Level::Info, help::USAGE);
            Status::BadInput.code()
        }
        Action::Version => {
            println!("mtgsy-ddns {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Action::Update => run_update(cli),
        Action::Status => run_status(cli),
        Action::Watch => run_watch(cli),
        Action::Config => run_config(cli),
        Action::Doctor => run_doctor(cli),
    }
}

/// `config`: every setting as resolved from the config file, the
/// environment and the flags, or its default; the password only as
/// `(set)`. The settings are checked as `update` (or, with a `hosts` list,
/// `watch`) checks them: bad input is exit 2, nothing printed on stdout
/// but the `--json` failure.
fn run_config(cli: &Cli) -> i32 {
    let mut printer = Printer::new(cli.verbose, cli.syslog);
    let result = (|| -> Result<_, Error> {
        let (settings, file) = args::settings(cli)?;
        if file.as_ref().is_some_and(|f| f.hosts.is_some()) {
            watch::configs(&settings, file.as_ref())?;
        } else {
            settings.resolve()?;
        }
        Ok(settings.into_shown())
    })();
    let shown = match result {
        Ok(shown) => shown,
        Err(e) => {
            printer.failure(&e, cli.json);
            return e.status().code();
        }
    };
    let mut text = String::with_capacity(1024);
    for (i, (setting, value)) in shown.iter().enumerate() {
        if cli.json {
            // One object; values as text (as a config file takes them),
            // null when unset.
            text.push_str(if i == 0 { "{" } else { "," });
            text.push_str(&json_string(setting.name()));
            text.push(':');
            text.push_str(&value.as_deref().map_or("null".into(), json_string));
        } else {
            text.push_str(setting.name());
            text.push_str(" =");
            if let Some(value) = value {
                text.push(' ');
                text.push_str(value);
            }
            text.push('\n');
        }
    }
    if cli.json {
        text.push_str("}\n");
    }
    print!("{text}");
    0
}

/// `doctor`: per host, what stands between it and a working record (see
/// the library's `doctor`); no update sent, the password never read. The
/// settings are checked first, as `config` checks them (bad input: exit
/// 2, nothing probed); then exit 0 when all is well, 1 when a finding
/// needs the user.
fn run_doctor(cli: &Cli) -> i32 {
    let refused = [(cli.force, "--force"), (cli.dry_run, "--dry-run")];
    if let Some(code) = refuse(&refused, "doctor never sends one", |m| {
        Printer::stderr_only().error(&format!("doctor: {m}"))
    }) {
        return code;
    }
    let result = (|| -> Result<_, Error> {
        let (settings, file) = args::settings(cli)?;
        let configs = watch::configs(&settings, file.as_ref())?;
        for config in &configs {
            HttpTransport::new(&config.transport)?;
        }
        Ok((configs, mtgsy_ddns::now()?))
    })();
    let (configs, now) = match result {
        Ok(checked) => checked,
        Err(e) => {
            Printer::new(cli.verbose, false).failure(&e, cli.json);
            return e.status().code();
        }
    };
    let reports: Vec<Report> = configs.iter().map(|c| doctor::check(c, now)).collect();
    let fine = !reports.iter().any(Report::needs_user);
    if cli.json {
        let hosts: Vec<String> = reports.iter().map(Report::json).collect();
        println!(
            "{{\"ok\":{fine},\"now\":{now},\"build_time\":{},\"hosts\":[{}]}}",
            doctor::build_time(),
            hosts.join(",")
        );
    } else {
        let texts: Vec<String> = reports.iter().map(Report::text).collect();
        print!("{}", texts.join("\n"));
    }
    i32::from(!fine)
}

/// Exit 2, after one line through `say`, when one of `flags` (given or
/// not, and its spelling) was given to a command that takes no such
/// option; `why` says why it does not.
fn refuse(flags: &[(bool, &str)], why: &str, say: impl FnOnce(&str)) -> Option<i32> {
    let (_, flag) = flags.iter().find(|(given, _)| *given)?;
    say(&format!("{flag} is for `mtgsy-ddns update`; {why}"));
    Some(Status::BadInput.code())
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "null".into())
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
    let refused = [
        (cli.force, "--force"),
        (cli.dry_run, "--dry-run"),
        (cli.json, "--json"),
    ];
    if let Some(code) = refuse(&refused, "watch decides on its own when to send", |m| {
        lock(&printer).error(&format!("watch: {m}"))
    }) {
        return code;
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
        let (path, entries) = mtgsy_ddns::status::read(&settings)?;
        let now = mtgsy_ddns::now()?;
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
