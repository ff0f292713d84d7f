//! Which IPv4 addresses may be registered.
//!
//! Pure: no I/O. A dynamic DNS record that points at a private, loopback or
//! carrier-grade NAT address is almost always a mistake (the router saw its
//! WAN side behind another NAT), so those ranges are refused unless the user
//! opts in with `allow_private`.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

/// Why an address is not a public unicast address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// A public unicast address: fine to register.
    Public,
    /// 10/8, 172.16/12, 192.168/16 (RFC 1918).
    Private,
    /// 127/8.
    Loopback,
    /// 169.254/16.
    LinkLocal,
    /// 100.64/10, the ISP side of carrier-grade NAT (RFC 6598).
    CarrierGradeNat,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737).
    Documentation,
    /// 0/8, 192.0.0/24, 198.18/15 (benchmarking), 240/4 and other reserved space.
    Reserved,
    /// 224/4.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
}

impl AddressKind {
    /// Classifies `ip`.
    pub fn of(ip: Ipv4Addr) -> AddressKind {
        let [a, b, c, _] = ip.octets();
        match (a, b, c) {
            _ if ip == Ipv4Addr::BROADCAST => AddressKind::Broadcast,
            (0, _, _) => AddressKind::Reserved,
            (10, _, _) => AddressKind::Private,
            (100, 64..=127, _) => AddressKind::CarrierGradeNat,
            (127, _, _) => AddressKind::Loopback,
            (169, 254, _) => AddressKind::LinkLocal,
            (172, 16..=31, _) => AddressKind::Private,
            (192, 0, 0) => AddressKind::Reserved,
            (192, 0, 2) => AddressKind::Documentation,
            (192, 168, _) => AddressKind::Private,
            (198, 18..=19, _) => AddressKind::Reserved,
            (198, 51, 100) => AddressKind::Documentation,
            (203, 0, 113) => AddressKind::Documentation,
            (224..=239, _, _) => AddressKind::Multicast,
            (240..=255, _, _) => AddressKind::Reserved,
            _ => AddressKind::Public,
        }
    }

    /// A short phrase for messages, e.g. "a private (RFC 1918) address".
    pub fn describe(self) -> &'static str {
        match self {
            AddressKind::Public => "a public address",
            AddressKind::Private => "a private (RFC 1918) address",
            AddressKind::Loopback => "a loopback address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::CarrierGradeNat => "a carrier-grade NAT (100.64.0.0/10) address",
            AddressKind::Documentation => "a documentation (RFC 5737) address",
            AddressKind::Reserved => "a reserved address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Broadcast => "the broadcast address",
        }
    }
}

/// Whether `ip` can be a host's address at all: multicast, broadcast,
/// 0.0.0.0/8 and 240.0.0.0/4 never can, whatever the user allows.
fn can_be_host_address(ip: Ipv4Addr) -> bool {
    let first = ip.octets()[0];
    !matches!(
        AddressKind::of(ip),
        AddressKind::Multicast | AddressKind::Broadcast
    ) && first != 0
        && first < 240
}

/// Checks that `ip` may be registered. `allow_private` admits private,
/// loopback, link-local, CGNAT, documentation and benchmarking ranges; never
/// multicast, broadcast, 0.0.0.0/8 or 240.0.0.0/4.
pub fn check_registrable(ip: Ipv4Addr, allow_private: bool) -> Result<(), String> {
    let kind = AddressKind::of(ip);
    if kind == AddressKind::Public {
        Ok(())
    } else if !can_be_host_address(ip) {
        Err(format!(
            "{ip} is {}, which can never be a host's address",
            kind.describe()
        ))
    } else if allow_private {
        Ok(())
    } else {
        Err(format!(
            "{ip} is {}, not a public one; if the host should really point at it, set allow_private",
            kind.describe()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> AddressKind {
        AddressKind::of(s.parse().unwrap())
    }

    #[test]
    fn ranges_are_classified() {
        let cases = [
            ("1.2.3.4", AddressKind::Public),
            ("8.8.8.8", AddressKind::Public),
            ("0.0.0.0", AddressKind::Reserved),
            ("0.1.2.3", AddressKind::Reserved),
            ("10.0.0.1", AddressKind::Private),
            ("100.63.255.255", AddressKind::Public),
            ("100.64.0.0", AddressKind::CarrierGradeNat),
            ("100.127.255.255", AddressKind::CarrierGradeNat),
            ("100.128.0.0", AddressKind::Public),
            ("127.0.0.1", AddressKind::Loopback),
            ("169.254.1.1", AddressKind::LinkLocal),
            ("169.253.1.1", AddressKind::Public),
            ("172.15.255.255", AddressKind::Public),
            ("172.16.0.0", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("172.32.0.0", AddressKind::Public),
            ("192.0.0.8", AddressKind::Reserved),
            ("192.0.2.1", AddressKind::Documentation),
            ("192.0.3.1", AddressKind::Public),
            ("192.168.1.1", AddressKind::Private),
            ("198.18.0.1", AddressKind::Reserved),
            ("198.19.255.255", AddressKind::Reserved),
            ("198.20.0.0", AddressKind::Public),
            ("198.51.100.7", AddressKind::Documentation),
            ("203.0.113.9", AddressKind::Documentation),
            ("223.255.255.255", AddressKind::Public),
            ("224.0.0.1", AddressKind::Multicast),
            ("239.255.255.255", AddressKind::Multicast),
            ("240.0.0.1", AddressKind::Reserved),
            ("255.255.255.255", AddressKind::Broadcast),
        ];
        for (ip, want) in cases {
            assert_eq!(kind(ip), want, "{ip}");
        }
    }

    #[test]
    fn opt_in_admits_private_but_never_multicast() {
        let ok = |s: &str, allow| check_registrable(s.parse().unwrap(), allow).is_ok();
        assert!(ok("1.2.3.4", false));
        for ip in [
            "10.1.1.1",
            "192.168.0.1",
            "100.64.1.1",
            "127.0.0.1",
            "169.254.0.1",
            "203.0.113.5",
            "198.18.0.1",
        ] {
            assert!(!ok(ip, false), "{ip} refused by default");
            assert!(ok(ip, true), "{ip} admitted with opt-in");
        }
        for ip in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1"] {
            assert!(!ok(ip, false), "{ip}");
            assert!(!ok(ip, true), "{ip} never admitted");
        }
    }

    #[test]
    fn refusal_names_the_range_and_the_fix() {
        let err = check_registrable("192.168.1.10".parse().unwrap(), false).unwrap_err();
        assert!(err.contains("private"), "{err}");
        assert!(err.contains("set allow_private"), "{err}");
    }
}
