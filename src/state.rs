//! The state file: what the rate guard remembers across runs and reboots.
//!
//! One JSON file holds a [`Record`] per (server host, user name). A
//! [`Store`] holds an exclusive `flock` on a lock file beside it (`PATH.lock`,
//! never replaced) for the whole check–send–record cycle, so concurrent runs
//! queue up instead of racing. Writes are atomic: a temporary file in the
//! same directory, created 0600, written, `fsync`ed and renamed over the old
//! one, then the directory is `fsync`ed. A file that does not parse is moved
//! aside to `PATH.corrupt` and the run goes on as a first run.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsio;
use crate::guard::Record;

/// Where the state lives unless `--state` says otherwise.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/mtgsy-ddns/state.json";

/// Largest state file read; anything bigger is treated as corrupt.
const MAX_STATE_BYTES: u64 = fsio::MAX_FILE_BYTES;

/// The file format version written. Version 2 nests each record under
/// `"record"`; version 1 (flat entries) was never released.
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
    /// Whether this entry is the record of `username` at `server`.
    pub fn is_for(&self, server: &str, username: &str) -> bool {
        self.server == server && self.username == username
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateData {
    version: u32,
    records: Vec<Entry>,
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
    /// (waiting for other runs to finish) and reads the file.
    pub fn open_locked(path: &Path) -> Result<Store, Error> {
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
        flock(&lock, libc::LOCK_EX)
            .map_err(|e| err(format!("cannot lock {}: {e}", lock_path.display())))?;
        let (data, warnings) = read(path)?;
        Ok(Store {
            path: path.to_path_buf(),
            _lock: lock,
            data,
            warnings,
        })
    }

    /// Messages about what was found (a corrupt file moved aside).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The record for `server` and `username` (empty if none).
    pub fn get(&self, server: &str, username: &str) -> Record {
        self.data
            .records
            .iter()
            .find(|e| e.is_for(server, username))
            .map(|e| e.record.clone())
            .unwrap_or_default()
    }

    /// Stores `record` and writes the file atomically before returning.
    pub fn put(&mut self, server: &str, username: &str, record: Record) -> Result<(), Error> {
        match self
            .data
            .records
            .iter_mut()
            .find(|e| e.is_for(server, username))
        {
            Some(entry) => entry.record = record,
            None => self.data.records.push(Entry {
                server: server.to_string(),
                username: username.to_string(),
                record,
            }),
        }
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
    // cycle is not read; a read-only system without one still reads.
    let _lock = fsio::open_nofollow(&lock_path)
        .ok()
        .filter(|f| flock(f, libc::LOCK_SH).is_ok());
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

fn read(path: &Path) -> Result<(StateData, Vec<String>), Error> {
    match load(path) {
        Ok(data) => Ok((data.unwrap_or_default(), Vec::new())),
        Err(Loaded::Io(e)) => Err(Error::State {
            path: path.to_path_buf(),
            what: format!("cannot read: {e}; nothing was sent"),
        }),
        Err(Loaded::Corrupt(why)) => {
            let aside = sibling(path, "corrupt");
            let warning = match fs::rename(path, &aside) {
                Ok(()) => format!(
                    "state file {} was corrupt ({why}); moved it to {} and starting afresh",
                    path.display(),
                    aside.display()
                ),
                Err(e) => {
                    return Err(Error::State {
                        path: path.to_path_buf(),
                        what: format!(
                            "is corrupt ({why}) and cannot be moved aside: {e}; nothing was sent"
                        ),
                    })
                }
            };
            Ok((StateData::default(), vec![warning]))
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
mod tests {
    use super::*;
    use crate::guard::AttemptResult;
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
        let rec = Record::default()
            .attempting("1.2.3.4".parse().unwrap(), 100)
            .concluded("1.2.3.4".parse().unwrap(), 100, AttemptResult::Updated, 3);
        {
            let mut store = Store::open_locked(&path).unwrap();
            assert_eq!(store.get("h", "u"), Record::default());
            store.put("h", "u", rec.clone()).unwrap();
        }
        let store = Store::open_locked(&path).unwrap();
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
        let store = Store::open_locked(&path).unwrap();
        assert_eq!(store.warnings().len(), 1);
        assert!(store.warnings()[0].contains("corrupt"));
        assert!(!path.exists());
        assert_eq!(fs::read(sibling(&path, "corrupt")).unwrap(), b"{ not json");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_reads_empty() {
        let dir = tmpdir("missing");
        assert!(read_entries(&dir.join("state.json")).unwrap().is_empty());
    }
}
