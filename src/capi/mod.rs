//! The C ABI: `libmtgsy_ddns.so` / `libmtgsy_ddns.a` and
//! `include/mtgsy_ddns.h` (generated from this module by cbindgen).
//!
//! A thin layer over the same code the CLI runs, shaped like curl's easy
//! interface: one opaque handle per host, settings by name (the CLI config
//! file's keys), one call for the whole guarded update, integer codes that
//! equal the CLI's exit codes, `mtgsy_strerror` for fixed text and
//! `mtgsy_last_error` for the details.
//!
//! ```c
//! #include <mtgsy_ddns.h>
//!
//! mtgsy *h = mtgsy_new();
//! mtgsy_set(h, "username", "me@example.com");
//! mtgsy_set(h, "password_file", "/etc/mtgsy-ddns.pass");
//! mtgsy_set(h, "ip", wan_address);
//! mtgsy_result r;
//! int rc = mtgsy_update(h, 0, &r);   /* MTGSY_OK, MTGSY_DEFERRED, ... */
//! if (rc != MTGSY_OK)
//!     syslog(LOG_WARNING, "%s", mtgsy_last_error(h));
//! mtgsy_free(h);
//! ```
//!
//! Build: `cargo build --release` gives `target/release/libmtgsy_ddns.so`
//! (soname `libmtgsy_ddns.so.<MTGSY_ABI_VERSION>`) and `libmtgsy_ddns.a`;
//! link with `-lmtgsy_ddns`, or for the static library add
//! `-lpthread -ldl -lm -lrt -lutil` (see `mtgsy-ddns.pc`).
//!
//! Every entry point checks its pointers, refuses strings that are not
//! UTF-8 or longer than [`MTGSY_STRING_MAX`], and runs its body inside
//! `catch_unwind`, so no Rust panic crosses into C ([`MTGSY_INTERNAL`]).
//! Codes are only ever appended; a number never changes meaning.
//!
//! This file is long (about 600 lines) because it is the header's source:
//! cbindgen reads the codes, the handle, the result struct and the handle
//! calls from here, in the order `include/mtgsy_ddns.h` shows them, and
//! most of its lines are the C-facing doc comments that become the
//! header's documentation. The guard-only calls live in `firmware.rs`,
//! `mtgsy_status_json` in `status.rs`, string conversion in `text.rs`,
//! the tests in `tests.rs`.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

mod firmware;
mod status;
mod text;

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::config::{self, Settings};
use crate::error::Status;
use crate::transport::HttpTransport;
use crate::update::{self, Level, RunOptions};

pub use firmware::{mtgsy_classify, mtgsy_guard_check, mtgsy_guard_record};
pub use status::mtgsy_status_json;

/// The ABI's major version: it changes only when a function, a type or a
/// code changes incompatibly, and it is the number in the shared
/// library's soname (`libmtgsy_ddns.so.1`). Compare with
/// `mtgsy_abi_version()` at run time.
pub const MTGSY_ABI_VERSION: c_int = 1;

/// Success. From `mtgsy_update`: updated, or nothing to do. From
/// `mtgsy_guard_check`: send the request now.
pub const MTGSY_OK: c_int = 0;
/// Bad input or configuration (a setting, a missing field, the state file
/// cannot be used); nothing was sent. `mtgsy_last_error` names the field.
pub const MTGSY_BAD_INPUT: c_int = 2;
/// Held back by the rate guard (or the clock is behind the state file);
/// nothing was sent. Try again after `retry_after_s`.
pub const MTGSY_DEFERRED: c_int = 3;
/// Network, TLS or server error, or the address could not be detected.
pub const MTGSY_NETWORK: c_int = 4;
/// The service rejected the update (login, domain); the same address and
/// login are not retried for 24 hours.
pub const MTGSY_REJECTED: c_int = 5;
/// The service blocked the account or client; nothing is sent for 24 hours.
pub const MTGSY_BLOCKED: c_int = 6;
/// A required pointer argument was NULL.
pub const MTGSY_NULL_ARGUMENT: c_int = 100;
/// A string argument was not valid UTF-8.
pub const MTGSY_INVALID_UTF8: c_int = 101;
/// A string argument was longer than `MTGSY_STRING_MAX` bytes.
pub const MTGSY_TOO_LONG: c_int = 102;
/// `mtgsy_set` was given a key this library does not know (perhaps one
/// from a newer version).
pub const MTGSY_UNKNOWN_KEY: c_int = 103;
/// `mtgsy_guard_check` only: the address is already registered; send
/// nothing.
pub const MTGSY_UNCHANGED: c_int = 104;
/// A bug in the library was caught at the boundary (a Rust panic); the
/// handle is still usable and `mtgsy_last_error` has the details.
pub const MTGSY_INTERNAL: c_int = 105;

/// Log level of an error (equal to syslog's `LOG_ERR`).
pub const MTGSY_LOG_ERR: c_int = 3;
/// Log level of a warning (equal to syslog's `LOG_WARNING`).
pub const MTGSY_LOG_WARNING: c_int = 4;
/// Log level of what a run did (equal to syslog's `LOG_INFO`).
pub const MTGSY_LOG_INFO: c_int = 6;
/// Log level of details (equal to syslog's `LOG_DEBUG`).
pub const MTGSY_LOG_DEBUG: c_int = 7;

/// Longest string argument accepted, in bytes, without the NUL.
pub const MTGSY_STRING_MAX: usize = 4096;
/// Size of `mtgsy_result.outcome`, NUL included.
pub const MTGSY_OUTCOME_SIZE: usize = 16;
/// Size of `mtgsy_result.ip`, NUL included.
pub const MTGSY_IP_SIZE: usize = 16;
/// Size of `mtgsy_result.reply`, NUL included.
pub const MTGSY_REPLY_SIZE: usize = 1024;
/// Size of `mtgsy_result.message`, NUL included.
pub const MTGSY_MESSAGE_SIZE: usize = 1024;

// The CLI's exit codes and the ABI's codes are the same numbers.
const _: () = {
    assert!(MTGSY_OK == Status::Ok as c_int);
    assert!(MTGSY_BAD_INPUT == Status::BadInput as c_int);
    assert!(MTGSY_DEFERRED == Status::Deferred as c_int);
    assert!(MTGSY_NETWORK == Status::Network as c_int);
    assert!(MTGSY_REJECTED == Status::Rejected as c_int);
    assert!(MTGSY_BLOCKED == Status::Blocked as c_int);
};

/// A handle: the settings for one account and host. Opaque to C; made by
/// `mtgsy_new`, released by `mtgsy_free`.
pub struct mtgsy {
    settings: Settings,
    dry_run: bool,
    error: CString,
    log: Option<LogSink>,
    pending: Option<update::Parked>,
    /// The text `mtgsy_status_json` handed out last.
    status: CString,
}

/// A log callback: `level` is one of the `MTGSY_LOG_*` values (syslog
/// priorities), `message` a NUL-terminated UTF-8 line without the password,
/// valid only during the call, and `userdata` the pointer given to
/// `mtgsy_set_log`. It runs on the thread that called into the library,
/// possibly while the state file is locked: it must return promptly, must
/// not call functions on the same handle, and must not unwind (C++
/// exceptions, longjmp) through the library.
pub type mtgsy_log_fn =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, userdata: *mut c_void)>;

#[derive(Clone, Copy)]
struct LogSink {
    func: unsafe extern "C" fn(c_int, *const c_char, *mut c_void),
    userdata: *mut c_void,
}

/// What `mtgsy_update` ended with. Caller-allocated; every field is written
/// on every return of `mtgsy_update` (zeroed first), and every string is
/// NUL-terminated and cut to fit at a UTF-8 character boundary.
#[repr(C)]
pub struct mtgsy_result {
    /// The code `mtgsy_update` returned.
    pub status: c_int,
    /// 1 if a request was sent in this call (it may have reached the
    /// server), else 0.
    pub sent: c_int,
    /// The reply's HTTP status, or 0 if no reply came.
    pub http_status: c_int,
    /// Seconds until a request may go out, when deferred, blocked or after
    /// a failure; 0 when nothing is known to hold it back.
    pub retry_after_s: i64,
    /// `updated`, `unconfirmed`, `unchanged`, `deferred`, `failed`,
    /// `rejected`, `blocked`, `dry-run` (the `dry_run` setting: nothing
    /// sent), `invalid` (bad input, nothing sent) or empty.
    pub outcome: [c_char; MTGSY_OUTCOME_SIZE],
    /// The address concerned (dotted quad), or empty.
    pub ip: [c_char; MTGSY_IP_SIZE],
    /// The reply text, or the network error, with the password masked as
    /// `***`; empty when nothing was sent.
    pub reply: [c_char; MTGSY_REPLY_SIZE],
    /// A sentence for the user (also passed to the log callback). On a dry
    /// run: the request that would be sent, password masked, and whether
    /// the rate guard would let it go now.
    pub message: [c_char; MTGSY_MESSAGE_SIZE],
}

/// A failed call: its code and the text for `mtgsy_last_error`.
#[derive(Debug)]
struct Fail {
    code: c_int,
    message: String,
}

impl Fail {
    fn new(code: c_int, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }

    fn input(e: &crate::InputError) -> Fail {
        Fail::new(MTGSY_BAD_INPUT, e.to_string())
    }

    fn error(e: &crate::Error) -> Fail {
        Fail::new(e.status().code(), e.to_string())
    }
}

impl mtgsy {
    fn new() -> mtgsy {
        mtgsy {
            settings: Settings::default(),
            dry_run: false,
            error: CString::default(),
            log: None,
            pending: None,
            status: CString::default(),
        }
    }

    fn set_error(&mut self, message: &str) {
        self.error = text::c_string(message);
    }
}

/// Sends `msg` to the handle's log callback, if one is set.
fn emit(sink: Option<LogSink>, level: Level, msg: &str) {
    let Some(sink) = sink else { return };
    let level = match level {
        Level::Error => MTGSY_LOG_ERR,
        Level::Warn => MTGSY_LOG_WARNING,
        Level::Info => MTGSY_LOG_INFO,
        Level::Debug => MTGSY_LOG_DEBUG,
    };
    let line = text::c_string(msg);
    // SAFETY: `mtgsy_set_log`'s contract makes `func` callable with a
    // level, a NUL-terminated string valid for the call, and the caller's
    // own `userdata`; `line` outlives the call.
    unsafe { (sink.func)(level, line.as_ptr(), sink.userdata) };
}

/// Runs an entry point's body on the handle `h`: NULL check, error text,
/// and the panic boundary.
///
/// # Safety
/// `h` is NULL or a live handle from `mtgsy_new` that no other thread uses
/// during the call.
unsafe fn with_handle(h: *mut mtgsy, body: impl FnOnce(&mut mtgsy) -> Result<(), Fail>) -> c_int {
    if h.is_null() {
        return MTGSY_NULL_ARGUMENT;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: non-NULL, and live and unshared by the caller's contract.
        let handle = unsafe { &mut *h };
        handle.error = CString::default();
        body(handle)
    }));
    // SAFETY: as above; the borrow inside the closure has ended.
    let handle = unsafe { &mut *h };
    match outcome {
        Ok(Ok(())) => MTGSY_OK,
        Ok(Err(fail)) => {
            handle.set_error(&fail.message);
            fail.code
        }
        Err(panic) => {
            let what = text::panic_message(panic.as_ref());
            let message = format!("internal error in mtgsy-ddns (a bug, please report it): {what}");
            emit(handle.log, Level::Error, &message);
            handle.set_error(&message);
            MTGSY_INTERNAL
        }
    }
}

/// Runs a body that needs no handle inside the panic boundary.
fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version holds a NUL"),
    };

/// The library's version, e.g. `"0.1.0"` (the `MTGSY_VERSION` the header
/// was made with may differ if the library was upgraded). A static string:
/// never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn mtgsy_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The library's ABI major version: equal to the header's
/// `MTGSY_ABI_VERSION` when the header matches the library. Thread-safe.
#[no_mangle]
pub extern "C" fn mtgsy_abi_version() -> c_int {
    MTGSY_ABI_VERSION
}

/// A fixed English text for a code returned by any `mtgsy_*` function,
/// e.g. `"deferred by the rate guard"`. Unknown codes get a generic text;
/// never NULL. A static string: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn mtgsy_strerror(code: c_int) -> *const c_char {
    let text: &'static CStr = match code {
        MTGSY_OK => c"ok",
        MTGSY_BAD_INPUT => c"bad input or configuration; nothing was sent",
        MTGSY_DEFERRED => c"deferred by the rate guard; nothing was sent",
        MTGSY_NETWORK => c"network, TLS or server error",
        MTGSY_REJECTED => c"the service rejected the update",
        MTGSY_BLOCKED => c"the service blocked the account or client",
        MTGSY_NULL_ARGUMENT => c"a required pointer argument is NULL",
        MTGSY_INVALID_UTF8 => c"a string argument is not valid UTF-8",
        MTGSY_TOO_LONG => c"a string argument is too long",
        MTGSY_UNKNOWN_KEY => c"unknown setting",
        MTGSY_UNCHANGED => c"the address is already registered; nothing to send",
        MTGSY_INTERNAL => c"internal error in the library (a bug)",
        _ => c"unknown mtgsy error code",
    };
    text.as_ptr()
}

/// Makes a handle with every setting at its default (as the CLI with no
/// options: HTTPS to www.mtgsy.net, state in /etc/mtgsy-ddns on OpenWrt,
/// else /var/lib/mtgsy-ddns).
///
/// Returns NULL only if the library failed internally. The caller owns the
/// handle and releases it with `mtgsy_free`. A handle may be used by one
/// thread at a time; distinct handles may be used from distinct threads at
/// once, even on the same state file (the file lock orders them).
#[no_mangle]
pub extern "C" fn mtgsy_new() -> *mut mtgsy {
    boundary(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mtgsy::new()))
    })
}

/// Releases a handle and everything it holds. `mtgsy_free(NULL)` does
/// nothing. Using the handle afterwards, or freeing it twice, is undefined
/// behaviour, as with `free`.
///
/// # Safety
/// `h` is NULL or a handle from `mtgsy_new` not yet freed and not in use by
/// another thread.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_free(h: *mut mtgsy) {
    if h.is_null() {
        return;
    }
    boundary((), || {
        // SAFETY: `h` came from `Box::into_raw` in `mtgsy_new` and, by the
        // caller's contract, is freed only once.
        drop(unsafe { Box::from_raw(h) });
    });
}

/// Puts every setting back to its default and removes the log callback,
/// as if the handle were new.
///
/// Returns `MTGSY_OK`, or `MTGSY_NULL_ARGUMENT` if `h` is NULL.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_reset(h: *mut mtgsy) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_handle(h, |h| {
            *h = mtgsy::new();
            Ok(())
        })
    }
}

/// Sets one setting by name, with the same keys and value syntax as the
/// CLI's JSON config file (values as strings: `"1"`/`"0"` for booleans,
/// digits for numbers): `username`, `password`, `password_file`, `server`,
/// `ca_file`, `allow_http`, `timeout`, `ip`, `ip_source`, `interface`,
/// `ip_url`, `ip_command`, `allow_private`, `hb`, `stealth`, `port`,
/// `offline_url`, `offline_text`, `mx`, `state`, `lookup_host`,
/// `force_interval`, `check_interval`, `bind_interface` (the network
/// device requests leave through), `jitter` (seconds, 0 to 300:
/// `mtgsy_update` then waits a random delay of up to that long before it
/// sends, so a fleet does not send in the same second); and `dry_run`
/// (`"1"`: `mtgsy_update` finds the address and asks the rate guard but
/// sends nothing and writes no state; its result says what would be sent).
///
/// Of the address settings `ip`, `interface`, `ip_url` and `ip_command`,
/// the one set selects the source (`ip_source` may name it too); two of
/// them at once make `mtgsy_update` fail with `MTGSY_BAD_INPUT`.
///
/// Both strings are copied; the caller keeps ownership. A bad value is
/// refused at once and the key keeps its previous value. `password_file`
/// is read now; `"-"` (standard input) is refused here.
///
/// Returns `MTGSY_OK`; `MTGSY_UNKNOWN_KEY` for an unknown key;
/// `MTGSY_BAD_INPUT` for a bad value (`mtgsy_last_error` names the key and
/// the reason, never the password); `MTGSY_NULL_ARGUMENT`,
/// `MTGSY_INVALID_UTF8` or `MTGSY_TOO_LONG` for an unusable argument.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `key` and
/// `value` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_set(
    h: *mut mtgsy,
    key: *const c_char,
    value: *const c_char,
) -> c_int {
    let body = |h: &mut mtgsy| {
        // SAFETY: `key` is NULL or NUL-terminated by the contract.
        let key = unsafe { text::arg(key, "key") }?;
        // SAFETY: `value` is NULL or NUL-terminated by the contract.
        let value = unsafe { text::arg(value, &format!("the value of {key:?}")) }?;
        if key == "dry_run" {
            h.dry_run = config::parse_bool(key, value).map_err(|e| Fail::input(&e))?;
            return Ok(());
        }
        if !config::is_key(key) {
            return Err(Fail::new(
                MTGSY_UNKNOWN_KEY,
                format!("{key:?}: is not a known setting"),
            ));
        }
        if key == "password_file" && value.trim() == "-" {
            return Err(Fail::new(
                MTGSY_BAD_INPUT,
                "password_file: \"-\" (standard input) is not available to a library; give a file or use the password key",
            ));
        }
        h.settings.set(key, value).map_err(|e| Fail::input(&e))
    };
    // SAFETY: forwarded caller contract.
    unsafe { with_handle(h, body) }
}

/// Routes the library's messages to `callback` (NULL: no messages, the
/// default). Without a callback the library prints nothing, ever. The
/// levels are syslog's, so `syslog(level, "%s", message)` works as is.
/// `userdata` is passed back untouched; the caller keeps ownership.
///
/// Returns `MTGSY_OK`, or `MTGSY_NULL_ARGUMENT` if `h` is NULL.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `callback`
/// keeps to the rules of `mtgsy_log_fn` while it is set.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_set_log(
    h: *mut mtgsy,
    callback: mtgsy_log_fn,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        with_handle(h, |h| {
            h.log = callback.map(|func| LogSink { func, userdata });
            Ok(())
        })
    }
}

/// Runs one guarded update, the same cycle as `mtgsy-ddns update`: find
/// the address, check every field, lock the state file, ask the rate guard,
/// record the attempt, send one HTTPS request, classify the reply, record
/// the outcome. It blocks for at most about the `timeout` setting (30 s by
/// default) plus the wait for the state file lock (at most the timeout
/// plus 10 s; then `MTGSY_DEFERRED`, nothing sent).
///
/// With the `dry_run` setting on, it stops before the lock: nothing is
/// sent, the state file is not written, and the result (`outcome`
/// `dry-run`, `sent` 0) says in `message` what would be sent.
///
/// With the `jitter` setting, an update the rate guard would send first
/// waits a random 0 to `jitter` seconds (blocking), then reads the address
/// again; one it holds back returns at once.
///
/// `force` non-zero sends even an unchanged address (the 10-minute floor
/// still holds, and an update that changes nothing goes out at most once
/// per 24 h). `out`, if not NULL, is filled on every return (see
/// `mtgsy_result`); the caller owns it. `MTGSY_DDNS_NOW` in the
/// environment overrides the clock (for tests).
///
/// Returns `MTGSY_OK` (updated, or nothing to do), `MTGSY_BAD_INPUT`,
/// `MTGSY_DEFERRED`, `MTGSY_NETWORK`, `MTGSY_REJECTED`, `MTGSY_BLOCKED`
/// (the CLI's exit codes), `MTGSY_NULL_ARGUMENT` if `h` is NULL, or
/// `MTGSY_INTERNAL`. After a non-zero code `mtgsy_last_error` says why.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `out` is
/// NULL or points to writable memory for one `mtgsy_result`.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_update(
    h: *mut mtgsy,
    force: c_int,
    out: *mut mtgsy_result,
) -> c_int {
    let mut result = mtgsy_result::zeroed();
    // SAFETY: forwarded caller contract.
    let code = unsafe { with_handle(h, |h| update_inner(h, force != 0, &mut result)) };
    if out.is_null() {
        return code;
    }
    if code == MTGSY_INTERNAL || code == MTGSY_NULL_ARGUMENT {
        result = mtgsy_result::zeroed();
    }
    result.status = code;
    if result.message[0] == 0 {
        let message = if h.is_null() {
            "the handle is NULL".to_string()
        } else {
            // SAFETY: non-NULL and live by the contract; the call is over.
            unsafe { (*h).error.to_string_lossy().into_owned() }
        };
        text::copy_into(&mut result.message, &message);
    }
    // SAFETY: `out` is non-NULL and points to writable memory for one
    // `mtgsy_result` by the contract; `write` reads nothing from it.
    unsafe { out.write(result) };
    code
}

fn update_inner(h: &mut mtgsy, force: bool, result: &mut mtgsy_result) -> Result<(), Fail> {
    let sink = h.log;
    let invalid = |e: &crate::InputError, result: &mut mtgsy_result| {
        text::copy_into(&mut result.outcome, "invalid");
        text::copy_into(&mut result.message, &e.to_string());
        emit(sink, Level::Error, &e.to_string());
        Fail::input(e)
    };
    let config = h.settings.resolve().map_err(|e| invalid(&e, result))?;
    let now = crate::now().map_err(|e| invalid(&e, result))?;
    let transport = HttpTransport::new(&config.transport).map_err(|e| invalid(&e, result))?;
    let opts = RunOptions {
        force,
        dry_run: h.dry_run,
        now,
    };
    let run = update::run(&config, &opts, &transport, &mut |level, msg| {
        emit(sink, level, msg)
    });
    match run {
        Ok(o) => {
            text::copy_into(&mut result.outcome, o.outcome.word());
            if let Some(ip) = o.ip {
                text::copy_into(&mut result.ip, &ip.to_string());
            }
            result.http_status = o.http_status.map_or(0, c_int::from);
            result.retry_after_s = o.retry_after_s.unwrap_or(0);
            result.sent = c_int::from(o.sent);
            text::copy_into(&mut result.reply, o.reply.as_deref().unwrap_or(""));
            text::copy_into(&mut result.message, &o.message);
            // The same level as the CLI gives its outcome line.
            emit(sink, o.outcome.level(), &o.message);
            match o.status() {
                Status::Ok => Ok(()),
                status => Err(Fail::new(status.code(), o.message)),
            }
        }
        Err(e) => {
            // The same words as the CLI's JSON.
            let outcome = update::Outcome::from_error(&e).outcome;
            text::copy_into(&mut result.outcome, outcome.word());
            text::copy_into(&mut result.message, &e.to_string());
            emit(sink, Level::Error, &e.to_string());
            Err(Fail::error(&e))
        }
    }
}

impl mtgsy_result {
    fn zeroed() -> mtgsy_result {
        mtgsy_result {
            status: 0,
            sent: 0,
            http_status: 0,
            retry_after_s: 0,
            outcome: [0; MTGSY_OUTCOME_SIZE],
            ip: [0; MTGSY_IP_SIZE],
            reply: [0; MTGSY_REPLY_SIZE],
            message: [0; MTGSY_MESSAGE_SIZE],
        }
    }
}

/// Why the last call on `h` that returned a non-zero code failed, naming
/// the setting at fault when there is one (e.g. `"port: 80 is not
/// allowed ..."`); `""` after a call that succeeded. Never NULL (for a NULL
/// `h`, a fixed text). Never contains the password.
///
/// The string belongs to the handle: it stays valid until the next call on
/// `h` (other than `mtgsy_last_error`) or `mtgsy_free(h)`; copy it to keep
/// it.
///
/// # Safety
/// `h` is NULL or a live handle not being changed by another thread.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_last_error(h: *const mtgsy) -> *const c_char {
    if h.is_null() {
        return c"mtgsy_last_error: the handle is NULL".as_ptr();
    }
    // SAFETY: non-NULL, live and not being changed, by the contract.
    let handle = unsafe { &*h };
    handle.error.as_ptr()
}

#[cfg(test)]
mod tests;
