//! `make bench` (scripts/bench.sh): what a request and a cold start cost,
//! beside what the DynamoDB and SSM calls alone cost, measured in the same run
//! against the local stack (DynamoDB Local + moto). Prints a table and writes
//! the same figures as JSON. Figures are reported, never asserted: the targets
//! of issue 5 are printed beside them with ✓/✗.
//!
//! ```text
//! target/release/examples/bench --bin target/release/customers-api \
//!     --hello target/release/examples/hello [--out target/bench/latest.json]
//!     [--requests 5000] [--warmup 500] [--cold 25] [--invocations 1000]
//!     [--concurrency 32] [--per-worker 100] [--package target/bench/package.json]
//!     [--compare OTHER_BUILD_OF_THE_FUNCTION]
//! ```
//!
//! `--compare` cold-starts a second build of the function in the same
//! interleaving (A, B, floor), so that a change to init can be judged against
//! the build before it on the same stack in the same minute: the run-to-run
//! drift of these machines (±1 ms) is larger than most such changes.
//!
//! Needs the variables of a stack env file (scripts/stack.sh):
//! AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SSM, AWS_REGION and credentials.
//! It creates its own table and keys parameter, so it can share a stack.
//!
//! What is measured:
//! - warm path: `handle_with` on the App `main.rs` builds (same `init::`
//!   functions, same config defaults, JSON logs formatted into a sink),
//!   interleaved request by request with the raw SDK calls that do the same
//!   DynamoDB work on a twin item, through the same client;
//! - cold start: the release binary and a `lambda_http` hello world, each
//!   spawned against a minimal Lambda Runtime API served here;
//! - peak RSS after 1000 invocations through that Runtime API;
//! - throughput with 32 requests in flight, handler against raw SDK calls;
//! - SSM GetParameter and DynamoDB DescribeTable with a fresh client each time
//!   (connection setup included): the unavoidable part of init.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
    Update,
};
use aws_sdk_ssm::types::ParameterType;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use customers_api::app::{App, RequestCtx, handle_with};
use customers_api::auth::sha256_hex;
use customers_api::config::Config;
use customers_api::init;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

const WRITE_KEY: &str = "Bearer bench-write-key";
const READ_KEY: &str = "Bearer bench-read-key";

// --- options ------------------------------------------------------------------

struct Opts {
    bin: PathBuf,
    hello: PathBuf,
    probe: PathBuf,
    out: PathBuf,
    package: PathBuf,
    compare: Option<PathBuf>,
    requests: usize,
    warmup: usize,
    cold: usize,
    invocations: usize,
    concurrency: usize,
    per_worker: usize,
}

fn opts() -> Res<Opts> {
    let mut o = Opts {
        bin: "target/release/customers-api".into(),
        hello: "target/release/examples/hello".into(),
        probe: "target/release/examples/init_probe".into(),
        out: "target/bench/latest.json".into(),
        package: "target/bench/package.json".into(),
        compare: None,
        // 5000 so that p99 rests on 50 samples: DynamoDB Local's tail
        // (JVM pauses) makes p99 of 2000 swing by ±30 % from run to run.
        requests: 5000,
        warmup: 500,
        cold: 25,
        invocations: 1000,
        concurrency: 32,
        per_worker: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bin" => o.bin = val()?.into(),
            "--hello" => o.hello = val()?.into(),
            "--probe" => o.probe = val()?.into(),
            "--out" => o.out = val()?.into(),
            "--package" => o.package = val()?.into(),
            "--compare" => o.compare = Some(val()?.into()),
            "--requests" => o.requests = val()?.parse()?,
            "--warmup" => o.warmup = val()?.parse()?,
            "--cold" => o.cold = val()?.parse()?,
            "--invocations" => o.invocations = val()?.parse()?,
            "--concurrency" => o.concurrency = val()?.parse()?,
            "--per-worker" => o.per_worker = val()?.parse()?,
            "-h" | "--help" => {
                eprintln!("see the header of examples/bench.rs");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if o.requests == 0 || o.cold == 0 || o.invocations < 2 || o.concurrency == 0 {
        return Err("--requests, --cold, --concurrency must be > 0 and --invocations > 1".into());
    }
    Ok(o)
}

// --- statistics ---------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Pct {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Nearest-rank percentiles of durations in nanoseconds, reported in µs.
fn pct(ns: &[u64]) -> Pct {
    if ns.is_empty() {
        return Pct::default();
    }
    let mut v = ns.to_vec();
    v.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1] as f64 / 1000.0
    };
    Pct {
        p50: at(50.0),
        p90: at(90.0),
        p99: at(99.0),
        max: *v.last().unwrap() as f64 / 1000.0,
    }
}

fn median(ns: &[u64]) -> f64 {
    pct(ns).p50
}

fn pct_json(p: Pct) -> Value {
    json!({"p50": round1(p.p50), "p90": round1(p.p90), "p99": round1(p.p99), "max": round1(p.max)})
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

// --- counting SDK calls -------------------------------------------------------

#[derive(Debug, Default)]
struct Count {
    /// Operations (one per `send()`).
    ops: AtomicU64,
    /// HTTP attempts (retries included).
    attempts: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Counter(Arc<Count>);

impl Counter {
    fn ops(&self) -> u64 {
        self.0.ops.load(Ordering::Relaxed)
    }
    fn attempts(&self) -> u64 {
        self.0.attempts.load(Ordering::Relaxed)
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "bench-call-counter"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.ops.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

// --- API Gateway events -------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    PatchName,
    PatchAddress,
    PatchEmail,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Get,
        Kind::PatchName,
        Kind::PatchAddress,
        Kind::PatchEmail,
    ];

    fn label(self) -> &'static str {
        match self {
            Kind::Get => "GET",
            Kind::PatchName => "PATCH name",
            Kind::PatchAddress => "PATCH address.city (merge)",
            Kind::PatchEmail => "PATCH email (change)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Get => "get",
            Kind::PatchName => "patch_name",
            Kind::PatchAddress => "patch_address",
            Kind::PatchEmail => "patch_email",
        }
    }

    /// SPEC §8.
    fn expected_calls(self) -> u32 {
        match self {
            Kind::PatchEmail => 2,
            _ => 1,
        }
    }

    fn raw_label(self) -> &'static str {
        match self {
            Kind::Get => "GetItem",
            Kind::PatchName | Kind::PatchAddress => "UpdateItem",
            Kind::PatchEmail => "UpdateItem(refused, ALL_OLD) + TransactWriteItems(3)",
        }
    }
}

fn email_of(id: &str, i: usize) -> String {
    format!("{id}-{}@example.com", i % 2)
}

fn name_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "Bench Even"
    } else {
        "Bench Odd"
    }
}

fn city_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "Springfield"
    } else {
        "Shelbyville"
    }
}

/// An API Gateway HTTP API (payload 2.0) event; `i` alternates the written
/// value so that every PATCH really writes.
fn event(kind: Kind, id: &str, i: usize) -> String {
    let path = format!("/v1/customers/{id}");
    let (method, auth, body) = match kind {
        Kind::Get => ("GET", READ_KEY, None),
        Kind::PatchName => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"name": name_of(i)}).to_string()),
        ),
        Kind::PatchAddress => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"address": {"city": city_of(i)}}).to_string()),
        ),
        Kind::PatchEmail => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"email": email_of(id, i)}).to_string()),
        ),
    };
    raw_event(method, &path, auth, body, Some(id))
}

fn raw_event(
    method: &str,
    path: &str,
    auth: &str,
    body: Option<String>,
    id: Option<&str>,
) -> String {
    let mut headers = json!({
        "accept": "application/json",
        "authorization": auth,
        "host": "bench.execute-api.us-east-1.amazonaws.com",
        "user-agent": "bench",
        "x-forwarded-proto": "https"
    });
    if let Some(b) = &body {
        headers["content-type"] = json!("application/json");
        headers["content-length"] = json!(b.len().to_string());
    }
    let route = if id.is_some() {
        format!("{method} /v1/customers/{{customerId}}")
    } else {
        format!("{method} /v1/customers")
    };
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": route,
            "stage": "$default",
            "time": "23/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1_795_442_400_000u64
        },
        "pathParameters": id.map(|id| json!({"customerId": id})),
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

fn request(ev: &str) -> Res<lambda_http::Request> {
    Ok(lambda_http::request::from_str(ev)?)
}

fn body_text(b: &lambda_http::Body) -> String {
    match b {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

// --- the raw SDK calls (baseline) --------------------------------------------

/// The same DynamoDB operations the service issues, written by hand: what a
/// function with no validation, no routing and no decoding would still pay.
struct Raw {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

impl Raw {
    async fn run(&self, kind: Kind, id: &str, i: usize) -> Res<()> {
        match kind {
            Kind::Get => self.get(id).await,
            Kind::PatchName => {
                self.update(
                    id,
                    "SET #n = :v, #u = :now, #ver = #ver + :one",
                    "attribute_exists(#pk) AND (#n <> :v)",
                    &[("#n", "name")],
                    s(name_of(i)),
                )
                .await
            }
            Kind::PatchAddress => {
                self.update(
                    id,
                    "SET #a.#c = :v, #u = :now, #ver = #ver + :one",
                    "attribute_exists(#pk) AND attribute_type(#a, :m) AND (#a.#c <> :v)",
                    &[("#a", "address"), ("#c", "city")],
                    s(city_of(i)),
                )
                .await
            }
            Kind::PatchEmail => self.change_email(id, i).await,
        }
    }

    async fn get(&self, id: &str) -> Res<()> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("customer#{id}")))
            .consistent_read(true)
            .send()
            .await?;
        out.item.ok_or("raw GetItem: no item")?;
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        value: AttributeValue,
    ) -> Res<()> {
        let mut req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("customer#{id}")))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":v", value)
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        if condition.contains(":m") {
            req = req.expression_attribute_values(":m", s("M"));
        }
        req.send().await?;
        Ok(())
    }

    /// What the service does for an email change: the single-call form is
    /// refused (the stored email differs) and hands back the item, then one
    /// transaction moves the sentinel and updates the customer.
    async fn change_email(&self, id: &str, i: usize) -> Res<()> {
        let email = email_of(id, i);
        let pk = format!("customer#{id}");
        let refused = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk.clone()))
            .update_expression("SET #e = :e, #u = :now, #ver = #ver + :one")
            .condition_expression("attribute_exists(#pk) AND #en = :norm AND (#e <> :e)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#e", "email")
            .expression_attribute_names("#en", "emailNorm")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":e", s(email.clone()))
            .expression_attribute_values(":norm", s(email.clone()))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match refused {
            Ok(_) => return Err("raw email change: the condition unexpectedly held".into()),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    c.item.ok_or("raw email change: item gone")?
                }
                other => return Err(other.into()),
            },
        };
        let version: u64 = match old.get("version") {
            Some(AttributeValue::N(n)) => n.parse()?,
            _ => return Err("raw email change: no version".into()),
        };
        let old_norm = match old.get("emailNorm") {
            Some(AttributeValue::S(n)) => n.clone(),
            _ => return Err("raw email change: no emailNorm".into()),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("email#{email}")))
            .item("kind", s("email"))
            .item("owner", s(id))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let del = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("email#{old_norm}")))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let up = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET #e = :e, #en = :norm, #u = :now, #ver = :next")
            .condition_expression("#ver = :v")
            .expression_attribute_names("#e", "email")
            .expression_attribute_names("#en", "emailNorm")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":e", s(email.clone()))
            .expression_attribute_values(":norm", s(email))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        self.ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(del).build())
            .transact_items(TransactWriteItem::builder().update(up).build())
            .send()
            .await?;
        Ok(())
    }
}

// --- the local stack and the app ---------------------------------------------

struct Bench {
    app: Arc<App>,
    raw: Arc<Raw>,
    ddb_count: Counter,
    ssm_count: Counter,
    table: String,
    param: String,
    config: Config,
    admin: aws_sdk_dynamodb::Client,
}

fn config_for(table: &str, param: &str) -> Res<Config> {
    let env: HashMap<&str, &str> =
        HashMap::from([("TABLE_NAME", table), ("API_KEYS_PARAMETER", param)]);
    Ok(Config::from_lookup(|k| {
        env.get(k).map(|v| (*v).to_owned())
    })?)
}

fn keys_json() -> String {
    json!({"keys": [
        {"id": "bench_write", "sha256": sha256_hex("bench-write-key"), "scopes": ["customers:read", "customers:write"]},
        {"id": "bench_read", "sha256": sha256_hex("bench-read-key"), "scopes": ["customers:read"]},
    ]})
    .to_string()
}

async fn setup() -> Res<Bench> {
    for v in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SSM"] {
        if std::env::var(v).map(|s| s.is_empty()).unwrap_or(true) {
            return Err(format!(
                "{v} is not set: run `make bench`, or load a stack env file (scripts/stack.sh)"
            )
            .into());
        }
    }
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let table = format!("bench-{}", &tag[..12]);
    let param = format!("/bench-{}/api-keys", &tag[..12]);
    let config = config_for(&table, &param)?;
    let sdk = init::sdk_config(&config).await;
    let admin = aws_sdk_dynamodb::Client::new(&sdk);
    admin
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await?;
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&param)
        .value(keys_json())
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await?;

    // The app exactly as main.rs assembles it, with a call counter on each
    // client (it only increments an atomic).
    let ddb_count = Counter::default();
    let ssm_count = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(ddb_count.clone())
            .build(),
    );
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(ssm_count.clone())
            .build(),
    );
    let app = init::app(config.clone(), ddb.clone(), ssm);
    init::warm(&app).await;
    if ssm_count.ops() != 1 {
        return Err("the keys were not fetched during init".into());
    }
    let raw = Raw {
        ddb,
        table: table.clone(),
    };
    Ok(Bench {
        app: Arc::new(app),
        raw: Arc::new(raw),
        ddb_count,
        ssm_count,
        table,
        param,
        config,
        admin,
    })
}

/// Seeds a customer through the handler (POST), with an email, an address and
/// a few other members so the item has a realistic size.
async fn seed(app: &App, id: &str) -> Res<()> {
    let body = json!({
        "customerId": id,
        "name": name_of(1),
        "firstName": "Bench",
        "lastName": "Mark",
        "email": email_of(id, 1),
        "phone": "+14155550100",
        "address": {"line1": "742 Evergreen Terrace", "city": city_of(1), "postalCode": "49007", "country": "US"},
        "tags": ["bench", "vip"],
        "metadata": {"source": "bench", "tier": "gold"},
        "marketingConsent": true
    })
    .to_string();
    let ev = raw_event("POST", "/v1/customers", WRITE_KEY, Some(body), None);
    let ctx = RequestCtx::new(format!("seed-{id}"));
    let r = handle_with(app, request(&ev)?, &ctx).await;
    if r.status() != 201 {
        return Err(format!(
            "seeding {id}: status {} {}",
            r.status(),
            body_text(r.body())
        )
        .into());
    }
    Ok(())
}

async fn version_of(admin: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> Res<u64> {
    let out = admin
        .get_item()
        .table_name(table)
        .key("pk", s(format!("customer#{id}")))
        .consistent_read(true)
        .send()
        .await?;
    match out.item.as_ref().and_then(|i| i.get("version")) {
        Some(AttributeValue::N(n)) => Ok(n.parse()?),
        _ => Err(format!("{id}: no version").into()),
    }
}

// --- warm path ------------------------------------------------------------------

struct Warm {
    kind: Kind,
    handler: Pct,
    raw: Pct,
    calls_min: u32,
    calls_max: u32,
    attempts_per_req: f64,
    ssm_calls: u64,
    errors: usize,
    first_error: Option<String>,
    n: usize,
}

async fn handler_once(b: &Bench, ev: &str, rid: String) -> Res<(Duration, u32, u16, String)> {
    let req = request(ev)?;
    let ctx = RequestCtx::new(rid);
    let t = Instant::now();
    let resp = handle_with(&b.app, req, &ctx).await;
    let d = t.elapsed();
    let status = resp.status().as_u16();
    let text = if status == 200 {
        String::new()
    } else {
        body_text(resp.body())
    };
    Ok((d, ctx.calls.get(), status, text))
}

async fn warm_path(b: &Bench, kind: Kind, warmup: usize, n: usize) -> Res<Warm> {
    let (hid, rid) = ("bench-h", "bench-r");
    let mut h = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    let (mut cmin, mut cmax) = (u32::MAX, 0);
    let mut errors = 0;
    let mut first_error = None;
    let mut ssm_calls = 0;
    let mut attempts = 0;
    for i in 0..warmup + n {
        let ev = event(kind, hid, i);
        let measured = i >= warmup;
        // Alternate which goes first, so neither always follows the other.
        let raw_first = i % 2 == 1;
        let mut raw_d = Duration::ZERO;
        if raw_first {
            let t = Instant::now();
            b.raw.run(kind, rid, i).await?;
            raw_d = t.elapsed();
        }
        let (ssm0, att0) = (b.ssm_count.ops(), b.ddb_count.attempts());
        let (d, calls, status, text) = handler_once(b, &ev, format!("bench-{i}")).await?;
        let (ssm1, att1) = (b.ssm_count.ops(), b.ddb_count.attempts());
        if !raw_first {
            let t = Instant::now();
            b.raw.run(kind, rid, i).await?;
            raw_d = t.elapsed();
        }
        if status != 200 {
            errors += 1;
            first_error.get_or_insert(format!("status {status}: {text}"));
        }
        if measured {
            h.push(ns(d));
            r.push(ns(raw_d));
            cmin = cmin.min(calls);
            cmax = cmax.max(calls);
            ssm_calls += ssm1 - ssm0;
            attempts += att1 - att0;
        }
    }
    Ok(Warm {
        kind,
        handler: pct(&h),
        raw: pct(&r),
        calls_min: cmin,
        calls_max: cmax,
        attempts_per_req: attempts as f64 / n as f64,
        ssm_calls,
        errors,
        first_error,
        n,
    })
}

// --- CPU per request, without I/O ----------------------------------------------

/// The handler and the raw calls with DynamoDB answered in process by
/// `aws-smithy-mocks` (the SDK still builds and checks each request): what
/// is left is CPU, and the difference is what our code costs per request.
async fn cpu_only(b: &Bench, warmup: usize, n: usize) -> Res<Vec<(Kind, Pct, Pct, u32)>> {
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let mut item = b
        .admin
        .get_item()
        .table_name(&b.table)
        .key("pk", s("customer#bench-h"))
        .consistent_read(true)
        .send()
        .await?
        .item
        .ok_or("bench-h is missing")?;
    // An email that no request sets, so every email PATCH is a change.
    item.insert("email".into(), s("mock-other@example.com"));
    item.insert("emailNorm".into(), s("mock-other@example.com"));
    let it = item.clone();
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(move || GetItemOutput::builder().set_item(Some(it.clone())).build());
    let it = item.clone();
    let refuse = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.expression_attribute_names()
                .is_some_and(|m| m.values().any(|v| v == "emailNorm"))
        })
        .then_error(move || {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .set_item(Some(it.clone()))
                    .build(),
            )
        });
    let it = item.clone();
    let update = mock!(aws_sdk_dynamodb::Client::update_item).then_output(move || {
        UpdateItemOutput::builder()
            .set_attributes(Some(it.clone()))
            .build()
    });
    let tx = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_output(|| DescribeTableOutput::builder().build());
    let ddb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&refuse, &update, &get, &tx, &describe]
    );
    // Keys from moto as usual, cached for longer than this section runs.
    let env: HashMap<&str, &str> = HashMap::from([
        ("TABLE_NAME", b.table.as_str()),
        ("API_KEYS_PARAMETER", b.param.as_str()),
        ("API_KEYS_TTL_SECONDS", "3600"),
        ("API_KEYS_MAX_STALE_SECONDS", "3600"),
    ]);
    let config = Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))?;
    let ssm = aws_sdk_ssm::Client::new(&init::sdk_config(&config).await);
    let app = init::app(config, ddb.clone(), ssm);
    init::warm(&app).await;
    let raw = Raw {
        ddb,
        table: b.table.clone(),
    };
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let (mut h, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut calls = 0;
        for i in 0..warmup + n {
            let req = request(&event(kind, "bench-h", i))?;
            let ctx = RequestCtx::new(format!("cpu-{i}"));
            let t = Instant::now();
            let resp = handle_with(&app, req, &ctx).await;
            let hd = t.elapsed();
            if resp.status() != 200 {
                return Err(format!(
                    "mocked {}: status {} {}",
                    kind.label(),
                    resp.status(),
                    body_text(resp.body())
                )
                .into());
            }
            let t = Instant::now();
            raw.run(kind, "bench-r", i).await?;
            let rd = t.elapsed();
            if i >= warmup {
                h.push(ns(hd));
                r.push(ns(rd));
                calls = calls.max(ctx.calls.get());
            }
        }
        out.push((kind, pct(&h), pct(&r), calls));
    }
    Ok(out)
}

// --- throughput -------------------------------------------------------------------

/// CPU time (user + system) this process has used, from /proc/self/stat
/// (clock ticks of 10 ms: used over runs of seconds).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct Tput {
    rps: f64,
    /// CPU time of this process per request, µs.
    cpu_us: Option<f64>,
}

/// `round` shifts the alternating values so that a round never starts by
/// writing the value the previous one ended with.
async fn throughput(
    b: &Bench,
    kind: Kind,
    handler: bool,
    conc: usize,
    per: usize,
    round: usize,
) -> Res<Tput> {
    let off = round * per;
    let mut prepared = Vec::with_capacity(conc);
    for w in 0..conc {
        let id = if handler {
            format!("tp-h-{w}")
        } else {
            format!("tp-r-{w}")
        };
        let mut reqs = Vec::with_capacity(per);
        if handler {
            for i in 0..per {
                reqs.push(request(&event(kind, &id, off + i))?);
            }
        }
        prepared.push((id, reqs));
    }
    let cpu0 = process_cpu();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (w, (id, reqs)) in prepared.into_iter().enumerate() {
        let app = b.app.clone();
        let raw = b.raw.clone();
        set.spawn(async move {
            let mut bad = 0usize;
            if handler {
                for (i, req) in reqs.into_iter().enumerate() {
                    let ctx = RequestCtx::new(format!("tp-{w}-{i}"));
                    if handle_with(&app, req, &ctx).await.status() != 200 {
                        bad += 1;
                    }
                }
            } else {
                for i in off..off + per {
                    if raw.run(kind, &id, i).await.is_err() {
                        bad += 1;
                    }
                }
            }
            bad
        });
    }
    let mut bad = 0;
    while let Some(r) = set.join_next().await {
        bad += r?;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = process_cpu()
        .zip(cpu0)
        .map(|(b, a)| (b - a).as_secs_f64() * 1e6 / (conc * per) as f64);
    if bad > 0 {
        return Err(format!("{bad} failed requests in the throughput run").into());
    }
    Ok(Tput {
        rps: (conc * per) as f64 / secs,
        cpu_us: cpu,
    })
}

// --- a minimal Lambda Runtime API -------------------------------------------------

mod runtime_api {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Method, Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;
    use tokio::sync::{Mutex, mpsc};

    pub enum Event {
        /// A `GET .../invocation/next` arrived.
        Next(Instant),
        Response {
            id: String,
            at: Instant,
            body: Bytes,
        },
        Error {
            what: String,
            body: Bytes,
        },
    }

    struct State {
        queue: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
        events: mpsc::UnboundedSender<Event>,
    }

    pub struct Server {
        pub addr: SocketAddr,
        queue: mpsc::UnboundedSender<(String, String)>,
        pub events: mpsc::UnboundedReceiver<Event>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            // Drops the listener and every connection task with it.
            self.task.abort();
        }
    }

    impl Server {
        pub async fn start() -> Res<Server> {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let (qtx, qrx) = mpsc::unbounded_channel();
            let (etx, erx) = mpsc::unbounded_channel();
            let state = Arc::new(State {
                queue: Mutex::new(qrx),
                events: etx,
            });
            let task = tokio::spawn(async move {
                let mut conns = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let st = state.clone();
                    conns.spawn(async move {
                        let svc = hyper::service::service_fn(move |req| serve(st.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                    while conns.try_join_next().is_some() {}
                }
            });
            Ok(Server {
                addr,
                queue: qtx,
                events: erx,
                task,
            })
        }

        /// Queues an invocation; a waiting `next` gets it at once.
        pub fn push(&self, id: String, event: String) {
            let _ = self.queue.send((id, event));
        }
    }

    fn reply(status: u16) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r
    }

    async fn serve(
        st: Arc<State>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let at = Instant::now();
        let path = req.uri().path().to_owned();
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return Ok(reply(404));
        };
        if req.method() == Method::GET && rest == "invocation/next" {
            let _ = st.events.send(Event::Next(at));
            let next = st.queue.lock().await.recv().await;
            let Some((id, body)) = next else {
                return Ok(reply(500));
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 30_000;
            let r = Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:customers-api",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                )
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_else(|_| reply(500));
            return Ok(r);
        }
        if req.method() != Method::POST {
            return Ok(reply(404));
        }
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let at = Instant::now();
        if rest == "init/error" {
            let _ = st.events.send(Event::Error {
                what: "init/error".into(),
                body,
            });
        } else if let Some(inv) = rest.strip_prefix("invocation/") {
            if let Some(id) = inv.strip_suffix("/response") {
                let _ = st.events.send(Event::Response {
                    id: id.to_owned(),
                    at,
                    body,
                });
            } else if let Some(id) = inv.strip_suffix("/error") {
                let _ = st.events.send(Event::Error {
                    what: format!("invocation {id} error"),
                    body,
                });
            } else {
                return Ok(reply(404));
            }
        } else {
            return Ok(reply(404));
        }
        Ok(reply(202))
    }
}

// --- processes against the Runtime API -------------------------------------------

struct Session {
    /// exec → first `next`.
    init: Duration,
    /// exec → first response received.
    first: Duration,
    /// push → response, for invocations 2..n.
    warm_ns: Vec<u64>,
    /// by event index modulo the number of kinds, for the mixed session.
    warm_by_slot: Vec<Vec<u64>>,
    vm_hwm_kb: Option<u64>,
    vm_rss_kb: Option<u64>,
    non_200: usize,
    first_problem: Option<String>,
}

fn lambda_env(b: &Bench) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_FUNCTION_NAME", "customers-api"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/23/[$LATEST]bench"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/customers-api"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.push(("TABLE_NAME".into(), b.table.clone()));
    env.push(("API_KEYS_PARAMETER".into(), b.param.clone()));
    // Only the stack's variables: no AWS_CA_BUNDLE or profile files, as in Lambda.
    for k in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SSM",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        if let Ok(v) = std::env::var(k) {
            env.push((k.to_owned(), v));
        }
    }
    env
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn status_of(body: &[u8]) -> Option<u16> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("statusCode")?.as_u64().map(|n| n as u16)
}

/// Spawns `bin` against a fresh Runtime API, serves `events.len()`
/// invocations one after another, reads its memory high-water mark, kills it.
async fn session(
    bin: &Path,
    env: &[(String, String)],
    events: Vec<String>,
    stderr_log: &Path,
) -> Res<Session> {
    use runtime_api::Event;
    let mut srv = runtime_api::Server::start().await?;
    let n = events.len();
    let mut events = events.into_iter().enumerate();
    let (i0, e0) = events.next().ok_or("no events")?;
    srv.push(format!("inv-{i0:05}"), e0);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr_log)?;
    // std::process rather than tokio's: tokio's `process` feature would be
    // unified into the measured binary by `cargo build --examples --bins`.
    let mut cmd = std::process::Command::new(bin);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", srv.addr.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    let t0 = Instant::now();
    let mut child = Reaped(cmd.spawn()?);
    let pid = child.0.id();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let result = async {
        let mut init = None;
        let mut first = None;
        let mut pushed_at = t0;
        let mut warm_ns = Vec::with_capacity(n);
        let mut warm_by_slot: Vec<Vec<u64>> = vec![Vec::new(); Kind::ALL.len()];
        let mut done = 0usize;
        let mut non_200 = 0usize;
        let mut first_problem = None;
        let deadline = tokio::time::sleep(Duration::from_secs(60 + n as u64 / 10));
        tokio::pin!(deadline);
        while done < n {
            tokio::select! {
                ev = srv.events.recv() => match ev.ok_or("runtime API closed")? {
                    Event::Next(at) => {
                        if init.is_none() {
                            init = Some(at - t0);
                        }
                    }
                    Event::Response { id, at, body } => {
                        if id != format!("inv-{done:05}") {
                            return Err(format!("response for {id}, expected inv-{done:05}").into());
                        }
                        if status_of(&body) != Some(200) {
                            non_200 += 1;
                            first_problem.get_or_insert_with(|| String::from_utf8_lossy(&body).chars().take(400).collect());
                        }
                        if done == 0 {
                            first = Some(at - t0);
                        } else {
                            let d = ns(at - pushed_at);
                            warm_ns.push(d);
                            warm_by_slot[done % Kind::ALL.len()].push(d);
                        }
                        done += 1;
                        if let Some((i, e)) = events.next() {
                            pushed_at = Instant::now();
                            srv.push(format!("inv-{i:05}"), e);
                        }
                    }
                    Event::Error { what, body } => {
                        return Err(format!("{what}: {}", String::from_utf8_lossy(&body)).into());
                    }
                },
                _ = tick.tick() => {
                    if let Some(st) = child.0.try_wait()? {
                        return Err(format!("{} exited early ({st}); see {}", bin.display(), stderr_log.display()).into());
                    }
                }
                _ = &mut deadline => return Err(format!("{} timed out; see {}", bin.display(), stderr_log.display()).into()),
            }
        }
        Ok::<_, Error>(Session {
            init: init.ok_or("no next call")?,
            first: first.ok_or("no response")?,
            warm_ns,
            warm_by_slot,
            vm_hwm_kb: proc_status_kb(pid, "VmHWM:"),
            vm_rss_kb: proc_status_kb(pid, "VmRSS:"),
            non_200,
            first_problem,
        })
    }
    .await;
    drop(child);
    drop(srv);
    result
}

/// A child process that is killed and reaped however its session ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// --- SSM and DynamoDB round trips with a fresh client --------------------------

struct RoundTrips {
    config_load: Vec<u64>,
    ssm_fresh: Vec<u64>,
    ssm_warm: Vec<u64>,
    ddb_fresh: Vec<u64>,
    ddb_warm: Vec<u64>,
}

async fn round_trips(config: &Config, param: &str, table: &str, n: usize) -> Res<RoundTrips> {
    let mut rt = RoundTrips {
        config_load: vec![],
        ssm_fresh: vec![],
        ssm_warm: vec![],
        ddb_fresh: vec![],
        ddb_warm: vec![],
    };
    for _ in 0..n {
        let t = Instant::now();
        let sdk: SdkConfig = init::sdk_config(config).await;
        rt.config_load.push(ns(t.elapsed()));
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        for fresh in [true, false] {
            let t = Instant::now();
            ssm.get_parameter()
                .name(param)
                .with_decryption(true)
                .send()
                .await?;
            let d = ns(t.elapsed());
            if fresh {
                rt.ssm_fresh.push(d)
            } else {
                rt.ssm_warm.push(d)
            }
        }
        // A second, separate config: its own HTTP client and connection pool.
        let sdk: SdkConfig = init::sdk_config(config).await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        for fresh in [true, false] {
            let t = Instant::now();
            ddb.describe_table().table_name(table).send().await?;
            let d = ns(t.elapsed());
            if fresh {
                rt.ddb_fresh.push(d)
            } else {
                rt.ddb_warm.push(d)
            }
        }
    }
    Ok(rt)
}

// --- where init goes ----------------------------------------------------------------

/// Runs examples/init_probe `n` times as fresh processes with the function's
/// environment; returns the median of each step, µs, in the probe's order.
fn init_breakdown(probe: &Path, env: &[(String, String)], n: usize) -> Res<Vec<(String, f64)>> {
    let mut steps: Vec<(String, Vec<u64>)> = Vec::new();
    for _ in 0..n {
        let out = std::process::Command::new(probe)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!("{} failed ({})", probe.display(), out.status).into());
        }
        // Its own JSON logs share stdout; the figures are the last line.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rfind(|l| l.starts_with("{\"logging\""))
            .ok_or("init_probe printed no figures")?;
        let v: serde_json::Map<String, Value> = serde_json::from_str(line)?;
        for (i, (k, us)) in v.into_iter().enumerate() {
            let us = us.as_u64().unwrap_or(0) * 1000;
            match steps.get_mut(i) {
                Some((name, xs)) if *name == k => xs.push(us),
                _ => steps.push((k, vec![us])),
            }
        }
    }
    Ok(steps.into_iter().map(|(k, xs)| (k, median(&xs))).collect())
}

// --- main -------------------------------------------------------------------------

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    }
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

async fn run() -> Res<()> {
    let o = opts()?;
    for p in [&o.bin, &o.hello].into_iter().chain(&o.compare) {
        if !p.is_file() {
            return Err(format!(
                "{} not found: build with `cargo build --release --examples --bins`",
                p.display()
            )
            .into());
        }
    }
    let out_dir = o.out.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&out_dir)?;

    // The same log formatting as in Lambda, written nowhere: the handler pays
    // for building its summary line as it does there.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(customers_api::logging::filter("info"))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::sink)
        .init();

    let started = Instant::now();
    progress("creating the table and keys parameter, building the app");
    let b = setup().await?;
    let mut ids = vec![
        "bench-h".to_owned(),
        "bench-r".to_owned(),
        "cold-1".to_owned(),
        "rt-1".to_owned(),
    ];
    for w in 0..o.concurrency {
        ids.push(format!("tp-h-{w}"));
        ids.push(format!("tp-r-{w}"));
    }
    for id in &ids {
        seed(&b.app, id).await?;
    }

    // 1. Warm path.
    let mut warm = Vec::new();
    for kind in Kind::ALL {
        progress(&format!(
            "warm path: {} ({} + {} requests, handler and raw interleaved)",
            kind.label(),
            o.warmup,
            o.requests
        ));
        warm.push(warm_path(&b, kind, o.warmup, o.requests).await?);
    }
    let expected_version = 1 + 3 * (o.warmup + o.requests) as u64;
    let h_version = version_of(&b.admin, &b.table, "bench-h").await?;
    let r_version = version_of(&b.admin, &b.table, "bench-r").await?;
    let writes_ok = h_version == expected_version && r_version == expected_version;

    progress("CPU per request with DynamoDB answered in process (aws-smithy-mocks)");
    let cpu = cpu_only(&b, o.warmup, o.requests.max(1000)).await?;

    // 2. Throughput with `concurrency` requests in flight.
    let mut tput = Vec::new();
    for kind in [Kind::Get, Kind::PatchName] {
        progress(&format!(
            "throughput: {} with {} in flight",
            kind.label(),
            o.concurrency
        ));
        let (mut h, mut r, mut hc, mut rc) = (0.0, 0.0, Some(0.0), Some(0.0));
        // Two rounds, alternating, to even out drift.
        for round in 0..2 {
            let t = throughput(&b, kind, true, o.concurrency, o.per_worker, round).await?;
            h += t.rps / 2.0;
            hc = hc.zip(t.cpu_us).map(|(a, b)| a + b / 2.0);
            let t = throughput(&b, kind, false, o.concurrency, o.per_worker, round).await?;
            r += t.rps / 2.0;
            rc = rc.zip(t.cpu_us).map(|(a, b)| a + b / 2.0);
        }
        tput.push((kind, h, r, hc, rc));
    }

    // 3. Round trips of the unavoidable init calls.
    progress("SSM GetParameter and DynamoDB DescribeTable with fresh clients");
    let rt = round_trips(&b.config, &b.param, &b.table, o.cold).await?;

    // 4. Cold starts, interleaved function / floor.
    let env = lambda_env(&b);
    let breakdown = if o.probe.is_file() {
        progress("init step by step (examples/init_probe in fresh processes)");
        Some(init_breakdown(&o.probe, &env, o.cold)?)
    } else {
        None
    };
    let api_log = out_dir.join("customers-api.stderr.log");
    let hello_log = out_dir.join("hello.stderr.log");
    let _ = std::fs::remove_file(&api_log);
    let _ = std::fs::remove_file(&hello_log);
    let (mut api_init, mut api_first, mut hello_init, mut hello_first) =
        (vec![], vec![], vec![], vec![]);
    let (mut cmp_init, mut cmp_first) = (vec![], vec![]);
    let cmp_log = out_dir.join("compare.stderr.log");
    let _ = std::fs::remove_file(&cmp_log);
    // 0 = the function, 1 = the floor, 2 = the --compare build; the order
    // rotates so that none always runs right after another's exit.
    let mut order: Vec<usize> = vec![0, 1];
    if o.compare.is_some() {
        order.push(2);
    }
    let mut cold_problems = Vec::new();
    for i in 0..o.cold {
        if i % 5 == 0 {
            progress(&format!(
                "cold starts {}..{} of {}",
                i + 1,
                (i + 5).min(o.cold),
                o.cold
            ));
        }
        let ev = event(Kind::PatchName, "cold-1", i);
        order.rotate_left(1);
        for &which in &order {
            let (bin, log) = match (which, &o.compare) {
                (0, _) => (&o.bin, &api_log),
                (2, Some(other)) => (other, &cmp_log),
                _ => (&o.hello, &hello_log),
            };
            let s = session(bin, &env, vec![ev.clone()], log).await?;
            if let Some(p) = s.first_problem {
                cold_problems.push(p);
            }
            let (init, first) = match which {
                0 => (&mut api_init, &mut api_first),
                2 => (&mut cmp_init, &mut cmp_first),
                _ => (&mut hello_init, &mut hello_first),
            };
            init.push(ns(s.init));
            first.push(ns(s.first));
        }
    }

    // 5. 1000 invocations through the Runtime API: warm latency end to end
    // and peak RSS.
    progress(&format!(
        "{} invocations through the Runtime API (customers-api, then hello)",
        o.invocations
    ));
    let mixed: Vec<String> = (0..o.invocations)
        .map(|i| event(Kind::ALL[i % 4], "rt-1", i / 4))
        .collect();
    let api_s = session(&o.bin, &env, mixed.clone(), &api_log).await?;
    let hello_s = session(&o.hello, &env, mixed, &hello_log).await?;

    // --- report -------------------------------------------------------------------
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut targets: Vec<(String, String, bool)> = Vec::new();
    let mut lines = Vec::new();
    let mut out = |s: String| lines.push(s);

    out(format!(
        "customers-api benchmark  {date}  {cores} cores  DynamoDB Local + moto on 127.0.0.1"
    ));
    out(String::new());
    out(format!(
        "Warm path: handle_with (in process) vs the raw SDK calls doing the same DynamoDB work, {} requests each after {} warm-up, µs",
        o.requests, o.warmup
    ));
    out(format!(
        "{:<28} {:>5}  {:>24}  {:>24}  {:>12}  {:>9}",
        "request", "calls", "handler p50/p90/p99", "raw p50/p90/p99", "ratio p50/p99", "overhead"
    ));
    let mut warm_json = serde_json::Map::new();
    let mut ssm_warm_total = 0;
    let mut warm_total = 0;
    for w in &warm {
        let r50 = w.handler.p50 / w.raw.p50;
        let r99 = w.handler.p99 / w.raw.p99;
        let calls = if w.calls_min == w.calls_max {
            w.calls_min.to_string()
        } else {
            format!("{}-{}", w.calls_min, w.calls_max)
        };
        out(format!(
            "{:<28} {:>5}  {:>24}  {:>24}  {:>12}  {:>9}",
            w.kind.label(),
            calls,
            format!(
                "{:.0} / {:.0} / {:.0}",
                w.handler.p50, w.handler.p90, w.handler.p99
            ),
            format!("{:.0} / {:.0} / {:.0}", w.raw.p50, w.raw.p90, w.raw.p99),
            format!("{r50:.2} / {r99:.2}"),
            format!("{:+.0}", w.handler.p50 - w.raw.p50),
        ));
        if w.errors > 0 {
            out(format!(
                "  !! {} non-200 answers, first: {}",
                w.errors,
                w.first_error.as_deref().unwrap_or("")
            ));
        }
        ssm_warm_total += w.ssm_calls;
        warm_total += w.n;
        let calls_ok =
            w.calls_min == w.kind.expected_calls() && w.calls_max == w.kind.expected_calls();
        targets.push((
            format!(
                "{}: DynamoDB calls = {} (SPEC §8)",
                w.kind.label(),
                w.kind.expected_calls()
            ),
            calls,
            calls_ok,
        ));
        if w.kind == Kind::PatchEmail {
            targets.push((
                format!("{}: p50 ≤ 1.10 × read + transaction", w.kind.label()),
                format!("{r50:.2} ×"),
                r50 <= 1.10,
            ));
        } else {
            targets.push((
                format!("{}: p50 ≤ 1.10 × raw", w.kind.label()),
                format!("{r50:.2} ×"),
                r50 <= 1.10,
            ));
            targets.push((
                format!("{}: p99 ≤ 1.25 × raw", w.kind.label()),
                format!("{r99:.2} ×"),
                r99 <= 1.25,
            ));
        }
        warm_json.insert(
            w.kind.key().into(),
            json!({
                "requests": w.n,
                "handler_us": pct_json(w.handler),
                "raw_us": pct_json(w.raw),
                "raw_calls": w.kind.raw_label(),
                "ratio_p50": round3(r50),
                "ratio_p99": round3(r99),
                "overhead_p50_us": round1(w.handler.p50 - w.raw.p50),
                "overhead_p99_us": round1(w.handler.p99 - w.raw.p99),
                "dynamodb_calls_per_request": {"min": w.calls_min, "max": w.calls_max, "expected": w.kind.expected_calls()},
                "dynamodb_attempts_per_request": round3(w.attempts_per_req),
                "ssm_calls": w.ssm_calls,
                "non_200": w.errors,
            }),
        );
    }
    let ttl = b.config.keys_ttl.as_secs_f64();
    let warm_secs = started.elapsed().as_secs_f64();
    let ssm_allowed = (warm_secs / ttl).ceil() as u64;
    out("  raw: GET = GetItem; PATCH = one conditional UpdateItem; email = UpdateItem refused with ALL_OLD + TransactWriteItems of 3".into());
    out(format!(
        "  SSM calls during {warm_total} warm requests: {ssm_warm_total} (key cache refreshes, TTL {ttl:.0} s); every PATCH really wrote: {}",
        mark(writes_ok)
    ));
    targets.push((
        "SSM calls on warm requests: 0 (beyond one refresh per key TTL)".into(),
        format!("{ssm_warm_total} in {warm_total}"),
        ssm_warm_total <= ssm_allowed,
    ));
    out(String::new());

    out(format!(
        "CPU per request without I/O: DynamoDB answered in process by aws-smithy-mocks, {} requests each, µs",
        o.requests.max(1000)
    ));
    out(format!(
        "{:<28} {:>5}  {:>22}  {:>22}  {:>14}",
        "request", "calls", "handler p50 / p99", "raw SDK p50 / p99", "our code p50"
    ));
    let mut cpu_json = serde_json::Map::new();
    for (kind, h, r, calls) in &cpu {
        out(format!(
            "{:<28} {:>5}  {:>22}  {:>22}  {:>14}",
            kind.label(),
            calls,
            format!("{:.1} / {:.1}", h.p50, h.p99),
            format!("{:.1} / {:.1}", r.p50, r.p99),
            format!("{:.1}", h.p50 - r.p50)
        ));
        cpu_json.insert(
            kind.key().into(),
            json!({"handler_us": pct_json(*h), "raw_us": pct_json(*r), "ours_p50_us": round1(h.p50 - r.p50), "dynamodb_calls": calls}),
        );
    }
    out(String::new());

    out(format!(
        "Throughput, {} requests in flight ({} each), req/s",
        o.concurrency, o.per_worker
    ));
    let mut tput_json = serde_json::Map::new();
    let cpu = |c: &Option<f64>| c.map(|c| format!("{c:.0}")).unwrap_or("?".into());
    for (kind, h, r, hc, rc) in &tput {
        out(format!(
            "{:<28} handler {:>7.0}   raw {:>7.0}   ratio {:.2}   CPU of this process per request: handler {} µs, raw {} µs",
            kind.label(),
            h,
            r,
            h / r,
            cpu(hc),
            cpu(rc)
        ));
        tput_json.insert(
            kind.key().into(),
            json!({"handler_rps": round1(*h), "raw_rps": round1(*r), "ratio": round3(h / r),
                   "handler_cpu_us_per_request": hc.map(round1), "raw_cpu_us_per_request": rc.map(round1)}),
        );
    }
    out(
        "  (DynamoDB Local shares the 2 cores: a handler that needs more CPU per request leaves less to it)"
            .into(),
    );
    out(String::new());

    let cfg_med = median(&rt.config_load);
    let ssm_f = median(&rt.ssm_fresh);
    let ssm_w = median(&rt.ssm_warm);
    let ddb_f = median(&rt.ddb_fresh);
    let ddb_w = median(&rt.ddb_warm);
    out(format!("Unavoidable init calls, median of {}, ms", o.cold));
    out(format!(
        "  SdkConfig load {}   SSM GetParameter fresh client {} (warm {})   DynamoDB DescribeTable fresh client {} (warm {})",
        ms(cfg_med),
        ms(ssm_f),
        ms(ssm_w),
        ms(ddb_f),
        ms(ddb_w)
    ));
    out(String::new());

    let (ai, af, hi, hf) = (
        median(&api_init),
        median(&api_first),
        median(&hello_init),
        median(&hello_first),
    );
    let patch_raw = warm
        .iter()
        .find(|w| w.kind == Kind::PatchName)
        .map(|w| w.raw.p50)
        .unwrap_or(0.0);
    let cold_target = 1.5 * hf + ssm_f + ddb_f + patch_raw;
    out(format!(
        "Cold start, release binaries against a local Runtime API, median of {}, ms",
        o.cold
    ));
    out(format!(
        "{:<28} {:>10} {:>16}",
        "", "exec→next", "exec→response"
    ));
    out(format!(
        "{:<28} {:>10} {:>16}",
        "customers-api (PATCH)",
        ms(ai),
        ms(af)
    ));
    if let Some(other) = &o.compare {
        out(format!(
            "{:<28} {:>10} {:>16}   {}",
            "--compare (PATCH)",
            ms(median(&cmp_init)),
            ms(median(&cmp_first)),
            other.display()
        ));
    }
    out(format!(
        "{:<28} {:>10} {:>16}",
        "hello world (floor)",
        ms(hi),
        ms(hf)
    ));
    out(format!(
        "{:<28} {:>10} {:>16}",
        "ratio",
        format!("{:.1} ×", ai / hi),
        format!("{:.1} ×", af / hf)
    ));
    out(format!(
        "  target: 1.5 × {} (floor) + {} (SSM) + {} (DescribeTable) + {} (UpdateItem) = {} ms",
        ms(hf),
        ms(ssm_f),
        ms(ddb_f),
        ms(patch_raw),
        ms(cold_target)
    ));
    if !cold_problems.is_empty() {
        out(format!(
            "  !! {} cold starts answered non-200, first: {}",
            cold_problems.len(),
            cold_problems[0]
        ));
    }
    targets.push((
        "cold start → first response ≤ 1.5 × floor + SSM + DynamoDB".into(),
        format!("{} ≤ {} ms", ms(af), ms(cold_target)),
        af <= cold_target && cold_problems.is_empty(),
    ));
    if let Some(steps) = &breakdown {
        let total: f64 = steps.iter().map(|(_, us)| us).sum();
        out(format!(
            "  init step by step (examples/init_probe, sequential, medians of {}), ms:",
            o.cold
        ));
        let parts: Vec<String> = steps
            .iter()
            .map(|(k, us)| format!("{k} {}", ms(*us)))
            .collect();
        for chunk in parts.chunks(3) {
            out(format!("    {}", chunk.join("   ")));
        }
        out(format!("    sum {} ms", ms(total)));
    }
    out(String::new());

    let api_hwm = api_s.vm_hwm_kb.unwrap_or(0) as f64 / 1024.0;
    let hello_hwm = hello_s.vm_hwm_kb.unwrap_or(0) as f64 / 1024.0;
    let rt_all = pct(&api_s.warm_ns);
    let rt_hello = pct(&hello_s.warm_ns);
    out(format!(
        "{} invocations through the Runtime API (GET, PATCH name, PATCH address, PATCH email in turn)",
        o.invocations
    ));
    out(format!(
        "  customers-api: peak RSS (VmHWM) {api_hwm:.1} MB, RSS now {:.1} MB; latency event→response p50 {} / p99 {} ms",
        api_s.vm_rss_kb.unwrap_or(0) as f64 / 1024.0,
        ms(rt_all.p50),
        ms(rt_all.p99)
    ));
    for (slot, v) in api_s.warm_by_slot.iter().enumerate() {
        let p = pct(v);
        out(format!(
            "    {:<26} p50 {} / p99 {} ms",
            Kind::ALL[slot].label(),
            ms(p.p50),
            ms(p.p99)
        ));
    }
    out(format!(
        "  hello world:   peak RSS (VmHWM) {hello_hwm:.1} MB; latency p50 {} / p99 {} ms",
        ms(rt_hello.p50),
        ms(rt_hello.p99)
    ));
    if api_s.non_200 > 0 {
        out(format!(
            "  !! {} non-200 answers, first: {}",
            api_s.non_200,
            api_s.first_problem.as_deref().unwrap_or("")
        ));
    }
    targets.push((
        format!("peak RSS after {} invocations < 32 MB", o.invocations),
        format!("{api_hwm:.1} MB"),
        api_s.vm_hwm_kb.is_some() && api_hwm < 32.0,
    ));

    // Package sizes, when `make package` has run.
    let package: Option<Value> = std::fs::read_to_string(&o.package)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    if let Some(p) = &package {
        let bs = p["bootstrap_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0;
        let zs = p["zip_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0;
        targets.push((
            "bootstrap (arm64, stripped) < 8 MB".into(),
            format!("{bs:.2} MB ({})", p["date"].as_str().unwrap_or("?")),
            bs > 0.0 && bs < 8.0,
        ));
        targets.push((
            "zip < 4 MB".into(),
            format!("{zs:.2} MB"),
            zs > 0.0 && zs < 4.0,
        ));
    }
    out(String::new());
    out("Targets (issue 5; goals, not tests)".into());
    for (what, got, ok) in &targets {
        out(format!("  {} {:<62} {}", mark(*ok), what, got));
    }
    if package.is_none() {
        out(format!(
            "  - bootstrap < 8 MB, zip < 4 MB: run `make package` ({} not found)",
            o.package.display()
        ));
    }
    out(String::new());
    out(format!(
        "bench took {:.0} s; JSON: {}",
        started.elapsed().as_secs_f64(),
        o.out.display()
    ));

    let report = json!({
        "date": date,
        "cores": cores,
        "stack": "DynamoDB Local + moto (SSM), 127.0.0.1",
        "requests": o.requests,
        "warmup": o.warmup,
        "warm_us": warm_json,
        "cpu_only_us": cpu_json,
        "throughput": {"in_flight": o.concurrency, "per_worker": o.per_worker, "by_request": tput_json},
        "init_calls_ms": {
            "samples": o.cold,
            "sdk_config_load": round3(cfg_med / 1000.0),
            "ssm_get_parameter_fresh": round3(ssm_f / 1000.0),
            "ssm_get_parameter_warm": round3(ssm_w / 1000.0),
            "dynamodb_describe_table_fresh": round3(ddb_f / 1000.0),
            "dynamodb_describe_table_warm": round3(ddb_w / 1000.0),
        },
        "cold_start_ms": {
            "samples": o.cold,
            "customers_api": {"init": round3(ai / 1000.0), "first_response": round3(af / 1000.0),
                "init_p90": round3(pct(&api_init).p90 / 1000.0), "first_response_p90": round3(pct(&api_first).p90 / 1000.0)},
            "hello": {"init": round3(hi / 1000.0), "first_response": round3(hf / 1000.0),
                "init_p90": round3(pct(&hello_init).p90 / 1000.0), "first_response_p90": round3(pct(&hello_first).p90 / 1000.0)},
            "compare": o.compare.as_ref().map(|p| json!({"bin": p.display().to_string(),
                "init": round3(median(&cmp_init) / 1000.0), "first_response": round3(median(&cmp_first) / 1000.0)})),
            "ratio_init": round3(ai / hi),
            "ratio_first_response": round3(af / hf),
            "target_first_response": round3(cold_target / 1000.0),
            "non_200": cold_problems.len(),
        },
        "init_steps_ms": breakdown.as_ref().map(|steps| steps.iter().map(|(k, us)| (k.clone(), json!(round3(us / 1000.0)))).collect::<serde_json::Map<_, _>>()),
        "runtime_api": {
            "invocations": o.invocations,
            "customers_api": {
                "vm_hwm_mb": round3(api_hwm),
                "vm_rss_mb": round3(api_s.vm_rss_kb.unwrap_or(0) as f64 / 1024.0),
                "latency_us": pct_json(rt_all),
                "by_request_us": Kind::ALL.iter().enumerate().map(|(i, k)| (k.key().to_owned(), pct_json(pct(&api_s.warm_by_slot[i])))).collect::<serde_json::Map<_, _>>(),
                "non_200": api_s.non_200,
            },
            "hello": {"vm_hwm_mb": round3(hello_hwm), "latency_us": pct_json(rt_hello)},
        },
        "package": package,
        "targets": targets.iter().map(|(w, g, ok)| json!({"target": w, "measured": g, "met": ok})).collect::<Vec<_>>(),
    });
    std::fs::write(&o.out, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("{}", lines.join("\n"));

    // Leave the shared stack clean.
    let _ = b.admin.delete_table().table_name(&b.table).send().await;
    let _ = aws_sdk_ssm::Client::new(&init::sdk_config(&b.config).await)
        .delete_parameter()
        .name(&b.param)
        .send()
        .await;
    Ok(())
}
