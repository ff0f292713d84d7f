//! State files: any bytes parse or are refused (then moved aside by the
//! store), never a panic; what parses survives a write/read round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtgsy_ddns::state::{parse, FORMAT_VERSION};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse(data) {
        let json = serde_json::json!({ "version": FORMAT_VERSION, "records": entries });
        let again = parse(json.to_string().as_bytes()).expect("written state parses");
        assert_eq!(again, entries);
    }
});
