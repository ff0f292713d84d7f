//! Unit tests of the state file, on real files in a temporary directory:
//! round trips and modes, corrupt files, implausible times, key spellings,
//! the bounded lock wait and the default path.

use super::*;
use crate::guard::{AttemptResult, Want};

const T0: i64 = 1_800_000_000;
const WAIT: Duration = Duration::from_secs(5);

fn open(path: &Path) -> Store {
    Store::open_locked(path, T0, WAIT).unwrap()
}

fn updated(at: i64) -> Record {
    let want = Want {
        ip: "1.2.3.4".parse().unwrap(),
        force: false,
        force_interval: 86_400,
        credential: 3,
        options: 0,
    };
    Record::default()
        .attempting(want.ip, at)
        .concluded(&want, at, AttemptResult::Updated)
}
use std::os::unix::fs::PermissionsExt;

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtgsy-state-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn round_trip_with_0600_files() {
    let dir = tmpdir("rt");
    let path = dir.join("sub/state.json");
    let rec = updated(T0);
    {
        let mut store = open(&path);
        assert_eq!(store.get("h", "u"), Record::default());
        store.put("h", "u", rec.clone()).unwrap();
    }
    let store = open(&path);
    assert_eq!(store.get("h", "u"), rec);
    assert_eq!(store.get("h", "other"), Record::default());
    for p in [path.clone(), sibling(&path, "lock")] {
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    let mode = fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(!sibling(&path, "tmp").exists());
    drop(store);
    assert_eq!(read_entries(&path).unwrap().len(), 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_file_is_moved_aside() {
    let dir = tmpdir("corrupt");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    fs::write(&path, b"{ not json").unwrap();
    assert!(read_entries(&path).is_err());
    let mtime = file_time(&path, 0);
    let store = open(&path);
    assert_eq!(store.warnings().len(), 1);
    assert!(store.warnings()[0].contains("could not be read"));
    assert_eq!(fs::read(sibling(&path, "corrupt")).unwrap(), b"{ not json");
    // The floor of every account holds from the file's last change,
    // in this run and in the next.
    assert_eq!(store.get("h", "u").last_attempt_at, Some(mtime));
    drop(store);
    assert_eq!(open(&path).get("x", "y").last_attempt_at, Some(mtime));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unbelievable_times_count_from_the_file_time() {
    let dir = tmpdir("times");
    let path = dir.join("state.json");
    {
        let mut rec = updated(T0);
        rec.last_attempt_at = Some(-5);
        rec.written_at = Some(i64::MAX);
        let mut store = open(&path);
        store.put("h", "u", rec).unwrap();
    }
    let mtime = file_time(&path, 0);
    let store = open(&path);
    assert_eq!(store.warnings().len(), 1, "{:?}", store.warnings());
    let rec = store.get("h", "u");
    assert_eq!(rec.last_attempt_at, Some(mtime));
    assert_eq!(rec.written_at, Some(mtime));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys_ignore_case_and_a_trailing_dot() {
    let dir = tmpdir("keys");
    let path = dir.join("state.json");
    let mut store = open(&path);
    store
        .put("WWW.mtgsy.net.", "Home.Example.COM.", updated(T0))
        .unwrap();
    assert_eq!(store.get("www.mtgsy.net", "home.example.com"), updated(T0));
    store
        .put("www.mtgsy.net", "home.example.com", updated(T0 + 1))
        .unwrap();
    drop(store);
    let entries = read_entries(&path).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].username, "home.example.com");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn old_spellings_of_one_key_merge_their_holds() {
    let dir = tmpdir("merge");
    let path = dir.join("state.json");
    let mut blocked = updated(T0);
    blocked.blocked_until = Some(T0 + 86_400);
    let later = updated(T0 + 100);
    let data = StateData {
        version: FORMAT_VERSION,
        records: vec![
            Entry {
                server: "h".into(),
                username: "Alice@Example.com".into(),
                record: blocked,
            },
            Entry {
                server: "H.".into(),
                username: "alice@example.com".into(),
                record: later.clone(),
            },
        ],
        lost_at: None,
    };
    fs::create_dir_all(&dir).unwrap();
    write_atomically(&path, &data).unwrap();
    let mut store = open(&path);
    let rec = store.get("h", "ALICE@example.com");
    assert_eq!(rec.registered_at, later.registered_at);
    assert_eq!(rec.blocked_until, Some(T0 + 86_400));
    store.put("h", "alice@example.com", rec).unwrap();
    drop(store);
    assert_eq!(read_entries(&path).unwrap().len(), 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lock_wait_is_bounded() {
    let dir = tmpdir("lockwait");
    let path = dir.join("state.json");
    let _held = open(&path);
    let start = Instant::now();
    let e = Store::open_locked(&path, T0, Duration::from_millis(300)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(e.status(), crate::Status::Deferred);
    assert!(e.to_string().contains("state.json.lock"), "{e}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_path_follows_the_system() {
    assert_eq!(
        default_path_for(true),
        PathBuf::from("/etc/mtgsy-ddns/state.json")
    );
    assert_eq!(
        default_path_for(false),
        PathBuf::from("/var/lib/mtgsy-ddns/state.json")
    );
}

#[test]
fn missing_file_reads_empty() {
    let dir = tmpdir("missing");
    assert!(read_entries(&dir.join("state.json")).unwrap().is_empty());
}

/// The boot clock reading of the last attempt is an optional field of
/// format version 2: files without it (older releases) load, it survives a
/// round trip, and a field a reader does not know is ignored, which is how
/// older releases read files that hold it.
#[test]
fn the_boot_clock_field_is_optional_both_ways() {
    let old = br#"{"version":2,"records":[{"server":"h","username":"u",
        "record":{"registered_ip":"1.2.3.4","last_attempt_at":1800000000}}]}"#;
    let entries = parse(old).unwrap();
    assert_eq!(entries[0].record.last_attempt_at, Some(T0));
    assert_eq!(entries[0].record.last_attempt_boot, None);

    let newer = br#"{"version":2,"records":[{"server":"h","username":"u",
        "record":{"last_attempt_at":1800000000,
        "last_attempt_boot":{"boot_id":7,"secs":120},"from_the_future":[1]}}]}"#;
    let boot = parse(newer).unwrap()[0].record.last_attempt_boot;
    assert_eq!(
        boot,
        Some(guard::BootTime {
            boot_id: 7,
            secs: 120
        })
    );

    let dir = tmpdir("boot");
    let path = dir.join("state.json");
    let rec = Record {
        last_attempt_boot: Some(guard::BootTime {
            boot_id: u64::MAX,
            secs: 4_000_000,
        }),
        ..updated(T0)
    };
    open(&path).put("h", "u", rec.clone()).unwrap();
    assert_eq!(open(&path).get("h", "u"), rec);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"version\": 2"), "{text}");
    assert!(text.contains("\"boot_id\": 18446744073709551615"), "{text}");
    fs::remove_dir_all(&dir).unwrap();
}
