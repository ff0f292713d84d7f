//! The rate guard alone, for firmware that sends the request itself:
//! `mtgsy_guard_check` before sending, `mtgsy_guard_record` after, and
//! `mtgsy_classify` to read the reply as the library would.
//!
//! Only the C conversion lives here (arguments, codes, out-params); the
//! guard's work is the CLI's own cycle, split where the CLI sends: check
//! is [`update::begin`] (lock, decide, and on "send" write the attempt as
//! pending) then [`update::Permit::park`] (release the lock, keep the
//! permit on the handle); record is [`update::resume`] (lock again) then
//! [`update::Permit::conclude`]. A pending attempt counts toward the
//! 10-minute floor, so between the two calls every other check (any
//! handle, any process) is deferred, and if the firmware dies before
//! recording, the attempt still counts.

use std::ffi::{c_char, c_int};
use std::net::Ipv4Addr;

use super::{emit, mtgsy, text, with_handle, Fail, MTGSY_BAD_INPUT, MTGSY_NULL_ARGUMENT, MTGSY_OK};
use crate::config::Config;
use crate::guard::AttemptResult;
use crate::reply::{self, Verdict};
use crate::transport::MAX_BODY;
use crate::update::{self, Begun, Clock, Level};

/// `mtgsy_guard_record`: the service confirmed the update.
pub const MTGSY_ATTEMPT_UPDATED: c_int = 1;
/// `mtgsy_guard_record`: a 2xx reply that could not be classified; it is
/// counted as registered and not re-sent.
pub const MTGSY_ATTEMPT_UNCONFIRMED: c_int = 2;
/// `mtgsy_guard_record`: the service rejected the update (login, domain).
pub const MTGSY_ATTEMPT_REJECTED: c_int = 3;
/// `mtgsy_guard_record`: the service blocked the account or client.
pub const MTGSY_ATTEMPT_BLOCKED: c_int = 4;
/// `mtgsy_guard_record`: a failure after the request may have reached the
/// server (timeout waiting for the reply, 5xx, reset). When unsure, use
/// this one.
pub const MTGSY_ATTEMPT_FAILED_SENT: c_int = 5;
/// `mtgsy_guard_record`: a failure before anything reached the server
/// (DNS, connection refused, TLS handshake).
pub const MTGSY_ATTEMPT_FAILED_UNSENT: c_int = 6;

fn attempt_result(code: c_int) -> Option<AttemptResult> {
    Some(match code {
        MTGSY_ATTEMPT_UPDATED => AttemptResult::Updated,
        MTGSY_ATTEMPT_UNCONFIRMED => AttemptResult::Unconfirmed,
        MTGSY_ATTEMPT_REJECTED => AttemptResult::Rejected,
        MTGSY_ATTEMPT_BLOCKED => AttemptResult::Blocked,
        MTGSY_ATTEMPT_FAILED_SENT => AttemptResult::FailedSent,
        MTGSY_ATTEMPT_FAILED_UNSENT => AttemptResult::FailedUnsent,
        _ => return None,
    })
}

/// The handle's configuration with `ip` as the address.
fn config_for(h: &mtgsy, ip: &str) -> Result<(Config, Ipv4Addr), Fail> {
    let mut settings = h.settings.clone();
    settings.clear_address();
    settings.set("ip", ip).map_err(|e| Fail::input(&e))?;
    let config = settings.resolve().map_err(|e| Fail::input(&e))?;
    let Some(ip) = settings.ip else {
        return Err(Fail::new(MTGSY_BAD_INPUT, "ip: is missing"));
    };
    Ok((config, ip))
}

/// `now`, or the clock when it is 0.
fn clock(now: i64) -> Result<i64, Fail> {
    match now {
        0 => crate::now().map_err(|e| Fail::input(&e)),
        n if n < 0 => Err(Fail::new(
            MTGSY_BAD_INPUT,
            format!("now: {n} is before 1970; give Unix seconds, or 0 for the clock"),
        )),
        n => Ok(n),
    }
}

/// Asks the rate guard whether firmware may send an update of `ip` now,
/// for the account and state file set on `h` (`username`, `password`,
/// `server`, `state`, `force_interval`, `allow_private`, `lookup_host`;
/// the address settings `ip`, `ip_source`, `interface`, `ip_url` and
/// `ip_command` are ignored). `ip` is checked as
/// `mtgsy_update` would check it (a public IPv4 address unless
/// `allow_private` is set). `force` non-zero asks for a send even if
/// unchanged (the floor still holds, and an update that changes nothing
/// goes out at most once per 24 h). `now` is Unix seconds, or 0 for the
/// system clock. `retry_after_s`, if not NULL, gets the seconds to wait
/// (0 when nothing holds a request back).
///
/// Returns `MTGSY_OK`: send exactly one request for `ip` now. The attempt
/// has already been written to the state file as pending, so it counts
/// toward the 10-minute floor even if the firmware crashes; after the
/// request, call `mtgsy_guard_record` once with the outcome. Until then,
/// every check for this account (any handle, any process) is deferred.
/// If no record follows, the attempt's outcome counts as unknown, as after
/// a crash of the CLI: an address not known to be registered is sent again
/// after the floor.
///
/// Or, with nothing to send: `MTGSY_UNCHANGED` (the address is registered),
/// `MTGSY_DEFERRED` (floor, backoff, rejection hold, the once-a-day rule,
/// a state lock held past the timeout plus 10 s, or the clock behind
/// the state file), `MTGSY_BLOCKED`; or an error: `MTGSY_BAD_INPUT`
/// (settings, `ip`, `now`, or the state file), `MTGSY_NULL_ARGUMENT`,
/// `MTGSY_INVALID_UTF8`, `MTGSY_TOO_LONG`, `MTGSY_INTERNAL`. After any
/// non-zero code `mtgsy_last_error` says why. Only `MTGSY_OK` means send.
/// A check that sends nothing stores its time (`now`) as the record's
/// `last_check` (see `mtgsy_status_json`), at most once per
/// `check_interval` setting (600 s by default), to spare flash.
///
/// Waits while another run holds the state file lock, at most the
/// `timeout` setting plus 10 s (then `MTGSY_DEFERRED`). With `lookup_host`
/// set and nothing recorded yet, the name is looked up first, before the
/// lock is taken, for at most the `timeout` setting.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `ip` is NULL
/// or a NUL-terminated string; `retry_after_s` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_guard_check(
    h: *mut mtgsy,
    ip: *const c_char,
    force: c_int,
    now: i64,
    retry_after_s: *mut i64,
) -> c_int {
    let mut wait = 0;
    let body = |h: &mut mtgsy| {
        // SAFETY: `ip` is NULL or NUL-terminated by the contract.
        let ip = unsafe { text::arg(ip, "ip") }?;
        check(h, ip, force != 0, now, &mut wait)
    };
    // SAFETY: forwarded caller contract.
    let code = unsafe { with_handle(h, body) };
    if !retry_after_s.is_null() {
        // SAFETY: non-NULL and writable by the contract.
        unsafe { retry_after_s.write(wait) };
    }
    code
}

fn check(h: &mut mtgsy, ip: &str, force: bool, now: i64, wait: &mut i64) -> Result<(), Fail> {
    let (config, ip) = config_for(h, ip)?;
    let fields = config.fields(ip);
    fields
        .validate(config.allow_private)
        .map_err(|e| Fail::input(&e))?;
    let clock = Clock::starting_at(clock(now)?);
    let sink = h.log;
    let secret = config.password.clone();
    let mut log = |level: Level, msg: &str| emit(sink, level, &secret.mask(msg));
    let want = update::want(&config, &fields, force);
    match update::begin(&config, &want, clock, &mut log).map_err(|e| Fail::error(&e))? {
        Begun::Send { permit, .. } => {
            log(
                Level::Debug,
                &format!("guard: send {ip} now; the attempt is recorded as pending"),
            );
            h.pending = Some(permit.park());
            Ok(())
        }
        Begun::Held(held) => {
            *wait = held.retry_after_s.unwrap_or(0).max(0);
            log(Level::Info, &held.message);
            Err(Fail::new(held.outcome.guard_check_code(), held.message))
        }
    }
}

/// Records how the request allowed by `mtgsy_guard_check` ended, for the
/// same handle settings and `ip`: `outcome` is one of the
/// `MTGSY_ATTEMPT_*` values (`mtgsy_classify` maps a reply to one). `now`
/// is Unix seconds, or 0 for the system clock. Call it once per
/// `MTGSY_OK` from `mtgsy_guard_check`; recording an attempt the guard did
/// not allow is accepted (what was sent is recorded) but breaks the
/// guarantees. With the same handle, a failure that never reached the
/// server does not count toward the floor, as in `mtgsy_update`; from
/// another handle or process it still counts (the safe side).
///
/// Returns `MTGSY_OK` once the outcome is on disk; `MTGSY_BAD_INPUT` for
/// an unknown `outcome`, a bad `ip` or `now`, settings that do not resolve,
/// or a state file that cannot be written (the pending attempt then still
/// holds the floor); `MTGSY_DEFERRED` if another run held the state lock
/// past the timeout plus 10 s (likewise); `MTGSY_NULL_ARGUMENT`, `MTGSY_INVALID_UTF8`,
/// `MTGSY_TOO_LONG`, `MTGSY_INTERNAL`.
///
/// Waits while another run holds the state file lock, at most the
/// `timeout` setting plus 10 s (then `MTGSY_DEFERRED`).
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `ip` is NULL
/// or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_guard_record(
    h: *mut mtgsy,
    ip: *const c_char,
    outcome: c_int,
    now: i64,
) -> c_int {
    let body = |h: &mut mtgsy| {
        // SAFETY: `ip` is NULL or NUL-terminated by the contract.
        let ip = unsafe { text::arg(ip, "ip") }?;
        record(h, ip, outcome, now)
    };
    // SAFETY: forwarded caller contract.
    unsafe { with_handle(h, body) }
}

fn record(h: &mut mtgsy, ip: &str, outcome: c_int, now: i64) -> Result<(), Fail> {
    let result = attempt_result(outcome).ok_or_else(|| {
        Fail::new(
            MTGSY_BAD_INPUT,
            format!("outcome: {outcome} is not one of the MTGSY_ATTEMPT_* values"),
        )
    })?;
    let (config, ip) = config_for(h, ip)?;
    let clock = Clock::starting_at(clock(now)?);
    let want = update::want(&config, &config.fields(ip), false);
    let permit =
        update::resume(h.pending.take(), &config, want, clock).map_err(|e| Fail::error(&e))?;
    // The firmware read the reply itself: no HTTP status or text is known.
    permit
        .conclude(result, None, None)
        .stored
        .map_err(|e| Fail::error(&e))?;
    emit(
        h.log,
        Level::Debug,
        &format!("guard: recorded the attempt for {ip} as {result:?}"),
    );
    Ok(())
}

/// Classifies a reply from the service the way `mtgsy_update` does, for
/// `mtgsy_guard_record`: `http_status` is the reply's status (100-599),
/// `body`/`len` its body (binary-safe; only the first 64 KiB are read;
/// `body` may be NULL when `len` is 0). `*attempt` gets an
/// `MTGSY_ATTEMPT_*` value. Needs no handle; thread-safe.
///
/// Returns `MTGSY_OK`, `MTGSY_BAD_INPUT` for a status outside 100-599,
/// `MTGSY_NULL_ARGUMENT` (`attempt` NULL, or `body` NULL with `len` > 0),
/// or `MTGSY_INTERNAL`; `*attempt` is written only on `MTGSY_OK`.
///
/// # Safety
/// `body` is NULL or points to `len` readable bytes; `attempt` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_classify(
    http_status: c_int,
    body: *const c_char,
    len: usize,
    attempt: *mut c_int,
) -> c_int {
    if attempt.is_null() || (body.is_null() && len > 0) {
        return MTGSY_NULL_ARGUMENT;
    }
    let Some(status) = u16::try_from(http_status)
        .ok()
        .filter(|s| (100..=599).contains(s))
    else {
        return MTGSY_BAD_INPUT;
    };
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: non-NULL and `len` bytes readable by the contract; at
        // most MAX_BODY of them are looked at.
        unsafe { std::slice::from_raw_parts(body.cast::<u8>(), len.min(MAX_BODY)) }
    };
    super::boundary(super::MTGSY_INTERNAL, || {
        let value = match reply::classify_body(status, bytes) {
            Verdict::Accepted => MTGSY_ATTEMPT_UPDATED,
            Verdict::Unconfirmed => MTGSY_ATTEMPT_UNCONFIRMED,
            Verdict::Rejected(_) => MTGSY_ATTEMPT_REJECTED,
            Verdict::Blocked(_) => MTGSY_ATTEMPT_BLOCKED,
            Verdict::Failed(_) => MTGSY_ATTEMPT_FAILED_SENT,
        };
        // SAFETY: non-NULL and writable by the contract.
        unsafe { attempt.write(value) };
        MTGSY_OK
    })
}
