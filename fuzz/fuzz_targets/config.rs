//! Configuration: JSON config files and key/value settings (as from flags or
//! the C ABI) are refused or accepted, never a panic; a refusal names a key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtgsy_ddns::config::{Settings, SETTINGS};
use mtgsy_ddns::config_file::ConfigFile;

/// Keys that read files (or stdin): not exercised here.
const FILE_KEYS: &[&str] = &["password_file", "ca_file"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut settings = Settings::default();
    if selector & 1 == 0 {
        // A JSON config file.
        let file = match ConfigFile::parse("fuzz.json", &text) {
            Ok(file) => file,
            Err(e) => {
                assert_eq!(e.field(), "config");
                return;
            }
        };
        if file.settings.iter().any(|(k, _)| FILE_KEYS.contains(&k.as_str())) {
            return;
        }
        if let Err(e) = settings.merge_file(&file.settings) {
            assert!(!e.field().is_empty());
            return;
        }
    } else {
        // Key/value pairs separated by NUL bytes, keys picked from the table.
        for (i, value) in text.split('\0').enumerate() {
            let key = SETTINGS[(usize::from(selector) + i) % SETTINGS.len()].name();
            if FILE_KEYS.contains(&key) {
                continue;
            }
            if let Err(e) = settings.set(key, value) {
                assert_eq!(e.field(), key);
            }
        }
    }
    let _ = settings.resolve();
});
