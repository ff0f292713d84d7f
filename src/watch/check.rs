//! One check of one host: a [`Job`] runs [`update::run`] on its own thread
//! through a [`Fenced`] transport and hands back a [`Done`], its retry
//! after a failure spread over the back-off step ([`spread_retry_s`]),
//! after a deferral over the event delay ([`spread_deferral_s`]);
//! [`report`] logs the result in one line and says when to retry.
//!
//! The state file is written only while the check holds the *fence*; it
//! lets go of the fence only while the request is on the wire (the attempt
//! is already on disk by then), so a stop signal that takes the fence
//! never lands in the middle of a write.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::detect::AddressSource;
use crate::error::Error;
use crate::guard::Record;
use crate::jitter;
use crate::request::Request;
use crate::transport::{HttpReply, SendError, Transport};
use crate::update::{self, Kind, Level, Outcome, RunOptions};

use super::hosts::{Host, WARNED_MAX};
use super::SharedLog;

/// Logs a check's result, one line; returns the seconds until a retry.
pub(super) fn report(host: &Host, result: &Result<Outcome, Error>, log: &SharedLog) -> Option<i64> {
    let interval = host.config.check_interval.as_secs() as i64;
    match result {
        Ok(o) => {
            let level = o.outcome.watch_level();
            let next = match o.retry_after_s {
                Some(r) if r < interval => format!("; retry timer set for {r} s from now"),
                Some(_) => "; the safety-net check will look again".to_string(),
                None => String::new(),
            };
            log(level, &format!("{}: {}{next}", host.label, o.message));
            o.retry_after_s
        }
        Err(e @ Error::Detect { .. })
            if matches!(host.config.address, AddressSource::Interface(_)) =>
        {
            log(
                Level::Info,
                &format!("{}: {e}; waiting for an address event", host.label),
            );
            None
        }
        Err(e) => {
            log(Level::Error, &format!("{}: {e}", host.label));
            None
        }
    }
}

/// One check, run on a [`worker`](crate::worker) thread.
pub(super) struct Job {
    /// The host's place in the host list.
    pub(super) index: usize,
    /// The host to check.
    pub(super) host: Host,
    /// The guard's time, Unix seconds.
    pub(super) now: i64,
    /// Held while the state file may be written; see [`Fenced`].
    pub(super) fence: Arc<Mutex<()>>,
    /// Where the check's messages go, prefixed with the host's label.
    pub(super) log: SharedLog,
}

/// What a [`Job`] hands back to the loop.
pub(super) struct Done {
    /// The host's place in the host list.
    pub(super) index: usize,
    /// The check's outcome or error.
    pub(super) result: Result<Outcome, Error>,
}

impl Job {
    /// Runs one [`update::run`] for the host, holding the fence except
    /// while the request is on the wire.
    pub(super) fn run(self) -> Done {
        let fenced = Fenced {
            inner: &*self.host.transport,
            fence: &self.fence,
            held: RefCell::new(Some(lock(&self.fence))),
        };
        let opts = RunOptions {
            force: false,
            dry_run: false,
            now: self.now,
        };
        let label = &self.host.label;
        let log = &self.log;
        let warned = &self.host.warned;
        let result = update::run(&self.host.config, &opts, &fenced, &mut |level, msg| {
            let mut level = level;
            if level == Level::Warn {
                let mut seen = warned.lock().unwrap_or_else(|p| p.into_inner());
                if seen.iter().any(|m| m == msg) {
                    level = Level::Debug;
                } else if seen.len() < WARNED_MAX {
                    seen.push(msg.to_string());
                }
            }
            log(level, &format!("{label}: {msg}"))
        });
        drop(fenced);
        Done {
            index: self.index,
            result: result.map(|o| self.spread_retry(o)),
        }
    }

    /// After a failed attempt, the retry time [`spread_retry_s`] draws
    /// from the record as stored (read without the lock; nothing written);
    /// after a deferral, [`spread_deferral_s`].
    fn spread_retry(&self, mut o: Outcome) -> Outcome {
        let seed = update::jitter_seed(&self.host.config);
        match (o.outcome, o.retry_after_s) {
            (Kind::Failed, Some(held)) => {
                if let Some(record) = update::peek_record(&self.host.config) {
                    o.retry_after_s = Some(spread_retry_s(seed, held, &record, self.now));
                }
            }
            (Kind::Deferred, Some(held)) => {
                o.retry_after_s = Some(spread_deferral_s(seed, held, self.host.event_jitter_s));
            }
            _ => {}
        }
        o
    }
}

/// Seconds from now until a deferred check runs again: `held`, the
/// seconds the guard holds the request back, plus [`jitter::event_delay`]
/// (at most `max_s`). A hold can end in the same second for a whole fleet
/// (after a regional power cut, the guard holds every router with an
/// unsynchronised clock until its boot is 10 minutes old), so the retries
/// are spread as an address event's check is.
fn spread_deferral_s(seed: u64, held: i64, max_s: i64) -> i64 {
    held.saturating_add(jitter::event_delay(seed, max_s))
}

/// Seconds from `now` until a failed attempt is retried: "full jitter",
/// a moment drawn from one back-off step beyond the holds of `record`
/// ([`jitter::backoff_retry_at`]), so a fleet that failed together does
/// not retry together; never sooner than `held`, the seconds the guard
/// holds the request back.
fn spread_retry_s(seed: u64, held: i64, record: &Record, now: i64) -> i64 {
    let at = jitter::backoff_retry_at(seed, record, now);
    update::seconds_until(at, now).max(held)
}

/// A transport that lets go of the fence only while the request is on
/// the wire: the state file is never written without holding it.
struct Fenced<'a> {
    inner: &'a dyn Transport,
    fence: &'a Mutex<()>,
    held: RefCell<Option<MutexGuard<'a, ()>>>,
}

impl Transport for Fenced<'_> {
    fn send(&self, request: &Request) -> Result<HttpReply, SendError> {
        drop(self.held.borrow_mut().take());
        let reply = self.inner.send(request);
        *self.held.borrow_mut() = Some(lock(self.fence));
        reply
    }
}

/// Takes the fence; a check that panicked while holding it does not
/// poison it for the rest.
pub(super) fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{self, AttemptResult, Want};
    use std::net::Ipv4Addr;

    const T0: i64 = 1_800_000_000;

    #[test]
    fn retries_after_failures_spread_over_the_back_off_step() {
        let want = Want {
            ip: Ipv4Addr::new(192, 0, 2, 1),
            force: false,
            force_interval: guard::DEFAULT_FORCE_INTERVAL_S,
            credential: 1,
            options: 0,
        };
        let mut rec = Record::default().attempting(want.ip, T0);
        for _ in 0..3 {
            rec = rec.concluded(&want, T0, AttemptResult::FailedSent);
        }
        let now = T0 + 30;
        let held = update::seconds_until(rec.next_allowed(now).unwrap(), now);
        let step = guard::backoff(rec.failures);
        let waits: Vec<i64> = (0..500)
            .map(|i| spread_retry_s(jitter::seed("u", i), held, &rec, now))
            .collect();
        // Never before the guard allows, at most one step after.
        assert!(waits.iter().all(|w| (held..=held + step).contains(w)));
        // Spread over that step, not all at the guard's time.
        assert!(waits.iter().any(|w| *w > held + step / 2), "{waits:?}");
        assert!(waits.iter().any(|w| *w < held + step / 2), "{waits:?}");
        // A guard that holds longer than the record says still wins.
        assert_eq!(spread_retry_s(1, 99_999, &rec, now), 99_999);
    }

    #[test]
    fn retries_after_deferrals_spread_over_the_event_delay() {
        let waits: Vec<i64> = (0..500)
            .map(|i| spread_deferral_s(jitter::seed("u", i), 500, 10))
            .collect();
        assert!(waits.iter().all(|w| (500..=510).contains(w)), "{waits:?}");
        for w in [500, 505, 510] {
            assert!(waits.contains(&w), "{w} never drawn: {waits:?}");
        }
        // No jitter, no spread; never before the guard allows.
        assert_eq!(spread_deferral_s(7, 500, 0), 500);
        assert_eq!(spread_deferral_s(7, i64::MAX, 10), i64::MAX);
    }
}
