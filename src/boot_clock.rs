//! The boot clock, read for the rate guard: which boot this is (a hash of
//! `/proc/sys/kernel/random/boot_id`) and the seconds since it began
//! (`CLOCK_BOOTTIME`: counts suspend, never stepped). With it the guard
//! counts the 10-minute floor in real time even when the wall clock is
//! stepped (see [`crate::guard::BootTime`]).
//!
//! A boot clock reading is paired only with a wall clock reading taken
//! from the system clock: a time given by a test (`MTGSY_DDNS_NOW`, watch
//! mode's test warp) or by firmware that keeps its own clock is not what
//! the boot clock measures, so the guard then counts on the wall clock
//! alone, as before.
//!
//! With it goes whether the kernel counts the wall clock as synchronised
//! (`adjtimex` with no change asked: `TIME_ERROR`, or `STA_UNSYNC` in the
//! status, means not): after a boot the wall clock may be hours ahead
//! until NTP sets it, which is when the guard holds a first request
//! until the boot clock alone can count the floor (see [`crate::guard`]).
//!
//! `MTGSY_DDNS_BOOT=ID:SECONDS[:unsynced]` stands in for the boot clock
//! (tests): ID is any text naming a boot, SECONDS the reading, and
//! `:unsynced` says the wall clock has not been synchronised (without it,
//! it has). Like `MTGSY_DDNS_NOW` it is a fixed reading for one run, not
//! for watch mode. A value that does not parse counts as no boot clock.

use std::path::Path;

use crate::fsio;
use crate::guard::{boot_id_hash, BootTime, Now};

/// Where Linux names the current boot.
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// `wall` (Unix seconds) with the boot clock read now and the kernel's
/// word on whether the wall clock is synchronised, if `wall` was read from
/// the system clock a moment ago (within a second); `MTGSY_DDNS_BOOT` when
/// set. Without a boot clock (it cannot be read, or does not belong to
/// `wall`) the reading is `wall` alone, counted as synchronised.
pub fn reading_for(wall: i64) -> Now {
    let (boot, synced) = match std::env::var_os("MTGSY_DDNS_BOOT") {
        Some(v) => v.to_str().and_then(parse_override).unwrap_or((None, true)),
        None => match system_boot_time(wall) {
            Some(b) => (Some(b), system_clock_synced()),
            None => (None, true),
        },
    };
    Now { wall, boot, synced }
}

/// The system's boot clock, if `wall` is the system clock's reading.
fn system_boot_time(wall: i64) -> Option<BootTime> {
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())?;
    if wall.abs_diff(system) > 1 {
        return None;
    }
    let id = fsio::read_file_capped(Path::new(BOOT_ID_PATH), 64).ok()?;
    Some(BootTime {
        boot_id: boot_id_hash(std::str::from_utf8(&id).ok()?),
        secs: seconds_since_boot()?,
    })
}

/// `ID:SECONDS[:unsynced]` as a reading: the hash of ID, SECONDS (not
/// negative), and whether the wall clock counts as synchronised.
fn parse_override(v: &str) -> Option<(Option<BootTime>, bool)> {
    let (v, synced) = match v.strip_suffix(":unsynced") {
        Some(rest) => (rest, false),
        None => (v, true),
    };
    let (id, secs) = v.rsplit_once(':')?;
    let secs: i64 = secs.trim().parse().ok().filter(|s| *s >= 0)?;
    let boot = BootTime {
        boot_id: boot_id_hash(id),
        secs,
    };
    Some((Some(boot), synced))
}

/// Whether the kernel counts the wall clock as synchronised (an NTP
/// client said so since it was last set); a failed call counts as not.
fn system_clock_synced() -> bool {
    // SAFETY: `timex` is plain data for which all zeroes is a valid value;
    // `modes = 0` asks for a reading only, so the call changes nothing and
    // writes at most the one struct it is given.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `tx` outlives the call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    state >= 0 && state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0
}

/// `CLOCK_BOOTTIME` in whole seconds.
fn seconds_since_boot() -> Option<i64> {
    let mut ts = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `ts` is valid for writes of one `timespec` for the whole
    // call, and is read only after the call reported success (it then
    // wrote all of it).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, ts.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let ts = unsafe { ts.assume_init() };
    // `time_t` is 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    let secs = i64::from(ts.tv_sec);
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_names_a_boot_and_a_reading() {
        let boot = |v: &str| parse_override(v).and_then(|(b, _)| b).unwrap();
        let a = boot("boot-a:120");
        assert_eq!(a.secs, 120);
        assert_eq!(a.boot_id, boot_id_hash("boot-a"));
        assert_ne!(a.boot_id, boot("boot-b:120").boot_id);
        // Every colon but the last belongs to the id.
        assert_eq!(boot("a:b:5").boot_id, boot_id_hash("a:b"));
        // Synchronised unless it says otherwise.
        assert_eq!(parse_override("boot-a:120"), Some((Some(a), true)));
        assert_eq!(
            parse_override("boot-a:120:unsynced"),
            Some((Some(a), false))
        );
        for bad in [
            "",
            "boot-a",
            "boot-a:",
            "boot-a:-1",
            "boot-a:soon",
            "boot-a:unsynced",
            "boot-a:120:synced",
        ] {
            assert_eq!(parse_override(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_system_boot_clock_pairs_only_with_the_system_time() {
        if std::env::var_os("MTGSY_DDNS_BOOT").is_some() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let first = reading_for(now).boot.expect("Linux has a boot clock");
        assert!(first.secs > 0);
        let later = reading_for(now);
        assert_eq!(later.wall, now);
        let later = later.boot.unwrap();
        assert_eq!(later.boot_id, first.boot_id);
        assert!(later.secs >= first.secs);
        // The kernel's word on the wall clock goes with the boot clock.
        assert_eq!(reading_for(now).synced, system_clock_synced());
        // A time that is not the system's has no boot clock, and counts as
        // synchronised.
        for wall in [now + 3600, now - 86_400] {
            assert_eq!(reading_for(wall), Now::from(wall));
        }
    }
}
