//! Which root certificates the SDK's HTTPS client trusts, and how they are
//! loaded.
//!
//! The SDK's default (rustls-native-certs) reads the system CA bundle file
//! *and* every file of the system CA directory. On Debian/Ubuntu that
//! directory holds ~290 entries (hash links to the same certificates), on
//! Amazon Linux 2023 it holds the bundle again plus the `TRUSTED CERTIFICATE`
//! variant: the same roots parsed two to four times, on every cold start,
//! before the first request can go out. `make bench` measured it as the
//! largest piece of init our process adds (issue 5).
//!
//! So we read the one bundle file the default would read first, and nothing
//! else. The SDK parses custom PEM with `expect`s, and a panic aborts the
//! function on every cold start; every certificate is therefore checked first
//! with the same two calls the SDK makes (PEM decoding, then
//! `RootCertStore::add`). Anything unusual (a certificate that does not
//! parse, no bundle, `SSL_CERT_DIR` set) hands the decision back to the SDK's
//! default, unchanged.

use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::TrustStore;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why a bundle's content cannot be handed to the SDK as it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the bundle holds no certificate")]
    Empty,
    #[error("certificate {0} of the bundle is not valid PEM")]
    Pem(usize),
    #[error("certificate {0} of the bundle is not a usable trust anchor")]
    Anchor(usize),
}

/// Counts the certificates of a PEM bundle if, and only if, the SDK would
/// accept every one of them: the same decoding (`pem_slice_iter`) and the
/// same check (`RootCertStore::add`) it applies, without a panic path.
pub fn check_bundle(pem: &[u8]) -> Result<usize, BundleError> {
    let mut roots = RootCertStore::empty();
    let mut n = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|_| BundleError::Pem(i + 1))?;
        roots.add(cert).map_err(|_| BundleError::Anchor(i + 1))?;
        n += 1;
    }
    if n == 0 {
        return Err(BundleError::Empty);
    }
    Ok(n)
}

/// The bundle file the SDK's default would read: `SSL_CERT_FILE` when set,
/// else the first of OpenSSL's usual locations that exists. An error when
/// the default must decide (`SSL_CERT_DIR` names directories to scan, or there
/// is no bundle file).
fn bundle_path() -> Result<PathBuf, &'static str> {
    if std::env::var_os("SSL_CERT_DIR").is_some() {
        return Err("SSL_CERT_DIR is set");
    }
    openssl_probe::probe()
        .cert_file
        .ok_or("no CA bundle file found")
}

/// A trust store of exactly the certificates of one PEM bundle file, and
/// their count; an error (never a panic) when the SDK would refuse one.
pub fn bundle_store(path: &Path) -> Result<(TrustStore, usize), &'static str> {
    let pem = std::fs::read(path).map_err(|_| "the CA bundle file could not be read")?;
    let certs =
        check_bundle(&pem).map_err(|_| "the CA bundle has a certificate the SDK would refuse")?;
    Ok((TrustStore::empty().with_pem_certificate(pem), certs))
}

/// The trust store for the SDK's HTTPS client; logs where it came from
/// (a path or a reason, nothing from the certificates).
pub fn trust_store() -> TrustStore {
    let path = match bundle_path() {
        Ok(p) => p,
        Err(why) => return native(why),
    };
    match bundle_store(&path) {
        Ok((store, certs)) => {
            tracing::debug!(bundle = %path.display(), certs, "TLS roots from one CA bundle");
            store
        }
        Err(why) => native(why),
    }
}

fn native(why: &'static str) -> TrustStore {
    tracing::info!(reason = why, "TLS roots from the SDK's default discovery");
    TrustStore::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A self-signed CA (EC P-256, CN=customers-api test root CA), made with
    // `openssl req -x509`; trusted nowhere, only its shape matters here.
    const ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBnjCCAUWgAwIBAgIUL+JDbffMrsHX2SWxm2+p62Gbl6YwCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwaY3VzdG9tZXJzLWFwaSB0ZXN0IHJvb3QgQ0EwHhcNMjYxMTIz
MTcyMzM4WhcNMzYxMTIwMTcyMzM4WjAlMSMwIQYDVQQDDBpjdXN0b21lcnMtYXBp
IHRlc3Qgcm9vdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDdGJ+NoQyFC
mthmxej9W/tWbnZD5L1yu8nbYwJZ8es4Uy/5dCyzScdU5tRfgSQhIY0jtIxMVyI8
ei4F0jtipOajUzBRMB0GA1UdDgQWBBRYHoPFfuz8hG55C+zlLlbrRhEMSjAfBgNV
HSMEGDAWgBRYHoPFfuz8hG55C+zlLlbrRhEMSjAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0cAMEQCIB3ESQdcfWv1OKOiS+N7VXW777eq7ZAmB4T6WhctoeMz
AiBVj29XBfkXpC2UtHsMgbOJqxLUhVfnvOhuuvIVWQYvGA==
-----END CERTIFICATE-----
";

    #[test]
    fn counts_a_valid_bundle() {
        let two = format!("# comment lines are skipped\n{ROOT}\n{ROOT}");
        assert_eq!(check_bundle(two.as_bytes()), Ok(2));
    }

    #[test]
    fn refuses_what_the_sdk_would_panic_on() {
        assert_eq!(check_bundle(b""), Err(BundleError::Empty));
        assert_eq!(check_bundle(b"not pem at all\n"), Err(BundleError::Empty));
        let broken = ROOT.replace("MIIBnjCC", "MIIBnj!!");
        assert_eq!(
            check_bundle(format!("{ROOT}{broken}").as_bytes()),
            Err(BundleError::Pem(2))
        );
        // Valid PEM, valid base64, but not a certificate.
        let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        assert_eq!(
            check_bundle(format!("{ROOT}{junk}").as_bytes()),
            Err(BundleError::Anchor(2))
        );
    }

    #[test]
    fn other_pem_sections_are_ignored_as_the_sdk_ignores_them() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n";
        assert_eq!(check_bundle(format!("{key}{ROOT}").as_bytes()), Ok(1));
    }
}
