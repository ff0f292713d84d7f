//! The fields an update request carries ([`UpdateFields`]) and the rules
//! each must meet before a request may be built: the user name, password,
//! address, port, offline URL and text, and MX host, checked against the
//! service's protocol page. Pure; every refusal names the field.

use std::net::Ipv4Addr;

use crate::addr;
use crate::error::InputError;

use super::Secret;

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
