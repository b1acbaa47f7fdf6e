//! Dependencies going away and coming back (issue 6): a TCP proxy in front of
//! DynamoDB Local or moto is cut (every connection closed, new ones dropped)
//! and restored. Requests in between answer 503 within the configured SDK
//! timeouts plus one second, and service resumes without a restart.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{READ, TestApp, WRITE};
use customers_api::startup::config::Config;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

const ATTEMPT_MS: u64 = 300;
const OPERATION_MS: u64 = 900;

struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String, up: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(up));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, l) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                l.lock().await.push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_down_gives_fast_503_and_service_resumes() {
    let (ddb_endpoint, _) = common::endpoints();
    let upstream = ddb_endpoint.trim_start_matches("http://").to_owned();
    let proxy = Proxy::start(upstream, true).await;
    let env = |k: &str| match k {
        "TABLE_NAME" | "API_KEYS_PARAMETER" => Some("unused".to_owned()),
        "SDK_ATTEMPT_TIMEOUT_MS" => Some(ATTEMPT_MS.to_string()),
        "SDK_OPERATION_TIMEOUT_MS" => Some(OPERATION_MS.to_string()),
        _ => None,
    };
    let config = Config::from_lookup(env).unwrap();
    let mut sdk = customers_api::startup::init::sdk_config(&config)
        .await
        .into_builder();
    sdk.set_credentials_provider(Some(
        aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"),
        ),
    ));
    let sdk = sdk.region(aws_config::Region::new("us-east-1")).build();
    let ddb_conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{}", proxy.addr))
        .build();
    let t = TestApp::builder()
        .env("SDK_ATTEMPT_TIMEOUT_MS", &ATTEMPT_MS.to_string())
        .env("SDK_OPERATION_TIMEOUT_MS", &OPERATION_MS.to_string())
        .ddb(aws_sdk_dynamodb::Client::from_conf(ddb_conf))
        .build()
        .await;
    t.seed(json!({"customerId": "c", "email": "c@example.com"}))
        .await;

    proxy.cut().await;
    let bound = Duration::from_millis(OPERATION_MS) + Duration::from_secs(1);
    let requests: [(&str, &str, &str, Option<&str>); 4] = [
        ("GET", "/v1/customers/c", READ, None),
        ("PATCH", "/v1/customers/c", WRITE, Some(r#"{"name":"N"}"#)),
        (
            "PATCH",
            "/v1/customers/c",
            WRITE,
            Some(r#"{"email":"d@example.com"}"#),
        ),
        (
            "POST",
            "/v1/customers",
            WRITE,
            Some(r#"{"customerId":"d"}"#),
        ),
    ];
    for (method, path, key, body) in requests {
        let started = Instant::now();
        let r = t.req(method, path, &[("authorization", key)], body).await;
        let took = started.elapsed();
        eprintln!(
            "DynamoDB cut: {method} {path} answered {} in {took:?} (bound {bound:?})",
            r.status
        );
        r.expect(503, "service_unavailable");
        assert_eq!(r.header("retry-after"), "1");
        assert!(
            took <= bound,
            "{method} {path} took {took:?}, bound {bound:?}"
        );
    }

    proxy.restore();
    let r = t.get("c").await;
    r.ok(200);
    assert_eq!(
        r.data()["name"],
        serde_json::Value::Null,
        "nothing was half-written"
    );
    assert_eq!(r.data()["email"], "c@example.com");
    t.patch("c", json!({"email": "d@example.com"}))
        .await
        .ok(200);
    t.post(json!({"customerId": "d", "email": "c@example.com"}))
        .await
        .ok(201);
    assert!(t.violations().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_down_at_init_gives_503_until_it_returns_then_200() {
    let (_, ssm_endpoint) = common::endpoints();
    let proxy = Proxy::start(ssm_endpoint.trim_start_matches("http://").to_owned(), false).await;
    let sdk = common::sdk().await;
    let ssm_conf = aws_sdk_ssm::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{}", proxy.addr))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(ATTEMPT_MS))
                .operation_timeout(Duration::from_millis(OPERATION_MS))
                .build(),
        )
        .build();
    // Init runs while SSM is unreachable: the function starts anyway.
    let t = TestApp::builder()
        .ssm(aws_sdk_ssm::Client::from_conf(ssm_conf))
        .build()
        .await;
    for _ in 0..2 {
        let started = Instant::now();
        let r = t.get("c").await;
        r.expect(503, "auth_unavailable");
        assert!(started.elapsed() <= Duration::from_millis(OPERATION_MS) + Duration::from_secs(1));
    }
    proxy.restore();
    // Failed fetches are retried at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.get("c").await.expect(404, "not_found");
    t.post(json!({"customerId": "c"})).await.ok(201);
    t.get("c").await.ok(200);
}
