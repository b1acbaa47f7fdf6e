//! The bench's own table and keys parameter on the local stack, the app built
//! as src/bin/customers-api.rs builds it, and the customers it is measured on.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_ssm::types::ParameterType;
use customers_api::auth::sha256_hex;
use customers_api::http::{App, RequestCtx, handle_with};
use customers_api::startup::config::Config;
use customers_api::startup::init;
use serde_json::json;

use crate::call_counter::{Capacity, Counter};
use crate::events::{body_text, city_of, email_of, name_of, raw_event, request};
use crate::raw::{Raw, s};
use crate::{Res, WRITE_KEY};

pub(crate) struct Bench {
    pub(crate) app: Arc<App>,
    pub(crate) raw: Arc<Raw>,
    pub(crate) ddb_count: Counter,
    pub(crate) ssm_count: Counter,
    /// Request units the handler's and the raw calls' answers report.
    pub(crate) capacity: Capacity,
    pub(crate) table: String,
    pub(crate) param: String,
    pub(crate) config: Config,
    pub(crate) admin: aws_sdk_dynamodb::Client,
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

pub(crate) async fn setup() -> Res<Bench> {
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
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("listPk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("listSk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        // The list index, as template.yaml has it (so POSTs pay for it too).
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("byCreatedAt")
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("listPk")
                        .key_type(KeyType::Hash)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("listSk")
                        .key_type(KeyType::Range)
                        .build()?,
                )
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
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

    build(&config, &sdk, None, &table, &param, admin).await
}

/// The app exactly as src/bin/customers-api.rs assembles it, with a call
/// counter on each client (it only increments an atomic) and the capacity
/// interceptor on the DynamoDB one; `endpoints` (DynamoDB, SSM) overrides the
/// stack's, for the TLS twin.
async fn build(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    endpoints: Option<(String, String)>,
    table: &str,
    param: &str,
    admin: aws_sdk_dynamodb::Client,
) -> Res<Bench> {
    let ddb_count = Counter::default();
    let ssm_count = Counter::default();
    let capacity = Capacity::default();
    let mut ddb_conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(ddb_count.clone())
        .interceptor(capacity.clone());
    let mut ssm_conf = aws_sdk_ssm::config::Builder::from(sdk).interceptor(ssm_count.clone());
    if let Some((d, s)) = &endpoints {
        ddb_conf = ddb_conf.endpoint_url(d);
        ssm_conf = ssm_conf.endpoint_url(s);
    }
    let ddb = aws_sdk_dynamodb::Client::from_conf(ddb_conf.build());
    let ssm = aws_sdk_ssm::Client::from_conf(ssm_conf.build());
    let app = init::app(config.clone(), ddb.clone(), ssm);
    init::warm(&app).await;
    if ssm_count.ops() != 1 {
        return Err("the keys were not fetched during init".into());
    }
    let raw = Raw {
        ddb,
        table: table.to_owned(),
    };
    Ok(Bench {
        app: Arc::new(app),
        raw: Arc::new(raw),
        ddb_count,
        ssm_count,
        capacity,
        table: table.to_owned(),
        param: param.to_owned(),
        config: config.clone(),
        admin,
    })
}

/// The same app, table and keys with clients that go through the TLS
/// proxies (`ddb`, `ssm`: their https URLs).
pub(crate) async fn tls_twin(b: &Bench, ddb: String, ssm: String) -> Res<Bench> {
    let sdk = init::sdk_config(&b.config).await;
    build(
        &b.config,
        &sdk,
        Some((ddb, ssm)),
        &b.table,
        &b.param,
        b.admin.clone(),
    )
    .await
}

/// Seeds a customer through the handler (POST), with an email, an address and
/// a few other members so the item has a realistic size.
pub(crate) async fn seed(app: &App, id: &str) -> Res<()> {
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

pub(crate) async fn version_of(
    admin: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
) -> Res<u64> {
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
pub(crate) type Item = HashMap<String, AttributeValue>;

/// An item's size as DynamoDB reckons it for capacity: each attribute's name
/// plus its value (strings and binaries their bytes, numbers about one byte
/// per two digits plus one, maps and lists 3 bytes plus 1 per element plus
/// their contents, booleans and null 1).
pub(crate) fn item_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
            AttributeValue::Ns(ns) => ns.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(bs) => bs.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// Customer `id`'s stored item (a consistent read), if there is one.
async fn stored(b: &Bench, id: &str) -> Res<Option<Item>> {
    Ok(b.admin
        .get_item()
        .table_name(&b.table)
        .key("pk", s(format!("customer#{id}")))
        .consistent_read(true)
        .send()
        .await?
        .item)
}

/// A seeded customer's stored item; its absence is an error.
pub(crate) async fn seeded_item(b: &Bench, id: &str) -> Res<Item> {
    stored(b, id)
        .await?
        .ok_or_else(|| format!("{id} is missing").into())
}

pub(crate) async fn item_bytes(b: &Bench, id: &str) -> Res<usize> {
    Ok(stored(b, id).await?.as_ref().map_or(0, item_size))
}
