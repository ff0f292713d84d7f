//! The TLS algorithms the client offers: ring's, pruned to what every
//! server needs.
//!
//! The client makes one short HTTPS request at most every ten minutes, so
//! the speed of a cipher does not matter; its code does, because every byte
//! lands on a router's flash. [`provider`] keeps what any standards-compliant
//! server must accept and drops the rest, which the linker then leaves out
//! (about 100 KB on x86_64, where ring carries assembly for the dropped
//! algorithms; `benches/RESULTS.md` has the figures):
//!
//! - **Ciphers:** AES-GCM only (128 and 256 bits), for TLS 1.3 and 1.2.
//!   TLS 1.3 servers must implement `TLS_AES_128_GCM_SHA256` (RFC 8446,
//!   §9.1); ChaCha20-Poly1305 is left out.
//! - **Key exchange:** P-256 and P-384 (ECDHE). TLS 1.3 servers must
//!   implement secp256r1 (RFC 8446, §9.1), and TLS 1.2 servers that offer
//!   ECDHE all do; X25519 is left out.
//! - **Certificates:** RSA (PKCS#1 and PSS, 2048–8192 bits) and ECDSA P-256
//!   and P-384, every algorithm a public CA signs with. Ed25519 is left out:
//!   no web PKI root or CA uses it. A private CA (`ca_file`) must therefore
//!   use RSA or ECDSA keys.
//! - **Client certificates:** none; the protocol authenticates with the
//!   password, so no signing code is linked.

#![forbid(unsafe_code)]

use std::sync::Arc;

use rustls::crypto::ring::{cipher_suite, kx_group};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom};
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::SigningKey;
use rustls::SignatureScheme;
use webpki::ring as alg;

/// The crypto provider every HTTPS connection uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &SystemRandom,
        key_provider: &NoClientKeys,
    })
}

/// Signature algorithms accepted in certificates and handshakes.
static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::ECDSA_P256_SHA384,
        alg::ECDSA_P384_SHA256,
        alg::ECDSA_P384_SHA384,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
        alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        ),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[alg::RSA_PKCS1_2048_8192_SHA512],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[alg::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[alg::RSA_PKCS1_2048_8192_SHA256],
        ),
    ],
};

/// Randomness from the kernel's `getrandom(2)`, through the same crate
/// ring uses for its own keys.
#[derive(Debug)]
struct SystemRandom;

impl SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        getrandom::getrandom(buf).map_err(|_| GetRandomFailed)
    }
}

/// Refuses every private key: the client never presents a certificate.
#[derive(Debug)]
struct NoClientKeys;

impl KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_only_aes_gcm_and_nist_curves() {
        let p = provider();
        let suites: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(suites.len(), 6);
        assert!(suites.iter().all(|s| s.contains("AES_")), "{suites:?}");
        let groups: Vec<String> = p
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        assert_eq!(groups, ["secp256r1", "secp384r1"]);
        assert!(p
            .signature_verification_algorithms
            .supported_schemes()
            .iter()
            .all(|s| *s != SignatureScheme::ED25519));
    }

    #[test]
    fn random_fills_the_buffer() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        SystemRandom.fill(&mut a).unwrap();
        SystemRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn client_keys_are_refused() {
        let err = NoClientKeys
            .load_private_key(PrivateKeyDer::Pkcs8(vec![0x30, 0].into()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("client certificates"));
    }

    #[test]
    fn provider_is_consistent_for_rustls() {
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap();
    }
}
