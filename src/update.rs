//! The update cycle: detect → validate → lock → guard → record → send →
//! classify → record.
//!
//! This is the one place the pieces meet; the CLI, watch mode and the C ABI
//! all call [`run`]. Each step is a named function so none is skipped. The
//! attempt is written to the state file before the request goes out, and the
//! lock is held until the outcome is written, so concurrent runs send one
//! request and a crash mid-request still counts toward the floor.

#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, ToSocketAddrs};

use serde::Serialize;

use crate::config::Config;
use crate::detect;
use crate::error::{Error, Status};
use crate::guard::{self, AttemptResult, Decision, DeferReason, Record, SendReason, Want};
use crate::reply::{self, Verdict};
use crate::request;
use crate::state::{Store, LOCK_WAIT_MARGIN};
use crate::transport::Transport;

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

/// What a run ended with, for people (`message`) and scripts (the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `updated`, `unconfirmed`, `unchanged`, `deferred`, `failed`,
    /// `rejected`, `blocked`, `dry-run`, or `invalid` (bad input, see
    /// [`Outcome::from_error`]).
    pub outcome: &'static str,
    /// The address concerned.
    pub ip: Option<Ipv4Addr>,
    /// The reply's HTTP status, if a reply came.
    pub http_status: Option<u16>,
    /// The reply text (bounded, password masked).
    pub reply: Option<String>,
    /// Seconds until a request may go out, when deferred or blocked.
    pub retry_after_s: Option<i64>,
    /// Whether a request was sent in this run.
    pub sent: bool,
    /// A sentence for the user.
    pub message: String,
    /// The URL that was (or, on a dry run, would be) sent, password masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The exit status.
    #[serde(skip)]
    pub status: Status,
}

impl Outcome {
    /// The outcome of a run that an error stopped before any request:
    /// `invalid` for bad input (exit 2), `deferred` when another run held
    /// the state lock too long (exit 3), `failed` otherwise.
    pub fn from_error(error: &Error) -> Outcome {
        let status = error.status();
        let outcome = match status {
            Status::BadInput => "invalid",
            Status::Deferred => "deferred",
            _ => "failed",
        };
        Outcome::with_ip(outcome, status, None, error.to_string())
    }

    fn new(outcome: &'static str, status: Status, ip: Ipv4Addr, message: String) -> Outcome {
        Outcome::with_ip(outcome, status, Some(ip), message)
    }

    /// An outcome with nothing sent and no reply yet.
    fn with_ip(
        outcome: &'static str,
        status: Status,
        ip: Option<Ipv4Addr>,
        message: String,
    ) -> Outcome {
        Outcome {
            outcome,
            ip,
            http_status: None,
            reply: None,
            retry_after_s: None,
            sent: false,
            message,
            request: None,
            status,
        }
    }
}

/// Most characters of a reply kept in outcomes and the state file.
const REPLY_CHARS: usize = 512;

/// Runs one guarded update. Errors are input, state and detection problems
/// (nothing was sent); everything else, replies included, is an [`Outcome`].
pub fn run(
    config: &Config,
    opts: &RunOptions,
    transport: &dyn Transport,
    log: Log<'_>,
) -> Result<Outcome, Error> {
    let started = std::time::Instant::now();
    let secret = config.password.clone();
    let mut log = |level: Level, msg: &str| log(level, &secret.mask(msg));

    if let Some(warning) = config.address.warning() {
        log(Level::Warn, &warning);
    }
    let ip = detect::detect(
        &config.address,
        config.transport.timeout,
        &[config.password.expose()],
    )?;
    if !matches!(config.address, detect::AddressSource::Fixed(_)) {
        log(
            Level::Debug,
            &format!("{} gave {ip}", config.address.describe()),
        );
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
        return Ok(dry_run(config, opts, &want, &request));
    }

    let mut store = Store::open_locked(&config.state_path, opts.now, lock_wait(config))?;
    for warning in store.warnings() {
        log(Level::Warn, warning);
    }
    let host = config.server.host();
    let mut record = store.get(host, &config.username);
    let now =
        time_after_wait(opts.now, &record, started.elapsed()).max(clock_since(opts.now, started));
    seed_empty_record(config, ip, now, &mut record, &mut log);

    let reason = match guard::decide(&record, now, &want) {
        Decision::Send(reason) => reason,
        decision => return Ok(held(decision, ip, now, &record)),
    };
    log(
        Level::Debug,
        &format!("sending: {}", describe_reason(reason, ip)),
    );

    // Record the attempt first: if this cannot be written, nothing is sent.
    // Its time is read now, immediately before the request goes out, so
    // the floor counts from the send, not from the start of the run.
    let now = now.max(clock_since(opts.now, started));
    store
        .put(host, &config.username, record.attempting(ip, now))
        .map_err(|e| match e {
            Error::State { path, what } => Error::State {
                path,
                what: format!("{what}; the attempt cannot be recorded, so nothing was sent"),
            },
            other => other,
        })?;
    log(Level::Debug, &format!("GET {}", request.masked_url()));
    let sent = transport.send(&request);

    let (mut outcome, result) = match sent {
        Ok(http) => {
            // Classify what the server said, all of it; show and store it
            // masked and bounded.
            let verdict = reply::classify_body(http.status, &http.body);
            let text = secret.mask_reply(&http.body, REPLY_CHARS);
            let mut o = reply_outcome(verdict, ip, &text, http.status);
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
                "failed",
                Status::Network,
                ip,
                format!("update of {ip} failed: {message} ({what})"),
            );
            o.reply = Some(message);
            (o, result)
        }
    };
    outcome.sent = result != AttemptResult::FailedUnsent;
    outcome.request = Some(request.masked_url().to_string());

    // The outcome is stored with the clock read after the reply: a slow
    // connect or reply moves the floor later, never earlier.
    let now = now.max(clock_since(opts.now, started));
    let mut concluded = record.concluded(&want, now, result);
    concluded.last_http_status = outcome.http_status;
    concluded.last_reply = outcome
        .reply
        .as_ref()
        .map(|r| r.chars().take(200).collect());
    if let Err(e) = store.put(host, &config.username, concluded.clone()) {
        // The attempt itself is on disk, so the floor holds; say so.
        log(
            Level::Error,
            &format!("{e}; the attempt was recorded before sending"),
        );
    }
    if matches!(
        result,
        AttemptResult::FailedSent | AttemptResult::FailedUnsent
    ) {
        outcome.retry_after_s = concluded.next_allowed(now).map(|t| seconds_until(t, now));
    }
    if result == AttemptResult::Blocked {
        outcome.retry_after_s = concluded.blocked_until.map(|t| seconds_until(t, now));
    }
    Ok(outcome)
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

/// The clock now, from its reading `now` at `started`: whole seconds
/// elapsed since are added (never more than have passed).
pub fn clock_since(now: i64, started: std::time::Instant) -> i64 {
    let elapsed = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(elapsed)
}

/// Seconds from `now` to `until`, never negative, saturating at the ends
/// of `i64`.
pub fn seconds_until(until: i64, now: i64) -> i64 {
    until.saturating_sub(now).max(0)
}

/// The time to decide with, once the state lock is held. `now` was read
/// before address detection and the wait for the lock; a run that got the
/// lock first may have written this record since, with a later reading of
/// the clock. Within the time that has passed (rounded up), that reading is
/// the better one: taking it keeps the record from looking like a clock
/// running behind. A record further ahead is left for the guard to refuse.
fn time_after_wait(now: i64, record: &Record, waited: std::time::Duration) -> i64 {
    let latest = now.saturating_add(
        i64::try_from(waited.as_secs())
            .unwrap_or(i64::MAX)
            .saturating_add(1),
    );
    match record.written_at {
        Some(written) if written > now && written <= latest => written,
        _ => now,
    }
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

fn reply_outcome(verdict: Verdict, ip: Ipv4Addr, text: &str, status: u16) -> Outcome {
    let short: String = text.chars().take(120).collect();
    match verdict {
        Verdict::Accepted => Outcome::new("updated", Status::Ok, ip, format!("updated to {ip}")),
        Verdict::Unconfirmed => Outcome::new(
            "unconfirmed",
            Status::Ok,
            ip,
            format!(
                "sent {ip}; the service answered HTTP {status} {short:?}, which the client does not recognise, so it is counted as registered and not re-sent"
            ),
        ),
        Verdict::Rejected(why) => Outcome::new(
            "rejected",
            Status::Rejected,
            ip,
            format!(
                "the service rejected the update of {ip}: {why} (reply {short:?}); check the user name and password; the same address and login are not retried for 24 h"
            ),
        ),
        Verdict::Blocked(why) => Outcome::new(
            "blocked",
            Status::Blocked,
            ip,
            format!(
                "BLOCKED: {why} (reply {short:?}); nothing will be sent for 24 h; contact Microtech support"
            ),
        ),
        Verdict::Failed(why) => Outcome::new(
            "failed",
            Status::Network,
            ip,
            format!("update of {ip} failed: HTTP {status}, {why}"),
        ),
    }
}

/// The outcome [`run`] reports when the guard holds a request back (also
/// for callers that run the guard themselves); `decision` is not a send.
pub fn held(decision: Decision, ip: Ipv4Addr, now: i64, record: &Record) -> Outcome {
    match decision {
        Decision::Unchanged { since } => {
            let since = since
                .map(|t| format!(" (registered {} s ago)", now.saturating_sub(t).max(0)))
                .unwrap_or_default();
            Outcome::new(
                "unchanged",
                Status::Ok,
                ip,
                format!("{ip} is already registered{since}; nothing to do"),
            )
        }
        Decision::Defer { until, why } => {
            let rule = match why {
                DeferReason::Floor => "the 10-minute minimum between requests".to_string(),
                DeferReason::Backoff => format!("backoff after {} failed attempt(s)", record.failures),
                DeferReason::Rejected => {
                    "the service rejected this address with these credentials; fix the login or wait"
                        .to_string()
                }
                DeferReason::Unrequired => format!(
                    "the 24 h rule for updates that change nothing ({ip} is registered with these options; forcing does not override it)"
                ),
            };
            let mut o = Outcome::new(
                "deferred",
                Status::Deferred,
                ip,
                format!(
                    "update to {ip} deferred by {rule}; next attempt allowed in {} s",
                    seconds_until(until, now)
                ),
            );
            o.retry_after_s = Some(seconds_until(until, now));
            o
        }
        Decision::Blocked { until } => {
            let mut o = Outcome::new(
                "blocked",
                Status::Blocked,
                ip,
                format!(
                    "BLOCKED: the service blocked this account or client; nothing is sent for another {} s; contact Microtech support",
                    seconds_until(until, now)
                ),
            );
            o.retry_after_s = Some(seconds_until(until, now));
            o
        }
        Decision::ClockBehind { state_time } => {
            let mut o = Outcome::new(
                "deferred",
                Status::Deferred,
                ip,
                format!(
                    "the system clock ({now}) is behind the state file ({state_time}), as on a router that has not synced its clock (NTP) yet; nothing sent. If the clock is right and the state is wrong, remove the state file"
                ),
            );
            o.retry_after_s = Some(seconds_until(state_time, now));
            o
        }
        Decision::ClockImplausible { now } => {
            let mut o = Outcome::new(
                "deferred",
                Status::Deferred,
                ip,
                format!(
                    "the system clock ({now}) is before 2020 or after 2100, not synced (NTP) yet; nothing sent"
                ),
            );
            o.retry_after_s = Some(guard::FLOOR_S);
            o
        }
        Decision::Send(_) => unreachable_send(ip),
    }
}

/// `held_outcome` is never called with `Send`; answer safely if it were.
fn unreachable_send(ip: Ipv4Addr) -> Outcome {
    Outcome::new(
        "failed",
        Status::Network,
        ip,
        "internal: no decision".into(),
    )
}

fn describe_reason(reason: SendReason, ip: Ipv4Addr) -> String {
    match reason {
        SendReason::FirstRun => format!("first update, {ip}"),
        SendReason::Changed { from } => format!("address changed from {from} to {ip}"),
        SendReason::OptionsChanged => format!("request options changed, sending {ip} with them"),
        SendReason::Retry => format!("the last attempt's outcome is unknown, sending {ip} again"),
        SendReason::Forced => format!("forced update of {ip}"),
        SendReason::Refresh => format!("force interval passed, refreshing {ip}"),
    }
}

fn dry_run(config: &Config, opts: &RunOptions, want: &Want, request: &request::Request) -> Outcome {
    let record = crate::state::read_entries(&config.state_path)
        .ok()
        .and_then(|entries| {
            entries
                .into_iter()
                .find(|e| e.is_for(config.server.host(), &config.username))
        })
        .map(|e| e.record)
        .unwrap_or_default();
    let verdict = match guard::decide(&record, opts.now, want) {
        Decision::Send(reason) => format!(
            "the guard would send it ({})",
            describe_reason(reason, want.ip)
        ),
        decision => format!(
            "the guard would not send it: {}",
            held(decision, want.ip, opts.now, &record).message
        ),
    };
    let mut o = Outcome::new(
        "dry-run",
        Status::Ok,
        want.ip,
        format!(
            "dry run, nothing sent: GET {}; {verdict}",
            request.masked_url()
        ),
    );
    o.request = Some(request.masked_url().to_string());
    o
}

/// With no state yet, a `lookup_host` that already resolves to `ip` counts
/// as registered (in memory only: the state is written only on attempts).
fn seed_from_dns(
    config: &Config,
    ip: Ipv4Addr,
    now: i64,
    record: &mut Record,
    log: &mut dyn FnMut(Level, &str),
) {
    let Some(name) = &config.lookup_host else {
        return;
    };
    match (name.as_str(), 0).to_socket_addrs() {
        Ok(addrs) => {
            let found: Vec<Ipv4Addr> = addrs
                .filter_map(|a| match a.ip() {
                    std::net::IpAddr::V4(v4) => Some(v4),
                    _ => None,
                })
                .collect();
            if found.contains(&ip) {
                log(
                    Level::Info,
                    &format!("{name} already resolves to {ip}; counting it as registered"),
                );
                record.registered_ip = Some(ip);
                record.registered_at = Some(now);
            } else {
                log(
                    Level::Debug,
                    &format!("{name} resolves to {found:?}, not {ip}"),
                );
            }
        }
        Err(e) => log(Level::Debug, &format!("cannot resolve {name}: {e}")),
    }
}

/// For callers that run the rate guard without [`run`] because they send
/// the request themselves (the C ABI's `mtgsy_guard_check`): with no state
/// yet, lets `lookup_host` count as registered, exactly as [`run`] does.
pub fn seed_empty_record(
    config: &Config,
    ip: Ipv4Addr,
    now: i64,
    record: &mut Record,
    log: Log<'_>,
) {
    if record.is_blank() {
        seed_from_dns(config, ip, now, record, log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn written(at: Option<i64>) -> Record {
        Record {
            written_at: at,
            ..Record::default()
        }
    }

    #[test]
    fn a_record_written_during_the_wait_sets_the_time() {
        let ms = Duration::from_millis;
        // Written 1 s after our reading, within a wait of 0.3 s rounded up.
        assert_eq!(time_after_wait(100, &written(Some(101)), ms(300)), 101);
        assert_eq!(time_after_wait(100, &written(Some(103)), ms(2_500)), 103);
        // Not ahead: our reading stands.
        assert_eq!(time_after_wait(100, &written(Some(99)), ms(300)), 100);
        assert_eq!(time_after_wait(100, &written(Some(100)), ms(0)), 100);
        assert_eq!(time_after_wait(100, &written(None), ms(5_000)), 100);
    }

    #[test]
    fn a_record_further_ahead_is_left_for_the_guard() {
        let ms = Duration::from_millis;
        // More ahead than the wait explains: a clock behind, which the
        // guard refuses.
        assert_eq!(time_after_wait(100, &written(Some(102)), ms(300)), 100);
        assert_eq!(time_after_wait(100, &written(Some(3_700)), ms(2_000)), 100);
        assert_eq!(
            time_after_wait(i64::MAX, &written(Some(1)), Duration::MAX),
            i64::MAX
        );
    }
}
