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
//! rustls-native-certs reads only `SSL_CERT_FILE` when that variable is set
//! and `SSL_CERT_DIR` is not. So when neither is set, `main` sets
//! `SSL_CERT_FILE` to the one bundle file the default would have read first
//! (OpenSSL's usual locations, found with `openssl-probe`), and the SDK's own
//! loader does the rest: one parse of one file, certificates it cannot parse
//! skipped and logged by the SDK (no panic path), the same roots as before.
//! An earlier version handed the bundle to the SDK as custom PEM, which the
//! SDK parses with `expect`s; checking it first meant parsing the bundle
//! twice, the largest remaining piece of init (~0.8 ms).
//!
//! A variable the operator set is never overridden: `SSL_CERT_FILE` alone is
//! read as it is, and `SSL_CERT_DIR` (alone or with a file) leaves the choice
//! to the SDK's default.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const CERT_FILE: &str = "SSL_CERT_FILE";
const CERT_DIR: &str = "SSL_CERT_DIR";

/// Where the SDK's HTTPS client will take its roots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// One bundle file: `SSL_CERT_FILE` as the operator set it, or as `main`
    /// set it (`selected`).
    File { path: PathBuf, selected: bool },
    /// The SDK's default discovery, for the reason given.
    Default(&'static str),
}

/// The decision, from the two variables and the bundle file `probe` finds
/// (pure; `select_bundle_file` applies it).
pub fn choose(
    cert_file: Option<&OsStr>,
    cert_dir: Option<&OsStr>,
    probe: impl FnOnce() -> Option<PathBuf>,
) -> Roots {
    match (cert_file, cert_dir) {
        (_, Some(_)) => Roots::Default("SSL_CERT_DIR is set"),
        (Some(file), None) => Roots::File {
            path: PathBuf::from(file),
            selected: false,
        },
        (None, None) => match probe() {
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
/// Must be called while the process has a single thread (first thing in
/// `main`, before the tokio runtime): it may change the environment, which
/// another thread could be reading.
pub unsafe fn select_bundle_file() -> Roots {
    let file = std::env::var_os(CERT_FILE);
    let dir = std::env::var_os(CERT_DIR);
    let roots = choose(file.as_deref(), dir.as_deref(), || {
        openssl_probe::probe().cert_file
    });
    match &roots {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Option<PathBuf> {
        Some(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"))
    }

    #[test]
    fn with_neither_variable_the_probed_file_is_selected() {
        assert_eq!(
            choose(None, None, found),
            Roots::File {
                path: "/etc/pki/tls/certs/ca-bundle.crt".into(),
                selected: true
            }
        );
        assert_eq!(
            choose(None, None, || None),
            Roots::Default("no CA bundle file found")
        );
    }

    #[test]
    fn a_file_the_operator_set_is_used_as_it_is() {
        let probe = || -> Option<PathBuf> { panic!("not probed when the file is set") };
        assert_eq!(
            choose(Some(OsStr::new("/opt/ca.pem")), None, probe),
            Roots::File {
                path: "/opt/ca.pem".into(),
                selected: false
            }
        );
    }

    #[test]
    fn a_directory_the_operator_set_leaves_the_choice_to_the_sdk() {
        for file in [None, Some(OsStr::new("/opt/ca.pem"))] {
            assert_eq!(
                choose(file, Some(OsStr::new("/etc/ssl/certs")), found),
                Roots::Default("SSL_CERT_DIR is set")
            );
        }
    }
}
