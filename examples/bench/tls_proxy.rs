//! TLS in front of the local stack (issue 18): on AWS every SSM and DynamoDB
//! call of a cold start pays a TLS handshake and every request pays the
//! encryption; DynamoDB Local and moto speak plain HTTP. So the bench
//! terminates TLS on loopback with a throwaway CA (made with the `openssl`
//! CLI, RSA 2048 like the certificates AWS endpoints present) and forwards
//! the bytes to the plain endpoint.
//!
//! The function trusts the CA through `SSL_CERT_FILE`, pointed at Amazon's
//! five roots (the ones it trusts on Lambda by default, `TLS_ROOTS`) with
//! the CA appended: the same roots to decode as in Lambda, plus one. A
//! `--compare` build from before `TLS_ROOTS` decoded the system bundle there;
//! `--compare-roots system` gives it the system bundle with the CA appended.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::Res;

/// The files of the throwaway CA.
pub(crate) struct Certs {
    /// Amazon's roots + the CA: what `SSL_CERT_FILE` points at.
    pub(crate) bundle: PathBuf,
    /// The system bundle + the CA (`--compare-roots system`).
    pub(crate) system_bundle: PathBuf,
    leaf: PathBuf,
    key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) -> Res<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("openssl (needed for the TLS rows): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Makes a CA and a leaf for 127.0.0.1 / localhost in `dir` (sync: runs
/// before the runtime, so that `SSL_CERT_FILE` can be set single-threaded).
pub(crate) fn make_certs(dir: &Path) -> Res<Certs> {
    std::fs::create_dir_all(dir)?;
    let days = "2";
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            days,
            "-subj",
            "/CN=customers-api bench throwaway CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    )?;
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
        dir,
    )?;
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            days,
            "-extfile",
            "leaf.ext",
        ],
        dir,
    )?;
    let system = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default();
    let ca = std::fs::read_to_string(dir.join("ca.pem"))?;
    let bundle = dir.join("bundle.pem");
    std::fs::write(
        &bundle,
        format!("{}\n{ca}", customers_api::startup::tls::AMAZON_ROOTS_PEM),
    )?;
    let system_bundle = dir.join("system-bundle.pem");
    std::fs::write(&system_bundle, format!("{system}\n{ca}"))?;
    Ok(Certs {
        bundle,
        system_bundle,
        leaf: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    })
}

/// What the proxy saw of the handshakes.
#[derive(Debug, Default)]
pub(crate) struct HandshakeStats {
    pub(crate) full: AtomicU64,
    pub(crate) resumed: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// "TLSv1_3 X25519MLKEM768 TLS13_AES_128_GCM_SHA256" → count.
    pub(crate) kinds: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl HandshakeStats {
    pub(crate) fn summary(&self) -> String {
        let kinds = self.kinds.lock().map(|k| k.clone()).unwrap_or_default();
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        format!(
            "{} full, {} resumed, {} failed; {}",
            self.full.load(Ordering::Relaxed),
            self.resumed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            kinds.join(", ")
        )
    }
}

pub(crate) struct Proxy {
    /// `https://127.0.0.1:<port>`.
    pub(crate) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn acceptor(certs: &Certs) -> Res<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(&certs.leaf)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&certs.key)?;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    // BENCH_TLS_KX=x25519: the proxy accepts X25519 alone, as a server
    // without post-quantum key exchange would, to see what the hybrid
    // X25519MLKEM768 that rustls prefers costs the function.
    if std::env::var("BENCH_TLS_KX").as_deref() == Ok("x25519") {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    }
    let provider = Arc::new(provider);
    // rustls' defaults, as a server: TLS 1.3 and 1.2, its key exchange
    // groups in its order, a stateful session cache (no tickets).
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Terminates TLS on a free loopback port and forwards to `upstream` (an
/// `http://host:port` URL).
pub(crate) async fn start(
    acceptor: TlsAcceptor,
    upstream: &str,
    stats: Arc<HandshakeStats>,
) -> Res<Proxy> {
    let up: SocketAddr = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{upstream}: {e}"))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let stats = stats.clone();
            conns.spawn(async move {
                let mut tls = match acceptor.accept(stream).await {
                    Ok(t) => t,
                    Err(_) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                {
                    let (_, conn) = tls.get_ref();
                    if conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                        stats.resumed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats.full.fetch_add(1, Ordering::Relaxed);
                    }
                    let what = format!(
                        "{:?} {:?} {:?}",
                        conn.protocol_version(),
                        conn.negotiated_key_exchange_group().map(|g| g.name()),
                        conn.negotiated_cipher_suite().map(|s| s.suite())
                    )
                    .replace("Some(", "")
                    .replace(')', "");
                    if let Ok(mut k) = stats.kinds.lock() {
                        *k.entry(what).or_default() += 1;
                    }
                }
                let Ok(mut plain) = TcpStream::connect(up).await else {
                    return;
                };
                let _ = plain.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
            while conns.try_join_next().is_some() {}
        }
    });
    Ok(Proxy {
        url: format!("https://{addr}"),
        task,
    })
}
