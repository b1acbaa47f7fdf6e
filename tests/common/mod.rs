//! Test harness: the real handler against DynamoDB Local and moto (SSM).
//! Each `TestApp` owns a fresh table and keys parameter, so tests run in
//! parallel without seeing each other. Requests are API Gateway events parsed
//! by `lambda_http`, exactly as in Lambda.
#![allow(dead_code)]

pub mod emf;
pub mod lossy;

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_ssm::types::ParameterType;
use customers_api::auth::sha256_hex;
use customers_api::http::{App, RequestCtx, handle_with};
use customers_api::startup::config::Config;
use customers_api::startup::init;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

pub const WRITE: &str = "Bearer local-write-key";
pub const READ: &str = "Bearer local-read-key";

pub fn endpoints() -> (String, String) {
    match (
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB"),
        std::env::var("AWS_ENDPOINT_URL_SSM"),
    ) {
        (Ok(d), Ok(s)) if !d.is_empty() && !s.is_empty() => (d, s),
        _ => panic!(
            "\n\nThe local stack is not configured: AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SSM must \
             point at DynamoDB Local and moto.\nRun `make test`, or start a stack with \
             `eval \"$(make -s stack-up)\"` and then run `cargo test`.\n\n"
        ),
    }
}

pub async fn sdk() -> SdkConfig {
    endpoints();
    aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await
}

pub fn keys_json() -> String {
    json!({"keys": [
        {"id": "local_write", "sha256": sha256_hex("local-write-key"), "scopes": ["customers:read", "customers:write"]},
        {"id": "local_read", "sha256": sha256_hex("local-read-key"), "scopes": ["customers:read"]},
    ]})
    .to_string()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The table as `template.yaml` defines it: hash key `pk` and the
/// keys-only list index `byCreatedAt` (`listPk`, `listSk`).
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    let string_attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let list_index = GlobalSecondaryIndex::builder()
        .index_name("byCreatedAt")
        .key_schema(key("listPk", KeyType::Hash))
        .key_schema(key("listSk", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .unwrap();
    ddb.create_table()
        .table_name(name)
        .attribute_definitions(string_attr("pk"))
        .attribute_definitions(string_attr("listPk"))
        .attribute_definitions(string_attr("listSk"))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(list_index)
        .billing_mode(BillingMode::PayPerRequest)
        // As template.yaml: the change-events function reads this stream.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating table on DynamoDB Local failed (is it running? see `make test`): {e:?}"
            )
        });
}

pub async fn put_keys(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "writing the keys parameter to moto failed (is it running? see `make test`): {e:?}"
            )
        });
}

pub struct Builder {
    env: HashMap<String, String>,
    ddb: Option<aws_sdk_dynamodb::Client>,
    ssm: Option<aws_sdk_ssm::Client>,
    keys: Option<String>,
    warm: bool,
}

impl Builder {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }
    /// Use this DynamoDB client (e.g. with injected faults) for the app.
    pub fn ddb(mut self, c: aws_sdk_dynamodb::Client) -> Self {
        self.ddb = Some(c);
        self
    }
    pub fn ssm(mut self, c: aws_sdk_ssm::Client) -> Self {
        self.ssm = Some(c);
        self
    }
    /// Parameter content; `None` leaves the parameter absent.
    pub fn keys(mut self, v: Option<&str>) -> Self {
        self.keys = v.map(str::to_owned);
        self
    }
    pub fn no_warm(mut self) -> Self {
        self.warm = false;
        self
    }

    pub async fn build(self) -> TestApp {
        let sdk = sdk().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let table = unique("customers");
        let param = format!("/{}/api-keys", unique("test"));
        create_table(&ddb, &table).await;
        if let Some(k) = &self.keys {
            put_keys(&ssm, &param, k).await;
        }
        let mut env = self.env;
        env.insert("TABLE_NAME".into(), table.clone());
        env.insert("API_KEYS_PARAMETER".into(), param.clone());
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test config");
        let app = init::app(
            config,
            self.ddb.unwrap_or(ddb.clone()),
            self.ssm.unwrap_or(ssm.clone()),
        );
        if self.warm {
            init::warm(&app).await;
        }
        TestApp {
            app: Arc::new(app),
            table,
            param,
            ddb,
            ssm,
        }
    }
}

pub struct TestApp {
    pub app: Arc<App>,
    pub table: String,
    pub param: String,
    /// Clients straight to the stack, for arranging and inspecting.
    pub ddb: aws_sdk_dynamodb::Client,
    pub ssm: aws_sdk_ssm::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body exactly as sent, for byte-for-byte comparisons.
    pub raw: String,
    pub calls: u32,
    /// The request's summary line (its EMF metrics included), parsed.
    pub summary: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn etag(&self) -> &str {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    #[track_caller]
    pub fn expect(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "response body: {}",
            self.body
        );
        self
    }
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "response body: {}", self.body);
        self
    }
}

/// An API Gateway HTTP API (payload 2.0) event. A `?` in `path` starts the
/// raw query string (sent as is: encode it yourself).
pub fn event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let h: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String((*v).to_owned())))
        .collect();
    let ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
            "requestId": "test-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1_795_442_400_000u64
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&ev.to_string()).expect("valid API Gateway event")
}

pub fn body_json(b: &Body) -> Value {
    let bytes: &[u8] = match b {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).expect("response body is JSON")
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            env: HashMap::new(),
            ddb: None,
            ssm: None,
            keys: Some(keys_json()),
            warm: true,
        }
    }

    pub async fn new() -> TestApp {
        Self::builder().build().await
    }

    pub async fn send(&self, req: Request) -> Resp {
        let ctx = RequestCtx::new(unique("req"));
        let r = handle_with(&self.app, req, &ctx).await;
        let (parts, body) = r.into_parts();
        let raw = match &body {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        Resp {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body_json(&body),
            raw,
            calls: ctx.calls.get(),
            summary: ctx
                .summary()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null),
        }
    }

    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        self.send(event(method, path, headers, body)).await
    }

    pub async fn post(&self, body: Value) -> Resp {
        self.req(
            "POST",
            "/v1/customers",
            &[
                ("authorization", WRITE),
                ("content-type", "application/json"),
            ],
            Some(&body.to_string()),
        )
        .await
    }

    pub async fn get(&self, id: &str) -> Resp {
        self.req(
            "GET",
            &format!("/v1/customers/{id}"),
            &[("authorization", READ)],
            None,
        )
        .await
    }

    pub async fn patch(&self, id: &str, body: Value) -> Resp {
        self.patch_with(
            id,
            &body.to_string(),
            &[("content-type", "application/json")],
        )
        .await
    }

    pub async fn merge_patch(&self, id: &str, body: Value) -> Resp {
        self.patch_with(
            id,
            &body.to_string(),
            &[("content-type", "application/merge-patch+json")],
        )
        .await
    }

    pub async fn patch_with(&self, id: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("authorization", WRITE)];
        h.extend_from_slice(headers);
        self.req("PATCH", &format!("/v1/customers/{id}"), &h, Some(body))
            .await
    }

    pub async fn delete(&self, id: &str, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("authorization", WRITE)];
        h.extend_from_slice(headers);
        self.req("DELETE", &format!("/v1/customers/{id}"), &h, None)
            .await
    }

    /// `GET /v1/customers?<query>` with the read key (`query` raw, encoded).
    pub async fn list(&self, query: &str) -> Resp {
        let path = if query.is_empty() {
            "/v1/customers".to_owned()
        } else {
            format!("/v1/customers?{query}")
        };
        self.req("GET", &path, &[("authorization", READ)], None)
            .await
    }

    /// Creates a customer and returns its data.
    pub async fn seed(&self, body: Value) -> Value {
        let r = self.post(body).await;
        r.ok(201);
        r.body["data"].clone()
    }

    /// The email invariant over the whole table: `customers-admin check`'s
    /// own code, one message per finding; empty is good.
    pub async fn violations(&self) -> Vec<String> {
        use customers_api::admin::{check, progress::Progress};
        let store = customers_api::store::dynamo::Store::new(self.ddb.clone(), self.table.clone());
        check::run(&store, &check::Options::default(), &Progress::hidden())
            .await
            .expect("scan")
            .findings
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    pub async fn item_count(&self) -> usize {
        let out = self
            .ddb
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan");
        out.items().len()
    }
}

// ---------------------------------------------------------------------------
// customers-admin, the real binary, pointed at this app's table and parameter
// ---------------------------------------------------------------------------

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn finish(o: std::process::Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The command, with the stack's AWS variables inherited from the test.
pub fn admin_cmd(t: &TestApp, args: &[&str]) -> std::process::Command {
    endpoints();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_customers-admin"));
    c.args(["--table", &t.table, "--parameter", &t.param])
        .args(args);
    c
}

pub async fn admin(t: &TestApp, args: &[&str]) -> Run {
    let mut c = admin_cmd(t, args);
    tokio::task::spawn_blocking(move || finish(c.output().expect("run customers-admin")))
        .await
        .expect("join")
}
