//! Jitter: random spreads that keep a fleet of clients from calling the
//! service in the same second after a shared event (a regional outage, a
//! service recovering, a common timer).
//!
//! Pure: no clock, no I/O, no state. The randomness is a small
//! deterministic generator (splitmix64) fed by a seed the caller supplies,
//! usually [`seed`] of a per-client key and a per-run value, so the same
//! inputs always give the same spread and tests replay exactly. Nothing
//! here is stored: jitter adds no writes to the state file.
//!
//! The delays only ever postpone a request: no answer here is a time
//! before the one the rate guard allows. (The safety net's interval may
//! come out shorter, but a safety-net check only asks the guard.)

#![forbid(unsafe_code)]

use crate::guard::{self, Decision, Record};

/// Salts that make the draws of one seed independent of each other.
const SALT_EVENT: u64 = 0x6576_656e_7400_0001;
const SALT_BACKOFF: u64 = 0x6261_636b_6f00_0002;
const SALT_SAFETY: u64 = 0x7361_6665_7400_0003;

/// splitmix64's output step: a well-mixed 64-bit value from any input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A value in `0..=max` drawn from `seed` and `salt` (`max = u64::MAX`
/// included); each value's chance is within 2^-64 of `1 / (max + 1)`.
fn draw(seed: u64, salt: u64, max: u64) -> u64 {
    let x = mix(seed ^ salt);
    match max.checked_add(1) {
        Some(span) => ((u128::from(x) * u128::from(span)) >> 64) as u64,
        None => x,
    }
}

/// The seed for one client's run: `client_key` tells the clients of a
/// fleet apart (e.g. [`guard::key_part`] of the user name and server host),
/// `run` tells one client's runs apart (e.g. the time the event arrived or
/// a counter). Neither is secret, and a password must never be passed.
pub fn seed(client_key: &str, run: u64) -> u64 {
    // FNV-1a over the key, then mixed with the run value.
    let key = client_key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    mix(mix(key) ^ run)
}

/// The random delay of a run triggered by an interface event: whole
/// seconds in `0..=max_s` (0 when `max_s` is 0 or negative).
pub fn event_delay(seed: u64, max_s: i64) -> i64 {
    let max = u64::try_from(max_s).unwrap_or(0);
    // max <= i64::MAX, so the draw fits.
    draw(seed, SALT_EVENT, max) as i64
}

/// How many seconds an event-triggered run waits before it sends, given
/// what the guard answers now: [`event_delay`] when the answer is
/// [`Decision::Send`]; 0 for every other answer, because the guard holds
/// the request back anyway (a deferral already ends at its own time) or
/// there is nothing to send. The run asks the guard again after the wait,
/// so the wait only ever postpones: it never shortens the floor.
pub fn event_wait(seed: u64, max_s: i64, decision: &Decision) -> i64 {
    match decision {
        Decision::Send(_) => event_delay(seed, max_s),
        _ => 0,
    }
}

/// When to retry after the attempt recorded in `rec`, read at `now`
/// ("full jitter"). With `base` the guard's next allowed time
/// ([`Record::next_allowed`], or `now` when nothing holds a request back)
/// and `step` the back-off step [`guard::backoff`]`(rec.failures)` (0 when
/// `rec.failures` is 0), the answer is `base + x`, `x` uniform in
/// `0..=step`, saturating. So it is never before the floor, the back-off
/// or a block, and after the n-th failure in a row it is spread over one
/// more back-off step beyond them.
pub fn backoff_retry_at(seed: u64, rec: &Record, now: i64) -> i64 {
    let base = rec.next_allowed(now).unwrap_or(now);
    let step = if rec.failures == 0 {
        0
    } else {
        guard::backoff(rec.failures)
    };
    // step is 60..=3600, never negative.
    base.saturating_add(draw(seed, SALT_BACKOFF, step as u64) as i64)
}

/// Watch mode's safety-net interval, spread by ±10%: a value in
/// `interval - interval / 10 ..= interval + interval / 10` (saturating at
/// `u64::MAX`), in the unit of `interval`.
pub fn safety_interval(seed: u64, interval: u64) -> u64 {
    let tenth = interval / 10;
    (interval - tenth).saturating_add(draw(seed, SALT_SAFETY, tenth.saturating_mul(2)))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::guard::{AttemptResult, DeferReason, SendReason, Want, BACKOFF_MAX_S, FLOOR_S};

    const T0: i64 = 1_800_000_000;

    fn want() -> Want {
        Want {
            ip: Ipv4Addr::new(192, 0, 2, 1),
            force: false,
            force_interval: guard::DEFAULT_FORCE_INTERVAL_S,
            credential: 1,
            options: 0,
        }
    }

    fn seeds() -> impl Iterator<Item = u64> {
        (0..2000u64).map(|i| seed("user@example.com", i))
    }

    #[test]
    fn event_delay_stays_in_bounds_and_uses_them() {
        for max in [0i64, 1, 2, 10, 3600] {
            let delays: Vec<i64> = seeds().map(|s| event_delay(s, max)).collect();
            assert!(delays.iter().all(|d| (0..=max).contains(d)), "{max}");
            if max <= 10 {
                assert_eq!(delays.iter().min(), Some(&0), "{max}");
                assert_eq!(delays.iter().max(), Some(&max), "{max}");
            }
        }
        for s in seeds().take(100) {
            assert_eq!(event_delay(s, -5), 0);
            assert_eq!(event_delay(s, i64::MIN), 0);
            assert!(event_delay(s, i64::MAX) >= 0);
        }
    }

    #[test]
    fn event_delay_is_spread_evenly() {
        // 11 values (0..=10), 11,000 draws: each about 1,000 times.
        let mut counts = [0u32; 11];
        for i in 0..11_000u64 {
            counts[event_delay(seed("a", i), 10) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..=1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn same_seed_same_answers() {
        let s = seed("u@example.com", 42);
        assert_eq!(s, seed("u@example.com", 42));
        assert_eq!(event_delay(s, 10), event_delay(s, 10));
        assert_eq!(safety_interval(s, 600_000), safety_interval(s, 600_000));
        let rec = Record::default().concluded(&want(), T0, AttemptResult::FailedSent);
        assert_eq!(backoff_retry_at(s, &rec, T0), backoff_retry_at(s, &rec, T0));
    }

    #[test]
    fn seeds_tell_clients_and_runs_apart() {
        assert_ne!(seed("a@example.com", 1), seed("b@example.com", 1));
        assert_ne!(seed("a@example.com", 1), seed("a@example.com", 2));
        assert_ne!(seed("", 0), seed("", 1));
        // A fleet of clients with the same run value: delays are spread.
        let delays: std::collections::HashSet<i64> = (0..1000)
            .map(|i| event_delay(seed(&format!("user{i}"), 7), 10))
            .collect();
        assert_eq!(delays.len(), 11);
    }

    #[test]
    fn event_wait_only_before_a_send() {
        let s = seed("u", 3);
        let waits: Vec<i64> = (0..100)
            .map(|i| event_wait(seed("u", i), 10, &Decision::Send(SendReason::FirstRun)))
            .collect();
        assert!(waits.iter().any(|w| *w > 0));
        assert!(waits.iter().all(|w| (0..=10).contains(w)));
        for held in [
            Decision::Defer {
                until: T0 + 5,
                why: DeferReason::Floor,
            },
            Decision::Defer {
                until: T0 + 3000,
                why: DeferReason::Backoff,
            },
            Decision::Unchanged { since: Some(T0) },
            Decision::Blocked { until: T0 + 9 },
            Decision::ClockBehind { state_time: T0 },
            Decision::ClockImplausible { now: 0 },
        ] {
            assert_eq!(event_wait(s, 10, &held), 0, "{held:?}");
        }
    }

    #[test]
    fn event_wait_then_guard_never_sends_inside_the_floor() {
        // A client that sent at T0 sees events at every second of the next
        // twenty minutes: waiting, then asking the guard again, never lets
        // a request out before T0 + FLOOR_S.
        let rec = Record::default().attempting(want().ip, T0).concluded(
            &want(),
            T0,
            AttemptResult::Updated,
        );
        let moved = Want {
            ip: Ipv4Addr::new(192, 0, 2, 9),
            ..want()
        };
        for now in T0..T0 + 1200 {
            let first = guard::decide(&rec, now, &moved);
            let at = now + event_wait(seed("u", now as u64), 10, &first);
            if let Decision::Send(_) = guard::decide(&rec, at, &moved) {
                assert!(at >= T0 + FLOOR_S, "sent at {at}");
            }
        }
    }

    #[test]
    fn backoff_retry_spans_one_step_after_the_holds() {
        let mut rec = Record::default();
        let mut now = T0;
        for failures in 1..=10u32 {
            rec = rec.concluded(&want(), now, AttemptResult::FailedSent);
            assert_eq!(rec.failures, failures);
            let base = rec.next_allowed(now).expect("held");
            let step = guard::backoff(failures);
            let at: Vec<i64> = seeds().map(|s| backoff_retry_at(s, &rec, now)).collect();
            assert!(at.iter().all(|t| (base..=base + step).contains(t)));
            // The floor and the back-off both hold: never earlier.
            assert!(at.iter().all(|t| *t >= now + FLOOR_S.max(step)));
            // And the whole step is used.
            assert!(*at.iter().min().unwrap() < base + step / 10);
            assert!(*at.iter().max().unwrap() > base + step - step / 10);
            now = at[0];
        }
        assert_eq!(guard::backoff(10), BACKOFF_MAX_S);
    }

    #[test]
    fn backoff_retry_without_failures_is_the_guard_time() {
        let s = seed("u", 1);
        // Nothing recorded: now.
        assert_eq!(backoff_retry_at(s, &Record::default(), T0), T0);
        // Only the floor: its end, no spread.
        let sent = Record::default().concluded(&want(), T0, AttemptResult::Updated);
        for s in seeds().take(100) {
            assert_eq!(backoff_retry_at(s, &sent, T0 + 5), T0 + FLOOR_S);
        }
        // A block holds longer than any step.
        let blocked = sent.concluded(&want(), T0 + 700, AttemptResult::Blocked);
        assert!(backoff_retry_at(s, &blocked, T0 + 700) >= T0 + 700 + guard::BLOCK_HOLD_S);
    }

    #[test]
    fn backoff_retry_saturates_at_the_end_of_time() {
        let rec = Record {
            failures: 5,
            retry_not_before: Some(i64::MAX - 1),
            ..Record::default()
        };
        for s in seeds().take(100) {
            assert!(backoff_retry_at(s, &rec, T0) >= i64::MAX - 1);
        }
        let rec = Record {
            failures: u32::MAX,
            ..Record::default()
        };
        let at = backoff_retry_at(seed("u", 0), &rec, i64::MAX);
        assert_eq!(at, i64::MAX);
    }

    #[test]
    fn safety_interval_within_ten_percent() {
        for interval in [0u64, 1, 9, 10, 600, 600_000, 86_400_000] {
            let tenth = interval / 10;
            let got: Vec<u64> = seeds().map(|s| safety_interval(s, interval)).collect();
            assert!(got
                .iter()
                .all(|g| (interval - tenth..=interval + tenth).contains(g)));
            if tenth > 0 {
                assert!(got.iter().any(|g| *g < interval));
                assert!(got.iter().any(|g| *g > interval));
            }
        }
        assert_eq!(safety_interval(seed("u", 0), 0), 0);
        let huge = safety_interval(seed("u", 0), u64::MAX);
        assert!(huge >= u64::MAX - u64::MAX / 10);
    }
}
