//! The update cycle: detect → validate → lock → guard → record → send →
//! classify → record → the user's hooks. A run an interface event triggered first waits a
//! random delay (`jitter`) when the guard would send: see [`run`].
//!
//! This is the one place the pieces meet; the CLI, watch mode and the C ABI
//! all call [`run`], and the C ABI's firmware calls run its guarded part
//! ([`begin`], [`Permit::park`], [`resume`], [`Permit::conclude`]). Each
//! phase is a type, so none is skipped: see [`cycle`]. What a run ended
//! with is an [`Outcome`] of one [`Kind`]: see [`outcome`].

#![forbid(unsafe_code)]

pub mod cycle;
pub mod outcome;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::detect;
use crate::error::Error;
use crate::guard::{self, AttemptResult, Decision, Want};
use crate::jitter;
use crate::reply::{self, Verdict};
use crate::request;
use crate::state::LOCK_WAIT_MARGIN;
use crate::transport::Transport;

pub use cycle::{begin, peek_record, resume, Begun, Clock, Concluded, Parked, Permit};
pub use outcome::{held, seconds_until, Kind, Outcome};

/// How loud a log message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error,
    /// The user should know (plain HTTP, corrupt state, blocked).
    Warn,
    /// What the run did.
    Info,
    /// Details for `-v`.
    Debug,
}

/// Receives log messages; they are already free of the password.
pub type Log<'a> = &'a mut dyn FnMut(Level, &str);

/// Per-run switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// `--force`: send even if unchanged (the floor still holds).
    pub force: bool,
    /// `--dry-run`: build and show the request, send nothing, write nothing.
    pub dry_run: bool,
    /// The clock, in Unix seconds.
    pub now: i64,
}

/// Most characters of a reply kept in outcomes and the state file.
const REPLY_CHARS: usize = 512;

/// Runs one guarded update: detect, validate, [`begin`], send,
/// [`Permit::conclude`], then the `on_update` / `on_change` hooks (not
/// for a held run or a dry run). With `config.jitter` set, a run the guard would
/// let send first waits a random delay of at most that many seconds, then
/// detects the address again. Errors are input, state and detection
/// problems (nothing was sent); everything else, replies included, is an
/// [`Outcome`].
pub fn run(
    config: &Config,
    opts: &RunOptions,
    transport: &dyn Transport,
    log: Log<'_>,
) -> Result<Outcome, Error> {
    let clock = Clock::starting_at(opts.now);
    let secret = config.password.clone();
    let mut log = |level: Level, msg: &str| log(level, &secret.mask(msg));

    if let Some(warning) = config.address.warning() {
        log(Level::Warn, &warning);
    }
    let mut ip = detect_ip(config, &mut log)?;
    if !opts.dry_run {
        let want = want(config, &config.fields(ip), opts.force);
        if wait_jitter(config, &want, &clock, &mut log) {
            // The address may have changed meanwhile: the newest goes out.
            ip = detect_ip(config, &mut log)?;
        }
    }
    let fields = config.fields(ip);
    fields.validate(config.allow_private)?;
    let request = request::build(&config.server, &fields);
    if !config.server.is_tls() {
        log(
            Level::Warn,
            &format!(
                "plain HTTP to {}: the password travels in clear text",
                config.server.host()
            ),
        );
    }
    let want = want(config, &fields, opts.force);

    if opts.dry_run {
        return Ok(dry_run(config, opts, &clock, &want, &request));
    }

    let permit = match begin(config, &want, clock, &mut log)? {
        Begun::Held(outcome) => return Ok(outcome),
        Begun::Send { permit, .. } => permit,
    };
    log(Level::Debug, &format!("GET {}", request.masked_url()));
    let sent = transport.send(&request);

    let (mut outcome, result) = match sent {
        Ok(http) => {
            // Classify what the server said, all of it; show and store it
            // masked and bounded.
            let verdict = reply::classify_body(http.status, &http.body);
            let text = secret.mask_reply(&http.body, REPLY_CHARS);
            let mut o = outcome::from_reply(verdict, ip, &text, http.status);
            o.http_status = Some(http.status);
            o.reply = Some(text);
            (o, attempt_result(verdict))
        }
        Err(e) => {
            let message = secret.mask(&e.message);
            let (result, what) = if e.may_have_reached_server {
                (
                    AttemptResult::FailedSent,
                    "the request may have reached the server",
                )
            } else {
                (AttemptResult::FailedUnsent, "nothing reached the server")
            };
            let mut o = Outcome::new(
                Kind::Failed,
                ip,
                format!("update of {ip} failed: {message} ({what})"),
            );
            o.reply = Some(message);
            (o, result)
        }
    };
    outcome.sent = result != AttemptResult::FailedUnsent;
    outcome.request = Some(request.masked_url().to_string());

    let previous = permit.registered_before();
    let concluded = permit.conclude(result, outcome.http_status, outcome.reply.as_deref());
    if let Err(e) = concluded.stored {
        // The attempt itself is on disk, so the floor holds; say so.
        log(
            Level::Error,
            &format!("{e}; the attempt was recorded before sending"),
        );
    }
    let (record, now) = (&concluded.record, concluded.at);
    if matches!(
        result,
        AttemptResult::FailedSent | AttemptResult::FailedUnsent
    ) {
        outcome.retry_after_s = record.next_allowed(now).map(|t| seconds_until(t, now));
    }
    if result == AttemptResult::Blocked {
        outcome.retry_after_s = record.blocked_until.map(|t| seconds_until(t, now));
    }
    // The record is stored and the state lock released (conclude took the
    // permit): a hook may read the state or run the client itself.
    crate::hook::after_attempt(config, &outcome, previous, record.registered_ip, &mut log);
    Ok(outcome)
}

/// The address from `config`'s source.
fn detect_ip(config: &Config, log: Log<'_>) -> Result<Ipv4Addr, Error> {
    let ip = detect::detect(
        &config.address,
        config.transport.timeout,
        config.transport.bind_interface.as_deref(),
        &[config.password.expose()],
    )?;
    if !matches!(config.address, detect::AddressSource::Fixed(_)) {
        log(
            Level::Debug,
            &format!("{} gave {ip}", config.address.describe()),
        );
    }
    Ok(ip)
}

/// The random wait of a run an interface event triggered (`jitter`, at
/// most `config.jitter` seconds, none when unset): when the guard, asked
/// at `clock`'s time with the state read without the lock, would send `want`,
/// sleeps [`jitter::event_wait`] seconds and returns whether it did. The
/// cycle asks the guard again under the lock afterwards, so the wait only
/// ever postpones a request. Nothing is written.
fn wait_jitter(config: &Config, want: &Want, clock: &Clock, log: Log<'_>) -> bool {
    let max_s = config.jitter.map_or(0, |j| i64::try_from(j).unwrap_or(0));
    if max_s == 0 {
        return false;
    }
    let Some(record) = peek_record(config) else {
        return false;
    };
    let decision = guard::decide(&record, clock.at(clock.now()), want);
    let wait = jitter::event_wait(jitter_seed(config), max_s, &decision);
    if wait <= 0 {
        return false;
    }
    log(
        Level::Info,
        &format!("waiting {wait} s (jitter) before sending"),
    );
    std::thread::sleep(Duration::from_secs(wait.unsigned_abs()));
    true
}

/// A seed for one run's jitter: [`jitter::seed`] of `config`'s account
/// (server and user name: they tell a fleet's clients apart) and a
/// per-run value from the clock's nanoseconds and the process id.
pub fn jitter_seed(config: &Config) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let run = nanos ^ (u64::from(std::process::id()) << 32);
    let account = format!("{} {}", config.server.host(), config.username);
    jitter::seed(&account, run)
}

/// What the guard compares for the update `fields` built from `config`:
/// the address, the credentials' and the request options' fingerprints,
/// and the force settings. The CLI, watch mode and the C ABI's guard calls
/// all build it here, so they decide alike.
pub fn want(config: &Config, fields: &request::UpdateFields, force: bool) -> Want {
    Want {
        ip: fields.ip,
        force,
        force_interval: config.force_interval,
        credential: guard::credential_fingerprint(
            config.server.host(),
            &config.username,
            config.password.expose(),
        ),
        options: guard::options_fingerprint(fields),
    }
}

/// How long a run waits for the state lock: its request timeout plus a
/// margin for the run that holds it to write its outcome.
pub fn lock_wait(config: &Config) -> std::time::Duration {
    config.transport.timeout.saturating_add(LOCK_WAIT_MARGIN)
}

fn attempt_result(verdict: Verdict) -> AttemptResult {
    match verdict {
        Verdict::Accepted => AttemptResult::Updated,
        Verdict::Unconfirmed => AttemptResult::Unconfirmed,
        Verdict::Rejected(_) => AttemptResult::Rejected,
        Verdict::Blocked(_) => AttemptResult::Blocked,
        Verdict::Failed(_) => AttemptResult::FailedSent,
    }
}

/// `--dry-run`: the request that would go out and what the guard would
/// say, from the state read without the exclusive lock; nothing written.
fn dry_run(
    config: &Config,
    opts: &RunOptions,
    clock: &Clock,
    want: &Want,
    request: &request::Request,
) -> Outcome {
    let record = peek_record(config).unwrap_or_default();
    // With the boot clock the run's clock read at its start, as the
    // locked cycle asks the guard.
    let verdict = match guard::decide(&record, clock.at(opts.now), want) {
        Decision::Send(reason) => format!(
            "the guard would send it ({})",
            outcome::describe_reason(reason, want.ip)
        ),
        decision => format!(
            "the guard would not send it: {}",
            held(decision, want.ip, opts.now, &record).message
        ),
    };
    let mut o = Outcome::new(
        Kind::DryRun,
        want.ip,
        format!(
            "dry run, nothing sent: GET {}; {verdict}",
            request.masked_url()
        ),
    );
    o.request = Some(request.masked_url().to_string());
    o
}
