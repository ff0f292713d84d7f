//! Errors, and the exit status every outcome maps to.
//!
//! The CLI and the C ABI report the same numbers, so a script or firmware
//! can tell "fix your configuration" (2) from "try later" (3, 4), from
//! "the service said no" (5, 6) and, in watch mode, from "the system
//! refused" (1).

#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

/// What a run ended with, as the CLI's exit code and the C ABI's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Updated, or nothing to do.
    Ok = 0,
    /// The system refused something the client needs (watch mode's
    /// signals, rtnetlink socket, eventfd or poll); nothing was sent.
    System = 1,
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
    /// The system refused something the client needs (watch mode's
    /// signals, rtnetlink socket, eventfd or poll); nothing was sent.
    System {
        /// What the client was doing, e.g. `watch mode: cannot set up signals`.
        what: &'static str,
        /// The system's answer.
        cause: std::io::Error,
    },
}

impl Error {
    /// The exit status this error maps to.
    pub fn status(&self) -> Status {
        match self {
            Error::Input(_) | Error::State { .. } => Status::BadInput,
            Error::Detect { .. } => Status::Network,
            Error::LockBusy { .. } => Status::Deferred,
            Error::System { .. } => Status::System,
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
            Error::System { what, cause } => write!(f, "{what}: {cause}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Input(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_errors_have_their_own_status_and_say_what_failed() {
        let e = Error::System {
            what: "watch mode: cannot subscribe to rtnetlink address events",
            cause: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(e.status(), Status::System);
        assert_eq!(e.status().code(), 1);
        let text = e.to_string();
        assert!(
            text.starts_with("watch mode: cannot subscribe to rtnetlink address events: "),
            "{text}"
        );
        assert!(!text.contains("address detection"), "{text}");
    }
}
