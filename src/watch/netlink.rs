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
mod tests {
    use super::*;

    /// Builds one netlink message of `kind` with `payload`.
    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((RTA_HDRLEN + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn ifaddr(family: u8, prefix: u8, scope: u8, index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![family, prefix, 0, scope];
        p.extend_from_slice(&index.to_ne_bytes());
        for a in attrs {
            p.extend_from_slice(a);
        }
        p
    }

    fn wan_event(kind: u16) -> Vec<u8> {
        message(
            kind,
            &ifaddr(
                AF_INET,
                24,
                0,
                3,
                &[
                    attr(IFA_ADDRESS, &[1, 2, 3, 4]),
                    attr(IFA_LOCAL, &[1, 2, 3, 4]),
                    attr(IFA_LABEL, b"wan0\0"),
                    attr(8, &0u32.to_ne_bytes()),
                ],
            ),
        )
    }

    #[test]
    fn new_address_with_label() {
        let got = parse(&wan_event(RTM_NEWADDR)).unwrap();
        assert_eq!(
            got,
            [Message::Address(AddrEvent {
                change: Change::Added,
                index: 3,
                prefix_len: 24,
                scope: 0,
                label: Some("wan0".into()),
                address: Some(Ipv4Addr::new(1, 2, 3, 4)),
            })]
        );
    }

    #[test]
    fn removed_address_and_several_messages() {
        let mut buf = wan_event(RTM_DELADDR);
        buf.extend(wan_event(RTM_NEWADDR));
        buf.extend(message(NLMSG_DONE, &0u32.to_ne_bytes()));
        let got = parse(&buf).unwrap();
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[0], Message::Address(e) if e.change == Change::Removed));
        assert!(matches!(&got[1], Message::Address(e) if e.change == Change::Added));
        assert_eq!(got[2], Message::Other(NLMSG_DONE));
    }

    #[test]
    fn local_wins_over_peer_address() {
        let buf = message(
            RTM_NEWADDR,
            &ifaddr(
                AF_INET,
                32,
                0,
                9,
                &[
                    attr(IFA_ADDRESS, &[5, 6, 7, 8]),
                    attr(IFA_LOCAL, &[1, 2, 3, 9]),
                ],
            ),
        );
        let Message::Address(e) = &parse(&buf).unwrap()[0] else {
            panic!("not an address")
        };
        assert_eq!(e.address, Some(Ipv4Addr::new(1, 2, 3, 9)));
        assert_eq!(e.label, None);
    }

    #[test]
    fn label_without_nul_and_peer_only() {
        let buf = message(
            RTM_NEWADDR,
            &ifaddr(
                AF_INET,
                32,
                253,
                1,
                &[attr(IFA_ADDRESS, &[5, 6, 7, 8]), attr(IFA_LABEL, b"ppp0")],
            ),
        );
        let Message::Address(e) = &parse(&buf).unwrap()[0] else {
            panic!("not an address")
        };
        assert_eq!(e.address, Some(Ipv4Addr::new(5, 6, 7, 8)));
        assert_eq!(e.label.as_deref(), Some("ppp0"));
        assert_eq!(e.scope, 253);
    }

    #[test]
    fn other_families_are_not_events() {
        let buf = message(
            RTM_NEWADDR,
            &ifaddr(10, 64, 0, 2, &[attr(IFA_ADDRESS, &[0; 16])]),
        );
        assert_eq!(parse(&buf).unwrap(), [Message::Other(RTM_NEWADDR)]);
    }

    #[test]
    fn errors_and_overruns() {
        let mut buf = message(NLMSG_ERROR, &(-105i32).to_ne_bytes());
        buf.extend(message(NLMSG_OVERRUN, &[]));
        buf.extend(message(16, &[0; 16]));
        assert_eq!(
            parse(&buf).unwrap(),
            [Message::Error(-105), Message::Overrun, Message::Other(16)]
        );
        assert_eq!(parse(&[]).unwrap(), []);
    }

    #[test]
    fn truncated_header() {
        let buf = wan_event(RTM_NEWADDR);
        for cut in 1..NLMSG_HDRLEN {
            let e = parse(&buf[..cut]).unwrap_err();
            assert_eq!(e.offset, 0);
        }
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let buf = wan_event(RTM_NEWADDR);
        for cut in 0..buf.len() {
            let mut short = buf[..cut].to_vec();
            if short.len() >= 4 {
                // Claim the full length: runs past the end.
                assert!(parse(&short).is_err(), "cut at {cut}");
                // Claim the cut length: attributes may be cut short.
                let len = (cut as u32).to_ne_bytes();
                short[..4].copy_from_slice(&len);
                let _ = parse(&short);
            } else if cut > 0 {
                assert!(parse(&short).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn bad_lengths() {
        let mut buf = wan_event(RTM_NEWADDR);
        buf[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            parse(&buf).unwrap_err().what,
            "a message is shorter than its header"
        );
        let mut buf = wan_event(RTM_NEWADDR);
        buf[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse(&buf).is_err());
        // An attribute whose length is under its header.
        let mut buf = wan_event(RTM_NEWADDR);
        let first_attr = NLMSG_HDRLEN + IFADDRMSG_LEN;
        buf[first_attr..first_attr + 2].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(
            parse(&buf).unwrap_err().what,
            "an attribute is shorter than its header"
        );
        // An attribute running past its message.
        buf[first_attr..first_attr + 2].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(
            parse(&buf).unwrap_err().what,
            "an attribute runs past the end of its message"
        );
        // A 5-byte IPv4 address.
        let buf = message(
            RTM_NEWADDR,
            &ifaddr(AF_INET, 24, 0, 1, &[attr(IFA_LOCAL, &[1, 2, 3, 4, 5])]),
        );
        assert_eq!(
            parse(&buf).unwrap_err().what,
            "an IPv4 address attribute is not 4 bytes"
        );
        // An address message without its ifaddrmsg.
        let buf = message(RTM_DELADDR, &[AF_INET, 24]);
        assert!(parse(&buf).is_err());
    }

    #[test]
    fn socket_opens() {
        let socket = Socket::open().expect("NETLINK_ROUTE socket");
        let mut buf = [0u8; 64];
        assert!(matches!(socket.receive(&mut buf).unwrap(), Received::Empty));
    }
}
