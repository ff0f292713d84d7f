//! The state file: what the rate guard remembers across runs and reboots.
//!
//! One JSON file holds a [`Record`] per (server host, user name). A
//! [`Store`] holds an exclusive `flock` on a lock file beside it (`PATH.lock`,
//! never replaced) for the whole check–send–record cycle, so concurrent runs
//! queue up instead of racing; a run waits for it only so long, then gives
//! up with [`Error::LockBusy`]. [`read_entries`] reads without the exclusive
//! lock, for `status`. [`default_path`] is the file used when none is
//! named (another one on OpenWrt). Writes are atomic: a temporary file in the
//! same directory, created 0600, written, `fsync`ed and renamed over the old
//! one, then the directory is `fsync`ed.
//!
//! A file that cannot be read as state (empty, truncated, corrupt, a newer
//! format) never opens the gate: it is moved aside to `PATH.corrupt`, and
//! its modification time counts as the last attempt of every account (the
//! floor holds from it). Times in a record that cannot be right (negative,
//! before 2020, near `i64::MAX`) count from the file's modification time
//! too. Both repairs are written back at once and reported as warnings.
//! Keys ignore letter case and a trailing dot ([`crate::guard::key_part`]).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsio;
use crate::guard::{self, key_part, Record};

/// Where the state lives unless `--state` says otherwise, on a system
/// other than OpenWrt (see [`default_path`]).
pub const DEFAULT_STATE_PATH: &str = "/var/lib/mtgsy-ddns/state.json";

/// Where the state lives on OpenWrt (`/var` is a tmpfs there, lost at
/// every reboot); the OpenWrt package uses the same path.
pub const OPENWRT_STATE_PATH: &str = "/etc/mtgsy-ddns/state.json";

/// The file whose presence marks an OpenWrt system.
const OPENWRT_MARKER: &str = "/etc/openwrt_release";

/// The state file used when none is given, the same for the CLI, watch
/// mode and the C ABI: [`OPENWRT_STATE_PATH`] when `/etc/openwrt_release`
/// exists, else [`DEFAULT_STATE_PATH`]. A run by hand on a router thus
/// shares the guard with the service.
pub fn default_path() -> PathBuf {
    default_path_for(Path::new(OPENWRT_MARKER).exists())
}

/// [`default_path`] for a system that is (or is not) OpenWrt.
pub fn default_path_for(openwrt: bool) -> PathBuf {
    PathBuf::from(if openwrt {
        OPENWRT_STATE_PATH
    } else {
        DEFAULT_STATE_PATH
    })
}

/// Seconds a run waits for the state lock beyond its request timeout:
/// the run holding it sends one request (bounded by its timeout) and
/// writes the file twice.
pub const LOCK_WAIT_MARGIN: Duration = Duration::from_secs(10);

/// Largest state file read; anything bigger is treated as corrupt.
const MAX_STATE_BYTES: u64 = fsio::MAX_FILE_BYTES;

/// The file format version written. Version 2 nests each record under
/// `"record"`; version 1 (flat entries) was never released. Fields a
/// reader does not know are ignored and missing ones take their default,
/// so optional fields (such as `last_attempt_boot`) are added without a
/// new version: a version a reader does not know makes the file corrupt
/// to it, and it would move the file aside.
pub const FORMAT_VERSION: u32 = 2;

/// One record with its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The server's host name.
    pub server: String,
    /// The user name.
    pub username: String,
    /// What the guard remembers. Nested rather than flattened into the
    /// entry: serde reads a flattened struct through a buffer of generic
    /// values, which costs 7 KB of code.
    pub record: Record,
}

impl Entry {
    /// Whether this entry is the record of `username` at `server`; letter
    /// case and a trailing dot do not matter.
    pub fn is_for(&self, server: &str, username: &str) -> bool {
        guard::same_key(&self.server, server) && guard::same_key(&self.username, username)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateData {
    version: u32,
    records: Vec<Entry>,
    /// When state was last lost (an unreadable file was moved aside): the
    /// floor of every account holds from this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lost_at: Option<i64>,
}

/// The state file, locked for one run.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    _lock: File,
    data: StateData,
    warnings: Vec<String>,
}

impl Store {
    /// Creates the directory if needed (0700), takes the exclusive lock
    /// (waiting at most `max_wait` for other runs to finish; then
    /// [`Error::LockBusy`]) and reads the file. `now` is the clock, used
    /// only when a file's own time cannot be believed.
    pub fn open_locked(path: &Path, now: i64, max_wait: Duration) -> Result<Store, Error> {
        let err = |what: String| Error::State {
            path: path.to_path_buf(),
            what,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    err(format!(
                        "cannot create directory {}: {e}; nothing was sent",
                        dir.display()
                    ))
                })?;
        }
        let dir = fsio::directory_of(path);
        fsio::check_private_directory(dir)
            .map_err(|why| err(format!("{why}; nothing was sent")))?;
        let lock_path = sibling(path, "lock");
        let lock = fsio::open_or_create_nofollow(&lock_path, 0o600)
            .map_err(|e| {
                err(format!(
                    "cannot open lock file {}: {e}; the client must be able to record every attempt, so nothing was sent",
                    lock_path.display()
                ))
            })?;
        lock_within(&lock, libc::LOCK_EX, max_wait).map_err(|e| match e {
            Some(e) => err(format!("cannot lock {}: {e}", lock_path.display())),
            None => Error::LockBusy {
                lock: lock_path.clone(),
                waited_s: max_wait.as_secs(),
            },
        })?;
        let (data, warnings) = read(path, now)?;
        let mut store = Store {
            path: path.to_path_buf(),
            _lock: lock,
            data,
            warnings,
        };
        if !store.warnings.is_empty() {
            // The repair (a floor after lost state, believable times) must
            // outlive this run, even if it sends nothing.
            store.write()?;
        }
        Ok(store)
    }

    /// Messages about what was found (a corrupt file moved aside).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The record for `server` and `username` (empty if none). Should the
    /// file hold several spellings of the key (written by an older
    /// release), the latest record counts, with every hold of the others.
    /// After lost state, the floor holds from the time it was lost.
    pub fn get(&self, server: &str, username: &str) -> Record {
        let mut rec: Option<Record> = None;
        let mut holds = Record::default();
        for e in self
            .data
            .records
            .iter()
            .filter(|e| e.is_for(server, username))
        {
            let r = &e.record;
            if rec
                .as_ref()
                .is_none_or(|best| r.written_at >= best.written_at)
            {
                rec = Some(r.clone());
            }
            holds.last_attempt_at = holds.last_attempt_at.max(r.last_attempt_at);
            holds.retry_not_before = holds.retry_not_before.max(r.retry_not_before);
            holds.blocked_until = holds.blocked_until.max(r.blocked_until);
        }
        let mut rec = rec.unwrap_or_default();
        rec.last_attempt_at = holds.last_attempt_at.max(self.data.lost_at);
        rec.retry_not_before = holds.retry_not_before;
        rec.blocked_until = holds.blocked_until;
        rec
    }

    /// Stores `record` and writes the file atomically before returning.
    pub fn put(&mut self, server: &str, username: &str, record: Record) -> Result<(), Error> {
        self.data.records.retain(|e| !e.is_for(server, username));
        self.data.records.push(Entry {
            server: key_part(server),
            username: key_part(username),
            record,
        });
        self.write()
    }

    fn write(&mut self) -> Result<(), Error> {
        self.data.version = FORMAT_VERSION;
        write_atomically(&self.path, &self.data).map_err(|e| Error::State {
            path: self.path.clone(),
            what: format!("cannot write: {e}"),
        })
    }
}

/// Reads the entries without taking the exclusive lock (for `status`).
/// A missing file reads as empty; a corrupt one is reported, not moved.
pub fn read_entries(path: &Path) -> Result<Vec<Entry>, Error> {
    let lock_path = sibling(path, "lock");
    // Take a shared lock when the lock file exists, so a half-finished
    // cycle is not read; a read-only system without one still reads, and
    // so does a reader behind a stuck run, after a bounded wait (writes
    // are atomic renames, so what it reads is whole).
    let _lock = fsio::open_nofollow(&lock_path)
        .ok()
        .filter(|f| lock_within(f, libc::LOCK_SH, LOCK_WAIT_MARGIN).is_ok());
    match load(path) {
        Ok(Some(data)) => Ok(data.records),
        Ok(None) => Ok(Vec::new()),
        Err(Loaded::Corrupt(why)) => Err(Error::State {
            path: path.to_path_buf(),
            what: format!("is corrupt ({why}); the next update moves it aside"),
        }),
        Err(Loaded::Io(e)) => Err(Error::State {
            path: path.to_path_buf(),
            what: format!("cannot read: {e}"),
        }),
    }
}

enum Loaded {
    Corrupt(String),
    Io(io::Error),
}

fn load(path: &Path) -> Result<Option<StateData>, Loaded> {
    // At most one byte over the limit is read: parse_data refuses it.
    let bytes =
        match fsio::open_nofollow(path).and_then(|f| fsio::read_prefix(&f, MAX_STATE_BYTES + 1)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Loaded::Io(e)),
        };
    parse_data(&bytes).map(Some).map_err(Loaded::Corrupt)
}

/// Parses the bytes of a state file (pure: the fuzzer feeds it directly).
/// The error says why the file counts as corrupt.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    parse_data(bytes).map(|data| data.records)
}

fn parse_data(bytes: &[u8]) -> Result<StateData, String> {
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(format!("larger than {MAX_STATE_BYTES} bytes"));
    }
    let data: StateData = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if data.version != FORMAT_VERSION {
        return Err(format!("unknown format version {}", data.version));
    }
    Ok(data)
}

/// The file's modification time in Unix seconds, if it can be believed;
/// else `now`.
fn file_time(path: &Path, now: i64) -> i64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .filter(|t| guard::is_plausible_time(*t))
        .unwrap_or(now)
}

fn read(path: &Path, now: i64) -> Result<(StateData, Vec<String>), Error> {
    match load(path) {
        Ok(None) => Ok((StateData::default(), Vec::new())),
        Ok(Some(mut data)) => {
            let mut warnings = Vec::new();
            let fallback = file_time(path, now);
            for entry in &mut data.records {
                if let Some(fixed) = entry.record.with_plausible_times(fallback) {
                    entry.record = fixed;
                    warnings.push(format!(
                        "state file {}: times in the record of {} at {} cannot be right; they count from {fallback}, the file's last change",
                        path.display(),
                        entry.username,
                        entry.server
                    ));
                }
            }
            Ok((data, warnings))
        }
        Err(Loaded::Io(e)) => Err(Error::State {
            path: path.to_path_buf(),
            what: format!("cannot read: {e}; nothing was sent"),
        }),
        Err(Loaded::Corrupt(why)) => {
            let lost_at = file_time(path, now);
            let aside = sibling(path, "corrupt");
            if let Err(e) = fs::rename(path, &aside) {
                return Err(Error::State {
                    path: path.to_path_buf(),
                    what: format!(
                        "cannot be read ({why}) and cannot be moved aside: {e}; nothing was sent"
                    ),
                });
            }
            let warning = format!(
                "state file {} could not be read ({why}); moved to {}; the 10-minute floor counts from its last change ({lost_at})",
                path.display(),
                aside.display()
            );
            let data = StateData {
                lost_at: Some(lost_at),
                ..StateData::default()
            };
            Ok((data, vec![warning]))
        }
    }
}

fn write_atomically(path: &Path, data: &StateData) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
    json.push(b'\n');
    let tmp = sibling(path, "tmp");
    // Under the lock no one else writes, so a leftover is from a crash.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = fsio::create_new_nofollow(&tmp, 0o600)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fsio::sync_directory(fsio::directory_of(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `PATH.suffix` beside the state file.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes the lock `op` (`LOCK_EX` or `LOCK_SH`), waiting at most
/// `max_wait`; `Err(None)` when the wait ran out.
fn lock_within(file: &File, op: libc::c_int, max_wait: Duration) -> Result<(), Option<io::Error>> {
    let start = Instant::now();
    loop {
        match flock(file, op | libc::LOCK_NB) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Some(e)),
        }
        let waited = start.elapsed();
        if waited >= max_wait {
            return Err(None);
        }
        std::thread::sleep(Duration::from_millis(5).min(max_wait - waited));
    }
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: the descriptor is owned by `file` and open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests;
