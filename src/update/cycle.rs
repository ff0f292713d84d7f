//! The guarded part of an update cycle, in phases that are types:
//!
//! 1. [`begin`]: look up `lookup_host` if the record is blank (before the
//!    lock, with a deadline), take the state lock (bounded wait), read and
//!    time the record, ask the guard; on "send", write the attempt as
//!    pending and hand back a [`Permit`]; otherwise the held [`Outcome`].
//! 2. The caller sends the request (the CLI and watch mode through a
//!    transport; firmware by itself, after [`Permit::park`] released the
//!    lock, then [`resume`] to take it again).
//! 3. [`Permit::conclude`]: store what the attempt ended with, timed by a
//!    clock read after the reply.
//!
//! A permit holds the state lock (unless parked), so concurrent runs send
//! one request, and the pending attempt on disk makes a crash mid-request
//! still count toward the floor. The [`Clock`] carries the boot clock
//! (`crate::boot_clock`) beside the wall clock, so the guard also counts
//! the floor in real time.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::outcome::{self, Outcome};
use super::{lock_wait, Level, Log};
use crate::boot_clock;
use crate::config::Config;
use crate::error::Error;
use crate::guard::{self, AttemptResult, BootTime, Decision, Now, Record, SendReason, Want};
use crate::state::{self, Store};

/// A reading of the clock and the moment it was taken, so later phases
/// can tell the time without reading the system clock again; with it the
/// boot clock, when `now` is the system clock's reading (see
/// `crate::boot_clock`).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    now: i64,
    started: Instant,
    boot: Option<BootTime>,
    synced: bool,
}

impl Clock {
    /// The clock read as `now` (Unix seconds) at this moment.
    pub fn starting_at(now: i64) -> Clock {
        let read = boot_clock::reading_for(now);
        Clock {
            now,
            started: Instant::now(),
            boot: read.boot,
            synced: read.synced,
        }
    }

    /// The reading plus the whole seconds elapsed since (never more than
    /// have passed).
    pub fn now(&self) -> i64 {
        self.now.saturating_add(self.elapsed())
    }

    /// `wall` for the guard, with the boot clock advanced by the same
    /// elapsed seconds as [`Clock::now`] (the boot clock is read once, when
    /// the clock starts).
    pub fn at(&self, wall: i64) -> Now {
        let elapsed = self.elapsed();
        Now {
            wall,
            boot: self.boot.map(|b| BootTime {
                secs: b.secs.saturating_add(elapsed),
                ..b
            }),
            synced: self.synced,
        }
    }

    fn elapsed(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_secs()).unwrap_or(i64::MAX)
    }
}

/// What [`begin`] found.
// Made once per run and moved once: boxing the permit would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Begun {
    /// The guard holds the request back; nothing was written but, when due,
    /// the time of this check (`Record::last_check`).
    Held(Outcome),
    /// Send exactly one request now, then conclude the permit.
    Send {
        /// The attempt, written as pending; the state lock is held.
        permit: Permit,
        /// Why the guard lets it go.
        reason: SendReason,
    },
}

/// Leave to send one request: the attempt is on disk as pending and, until
/// [`Permit::conclude`] or [`Permit::park`], the state lock is held.
#[must_use = "the pending attempt must be concluded (or parked) once the request ends"]
#[derive(Debug)]
pub struct Permit {
    store: Store,
    state: PathBuf,
    server: String,
    username: String,
    want: Want,
    /// The record as it was before the attempt: the outcome is concluded
    /// from it, so an attempt that never reached the server does not count.
    before: Record,
    /// What was written as the pending attempt.
    written: Record,
    clock: Clock,
    /// The outcome is never stored with a time before this one.
    not_before: i64,
}

/// A permit whose lock was released while firmware sends the request:
/// what [`resume`] needs to conclude from the record before the attempt.
#[derive(Debug)]
pub struct Parked {
    state: PathBuf,
    server: String,
    username: String,
    ip: Ipv4Addr,
    before: Record,
    written: Record,
}

/// What [`Permit::conclude`] stored.
#[derive(Debug)]
pub struct Concluded {
    /// The record after the attempt.
    pub record: Record,
    /// The time it was stored with.
    pub at: i64,
    /// Whether it reached the disk; if not, the pending attempt still
    /// holds the floor.
    pub stored: Result<(), Error>,
}

/// Runs the guard for `want` on `config`'s account and state file: see the
/// module documentation. Errors are state problems and a lock held past
/// [`lock_wait`]; nothing was sent.
pub fn begin(config: &Config, want: &Want, clock: Clock, log: Log<'_>) -> Result<Begun, Error> {
    begin_with(config, want, clock, log, &resolve_v4)
}

/// A name lookup: the IPv4 addresses of a name, given up after a timeout.
type Resolve<'a> = dyn Fn(&str, Duration) -> Result<Vec<Ipv4Addr>, String> + 'a;

fn begin_with(
    config: &Config,
    want: &Want,
    clock: Clock,
    log: Log<'_>,
    resolve: &Resolve<'_>,
) -> Result<Begun, Error> {
    let host = config.server.host();
    let ip = want.ip;
    // The look-up runs before the lock, bounded by the request's timeout.
    let seed = match &config.lookup_host {
        Some(name) if record_is_blank(config) => {
            Some((name, resolve(name, config.transport.timeout)))
        }
        _ => None,
    };

    let mut store = Store::open_locked(&config.state_path, clock.now, lock_wait(config))?;
    for warning in store.warnings() {
        log(Level::Warn, warning);
    }
    let mut record = store.get(host, &config.username);
    let now = time_after_wait(clock.now, &record, clock.started.elapsed()).max(clock.now());
    if let Some((name, found)) = seed {
        // Only if no run wrote the record while this one looked it up.
        if record.is_blank() {
            seed_record(name, found, ip, now, &mut record, log);
        }
    }

    let reason = match guard::decide(&record, clock.at(now), want) {
        Decision::Send(reason) => reason,
        decision => {
            note_check(&mut store, config, now, log);
            return Ok(Begun::Held(outcome::held(decision, ip, now, &record)));
        }
    };
    log(
        Level::Debug,
        &format!("sending: {}", outcome::describe_reason(reason, ip)),
    );

    // Record the attempt first: if this cannot be written, nothing is sent.
    // Its time is read now, immediately before the request goes out, so
    // the floor counts from the send, not from the start of the run.
    let now = now.max(clock.now());
    let written = record.attempting(ip, clock.at(now));
    store
        .put(host, &config.username, written.clone())
        .map_err(|e| match e {
            Error::State { path, what } => Error::State {
                path,
                what: format!("{what}; the attempt cannot be recorded, so nothing was sent"),
            },
            other => other,
        })?;
    Ok(Begun::Send {
        permit: Permit {
            store,
            state: config.state_path.clone(),
            server: host.to_string(),
            username: config.username.clone(),
            want: *want,
            before: record,
            written,
            clock,
            not_before: now,
        },
        reason,
    })
}

impl Permit {
    /// Stores how the attempt ended: `result`, and the reply's HTTP status
    /// and text (at most 200 characters kept) when known. The time is read
    /// after the reply: a slow connect or reply moves the floor later,
    /// never earlier. Releases the lock.
    pub fn conclude(
        mut self,
        result: AttemptResult,
        http_status: Option<u16>,
        reply: Option<&str>,
    ) -> Concluded {
        let at = self.not_before.max(self.clock.now());
        let mut record = self.before.concluded(&self.want, self.clock.at(at), result);
        record.last_http_status = http_status;
        record.last_reply = reply.map(|r| r.chars().take(200).collect());
        let stored = self.store.put(&self.server, &self.username, record.clone());
        Concluded { record, at, stored }
    }

    /// The address the record held as registered before this attempt
    /// (for the hooks: see `crate::hook`).
    pub fn registered_before(&self) -> Option<Ipv4Addr> {
        self.before.registered_ip
    }

    /// Releases the lock while firmware sends the request itself; the
    /// pending attempt stays on disk. [`resume`] takes it up again.
    pub fn park(self) -> Parked {
        Parked {
            state: self.state,
            server: self.server,
            username: self.username,
            ip: self.want.ip,
            before: self.before,
            written: self.written,
        }
    }
}

/// Takes the state lock again to conclude an attempt for `want` on
/// `config`'s account, timed by `clock`. The outcome is concluded from the
/// record before the attempt only if `parked` is that attempt (same state
/// file, account and address) and nothing but its pending attempt (and a
/// heartbeat) was written since; otherwise from the record as it is now. Errors are
/// state problems and a lock held past [`lock_wait`].
pub fn resume(
    parked: Option<Parked>,
    config: &Config,
    want: Want,
    clock: Clock,
) -> Result<Permit, Error> {
    let store = Store::open_locked(&config.state_path, clock.now, lock_wait(config))?;
    let host = config.server.host();
    let current = store.get(host, &config.username);
    let before = match parked {
        Some(p)
            if p.state == config.state_path
                && p.server == host
                && p.username == config.username
                && p.ip == want.ip
                && same_but_heartbeat(&p.written, &current) =>
        {
            p.before
        }
        _ => current.clone(),
    };
    Ok(Permit {
        store,
        state: config.state_path.clone(),
        server: host.to_string(),
        username: config.username.clone(),
        want,
        before,
        written: current,
        clock,
        not_before: i64::MIN,
    })
}

/// After a run that sends nothing: stores when it looked (the record's
/// `last_check`) if that is due, at most once per `check_interval` (see
/// [`Record::checked`]); a cron job or watch mode checking more often
/// writes the flash no more often. The record is the stored one, never a
/// `lookup_host` seed. A failed write changes nothing the guard reads, so
/// it is only a warning.
fn note_check(store: &mut Store, config: &Config, now: i64, log: Log<'_>) {
    let (host, user) = (config.server.host(), config.username.as_str());
    let interval = i64::try_from(config.check_interval.as_secs()).unwrap_or(i64::MAX);
    if let Some(record) = store.get(host, user).checked(now, interval) {
        if let Err(e) = store.put(host, user, record) {
            log(
                Level::Warn,
                &format!("cannot record the time of this check: {e}"),
            );
        }
    }
}

/// Whether `a` and `b` are the same record but perhaps for `last_check`,
/// which a check that sent nothing may have stored meanwhile.
fn same_but_heartbeat(a: &Record, b: &Record) -> bool {
    let a = Record {
        last_check: b.last_check,
        ..a.clone()
    };
    a == *b
}

/// The time to decide with, once the state lock is held. `now` was read
/// before address detection and the wait for the lock; a run that got the
/// lock first may have written this record since, with a later reading of
/// the clock. Within the time that has passed (rounded up), that reading is
/// the better one: taking it keeps the record from looking like a clock
/// running behind. A record further ahead is left for the guard to refuse.
fn time_after_wait(now: i64, record: &Record, waited: Duration) -> i64 {
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

/// The record of `config`'s account as the state file holds it, read
/// without the exclusive lock: nothing is repaired or written. A blank
/// record when the file holds nothing for the account; `None` when it
/// cannot be read (the locked read repairs it and holds the floor).
pub fn peek_record(config: &Config) -> Option<Record> {
    let entries = state::read_entries(&config.state_path).ok()?;
    let found = entries
        .into_iter()
        .find(|e| e.is_for(config.server.host(), &config.username));
    Some(found.map(|e| e.record).unwrap_or_default())
}

/// Whether the state file, read without the exclusive lock, holds nothing
/// for `config`'s account (a file that cannot be read is not blank).
fn record_is_blank(config: &Config) -> bool {
    peek_record(config).is_some_and(|record| record.is_blank())
}

/// With no state yet, a `lookup_host` that already resolves to `ip`
/// counts as registered (in memory only: a run that sends nothing stores
/// at most its `last_check`, never the seed).
fn seed_record(
    name: &str,
    found: Result<Vec<Ipv4Addr>, String>,
    ip: Ipv4Addr,
    now: i64,
    record: &mut Record,
    log: Log<'_>,
) {
    match found {
        Ok(found) if found.contains(&ip) => {
            log(
                Level::Info,
                &format!("{name} already resolves to {ip}; counting it as registered"),
            );
            record.registered_ip = Some(ip);
            record.registered_at = Some(now);
        }
        Ok(found) => log(
            Level::Debug,
            &format!("{name} resolves to {found:?}, not {ip}"),
        ),
        Err(e) => log(Level::Debug, &format!("cannot resolve {name}: {e}")),
    }
}

/// The IPv4 addresses of `name` from the system resolver, on a worker
/// thread given up after `timeout` (the resolver itself has no deadline).
pub(crate) fn resolve_v4(name: &str, timeout: Duration) -> Result<Vec<Ipv4Addr>, String> {
    let name = name.to_string();
    let found = within(timeout, move || {
        (name.as_str(), 0)
            .to_socket_addrs()
            .map(|addrs| addrs.collect())
    })?;
    Ok(found
        .into_iter()
        .filter_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect())
}

/// Runs `lookup` on a [`crate::worker`] thread and waits at most
/// `timeout` for its answer. A lookup given up on is left to end on its
/// own (its thread is detached). (The answer has the type the transport's
/// resolver uses, so both share one worker's code.)
fn within(
    timeout: Duration,
    lookup: impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, String> {
    let worker = crate::worker::spawn(lookup).map_err(|e| e.to_string())?;
    if !worker.wait_timeout(timeout) {
        return Err(format!("no answer within {} s", timeout.as_secs()));
    }
    match worker.join() {
        Some(found) => found.map_err(|e| e.to_string()),
        None => Err("the lookup failed".into()),
    }
}

#[cfg(test)]
mod tests;
