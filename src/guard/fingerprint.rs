//! What the guard compares besides times: the key of a record (a server
//! host or user name, letter case and a trailing dot aside), stable
//! fingerprints of the credentials and of the request options, so a
//! changed password may retry after a rejection and changed options are
//! sent again, and the hash that tells one boot from another. Pure, and
//! stable across releases (FNV-1a).

use crate::request::UpdateFields;

/// The guard key for a server host name or a user name: letter case and a
/// trailing dot do not make another account or host.
pub fn key_part(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Whether two names are one guard key (see [`key_part`]), without
/// allocating.
pub fn same_key(a: &str, b: &str) -> bool {
    a.strip_suffix('.')
        .unwrap_or(a)
        .eq_ignore_ascii_case(b.strip_suffix('.').unwrap_or(b))
}

/// A 16-bit fingerprint of the credentials, so a changed password may retry
/// after a rejection. Sixteen bits tell a change apart, yet say next to
/// nothing about the password itself (FNV-1a, stable across releases).
pub fn credential_fingerprint(server_host: &str, username: &str, password: &str) -> u16 {
    let (host, user) = (key_part(server_host), key_part(username));
    let hash = fnv1a(&[
        b"mtgsy-ddns",
        host.as_bytes(),
        user.as_bytes(),
        password.as_bytes(),
    ]);
    (hash ^ (hash >> 16) ^ (hash >> 32) ^ (hash >> 48)) as u16
}

/// A 32-bit fingerprint of the request options that a registration carries
/// besides the address: `hb`, `stealth`, `port`, `offline_url`,
/// `offline_text`, `mx`. Not the user name or password; stable across
/// releases (FNV-1a), so a change of any option is told apart.
pub fn options_fingerprint(fields: &UpdateFields) -> u32 {
    let flag = |b: Option<bool>| -> &'static [u8] {
        match b {
            None => b"-",
            Some(true) => b"1",
            Some(false) => b"0",
        }
    };
    // An unset option and a set one never hash alike: a set one starts
    // with '=' (and a 0 byte ends every part).
    let port = fields.port.map_or([0; 3], |p| {
        let [hi, lo] = p.to_be_bytes();
        [b'=', hi, lo]
    });
    fn text(s: &Option<String>) -> [&[u8]; 2] {
        match s {
            None => [b"-", b""],
            Some(s) => [b"=", s.as_bytes()],
        }
    }
    let [url_tag, url] = text(&fields.offline_url);
    let [text_tag, offline_text] = text(&fields.offline_text);
    let [mx_tag, mx] = text(&fields.mx);
    let hash = fnv1a(&[
        b"options-v1",
        flag(Some(fields.hb)),
        flag(fields.stealth),
        &port,
        url_tag,
        url,
        text_tag,
        offline_text,
        mx_tag,
        mx,
    ]);
    (hash ^ (hash >> 32)) as u32
}

/// The hash of a boot id (Linux `/proc/sys/kernel/random/boot_id`, or
/// any text naming a boot), white space around it aside: two readings of
/// the boot clock are of one boot when their hashes are equal.
pub fn boot_id_hash(id: &str) -> u64 {
    fnv1a(&[b"boot", id.trim().as_bytes()])
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0u8]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn key_ignores_case_and_a_trailing_dot() {
        assert_eq!(key_part("Home.Example.COM."), "home.example.com");
        assert_eq!(key_part("Alice@Example.com"), "alice@example.com");
        assert_eq!(
            credential_fingerprint("WWW.mtgsy.net.", "Alice@Example.com", "pw"),
            credential_fingerprint("www.mtgsy.net", "alice@example.com", "pw")
        );
    }

    #[test]
    fn fingerprint_tells_passwords_apart() {
        let a = credential_fingerprint("www.mtgsy.net", "u@example.com", "one");
        assert_eq!(
            a,
            credential_fingerprint("www.mtgsy.net", "u@example.com", "one")
        );
        assert_ne!(
            a,
            credential_fingerprint("www.mtgsy.net", "u@example.com", "two")
        );
    }

    #[test]
    fn options_fingerprint_sees_every_option() {
        let base = || crate::request::UpdateFields {
            username: "u@example.com".into(),
            password: crate::request::Secret::new("pw"),
            hb: false,
            ip: ip("1.2.3.4"),
            stealth: None,
            port: None,
            offline_url: None,
            offline_text: None,
            mx: None,
        };
        let f0 = options_fingerprint(&base());
        let mut variants = vec![];
        let mut v = base();
        v.hb = true;
        variants.push(v);
        let mut v = base();
        v.stealth = Some(false);
        variants.push(v);
        let mut v = base();
        v.stealth = Some(true);
        variants.push(v);
        let mut v = base();
        v.port = Some(8080);
        variants.push(v);
        let mut v = base();
        v.offline_url = Some("https://example.com/".into());
        variants.push(v);
        let mut v = base();
        v.offline_text = Some(String::new());
        variants.push(v);
        let mut v = base();
        v.mx = Some("mail.example.com.".into());
        variants.push(v);
        let mut seen = vec![f0];
        for v in &variants {
            let f = options_fingerprint(v);
            assert!(!seen.contains(&f), "{v:?}");
            seen.push(f);
        }
        // Address, user name and password are not options.
        let mut v = base();
        v.ip = ip("5.6.7.8");
        v.username = "other.example.com".into();
        v.password = crate::request::Secret::new("other");
        assert_eq!(options_fingerprint(&v), f0);
    }
}
