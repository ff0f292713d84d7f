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
//! `MTGSY_DDNS_BOOT=ID:SECONDS` stands in for the boot clock (tests): ID is
//! any text naming a boot, SECONDS the reading. Like `MTGSY_DDNS_NOW` it is
//! a fixed reading for one run, not for watch mode. A value that does not
//! parse counts as no boot clock.

use std::path::Path;

use crate::fsio;
use crate::guard::{boot_id_hash, BootTime};

/// Where Linux names the current boot.
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// The boot clock read now, if `wall` (Unix seconds) was read from the
/// system clock a moment ago (within a second); `MTGSY_DDNS_BOOT` when set.
/// `None` when the boot clock cannot be read or does not belong to `wall`.
pub fn reading_for(wall: i64) -> Option<BootTime> {
    if let Some(v) = std::env::var_os("MTGSY_DDNS_BOOT") {
        return parse_override(v.to_str()?);
    }
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

/// `ID:SECONDS` as a reading: the hash of ID, and SECONDS (not negative).
fn parse_override(v: &str) -> Option<BootTime> {
    let (id, secs) = v.rsplit_once(':')?;
    let secs: i64 = secs.trim().parse().ok().filter(|s| *s >= 0)?;
    Some(BootTime {
        boot_id: boot_id_hash(id),
        secs,
    })
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
        let a = parse_override("boot-a:120").unwrap();
        assert_eq!(a.secs, 120);
        assert_eq!(a.boot_id, boot_id_hash("boot-a"));
        assert_ne!(a.boot_id, parse_override("boot-b:120").unwrap().boot_id);
        // Every colon but the last belongs to the id.
        assert_eq!(
            parse_override("a:b:5").unwrap().boot_id,
            boot_id_hash("a:b")
        );
        for bad in ["", "boot-a", "boot-a:", "boot-a:-1", "boot-a:soon"] {
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
        let first = reading_for(now).expect("Linux has a boot clock");
        assert!(first.secs > 0);
        let later = reading_for(now).unwrap();
        assert_eq!(later.boot_id, first.boot_id);
        assert!(later.secs >= first.secs);
        // A time that is not the system's has no boot clock.
        assert_eq!(reading_for(now + 3600), None);
        assert_eq!(reading_for(now - 86_400), None);
    }
}
