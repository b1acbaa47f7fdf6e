//! Which root certificates the SDK's HTTPS client trusts, and how they are
//! loaded.
//!
//! Every AWS endpoint the functions call (SSM, DynamoDB, EventBridge)
//! presents a certificate that chains to one of five roots, which Amazon
//! Trust Services asks custom trust stores to hold (`amazon-roots.pem` says
//! where from). So by default the functions trust those five, compiled in:
//! nothing to read, 5 certificates to decode where the system bundle has
//! ~145. Decoding the system bundle was the largest piece of init our
//! process still added (0.5–0.7 ms of CPU per cold start, `init_probe`'s
//! `tls_roots_pem_repeated`), and it trusted 140 CAs that have no business
//! vouching for `amazonaws.com`. `TLS_ROOTS=system` brings the system bundle
//! back (a TLS-inspecting proxy, an endpoint of your own); in the China
//! partition (`cn-*` regions, run apart from AWS's other regions) it is the
//! default.
//!
//! The operator's `SSL_CERT_FILE` or `SSL_CERT_DIR` always wins, with its
//! usual meaning (that file, or the SDK's discovery with that directory).
//!
//! The system bundle is read as one file. The SDK's default
//! (rustls-native-certs) reads the bundle file *and* every file of the
//! system CA directory: ~290 entries on Debian/Ubuntu, the bundle again plus
//! its `TRUSTED CERTIFICATE` variant on Amazon Linux 2023 (issue 5). It reads
//! only `SSL_CERT_FILE` when that variable is set and `SSL_CERT_DIR` is not,
//! so with `TLS_ROOTS=system` and neither variable set `main` sets
//! `SSL_CERT_FILE` to the bundle file the default would have read first
//! (OpenSSL's usual locations, found with `openssl-probe`), and the SDK's own
//! loader does the rest: one parse of one file, certificates it cannot parse
//! skipped and logged by the SDK (no panic path).
//!
//! The compiled-in roots go to the SDK as PEM (`TrustStore`), which it
//! decodes with `expect`s at each connector it builds; they are a constant,
//! and the tests below decode them the same way.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::{TlsContext, TrustStore};

use crate::startup::config::{ConfigError, err};

const CERT_FILE: &str = "SSL_CERT_FILE";
const CERT_DIR: &str = "SSL_CERT_DIR";

/// The five roots of Amazon Trust Services, PEM.
pub const AMAZON_ROOTS_PEM: &str = include_str!("amazon-roots.pem");

/// `TLS_ROOTS`: what the AWS calls trust when the operator set neither
/// `SSL_CERT_FILE` nor `SSL_CERT_DIR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// The five Amazon Trust Services roots, compiled in.
    Amazon,
    /// The system's CA bundle.
    System,
}

/// `TLS_ROOTS` (`amazon` or `system`, any case); unset, `amazon`, except in
/// the China partition (`AWS_REGION` `cn-*`), whose endpoints this service
/// has not been run against.
pub fn tls_roots(get: &impl Fn(&str) -> Option<String>) -> Result<TlsRoots, ConfigError> {
    let value = get("TLS_ROOTS").unwrap_or_default();
    match value.trim().to_ascii_lowercase().as_str() {
        "amazon" => Ok(TlsRoots::Amazon),
        "system" => Ok(TlsRoots::System),
        "" if get("AWS_REGION").is_some_and(|r| r.trim().starts_with("cn-")) => {
            Ok(TlsRoots::System)
        }
        "" => Ok(TlsRoots::Amazon),
        _ => Err(err(
            "TLS_ROOTS",
            format!("must be amazon or system, got `{}`", value.trim()),
        )),
    }
}

/// Where the SDK's HTTPS client will take its roots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The compiled-in Amazon Trust Services roots.
    Amazon,
    /// One bundle file: `SSL_CERT_FILE` as the operator set it, or as `main`
    /// set it (`selected`).
    File { path: PathBuf, selected: bool },
    /// The SDK's default discovery, for the reason given.
    Default(&'static str),
}

/// The decision, from the two variables, `TLS_ROOTS` and the bundle file
/// `probe` finds (pure; `select` applies it).
pub fn choose(
    cert_file: Option<&OsStr>,
    cert_dir: Option<&OsStr>,
    wanted: TlsRoots,
    probe: impl FnOnce() -> Option<PathBuf>,
) -> Roots {
    match (cert_file, cert_dir, wanted) {
        (_, Some(_), _) => Roots::Default("SSL_CERT_DIR is set"),
        (Some(file), None, _) => Roots::File {
            path: PathBuf::from(file),
            selected: false,
        },
        (None, None, TlsRoots::Amazon) => Roots::Amazon,
        (None, None, TlsRoots::System) => match probe() {
            Some(path) => Roots::File {
                path,
                selected: true,
            },
            None => Roots::Default("no CA bundle file found"),
        },
    }
}

/// Applies `choose` to this process: sets `SSL_CERT_FILE` when it selects a
/// file. Logs where the roots come from (a path or a reason, nothing else).
///
/// # Safety
///
/// Must be called while the process has a single thread (in `main`, before
/// the tokio runtime): it may change the environment, which another thread
/// could be reading.
pub unsafe fn select(wanted: TlsRoots) -> Roots {
    let file = std::env::var_os(CERT_FILE);
    let dir = std::env::var_os(CERT_DIR);
    let roots = choose(file.as_deref(), dir.as_deref(), wanted, || {
        openssl_probe::probe().cert_file
    });
    match &roots {
        Roots::Amazon => {
            tracing::debug!("TLS roots: the five Amazon Trust Services roots, compiled in");
        }
        Roots::File { path, selected } => {
            if *selected {
                // SAFETY: single-threaded, per this function's contract.
                unsafe { std::env::set_var(CERT_FILE, path) };
            }
            // Read back: what the SDK's loader will see, not what we meant.
            let bundle = std::env::var_os(CERT_FILE).unwrap_or_default();
            tracing::debug!(bundle = %Path::new(&bundle).display(), selected, "TLS roots from one CA bundle");
        }
        Roots::Default(why) => {
            tracing::info!(reason = why, "TLS roots from the SDK's default discovery");
        }
    }
    roots
}

/// The SDK's TLS context for `wanted`, as `select` decided it (read again
/// from the environment, which `select` may have set: no side effect here,
/// so the tests and the admin tool, which call no `select`, get the same).
pub fn context(wanted: TlsRoots) -> TlsContext {
    let file = std::env::var_os(CERT_FILE);
    let dir = std::env::var_os(CERT_DIR);
    match choose(file.as_deref(), dir.as_deref(), wanted, || None) {
        Roots::Amazon => amazon_context(),
        // The SDK's native loading, which reads SSL_CERT_FILE/SSL_CERT_DIR.
        Roots::File { .. } | Roots::Default(_) => TlsContext::default(),
    }
}

fn amazon_context() -> TlsContext {
    let store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
    // `build` cannot fail in aws-smithy-http-client 1.5 (it only moves
    // fields); should a later version refuse, the system's roots beat no
    // connection at all.
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "compiled-in TLS roots refused; using the system's");
            TlsContext::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    fn found() -> Option<PathBuf> {
        Some(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"))
    }

    fn not_probed() -> Option<PathBuf> {
        panic!("not probed")
    }

    fn roots_var(pairs: &[(&str, &str)]) -> Result<TlsRoots, ConfigError> {
        tls_roots(&|k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn tls_roots_is_amazon_unless_asked_or_in_china() {
        assert_eq!(roots_var(&[]).ok(), Some(TlsRoots::Amazon));
        assert_eq!(
            roots_var(&[("AWS_REGION", "eu-west-1")]).ok(),
            Some(TlsRoots::Amazon)
        );
        assert_eq!(
            roots_var(&[("AWS_REGION", "cn-north-1")]).ok(),
            Some(TlsRoots::System)
        );
        assert_eq!(
            roots_var(&[("TLS_ROOTS", " System ")]).ok(),
            Some(TlsRoots::System)
        );
        assert_eq!(
            roots_var(&[("TLS_ROOTS", "amazon"), ("AWS_REGION", "cn-north-1")]).ok(),
            Some(TlsRoots::Amazon)
        );
        let e = roots_var(&[("TLS_ROOTS", "mozilla")]).expect_err("refused");
        assert_eq!(e.var, "TLS_ROOTS");
        assert!(e.problem.contains("`mozilla`"), "{}", e.problem);
    }

    #[test]
    fn with_neither_variable_tls_roots_decides() {
        assert_eq!(
            choose(None, None, TlsRoots::Amazon, not_probed),
            Roots::Amazon
        );
        assert_eq!(
            choose(None, None, TlsRoots::System, found),
            Roots::File {
                path: "/etc/pki/tls/certs/ca-bundle.crt".into(),
                selected: true
            }
        );
        assert_eq!(
            choose(None, None, TlsRoots::System, || None),
            Roots::Default("no CA bundle file found")
        );
    }

    #[test]
    fn a_file_the_operator_set_is_used_as_it_is() {
        for wanted in [TlsRoots::Amazon, TlsRoots::System] {
            assert_eq!(
                choose(Some(OsStr::new("/opt/ca.pem")), None, wanted, not_probed),
                Roots::File {
                    path: "/opt/ca.pem".into(),
                    selected: false
                }
            );
        }
    }

    #[test]
    fn a_directory_the_operator_set_leaves_the_choice_to_the_sdk() {
        for file in [None, Some(OsStr::new("/opt/ca.pem"))] {
            for wanted in [TlsRoots::Amazon, TlsRoots::System] {
                assert_eq!(
                    choose(file, Some(OsStr::new("/etc/ssl/certs")), wanted, found),
                    Roots::Default("SSL_CERT_DIR is set")
                );
            }
        }
    }

    /// DER of a SEQUENCE around `value` (what the trust anchor keeps of the
    /// SubjectPublicKeyInfo is the SEQUENCE's contents).
    fn sequence(value: &[u8]) -> Vec<u8> {
        let len = value.len();
        let mut der = vec![0x30];
        match len {
            0..=0x7f => der.push(len as u8),
            0x80..=0xff => der.extend([0x81, len as u8]),
            _ => der.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        der.extend_from_slice(value);
        der
    }

    /// The compiled-in PEM decodes as the SDK decodes it (pem_slice_iter,
    /// then `RootCertStore::add`, each behind an `expect` there), into the
    /// five roots whose key hashes Amazon Trust Services publishes.
    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services_five() {
        let ders = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("valid PEM");
        let mut store = rustls::RootCertStore::empty();
        for der in ders {
            store.add(der).expect("a parsable root");
        }
        let hashes: Vec<String> = store
            .roots
            .iter()
            .map(|anchor| {
                let spki = sequence(anchor.subject_public_key_info.as_ref());
                Sha256::digest(spki)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        // https://www.amazontrust.com/repository/ (Root CAs, "SHA-256 Hash
        // of Subject Public Key Information"), Amazon Root CA 1-4, Starfield
        // Services Root Certificate Authority - G2.
        assert_eq!(
            hashes,
            [
                "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2",
                "7f4296fc5b6a4e3b35d3c369623e364ab1af381d8fa7121533c9d6c633ea2461",
                "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9",
                "f7ecded5c66047d28ed6466b543c40e0743abe81d109254dcf845d4c2c7853c5",
                "2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92",
            ]
        );
    }
}
