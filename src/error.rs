//! Errors, and the exit status every outcome maps to.
//!
//! The CLI and the C ABI report the same numbers, so a script or firmware
//! can tell "fix your configuration" (2) from "try later" (3, 4) and from
//! "the service said no" (5, 6).

#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

/// What a run ended with, as the CLI's exit code and the C ABI's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Updated, or nothing to do.
    Ok = 0,
    /// Bad input or configuration; nothing was sent.
    BadInput = 2,
    /// Deferred by the rate guard (or the clock is behind); nothing was sent.
    Deferred = 3,
    /// Network, TLS or server error.
    Network = 4,
    /// The service rejected the update (bad login, unknown domain, …).
    Rejected = 5,
    /// The service blocked the account or client.
    Blocked = 6,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A field that failed validation, and why. Never holds the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    field: String,
    reason: String,
}

impl InputError {
    /// An error for `field` (the config key, e.g. `offline_url`).
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> InputError {
        InputError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The config key at fault.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why it was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for InputError {}

/// Everything that can stop a run before a reply is classified.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A field is missing or malformed.
    Input(InputError),
    /// The state file could not be read, locked or written.
    State {
        /// The state file.
        path: PathBuf,
        /// What went wrong, and what to do.
        what: String,
    },
    /// Another run held the state file lock for longer than this run
    /// waits (the request timeout plus a margin); nothing was sent.
    LockBusy {
        /// The lock file.
        lock: PathBuf,
        /// How long this run waited, in seconds.
        waited_s: u64,
    },
    /// The current address could not be found.
    Detect {
        /// The address source, e.g. `interface eth0`.
        source: String,
        /// What went wrong.
        what: String,
    },
}

impl Error {
    /// The exit status this error maps to.
    pub fn status(&self) -> Status {
        match self {
            Error::Input(_) | Error::State { .. } => Status::BadInput,
            Error::Detect { .. } => Status::Network,
            Error::LockBusy { .. } => Status::Deferred,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(e) => e.fmt(f),
            Error::State { path, what } => write!(f, "state file {}: {what}", path.display()),
            Error::LockBusy { lock, waited_s } => write!(
                f,
                "state lock {} held by another run for over {waited_s} s; nothing sent, try later",
                lock.display()
            ),
            Error::Detect { source, what } => {
                write!(f, "address detection ({source}): {what}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Input(e)
    }
}
