//! The function binary's own init against a real TLS server on 127.0.0.1
//! that plays SSM and DynamoDB: it trusts exactly the roots `src/startup/tls.rs`
//! arranges for it (the one bundle file, or by default Amazon's compiled-in
//! roots, which the test CA is not), refuses a server from another CA,
//! survives a bundle with a certificate that does not parse, and signs with
//! the credentials and region `init::sdk_config` finds (the variables, else
//! the profile).
//! Needs no local stack: the server here answers GetParameter and
//! GetItem itself, and a plain listener stands in for the Runtime API,
//! whose first `next` call marks the end of init.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Reads one HTTP/1.1 request (head and body); its head, lowercased.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(text[..end].to_owned());
            }
        }
    }
}

async fn reply<S: AsyncWrite + Unpin>(s: &mut S, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(format!("{head}{body}").as_bytes()).await;
    let _ = s.shutdown().await;
}

/// What reached the fake AWS endpoint through the TLS handshake: the
/// `x-amz-target` of each request and the `Credential=` it was signed with
/// (key id, date, region, service), lowercased.
type Served = Arc<Mutex<Vec<(String, String)>>>;

/// Serves GetParameter (one key set) and GetItem (no item) over TLS with the
/// fixture leaf, signed by `ca.pem`.
async fn aws_over_tls() -> (String, Served) {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .expect("server.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("server.pem parses");
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).expect("server.key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = Served::default();
    let seen = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Some(head) = read_request(&mut tls).await else {
                    return;
                };
                let target = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-amz-target:"))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let credential = head
                    .split("credential=")
                    .nth(1)
                    .and_then(|rest| rest.split(',').next())
                    .unwrap_or("")
                    .to_owned();
                seen.lock()
                    .expect("lock")
                    .push((target.clone(), credential));
                let keys = format!(
                    r#"{{"keys":[{{"id":"k","sha256":"{}","scopes":["customers:read"]}}]}}"#,
                    "ab".repeat(32)
                );
                let body = if target.starts_with("amazonssm.") {
                    serde_json::json!({"Parameter": {"Name": "/tls-test/keys", "Type": "SecureString",
                        "Value": keys, "Version": 1}})
                } else {
                    serde_json::json!({})
                };
                reply(&mut tls, "application/x-amz-json-1.1", &body.to_string()).await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), served)
}

/// A Runtime API that only notes the first `next` call (init is over).
async fn runtime_api() -> (String, tokio::sync::oneshot::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        // Kept open, unanswered: the function waits there for an event.
        let mut open = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            if let Some(head) = read_request(&mut tcp).await
                && head.starts_with("get /2018-06-01/runtime/invocation/next")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
            open.push(tcp);
        }
    });
    (addr.to_string(), rx)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Until the first `next` call, the child's exit, or 30 s.
async fn wait_for_next(
    child: &mut Child,
    mut next: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout(Duration::from_millis(50), &mut next).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_)) => return Err("the Runtime API stopped".into()),
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited: {status}"));
        }
        if tokio::time::Instant::now() > deadline {
            return Err("no `next` call within 30 s".into());
        }
    }
}

struct Init {
    served: Vec<(String, String)>,
    logs: String,
}

impl Init {
    /// The targets that reached the server, sorted.
    fn targets(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.served.iter().map(|(t, _)| t.as_str()).collect();
        t.sort();
        t
    }

    /// No request got through the handshake, and init says so for both
    /// calls (it goes on: requests would answer 503).
    fn assert_refused(&self, why: &str) {
        assert_eq!(self.targets(), Vec::<&str>::new(), "{why}");
        for line in [
            "API keys could not be loaded",
            "DynamoDB table check failed during init",
        ] {
            assert!(has_line(&self.logs, &[line]), "{}", self.logs);
        }
    }

    /// Every request that got through was signed with this key id for this
    /// region (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
    fn assert_signed_with(&self, key: &str, region: &str) {
        for (target, credential) in &self.served {
            let mut scope = credential.split('/');
            assert_eq!(
                (scope.next(), scope.nth(1)),
                (Some(key), Some(region)),
                "{target} signed with {credential}"
            );
        }
    }
}

const BOTH: [&str; 2] = ["amazonssm.getparameter", "dynamodb_20120810.getitem"];

/// Starts the function binary with `vars` added to (or, with `None`, removed
/// from) a Lambda-like environment that has no TLS variable, waits for its
/// first `next` call, and returns what reached the TLS server and what it
/// logged.
async fn init_with(vars: &[(&str, Option<&OsStr>)]) -> Init {
    let (endpoint, served) = aws_over_tls().await;
    let (runtime, next) = runtime_api().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_customers-api"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "customers-api")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "tls-test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/customers-api")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SSM", &endpoint)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
        .env("TABLE_NAME", "over-tls")
        .env("API_KEYS_PARAMETER", "/tls-test/keys")
        .env("RUST_LOG", "customers_api=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = Killed(cmd.spawn().expect("spawn the function binary"));
    let reached = wait_for_next(&mut child.0, next).await;
    let _ = child.0.kill();
    let _ = child.0.wait();
    let mut logs = String::new();
    if let Some(mut out) = child.0.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut logs);
    }
    if let Err(why) = reached {
        panic!("the function never finished init ({why}); its logs:\n{logs}");
    }
    let served = served.lock().expect("lock").clone();
    Init { served, logs }
}

fn has_line(logs: &str, needles: &[&str]) -> bool {
    logs.lines().any(|l| needles.iter().all(|n| l.contains(n)))
}

#[tokio::test]
async fn the_bundle_file_set_is_trusted() {
    let ca = fixture("ca.pem");
    let init = init_with(&[("SSL_CERT_FILE", Some(ca.as_os_str()))]).await;
    assert_eq!(
        init.targets(),
        BOTH,
        "both init calls went through the handshake; logs:\n{}",
        init.logs
    );
    assert!(
        has_line(&init.logs, &["API keys loaded", r#""keys":1"#]),
        "{}",
        init.logs
    );
}

#[tokio::test]
async fn a_server_outside_the_bundle_is_refused() {
    let other = fixture("other-ca.pem");
    let init = init_with(&[("SSL_CERT_FILE", Some(other.as_os_str()))]).await;
    init.assert_refused("no request got through");
}

#[tokio::test]
async fn a_certificate_that_does_not_parse_is_skipped_not_fatal() {
    let dir = std::env::temp_dir().join(format!("customers-api-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad-then-good.pem");
    let ca = std::fs::read_to_string(fixture("ca.pem")).expect("ca.pem");
    // Valid base64 that is no certificate, then bad base64, then the CA.
    std::fs::write(
        &bad,
        format!(
            "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nAA!!\n-----END CERTIFICATE-----\n{ca}"
        ),
    )
    .expect("write");
    let init = init_with(&[("SSL_CERT_FILE", Some(bad.as_os_str()))]).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        init.targets(),
        BOTH,
        "the CA after the broken entries is trusted; logs:\n{}",
        init.logs
    );
}

#[tokio::test]
async fn with_no_variable_only_the_amazon_roots_are_trusted() {
    let init = init_with(&[]).await;
    assert!(
        has_line(
            &init.logs,
            &["the five Amazon Trust Services roots, compiled in"]
        ),
        "{}",
        init.logs
    );
    assert!(
        !init.logs.contains("TLS roots from"),
        "no bundle, no discovery: {}",
        init.logs
    );
    init.assert_refused("the test CA is not Amazon's");
}

#[tokio::test]
async fn with_tls_roots_system_and_no_variable_the_system_bundle_file_is_selected() {
    let init = init_with(&[("TLS_ROOTS", Some(OsStr::new("system")))]).await;
    let line = init
        .logs
        .lines()
        .find(|l| l.contains("TLS roots from one CA bundle"))
        .unwrap_or_else(|| panic!("no roots line; logs:\n{}", init.logs));
    assert!(line.contains(r#""selected":true"#), "{line}");
    let bundle = line
        .split(r#""bundle":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no bundle path: {line}"));
    assert!(Path::new(bundle).is_file(), "{bundle} is a file");
    assert_eq!(
        init.targets(),
        Vec::<&str>::new(),
        "the test CA is in no system bundle"
    );
}

#[tokio::test]
async fn credentials_and_region_come_from_the_environment_when_set() {
    let ca = fixture("ca.pem");
    let init = init_with(&[("SSL_CERT_FILE", Some(ca.as_os_str()))]).await;
    assert_eq!(init.targets(), BOTH, "logs:\n{}", init.logs);
    init.assert_signed_with("local", "us-east-1");
}

#[tokio::test]
async fn without_the_variables_the_default_chains_read_the_profile() {
    let dir = std::env::temp_dir().join(format!("customers-api-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(&config, "[default]\nregion = eu-west-3\n").expect("write");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = profile-key\naws_secret_access_key = profile-secret\n",
    )
    .expect("write");
    let ca = fixture("ca.pem");
    let init = init_with(&[
        ("SSL_CERT_FILE", Some(ca.as_os_str())),
        ("AWS_REGION", None),
        ("AWS_ACCESS_KEY_ID", None),
        ("AWS_SECRET_ACCESS_KEY", None),
        ("AWS_CONFIG_FILE", Some(config.as_os_str())),
        ("AWS_SHARED_CREDENTIALS_FILE", Some(credentials.as_os_str())),
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(init.targets(), BOTH, "logs:\n{}", init.logs);
    init.assert_signed_with("profile-key", "eu-west-3");
}
