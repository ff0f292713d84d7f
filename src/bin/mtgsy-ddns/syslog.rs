//! Lines for the system log, written straight to `/dev/log`.
//!
//! musl's `syslog(3)` formats a timestamp with `strftime` and the local
//! time zone, which links about 7 KB of C for something every syslog
//! daemon does itself: busybox syslogd, OpenWrt's logd and journald all
//! stamp a message that arrives without a time. So each line is
//! `<PRI>mtgsy-ddns[PID]: message` (RFC 3164 without the timestamp), sent
//! as one datagram. A missing or full log socket loses the line, never the
//! run.

use std::os::unix::net::UnixDatagram;

/// The socket syslog daemons listen on.
const LOG_SOCKET: &str = "/dev/log";

/// How important a line is (the syslog severities the client uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// `LOG_ERR`.
    Error = 3,
    /// `LOG_WARNING`.
    Warning = 4,
    /// `LOG_INFO`.
    Info = 6,
}

/// A connection to the system log.
pub struct Syslog {
    socket: Option<UnixDatagram>,
    pid: u32,
}

impl Syslog {
    /// Connects to `/dev/log`; without a syslog daemon, lines are dropped.
    pub fn open() -> Syslog {
        Syslog {
            socket: connect(),
            pid: std::process::id(),
        }
    }

    /// Sends one line with facility `daemon`. NUL bytes and line breaks in
    /// `msg` become spaces, so one call is one log line.
    pub fn send(&mut self, severity: Severity, msg: &str) {
        let line = format_line(severity, self.pid, msg);
        let sent = match &self.socket {
            Some(s) => s.send(line.as_bytes()).is_ok(),
            None => false,
        };
        if !sent {
            // The daemon may have restarted: reconnect once and retry.
            self.socket = connect();
            if let Some(s) = &self.socket {
                let _ = s.send(line.as_bytes());
            }
        }
    }
}

fn connect() -> Option<UnixDatagram> {
    let socket = UnixDatagram::unbound().ok()?;
    socket.connect(LOG_SOCKET).ok()?;
    Some(socket)
}

/// `<PRI>mtgsy-ddns[PID]: msg`, with facility `daemon` (3).
fn format_line(severity: Severity, pid: u32, msg: &str) -> String {
    const LOG_DAEMON: u8 = 3 << 3;
    let priority = LOG_DAEMON | severity as u8;
    let clean: String = msg
        .chars()
        .map(|c| {
            if matches!(c, '\0' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!("<{priority}>mtgsy-ddns[{pid}]: {clean}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_priority_tag_and_pid() {
        assert_eq!(
            format_line(Severity::Error, 42, "update failed"),
            "<27>mtgsy-ddns[42]: update failed"
        );
        assert_eq!(
            format_line(Severity::Warning, 1, "w"),
            "<28>mtgsy-ddns[1]: w"
        );
        assert_eq!(
            format_line(Severity::Info, 7, "a\nb\0c\r"),
            "<30>mtgsy-ddns[7]: a b c "
        );
    }
}
