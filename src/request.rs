//! The update request: validated fields and the exact URL sent.
//!
//! Pure: no I/O. [`UpdateFields::validate`] checks every field against the
//! rules in the protocol page before anything can be built (the fields and
//! their rules are in `request/fields.rs`), and [`build`] turns validated
//! fields into the one GET request the service understands, to the checked
//! [`Server`], with the [`user_agent`]. [`decode_query`] and
//! [`fields_from_pairs`] reverse the encoding; tests and fuzzing use them
//! to prove `decode(build(x)) == x`. The password travels as a [`Secret`]
//! (`request/secret.rs`), which also masks it in any text.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;

use crate::error::InputError;

mod fields;
mod secret;

pub use fields::{
    check_mx, check_offline_text, check_offline_url, check_password, check_port, check_username,
    is_host_name, UpdateFields, MAX_OFFLINE_TEXT, MAX_OFFLINE_URL, MAX_PASSWORD,
};
pub use secret::Secret;

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
