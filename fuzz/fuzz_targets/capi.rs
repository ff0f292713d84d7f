//! The C ABI's string handling: any bytes as key and value (invalid UTF-8,
//! over-long, empty) and any reply body get an error code, never a crash.
#![no_main]

use std::ffi::CString;

use libfuzzer_sys::fuzz_target;
use mtgsy_ddns::capi::{mtgsy_classify, mtgsy_free, mtgsy_last_error, mtgsy_new, mtgsy_set};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 {
        // A reply body of any bytes, NULs included, with any status.
        let status = i32::from(selector) * 3;
        let mut attempt = -1;
        // SAFETY: `rest` is valid for `rest.len()` bytes and `attempt` is a
        // live int, as mtgsy_classify requires.
        let _ = unsafe { mtgsy_classify(status, rest.as_ptr().cast(), rest.len(), &mut attempt) };
        return;
    }
    let mut parts = rest.split(|b| *b == 0);
    let key = CString::new(parts.next().unwrap_or_default()).unwrap_or_default();
    let value = CString::new(parts.next().unwrap_or_default()).unwrap_or_default();
    // Keys that read files are not exercised: the fuzzer must not block on
    // a device it names.
    if key.as_bytes().ends_with(b"_file") {
        return;
    }
    let h = mtgsy_new();
    // SAFETY: `h` is a live handle; key and value are NUL-terminated strings
    // that outlive the calls; the handle is freed once, at the end.
    unsafe {
        let code = mtgsy_set(h, key.as_ptr(), value.as_ptr());
        let message = mtgsy_last_error(h);
        if code != 0 {
            assert!(!message.is_null());
        }
        let _ = mtgsy_set(h, std::ptr::null(), value.as_ptr());
        let _ = mtgsy_set(h, key.as_ptr(), std::ptr::null());
        mtgsy_free(h);
    }
});
