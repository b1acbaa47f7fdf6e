//! The SDK's HTTPS client as `init::https_client` builds it, against a real
//! TLS server on 127.0.0.1: it trusts exactly the bundle it is given
//! (src/tls.rs), with no panic path on a bundle the SDK could not parse.
//! Needs no local stack: the server here answers DescribeTable itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
use customers_api::init;
use customers_api::tls::bundle_store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Serves DescribeTable over TLS with the fixture leaf; counts the requests
/// that got through the handshake.
async fn tls_server() -> (String, Arc<AtomicUsize>) {
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
    let addr = listener.local_addr().expect("addr");
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One request per connection: read the head and the body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"Table":{"TableName":"over-tls","TableStatus":"ACTIVE"}}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), served)
}

/// One DescribeTable through `init::https_client` trusting `bundle`, to a
/// fresh TLS server; the outcome and how many requests reached the server.
async fn describe_over_tls(
    bundle: &str,
) -> (
    Result<DescribeTableOutput, SdkError<DescribeTableError>>,
    usize,
) {
    let (endpoint, served) = tls_server().await;
    let (trust, _) = bundle_store(&fixture(bundle)).expect("the fixture bundle is accepted");
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(init::https_client(trust))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await;
    let out = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name("over-tls")
        .send()
        .await;
    (out, served.load(Ordering::SeqCst))
}

#[tokio::test]
async fn the_bundle_given_is_trusted() {
    let (out, served) = describe_over_tls("ca.pem").await;
    let out = out.unwrap_or_else(|e| panic!("TLS call failed: {}", DisplayErrorContext(&e)));
    assert_eq!(
        out.table().and_then(|t| t.table_name()),
        Some("over-tls"),
        "the answer came from the TLS server"
    );
    assert_eq!(served, 1);
}

#[tokio::test]
async fn a_server_outside_the_bundle_is_refused() {
    let (out, served) = describe_over_tls("other-ca.pem").await;
    let err = out.expect_err("a certificate from an untrusted CA must fail the handshake");
    assert!(
        matches!(err, SdkError::DispatchFailure(_)),
        "refused before any request was sent: {}",
        DisplayErrorContext(&err)
    );
    let text = format!("{}", DisplayErrorContext(&err));
    assert!(
        text.contains("UnknownIssuer"),
        "refused because of the issuer: {text}"
    );
    assert_eq!(served, 0, "no request got through");
}

#[test]
fn a_bundle_the_sdk_would_panic_on_is_reported_not_loaded() {
    let dir = std::env::temp_dir().join(format!("customers-api-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.pem");
    let ca = std::fs::read_to_string(fixture("ca.pem")).expect("ca.pem");
    std::fs::write(
        &bad,
        format!("{ca}-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n"),
    )
    .expect("write");
    let err = bundle_store(&bad).err();
    let missing = bundle_store(&dir.join("absent.pem")).err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        err,
        Some("the CA bundle has a certificate the SDK would refuse")
    );
    assert_eq!(missing, Some("the CA bundle file could not be read"));
    let (_, n) = bundle_store(&fixture("ca.pem")).expect("valid bundle");
    assert_eq!(n, 1);
}
