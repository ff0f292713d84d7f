//! `mtgsy_status_json`: what the state file says, as the same JSON text
//! `mtgsy-ddns status --json` prints (built by [`crate::status`]), held by
//! the handle. Only the C conversion lives here.

use std::ffi::{c_char, c_int, CString};

use super::{mtgsy, text, with_handle, Fail, MTGSY_NULL_ARGUMENT};
use crate::status;

/// The state file's records as one line of JSON, byte for byte what
/// `mtgsy-ddns status --json` prints for the same settings: the object
/// `{"state": PATH, "now": SECONDS, "records": [...]}`, one record per
/// server and user name with `registered_ip`, `registered_at`,
/// `last_attempt_at`, `last_result`, `last_http_status`, `last_reply`,
/// `blocked_until`, `last_check` (when a check last ran, even one that sent
/// nothing: a heartbeat for monitoring), `next_allowed_at` (when the next
/// request may go out; `null`: now) and the other guard fields. Times are
/// Unix seconds or `null`. The password is never in it.
///
/// The handle's `state` setting names the file (default as for
/// `mtgsy_update`); `username` and `server`, when set, keep only the
/// records they name. Nothing is written or sent; it waits at most 10 s
/// for an update in progress to finish its write (a shared lock). A
/// missing state file gives an empty `records` list. `MTGSY_DDNS_NOW` in
/// the environment overrides the clock (for tests).
///
/// On `MTGSY_OK`, `*json` points to the NUL-terminated text, owned by the
/// handle: valid until the next call on `h` (other than
/// `mtgsy_last_error`) or `mtgsy_free(h)`; copy it to keep it. On any
/// other code `*json` is set to NULL (when `json` is not NULL).
///
/// Returns `MTGSY_OK`; `MTGSY_BAD_INPUT` when the `server` setting or the
/// state file cannot be used (`mtgsy_last_error` says why);
/// `MTGSY_NULL_ARGUMENT` if `h` or `json` is NULL; `MTGSY_INTERNAL`.
///
/// # Safety
/// `h` is NULL or a live handle not in use by another thread; `json` is
/// NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn mtgsy_status_json(h: *mut mtgsy, json: *mut *const c_char) -> c_int {
    let mut ptr: *const c_char = std::ptr::null();
    let body = |h: &mut mtgsy| {
        h.status = CString::default();
        if json.is_null() {
            return Err(Fail::new(MTGSY_NULL_ARGUMENT, "json is NULL"));
        }
        let (path, entries) = status::read(&h.settings).map_err(|e| Fail::error(&e))?;
        let now = crate::now().map_err(|e| Fail::input(&e))?;
        let text = status::json(&path, &entries, now).map_err(|e| Fail::error(&e))?;
        h.status = text::c_string(&text);
        ptr = h.status.as_ptr();
        Ok(())
    };
    // SAFETY: forwarded caller contract.
    let code = unsafe { with_handle(h, body) };
    if !json.is_null() {
        // SAFETY: `json` is non-NULL and writable for one pointer by the
        // contract; `ptr` is NULL unless the body succeeded.
        unsafe { json.write(ptr) };
    }
    code
}
