//! The rate guard: whether a request may go out now.
//!
//! Pure: time is an argument, never read here, and nothing touches a file.
//! [`decide`] looks at what the state [`Record`] says about earlier
//! attempts and at what the run wants, and answers [`Decision`]. The record
//! transitions [`Record::attempting`] and [`Record::concluded`] say what to
//! store before and after a request. The state module persists the record;
//! the update module calls these in order.
//!
//! The rules (the product's promise that an account is never blocked):
//! - **Floor**: no two requests within [`FLOOR_S`] seconds, whatever the
//!   reason, `--force` included. Every request that may have reached the
//!   server counts. On the boot that made the last attempt the floor is
//!   also counted on the boot clock ([`BootTime`]), which no one steps: a
//!   wall clock stepped forward does not shorten it. Across a reboot the
//!   boot clock starts again, and a wall clock that the kernel does not
//!   count as synchronised may be hours ahead (a wrong real-time clock):
//!   then the first request waits until [`FLOOR_S`] seconds after boot,
//!   when the boot clock alone proves the floor has passed
//!   (`unsynced_boot_left`). The cost, in the fleet simulation's power
//!   cut (benches/RESULTS.md): the reboot's new address is registered a
//!   median 598 s after the cut instead of 6 s (p99 653 s either way), as
//!   watch mode's next check after NTP's sync is mostly the retry at 600 s.
//! - **No unrequired updates**: an update that changes nothing (the address
//!   and the request options registered last) goes out at most once per
//!   [`UNREQUIRED_HOLD_S`], whether forced or by the force interval.
//! - **Backoff** after failures: 60 s doubling to one hour.
//! - **Rejected**: the same address with the same credentials is not retried
//!   for [`REJECT_HOLD_S`]. **Blocked**: nothing is sent for [`BLOCK_HOLD_S`].
//! - **Clock behind**: if the clock reads earlier than the last time the
//!   record was written, nothing is sent until it catches up; a clock
//!   outside [`EARLIEST_TIME`]..=[`LATEST_TIME`] sends nothing at all.
//!   (The boot clock does not relax this: it cannot tell a clock put right
//!   from one put wrong, and a request sent on a clock that is behind
//!   writes block, rejection, backoff and once-a-day holds that end early
//!   once the clock is put forward.)
//!
//! All time arithmetic saturates, and every doubt is settled on the side
//! that holds a request back.
//!
//! Which record a run uses and whether credentials or options changed are
//! told by the key and fingerprints in `guard/fingerprint.rs`; the tests
//! are in `guard/tests.rs`. This file stays whole (about 600 lines) because
//! it is one thing: the record's fields, the rules that read them in
//! [`decide`] and the transitions that write them, each rule next to the
//! fields it uses.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

mod fingerprint;

pub use fingerprint::{
    boot_id_hash, credential_fingerprint, key_part, options_fingerprint, same_key,
};

/// Minimum seconds between two requests for the same server and user.
pub const FLOOR_S: i64 = 600;
/// An update that changes nothing goes out at most once in this many
/// seconds, by any path (`--force`, the force interval, a config).
pub const UNREQUIRED_HOLD_S: i64 = 24 * 3600;
/// Smallest force interval accepted: [`UNREQUIRED_HOLD_S`].
pub const MIN_FORCE_INTERVAL_S: i64 = UNREQUIRED_HOLD_S;
/// Default seconds after which an unchanged address is sent again.
pub const DEFAULT_FORCE_INTERVAL_S: i64 = 72 * 3600;
/// First backoff step after a failure.
pub const BACKOFF_FIRST_S: i64 = 60;
/// Longest backoff step.
pub const BACKOFF_MAX_S: i64 = 3600;
/// How long a rejected address/credential pair is not retried.
pub const REJECT_HOLD_S: i64 = 24 * 3600;
/// How long nothing is sent after the service said "blocked".
pub const BLOCK_HOLD_S: i64 = 24 * 3600;
/// The earliest clock reading believed (2020-01-01T00:00:00Z): a router
/// that has not synced its clock reads 1970 or its build date.
pub const EARLIEST_TIME: i64 = 1_577_836_800;
/// The latest clock reading believed (2100-01-01T00:00:00Z).
pub const LATEST_TIME: i64 = 4_102_444_800;

/// Whether `t` is a time the guard believes (see [`EARLIEST_TIME`]).
pub fn is_plausible_time(t: i64) -> bool {
    (EARLIEST_TIME..=LATEST_TIME).contains(&t)
}

/// A reading of the boot clock: which boot, and the seconds since it
/// began, counting suspend (Linux `CLOCK_BOOTTIME`). Unlike the wall
/// clock, no one steps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootTime {
    /// A hash of the kernel's boot id ([`boot_id_hash`]): another value is
    /// another boot.
    pub boot_id: u64,
    /// Seconds since that boot began.
    pub secs: i64,
}

/// The moment of a decision or an attempt: the wall clock (Unix seconds)
/// and, when known, the boot clock. A bare number converts to one with
/// no boot clock (the rules then count on the wall clock only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// The wall clock, in Unix seconds.
    pub wall: i64,
    /// The boot clock read at the same moment, if it could be.
    pub boot: Option<BootTime>,
    /// Whether the kernel counts the wall clock as synchronised (NTP set
    /// it since boot). Only an unsynchronised clock can be ahead of true
    /// time; read with the boot clock, and `true` without one.
    pub synced: bool,
}

impl From<i64> for Now {
    fn from(wall: i64) -> Now {
        Now {
            wall,
            boot: None,
            synced: true,
        }
    }
}

/// How an attempt ended, as stored in the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    /// Recorded before sending; still so if the run died mid-request.
    Pending,
    /// The service confirmed the update.
    Updated,
    /// A 2xx reply the client could not classify: counted as registered.
    Unconfirmed,
    /// The service rejected the update (login, domain, …).
    Rejected,
    /// The service blocked the account or client.
    Blocked,
    /// A failure after the request may have reached the server.
    FailedSent,
    /// A failure before anything reached the server.
    FailedUnsent,
}

/// A rejection to remember: which address and credentials were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// When the service rejected it.
    pub at: i64,
    /// The address that was refused.
    pub ip: Ipv4Addr,
    /// A 16-bit fingerprint of the credentials (see [`credential_fingerprint`]).
    pub credential: u16,
}

/// What the guard remembers for one (server host, user name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// The address last registered (confirmed or unconfirmed).
    pub registered_ip: Option<Ipv4Addr>,
    /// When it was registered.
    pub registered_at: Option<i64>,
    /// The request options registered with it (see [`options_fingerprint`]).
    /// `None` in a record written before this field existed: it then counts
    /// as the options in use now, because for the account the careful
    /// choice is to send nothing that may change nothing; the next update
    /// that goes out for another reason stores it.
    pub registered_options: Option<u32>,
    /// When a request carrying the registered address last may have
    /// reached the server (a refresh, forced or not, or a retry): the
    /// once-a-day rule for updates that change nothing counts from it.
    pub registered_sent_at: Option<i64>,
    /// When a request last may have reached the server.
    pub last_attempt_at: Option<i64>,
    /// The boot clock at that moment, if it was known (absent in records
    /// written before this field existed).
    pub last_attempt_boot: Option<BootTime>,
    /// The address that request carried.
    pub last_attempt_ip: Option<Ipv4Addr>,
    /// How the last attempt ended.
    pub last_result: Option<AttemptResult>,
    /// The HTTP status of the last reply, if any.
    pub last_http_status: Option<u16>,
    /// The last reply (bounded, password masked) or error.
    pub last_reply: Option<String>,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
    /// No request before this time (backoff).
    pub retry_not_before: Option<i64>,
    /// The last rejection, if it still matters.
    pub rejected: Option<Rejection>,
    /// Nothing is sent before this time (the service said "blocked").
    pub blocked_until: Option<i64>,
    /// The clock's reading when the record was last written.
    pub written_at: Option<i64>,
    /// An address sent in a request whose outcome is unknown (the run died,
    /// or no usable reply came): the server may hold it. Cleared only by a
    /// reply that registers an address.
    pub maybe_registered_ip: Option<Ipv4Addr>,
    /// When a run last looked (the guard decided), whether or not it sent
    /// anything: the client's heartbeat for monitoring. A request sets it
    /// with the writes it makes anyway; a run that sends nothing stores it
    /// only when it is due ([`Record::checked`]), so a cron job or watch
    /// mode checking often writes the flash once per check interval. Never
    /// read by [`decide`]; absent in records written before it existed.
    pub last_check: Option<i64>,
}

/// What a run wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    /// The address to register.
    pub ip: Ipv4Addr,
    /// `--force`: send even if the address is registered (the floor and
    /// the once-a-day rule for unrequired updates still hold).
    pub force: bool,
    /// Seconds after which a registered address is sent again anyway;
    /// values under [`MIN_FORCE_INTERVAL_S`] count as that.
    pub force_interval: i64,
    /// Fingerprint of the credentials in use.
    pub credential: u16,
    /// Fingerprint of the request options in use ([`options_fingerprint`]).
    pub options: u32,
}

/// Why a request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendReason {
    /// Nothing is known about this host yet.
    FirstRun,
    /// The address differs from the registered one.
    Changed {
        /// The registered address.
        from: Ipv4Addr,
    },
    /// The address is registered but a request option (hb, stealth, port,
    /// mx, offline URL or text) has changed since.
    OptionsChanged,
    /// The last attempt's outcome is unknown, so the registered address is too.
    Retry,
    /// `--force`.
    Forced,
    /// The force interval has passed since the last registration.
    Refresh,
}

/// Why a needed request is held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeferReason {
    /// The 10-minute floor since the last request.
    Floor,
    /// Backoff after failures.
    Backoff,
    /// The service rejected this address with these credentials.
    Rejected,
    /// A forced update that would change nothing, within a day of the last
    /// one that went out.
    Unrequired,
}

/// The guard's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send a request now.
    Send(SendReason),
    /// Nothing to do: the address is registered (exit 0).
    Unchanged {
        /// When it was registered, if known.
        since: Option<i64>,
    },
    /// A request is needed but not allowed before `until` (exit 3).
    Defer {
        /// The earliest time a request may go out.
        until: i64,
        /// Which rule holds it back.
        why: DeferReason,
    },
    /// The service blocked the account; nothing before `until` (exit 6).
    Blocked {
        /// When the hold ends.
        until: i64,
    },
    /// The clock reads earlier than the state was written (exit 3).
    ClockBehind {
        /// The time the state was last written.
        state_time: i64,
    },
    /// The clock reads before [`EARLIEST_TIME`] or after [`LATEST_TIME`]
    /// (not synced, or wrong): nothing is sent (exit 3).
    ClockImplausible {
        /// The clock's reading.
        now: i64,
    },
}

/// Decides whether `want` may be sent at `now` (Unix seconds, or a [`Now`]
/// with the boot clock), given `rec`.
pub fn decide(rec: &Record, now: impl Into<Now>, want: &Want) -> Decision {
    decide_at(rec, now.into(), want)
}

fn decide_at(rec: &Record, at: Now, want: &Want) -> Decision {
    let now = at.wall;
    if !is_plausible_time(now) {
        return Decision::ClockImplausible { now };
    }
    if let Some(t) = rec.written_at {
        if now < t {
            return Decision::ClockBehind { state_time: t };
        }
    }
    if let Some(until) = rec.blocked_until {
        if now < until {
            return Decision::Blocked { until };
        }
    }
    let reason = match send_reason(rec, now, want) {
        Ok(reason) => reason,
        Err(unchanged) => return unchanged,
    };
    // The hold that ends last is the one that matters (on a tie, the one
    // considered last). No list is built: nothing is allocated.
    let mut hold: Option<(i64, DeferReason)> = None;
    let mut consider = |until: Option<i64>, why: DeferReason| {
        if let Some(until) = until.filter(|u| now < *u) {
            if hold.is_none_or(|(h, _)| until >= h) {
                hold = Some((until, why));
            }
        }
    };
    if let Some(r) = rec.rejected {
        if r.ip == want.ip && r.credential == want.credential {
            consider(
                Some(r.at.saturating_add(REJECT_HOLD_S)),
                DeferReason::Rejected,
            );
        }
    }
    // The floor on the wall clock, on the boot clock of the last attempt's
    // boot, and from boot on an unsynchronised clock after a reboot.
    consider(
        rec.last_attempt_at.map(|t| t.saturating_add(FLOOR_S)),
        DeferReason::Floor,
    );
    consider(
        floor_left_on_boot_clock(rec.last_attempt_boot, at.boot).map(|s| now.saturating_add(s)),
        DeferReason::Floor,
    );
    consider(
        unsynced_boot_left(rec, at).map(|s| now.saturating_add(s)),
        DeferReason::Floor,
    );
    consider(rec.retry_not_before, DeferReason::Backoff);
    if reason == SendReason::Forced {
        consider(
            unrequired_since(rec).map(|t| t.saturating_add(UNREQUIRED_HOLD_S)),
            DeferReason::Unrequired,
        );
    }
    match hold {
        Some((until, why)) => Decision::Defer { until, why },
        None => Decision::Send(reason),
    }
}

/// Why the next request goes out when [`explain`] says, in the guard's
/// own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A request may go now, for this reason.
    Send(SendReason),
    /// A rule holds it back (floor, backoff, rejection, once a day).
    Held(DeferReason),
    /// The service blocked the account.
    Blocked,
    /// The address is registered; the refresh is due then.
    Unchanged,
    /// The clock reads earlier than the state was last written.
    ClockBehind,
    /// The clock is outside the believed range: nothing is sent.
    ClockImplausible,
}

/// When the next request for `want` may go out, by the wall clock, and
/// why. The time is the first at which [`decide`] says "send", following
/// the holds one after another (a block, then backoff; an unchanged
/// address until its refresh is due): `now` for [`Why::Send`]; `None` when
/// no time is known (a clock outside the believed range). The reason is
/// what holds the request back now.
pub fn explain(rec: &Record, now: impl Into<Now>, want: &Want) -> (Option<i64>, Why) {
    let at = now.into();
    let mut decision = decide_at(rec, at, want);
    let why = match decision {
        Decision::Send(reason) => return (Some(at.wall), Why::Send(reason)),
        Decision::Unchanged { .. } => Why::Unchanged,
        Decision::Defer { why, .. } => Why::Held(why),
        Decision::Blocked { .. } => Why::Blocked,
        Decision::ClockBehind { .. } => Why::ClockBehind,
        Decision::ClockImplausible { .. } => Why::ClockImplausible,
    };
    let mut t = at.wall;
    // Each step moves to a later time; a handful covers every chain of
    // holds the rules can make (clock behind, block, rejection or
    // backoff, floor, unchanged).
    for _ in 0..8 {
        let next = match decision {
            Decision::Send(_) => return (Some(t), why),
            Decision::Defer { until, .. } | Decision::Blocked { until } => until,
            Decision::ClockBehind { state_time } => state_time,
            Decision::Unchanged { .. } => refresh_due(rec, want),
            Decision::ClockImplausible { .. } => break,
        };
        if next <= t {
            break;
        }
        t = next;
        decision = decide_at(rec, Now::from(t), want);
    }
    (None, why)
}

/// When an unchanged registered address is sent again: the force
/// interval after its registration and a day after the last request that
/// carried it, whichever is later.
fn refresh_due(rec: &Record, want: &Want) -> i64 {
    let interval = want.force_interval.max(MIN_FORCE_INTERVAL_S);
    let registered = rec.registered_at.map(|r| r.saturating_add(interval));
    let unrequired = unrequired_since(rec).map(|u| u.saturating_add(UNREQUIRED_HOLD_S));
    registered.max(unrequired).unwrap_or(i64::MIN)
}

/// The seconds of the floor still to run by the boot clock, when the last
/// attempt was made on this boot and fewer than [`FLOOR_S`] seconds ago.
/// Another boot, a reading missing on either side, or a boot clock that
/// reads earlier than the attempt (impossible on one boot: the stored
/// reading is wrong) leave the floor to the wall clock; so this hold never
/// reaches further than [`FLOOR_S`] from now.
fn floor_left_on_boot_clock(attempt: Option<BootTime>, now: Option<BootTime>) -> Option<i64> {
    let (attempt, now) = (attempt?, now?);
    let elapsed = now.secs.checked_sub(attempt.secs)?;
    (attempt.boot_id == now.boot_id && (0..FLOOR_S).contains(&elapsed)).then(|| FLOOR_S - elapsed)
}

/// The seconds until [`FLOOR_S`] after boot, when the last attempt was
/// made before this boot (another boot, or one not recorded), this boot
/// began fewer than [`FLOOR_S`] seconds ago and the wall clock is not
/// synchronised: such a clock may be ahead of true time by hours, so the
/// wall clock's floor proves nothing, and the boot clock's proves the
/// floor once it reads [`FLOOR_S`] (true time since the last attempt is at
/// least the time since boot). On the boot of the last attempt the boot
/// clock's floor ([`floor_left_on_boot_clock`]) holds instead; with no
/// boot clock now, or a synchronised wall clock, the wall clock's floor.
fn unsynced_boot_left(rec: &Record, at: Now) -> Option<i64> {
    rec.last_attempt_at?;
    let now = at.boot.filter(|_| !at.synced)?;
    let same_boot = rec
        .last_attempt_boot
        .is_some_and(|b| b.boot_id == now.boot_id);
    (!same_boot && (0..FLOOR_S).contains(&now.secs)).then(|| FLOOR_S - now.secs)
}

/// When an update of the registered address last went out: the accepted
/// one, or a later request with the same address (a forced or refreshing
/// one, whatever its outcome). `None` when nothing was ever sent from this
/// record (an address only seen in DNS).
fn unrequired_since(rec: &Record) -> Option<i64> {
    let registered = rec.registered_at.filter(|_| rec.last_attempt_at.is_some());
    registered.max(rec.registered_sent_at)
}

/// Whether anything needs sending, and why; `Err` carries the
/// "unchanged" decision.
fn send_reason(rec: &Record, now: i64, want: &Want) -> Result<SendReason, Decision> {
    let outcome_unknown = rec
        .maybe_registered_ip
        .is_some_and(|ip| Some(ip) != rec.registered_ip);
    if outcome_unknown {
        return Ok(SendReason::Retry);
    }
    let Some(registered) = rec.registered_ip else {
        return Ok(SendReason::FirstRun);
    };
    if registered != want.ip {
        return Ok(SendReason::Changed { from: registered });
    }
    // A record without options counts as the options in use (see
    // `Record::registered_options`).
    if rec.registered_options.is_some_and(|o| o != want.options) {
        return Ok(SendReason::OptionsChanged);
    }
    // From here on an update would change nothing.
    if want.force {
        return Ok(SendReason::Forced);
    }
    let unchanged = Err(Decision::Unchanged {
        since: rec.registered_at,
    });
    let interval = want.force_interval.max(MIN_FORCE_INTERVAL_S);
    match rec.registered_at {
        Some(at) if now < at.saturating_add(interval) => return unchanged,
        _ => {}
    }
    match unrequired_since(rec) {
        Some(t) if now < t.saturating_add(UNREQUIRED_HOLD_S) => unchanged,
        _ => Ok(SendReason::Refresh),
    }
}

/// The backoff after `failures` consecutive failures (1 → 60 s, doubling,
/// at most one hour).
pub fn backoff(failures: u32) -> i64 {
    let steps = failures.saturating_sub(1).min(16);
    (BACKOFF_FIRST_S << steps).min(BACKOFF_MAX_S)
}

/// The later of a hold already stored and a new one; a stored hold that
/// has not ended is never shortened.
fn later(stored: Option<i64>, new: Option<i64>) -> Option<i64> {
    stored.max(new)
}

impl Record {
    /// The record to store **before** sending `ip` at `now`, so that a crash
    /// or power loss mid-request still counts toward the floor. `now` is
    /// read immediately before the request goes out.
    pub fn attempting(&self, ip: Ipv4Addr, now: impl Into<Now>) -> Record {
        let Now {
            wall: now, boot, ..
        } = now.into();
        Record {
            last_attempt_at: Some(now),
            last_attempt_boot: boot,
            last_attempt_ip: Some(ip),
            last_result: Some(AttemptResult::Pending),
            last_http_status: None,
            last_reply: None,
            written_at: Some(now),
            maybe_registered_ip: self.doubt_after_sending(ip),
            registered_sent_at: self.sent_registered(ip, now),
            last_check: Some(now),
            ..self.clone()
        }
    }

    /// `registered_sent_at` after a request for `ip` at `now` may have
    /// reached the server.
    fn sent_registered(&self, ip: Ipv4Addr, now: i64) -> Option<i64> {
        if Some(ip) == self.registered_ip {
            self.registered_sent_at.max(Some(now))
        } else {
            self.registered_sent_at
        }
    }

    /// The record to store after the attempt to send `sent` ended with
    /// `result`. `self` is the record from **before** [`Record::attempting`],
    /// so an attempt that never reached the server does not count toward
    /// the floor. A block or backoff stored earlier is never shortened.
    pub fn concluded(&self, sent: &Want, now: impl Into<Now>, result: AttemptResult) -> Record {
        self.concluded_at(sent, now.into(), result)
    }

    fn concluded_at(&self, sent: &Want, at: Now, result: AttemptResult) -> Record {
        let (ip, now) = (sent.ip, at.wall);
        let mut rec = self.clone();
        rec.written_at = Some(now);
        rec.last_check = Some(now);
        rec.last_result = Some(result);
        if result != AttemptResult::FailedUnsent {
            rec.last_attempt_at = Some(now);
            rec.last_attempt_boot = at.boot;
            rec.last_attempt_ip = Some(ip);
            rec.registered_sent_at = self.sent_registered(ip, now);
        }
        // Holds that end in the past are dropped by the outcomes that clear
        // them; one still running (written by another process, or a record
        // for a request the guard did not allow) stays.
        let running = |t: Option<i64>| t.filter(|t| *t > now);
        match result {
            AttemptResult::Updated | AttemptResult::Unconfirmed => {
                rec.registered_ip = Some(ip);
                rec.registered_at = Some(now);
                rec.registered_options = Some(sent.options);
                rec.maybe_registered_ip = None;
                rec.failures = 0;
                rec.retry_not_before = running(self.retry_not_before);
                rec.rejected = None;
                rec.blocked_until = running(self.blocked_until);
            }
            AttemptResult::Rejected => {
                rec.failures = 0;
                rec.retry_not_before = running(self.retry_not_before);
                rec.rejected = Some(Rejection {
                    at: now,
                    ip,
                    credential: sent.credential,
                });
            }
            AttemptResult::Blocked => {
                rec.blocked_until =
                    later(self.blocked_until, Some(now.saturating_add(BLOCK_HOLD_S)));
            }
            AttemptResult::FailedSent | AttemptResult::FailedUnsent => {
                if result == AttemptResult::FailedSent {
                    rec.maybe_registered_ip = self.doubt_after_sending(ip);
                }
                rec.failures = rec.failures.saturating_add(1);
                rec.retry_not_before = later(
                    self.retry_not_before,
                    Some(now.saturating_add(backoff(rec.failures))),
                );
            }
            AttemptResult::Pending => {}
        }
        rec
    }

    /// What `maybe_registered_ip` becomes when a request for `ip` may have
    /// reached the server without a usable reply: sending the registered
    /// address again leaves any earlier doubt as it was.
    fn doubt_after_sending(&self, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        if Some(ip) == self.registered_ip {
            self.maybe_registered_ip
        } else {
            Some(ip)
        }
    }

    /// When the next request may go out, if anything holds it back now, by
    /// the wall clock ([`decide`] may hold longer: it also counts the floor
    /// on the boot clock).
    pub fn next_allowed(&self, now: i64) -> Option<i64> {
        [
            self.last_attempt_at.map(|t| t.saturating_add(FLOOR_S)),
            self.retry_not_before,
            self.blocked_until,
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .max()
    }

    /// The record to store after a run that sent nothing looked at `now`,
    /// when its heartbeat is due: the stored [`Record::last_check`] is
    /// missing, at least `interval` seconds old, or later than `now` (the
    /// clock was put back). `None` when nothing needs writing, and always
    /// for a clock the guard does not believe. Only `last_check` changes
    /// (not `written_at`, which the guard reads).
    pub fn checked(&self, now: i64, interval: i64) -> Option<Record> {
        let due = match self.last_check {
            Some(t) => now < t || now.saturating_sub(t) >= interval,
            None => true,
        };
        (due && is_plausible_time(now)).then(|| Record {
            last_check: Some(now),
            ..self.clone()
        })
    }

    /// Whether nothing the guard reads is recorded, as in a record never
    /// written (equal to `Record::default()` but for the heartbeat
    /// [`Record::last_check`], without linking a field-by-field comparison
    /// of two records). A record that only knows when a run looked is
    /// still blank: `lookup_host` may seed it.
    pub fn is_blank(&self) -> bool {
        let Record {
            registered_ip,
            registered_at,
            registered_options,
            registered_sent_at,
            last_attempt_at,
            last_attempt_boot,
            last_attempt_ip,
            last_result,
            last_http_status,
            last_reply,
            failures,
            retry_not_before,
            rejected,
            blocked_until,
            written_at,
            maybe_registered_ip,
            last_check: _,
        } = self;
        registered_ip.is_none()
            && registered_at.is_none()
            && registered_options.is_none()
            && registered_sent_at.is_none()
            && last_attempt_at.is_none()
            && last_attempt_boot.is_none()
            && last_attempt_ip.is_none()
            && last_result.is_none()
            && last_http_status.is_none()
            && last_reply.is_none()
            && *failures == 0
            && retry_not_before.is_none()
            && rejected.is_none()
            && blocked_until.is_none()
            && written_at.is_none()
            && maybe_registered_ip.is_none()
    }

    /// The record with every time that cannot be right (before
    /// [`EARLIEST_TIME`] or after [`LATEST_TIME`], e.g. negative or near
    /// `i64::MAX`) replaced by `fallback`, the best known time of the last
    /// write (the file's modification time). Answers `None` when every
    /// time was plausible. A time replaced so counts from `fallback` on:
    /// the floor holds from then, never from the distant past.
    pub fn with_plausible_times(&self, fallback: i64) -> Option<Record> {
        let mut rec = self.clone();
        let mut changed = false;
        let mut fix = |t: &mut Option<i64>| {
            if let Some(v) = t {
                if !is_plausible_time(*v) {
                    *v = fallback;
                    changed = true;
                }
            }
        };
        fix(&mut rec.registered_at);
        fix(&mut rec.last_attempt_at);
        fix(&mut rec.registered_sent_at);
        fix(&mut rec.retry_not_before);
        fix(&mut rec.blocked_until);
        fix(&mut rec.written_at);
        let mut at = rec.rejected.map(|r| r.at);
        fix(&mut at);
        if let (Some(r), Some(at)) = (rec.rejected.as_mut(), at) {
            r.at = at;
        }
        // A registration whose time was unknown: the floor and the
        // once-a-day rule count from the fallback, as for an attempt.
        if changed && rec.last_attempt_at.is_none() {
            rec.last_attempt_at = Some(fallback);
        }
        changed.then_some(rec)
    }
}

#[cfg(test)]
mod tests;
