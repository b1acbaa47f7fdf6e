//! Failures DynamoDB Local cannot produce (SPEC §4, §7, §8, §12): transaction
//! conflicts, throttling, timeouts, a lost answer, unprocessed keys. The app
//! gets a DynamoDB client whose responses are injected with `aws-smithy-mocks`,
//! while every operation no rule claims still runs against the real DynamoDB
//! Local.
//!
//! How the injection reaches the wire: a mock rule decides in an interceptor,
//! but the request would still be sent by the client's HTTP client, so a
//! mocked `TransactWriteItems` would also commit on DynamoDB Local. The
//! client here therefore uses [`Switch`], an HTTP client that sends a request
//! to the mocks' own HTTP client when a rule has just produced its response
//! (the rules' response functions mark it), and to the real HTTP client
//! otherwise. The same switch also simulates what no mock can: an answer
//! that never comes.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{
    ProvisionedThroughputExceededException, TransactionCanceledException,
    TransactionConflictException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{
    MockResponse, MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use common::{Resp, TestApp};
use customers_api::startup::config::Config;
use customers_api::startup::init;
use customers_api::store::customers::MAX_ATTEMPTS;
use serde_json::json;

// ---------------------------------------------------------------------------
// The rig
// ---------------------------------------------------------------------------

/// What the switch does to requests no rule claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// `TransactWriteItems` is sent nowhere and never answered.
    HangTransactions,
    /// `TransactWriteItems` runs on DynamoDB Local, then its answer is lost.
    CommitThenHangTransactions,
}

/// State shared by the rules, the switch and the test.
#[derive(Debug)]
struct Wire {
    /// Rules apply only once armed, so the test can seed through the app.
    armed: AtomicBool,
    /// Responses made by a rule and not yet routed to the mocks' HTTP client.
    mocked: AtomicUsize,
    fault: Mutex<Fault>,
    /// Operations sent to DynamoDB Local since arming, by name.
    reached: Mutex<HashMap<String, usize>>,
}

impl Wire {
    fn new() -> Arc<Wire> {
        Arc::new(Wire {
            armed: AtomicBool::new(false),
            mocked: AtomicUsize::new(0),
            fault: Mutex::new(Fault::None),
            reached: Mutex::new(HashMap::new()),
        })
    }

    fn arm(&self, fault: Fault) {
        self.reached.lock().unwrap().clear();
        *self.fault.lock().unwrap() = fault;
        self.armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) {
        *self.fault.lock().unwrap() = Fault::None;
        self.armed.store(false, Ordering::SeqCst);
    }

    fn is_armed(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    fn take_mocked(&self) -> bool {
        self.mocked
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// How many `op` calls reached DynamoDB Local since arming.
    fn reached(&self, op: &str) -> usize {
        self.reached.lock().unwrap().get(op).copied().unwrap_or(0)
    }
}

/// A rule's matcher: only once the test armed the wire.
fn armed<I>(wire: &Arc<Wire>) -> impl Fn(&I) -> bool + Send + Sync + 'static + use<I> {
    let w = wire.clone();
    move |_| w.is_armed()
}

/// Wraps a rule's response function so the switch knows a mock answers.
fn marked<T, F>(wire: &Arc<Wire>, f: F) -> impl Fn() -> T + Send + Sync + 'static + use<T, F>
where
    F: Fn() -> T + Send + Sync + 'static,
{
    let w = wire.clone();
    move || {
        w.mocked.fetch_add(1, Ordering::SeqCst);
        f()
    }
}

#[derive(Debug, Clone)]
struct Switch {
    real: SharedHttpClient,
    mock: SharedHttpClient,
    wire: Arc<Wire>,
}

impl HttpClient for Switch {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SwitchConnector {
            real: self.real.http_connector(settings, components),
            mock: self.mock.http_connector(settings, components),
            wire: self.wire.clone(),
        })
    }
}

#[derive(Debug)]
struct SwitchConnector {
    real: SharedHttpConnector,
    mock: SharedHttpConnector,
    wire: Arc<Wire>,
}

fn never() -> HttpConnectorFuture {
    HttpConnectorFuture::new(std::future::pending::<Result<HttpResponse, ConnectorError>>())
}

impl HttpConnector for SwitchConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if self.wire.take_mocked() {
            return self.mock.call(request);
        }
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let fault = *self.wire.fault.lock().unwrap();
        let tx = op == "TransactWriteItems";
        if fault == Fault::HangTransactions && tx {
            return never();
        }
        *self.wire.reached.lock().unwrap().entry(op).or_default() += 1;
        if fault == Fault::CommitThenHangTransactions && tx {
            let sent = self.real.call(request);
            return HttpConnectorFuture::new(async move {
                let _answer_lost = sent.await;
                std::future::pending::<Result<HttpResponse, ConnectorError>>().await
            });
        }
        self.real.call(request)
    }
}

/// Remembers the HTTP client a real request was sent with.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Option<SharedHttpClient>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "capture-http-client"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock().unwrap() = runtime_components.http_client();
        Ok(())
    }
}

/// The SDK configuration the function itself builds (timeouts, retries),
/// for the given environment.
async fn app_sdk(env: &[(&str, &str)]) -> SdkConfig {
    common::endpoints();
    let config = Config::from_lookup(|k| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| match k {
                "TABLE_NAME" => Some("unused".into()),
                "API_KEYS_PARAMETER" => Some("/unused".into()),
                _ => None,
            })
    })
    .expect("config");
    init::sdk_config(&config).await
}

/// The default HTTP client of a client built from `sdk`.
async fn real_http_client(sdk: &SdkConfig) -> SharedHttpClient {
    let capture = Capture::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(capture.clone())
        .build();
    Client::from_conf(conf)
        .list_tables()
        .limit(1)
        .send()
        .await
        .expect("DynamoDB Local answers ListTables");
    let client = capture.0.lock().unwrap().clone();
    client.expect("an HTTP client was used")
}

/// A test app whose DynamoDB client applies `rules` (once `wire` is armed)
/// and the wire's fault, with the function's SDK settings for `env`.
async fn rig(wire: &Arc<Wire>, rules: &[&Rule], env: &[(&str, &str)]) -> TestApp {
    let sdk = app_sdk(env).await;
    let switch = Switch {
        real: real_http_client(&sdk).await,
        mock: create_mock_http_client(),
        wire: wire.clone(),
    };
    let mut mocks = MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .allow_passthrough();
    for rule in rules {
        mocks = mocks.with_rule(rule);
    }
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .http_client(switch)
        .interceptor(mocks)
        .build();
    let mut b = TestApp::builder().ddb(Client::from_conf(conf));
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.build().await
}

// ---------------------------------------------------------------------------
// Injected responses
// ---------------------------------------------------------------------------

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message("injected by the test")
        .build()
}

/// A cancelled transaction: `code` on its last item, `None` on the others.
fn cancelled(items: usize, code: &str) -> TransactWriteItemsError {
    let reasons: Vec<CancellationReason> = (0..items)
        .map(|i| {
            let b = CancellationReason::builder();
            if i + 1 == items {
                b.code(code).message("injected by the test").build()
            } else {
                b.code("None").build()
            }
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message(format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ))
            .set_cancellation_reasons(Some(reasons))
            .meta(meta("TransactionCanceledException"))
            .build(),
    )
}

/// A rule that cancels every armed transaction with `code`, sized to it.
fn cancel_every_transaction(wire: &Arc<Wire>, code: &'static str) -> Rule {
    let w = wire.clone();
    mock!(Client::transact_write_items)
        .match_requests(armed(wire))
        .then_compute_response(move |input: &TransactWriteItemsInput| {
            w.mocked.fetch_add(1, Ordering::SeqCst);
            MockResponse::Error(cancelled(input.transact_items().len(), code))
        })
}

/// An HTTP error response as DynamoDB sends it (awsJson 1.0).
fn http_error(status: u16, error_type: &str) -> HttpResponse {
    let body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": "injected by the test",
    })
    .to_string();
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body),
    );
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    r
}

// ---------------------------------------------------------------------------
// Inspection
// ---------------------------------------------------------------------------

async fn owner(t: &TestApp, norm: &str) -> Option<String> {
    let item = t
        .ddb
        .get_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(format!("email#{norm}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item?;
    match item.get("owner") {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        other => panic!("sentinel {norm} without owner: {other:?}"),
    }
}

/// Every item in the table, in key order, as the raw client sees it.
async fn snapshot(t: &TestApp) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = t
        .ddb
        .scan()
        .table_name(&t.table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("pk")));
    items
}

#[track_caller]
fn assert_unavailable(r: &Resp) {
    r.expect(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), "1", "503 says when to retry");
}

async fn timed<F: Future<Output = Resp>>(f: F) -> (Resp, Duration) {
    let started = Instant::now();
    let r = f.await;
    (r, started.elapsed())
}

// ---------------------------------------------------------------------------
// Transaction conflicts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn transaction_conflicts_are_retried_until_the_email_change_lands() {
    let wire = Wire::new();
    // Two cancellations for TransactionConflict, then DynamoDB Local decides.
    let rule = mock!(Client::transact_write_items)
        .match_requests(armed(&wire))
        .sequence()
        .error(marked(&wire, || cancelled(3, "TransactionConflict")))
        .times(2)
        .build();
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c", "email": "old@tx.example.com"}))
        .await;
    wire.arm(Fault::None);

    let r = t.patch("c", json!({"email": "new@tx.example.com"})).await;
    r.ok(200);
    assert_eq!(r.data()["email"], "new@tx.example.com");
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(rule.num_calls(), 2, "both injected conflicts were served");
    assert_eq!(wire.reached("TransactWriteItems"), 1, "one real commit");
    assert_eq!(
        r.summary["retries"], 2,
        "the summary line counts our re-runs"
    );
    wire.disarm();

    assert_eq!(owner(&t, "new@tx.example.com").await.as_deref(), Some("c"));
    assert_eq!(owner(&t, "old@tx.example.com").await, None);
    assert!(
        t.violations().await.is_empty(),
        "{:?}",
        t.violations().await
    );
    assert_eq!(t.get("c").await.etag(), "\"2\"");
}

#[tokio::test]
async fn a_transaction_that_always_conflicts_is_409_and_changes_nothing() {
    let wire = Wire::new();
    let rule = cancel_every_transaction(&wire, "TransactionConflict");
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c", "email": "old@tx.example.com", "name": "C"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);

    // Email change (PATCH), first email (POST), release (DELETE).
    t.patch("c", json!({"email": "new@tx.example.com", "name": "D"}))
        .await
        .expect(409, "conflict");
    assert_eq!(
        rule.num_calls(),
        MAX_ATTEMPTS as usize,
        "retried up to MAX_ATTEMPTS"
    );
    t.post(json!({"customerId": "d", "email": "d@tx.example.com"}))
        .await
        .expect(409, "conflict");
    t.delete("c", &[]).await.expect(409, "conflict");
    assert_eq!(wire.reached("TransactWriteItems"), 0);
    wire.disarm();

    assert_eq!(snapshot(&t).await, before, "nothing was written");
    assert_eq!(owner(&t, "new@tx.example.com").await, None);
    assert_eq!(owner(&t, "old@tx.example.com").await.as_deref(), Some("c"));
    t.get("d").await.expect(404, "not_found");
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn update_item_conflicts_are_retried() {
    let wire = Wire::new();
    let rule = mock!(Client::update_item)
        .match_requests(armed(&wire))
        .sequence()
        .error(marked(&wire, || {
            UpdateItemError::TransactionConflictException(
                TransactionConflictException::builder()
                    .message("Transaction is ongoing for the item")
                    .meta(meta("TransactionConflictException"))
                    .build(),
            )
        }))
        .times(2)
        .build();
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c"})).await;
    wire.arm(Fault::None);
    let r = t.patch("c", json!({"name": "After"})).await;
    r.ok(200);
    assert_eq!(r.data()["name"], "After");
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(wire.reached("UpdateItem"), 1);
}

// ---------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------

/// Let the SDK's three attempts (standard backoff from 1 s) finish before the
/// operation timeout, so the count of attempts is deterministic.
const PATIENT: &[(&str, &str)] = &[("SDK_OPERATION_TIMEOUT_MS", "8000")];

#[tokio::test]
async fn throttled_update_item_is_503_with_retry_after() {
    let wire = Wire::new();
    let rule = mock!(Client::update_item)
        .match_requests(armed(&wire))
        .then_error(marked(&wire, || {
            UpdateItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("The level of configured provisioned throughput for the table was exceeded.")
                    .meta(meta("ProvisionedThroughputExceededException"))
                    .build(),
            )
        }));
    let t = rig(&wire, &[&rule], PATIENT).await;
    t.seed(json!({"customerId": "c", "email": "c@throttle.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);

    let r = t.patch("c", json!({"name": "N"})).await;
    assert_unavailable(&r);
    assert_eq!(r.calls, 1, "calls count operations, not SDK retries");
    assert_eq!(rule.num_calls(), 3, "the SDK retried the throttled call");
    assert_eq!(
        r.summary["retries"], 2,
        "the summary line counts the SDK's retries"
    );
    assert_eq!(r.summary["statusClass"], "5xx");
    assert_unavailable(
        &t.patch("c", json!({"email": "d@throttle.example.com"}))
            .await,
    );
    assert_eq!(wire.reached("UpdateItem"), 0);
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
}

#[tokio::test]
async fn throttled_get_item_is_503_with_retry_after() {
    let wire = Wire::new();
    let rule = mock!(Client::get_item)
        .match_requests(armed(&wire))
        .then_http_response(marked(&wire, || http_error(400, "ThrottlingException")));
    let t = rig(&wire, &[&rule], PATIENT).await;
    t.seed(json!({"customerId": "c"})).await;
    wire.arm(Fault::None);
    let r = t.get("c").await;
    assert_unavailable(&r);
    assert_eq!(r.calls, 1);
    assert_eq!(rule.num_calls(), 3, "the SDK retried the throttled call");
    assert_eq!(wire.reached("GetItem"), 0);
    wire.disarm();
    t.get("c").await.ok(200);
}

#[tokio::test]
async fn throttled_transactions_are_503_and_change_nothing() {
    let wire = Wire::new();
    // Throttling reported inside the cancellation reasons: the app retries,
    // then gives up with 503.
    let rule = cancel_every_transaction(&wire, "ThrottlingError");
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c", "email": "old@throttle.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);
    assert_unavailable(
        &t.patch("c", json!({"email": "new@throttle.example.com"}))
            .await,
    );
    assert_unavailable(&t.delete("c", &[]).await);
    assert_unavailable(
        &t.post(json!({"customerId": "d", "email": "d@throttle.example.com"}))
            .await,
    );
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn a_throttled_transaction_call_is_503() {
    // Throttling as the error of the call itself, not of one item.
    let wire = Wire::new();
    let rule = mock!(Client::transact_write_items)
        .match_requests(armed(&wire))
        .then_http_response(marked(&wire, || http_error(400, "ThrottlingException")));
    let t = rig(&wire, &[&rule], PATIENT).await;
    t.seed(json!({"customerId": "c", "email": "old@throttle.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);
    let r = t
        .post(json!({"customerId": "d", "email": "d@throttle.example.com"}))
        .await;
    assert_unavailable(&r);
    assert_eq!(r.calls, 1);
    let r = t
        .patch("c", json!({"email": "new@throttle.example.com"}))
        .await;
    assert_unavailable(&r);
    assert_eq!(r.calls, 2);
    assert_eq!(wire.reached("TransactWriteItems"), 0);
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
}

#[tokio::test]
async fn an_unexplained_cancellation_is_500_not_503() {
    let wire = Wire::new();
    let rule = cancel_every_transaction(&wire, "ValidationError");
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c", "email": "old@odd.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);
    t.patch("c", json!({"email": "new@odd.example.com"}))
        .await
        .expect(500, "internal");
    assert_eq!(rule.num_calls(), 1, "a bug is not retried");
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
}

// ---------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------

const ATTEMPT_MS: u64 = 300;
const OPERATION_MS: u64 = 900;
const FAST: &[(&str, &str)] = &[
    ("SDK_ATTEMPT_TIMEOUT_MS", "300"),
    ("SDK_OPERATION_TIMEOUT_MS", "900"),
];

/// An unreachable dependency answers within the operation timeout plus one
/// second of slack for the rest of the request (SPEC §8).
fn bound() -> Duration {
    Duration::from_millis(OPERATION_MS) + Duration::from_secs(1)
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_503_within_the_timeouts() {
    const { assert!(ATTEMPT_MS < OPERATION_MS) };
    // A blackhole: the kernel completes the TCP handshake into the backlog,
    // nobody reads the request and nothing ever answers.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = hole.local_addr().expect("addr");
    let sdk = app_sdk(FAST).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{addr}"))
        .build();
    let mut b = TestApp::builder().ddb(Client::from_conf(conf));
    for (k, v) in FAST {
        b = b.env(k, v);
    }
    let t = b.build().await;

    let (r, took) = timed(t.get("c")).await;
    assert_unavailable(&r);
    assert!(took < bound(), "GET took {took:?}");
    let (r, took) = timed(t.patch("c", json!({"name": "N"}))).await;
    assert_unavailable(&r);
    assert!(took < bound(), "PATCH took {took:?}");
    let (r, took) = timed(t.patch("c", json!({"email": "c@hole.example.com"}))).await;
    assert_unavailable(&r);
    assert!(took < bound(), "PATCH of the email took {took:?}");
    let (r, took) = timed(t.post(json!({"customerId": "c", "email": "c@hole.example.com"}))).await;
    assert_unavailable(&r);
    assert!(took < bound(), "POST took {took:?}");
    let (r, took) = timed(t.delete("c", &[])).await;
    assert_unavailable(&r);
    assert!(took < bound(), "DELETE took {took:?}");
    drop(hole);
}

#[tokio::test]
async fn a_failing_transaction_after_the_read_changes_nothing() {
    // The conditional update (the read) goes through; the transaction then
    // fails with DynamoDB's 500 on every attempt.
    let wire = Wire::new();
    let rule = mock!(Client::transact_write_items)
        .match_requests(armed(&wire))
        .then_http_response(marked(&wire, || http_error(500, "InternalServerError")));
    let t = rig(&wire, &[&rule], PATIENT).await;
    t.seed(json!({"customerId": "c", "email": "old@late.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::None);
    let r = t.patch("c", json!({"email": "new@late.example.com"})).await;
    assert_unavailable(&r);
    assert_eq!(r.calls, 2, "the read, then the transaction");
    assert_eq!(rule.num_calls(), 3, "the SDK retried the 500");
    assert_eq!(wire.reached("UpdateItem"), 1);
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(
        owner(&t, "old@late.example.com").await.as_deref(),
        Some("c")
    );
    assert_eq!(owner(&t, "new@late.example.com").await, None);
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn a_transaction_that_times_out_changes_nothing() {
    let wire = Wire::new();
    let t = rig(&wire, &[], FAST).await;
    t.seed(json!({"customerId": "c", "email": "old@late.example.com"}))
        .await;
    let before = snapshot(&t).await;
    wire.arm(Fault::HangTransactions);
    let (r, took) = timed(t.patch("c", json!({"email": "new@late.example.com"}))).await;
    assert_unavailable(&r);
    assert!(took < bound(), "took {took:?}");
    assert_eq!(r.calls, 2);
    let (r, took) = timed(t.delete("c", &[])).await;
    assert_unavailable(&r);
    assert!(took < bound(), "took {took:?}");
    wire.disarm();
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(
        owner(&t, "old@late.example.com").await.as_deref(),
        Some("c")
    );
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn a_transaction_whose_answer_is_lost_leaves_one_consistent_state() {
    // The transaction commits, then its answer never arrives: the client
    // hears 503, and the table holds the new state whole, never half of it.
    let wire = Wire::new();
    let t = rig(&wire, &[], FAST).await;
    t.seed(json!({"customerId": "c", "email": "old@lost.example.com"}))
        .await;
    wire.arm(Fault::CommitThenHangTransactions);
    let (r, took) = timed(t.patch("c", json!({"email": "new@lost.example.com"}))).await;
    assert_unavailable(&r);
    assert!(took < bound(), "took {took:?}");
    assert!(wire.reached("TransactWriteItems") >= 1);
    wire.disarm();

    assert!(
        t.violations().await.is_empty(),
        "{:?}",
        t.violations().await
    );
    let g = t.get("c").await;
    assert_eq!(g.data()["email"], "new@lost.example.com");
    assert_eq!(g.etag(), "\"2\"");
    assert_eq!(
        owner(&t, "new@lost.example.com").await.as_deref(),
        Some("c")
    );
    assert_eq!(owner(&t, "old@lost.example.com").await, None);
    // The client's retry finds the work done: 200, no second bump.
    let r = t.patch("c", json!({"email": "new@lost.example.com"})).await;
    r.ok(200);
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(r.calls, 1);
    // The released address is free at once.
    t.post(json!({"customerId": "d", "email": "old@lost.example.com"}))
        .await
        .ok(201);
    assert_eq!(
        owner(&t, "old@lost.example.com").await.as_deref(),
        Some("d")
    );
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn keyed_writes_retry_conflicts_and_record_once() {
    let wire = Wire::new();
    // Two conflicts on every keyed transaction's first tries, then DynamoDB
    // Local decides: the change and its record land together, once.
    let rule = mock!(Client::transact_write_items)
        .match_requests(armed(&wire))
        .sequence()
        .error(marked(&wire, || cancelled(2, "TransactionConflict")))
        .times(2)
        .build();
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c"})).await;
    wire.arm(Fault::None);
    let keyed = |key: &'static str| {
        [
            ("authorization", common::WRITE),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ]
    };
    let first = t
        .req(
            "PATCH",
            "/v1/customers/c",
            &keyed("k"),
            Some(r#"{"name":"A"}"#),
        )
        .await;
    first.ok(200);
    assert_eq!(first.etag(), "\"2\"");
    assert_eq!(rule.num_calls(), 2, "both injected conflicts were served");
    assert_eq!(wire.reached("TransactWriteItems"), 1, "one real commit");
    wire.disarm();
    let again = t
        .req(
            "PATCH",
            "/v1/customers/c",
            &keyed("k"),
            Some(r#"{"name":"A"}"#),
        )
        .await;
    assert_eq!(
        (again.status, again.raw.as_str()),
        (200, first.raw.as_str())
    );
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(t.get("c").await.etag(), "\"2\"");
}

#[tokio::test]
async fn a_throttled_keyed_write_records_nothing() {
    let wire = Wire::new();
    let rule = cancel_every_transaction(&wire, "ThrottlingError");
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "c"})).await;
    let before = snapshot(&t).await;
    let h = [
        ("authorization", common::WRITE),
        ("content-type", "application/json"),
        ("idempotency-key", "k-throttled"),
    ];
    wire.arm(Fault::None);
    assert_unavailable(
        &t.req("PATCH", "/v1/customers/c", &h, Some(r#"{"name":"A"}"#))
            .await,
    );
    wire.disarm();
    assert_eq!(snapshot(&t).await, before, "no change and no record");
    // The retry runs for real.
    let r = t
        .req("PATCH", "/v1/customers/c", &h, Some(r#"{"name":"A"}"#))
        .await;
    r.ok(200);
    assert_eq!(r.header("idempotent-replayed"), "");
}

// ---------------------------------------------------------------------------
// Unprocessed keys of a list page (SPEC §12)
// ---------------------------------------------------------------------------

/// A rule that answers armed `BatchGetItem`s with every key unprocessed
/// (as DynamoDB does under load), `budget` times; later calls reach
/// DynamoDB Local.
fn unprocessed_batch_gets(wire: &Arc<Wire>, budget: usize) -> Rule {
    let left = Arc::new(AtomicUsize::new(budget));
    let (w, l) = (wire.clone(), left.clone());
    mock!(Client::batch_get_item)
        .match_requests(move |_: &BatchGetItemInput| {
            w.is_armed() && left.load(Ordering::SeqCst) > 0
        })
        .then_compute_response({
            let w = wire.clone();
            move |input: &BatchGetItemInput| {
                l.fetch_sub(1, Ordering::SeqCst);
                w.mocked.fetch_add(1, Ordering::SeqCst);
                MockResponse::Output(
                    BatchGetItemOutput::builder()
                        .set_unprocessed_keys(input.request_items().cloned())
                        .build(),
                )
            }
        })
}

#[tokio::test]
async fn unprocessed_keys_of_a_page_are_asked_for_again() {
    let wire = Wire::new();
    let rule = unprocessed_batch_gets(&wire, 2);
    let t = rig(&wire, &[&rule], &[]).await;
    for i in 0..5 {
        t.seed(json!({"customerId": format!("u{i}")})).await;
    }
    wire.arm(Fault::None);
    let r = t.list("limit=3").await;
    r.ok(200);
    let ids: Vec<&str> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["u4", "u3", "u2"], "the whole page, in order");
    assert_eq!(rule.num_calls(), 2, "both unprocessed answers were served");
    assert_eq!(wire.reached("BatchGetItem"), 1);
    assert_eq!(r.calls, 4, "Query + 3 BatchGetItem");
    wire.disarm();
}

#[tokio::test]
async fn keys_that_stay_unprocessed_are_503_after_bounded_retries() {
    let wire = Wire::new();
    let rule = unprocessed_batch_gets(&wire, usize::MAX);
    let t = rig(&wire, &[&rule], &[]).await;
    t.seed(json!({"customerId": "u"})).await;
    wire.arm(Fault::None);
    let r = t.list("").await;
    assert_unavailable(&r);
    assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
    assert_eq!(r.calls, 1 + MAX_ATTEMPTS);
    wire.disarm();
}
