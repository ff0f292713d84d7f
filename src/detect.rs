//! Finding the current address: from an interface, a web page or a command.
//!
//! No policy here: the sources return what they find, and the caller checks
//! whether it may be registered. Errors name the source and what was tried.

use std::io::Read;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::addr::AddressKind;
use crate::error::Error;

/// Where the address comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSource {
    /// Given by the user (`--ip`).
    Fixed(Ipv4Addr),
    /// The first global IPv4 address of a network interface.
    Interface(String),
    /// The first IPv4 address in the reply of a web page the user names.
    Web(String),
    /// The first IPv4 address a shell command prints.
    Command(String),
}

impl AddressSource {
    /// A short description for messages, e.g. `interface eth0`.
    pub fn describe(&self) -> String {
        match self {
            AddressSource::Fixed(ip) => format!("fixed {ip}"),
            AddressSource::Interface(name) => format!("interface {name}"),
            AddressSource::Web(url) => format!("web {url}"),
            AddressSource::Command(cmd) => format!("command {cmd:?}"),
        }
    }
}

/// Most bytes read from a web page or a command's output.
const MAX_SOURCE_OUTPUT: usize = 16 * 1024;

/// Finds the address from `source`. `timeout` bounds web and command
/// sources; a command's environment carries none of `secrets` (nor any
/// `MTGSY_*` variable).
pub fn detect(
    source: &AddressSource,
    timeout: Duration,
    secrets: &[&str],
) -> Result<Ipv4Addr, Error> {
    let fail = |what: String| Error::Detect {
        source: source.describe(),
        what,
    };
    match source {
        AddressSource::Fixed(ip) => Ok(*ip),
        AddressSource::Interface(name) => {
            let addrs = interface_addresses(name)
                .map_err(|e| fail(format!("cannot list addresses: {e}")))?;
            pick_interface_address(&addrs).ok_or_else(|| {
                if addrs.is_empty() {
                    fail("no IPv4 address on this interface (is it up? is the name right?)".into())
                } else {
                    fail("only loopback or link-local IPv4 addresses on this interface".into())
                }
            })
        }
        AddressSource::Web(url) => {
            let text = fetch(url, timeout).map_err(fail)?;
            first_ipv4(&text).ok_or_else(|| fail("no IPv4 address in the reply".into()))
        }
        AddressSource::Command(cmd) => {
            let text = run_command(cmd, timeout, secrets).map_err(fail)?;
            first_ipv4(&text).ok_or_else(|| fail("no IPv4 address in the output".into()))
        }
    }
}

/// The address to register among an interface's addresses: the first
/// public one, else the first that is neither loopback nor link-local (the
/// caller's policy check then explains why a private one is refused).
pub fn pick_interface_address(addrs: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    addrs
        .iter()
        .copied()
        .find(|a| AddressKind::of(*a) == AddressKind::Public)
        .or_else(|| {
            addrs.iter().copied().find(|a| {
                !matches!(
                    AddressKind::of(*a),
                    AddressKind::Loopback | AddressKind::LinkLocal
                )
            })
        })
}

/// The first dotted-quad IPv4 address in `text` that stands alone (not part
/// of a longer run of digits and dots).
pub fn first_ipv4(text: &str) -> Option<Ipv4Addr> {
    let bytes = text.as_bytes();
    let is_part = |b: u8| b.is_ascii_digit() || b == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if !is_part(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_part(bytes[i]) {
            i += 1;
        }
        let run = &text[start..i];
        let run = run.trim_matches('.');
        if let Ok(ip) = run.parse::<Ipv4Addr>() {
            return Some(ip);
        }
    }
    None
}

/// The IPv4 addresses of interface `name`, in the kernel's order.
pub fn interface_addresses(name: &str) -> std::io::Result<Vec<Ipv4Addr>> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; its name is a NUL-terminated string and its
        // address, when not null and of family AF_INET, a sockaddr_in.
        unsafe {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null()
                && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET
                && std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes() == name.as_bytes()
            {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                out.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

fn fetch(url: &str, timeout: Duration) -> Result<String, String> {
    // A public "what is my address" page: the web PKI roots, whatever
    // `ca_file` says for the update server.
    let tls = crate::transport::tls_config(ureq::tls::RootCerts::WebPki);
    let agent = crate::transport::agent(
        ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            .proxy(None)
            .max_redirects(3)
            .user_agent(crate::request::user_agent())
            .build(),
    );
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("HTTP status {status}"));
    }
    let mut body = Vec::new();
    let reader = response.body_mut().with_config().limit(u64::MAX).reader();
    reader
        .take(MAX_SOURCE_OUTPUT as u64)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the reply failed: {e}"))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn run_command(cmd: &str, timeout: Duration, secrets: &[&str]) -> Result<String, String> {
    let (exit, output) = crate::command::run_shell(cmd, timeout, MAX_SOURCE_OUTPUT, secrets)?;
    if exit != crate::command::Exit::Code(0) {
        return Err(format!("exited with {exit}"));
    }
    Ok(String::from_utf8_lossy(&output).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_standalone_address() {
        let ip = |s: &str| first_ipv4(s);
        assert_eq!(
            ip("Current IP Address: 1.2.3.4</body>"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(
            ip("1.2.3.4.5 then 5.6.7.8"),
            Some(Ipv4Addr::new(5, 6, 7, 8))
        );
        assert_eq!(
            ip("999.1.1.1 and 8.8.8.8."),
            Some(Ipv4Addr::new(8, 8, 8, 8))
        );
        assert_eq!(ip("version 1.2.3"), None);
        assert_eq!(ip(""), None);
        assert_eq!(ip("01.2.3.4"), None);
    }

    #[test]
    fn prefers_public_interface_address() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            pick_interface_address(&[a("169.254.1.1"), a("10.0.0.2"), a("1.2.3.4")]),
            Some(a("1.2.3.4"))
        );
        assert_eq!(
            pick_interface_address(&[a("169.254.1.1"), a("10.0.0.2")]),
            Some(a("10.0.0.2"))
        );
        assert_eq!(pick_interface_address(&[a("127.0.0.1")]), None);
    }

    #[test]
    fn loopback_interface_lists_127() {
        let addrs = interface_addresses("lo").unwrap();
        assert!(addrs.contains(&Ipv4Addr::LOCALHOST), "{addrs:?}");
        assert!(interface_addresses("no-such-if0").unwrap().is_empty());
    }

    #[test]
    fn command_source() {
        let t = Duration::from_secs(5);
        let ok = detect(&AddressSource::Command("echo ' 5.6.7.8 '".into()), t, &[]).unwrap();
        assert_eq!(ok, Ipv4Addr::new(5, 6, 7, 8));
        let err = detect(&AddressSource::Command("exit 3".into()), t, &[]).unwrap_err();
        assert!(err.to_string().contains("exited"), "{err}");
        let err = detect(
            &AddressSource::Command("sleep 5".into()),
            Duration::from_millis(200),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
