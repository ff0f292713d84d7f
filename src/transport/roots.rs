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

use ureq::tls::{PemItem, RootCerts};

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
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("is not valid PEM: {e}")),
        }
    }
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
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
