//! The status JSON: its fields, the heartbeat among them, and the filter.

use super::*;

const T0: i64 = 1_800_000_000;

fn entry(server: &str, username: &str, last_check: Option<i64>) -> Entry {
    Entry {
        server: server.into(),
        username: username.into(),
        record: Record {
            registered_ip: Some([192, 0, 2, 7].into()),
            last_attempt_at: Some(T0),
            last_check,
            ..Record::default()
        },
    }
}

#[test]
fn one_flat_object_per_record_with_the_heartbeat_and_the_next_send() {
    let entries = [entry("www.mtgsy.net", "me@example.com", Some(T0 + 60))];
    let text = json(Path::new("/tmp/s.json"), &entries, T0 + 100).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["state"], "/tmp/s.json");
    assert_eq!(v["now"], T0 + 100);
    let r = &v["records"][0];
    assert_eq!(r["server"], "www.mtgsy.net");
    assert_eq!(r["username"], "me@example.com");
    assert_eq!(r["registered_ip"], "192.0.2.7");
    assert_eq!(r["last_check"], T0 + 60);
    assert_eq!(r["next_allowed_at"], T0 + 600);
    // A record from before the heartbeat existed: null, not missing.
    let old = [entry("www.mtgsy.net", "me@example.com", None)];
    let text = json(Path::new("/tmp/s.json"), &old, T0 + 700).unwrap();
    assert!(text.contains(r#""last_check":null"#), "{text}");
    assert!(text.contains(r#""next_allowed_at":null"#), "{text}");
    assert!(!text.contains('\n'));
}

#[test]
fn the_settings_choose_the_file_and_the_records() {
    let dir = std::env::temp_dir().join(format!("mtgsy-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let data = serde_json::json!({"version": state::FORMAT_VERSION, "records": [
        entry("www.mtgsy.net", "a@example.com", None),
        entry("www.mtgsy.net", "b@example.com", None),
        entry("other.example", "a@example.com", None),
    ]});
    std::fs::write(&path, data.to_string()).unwrap();
    let mut settings = Settings::default();
    settings.set("state", path.to_str().unwrap()).unwrap();
    let names = |s: &Settings| {
        let (p, entries) = read(s).unwrap();
        assert_eq!(p, path);
        entries
            .iter()
            .map(|e| format!("{} {}", e.username, e.server))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&settings).len(), 3);
    settings.set("username", "A@example.com").unwrap();
    assert_eq!(
        names(&settings),
        ["a@example.com www.mtgsy.net", "a@example.com other.example"]
    );
    settings.set("server", "https://other.example/").unwrap();
    assert_eq!(names(&settings), ["a@example.com other.example"]);
    std::fs::remove_dir_all(dir).unwrap();
}
