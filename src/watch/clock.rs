//! Watch mode's clock: monotonic milliseconds for its timers and Unix
//! seconds for the guard, with a test-only warp that makes guard time run
//! faster in debug builds. Watch mode never reads `MTGSY_DDNS_NOW`: a
//! fixed clock would stop time.

use std::time::Instant;

/// The clock: monotonic milliseconds for timers, Unix seconds for the guard.
///
/// Debug builds honour `MTGSY_DDNS_TEST_WARP=N`: guard time then runs N
/// times faster than real time, so tests can see the 10-minute floor end
/// in seconds. Release builds ignore the variable.
pub(super) struct Clock {
    /// How many times faster than real time guard time runs (1: not at all).
    pub(super) warp: u64,
    start: Instant,
    start_wall: i64,
}

impl Clock {
    /// A clock starting now, warped if the test variable asks for it.
    pub(super) fn new() -> Clock {
        Clock {
            warp: test_warp(),
            start: Instant::now(),
            start_wall: system_now(),
        }
    }

    /// Milliseconds since start.
    pub(super) fn ticks(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Unix seconds for the guard.
    pub(super) fn wall(&self) -> i64 {
        if self.warp <= 1 {
            return system_now();
        }
        let warped = self.ticks().saturating_mul(self.warp) / 1000;
        self.start_wall
            .saturating_add(i64::try_from(warped).unwrap_or(i64::MAX))
    }

    /// Real milliseconds for `secs` guard seconds (rounded up).
    pub(super) fn ms_for<T: TryInto<u64>>(&self, secs: T) -> u64 {
        let secs: u64 = secs.try_into().unwrap_or(0);
        secs.saturating_mul(1000).div_ceil(self.warp.max(1))
    }
}

/// The system clock in Unix seconds (0 before 1970).
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The warp `MTGSY_DDNS_TEST_WARP` asks for, 1 to 3600.
#[cfg(debug_assertions)]
fn test_warp() -> u64 {
    std::env::var("MTGSY_DDNS_TEST_WARP")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|w| w.clamp(1, 3600))
        .unwrap_or(1)
}

/// Release builds never warp.
#[cfg(not(debug_assertions))]
fn test_warp() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warped_clock_converts_guard_seconds() {
        let c = Clock {
            warp: 60,
            start: Instant::now(),
            start_wall: 1_000,
        };
        assert_eq!(c.ms_for(600), 10_000);
        assert_eq!(c.ms_for(1), 17);
        assert!(c.wall() >= 1_000);
        let real = Clock {
            warp: 1,
            start: Instant::now(),
            start_wall: 0,
        };
        assert_eq!(real.ms_for(600u64), 600_000);
        assert_eq!(real.ms_for(-5i64), 0);
    }
}
