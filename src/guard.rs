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
//!   server counts.
//! - **No redundant updates**: an address known to be registered is not sent
//!   again unless forced (after the floor) or the force interval has passed.
//! - **Backoff** after failures: 60 s doubling to one hour.
//! - **Rejected**: the same address with the same credentials is not retried
//!   for [`REJECT_HOLD_S`]. **Blocked**: nothing is sent for [`BLOCK_HOLD_S`].
//! - **Clock behind**: if the clock reads earlier than the last time the
//!   record was written, nothing is sent until it catches up.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Minimum seconds between two requests for the same server and user.
pub const FLOOR_S: i64 = 600;
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
    /// When a request last may have reached the server.
    pub last_attempt_at: Option<i64>,
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
}

/// What a run wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    /// The address to register.
    pub ip: Ipv4Addr,
    /// `--force`: send even if the address is registered (floor still holds).
    pub force: bool,
    /// Seconds after which a registered address is sent again anyway;
    /// values under [`FLOOR_S`] count as [`FLOOR_S`].
    pub force_interval: i64,
    /// Fingerprint of the credentials in use.
    pub credential: u16,
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
}

/// Decides whether `want` may be sent at `now`, given `rec`.
pub fn decide(rec: &Record, now: i64, want: &Want) -> Decision {
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
    let mut holds = Vec::with_capacity(3);
    if let Some(r) = rec.rejected {
        if r.ip == want.ip && r.credential == want.credential {
            holds.push((r.at.saturating_add(REJECT_HOLD_S), DeferReason::Rejected));
        }
    }
    if let Some(t) = rec.last_attempt_at {
        holds.push((t.saturating_add(FLOOR_S), DeferReason::Floor));
    }
    if let Some(t) = rec.retry_not_before {
        holds.push((t, DeferReason::Backoff));
    }
    // The hold that ends last is the one that matters.
    match holds
        .into_iter()
        .filter(|(until, _)| now < *until)
        .max_by_key(|(until, _)| *until)
    {
        Some((until, why)) => Decision::Defer { until, why },
        None => Decision::Send(reason),
    }
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
    if want.force {
        return Ok(SendReason::Forced);
    }
    let interval = want.force_interval.max(FLOOR_S);
    match rec.registered_at {
        Some(at) if now < at.saturating_add(interval) => {
            Err(Decision::Unchanged { since: Some(at) })
        }
        _ => Ok(SendReason::Refresh),
    }
}

/// The backoff after `failures` consecutive failures (1 → 60 s, doubling,
/// at most one hour).
pub fn backoff(failures: u32) -> i64 {
    let steps = failures.saturating_sub(1).min(16);
    (BACKOFF_FIRST_S << steps).min(BACKOFF_MAX_S)
}

impl Record {
    /// The record to store **before** sending `ip` at `now`, so that a crash
    /// or power loss mid-request still counts toward the floor.
    pub fn attempting(&self, ip: Ipv4Addr, now: i64) -> Record {
        Record {
            last_attempt_at: Some(now),
            last_attempt_ip: Some(ip),
            last_result: Some(AttemptResult::Pending),
            last_http_status: None,
            last_reply: None,
            written_at: Some(now),
            maybe_registered_ip: self.doubt_after_sending(ip),
            ..self.clone()
        }
    }

    /// The record to store after the attempt ended with `result`. `self`
    /// is the record from **before** [`Record::attempting`], so an attempt
    /// that never reached the server does not count toward the floor.
    pub fn concluded(
        &self,
        ip: Ipv4Addr,
        now: i64,
        result: AttemptResult,
        credential: u16,
    ) -> Record {
        let mut rec = self.clone();
        rec.written_at = Some(now);
        rec.last_result = Some(result);
        if result != AttemptResult::FailedUnsent {
            rec.last_attempt_at = Some(now);
            rec.last_attempt_ip = Some(ip);
        }
        match result {
            AttemptResult::Updated | AttemptResult::Unconfirmed => {
                rec.registered_ip = Some(ip);
                rec.registered_at = Some(now);
                rec.maybe_registered_ip = None;
                rec.failures = 0;
                rec.retry_not_before = None;
                rec.rejected = None;
                rec.blocked_until = None;
            }
            AttemptResult::Rejected => {
                rec.failures = 0;
                rec.retry_not_before = None;
                rec.rejected = Some(Rejection {
                    at: now,
                    ip,
                    credential,
                });
            }
            AttemptResult::Blocked => {
                rec.blocked_until = Some(now.saturating_add(BLOCK_HOLD_S));
            }
            AttemptResult::FailedSent | AttemptResult::FailedUnsent => {
                if result == AttemptResult::FailedSent {
                    rec.maybe_registered_ip = self.doubt_after_sending(ip);
                }
                rec.failures = rec.failures.saturating_add(1);
                rec.retry_not_before = Some(now.saturating_add(backoff(rec.failures)));
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

    /// When the next request may go out, if anything holds it back now.
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
}

/// A 16-bit fingerprint of the credentials, so a changed password may retry
/// after a rejection. Sixteen bits tell a change apart, yet say next to
/// nothing about the password itself (FNV-1a, stable across releases).
pub fn credential_fingerprint(server_host: &str, username: &str, password: &str) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in ["mtgsy-ddns", server_host, username, password] {
        for &b in part.as_bytes().iter().chain(&[0u8]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (hash ^ (hash >> 16) ^ (hash >> 32) ^ (hash >> 48)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn want(addr: &str) -> Want {
        Want {
            ip: ip(addr),
            force: false,
            force_interval: DEFAULT_FORCE_INTERVAL_S,
            credential: 7,
        }
    }

    /// The record after a successful update of `addr` at `at`.
    fn registered(addr: &str, at: i64) -> Record {
        Record::default().attempting(ip(addr), at).concluded(
            ip(addr),
            at,
            AttemptResult::Updated,
            7,
        )
    }

    #[test]
    fn first_run_sends() {
        assert_eq!(
            decide(&Record::default(), T0, &want("1.2.3.4")),
            Decision::Send(SendReason::FirstRun)
        );
    }

    #[test]
    fn unchanged_address_is_not_sent() {
        let rec = registered("1.2.3.4", T0);
        for dt in [0, 1, 599, 600, 3600, DEFAULT_FORCE_INTERVAL_S - 1] {
            assert_eq!(
                decide(&rec, T0 + dt, &want("1.2.3.4")),
                Decision::Unchanged { since: Some(T0) },
                "dt={dt}"
            );
        }
    }

    #[test]
    fn force_interval_refreshes() {
        let rec = registered("1.2.3.4", T0);
        assert_eq!(
            decide(&rec, T0 + DEFAULT_FORCE_INTERVAL_S, &want("1.2.3.4")),
            Decision::Send(SendReason::Refresh)
        );
    }

    #[test]
    fn force_interval_never_below_floor() {
        let rec = registered("1.2.3.4", T0);
        let mut w = want("1.2.3.4");
        w.force_interval = 1;
        assert_eq!(
            decide(&rec, T0 + 599, &w),
            Decision::Unchanged { since: Some(T0) }
        );
        assert_eq!(
            decide(&rec, T0 + 600, &w),
            Decision::Send(SendReason::Refresh)
        );
    }

    #[test]
    fn changed_address_waits_for_floor() {
        let rec = registered("1.2.3.4", T0);
        assert_eq!(
            decide(&rec, T0 + 599, &want("5.6.7.8")),
            Decision::Defer {
                until: T0 + 600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 600, &want("5.6.7.8")),
            Decision::Send(SendReason::Changed {
                from: ip("1.2.3.4")
            })
        );
    }

    #[test]
    fn force_respects_floor() {
        let rec = registered("1.2.3.4", T0);
        let mut w = want("1.2.3.4");
        w.force = true;
        assert_eq!(
            decide(&rec, T0, &w),
            Decision::Defer {
                until: T0 + 600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 599, &w),
            Decision::Defer {
                until: T0 + 600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 600, &w),
            Decision::Send(SendReason::Forced)
        );
    }

    #[test]
    fn pending_attempt_counts_toward_floor_then_retries() {
        // The run died after recording the attempt.
        let rec = registered("1.2.3.4", T0).attempting(ip("5.6.7.8"), T0 + 1000);
        assert_eq!(
            decide(&rec, T0 + 1001, &want("5.6.7.8")),
            Decision::Defer {
                until: T0 + 1600,
                why: DeferReason::Floor
            }
        );
        // Even the old address must be re-sent: the server may hold the new one.
        assert_eq!(
            decide(&rec, T0 + 1001, &want("1.2.3.4")),
            Decision::Defer {
                until: T0 + 1600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 1600, &want("5.6.7.8")),
            Decision::Send(SendReason::Retry)
        );
    }

    #[test]
    fn doubt_survives_later_unsent_failures_and_rejections() {
        // Crash while sending 5.6.7.8: the server may hold it.
        let crashed = registered("1.2.3.4", T0).attempting(ip("5.6.7.8"), T0 + 1000);
        // Then the network is down for a while, then a rejection.
        let rec = crashed
            .concluded(ip("1.2.3.4"), T0 + 1700, AttemptResult::FailedUnsent, 7)
            .concluded(ip("9.9.9.9"), T0 + 1800, AttemptResult::Rejected, 7);
        assert_eq!(rec.maybe_registered_ip, Some(ip("5.6.7.8")));
        // Wanting the old address must still send it: it may not be registered.
        assert_eq!(
            decide(&rec, T0 + 2400, &want("1.2.3.4")),
            Decision::Send(SendReason::Retry)
        );
        let done = rec.concluded(ip("1.2.3.4"), T0 + 2400, AttemptResult::Updated, 7);
        assert_eq!(
            decide(&done, T0 + 3100, &want("1.2.3.4")),
            Decision::Unchanged {
                since: Some(T0 + 2400)
            }
        );
    }

    #[test]
    fn unsent_failure_backs_off_without_floor() {
        let before = Record::default();
        let mut rec = before.concluded(ip("1.2.3.4"), T0, AttemptResult::FailedUnsent, 7);
        assert_eq!(rec.last_attempt_at, None, "nothing reached the server");
        assert_eq!(
            decide(&rec, T0 + 59, &want("1.2.3.4")),
            Decision::Defer {
                until: T0 + 60,
                why: DeferReason::Backoff
            }
        );
        assert_eq!(
            decide(&rec, T0 + 60, &want("1.2.3.4")),
            Decision::Send(SendReason::FirstRun)
        );
        // Doubling to one hour.
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..9 {
            now = rec.retry_not_before.unwrap();
            rec = rec.concluded(ip("1.2.3.4"), now, AttemptResult::FailedUnsent, 7);
            waits.push(rec.retry_not_before.unwrap() - now);
        }
        assert_eq!(waits, [120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        // Success clears the backoff.
        let ok = rec.concluded(ip("1.2.3.4"), now + 3600, AttemptResult::Updated, 7);
        assert_eq!((ok.failures, ok.retry_not_before), (0, None));
    }

    #[test]
    fn sent_failure_counts_floor_and_backoff() {
        let rec = Record::default().concluded(ip("1.2.3.4"), T0, AttemptResult::FailedSent, 7);
        assert_eq!(
            decide(&rec, T0 + 60, &want("1.2.3.4")),
            Decision::Defer {
                until: T0 + 600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 600, &want("1.2.3.4")),
            Decision::Send(SendReason::Retry)
        );
    }

    #[test]
    fn rejected_holds_same_address_and_credentials() {
        let rec = registered("1.2.3.4", T0).concluded(
            ip("5.6.7.8"),
            T0 + 1000,
            AttemptResult::Rejected,
            7,
        );
        let hold_end = T0 + 1000 + REJECT_HOLD_S;
        assert_eq!(
            decide(&rec, T0 + 5000, &want("5.6.7.8")),
            Decision::Defer {
                until: hold_end,
                why: DeferReason::Rejected
            }
        );
        let mut forced = want("5.6.7.8");
        forced.force = true;
        assert_eq!(
            decide(&rec, T0 + 5000, &forced),
            Decision::Defer {
                until: hold_end,
                why: DeferReason::Rejected
            }
        );
        assert_eq!(
            decide(&rec, hold_end, &want("5.6.7.8")),
            Decision::Send(SendReason::Changed {
                from: ip("1.2.3.4")
            })
        );
        // A new password may retry after the floor.
        let mut new_pass = want("5.6.7.8");
        new_pass.credential = 8;
        assert_eq!(
            decide(&rec, T0 + 1599, &new_pass),
            Decision::Defer {
                until: T0 + 1600,
                why: DeferReason::Floor
            }
        );
        assert_eq!(
            decide(&rec, T0 + 1600, &new_pass),
            Decision::Send(SendReason::Changed {
                from: ip("1.2.3.4")
            })
        );
        // So may a new address.
        assert_eq!(
            decide(&rec, T0 + 1600, &want("9.9.9.9")),
            Decision::Send(SendReason::Changed {
                from: ip("1.2.3.4")
            })
        );
        // The registered address is still registered.
        assert_eq!(
            decide(&rec, T0 + 1600, &want("1.2.3.4")),
            Decision::Unchanged { since: Some(T0) }
        );
    }

    #[test]
    fn blocked_holds_everything_for_a_day() {
        let rec = registered("1.2.3.4", T0).concluded(
            ip("5.6.7.8"),
            T0 + 1000,
            AttemptResult::Blocked,
            7,
        );
        let until = T0 + 1000 + BLOCK_HOLD_S;
        for w in [
            want("5.6.7.8"),
            want("1.2.3.4"),
            Want {
                force: true,
                credential: 9,
                ..want("9.9.9.9")
            },
        ] {
            assert_eq!(decide(&rec, T0 + 2000, &w), Decision::Blocked { until });
            assert_eq!(decide(&rec, until - 1, &w), Decision::Blocked { until });
        }
        assert_eq!(
            decide(&rec, until, &want("5.6.7.8")),
            Decision::Send(SendReason::Changed {
                from: ip("1.2.3.4")
            })
        );
    }

    #[test]
    fn clock_behind_sends_nothing() {
        let rec = registered("1.2.3.4", T0);
        assert_eq!(
            decide(&rec, T0 - 1, &want("5.6.7.8")),
            Decision::ClockBehind { state_time: T0 }
        );
        assert_eq!(
            decide(&rec, 0, &want("1.2.3.4")),
            Decision::ClockBehind { state_time: T0 }
        );
        let mut forced = want("1.2.3.4");
        forced.force = true;
        assert_eq!(
            decide(&rec, T0 - 86400, &forced),
            Decision::ClockBehind { state_time: T0 }
        );
    }

    #[test]
    fn unconfirmed_counts_as_registered() {
        let rec = Record::default().concluded(ip("1.2.3.4"), T0, AttemptResult::Unconfirmed, 7);
        assert_eq!(
            decide(&rec, T0 + 700, &want("1.2.3.4")),
            Decision::Unchanged { since: Some(T0) }
        );
    }

    #[test]
    fn holds_pick_the_latest_end() {
        let mut rec = registered("1.2.3.4", T0);
        rec.retry_not_before = Some(T0 + 3000);
        assert_eq!(
            decide(&rec, T0 + 10, &want("5.6.7.8")),
            Decision::Defer {
                until: T0 + 3000,
                why: DeferReason::Backoff
            }
        );
        assert_eq!(rec.next_allowed(T0 + 10), Some(T0 + 3000));
        assert_eq!(rec.next_allowed(T0 + 3000), None);
    }

    #[test]
    fn exhaustive_floor_over_sequences() {
        // Every sequence of four runs (address, force, result) over a grid of
        // times: two sends are never closer than the floor when the
        // earlier one may have reached the server.
        let results = [
            AttemptResult::Updated,
            AttemptResult::Unconfirmed,
            AttemptResult::Rejected,
            AttemptResult::Blocked,
            AttemptResult::FailedSent,
            AttemptResult::FailedUnsent,
            AttemptResult::Pending,
        ];
        let addrs = [ip("1.2.3.4"), ip("5.6.7.8")];
        let steps = [0i64, 59, 60, 300, 599, 600, 3600];
        let mut cases = 0;
        let mut pushed = 0;
        let mut stack = vec![(Record::default(), T0, None::<i64>)];
        while let Some((rec, now, last_reached)) = stack.pop() {
            if now > T0 + 4 * 3600 {
                continue;
            }
            for &dt in &steps {
                let t = now + dt;
                for &a in &addrs {
                    for force in [false, true] {
                        let w = Want {
                            ip: a,
                            force,
                            force_interval: 3600,
                            credential: 1,
                        };
                        cases += 1;
                        if let Decision::Send(_) = decide(&rec, t, &w) {
                            if let Some(prev) = last_reached {
                                assert!(t - prev >= FLOOR_S, "send at {t} after {prev}");
                            }
                            if pushed < 20_000 {
                                for &r in &results {
                                    let next = if r == AttemptResult::Pending {
                                        rec.attempting(a, t)
                                    } else {
                                        rec.concluded(a, t, r, 1)
                                    };
                                    let reached = if r == AttemptResult::FailedUnsent {
                                        last_reached
                                    } else {
                                        Some(t)
                                    };
                                    stack.push((next, t, reached));
                                    pushed += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 10_000, "{cases}");
    }

    #[test]
    fn fingerprint_tells_passwords_apart() {
        let a = credential_fingerprint("www.mtgsy.net", "u@example.com", "one");
        assert_eq!(
            a,
            credential_fingerprint("www.mtgsy.net", "u@example.com", "one")
        );
        assert_ne!(
            a,
            credential_fingerprint("www.mtgsy.net", "u@example.com", "two")
        );
    }

    #[test]
    fn backoff_steps() {
        assert_eq!(
            [1, 2, 3, 6, 7, 100, u32::MAX].map(backoff),
            [60, 120, 240, 1920, 3600, 3600, 3600]
        );
    }
}
