//! Unit tests of the rtnetlink parser, on datagrams built byte by byte
//! (every truncation is an error, never a panic), and that the socket
//! opens.

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
