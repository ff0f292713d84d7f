//! Reply classification: any status and body classifies without a panic,
//! and a redirect is never taken for success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtgsy_ddns::reply::{classify, classify_body, printable, Verdict};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let body = &data[2..];
    let text = printable(body, 512);
    assert!(text.chars().count() <= 512);
    let verdict = classify(status, &text);
    if !(200..300).contains(&status) {
        assert!(!matches!(verdict, Verdict::Accepted | Verdict::Unconfirmed), "{status} -> {verdict:?}");
    }
    let _ = classify(status, &String::from_utf8_lossy(body));
    let whole = classify_body(status, body);
    if !(200..300).contains(&status) {
        assert!(!matches!(whole, Verdict::Accepted | Verdict::Unconfirmed), "{status} -> {whole:?}");
    }
});
