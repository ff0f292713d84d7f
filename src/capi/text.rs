//! Strings across the boundary: C arguments in, NUL-terminated text out.

use std::any::Any;
use std::ffi::{c_char, CString};

use super::{Fail, MTGSY_INVALID_UTF8, MTGSY_NULL_ARGUMENT, MTGSY_STRING_MAX, MTGSY_TOO_LONG};

/// Reads the string argument `what` (named in the error text): not NULL,
/// at most [`MTGSY_STRING_MAX`] bytes, UTF-8. Reads no further than
/// `MTGSY_STRING_MAX + 1` bytes, so a missing terminator on a long buffer
/// is caught rather than followed.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string, or to at least
/// `MTGSY_STRING_MAX + 1` readable bytes; it stays valid for `'a`.
pub(super) unsafe fn arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::new(MTGSY_NULL_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: `p` is non-NULL and readable up to its NUL or the bound, by
    // the caller's contract; strnlen reads no byte past either.
    let len = unsafe { libc::strnlen(p, MTGSY_STRING_MAX + 1) };
    if len > MTGSY_STRING_MAX {
        return Err(Fail::new(
            MTGSY_TOO_LONG,
            format!("{what} is longer than {MTGSY_STRING_MAX} bytes"),
        ));
    }
    // SAFETY: the `len` bytes before the NUL were just found readable, and
    // the caller keeps them alive and unchanged for `'a`.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    std::str::from_utf8(bytes)
        .map_err(|_| Fail::new(MTGSY_INVALID_UTF8, format!("{what} is not valid UTF-8")))
}

/// `text` as a C string; a NUL inside becomes a space.
pub(super) fn c_string(text: &str) -> CString {
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    CString::new(bytes).unwrap_or_default()
}

/// Copies `text` into the fixed buffer `dst`, NUL-terminated, cut at a
/// character boundary to fit; a NUL inside becomes a space.
pub(super) fn copy_into(dst: &mut [c_char], text: &str) {
    let Some(room) = dst.len().checked_sub(1) else {
        return;
    };
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (slot, &b) in dst.iter_mut().zip(&text.as_bytes()[..end]) {
        *slot = if b == 0 { b' ' } else { b } as c_char;
    }
    dst[end] = 0;
}

/// The text of a caught panic.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(buf: &[c_char]) -> String {
        let bytes: Vec<u8> = buf
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn copy_cuts_at_char_boundary() {
        let mut buf = [1 as c_char; 6];
        copy_into(&mut buf, "abcé€x");
        assert_eq!(read(&buf), "abcé");
        copy_into(&mut buf[..5], "abcé€x");
        assert_eq!(read(&buf), "abc");
        copy_into(&mut buf, "ab\0c");
        assert_eq!(read(&buf), "ab c");
        copy_into(&mut buf, "");
        assert_eq!(buf[0], 0);
        copy_into(&mut [], "x");
    }

    #[test]
    fn args_are_checked() {
        // SAFETY: NULL and NUL-terminated literals.
        unsafe {
            assert_eq!(
                arg(std::ptr::null(), "k").unwrap_err().code,
                MTGSY_NULL_ARGUMENT
            );
            assert_eq!(arg(c"ok".as_ptr(), "k").ok(), Some("ok"));
            assert_eq!(
                arg(c"\xff".as_ptr(), "k").unwrap_err().code,
                MTGSY_INVALID_UTF8
            );
        }
        let long = CString::new(vec![b'a'; MTGSY_STRING_MAX + 1]).unwrap();
        let max = CString::new(vec![b'a'; MTGSY_STRING_MAX]).unwrap();
        // SAFETY: NUL-terminated strings that outlive the calls.
        unsafe {
            assert_eq!(arg(long.as_ptr(), "k").unwrap_err().code, MTGSY_TOO_LONG);
            assert_eq!(arg(max.as_ptr(), "k").unwrap().len(), MTGSY_STRING_MAX);
        }
    }
}
