//! Routing address events to hosts: [`read_events`] drains the rtnetlink
//! socket and asks the [`Schedule`] for the checks each event calls for:
//! hosts on that interface (or one of its aliases) after their random
//! delay (the `jitter` that keeps a fleet from sending in the same second),
//! hosts whose address comes from a web page or a command after a settle
//! delay and their random delay, hosts with a fixed address never. A host
//! bound to a device (`bind_interface`, one WAN of several) hears that
//! device's events too, and a web or command host bound to one hears only
//! those. A lost or unreadable event checks every host at once.

use std::io;

use crate::detect::AddressSource;
use crate::update::Level;

use super::hosts::Host;
use super::netlink::{self, Change, Message, Received};
use super::schedule::Schedule;
use super::SharedLog;

/// How long a burst of address events is gathered before a host whose
/// address comes from a web page or a command is checked: one fetch per
/// burst, not one per event.
const SETTLE_MS: u64 = 5_000;

/// Draws the random delay, in milliseconds, of a check an address event
/// asks for ([`Host::event_delay_ms`]).
pub(super) type Spread<'a> = &'a dyn Fn(&Host) -> u64;

/// Reads every pending datagram and asks for the checks the events call for.
pub(super) fn read_events(
    socket: &netlink::Socket,
    buf: &mut [u8],
    hosts: &[Host],
    schedule: &mut Schedule,
    now: u64,
    spread: Spread<'_>,
    log: &SharedLog,
) -> io::Result<()> {
    loop {
        let n = match socket.receive(buf)? {
            Received::Empty => return Ok(()),
            Received::Ignored => continue,
            Received::Lost => {
                log(
                    Level::Info,
                    "the kernel dropped address events; checking every host",
                );
                schedule.want_all(now);
                continue;
            }
            Received::Datagram(n) => n,
        };
        match netlink::parse(&buf[..n]) {
            Ok(messages) => {
                for message in messages {
                    match message {
                        Message::Address(event) => route(&event, hosts, schedule, now, spread, log),
                        Message::Overrun => schedule.want_all(now),
                        Message::Error(_) | Message::Other(_) => {}
                    }
                }
            }
            Err(e) => {
                log(Level::Debug, &format!("{e}; checking every host"));
                schedule.want_all(now);
            }
        }
    }
}

/// Which hosts an address event concerns: those on that interface, or
/// bound to it, after their random delay; those whose address comes from
/// the web or a command after the settle delay and their random delay
/// (when bound to a device, only for that device's events); fixed
/// addresses never. An event whose interface is gone concerns every host
/// but the fixed ones.
fn route(
    event: &netlink::AddrEvent,
    hosts: &[Host],
    schedule: &mut Schedule,
    now: u64,
    spread: Spread<'_>,
    log: &SharedLog,
) {
    if event.address.is_some_and(|a| a.is_loopback()) {
        return;
    }
    let name = event.label.clone().or_else(|| interface_name(event.index));
    log(
        Level::Debug,
        &format!(
            "address event: {} {}/{} on {}",
            match event.change {
                Change::Added => "added",
                Change::Removed => "removed",
            },
            event
                .address
                .map(|a| a.to_string())
                .unwrap_or_else(|| "?".into()),
            event.prefix_len,
            name.as_deref().unwrap_or("an interface that is gone")
        ),
    );
    let on = |device: &str| name.as_deref().is_none_or(|n| concerns(device, n));
    for (i, host) in hosts.iter().enumerate() {
        let bound = host.config.transport.bind_interface.as_deref();
        match &host.config.address {
            AddressSource::Interface(watched) => {
                if on(watched) || bound.is_some_and(on) {
                    schedule.want_spread(i, now.saturating_add(spread(host)));
                }
            }
            AddressSource::Web(_) | AddressSource::Command(_) => {
                if bound.is_none_or(on) {
                    let at = now.saturating_add(SETTLE_MS).saturating_add(spread(host));
                    schedule.want_spread(i, at)
                }
            }
            AddressSource::Fixed(_) => {}
        }
    }
}

/// Whether an event labelled `label` concerns interface `watched`
/// (`wan0` also covers its aliases `wan0:1`, …).
fn concerns(watched: &str, label: &str) -> bool {
    label == watched
        || label
            .strip_prefix(watched)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// The name of the interface with this index, if it still exists.
fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname may write.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success `buf` holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::configs;
    use crate::watch::hosts::build_hosts;
    use crate::watch::hosts::tests::{base, file};
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    #[test]
    fn aliases_belong_to_their_interface() {
        assert!(concerns("wan0", "wan0"));
        assert!(concerns("wan0", "wan0:1"));
        assert!(!concerns("wan0", "wan01"));
        assert!(!concerns("wan0", "wan"));
    }

    #[test]
    fn routing_events_to_hosts() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let json = serde_json::json!({"hosts": [
            {"username": "a.example.com"},
            {"username": "b.example.com", "interface": "wan1"},
            {"username": "c.example.com", "ip": "1.2.3.4"},
            {"username": "d.example.com", "ip_source": "command", "ip_command": "echo 1.2.3.4"},
        ]});
        let hosts = build_hosts(configs(&s, Some(&file(&json))).unwrap()).unwrap();
        let log: SharedLog = Arc::new(|_, _| {});
        let mut sched = Schedule::new(hosts.len(), 0);
        for i in 0..hosts.len() {
            sched.started(i);
            sched.finished(i, 0, 600_000, None);
        }
        let event = netlink::AddrEvent {
            change: Change::Added,
            index: 0,
            prefix_len: 24,
            scope: 0,
            label: Some("wan1".into()),
            address: Some(Ipv4Addr::new(5, 6, 7, 8)),
        };
        route(&event, &hosts, &mut sched, 100, &|_| 0, &log);
        assert_eq!(sched.due(100), Some(1));
        sched.started(1);
        sched.finished(1, 100, 600_000, None);
        assert_eq!(sched.due(100), None);
        assert_eq!(sched.next(), Some(100 + SETTLE_MS));
        assert_eq!(sched.due(100 + SETTLE_MS), Some(3));
        // Loopback events concern nobody.
        let mut sched2 = sched.clone();
        let lo = netlink::AddrEvent {
            label: Some("lo".into()),
            address: Some(Ipv4Addr::LOCALHOST),
            ..event
        };
        route(&lo, &hosts, &mut sched2, 200, &|_| 0, &log);
        assert_eq!(sched2, sched);
    }

    #[test]
    fn event_checks_wait_their_random_delay() {
        let mut s = base();
        s.set("interface", "wan0").unwrap();
        let json = serde_json::json!({"hosts": [
            {"username": "a.example.com"},
            {"username": "d.example.com", "ip_source": "command", "ip_command": "echo 1.2.3.4"},
            {"username": "e.example.com", "jitter": 0},
            {"username": "f.example.com", "jitter": 60},
        ]});
        let hosts = build_hosts(configs(&s, Some(&file(&json))).unwrap()).unwrap();
        let log: SharedLog = Arc::new(|_, _| {});
        let mut sched = Schedule::new(2, 0);
        for i in 0..2 {
            sched.started(i);
            sched.finished(i, 0, 600_000, None);
        }
        let event = netlink::AddrEvent {
            change: Change::Added,
            index: 0,
            prefix_len: 24,
            scope: 0,
            label: Some("wan0".into()),
            address: Some(Ipv4Addr::new(5, 6, 7, 8)),
        };
        // Each host drew 4 s; a second event of the burst draws 1 s.
        route(&event, &hosts[..2], &mut sched, 100, &|_| 4_000, &log);
        route(&event, &hosts[..2], &mut sched, 300, &|_| 1_000, &log);
        assert_eq!(sched.due(4_099), None);
        assert_eq!(sched.due(4_100), Some(0));
        sched.started(0);
        sched.finished(0, 4_100, 600_000, None);
        assert_eq!(sched.next(), Some(100 + SETTLE_MS + 4_000));
        // The hosts' draws: within 0..=10 s by default, spread; `jitter 0`
        // turns them off, and a larger `jitter` spreads them wider.
        let clock = super::super::clock::Clock::new();
        let draws =
            |host: &Host| -> Vec<u64> { (0..300).map(|_| host.event_delay_ms(&clock)).collect() };
        let default = draws(&hosts[0]);
        assert!(
            default.iter().all(|d| *d <= clock.ms_for(10u64)),
            "{default:?}"
        );
        assert!(default.iter().any(|d| *d != default[0]), "{default:?}");
        assert!(draws(&hosts[2]).iter().all(|d| *d == 0));
        assert!(draws(&hosts[3]).iter().any(|d| *d > clock.ms_for(10u64)));
        // The schedule waits; the runs themselves must not wait again.
        assert!(hosts.iter().all(|h| h.config.jitter == Some(0)));
    }

    #[test]
    fn hosts_bound_to_a_wan_hear_only_that_wan() {
        let json = serde_json::json!({"hosts": [
            {"username": "a.example.com", "ip_url": "https://ip.example/", "bind_interface": "wan0"},
            {"username": "b.example.com", "ip_url": "https://ip.example/", "bind_interface": "wan1"},
            {"username": "c.example.com", "interface": "lan0", "bind_interface": "wan1"},
            {"username": "d.example.com", "ip_command": "echo 1.2.3.4"},
        ]});
        let hosts = build_hosts(configs(&base(), Some(&file(&json))).unwrap()).unwrap();
        let log: SharedLog = Arc::new(|_, _| {});
        // The hosts an event on `label` asks for, and when.
        let routed = |label: Option<&str>| {
            let mut sched = Schedule::new(hosts.len(), 0);
            for i in 0..hosts.len() {
                sched.started(i);
                sched.finished(i, 0, 600_000, None);
            }
            let event = netlink::AddrEvent {
                change: Change::Added,
                index: u32::MAX,
                prefix_len: 24,
                scope: 0,
                label: label.map(String::from),
                address: Some(Ipv4Addr::new(5, 6, 7, 8)),
            };
            route(&event, &hosts, &mut sched, 100, &|_| 0, &log);
            let mut due = Vec::new();
            for at in [100, 100 + SETTLE_MS] {
                while let Some(i) = sched.due(at) {
                    sched.started(i);
                    sched.finished(i, at, 600_000, None);
                    due.push((hosts[i].label.as_str(), at));
                }
            }
            due
        };
        let settled = 100 + SETTLE_MS;
        assert_eq!(
            routed(Some("wan0")),
            [("a.example.com", settled), ("d.example.com", settled)]
        );
        assert_eq!(
            routed(Some("wan1:1")),
            [
                ("c.example.com", 100),
                ("b.example.com", settled),
                ("d.example.com", settled)
            ]
        );
        assert_eq!(
            routed(Some("lan0")),
            [("c.example.com", 100), ("d.example.com", settled)]
        );
        // An interface that is gone may have been anyone's.
        assert_eq!(routed(None).len(), 4);
    }
}
