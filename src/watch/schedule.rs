//! When each host is checked next: pure bookkeeping, time as an argument.
//!
//! Times are milliseconds of a monotonic clock. Each host has up to three
//! reasons to be checked, and the earliest wins:
//! - **wanted**: an address event, a signal or start-up asked for a check
//!   (an address event's check comes after a random delay the caller
//!   draws: see [`Schedule::want_spread`]);
//! - **retry**: the guard deferred a needed update until this moment (the
//!   one timer that replaces polling while the 10-minute floor runs);
//! - **safety**: the periodic re-check, `check_interval` after the last one.

#![forbid(unsafe_code)]

/// One host's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timers {
    wanted: Option<u64>,
    retry: Option<u64>,
    safety: u64,
}

impl Timers {
    fn due(&self) -> u64 {
        [self.wanted, self.retry, Some(self.safety)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.safety)
    }
}

/// The timers of every host, by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    hosts: Vec<Timers>,
}

impl Schedule {
    /// `count` hosts, each wanted at `now` (start-up checks everything).
    pub fn new(count: usize, now: u64) -> Schedule {
        Schedule {
            hosts: vec![
                Timers {
                    wanted: Some(now),
                    retry: None,
                    safety: now,
                };
                count
            ],
        }
    }

    /// Asks for a check of host `i` no later than `at`.
    pub fn want(&mut self, i: usize, at: u64) {
        if let Some(t) = self.hosts.get_mut(i) {
            t.wanted = Some(t.wanted.map_or(at, |w| w.min(at)));
        }
    }

    /// Asks for a check of host `i` at `at`, a moment spread by a random
    /// delay, unless a check is already wanted: the events of one burst
    /// (an address removed, then added) share the first event's delay
    /// instead of each drawing one and the earliest winning, which would
    /// pull a fleet's checks back together.
    pub fn want_spread(&mut self, i: usize, at: u64) {
        if let Some(t) = self.hosts.get_mut(i) {
            t.wanted.get_or_insert(at);
        }
    }

    /// Asks for a check of every host at `at`.
    pub fn want_all(&mut self, at: u64) {
        for i in 0..self.hosts.len() {
            self.want(i, at);
        }
    }

    /// The first host due at `now`, if any (the earliest due first).
    pub fn due(&self, now: u64) -> Option<usize> {
        self.hosts
            .iter()
            .enumerate()
            .filter(|(_, t)| t.due() <= now)
            .min_by_key(|(_, t)| t.due())
            .map(|(i, _)| i)
    }

    /// A check of host `i` starts: what asked for it is answered. Requests
    /// arriving while it runs are kept for another check.
    pub fn started(&mut self, i: usize) {
        if let Some(t) = self.hosts.get_mut(i) {
            t.wanted = None;
            t.retry = None;
        }
    }

    /// A check of host `i` ended at `now`: the safety net restarts, and
    /// `retry_in` (if the guard deferred an update) sets the retry timer.
    /// A retry later than the safety net is left to the safety net.
    pub fn finished(&mut self, i: usize, now: u64, safety_in: u64, retry_in: Option<u64>) {
        if let Some(t) = self.hosts.get_mut(i) {
            t.safety = now.saturating_add(safety_in);
            t.retry = retry_in
                .filter(|r| *r < safety_in)
                .map(|r| now.saturating_add(r));
        }
    }

    /// When the next check is due (for the poll timeout); `None` with no hosts.
    pub fn next(&self) -> Option<u64> {
        self.hosts.iter().map(Timers::due).min()
    }

    /// Whether host `i` has a retry timer set, and when.
    pub fn retry_at(&self, i: usize) -> Option<u64> {
        self.hosts.get(i).and_then(|t| t.retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFETY: u64 = 600_000;

    #[test]
    fn start_up_checks_everything_once() {
        let mut s = Schedule::new(2, 5);
        assert_eq!(s.due(5), Some(0));
        s.started(0);
        s.finished(0, 6, SAFETY, None);
        assert_eq!(s.due(6), Some(1));
        s.started(1);
        s.finished(1, 7, SAFETY, None);
        assert_eq!(s.due(7), None);
        assert_eq!(s.next(), Some(6 + SAFETY));
    }

    #[test]
    fn idle_means_only_the_safety_net() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        s.finished(0, 0, SAFETY, None);
        assert_eq!(s.next(), Some(SAFETY));
        assert_eq!(s.due(SAFETY - 1), None);
        assert_eq!(s.due(SAFETY), Some(0));
    }

    #[test]
    fn deferral_sets_one_retry_timer_at_floor_end() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        s.finished(0, 1_000, SAFETY, Some(590_000));
        assert_eq!(s.retry_at(0), Some(591_000));
        assert_eq!(s.next(), Some(591_000));
        // Ten flaps: each check is deferred to the same floor end.
        for k in 0..10 {
            let now = 2_000 + k * 3_000;
            s.want(0, now);
            assert_eq!(s.due(now), Some(0));
            s.started(0);
            s.finished(0, now, SAFETY, Some(591_000 - now));
            assert_eq!(s.retry_at(0), Some(591_000));
        }
        assert_eq!(s.due(590_999), None);
        assert_eq!(s.due(591_000), Some(0));
    }

    #[test]
    fn retry_beyond_the_safety_net_is_left_to_it() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        // A clock 56 years behind the state file: no timer for that.
        s.finished(0, 0, SAFETY, Some(1_800_000_000_000));
        assert_eq!(s.retry_at(0), None);
        assert_eq!(s.next(), Some(SAFETY));
    }

    #[test]
    fn events_during_a_check_are_kept() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        s.want(0, 10);
        s.finished(0, 20, SAFETY, None);
        assert_eq!(s.due(20), Some(0));
    }

    #[test]
    fn a_burst_of_events_keeps_its_first_delay() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        s.finished(0, 0, SAFETY, None);
        // The first event drew 7 s; the next ones drew less: still 7 s.
        s.want_spread(0, 7_000);
        s.want_spread(0, 1_200);
        s.want_spread(0, 3_000);
        assert_eq!(s.next(), Some(7_000));
        assert_eq!(s.due(6_999), None);
        assert_eq!(s.due(7_000), Some(0));
        // A signal is not spread: it still checks at once.
        s.want(0, 2_000);
        assert_eq!(s.due(2_000), Some(0));
        // Once the check has started, the next event draws anew.
        s.started(0);
        s.finished(0, 2_500, SAFETY, None);
        s.want_spread(0, 9_000);
        assert_eq!(s.next(), Some(9_000));
        s.want_spread(3, 0); // no such host: ignored
    }

    #[test]
    fn settle_delay_keeps_the_earliest_request() {
        let mut s = Schedule::new(1, 0);
        s.started(0);
        s.finished(0, 0, SAFETY, None);
        s.want(0, 5_000);
        s.want(0, 7_000);
        assert_eq!(s.next(), Some(5_000));
        s.want(0, 1_000);
        assert_eq!(s.next(), Some(1_000));
        s.want(7, 0); // no such host: ignored
    }
}
