//! The update request: validated fields and the exact URL sent.
//!
//! Pure: no I/O. [`UpdateFields::validate`] checks every field against the
//! rules in the protocol page before anything can be built, and
//! [`build`] turns validated fields into the one GET request the service
//! understands. [`decode_query`] reverses the encoding; tests and fuzzing
//! use it to prove `decode(build(x)) == x`.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;

use crate::addr;
use crate::error::InputError;

/// The service's own update endpoint. Only real users ever talk to it.
pub const DEFAULT_SERVER: &str = "https://www.mtgsy.net/dns/update.php";

/// The User-Agent sent on every request: the service asks every client to
/// identify itself uniquely.
pub fn user_agent() -> String {
    format!(
        "mtgsy-ddns/{} ({}; {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A password. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The password itself: only for building the request and for masking.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every spelling of the password that could show up in text
    /// with `***`: as is; percent-encoded (hex digits in either case, `+`
    /// for a space); HTML-escaped (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
    /// `&apos;`, numeric `&#NN;` and `&#xHH;`); JSON-escaped (`\"`, `\\`,
    /// `\/`, `\uXXXX`, surrogate pairs); and any mix of these, character by
    /// character. Letters of the password keep their case: only the
    /// escapes' hex digits and entity names match in either case.
    pub fn mask(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        // Every spelling starts with the password's first byte or with an
        // ASCII escape, so only those positions (all on character
        // boundaries) are tried.
        let first = self.0.as_bytes()[0];
        let mut out = String::new();
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == first || matches!(b, b'%' | b'+' | b'&' | b'\\') {
                if let Some(end) = spelled_at(&self.0, bytes, i) {
                    out.push_str(text.get(copied..i).unwrap_or_default());
                    out.push_str("***");
                    copied = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        if copied == 0 {
            return text.to_string();
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }

    /// A reply body made printable ([`crate::reply::printable`]), masked
    /// whole, then cut to `max_chars` characters: the cut can never leave a
    /// piece of the password behind.
    pub fn mask_reply(&self, body: &[u8], max_chars: usize) -> String {
        let full = crate::reply::printable(body, usize::MAX);
        self.mask(&full)
            .chars()
            .take(max_chars)
            .collect::<String>()
            .trim()
            .to_string()
    }
}

/// Where a spelling of `secret` that starts at byte `start` of `text` ends
/// (the longest one), if there is one. Each character may be written in any
/// of the forms [`Secret::mask`] lists; the set of possible ends is carried
/// from character to character, so the work is bounded by the secret's
/// length times the few forms, never exponential.
fn spelled_at(secret: &str, text: &[u8], start: usize) -> Option<usize> {
    let mut ends = vec![start];
    let mut next = Vec::new();
    for c in secret.chars() {
        next.clear();
        for &at in &ends {
            char_forms(c, text, at, &mut next);
        }
        if next.is_empty() {
            return None;
        }
        // Each end once (a short list: no sort linked for it).
        let mut kept = 0;
        for j in 0..next.len() {
            let end = next[j];
            if !next[..kept].contains(&end) {
                next[kept] = end;
                kept += 1;
            }
        }
        next.truncate(kept);
        std::mem::swap(&mut ends, &mut next);
    }
    ends.into_iter().max().filter(|&end| end > start)
}

/// Pushes onto `ends` the end of every spelling of `c` that starts at byte
/// `at` of `text`.
fn char_forms(c: char, text: &[u8], at: usize, ends: &mut Vec<usize>) {
    let rest = text.get(at..).unwrap_or_default();
    let mut utf8 = [0u8; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    // As is.
    if rest.starts_with(raw) {
        ends.push(at + raw.len());
    }
    // Percent-encoded, byte by byte.
    let mut p = 0;
    let percent = raw.iter().all(|&b| {
        let ok =
            rest.get(p) == Some(&b'%') && hex_value(rest.get(p + 1..p + 3)) == Some(u32::from(b));
        p += 3;
        ok
    });
    if percent {
        ends.push(at + p);
    }
    match rest.first() {
        Some(b'+') if c == ' ' => ends.push(at + 1),
        Some(b'&') => {
            if let Some(len) = html_entity(c, rest) {
                ends.push(at + len);
            }
        }
        Some(b'\\') => {
            if let Some(len) = json_escape(c, rest) {
                ends.push(at + len);
            }
        }
        _ => {}
    }
}

/// The value of the run of up to `max` digits in `radix` (hex in either
/// case) at the start of `digits`, and the run's length (0: no digit).
/// Values past `u32` saturate, so they match no character.
fn number(digits: &[u8], radix: u32, max: usize) -> (u32, usize) {
    let mut value: u32 = 0;
    let mut len = 0;
    for &b in digits.iter().take(max) {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        value = value.saturating_mul(radix).saturating_add(d);
        len += 1;
    }
    (value, len)
}

/// The value of exactly two hex digits (either case).
fn hex_value(digits: Option<&[u8]>) -> Option<u32> {
    match number(digits?, 16, 2) {
        (value, 2) => Some(value),
        _ => None,
    }
}

/// The length of an HTML character reference for `c` at the start of
/// `rest` (which starts with `&`): a named one for the five characters
/// HTML escapes, or a numeric one (`&#38;`, `&#x26;`; the `;` may be
/// missing after a number).
fn html_entity(c: char, rest: &[u8]) -> Option<usize> {
    let named: &[u8] = match c {
        '&' => b"&amp;",
        '<' => b"&lt;",
        '>' => b"&gt;",
        '"' => b"&quot;",
        '\'' => b"&apos;",
        _ => b"",
    };
    if !named.is_empty()
        && rest
            .get(..named.len())
            .is_some_and(|r| r.eq_ignore_ascii_case(named))
    {
        return Some(named.len());
    }
    let body = rest.strip_prefix(b"&#")?;
    let (radix, skip) = match body.first() {
        Some(b'x' | b'X') => (16, 1),
        _ => (10, 0),
    };
    let (value, n) = number(&body[skip..], radix, 12);
    if n == 0 || value != u32::from(c) {
        return None;
    }
    let len = 2 + skip + n;
    Some(if body.get(skip + n) == Some(&b';') {
        len + 1
    } else {
        len
    })
}

/// The length of a JSON escape for `c` at the start of `rest` (which
/// starts with a backslash).
fn json_escape(c: char, rest: &[u8]) -> Option<usize> {
    if matches!(c, '"' | '\\' | '/') && rest.get(1) == Some(&(c as u8)) {
        return Some(2);
    }
    let mut units = [0u16; 2];
    let mut len = 0;
    for &unit in c.encode_utf16(&mut units).iter() {
        let esc = rest.get(len..)?;
        if esc.get(..2) != Some(b"\\u") || number(&esc[2..], 16, 4) != (u32::from(unit), 4) {
            return None;
        }
        len += 6;
    }
    Some(len)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The service endpoint, checked: `https://` (or `http://` when allowed),
/// a host name, an optional port and path; no user info, query or fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    url: String,
    host: String,
    port: u16,
    tls: bool,
}

impl Server {
    /// Parses and checks a server URL. `allow_http` admits `http://`.
    pub fn parse(url: &str, allow_http: bool) -> Result<Server, InputError> {
        let bad = |why: &str| InputError::new("server", format!("{url:?} {why}"));
        if url.len() > 1024 {
            return Err(InputError::new("server", "is longer than 1024 characters"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains spaces or control characters"));
        }
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            if !allow_http {
                return Err(bad(
                    "is plain HTTP, which sends the password in clear text; use https:// or set allow_http",
                ));
            }
            (false, rest)
        } else {
            return Err(bad(
                "must start with https://, or http:// if you set allow_http",
            ));
        };
        if rest.contains(['?', '#']) {
            return Err(bad(
                "must not have a query or fragment: the client adds the query",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("must not carry a user name or password"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("has a port that is not a number from 1 to 65535"))?;
                (host, port)
            }
            None => (authority, if tls { 443 } else { 80 }),
        };
        let is_ipv4 = host.parse::<Ipv4Addr>().is_ok();
        if !is_ipv4 && !is_host_name(host, 1) {
            return Err(bad("does not name a valid host"));
        }
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("has a path with characters that must be encoded"));
        }
        let url = format!(
            "{}://{}{}",
            if tls { "https" } else { "http" },
            authority,
            path
        );
        Ok(Server {
            url,
            host: host.to_ascii_lowercase(),
            port,
            tls,
        })
    }

    /// The URL without query.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host name (lower case), part of the rate guard's key.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server is reached over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

/// Every field the update request carries, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFields {
    /// Account e-mail address, or one dynamic domain on the account.
    pub username: String,
    /// Account password.
    pub password: Secret,
    /// Heartbeats on (`true`) or off; always sent.
    pub hb: bool,
    /// The address to register.
    pub ip: Ipv4Addr,
    /// Offline redirect in a hidden frame.
    pub stealth: Option<bool>,
    /// Port of the user's web site when the ISP blocks 80 (never 80).
    pub port: Option<u16>,
    /// Where visitors go while the host is offline.
    pub offline_url: Option<String>,
    /// What visitors see while the host is offline.
    pub offline_text: Option<String>,
    /// An MX host name ending in a period.
    pub mx: Option<String>,
}

/// Upper bound on `offline_text`, in bytes.
pub const MAX_OFFLINE_TEXT: usize = 512;
/// Upper bound on `offline_url`, in bytes.
pub const MAX_OFFLINE_URL: usize = 2048;
/// Upper bound on the password, in bytes.
pub const MAX_PASSWORD: usize = 256;

impl UpdateFields {
    /// Checks every field; the first problem found names its field.
    pub fn validate(&self, allow_private: bool) -> Result<(), InputError> {
        check_username(&self.username)?;
        check_password(self.password.expose())?;
        addr::check_registrable(self.ip, allow_private)
            .map_err(|why| InputError::new("ip", why))?;
        if let Some(port) = self.port {
            check_port(port)?;
        }
        if let Some(url) = &self.offline_url {
            check_offline_url(url)?;
        }
        if let Some(text) = &self.offline_text {
            check_offline_text(text)?;
        }
        if let Some(mx) = &self.mx {
            check_mx(mx)?;
        }
        Ok(())
    }
}

/// Checks a user name: an e-mail address or a dynamic domain name.
pub fn check_username(username: &str) -> Result<(), InputError> {
    let field = "username";
    if username.is_empty() {
        return Err(InputError::new(field, "is missing"));
    }
    if username.len() > 254 {
        return Err(InputError::new(field, "is longer than 254 characters"));
    }
    if username
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(InputError::new(
            field,
            "contains spaces or control characters",
        ));
    }
    let valid = match username.rsplit_once('@') {
        Some((local, domain)) => is_email_local_part(local) && is_host_name(domain, 2),
        None => is_host_name(username, 2),
    };
    if valid {
        Ok(())
    } else {
        Err(InputError::new(
            field,
            format!("{username:?} is neither an e-mail address nor a domain name"),
        ))
    }
}

/// Checks a password: present, bounded, no control characters.
pub fn check_password(password: &str) -> Result<(), InputError> {
    let field = "password";
    if password.is_empty() {
        return Err(InputError::new(field, "is missing"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(InputError::new(
            field,
            format!("is longer than {MAX_PASSWORD} bytes"),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(InputError::new(
            field,
            "contains a control character (a stray newline or tab?)",
        ));
    }
    Ok(())
}

/// Checks the web-site port: 1 to 65535 and not 80.
pub fn check_port(port: u16) -> Result<(), InputError> {
    match port {
        0 => Err(InputError::new("port", "must be from 1 to 65535")),
        80 => Err(InputError::new(
            "port",
            "must not be 80: the service says to leave the option out when the site is on port 80",
        )),
        _ => Ok(()),
    }
}

/// Checks the offline URL: a full http:// or https:// URL.
pub fn check_offline_url(url: &str) -> Result<(), InputError> {
    let field = "offline_url";
    if url.len() > MAX_OFFLINE_URL {
        return Err(InputError::new(
            field,
            format!("is longer than {MAX_OFFLINE_URL} bytes"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(InputError::new(
            field,
            "contains spaces or control characters",
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            InputError::new(
                field,
                format!("{url:?} must be a full URL starting with http:// or https://"),
            )
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => host,
    };
    if host.parse::<Ipv4Addr>().is_ok() || is_host_name(host, 1) {
        Ok(())
    } else {
        Err(InputError::new(
            field,
            format!("{url:?} does not name a valid host"),
        ))
    }
}

/// Checks the offline text: printable, at most [`MAX_OFFLINE_TEXT`] bytes.
pub fn check_offline_text(text: &str) -> Result<(), InputError> {
    let field = "offline_text";
    if text.len() > MAX_OFFLINE_TEXT {
        return Err(InputError::new(
            field,
            format!("is longer than {MAX_OFFLINE_TEXT} bytes"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(InputError::new(field, "contains control characters"));
    }
    Ok(())
}

/// Checks an MX host: a fully qualified name ending in a period.
pub fn check_mx(mx: &str) -> Result<(), InputError> {
    let field = "mx";
    let Some(name) = mx.strip_suffix('.') else {
        return Err(InputError::new(
            field,
            format!("{mx:?} must be a fully qualified host name ending in a period, e.g. mail.example.com."),
        ));
    };
    if is_host_name(name, 2) {
        Ok(())
    } else {
        Err(InputError::new(
            field,
            format!("{mx:?} is not a valid host name"),
        ))
    }
}

/// Whether `name` is a DNS host name with at least `min_labels` labels:
/// letters, digits and inner hyphens (underscores allowed), 1–63 per label,
/// 253 in all, and a last label that is not all digits.
pub fn is_host_name(name: &str, min_labels: usize) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < min_labels {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    labels.iter().all(label_ok)
        && !labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

fn is_email_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
}

/// Percent-encodes `value`: RFC 3986 unreserved characters stay, every
/// other byte becomes `%XX` (upper-case hex).
pub fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// Decodes `%XX` escapes (and nothing else). `None` on a bad escape or
/// bytes that are not UTF-8.
pub fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One request, ready to send: the full URL (which holds the password) and
/// the User-Agent. `Debug` shows the URL with the password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    url: String,
    masked_url: String,
    user_agent: String,
}

impl Request {
    /// The URL to GET, password included: hand it to the transport only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with `pass=***`, safe to print.
    pub fn masked_url(&self) -> &str {
        &self.masked_url
    }

    /// The User-Agent header value.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("url", &self.masked_url)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// The query parameters in the order they are sent.
pub fn query_pairs(fields: &UpdateFields) -> Vec<(&'static str, String)> {
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut pairs = vec![
        ("email", fields.username.clone()),
        ("pass", fields.password.expose().to_string()),
        ("hb", flag(fields.hb)),
        ("ip", fields.ip.to_string()),
    ];
    if let Some(stealth) = fields.stealth {
        pairs.push(("stealth", flag(stealth)));
    }
    if let Some(port) = fields.port {
        pairs.push(("port", port.to_string()));
    }
    if let Some(url) = &fields.offline_url {
        pairs.push(("offlineurl", url.clone()));
    }
    if let Some(text) = &fields.offline_text {
        pairs.push(("offlinetext", text.clone()));
    }
    if let Some(mx) = &fields.mx {
        pairs.push(("mx", mx.clone()));
    }
    pairs
}

/// Builds the request for validated `fields`. Call
/// [`UpdateFields::validate`] first: `build` does not check again.
pub fn build(server: &Server, fields: &UpdateFields) -> Request {
    let mut url = String::with_capacity(256);
    let mut masked = String::with_capacity(256);
    url.push_str(server.url());
    masked.push_str(server.url());
    for (i, (name, value)) in query_pairs(fields).into_iter().enumerate() {
        let sep = if i == 0 { '?' } else { '&' };
        url.push(sep);
        masked.push(sep);
        url.push_str(name);
        masked.push_str(name);
        url.push('=');
        masked.push('=');
        url.push_str(&percent_encode(&value));
        if name == "pass" {
            masked.push_str("***");
        } else {
            masked.push_str(&percent_encode(&value));
        }
    }
    Request {
        url,
        masked_url: masked,
        user_agent: user_agent(),
    }
}

/// Splits a query string (without `?`) into decoded name/value pairs.
/// `None` if any part is malformed.
pub fn decode_query(query: &str) -> Option<Vec<(String, String)>> {
    if query.is_empty() {
        return Some(Vec::new());
    }
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// Reads `UpdateFields` back from decoded query pairs (the inverse of
/// [`query_pairs`]); `None` when a parameter is missing, repeated or odd.
pub fn fields_from_pairs(pairs: &[(String, String)]) -> Option<UpdateFields> {
    let mut fields = UpdateFields {
        username: String::new(),
        password: Secret::new(""),
        hb: false,
        ip: Ipv4Addr::UNSPECIFIED,
        stealth: None,
        port: None,
        offline_url: None,
        offline_text: None,
        mx: None,
    };
    let flag = |v: &str| match v {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    };
    let mut seen = Vec::new();
    for (name, value) in pairs {
        if seen.contains(name) {
            return None;
        }
        seen.push(name.clone());
        match name.as_str() {
            "email" => fields.username = value.clone(),
            "pass" => fields.password = Secret::new(value.clone()),
            "hb" => fields.hb = flag(value)?,
            "ip" => fields.ip = value.parse().ok()?,
            "stealth" => fields.stealth = Some(flag(value)?),
            "port" => fields.port = Some(value.parse().ok()?),
            "offlineurl" => fields.offline_url = Some(value.clone()),
            "offlinetext" => fields.offline_text = Some(value.clone()),
            "mx" => fields.mx = Some(value.clone()),
            _ => return None,
        }
    }
    let required = ["email", "pass", "hb", "ip"];
    required
        .iter()
        .all(|r| seen.iter().any(|s| s == r))
        .then_some(fields)
}

#[cfg(test)]
mod tests;
