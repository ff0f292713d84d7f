//! `mtgsy-ddns doctor`: what stands between this router and a working
//! record, per host, without sending an update and without the password.
//!
//! [`check`] looks at one host's [`Config`]: the clock against the build
//! date, the address each source sees (the configured source, every global
//! IPv4 on the box, a web page's outside view), double NAT or carrier-grade
//! NAT, what the domain resolves to now, the state file's last accepted
//! address and the guard's next allowed send and why
//! ([`guard::explain`], asked as `update` asks [`guard::decide`]), and a
//! TLS handshake with the update server ([`transport::probe`]: no request,
//! no credentials). The state file is only read, never locked or written.
//!
//! Each [`Finding`] is a row of one table of static texts (what was found,
//! what to do) with blanks filled by [`Finding::message`]; a [`Report`]
//! prints as text or JSON. The password is not part of any of it: the
//! settings are resolved with [`Settings::without_password`] set.
//!
//! [`Settings::without_password`]: crate::config::Settings::without_password

use std::net::Ipv4Addr;

use crate::addr::{self, AddressKind};
use crate::config::Config;
use crate::detect::{self, AddressSource};
use crate::guard::{self, DeferReason, Why};
use crate::state;
use crate::transport::{self, Probe};
use crate::update;

/// How much a finding matters; anything at [`Severity::Warn`] or above
/// makes `doctor` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// As it should be.
    Ok,
    /// A fact worth knowing.
    Info,
    /// Something that will likely keep the record from working.
    Warn,
    /// Something that keeps the client from working.
    Error,
}

impl Severity {
    /// The word in the output: `ok`, `info`, `warn` or `error`.
    pub fn word(self) -> &'static str {
        ["ok", "info", "warn", "error"][self as usize]
    }
}

/// Which finding: an index into [`ROWS`], whose first column names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    ClockOk,
    ClockUnset,
    ClockWrong,
    Source,
    SourceRefused,
    SourceFailed,
    BoxAddresses,
    NoBoxAddress,
    Outside,
    OutsideFailed,
    OutsideUnknown,
    WanOk,
    DoubleNat,
    WanDiffers,
    BehindNat,
    DnsOk,
    DnsOther,
    DnsSeen,
    DnsStale,
    DnsFailed,
    DnsUnknown,
    Registered,
    NeverRegistered,
    StateUnreadable,
    SendNow,
    Floor,
    Backoff,
    Rejected,
    Blocked,
    Unchanged,
    ClockBehind,
    TlsOk,
    TlsPlain,
    TlsUnreachable,
    TlsCertificate,
    TlsHandshake,
}

/// One line per [`Id`], in its order, of four fields split by `|`: the
/// name in JSON, the severity's initial (`o`, `i`, `w`, `e`), what was
/// found, and what to do (empty: nothing). `{}` are blanks, filled in
/// order. (One string, so the table costs no pointer per text.)
const ROWS: &str = "\
clock|o|the clock reads {}|\n\
clock_unset|e|the clock reads {}, before this program was built ({}): the clock is not set (no NTP yet?)|wait for NTP or set the time; nothing is sent until it is right\n\
clock_wrong|e|the clock reads {}, which cannot be right|set the time (NTP); nothing is sent until it is right\n\
source|i|{} gives {}|\n\
source_refused|e|{} gives an address update refuses: {}|fix the address source\n\
source_failed|e|{}|fix the address source: update sends nothing without an address\n\
box_addresses|i|IPv4 addresses on this box: {}|\n\
no_box_address|i|no global IPv4 address on this box|\n\
outside|i|{} sees this router as {}|\n\
outside_failed|w|{} gave no address: {}|check the URL and that the router is online\n\
outside_unknown|i|no page to ask for the address the outside sees|set check_url (or ip_url) to a page that shows the caller's address, to check for double NAT\n\
wan|o|{} has {}, the address the outside sees|\n\
double_nat|w|double NAT / CGNAT: {} has {} ({}) but the outside sees {}|a DNS record pointing at {} will not reach this router unless the upstream router or the ISP forwards ports to it: ask for a public address or bridge mode\n\
wan_differs|w|{} has {} but the outside sees {}|traffic leaves through another route: set bind_interface to this WAN, or check the routing\n\
behind_nat|i|{} is on no interface of this box: another router's NAT is in front of it|a record pointing at {} reaches this box only if that router forwards ports to it; set interface or bind_interface to the WAN device to check it\n\
dns|o|{} resolves to {}, the address to register|\n\
dns_other|i|{} resolves to {}; the client would register {}|the next update changes it (see when below)\n\
dns_seen|i|{} resolves to {}|\n\
dns_stale|w|{} resolves to {} though {} was accepted|wait for the record's time to live; if it stays, check the domain in the account\n\
dns_failed|w|{} does not resolve: {}|check the name and the router's DNS\n\
dns_unknown|i|no domain to look up (the user name is an e-mail address)|set lookup_host to the dynamic domain to compare it with DNS\n\
registered|i|last accepted: {} at {}|\n\
never_registered|i|no address accepted yet (state file {})|\n\
state_unreadable|w|{}|the next update moves it aside and waits 10 minutes\n\
send_now|i|an update may go now: {}|\n\
floor|i|the next update may go at {}: 10 minutes after the last request|\n\
backoff|w|the next update may go at {}: backoff after {} failures (last: {})|see the last error; the client retries on its own\n\
rejected|e|the service rejected {}; not retried before {} (unless the password changed since)|check the user name, the password and the domain in the account\n\
blocked|e|the service blocked this client; nothing is sent before {}|wait for the hold to end; check the account at mtgsy.net\n\
unchanged|o|{} is registered; the next refresh goes at {}|\n\
clock_behind|e|the clock reads earlier than the state file's last write; nothing is sent before {}|set the time right\n\
tls|o|{} answers TLS with a trusted certificate|\n\
tls_plain|w|{} is plain HTTP: not encrypted|use an https:// server: the password would travel in clear text\n\
tls_unreachable|e|{} cannot be reached: {}|check the network, bind_interface and the server setting\n\
tls_certificate|e|the certificate of {} is not trusted: {}|check the clock, ca_file, and that nothing on the path intercepts HTTPS\n\
tls_failed|e|the TLS handshake with {} failed: {}|check ca_file and the server setting\n\
";

/// One finding: its row and the words that fill its blanks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Which row of the table.
    id: Id,
    /// The words for the blanks, in order.
    args: Vec<String>,
}

impl Finding {
    /// The row's four fields.
    #[inline(never)]
    fn row(&self) -> [&'static str; 4] {
        let mut fields = ROWS
            .lines()
            .nth(self.id as usize)
            .unwrap_or("")
            .splitn(4, '|');
        [(); 4].map(|_| fields.next().unwrap_or(""))
    }

    /// The name in JSON, e.g. `double_nat`.
    pub fn name(&self) -> &'static str {
        self.row()[0]
    }

    /// How much it matters.
    pub fn severity(&self) -> Severity {
        match self.row()[1] {
            "o" => Severity::Ok,
            "i" => Severity::Info,
            "w" => Severity::Warn,
            _ => Severity::Error,
        }
    }

    /// What was found, the blanks filled.
    pub fn message(&self) -> String {
        fill(self.row()[2], &self.args)
    }

    /// What to do (empty: nothing), the blanks filled with the last words
    /// (the double-NAT advice names the outside address).
    pub fn action(&self) -> String {
        let action = self.row()[3];
        let blanks = action.bytes().filter(|b| *b == b'{').count();
        fill(action, &self.args[self.args.len().saturating_sub(blanks)..])
    }
}

/// `template` with each `{}` replaced by the next of `args` (missing
/// ones left empty).
fn fill(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut args = args.iter();
    let mut rest = template;
    // A blank is `{}`; no text has a `{` otherwise (searching for one
    // byte links no substring search).
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        out.push_str(args.next().map_or("", String::as_str));
        rest = rest.get(i + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// What `doctor` found for one host: the findings and the raw facts.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The update server's host name.
    pub server: String,
    /// The account's user name.
    pub username: String,
    /// What was found, in the order checked.
    pub findings: Vec<Finding>,
    /// The facts for `--json`: a key and its value as JSON text.
    pub facts: Vec<(&'static str, String)>,
}

impl Report {
    fn add(&mut self, id: Id, args: &[&dyn std::fmt::Display]) {
        let args = args.iter().map(|a| a.to_string()).collect();
        self.findings.push(Finding { id, args });
    }

    fn fact(&mut self, key: &'static str, json: String) {
        self.facts.push((key, json));
    }

    /// Whether a finding needs the user (a warning or an error).
    pub fn needs_user(&self) -> bool {
        self.findings.iter().any(|f| f.severity() >= Severity::Warn)
    }

    /// The report as text: a line naming the host, then one line per
    /// finding, `[severity] what — do this`.
    pub fn text(&self) -> String {
        let mut out = format!("{} at {}\n", self.username, self.server);
        for f in &self.findings {
            out.push_str("  [");
            out.push_str(f.severity().word());
            out.push_str("] ");
            out.push_str(&f.message());
            let action = f.action();
            if !action.is_empty() {
                out.push_str(" — ");
                out.push_str(&action);
            }
            out.push('\n');
        }
        out
    }

    /// The report as one JSON object: server, username, whether all is
    /// well, the findings (`id`, `severity`, `message`, `action`), then
    /// the facts.
    pub fn json(&self) -> String {
        let mut out = format!(
            "{{\"server\":{},\"username\":{},\"ok\":{},\"findings\":[",
            js(&self.server),
            js(&self.username),
            !self.needs_user()
        );
        for (i, f) in self.findings.iter().enumerate() {
            out.push_str(if i == 0 { "{" } else { ",{" });
            out.push_str(&format!(
                "\"id\":{},\"severity\":\"{}\",\"message\":{},\"action\":{}}}",
                js(f.name()),
                f.severity().word(),
                js(&f.message()),
                js(&f.action())
            ));
        }
        out.push(']');
        for (key, value) in &self.facts {
            out.push_str(&format!(",\"{key}\":{value}"));
        }
        out.push('}');
        out
    }
}

/// `text` as a JSON string.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "null".into())
}

/// An optional value as JSON: a string of its text, or `null`.
fn js_opt(value: Option<impl std::fmt::Display>) -> String {
    value.map_or("null".into(), |v| js(&v.to_string()))
}

/// An optional number as JSON.
fn num(value: Option<i64>) -> String {
    value.map_or("null".into(), |v| v.to_string())
}

/// When this program was built, in Unix seconds (`MTGSY_BUILD_TIME` from
/// `build.rs`), never earlier than [`guard::EARLIEST_TIME`].
pub fn build_time() -> i64 {
    option_env!("MTGSY_BUILD_TIME")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
        .max(guard::EARLIEST_TIME)
}

/// `t` (Unix seconds) as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(t: i64) -> String {
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant.
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Checks one host at `now` (Unix seconds): see the module documentation.
/// Sends no update and opens no password file; each source or probe that
/// fails is a finding, not an error.
pub fn check(config: &Config, now: i64) -> Report {
    let mut r = Report {
        server: config.server.host().to_string(),
        username: config.username.clone(),
        ..Report::default()
    };
    let timeout = config.transport.timeout;
    let bind = config.transport.bind_interface.as_deref();

    // The clock.
    let built = build_time();
    if now < built {
        r.add(Id::ClockUnset, &[&utc(now), &utc(built)]);
    } else if !guard::is_plausible_time(now) {
        r.add(Id::ClockWrong, &[&utc(now)]);
    } else {
        r.add(Id::ClockOk, &[&utc(now)]);
    }

    // The configured source: the address an update would register.
    let source = config.address.describe();
    let mut registrable = false;
    let ip = match detect::detect(&config.address, timeout, bind, &[]) {
        Ok(ip) => {
            match addr::check_registrable(ip, config.allow_private) {
                Ok(()) => {
                    registrable = true;
                    r.add(Id::Source, &[&source, &ip]);
                }
                Err(why) => r.add(Id::SourceRefused, &[&source, &why]),
            }
            Some(ip)
        }
        Err(e) => {
            r.add(Id::SourceFailed, &[&e]);
            None
        }
    };
    r.fact("source", js(&source));
    r.fact("address", js_opt(ip));

    // Every global address on the box.
    let on_box = detect::global_addresses().unwrap_or_default();
    let (mut list, mut interfaces) = (String::new(), String::from("["));
    for (i, (name, ip)) in on_box.iter().enumerate() {
        let (sep, comma) = if i == 0 { ("", "") } else { (", ", ",") };
        list.push_str(&format!("{sep}{ip} on {name}"));
        interfaces.push_str(&format!("{comma}{{\"name\":{},\"ip\":\"{ip}\"}}", js(name)));
    }
    interfaces.push(']');
    if on_box.is_empty() {
        r.add(Id::NoBoxAddress, &[]);
    } else {
        r.add(Id::BoxAddresses, &[&list]);
    }
    r.fact("interfaces", interfaces);

    // The outside view: check_url, else the web source's own answer.
    let outside = match (&config.check_url, &config.address) {
        (Some(url), _) => {
            let page = AddressSource::Web(url.clone());
            match detect::detect(&page, timeout, bind, &[]) {
                Ok(seen) => {
                    r.add(Id::Outside, &[url, &seen]);
                    Some(seen)
                }
                Err(e) => {
                    let what = match &e {
                        crate::Error::Detect { what, .. } => what.clone(),
                        other => other.to_string(),
                    };
                    r.add(Id::OutsideFailed, &[url, &what]);
                    None
                }
            }
        }
        (None, AddressSource::Web(_)) => ip,
        (None, _) => {
            r.add(Id::OutsideUnknown, &[]);
            None
        }
    };
    r.fact("outside", js_opt(outside));

    // Double NAT: the WAN's address (the interface source's, or
    // bind_interface's; else a CGNAT address on the box) against the
    // outside view.
    let wan = match (&config.address, bind) {
        (AddressSource::Interface(name), _) => Some(name.as_str()),
        (_, bind) => bind,
    }
    .and_then(|name| {
        let ips = detect::interface_addresses(name).ok()?;
        Some((name.to_string(), detect::pick_interface_address(&ips)?))
    })
    .or_else(|| {
        on_box
            .iter()
            .find(|(_, ip)| AddressKind::of(*ip) == AddressKind::CarrierGradeNat)
            .cloned()
    });
    let wan_known = wan.is_some();
    if let (Some((name, wan)), Some(seen)) = (wan, outside) {
        let kind = AddressKind::of(wan);
        if wan == seen {
            r.add(Id::WanOk, &[&name, &wan]);
        } else if matches!(kind, AddressKind::Private | AddressKind::CarrierGradeNat) {
            r.add(
                Id::DoubleNat,
                &[&name, &wan, &kind.describe(), &seen, &seen],
            );
        } else {
            r.add(Id::WanDiffers, &[&name, &wan, &seen]);
        }
    }
    if let Some(seen) = outside.filter(|seen| !wan_known && !on_box.iter().any(|b| b.1 == *seen)) {
        r.add(Id::BehindNat, &[&seen, &seen]);
    }

    // The state file, read only.
    let path = &config.state_path;
    let record = match state::read_entries(path) {
        Ok(entries) => Some(
            entries
                .into_iter()
                .find(|e| e.is_for(config.server.host(), &config.username))
                .map(|e| e.record)
                .unwrap_or_default(),
        ),
        Err(e) => {
            r.add(Id::StateUnreadable, &[&e]);
            None
        }
    };
    let registered = record.as_ref().and_then(|rec| rec.registered_ip);

    // DNS now: lookup_host, else a user name that is a domain.
    let domain = config
        .lookup_host
        .clone()
        .or_else(|| Some(config.username.clone()).filter(|u| !u.contains('@')));
    let mut dns = String::from("null");
    // Whether update would count the address as registered on a blank
    // record: `lookup_host` resolves to it (see `update::cycle`).
    let mut seeds = false;
    match &domain {
        None => r.add(Id::DnsUnknown, &[]),
        Some(name) => match update::cycle::resolve_v4(name, timeout) {
            Ok(found) => {
                seeds = config.lookup_host.is_some() && ip.is_some_and(|ip| found.contains(&ip));
                let (mut shown, mut json) = (String::new(), String::from("["));
                for (i, ip) in found.iter().enumerate() {
                    let (sep, comma) = if i == 0 { ("", "") } else { (", ", ",") };
                    shown.push_str(&format!("{sep}{ip}"));
                    json.push_str(&format!("{comma}\"{ip}\""));
                }
                json.push(']');
                dns = json;
                if found.is_empty() {
                    shown.push_str("no IPv4 address");
                }
                match ip.filter(|_| registrable) {
                    Some(ip) if found.contains(&ip) => r.add(Id::DnsOk, &[name, &shown]),
                    Some(ip) if registered == Some(ip) => r.add(Id::DnsStale, &[name, &shown, &ip]),
                    Some(ip) => r.add(Id::DnsOther, &[name, &shown, &ip]),
                    None => r.add(Id::DnsSeen, &[name, &shown]),
                }
            }
            Err(e) => r.add(Id::DnsFailed, &[name, &e]),
        },
    }
    r.fact("domain", js_opt(domain.as_deref()));
    r.fact("dns", dns);

    // The last accepted address, and the guard's next allowed send.
    r.fact("state", js(&path.display().to_string()));
    let mut next = (None, None);
    if let Some(rec) = &record {
        match (registered, rec.registered_at) {
            (Some(ip), Some(at)) => r.add(Id::Registered, &[&ip, &utc(at)]),
            _ => r.add(Id::NeverRegistered, &[&path.display()]),
        }
        // What the guard would say about an update of it (one that
        // update refuses never reaches the guard).
        if let Some(ip) = ip.filter(|_| registrable) {
            let mut rec = rec.clone();
            if seeds && rec.is_blank() {
                rec.registered_ip = Some(ip);
                rec.registered_at = Some(now);
            }
            next = next_send(&mut r, config, &rec, ip, now);
        }
        r.fact("registered_ip", js_opt(registered));
        r.fact("registered_at", num(rec.registered_at));
        r.fact("last_attempt_at", num(rec.last_attempt_at));
    }
    r.fact("next_allowed_at", num(next.0));
    r.fact("next_reason", js_opt(next.1));

    // The update server: a handshake, no request.
    let target = format!("{}:{}", config.server.host(), config.server.port());
    let probe = transport::probe(config.server.url(), &config.transport)
        .unwrap_or_else(|e| Probe::Handshake(e.to_string()));
    let tls = match probe {
        Probe::Trusted => {
            r.add(Id::TlsOk, &[&target]);
            "trusted"
        }
        Probe::Plain => {
            r.add(Id::TlsPlain, &[&target]);
            "plain"
        }
        Probe::Unreachable(why) => {
            r.add(Id::TlsUnreachable, &[&target, &why]);
            "unreachable"
        }
        Probe::Certificate(why) => {
            r.add(Id::TlsCertificate, &[&target, &why]);
            "untrusted"
        }
        Probe::Handshake(why) => {
            r.add(Id::TlsHandshake, &[&target, &why]);
            "failed"
        }
    };
    r.fact("server_tls", js(tls));
    r
}

/// The guard's answer for an update of `ip` now, as a finding; returns
/// when the next request may go and a word for why. The password is not
/// known here: a rejection of the same address counts as one with the
/// same credentials (the careful reading).
fn next_send(
    r: &mut Report,
    config: &Config,
    rec: &guard::Record,
    ip: Ipv4Addr,
    now: i64,
) -> (Option<i64>, Option<&'static str>) {
    let mut want = update::want(config, &config.fields(ip), false);
    if let Some(rejected) = rec.rejected.filter(|x| x.ip == ip) {
        want.credential = rejected.credential;
    }
    let clock = update::Clock::starting_at(now);
    let (at, why) = guard::explain(rec, clock.at(now), &want);
    let when = at.map_or_else(|| "an unknown time".to_string(), utc);
    let word = match why {
        Why::Send(reason) => {
            let reason = update::outcome::describe_reason(reason, ip);
            r.add(Id::SendNow, &[&reason]);
            "send"
        }
        Why::Held(DeferReason::Floor) => {
            r.add(Id::Floor, &[&when]);
            "floor"
        }
        Why::Held(DeferReason::Backoff) => {
            let last = rec.last_reply.as_deref().unwrap_or("unknown");
            r.add(Id::Backoff, &[&when, &rec.failures, &last]);
            "backoff"
        }
        Why::Held(DeferReason::Rejected) => {
            r.add(Id::Rejected, &[&ip, &when]);
            "rejected"
        }
        Why::Blocked => {
            r.add(Id::Blocked, &[&when]);
            "blocked"
        }
        Why::Held(DeferReason::Unrequired) | Why::Unchanged => {
            r.add(Id::Unchanged, &[&ip, &when]);
            "unchanged"
        }
        Why::ClockBehind => {
            r.add(Id::ClockBehind, &[&when]);
            "clock_behind"
        }
        // The clock finding says it.
        Why::ClockImplausible => "clock",
    };
    (at, Some(word))
}

#[cfg(test)]
mod tests;
