//! What a run ended with: [`Kind`], the one place each outcome is mapped to
//! its word, exit status, C ABI code and log level, and [`Outcome`], the
//! value the CLI prints, watch mode logs and the C ABI copies out. Also the
//! sentences for each outcome. Pure: no I/O.

use std::ffi::c_int;
use std::net::Ipv4Addr;

use serde::{Serialize, Serializer};

use super::Level;
use crate::capi;
use crate::error::{Error, Status};
use crate::guard::{self, Decision, DeferReason, Record, SendReason};
use crate::reply::Verdict;

/// How a run ended, as scripts see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The service confirmed the update.
    Updated,
    /// A 2xx reply the client does not recognise; counted as registered.
    Unconfirmed,
    /// The address is already registered; nothing was sent.
    Unchanged,
    /// The rate guard (or the state lock, or the clock) held it back.
    Deferred,
    /// A network, TLS or server error, or the address was not found.
    Failed,
    /// The service rejected the update (login, domain).
    Rejected,
    /// The service blocked the account or client.
    Blocked,
    /// `--dry-run`: shown, not sent.
    DryRun,
    /// Bad input or configuration; nothing was sent.
    Invalid,
}

impl Kind {
    /// Every kind, for tests and tables.
    pub const ALL: [Kind; 9] = [
        Kind::Updated,
        Kind::Unconfirmed,
        Kind::Unchanged,
        Kind::Deferred,
        Kind::Failed,
        Kind::Rejected,
        Kind::Blocked,
        Kind::DryRun,
        Kind::Invalid,
    ];

    /// The word in the CLI's JSON (`"outcome"`), the C ABI's
    /// `mtgsy_result.outcome`, and the text output.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Updated => "updated",
            Kind::Unconfirmed => "unconfirmed",
            Kind::Unchanged => "unchanged",
            Kind::Deferred => "deferred",
            Kind::Failed => "failed",
            Kind::Rejected => "rejected",
            Kind::Blocked => "blocked",
            Kind::DryRun => "dry-run",
            Kind::Invalid => "invalid",
        }
    }

    /// The CLI's exit status; its code is also what `mtgsy_update` returns.
    pub fn status(self) -> Status {
        match self {
            Kind::Updated | Kind::Unconfirmed | Kind::Unchanged | Kind::DryRun => Status::Ok,
            Kind::Deferred => Status::Deferred,
            Kind::Failed => Status::Network,
            Kind::Rejected => Status::Rejected,
            Kind::Blocked => Status::Blocked,
            Kind::Invalid => Status::BadInput,
        }
    }

    /// The code `mtgsy_guard_check` returns when the guard holds the
    /// request back with this outcome: as `mtgsy_update`, except that an
    /// unchanged address is `MTGSY_UNCHANGED` (there, only `MTGSY_OK`
    /// means send).
    pub fn guard_check_code(self) -> c_int {
        match self {
            Kind::Unchanged => capi::MTGSY_UNCHANGED,
            kind => kind.status().code(),
        }
    }

    /// How loud the outcome's sentence is logged by the CLI and the C ABI:
    /// problems are warnings, a block is an error, the rest is information.
    pub fn level(self) -> Level {
        match self.status() {
            Status::Ok | Status::Deferred => Level::Info,
            Status::Blocked => Level::Error,
            Status::BadInput | Status::System | Status::Network | Status::Rejected => Level::Warn,
        }
    }

    /// As [`Kind::level`], for watch mode, which checks again and again:
    /// "unchanged" is its usual answer, so it is a detail.
    pub fn watch_level(self) -> Level {
        match self {
            Kind::Unchanged => Level::Debug,
            kind => kind.level(),
        }
    }
}

impl Serialize for Kind {
    /// As its [`Kind::word`].
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

/// What a run ended with, for people (`message`) and scripts (the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// How it ended; serialized as its [`Kind::word`].
    pub outcome: Kind,
    /// The address concerned.
    pub ip: Option<Ipv4Addr>,
    /// The reply's HTTP status, if a reply came.
    pub http_status: Option<u16>,
    /// The reply text (bounded, password masked).
    pub reply: Option<String>,
    /// Seconds until a request may go out, when deferred or blocked.
    pub retry_after_s: Option<i64>,
    /// Whether a request was sent in this run.
    pub sent: bool,
    /// A sentence for the user.
    pub message: String,
    /// The URL that was (or, on a dry run, would be) sent, password masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl Outcome {
    /// The outcome of a run that an error stopped before any request:
    /// `invalid` for bad input (exit 2), `deferred` when another run held
    /// the state lock too long (exit 3), `failed` otherwise.
    pub fn from_error(error: &Error) -> Outcome {
        let kind = match error.status() {
            Status::BadInput => Kind::Invalid,
            Status::Deferred => Kind::Deferred,
            _ => Kind::Failed,
        };
        Outcome::with_ip(kind, None, error.to_string())
    }

    /// The exit status: that of its [`Kind`].
    pub fn status(&self) -> Status {
        self.outcome.status()
    }

    pub(super) fn new(kind: Kind, ip: Ipv4Addr, message: String) -> Outcome {
        Outcome::with_ip(kind, Some(ip), message)
    }

    /// An outcome with nothing sent and no reply yet.
    fn with_ip(kind: Kind, ip: Option<Ipv4Addr>, message: String) -> Outcome {
        Outcome {
            outcome: kind,
            ip,
            http_status: None,
            reply: None,
            retry_after_s: None,
            sent: false,
            message,
            request: None,
        }
    }
}

/// Seconds from `now` to `until`, never negative, saturating at the ends
/// of `i64`.
pub fn seconds_until(until: i64, now: i64) -> i64 {
    until.saturating_sub(now).max(0)
}

/// The outcome for a reply the service gave, with its text `text` (masked,
/// bounded) and HTTP `status`.
pub(super) fn from_reply(verdict: Verdict, ip: Ipv4Addr, text: &str, status: u16) -> Outcome {
    let short: String = text.chars().take(120).collect();
    match verdict {
        Verdict::Accepted => Outcome::new(Kind::Updated, ip, format!("updated to {ip}")),
        Verdict::Unconfirmed => Outcome::new(
            Kind::Unconfirmed,
            ip,
            format!(
                "sent {ip}; the service answered HTTP {status} {short:?}, which the client does not recognise, so it is counted as registered and not re-sent"
            ),
        ),
        Verdict::Rejected(why) => Outcome::new(
            Kind::Rejected,
            ip,
            format!(
                "the service rejected the update of {ip}: {why} (reply {short:?}); check the user name and password; the same address and login are not retried for 24 h"
            ),
        ),
        Verdict::Blocked(why) => Outcome::new(
            Kind::Blocked,
            ip,
            format!(
                "BLOCKED: {why} (reply {short:?}); nothing will be sent for 24 h; contact Microtech support"
            ),
        ),
        Verdict::Failed(why) => Outcome::new(
            Kind::Failed,
            ip,
            format!("update of {ip} failed: HTTP {status}, {why}"),
        ),
    }
}

/// The outcome [`super::run`] reports when the guard holds a request back
/// (also for callers that run the guard themselves); `decision` is not a
/// send.
pub fn held(decision: Decision, ip: Ipv4Addr, now: i64, record: &Record) -> Outcome {
    let (kind, message, retry) = match decision {
        Decision::Unchanged { since } => {
            let since = since
                .map(|t| format!(" (registered {} s ago)", now.saturating_sub(t).max(0)))
                .unwrap_or_default();
            (
                Kind::Unchanged,
                format!("{ip} is already registered{since}; nothing to do"),
                None,
            )
        }
        Decision::Defer { until, why } => {
            let rule = match why {
                DeferReason::Floor => "the 10-minute minimum between requests".to_string(),
                DeferReason::Backoff => format!("backoff after {} failed attempt(s)", record.failures),
                DeferReason::Rejected => {
                    "the service rejected this address with these credentials; fix the login or wait"
                        .to_string()
                }
                DeferReason::Unrequired => format!(
                    "the 24 h rule for updates that change nothing ({ip} is registered with these options; forcing does not override it)"
                ),
            };
            (
                Kind::Deferred,
                format!(
                    "update to {ip} deferred by {rule}; next attempt allowed in {} s",
                    seconds_until(until, now)
                ),
                Some(seconds_until(until, now)),
            )
        }
        Decision::Blocked { until } => (
            Kind::Blocked,
            format!(
                "BLOCKED: the service blocked this account or client; nothing is sent for another {} s; contact Microtech support",
                seconds_until(until, now)
            ),
            Some(seconds_until(until, now)),
        ),
        Decision::ClockBehind { state_time } => (
            Kind::Deferred,
            format!(
                "the system clock ({now}) is behind the state file ({state_time}), as on a router that has not synced its clock (NTP) yet; nothing sent. If the clock is right and the state is wrong, remove the state file"
            ),
            Some(seconds_until(state_time, now)),
        ),
        Decision::ClockImplausible { now } => (
            Kind::Deferred,
            format!(
                "the system clock ({now}) is before 2020 or after 2100, not synced (NTP) yet; nothing sent"
            ),
            Some(guard::FLOOR_S),
        ),
        // Never called with a send; answer safely if it were.
        Decision::Send(_) => (Kind::Failed, "internal: no decision".into(), None),
    };
    let mut o = Outcome::new(kind, ip, message);
    o.retry_after_s = retry;
    o
}

/// Why a request goes out, for the log and the dry run.
pub(crate) fn describe_reason(reason: SendReason, ip: Ipv4Addr) -> String {
    match reason {
        SendReason::FirstRun => format!("first update, {ip}"),
        SendReason::Changed { from } => format!("address changed from {from} to {ip}"),
        SendReason::OptionsChanged => format!("request options changed, sending {ip} with them"),
        SendReason::Retry => format!("the last attempt's outcome is unknown, sending {ip} again"),
        SendReason::Forced => format!("forced update of {ip}"),
        SendReason::Refresh => format!("force interval passed, refreshing {ip}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `#define NAME value` from the committed C header.
    fn header_value(name: &str) -> i32 {
        let header = include_str!("../../include/mtgsy_ddns.h");
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} is not defined in the header"))
    }

    #[test]
    fn every_kind_has_one_word_status_code_and_level() {
        // kind, word, exit status, mtgsy_update's code, mtgsy_guard_check's
        // code, CLI level, watch level.
        use Level::{Debug, Error, Info, Warn};
        let table = [
            (
                Kind::Updated,
                "updated",
                0,
                "MTGSY_OK",
                "MTGSY_OK",
                Info,
                Info,
            ),
            (
                Kind::Unconfirmed,
                "unconfirmed",
                0,
                "MTGSY_OK",
                "MTGSY_OK",
                Info,
                Info,
            ),
            (
                Kind::Unchanged,
                "unchanged",
                0,
                "MTGSY_OK",
                "MTGSY_UNCHANGED",
                Info,
                Debug,
            ),
            (
                Kind::Deferred,
                "deferred",
                3,
                "MTGSY_DEFERRED",
                "MTGSY_DEFERRED",
                Info,
                Info,
            ),
            (
                Kind::Failed,
                "failed",
                4,
                "MTGSY_NETWORK",
                "MTGSY_NETWORK",
                Warn,
                Warn,
            ),
            (
                Kind::Rejected,
                "rejected",
                5,
                "MTGSY_REJECTED",
                "MTGSY_REJECTED",
                Warn,
                Warn,
            ),
            (
                Kind::Blocked,
                "blocked",
                6,
                "MTGSY_BLOCKED",
                "MTGSY_BLOCKED",
                Error,
                Error,
            ),
            (
                Kind::DryRun,
                "dry-run",
                0,
                "MTGSY_OK",
                "MTGSY_OK",
                Info,
                Info,
            ),
            (
                Kind::Invalid,
                "invalid",
                2,
                "MTGSY_BAD_INPUT",
                "MTGSY_BAD_INPUT",
                Warn,
                Warn,
            ),
        ];
        assert_eq!(table.len(), Kind::ALL.len());
        let help = include_str!("../bin/mtgsy-ddns/help.rs");
        let exit_codes = help
            .split_once("EXIT CODES:")
            .map(|(_, rest)| rest)
            .expect("the help has EXIT CODES");
        // What --help says each exit code means.
        let documented = [
            (0, "updated or nothing to do"),
            (2, "bad input or configuration"),
            (3, "deferred by the rate guard"),
            (4, "network, TLS or server error"),
            (5, "rejected by the service"),
            (6, "blocked by the service"),
        ];
        for (kind, word, exit, update_code, check_code, level, watch_level) in table {
            assert_eq!(Kind::ALL.iter().filter(|k| **k == kind).count(), 1);
            assert_eq!(kind.word(), word);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{word}\""));
            assert_eq!(kind.status().code(), exit, "{word}");
            let (_, meaning) = documented
                .iter()
                .find(|(code, _)| *code == exit)
                .unwrap_or_else(|| panic!("{word}: exit {exit} is not documented"));
            assert!(
                exit_codes.contains(&format!("{exit} {meaning}")),
                "{word}: --help does not say \"{exit} {meaning}\""
            );
            assert_eq!(kind.status().code(), header_value(update_code), "{word}");
            assert_eq!(kind.guard_check_code(), header_value(check_code), "{word}");
            assert_eq!(kind.level(), level, "{word}");
            assert_eq!(kind.watch_level(), watch_level, "{word}");
        }
        let mut words: Vec<_> = Kind::ALL.iter().map(|k| k.word()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Kind::ALL.len(), "two kinds share a word");
    }

    #[test]
    fn an_error_before_any_request_keeps_its_status() {
        let errors = [
            Error::Input(crate::InputError::new("ip", "is missing")),
            Error::LockBusy {
                lock: "/x.lock".into(),
                waited_s: 1,
            },
            Error::Detect {
                source: "interface".into(),
                what: "no address".into(),
            },
        ];
        for (e, word) in errors.iter().zip(["invalid", "deferred", "failed"]) {
            let o = Outcome::from_error(e);
            assert_eq!(o.outcome.word(), word);
            assert_eq!(o.status(), e.status());
        }
    }
}
