//! Finding the current address: from an interface, a web page or a command.
//!
//! No policy here: the sources return what they find, and the caller checks
//! whether it may be registered. Errors name the source and what was tried.

use std::io::Read;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
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

    /// A warning about the source itself, for the log: a web page fetched
    /// over plain HTTP, whose answer anyone on the path can forge.
    pub fn warning(&self) -> Option<String> {
        match self {
            AddressSource::Web(url) if !has_scheme(url, "https://") => Some(format!(
                "the address comes from {url} over plain HTTP: anyone on the path can forge it; use an https:// page"
            )),
            _ => None,
        }
    }
}

/// Most redirects followed when fetching an address page; each must lead
/// to an `https://` URL.
pub const MAX_ADDRESS_REDIRECTS: usize = 3;

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// Where a redirect from `from` to `location` leads: an absolute URL, or a
/// path on the same host (`/…`, resolved against `from`), or `//host/…`
/// with `from`'s scheme. `None` for any other relative form.
pub fn redirect_target(from: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if has_scheme(location, "https://") || has_scheme(location, "http://") {
        return Some(location.to_string());
    }
    let scheme_end = from.find("://")? + 3;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{}{rest}", &from[..scheme_end]));
    }
    if location.starts_with('/') {
        let authority_end = from[scheme_end..]
            .find(['/', '?', '#'])
            .map_or(from.len(), |i| scheme_end + i);
        return Some(format!("{}{location}", &from[..authority_end]));
    }
    None
}

/// Most bytes read from a web page or a command's output.
const MAX_SOURCE_OUTPUT: usize = 16 * 1024;

/// Finds the address from `source`. `timeout` bounds web and command
/// sources; a web page is fetched through device `bind` when given
/// (`bind_interface`: the address the page sees is that WAN's); a command's
/// environment carries none of `secrets` (nor any `MTGSY_*` variable).
pub fn detect(
    source: &AddressSource,
    timeout: Duration,
    bind: Option<&str>,
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
            let text = fetch(url, timeout, bind).map_err(fail)?;
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
    each_ipv4(|ifname, ip| {
        if ifname == name.as_bytes() {
            out.push(ip);
        }
    })?;
    Ok(out)
}

/// Every IPv4 address on the box that is neither loopback nor link-local,
/// with its interface's name, in the kernel's order.
pub fn global_addresses() -> std::io::Result<Vec<(String, Ipv4Addr)>> {
    let mut out = Vec::new();
    each_ipv4(|ifname, ip| {
        if !matches!(
            AddressKind::of(ip),
            AddressKind::Loopback | AddressKind::LinkLocal
        ) {
            out.push((String::from_utf8_lossy(ifname).into_owned(), ip));
        }
    })?;
    Ok(out)
}

/// Calls `f` with the name and address of every IPv4 address of every
/// interface (`getifaddrs`).
fn each_ipv4(mut f: impl FnMut(&[u8], Ipv4Addr)) -> std::io::Result<()> {
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
            if !ifa.ifa_addr.is_null() && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                f(std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes(), ip);
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(())
}

/// The URL to go to next after a reply with `status` and `location`
/// from `current`, when `hops` redirects were followed already; `None` when
/// the reply is not a redirect. Only `https://` targets are followed, at
/// most [`MAX_ADDRESS_REDIRECTS`] in a row.
pub fn next_hop(
    current: &str,
    status: u16,
    location: Option<&str>,
    hops: usize,
) -> Result<Option<String>, String> {
    if !(300..400).contains(&status) {
        return Ok(None);
    }
    let location = location
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| format!("HTTP status {status} without a usable Location"))?;
    let target = redirect_target(current, location)
        .ok_or_else(|| format!("redirect to {location:?}, which is not a full URL"))?;
    if !has_scheme(&target, "https://") {
        return Err(format!(
            "redirect to {target} not followed: only https:// redirects are (the answer could be forged on the path)"
        ));
    }
    if hops >= MAX_ADDRESS_REDIRECTS {
        return Err(format!(
            "more than {MAX_ADDRESS_REDIRECTS} redirects; the next one was to {target}"
        ));
    }
    Ok(Some(target))
}

/// The roots a public "what is my address" page over HTTPS is checked
/// against: the system's CA bundle, whatever `ca_file` says for the update
/// server. Read at the first HTTPS page and kept for the life of the
/// process (watch mode fetches the page at every check); a failure is not
/// kept, so a bundle installed later is found.
fn web_roots() -> Result<ureq::tls::RootCerts, String> {
    use crate::transport::roots;
    static LOADED: OnceLock<ureq::tls::RootCerts> = OnceLock::new();
    if let Some(trusted) = LOADED.get() {
        return Ok(trusted.clone());
    }
    let trusted = roots::system_bundle().and_then(|p| roots::load(&p))?;
    Ok(LOADED.get_or_init(|| trusted).clone())
}

/// Fetches the page at `url` through device `bind`, if given; redirects
/// are followed by hand, at most [`MAX_ADDRESS_REDIRECTS`], and only to
/// `https://` URLs.
fn fetch(url: &str, timeout: Duration, bind: Option<&str>) -> Result<String, String> {
    let agent = |trusted| {
        crate::transport::agent(
            ureq::Agent::config_builder()
                .tls_config(crate::transport::tls_config(trusted))
                .timeout_global(Some(timeout))
                .proxy(None)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .http_status_as_error(false)
                .user_agent(crate::request::user_agent())
                .build(),
            bind,
        )
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut current = url.to_string();
    let mut redirects = 0;
    let mut response = loop {
        if std::time::Instant::now() >= deadline {
            return Err(format!("no answer within {} s", timeout.as_secs()));
        }
        // A plain-HTTP page needs no roots (and works without a bundle);
        // an HTTPS one is checked against the system's.
        let trusted = if current.starts_with("https://") {
            web_roots()?
        } else {
            crate::transport::roots::none()
        };
        let response = agent(trusted)
            .get(&current)
            .call()
            .map_err(|e| format!("request failed: {e}"))?;
        let location = response
            .headers()
            .get(ureq::http::header::LOCATION)
            .map(|v| v.to_str().unwrap_or(""));
        match next_hop(&current, response.status().as_u16(), location, redirects)? {
            Some(target) => current = target,
            None => break response,
        }
        redirects += 1;
    };
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
        let all = global_addresses().unwrap();
        assert!(all.iter().all(|(_, ip)| !ip.is_loopback()), "{all:?}");
    }

    #[test]
    fn redirect_targets() {
        let t = |from: &str, loc: &str| redirect_target(from, loc);
        let from = "https://a.example:8443/ip?x=1";
        assert_eq!(
            t(from, "https://b.example/x").as_deref(),
            Some("https://b.example/x")
        );
        assert_eq!(
            t(from, "HTTP://b.example/").as_deref(),
            Some("HTTP://b.example/")
        );
        assert_eq!(
            t(from, "/other").as_deref(),
            Some("https://a.example:8443/other")
        );
        assert_eq!(
            t("http://a.example", "/p").as_deref(),
            Some("http://a.example/p")
        );
        assert_eq!(
            t(from, "//c.example/").as_deref(),
            Some("https://c.example/")
        );
        assert_eq!(t(from, "relative"), None);
    }

    #[test]
    fn redirects_only_to_https_and_at_most_three() {
        let hop = |status, loc, hops| next_hop("https://a.example/ip", status, loc, hops);
        assert_eq!(hop(200, Some("https://b.example/"), 0), Ok(None));
        assert_eq!(
            hop(302, Some("https://b.example/"), 2),
            Ok(Some("https://b.example/".into()))
        );
        let err = hop(302, Some("https://b.example/"), 3).unwrap_err();
        assert!(err.contains("more than 3 redirects"), "{err}");
        let err = hop(301, Some("http://b.example/"), 0).unwrap_err();
        assert!(err.contains("only https://"), "{err}");
        let err = next_hop("http://a.example/", 307, Some("/x"), 0).unwrap_err();
        assert!(err.contains("http://a.example/x not followed"), "{err}");
        assert!(hop(302, None, 0).unwrap_err().contains("Location"));
    }

    #[test]
    fn plain_http_page_is_warned_about() {
        let w = |url: &str| AddressSource::Web(url.into()).warning();
        assert!(w("http://checkip.example/").unwrap().contains("plain HTTP"));
        assert_eq!(w("https://checkip.example/"), None);
        assert_eq!(
            AddressSource::Command("echo 1.2.3.4".into()).warning(),
            None
        );
    }

    #[test]
    fn command_source() {
        let t = Duration::from_secs(5);
        let ok = detect(
            &AddressSource::Command("echo ' 5.6.7.8 '".into()),
            t,
            None,
            &[],
        )
        .unwrap();
        assert_eq!(ok, Ipv4Addr::new(5, 6, 7, 8));
        let err = detect(&AddressSource::Command("exit 3".into()), t, None, &[]).unwrap_err();
        assert!(err.to_string().contains("exited"), "{err}");
        let err = detect(
            &AddressSource::Command("sleep 5".into()),
            Duration::from_millis(200),
            None,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
