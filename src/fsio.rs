//! File primitives every file access of the client goes through.
//!
//! Two rules hold here so that no caller can forget them:
//!
//! - **Bounded reads.** A file is read through a cap ([`MAX_FILE_BYTES`],
//!   [`MAX_PASSWORD_FILE_BYTES`] for a password file); a bigger one (or an
//!   endless one such as `/dev/zero`) is an error that says so, after at
//!   most the cap plus one byte was read.
//! - **No symbolic link followed where the client writes.** The state file,
//!   its lock and its temporary file are opened with `O_NOFOLLOW`: a link
//!   planted in their place cannot redirect a write (or a read that leads
//!   to one) to another file. The state directory must belong to the user
//!   running the client and must not be writable by anyone else.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Most bytes read from a config file, a CA bundle or the state file.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Most bytes read from a password file (or standard input given as one).
pub const MAX_PASSWORD_FILE_BYTES: u64 = 4 << 10;

/// Reads all of `file` if it holds at most `cap` bytes; otherwise an
/// [`io::ErrorKind::InvalidData`] error naming the limit. Reads at most
/// `cap + 1` bytes either way.
pub fn read_capped(file: &File, cap: u64) -> io::Result<Vec<u8>> {
    let bytes = read_prefix(file, cap.saturating_add(1))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(bytes)
}

/// Reads at most `limit` bytes of `file`.
pub fn read_prefix(file: &File, limit: u64) -> io::Result<Vec<u8>> {
    // A regular file's size, up to the limit, saves regrowing the buffer.
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let size = file.metadata().map_or(0, |m| m.len());
    let mut bytes = vec![0; usize::try_from(size).unwrap_or(0).min(limit)];
    // A plain loop, not `Take` and `read_to_end`: less code linked.
    let mut len = 0;
    let mut probed = false;
    loop {
        if len == bytes.len() {
            if len >= limit {
                break;
            }
            if !probed {
                // Usually the whole file is in already: one small read on
                // the stack tells, instead of zeroing 8 KiB more first.
                probed = true;
                let mut probe = [0u8; 64];
                let mut reader = file;
                let n = loop {
                    match reader.read(&mut probe[..(limit - len).min(64)]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&probe[..n]);
                len += n;
                continue;
            }
            bytes.resize(len.saturating_add(8192).min(limit), 0);
        }
        let mut reader = file;
        match reader.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// Reads standard input through the cap of [`read_capped`].
pub fn read_stdin_capped(cap: u64) -> io::Result<Vec<u8>> {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 0 stays open for the life of the process; the
    // File is never dropped (ManuallyDrop), so it is not closed here.
    let stdin = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
    read_capped(&stdin, cap)
}

/// Reads the file at `path` through the cap of [`read_capped`]; a regular
/// file whose size is already over the cap is refused without reading.
pub fn read_file_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > cap {
        return Err(too_large(cap));
    }
    if meta.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    read_capped(&file, cap)
}

fn too_large(cap: u64) -> io::Error {
    let (n, unit) = if cap >= 1 << 20 {
        (cap >> 20, "MiB")
    } else {
        (cap >> 10, "KiB")
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("is larger than {n} {unit}, the most the client reads"),
    )
}

/// Opens `path` for reading without following a symbolic link in its last
/// component (a link gives an error that says so).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(explain_link)
}

/// Opens `path` for reading and writing, creating it (mode `mode`) if it
/// does not exist; never follows a symbolic link in its last component.
pub fn open_or_create_nofollow(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(explain_link)
}

/// Creates a new file at `path` (mode `mode`) for writing; fails if
/// anything, a symbolic link included, is already there.
pub fn create_new_nofollow(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(explain_link)
}

/// `O_NOFOLLOW` reports a link as "too many levels of symbolic links";
/// say what it means instead.
fn explain_link(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            e.kind(),
            "is a symbolic link, which the client does not follow for a file it writes; \
             point the setting at the real file",
        )
    } else {
        e
    }
}

/// The directory a file at `path` lives in: its parent, or `.` for a bare
/// file name (so a relative path's directory is synced too).
pub fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Flushes the directory `dir` (a rename in it) to disk.
pub fn sync_directory(dir: &Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?
        .sync_all()
}

/// Checks that the directory `dir` belongs to the user running the client
/// (the effective user) and is not writable by group or others: anyone who
/// can write there could replace the state file and so open the rate
/// guard's gate. The error says what is wrong and how to fix it.
pub fn check_private_directory(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("cannot inspect directory {}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "directory {} belongs to user id {}, not to the user running the client ({me}); \
             another user could replace the state file: use a directory of your own",
            dir.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "directory {} is writable by group or others (mode {mode:o}); another user could \
             replace the state file: run chmod go-w on it or use a directory of your own",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mtgsy-fsio-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_are_capped() {
        let dir = tmpdir("caps");
        let path = dir.join("f");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        assert_eq!(
            read_file_capped(&path, MAX_PASSWORD_FILE_BYTES)
                .unwrap()
                .len(),
            4096
        );
        std::fs::write(&path, vec![b'x'; 4097]).unwrap();
        let err = read_file_capped(&path, MAX_PASSWORD_FILE_BYTES).unwrap_err();
        assert!(err.to_string().contains("larger than 4 KiB"), "{err}");
        let err = read_file_capped(Path::new("/dev/zero"), MAX_FILE_BYTES).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        let zero = File::open("/dev/zero").unwrap();
        let err = read_capped(&zero, MAX_PASSWORD_FILE_BYTES).unwrap_err();
        assert!(err.to_string().contains("larger than 4 KiB"), "{err}");
        assert_eq!(read_prefix(&zero, 5).unwrap(), [0; 5]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_huge_sparse_file_is_refused_unread() {
        let dir = tmpdir("sparse");
        let path = dir.join("big");
        File::create(&path).unwrap().set_len(2 << 30).unwrap();
        let err = read_file_capped(&path, MAX_FILE_BYTES).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_are_not_followed_where_the_client_writes() {
        let dir = tmpdir("links");
        let target = dir.join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for err in [
            open_nofollow(&link).unwrap_err(),
            open_or_create_nofollow(&link, 0o600).unwrap_err(),
        ] {
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert!(create_new_nofollow(&link, 0o600).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(directory_of(Path::new("state.json")), Path::new("."));
        assert_eq!(directory_of(Path::new("a/state.json")), Path::new("a"));
        assert_eq!(directory_of(Path::new("/state.json")), Path::new("/"));
        sync_directory(Path::new(".")).unwrap();
    }

    #[test]
    fn shared_directories_are_refused() {
        let dir = tmpdir("perm");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private_directory(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = check_private_directory(&dir).unwrap_err();
        assert!(
            err.contains("writable by group or others") && err.contains("chmod go-w"),
            "{err}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = check_private_directory(&dir).unwrap_err();
        assert!(err.contains("mode 1777"), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            let err = check_private_directory(&dir).unwrap_err();
            assert!(err.contains("belongs to user id 65534"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
