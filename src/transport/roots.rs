//! Which certificate authorities HTTPS connections trust.
//!
//! The client carries no roots of its own: it uses the system's CA bundle,
//! the file OpenWrt's `ca-bundle` package (and Debian's `ca-certificates`)
//! installs, or the user's `ca_file`. A bundle kept by the system's
//! packages is updated with them, where roots compiled into a router's
//! binary go stale; and it saves the 54 KB of flash the web PKI roots take
//! in every binary (`benches/RESULTS.md`).
//!
//! [`system_bundle`] finds the bundle: `SSL_CERT_FILE` when set (as
//! OpenSSL and curl honour it), else the first of [`SYSTEM_CA_FILES`] that
//! exists. [`load`] reads a bundle into the roots an agent trusts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::tls::{Certificate, RootCerts};

/// Where systems keep their CA bundle, looked at in this order.
pub const SYSTEM_CA_FILES: [&str; 4] = [
    // OpenWrt's ca-bundle; Debian, Ubuntu, Arch, Gentoo.
    "/etc/ssl/certs/ca-certificates.crt",
    // Fedora, RHEL, CentOS.
    "/etc/pki/tls/certs/ca-bundle.crt",
    // openSUSE.
    "/etc/ssl/ca-bundle.pem",
    // Alpine.
    "/etc/ssl/cert.pem",
];

/// The system's CA bundle: `$SSL_CERT_FILE` when set (it must exist),
/// else the first of [`SYSTEM_CA_FILES`] that is a file. The error says
/// where it looked and what to do.
pub fn system_bundle() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "SSL_CERT_FILE names {}, which is not a file",
                path.display()
            ))
        };
    }
    SYSTEM_CA_FILES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "no system CA bundle was found (looked for {}); install the \
                 ca-bundle package (OpenWrt) or ca-certificates, or set ca_file",
                SYSTEM_CA_FILES.join(", ")
            )
        })
}

/// The certificates in the PEM file `path`, as roots to trust. Fails when
/// the file cannot be read, is not PEM, or holds no certificate.
pub fn load(path: &Path) -> Result<RootCerts, String> {
    let pem = crate::fsio::read_file_capped(path, crate::fsio::MAX_FILE_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    from_pem(&pem).map_err(|why| format!("{} {why}", path.display()))
}

/// The certificates in `pem`; an error says why there are none.
pub(crate) fn from_pem(pem: &[u8]) -> Result<RootCerts, String> {
    let certs = certificates(pem)?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Every `CERTIFICATE` block of `pem`, decoded; other blocks (keys,
/// parameters) and text between blocks are passed over.
///
/// Written here rather than taken from `rustls-pki-types`, whose base64
/// decoder runs in constant time (it is meant for private keys): over a
/// system bundle of some 140 public certificates that cost 7.7 M
/// instructions, half of an HTTPS update. This is one pass over the text
/// into one buffer, with no call per byte (the router build optimises for
/// size, so small helpers stay calls): `benches/RESULTS.md` has the cost.
fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    // Every certificate's DER, one after another; (start, end) of each.
    let mut der = vec![0u8; pem.len() / 4 * 3 + 3];
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(found) = find(&pem[i..], BEGIN) {
        let n = spans.len() + 1;
        let start = spans.last().map_or(0, |&(_, end)| end);
        let (end, stop) = decode_base64(&pem[i + found + BEGIN.len()..], &mut der, start)
            .ok_or_else(|| format!("is not valid PEM: certificate {n} is not base64"))?;
        let after = i + found + BEGIN.len() + stop;
        if !pem[after..].starts_with(END) {
            return Err(format!("is not valid PEM: certificate {n} has no END line"));
        }
        spans.push((start, end));
        i = after + END.len();
    }
    Ok(spans
        .into_iter()
        .map(|(start, end)| Certificate::from_der(&der[start..end]).to_owned())
        .collect())
}

/// Where `needle` (which starts with `-`) first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == needle[0]) {
        let at = from + i;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Marks a byte that is not in the base64 alphabet.
const INVALID: u8 = 0xff;
/// Marks a byte skipped between base64 characters (line breaks, spaces).
const SPACE: u8 = 0xfe;

/// Each byte's value in the standard base64 alphabet, [`SPACE`] or
/// [`INVALID`].
const BASE64: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table[b'\n' as usize] = SPACE;
    table[b'\r' as usize] = SPACE;
    table[b' ' as usize] = SPACE;
    table[b'\t' as usize] = SPACE;
    table
};

/// Decodes standard base64 from the start of `text` into `out` from
/// `at` on, up to the first `-` (or the end): line breaks and spaces
/// ignored, `=` padding only at the end. Returns where the decoded bytes
/// end in `out` and where the text stopped; `None` for any other byte or
/// a wrong length. `out` must hold three bytes for every four characters.
fn decode_base64(text: &[u8], out: &mut [u8], at: usize) -> Option<(usize, usize)> {
    let (mut acc, mut symbols, mut padding, mut k) = (0u32, 0u32, 0u32, at);
    let mut stop = text.len();
    for (i, &b) in text.iter().enumerate() {
        let v = BASE64[usize::from(b)];
        if v < 64 {
            if padding > 0 {
                return None;
            }
            acc = (acc << 6) | u32::from(v);
            symbols += 1;
            if symbols == 4 {
                let [_, x, y, z] = acc.to_be_bytes();
                *out.get_mut(k)? = x;
                *out.get_mut(k + 1)? = y;
                *out.get_mut(k + 2)? = z;
                (acc, symbols, k) = (0, 0, k + 3);
            }
        } else if v == SPACE {
        } else if b == b'=' {
            padding += 1;
        } else if b == b'-' {
            stop = i;
            break;
        } else {
            return None;
        }
    }
    // A final group of 2 or 3 characters is completed by its padding, and
    // its unused low bits are zero.
    match (symbols, padding) {
        (0, 0) => {}
        (2, 2) if acc & 0xf == 0 => {
            *out.get_mut(k)? = (acc >> 4) as u8;
            k += 1;
        }
        (3, 1) if acc & 0x3 == 0 => {
            let [_, _, x, y] = (acc >> 2).to_be_bytes();
            *out.get_mut(k)? = x;
            *out.get_mut(k + 1)? = y;
            k += 2;
        }
        _ => return None,
    }
    Some((k, stop))
}

/// No roots at all: for an agent that only speaks plain HTTP. Any HTTPS
/// connection through it fails verification.
pub fn none() -> RootCerts {
    RootCerts::Specific(Arc::new(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_a_certificate_is_refused() {
        let err = from_pem(b"not pem at all\n").map(|_| ()).unwrap_err();
        assert_eq!(err, "holds no PEM certificate");
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(from_pem(key).is_err());
    }

    #[test]
    fn base64_decodes_as_rfc_4648_says() {
        let d = |s: &str| {
            let mut out = vec![0u8; s.len() / 4 * 3 + 3];
            decode_base64(s.as_bytes(), &mut out, 0).map(|(end, _)| out[..end].to_vec())
        };
        assert_eq!(d(""), Some(vec![]));
        assert_eq!(d("Zg=="), Some(b"f".to_vec()));
        assert_eq!(d("Zm8="), Some(b"fo".to_vec()));
        assert_eq!(d("Zm9v"), Some(b"foo".to_vec()));
        assert_eq!(d("Zm9v\r\nYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(d("+/+/"), Some(vec![0xfb, 0xff, 0xbf]));
        // A `-` ends the text (the END line follows).
        assert_eq!(d("Zm9v\n-----END"), Some(b"foo".to_vec()));
        for bad in [
            "Zg=", "Zg", "Z", "Zm9v!", "Zg==Zg==", "Zh==", "Zm9=", "=Zm9v", "Zm9v=",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_systems_bundle_reads_as_the_pki_types_parser_reads_it() {
        let Ok(path) = system_bundle() else { return };
        let pem = std::fs::read(path).unwrap();
        let ours = certificates(&pem).unwrap();
        let theirs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        assert!(ours.len() > 50, "{}", ours.len());
        assert_eq!(ours.len(), theirs.len());
        assert!(ours.iter().zip(&theirs).all(|(a, b)| a.der() == b.der()));
    }

    #[test]
    fn blocks_other_than_certificates_are_passed_over_and_bad_ones_named() {
        let cert = "-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nYmFy\n-----END PRIVATE KEY-----\n";
        let both = format!("text\n{key}{cert}{cert}");
        let certs = certificates(both.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].der(), b"foo");
        let cut = format!("{cert}-----BEGIN CERTIFICATE-----\nZm9v\n");
        assert_eq!(
            certificates(cut.as_bytes()).map(|c| c.len()),
            Err("is not valid PEM: certificate 2 has no END line".into())
        );
        let bad = "-----BEGIN CERTIFICATE-----\nZm9v!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            certificates(bad.as_bytes()).map(|c| c.len()),
            Err("is not valid PEM: certificate 1 is not base64".into())
        );
    }

    #[test]
    fn the_bundle_looked_for_is_named_in_the_error() {
        // Only meaningful where SSL_CERT_FILE is not set by the caller.
        if std::env::var_os("SSL_CERT_FILE").is_some() {
            return;
        }
        match system_bundle() {
            Ok(path) => assert!(SYSTEM_CA_FILES.contains(&path.to_str().unwrap_or(""))),
            Err(e) => {
                assert!(e.contains("/etc/ssl/certs/ca-certificates.crt"), "{e}");
                assert!(e.contains("ca_file"), "{e}");
            }
        }
    }
}
