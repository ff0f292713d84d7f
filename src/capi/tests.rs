//! Unit tests of the C ABI's handle calls, from Rust.

use super::*;

#[test]
fn a_panic_stops_at_the_boundary_and_the_handle_lives_on() {
    let h = mtgsy_new();
    assert!(!h.is_null());
    // SAFETY: `h` is live and used by this thread only; the strings are
    // NUL-terminated literals.
    unsafe {
        let code = with_handle(h, |_| panic!("boom"));
        assert_eq!(code, MTGSY_INTERNAL);
        let err = CStr::from_ptr(mtgsy_last_error(h)).to_str().unwrap();
        assert!(err.contains("boom") && err.contains("bug"), "{err}");
        let code = mtgsy_set(h, c"username".as_ptr(), c"u@example.com".as_ptr());
        assert_eq!(code, MTGSY_OK);
        assert_eq!(CStr::from_ptr(mtgsy_last_error(h)).to_bytes(), b"");
        mtgsy_free(h);
    }
    assert_eq!(boundary(7, || panic!("boom")), 7);
}

#[test]
fn strerror_knows_every_code() {
    let generic = mtgsy_strerror(-1);
    for code in [0, 2, 3, 4, 5, 6, 100, 101, 102, 103, 104, 105] {
        assert_ne!(mtgsy_strerror(code), generic, "{code}");
    }
}
