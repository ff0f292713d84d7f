//! rtnetlink IPv4 address events: a socket subscribed to the kernel's
//! `RTMGRP_IPV4_IFADDR` group, and a parser for what it delivers.
//!
//! The parser is pure: it takes the bytes of one datagram and returns the
//! messages in it, checking every length against the buffer before reading,
//! so a short or malformed datagram is an error, never a panic or an
//! out-of-bounds read. Only the socket touches the kernel.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `struct nlmsghdr` is 16 bytes: length, type, flags, sequence, port id.
const NLMSG_HDRLEN: usize = 16;
/// `struct ifaddrmsg` is 8 bytes: family, prefix length, flags, scope, index.
const IFADDRMSG_LEN: usize = 8;
/// `struct rtattr` header: length and type, two bytes each.
const RTA_HDRLEN: usize = 4;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// `RTM_NEWADDR`: an address was added (or its properties changed).
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_DELADDR`: an address was removed.
pub const RTM_DELADDR: u16 = 21;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
/// Attribute type bits; the top two are the nested and byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

const AF_INET: u8 = 2;

/// Whether an address came or went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `RTM_NEWADDR`.
    Added,
    /// `RTM_DELADDR`.
    Removed,
}

/// One IPv4 address event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrEvent {
    /// Added or removed.
    pub change: Change,
    /// The interface index.
    pub index: u32,
    /// The prefix length.
    pub prefix_len: u8,
    /// The address scope (0 universe, 253 link, 254 host).
    pub scope: u8,
    /// The interface label (`IFA_LABEL`), usually the interface name.
    pub label: Option<String>,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub address: Option<Ipv4Addr>,
}

/// One message of a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An IPv4 address event.
    Address(AddrEvent),
    /// The kernel dropped messages: the listener must re-read everything.
    Overrun,
    /// An error or acknowledgement (`0`), as a negative errno.
    Error(i32),
    /// Any other message type (or an address message of another family).
    Other(u16),
}

/// A datagram that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the bad part.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad netlink data at byte {}: {}", self.offset, self.what)
    }
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Parses one datagram into its messages.
pub fn parse(buf: &[u8]) -> Result<Vec<Message>, ParseError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let bad = |what| ParseError { offset: off, what };
        let rest = &buf[off..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(bad("a message header is cut short"));
        }
        let len = u32_at(rest, 0).ok_or(bad("no length"))? as usize;
        let kind = u16_at(rest, 4).ok_or(bad("no type"))?;
        if len < NLMSG_HDRLEN {
            return Err(bad("a message is shorter than its header"));
        }
        if len > rest.len() {
            return Err(bad("a message runs past the end of the datagram"));
        }
        let payload = &rest[NLMSG_HDRLEN..len];
        let message = match kind {
            RTM_NEWADDR | RTM_DELADDR => {
                let change = if kind == RTM_NEWADDR {
                    Change::Added
                } else {
                    Change::Removed
                };
                parse_addr(payload, change, off + NLMSG_HDRLEN)?
                    .map(Message::Address)
                    .unwrap_or(Message::Other(kind))
            }
            NLMSG_ERROR => {
                let code = u32_at(payload, 0).ok_or(bad("an error message without its code"))?;
                Message::Error(code as i32)
            }
            NLMSG_OVERRUN => Message::Overrun,
            NLMSG_NOOP | NLMSG_DONE => Message::Other(kind),
            other => Message::Other(other),
        };
        out.push(message);
        off = off.saturating_add(align4(len)).min(buf.len());
    }
    Ok(out)
}

/// Parses an `ifaddrmsg` and its attributes; `None` for other families.
fn parse_addr(
    payload: &[u8],
    change: Change,
    base: usize,
) -> Result<Option<AddrEvent>, ParseError> {
    if payload.len() < IFADDRMSG_LEN {
        return Err(ParseError {
            offset: base,
            what: "an address message is shorter than struct ifaddrmsg",
        });
    }
    if payload[0] != AF_INET {
        return Ok(None);
    }
    let mut event = AddrEvent {
        change,
        prefix_len: payload[1],
        scope: payload[3],
        index: u32_at(payload, 4).unwrap_or(0),
        label: None,
        address: None,
    };
    let mut local = None;
    let mut peer = None;
    let mut off = IFADDRMSG_LEN;
    while off < payload.len() {
        let bad = |what| ParseError {
            offset: base + off,
            what,
        };
        let rest = &payload[off..];
        if rest.len() < RTA_HDRLEN {
            return Err(bad("an attribute header is cut short"));
        }
        let len = u16_at(rest, 0).ok_or(bad("no attribute length"))? as usize;
        let kind = u16_at(rest, 2).ok_or(bad("no attribute type"))? & NLA_TYPE_MASK;
        if len < RTA_HDRLEN {
            return Err(bad("an attribute is shorter than its header"));
        }
        if len > rest.len() {
            return Err(bad("an attribute runs past the end of its message"));
        }
        let value = &rest[RTA_HDRLEN..len];
        match kind {
            IFA_LOCAL | IFA_ADDRESS => {
                let ip = <[u8; 4]>::try_from(value)
                    .map(Ipv4Addr::from)
                    .map_err(|_| bad("an IPv4 address attribute is not 4 bytes"))?;
                if kind == IFA_LOCAL {
                    local = Some(ip);
                } else {
                    peer = Some(ip);
                }
            }
            IFA_LABEL => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                event.label = Some(String::from_utf8_lossy(&value[..end]).into_owned());
            }
            _ => {}
        }
        off = off.saturating_add(align4(len)).min(payload.len());
    }
    event.address = local.or(peer);
    Ok(Some(event))
}

/// A netlink socket subscribed to IPv4 address events, non-blocking.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

/// What one read from the socket gave.
#[derive(Debug)]
pub enum Received {
    /// A datagram of this many bytes from the kernel is in the buffer.
    Datagram(usize),
    /// Something was read that must be ignored (not from the kernel).
    Ignored,
    /// Nothing more to read now.
    Empty,
    /// The kernel dropped events (`ENOBUFS`) or one did not fit the buffer.
    Lost,
}

impl Socket {
    /// Opens the socket and joins `RTMGRP_IPV4_IFADDR`.
    pub fn open() -> io::Result<Socket> {
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor this function owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_IPV4_IFADDR as u32;
        // SAFETY: `addr` is a valid sockaddr_nl and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket { fd })
    }

    /// Reads one datagram into `buf`.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: as above, all-zero is a valid sockaddr_nl.
        let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length; `from` and `from_len`
        // describe a sockaddr_nl the kernel may fill.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
                &mut from as *mut libc::sockaddr_nl as *mut libc::sockaddr,
                &mut from_len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(Received::Empty),
                Some(libc::ENOBUFS) => Ok(Received::Lost),
                Some(libc::EINTR) => Ok(Received::Ignored),
                _ => Err(e),
            };
        }
        let n = n as usize;
        if from.nl_pid != 0 {
            return Ok(Received::Ignored);
        }
        if n > buf.len() {
            return Ok(Received::Lost);
        }
        Ok(Received::Datagram(n))
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests;
