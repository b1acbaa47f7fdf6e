//! Change events (SPEC §13) through the real stream of DynamoDB Local: the
//! API's handler writes, the test reads the table's stream with the SDK as
//! Lambda's event source mapping would, hands the records to the events
//! function's handler as a Lambda stream event, and that publishes to moto's
//! EventBridge, whose rule forwards to an SQS queue the test reads.
//! `PutEvents` failures (which moto does not produce) are injected with
//! `aws-smithy-mocks` in the second half.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_eventbridge::types::error::InternalException;
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
use common::{TestApp, unique};
use customers_api::events::detail::Mode;
use customers_api::events::publish::{Publisher, Retry};
use customers_api::events::{EventsApp, Summary, handle};
use customers_api::startup::events::{EventsConfig, app};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The rig: the stream as Lambda reads it, and a bus whose rule feeds a queue
// ---------------------------------------------------------------------------

fn require_event_endpoints() {
    for var in [
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    ] {
        if std::env::var(var).map_or(true, |v| v.is_empty()) {
            panic!(
                "\n\n{var} is not set: the events tests need moto's EventBridge and SQS and \
                 DynamoDB Local's streams.\nRun `make test`, or start a stack with \
                 `eval \"$(make -s stack-up)\"` and then run `cargo test`.\n\n"
            );
        }
    }
}

/// Every record of the table's stream, read shard by shard from where the
/// last read stopped, shaped as Lambda hands them to a function.
struct Stream {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    iterators: HashMap<String, String>,
}

impl Stream {
    async fn open(t: &TestApp) -> Stream {
        require_event_endpoints();
        let table = t
            .ddb
            .describe_table()
            .table_name(&t.table)
            .send()
            .await
            .expect("DescribeTable");
        let arn = table
            .table()
            .and_then(|d| d.latest_stream_arn())
            .expect("the test table has a stream (tests/common create_table)")
            .to_owned();
        Stream {
            client: aws_sdk_dynamodbstreams::Client::new(&common::sdk().await),
            arn,
            iterators: HashMap::new(),
        }
    }

    async fn read(&mut self) -> Vec<Value> {
        let desc = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .expect("DescribeStream");
        let shards: Vec<String> = desc
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for shard in shards {
            let mut it = match self.iterators.remove(&shard) {
                Some(it) => it,
                None => self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.arn)
                    .shard_id(&shard)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .expect("GetShardIterator")
                    .shard_iterator()
                    .expect("an iterator")
                    .to_owned(),
            };
            loop {
                let page = self
                    .client
                    .get_records()
                    .shard_iterator(&it)
                    .send()
                    .await
                    .expect("GetRecords");
                let n = page.records().len();
                out.extend(page.records().iter().map(|r| lambda_record(r, &self.arn)));
                match page.next_shard_iterator() {
                    Some(next) => it = next.to_owned(),
                    None => break,
                }
                if n == 0 {
                    break;
                }
            }
            self.iterators.insert(shard, it);
        }
        out
    }
}

/// A stream record as the event source mapping delivers it.
fn lambda_record(r: &aws_sdk_dynamodbstreams::types::Record, arn: &str) -> Value {
    let image = |i: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        i.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap())
    };
    let s = r.dynamodb().expect("a stream record");
    let mut d = json!({
        "ApproximateCreationDateTime": s.approximate_creation_date_time().map(|t| t.as_secs_f64()),
        "Keys": image(s.keys()),
        "SequenceNumber": s.sequence_number(),
        "SizeBytes": s.size_bytes(),
        "StreamViewType": s.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(i) = image(s.new_image()) {
        d["NewImage"] = i;
    }
    if let Some(i) = image(s.old_image()) {
        d["OldImage"] = i;
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": r.event_version(),
        "eventSource": r.event_source(),
        "awsRegion": r.aws_region(),
        "eventSourceARN": arn,
        "dynamodb": d,
    })
}

fn batch(records: &[Value]) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a Lambda DynamoDB stream event")
}

fn seq(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn is_customer_record(record: &Value) -> bool {
    let d = &record["dynamodb"];
    d["NewImage"]["kind"]["S"] == "customer" || d["OldImage"]["kind"]["S"] == "customer"
}

fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

/// A bus on moto with a rule that forwards every event of this service to
/// its own queue.
struct Bus {
    name: String,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    sdk: aws_config::SdkConfig,
}

impl Bus {
    async fn new() -> Bus {
        require_event_endpoints();
        let sdk = common::sdk().await;
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let name = unique("customers");
        eb.create_event_bus()
            .name(&name)
            .send()
            .await
            .expect("CreateEventBus on moto");
        let queue = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("CreateQueue on moto")
            .queue_url()
            .unwrap()
            .to_owned();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap();
        eb.put_rule()
            .name("to-queue")
            .event_bus_name(&name)
            .event_pattern(json!({"source": ["customers-api"]}).to_string())
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule("to-queue")
            .event_bus_name(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Bus {
            name,
            sqs,
            queue,
            sdk,
        }
    }

    fn app(&self, mode: Mode) -> EventsApp {
        let config = EventsConfig::from_lookup(|k| match k {
            "EVENT_BUS_NAME" => Some(self.name.clone()),
            "EVENT_DETAIL" => Some(mode.as_str().to_owned()),
            _ => None,
        })
        .unwrap();
        app(&config, aws_sdk_eventbridge::Client::new(&self.sdk))
    }

    /// Every message on the queue, in arrival order: (raw body, envelope).
    async fn drain(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("ReceiveMessage");
            if got.messages().is_empty() {
                return out;
            }
            for m in got.messages() {
                let body = m.body().unwrap_or_default().to_owned();
                let v: Value = serde_json::from_str(&body).expect("an EventBridge envelope");
                out.push((body, v));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// Hands the records to the handler in batches of `size`, as Lambda would,
/// and checks that each batch was delivered whole.
async fn deliver(app: &EventsApp, records: &[Value], size: usize) -> Summary {
    let mut total = Summary::default();
    for chunk in records.chunks(size) {
        let (response, s) = handle(app, &batch(chunk), None).await;
        assert_eq!(failures(&response), Vec::<String>::new(), "{s:?}");
        total.records += s.records;
        total.published += s.published;
        total.skipped += s.skipped;
        total.failed += s.failed;
    }
    total
}

// ---------------------------------------------------------------------------
// A customer's life on the bus
// ---------------------------------------------------------------------------

/// Writes through the API: every kind of change, plus writes that must
/// produce no event. Returns the customer's data after each committed
/// version (index 0 is version 1), and the customer id.
async fn life(t: &TestApp) -> (String, Vec<Value>) {
    let id = unique("cust");
    let mut states = Vec::new();
    let created = t
        .seed(json!({
            "customerId": id,
            "name": "Ada Lovelace",
            "email": "ada.lovelace@example.com",
            "phone": "+15555550123",
            "address": {"line1": "12 Analytical Street", "city": "Oldtown"},
            "metadata": {"tier": "gold-tier", "source": "import-source"},
            "tags": ["tag-alpha"],
        }))
        .await;
    states.push(created);
    for body in [
        json!({"name": "Ada King"}),
        json!({"address": {"city": "Newtown"}}),
        json!({"metadata": {"tier": "platinum-tier"}}),
        json!({"tags": ["tag-alpha", "tag-beta"]}),
        json!({"phone": null}),
        json!({"email": "countess.ada@example.com"}),
    ] {
        let r = t.patch(&id, body).await;
        r.ok(200);
        states.push(r.data().clone());
    }
    // A PATCH that changes nothing writes nothing.
    let noop = t.patch(&id, json!({"name": "Ada King"})).await;
    noop.ok(200);
    assert_eq!(noop.etag(), "\"7\"");
    // A keyed write puts its idempotency record in the same transaction;
    // its replay writes nothing.
    let keyed = [
        ("content-type", "application/json"),
        ("idempotency-key", "events-key-1"),
    ];
    let r = t.patch_with(&id, r#"{"notes":"keyed-note"}"#, &keyed).await;
    r.ok(200);
    states.push(r.data().clone());
    let replay = t.patch_with(&id, r#"{"notes":"keyed-note"}"#, &keyed).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    t.delete(&id, &[]).await.ok(204);
    (id, states)
}

#[tokio::test]
async fn every_committed_change_reaches_the_queue_once_in_version_order() {
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    let bus = Bus::new().await;
    let (id, states) = life(&t).await;
    let records = stream.read().await;
    // 9 versions of the customer; the email's sentinel put (POST), moved
    // (put + delete) and released (DELETE); the idempotency record.
    assert_eq!(records.len(), 14, "{records:#?}");
    let summary = deliver(&bus.app(Mode::Full), &records, 4).await;
    assert_eq!(
        (
            summary.records,
            summary.published,
            summary.skipped,
            summary.failed
        ),
        (14, 9, 5, 0)
    );

    let got = bus.drain().await;
    let envelopes: Vec<&Value> = got.iter().map(|(_, v)| v).collect();
    let kinds: Vec<&str> = envelopes
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    let mut want = vec!["customer.created"];
    want.extend(["customer.updated"; 7]);
    want.push("customer.deleted");
    assert_eq!(kinds, want);
    for (n, e) in envelopes.iter().enumerate() {
        let d = &e["detail"];
        let version = n as u64 + 1;
        assert_eq!(e["source"], "customers-api");
        assert_eq!(d["id"], json!(format!("{id}:{version}")));
        assert_eq!(d["customerId"], json!(id));
        assert_eq!(d["version"], json!(version));
    }
    let detail = |n: usize| &envelopes[n]["detail"];
    // created: the customer as GET showed it; no changed/previous.
    assert_eq!(detail(0)["data"], states[0]);
    assert_eq!(detail(0)["occurredAt"], states[0]["createdAt"]);
    assert!(detail(0).get("changed").is_none() && detail(0).get("previous").is_none());
    // updated: what changed, what it was, and the new state.
    let expect: [(&[&str], Value); 7] = [
        (&["name"], json!({"name": "Ada Lovelace"})),
        (&["address.city"], json!({"address": {"city": "Oldtown"}})),
        (
            &["metadata.source", "metadata.tier"],
            json!({"metadata": {"source": "import-source", "tier": "gold-tier"}}),
        ),
        (&["tags"], json!({"tags": ["tag-alpha"]})),
        (&["phone"], json!({"phone": "+15555550123"})),
        (&["email"], json!({"email": "ada.lovelace@example.com"})),
        (&["notes"], json!({"notes": null})),
    ];
    for (k, (changed, previous)) in expect.iter().enumerate() {
        let d = detail(k + 1);
        assert_eq!(d["changed"], json!(changed), "version {}", k + 2);
        assert_eq!(d["previous"], *previous, "version {}", k + 2);
        assert_eq!(d["data"], states[k + 1], "version {}", k + 2);
        assert_eq!(d["occurredAt"], states[k + 1]["updatedAt"]);
    }
    // deleted: no data, the last state in previous, version = last + 1.
    assert_eq!(detail(8)["data"], Value::Null);
    assert_eq!(detail(8)["previous"], states[7]);
    assert!(detail(8).get("changed").is_none());

    // Lambda delivers a batch again after a failure: the same ids (and the
    // same events) come out, so a consumer drops the copies.
    deliver(&bus.app(Mode::Full), &records, 14).await;
    let again = bus.drain().await;
    let details = |v: &[(String, Value)]| {
        v.iter()
            .map(|(_, e)| e["detail"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(details(&again), details(&got));
}

/// Every string value the life above wrote, personal or not.
const VALUES: &[&str] = &[
    "Ada Lovelace",
    "Ada King",
    "ada.lovelace@example.com",
    "countess.ada@example.com",
    "+15555550123",
    "12 Analytical Street",
    "Oldtown",
    "Newtown",
    "gold-tier",
    "platinum-tier",
    "import-source",
    "tag-alpha",
    "tag-beta",
    "keyed-note",
];

/// Every string leaf of a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn each_detail_mode_carries_only_what_it_allows() {
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    let (_, states) = life(&t).await;
    let records = stream.read().await;
    let mut by_mode = HashMap::new();
    for mode in [Mode::Full, Mode::Changes, Mode::Ids] {
        let bus = Bus::new().await;
        deliver(&bus.app(mode), &records, 100).await;
        let got = bus.drain().await;
        assert_eq!(got.len(), 9, "{mode:?}");
        by_mode.insert(mode, got);
    }

    // ids: no values at all, anywhere in what reaches the queue.
    for (body, e) in &by_mode[&Mode::Ids] {
        for v in VALUES {
            assert!(!body.contains(v), "`{v}` in an ids event: {body}");
        }
        let keys: Vec<&str> = e["detail"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let allowed = ["id", "customerId", "version", "occurredAt", "changed"];
        assert!(keys.iter().all(|k| allowed.contains(k)), "{keys:?}");
    }
    let full = &by_mode[&Mode::Full];
    for (k, (_, e)) in by_mode[&Mode::Ids].iter().enumerate() {
        assert_eq!(e["detail"]["changed"], full[k].1["detail"]["changed"]);
    }

    // changes: no `data`; an update carries the changed members' values and
    // nothing else of the customer.
    for (k, (body, e)) in by_mode[&Mode::Changes].iter().enumerate() {
        let d = &e["detail"];
        let f = &full[k].1["detail"];
        assert!(d.get("data").is_none(), "{body}");
        match e["detail-type"].as_str().unwrap() {
            "customer.created" => assert_eq!(d["current"], f["data"]),
            "customer.deleted" => assert_eq!(d["previous"], f["previous"]),
            _ => {
                assert_eq!(
                    (&d["changed"], &d["previous"]),
                    (&f["changed"], &f["previous"])
                );
                let mut carried = Vec::new();
                strings(&d["previous"], &mut carried);
                strings(&d["current"], &mut carried);
                for v in VALUES {
                    assert!(
                        body.contains(v) == carried.iter().any(|c| c == v),
                        "`{v}` in {body}"
                    );
                }
                let mut forward = states[k - 1].clone();
                json_patch::merge(&mut forward, &d["current"]);
                customers_api::customer::patch::prune(&mut forward);
                let mut after = states[k].clone();
                customers_api::customer::patch::prune(&mut after);
                forward["updatedAt"] = after["updatedAt"].clone();
                assert_eq!(forward, after, "current applied to version {k}");
            }
        }
    }
    // full: the customer in every event but the deletion.
    for (_, e) in full {
        let has_data = !e["detail"]["data"].is_null();
        assert_eq!(has_data, e["detail-type"] != "customer.deleted");
    }
}

// ---------------------------------------------------------------------------
// PutEvents failures, injected (moto accepts every well-formed entry)
// ---------------------------------------------------------------------------

/// What the mocked EventBridge refuses.
#[derive(Default, Clone)]
struct Faults {
    /// Calls (counted from 0) refused whole.
    calls: HashSet<usize>,
    /// Every call refused whole.
    all_calls: bool,
    /// Event id → how many of its tries are refused entry by entry.
    entries: HashMap<String, u32>,
}

/// What it saw: per call, each entry's event id and whether it was accepted.
#[derive(Default, Debug)]
struct Wire {
    calls: Vec<Vec<(String, bool)>>,
    refused: HashMap<String, u32>,
    details: HashMap<String, Value>,
}

impl Wire {
    fn accepted(&self) -> Vec<String> {
        self.calls
            .iter()
            .flatten()
            .filter(|(_, ok)| *ok)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn mocked(faults: Faults) -> (aws_sdk_eventbridge::Client, Arc<Mutex<Wire>>) {
    let wire = Arc::new(Mutex::new(Wire::default()));
    let w = wire.clone();
    let rule = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_response(move |input| {
        let mut w = w.lock().unwrap();
        let call = w.calls.len();
        let mut seen = Vec::new();
        let whole = faults.all_calls || faults.calls.contains(&call);
        let mut out = PutEventsOutput::builder();
        let mut failed = 0;
        for e in input.entries() {
            let detail: Value = serde_json::from_str(e.detail().unwrap()).unwrap();
            let id = detail["id"].as_str().unwrap().to_owned();
            w.details.insert(id.clone(), detail);
            if whole {
                seen.push((id, false));
                continue;
            }
            let refused = w.refused.entry(id.clone()).or_default();
            let refuse = *refused < faults.entries.get(&id).copied().unwrap_or(0);
            if refuse {
                *refused += 1;
                failed += 1;
                out = out.entries(
                    PutEventsResultEntry::builder()
                        .error_code("ThrottlingException")
                        .error_message("Rate exceeded")
                        .build(),
                );
            } else {
                out = out.entries(
                    PutEventsResultEntry::builder()
                        .event_id(unique("ev"))
                        .build(),
                );
            }
            seen.push((id, !refuse));
        }
        w.calls.push(seen);
        if whole {
            MockResponse::Error(PutEventsError::InternalException(
                InternalException::builder().message("injected").build(),
            ))
        } else {
            MockResponse::Output(out.failed_entry_count(failed).build())
        }
    });
    // The SDK's own retries off: every retry the wire sees is ours.
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&rule], |c| c
        .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled()));
    (client, wire)
}

fn faulty_app(client: aws_sdk_eventbridge::Client, attempts: u32) -> EventsApp {
    EventsApp {
        publisher: Publisher::new(client, "customers".into()).with_retry(Retry {
            attempts,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        }),
        mode: Mode::Full,
        telemetry: customers_api::telemetry::Settings::default(),
    }
}

/// The event id a customer's record must produce, read from its image.
fn id_of(record: &Value) -> String {
    let d = &record["dynamodb"];
    let (image, bump) = match d.get("NewImage") {
        Some(i) => (i, 0),
        None => (&d["OldImage"], 1),
    };
    let version: u64 = image["version"]["N"].as_str().unwrap().parse().unwrap();
    format!(
        "{}:{}",
        image["customerId"]["S"].as_str().unwrap(),
        version + bump
    )
}

fn split(id: &str) -> (&str, u64) {
    let (c, v) = id.rsplit_once(':').unwrap();
    (c, v.parse().unwrap())
}

/// The order guarantee, on what the wire saw: no call carries two events of
/// one customer, and a customer's event is sent only once its previous one
/// (when it is in the batch) was accepted.
fn assert_customer_order(wire: &Wire, batch_ids: &HashSet<String>) {
    let mut accepted = HashSet::new();
    for (n, call) in wire.calls.iter().enumerate() {
        let mut customers = HashSet::new();
        for (id, _) in call {
            let (c, v) = split(id);
            assert!(
                customers.insert(c),
                "call {n} carries two events of {c}: {call:?}"
            );
            let prev = format!("{c}:{}", v - 1);
            assert!(
                !batch_ids.contains(&prev) || accepted.contains(&prev),
                "call {n} sends {id} before {prev} was accepted: {:?}",
                wire.calls
            );
        }
        accepted.extend(call.iter().filter(|(_, ok)| *ok).map(|(id, _)| id.clone()));
    }
}

/// Eight customers created, then updates of two of them: 11 events in
/// stream order c0:1 .. c7:1, c0:2, c3:2, c0:3.
async fn fault_records() -> (Vec<Value>, Vec<String>) {
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    let ids: Vec<String> = (0..8).map(|i| unique(&format!("c{i}"))).collect();
    for id in &ids {
        t.seed(json!({"customerId": id, "name": "N"})).await;
    }
    for (who, name) in [(0, "A"), (3, "B"), (0, "C")] {
        t.patch(&ids[who], json!({"name": name})).await.ok(200);
    }
    let records = stream.read().await;
    assert_eq!(records.len(), 11);
    (records, ids)
}

#[tokio::test]
async fn failed_entries_and_calls_are_retried_in_customer_order() {
    let (records, ids) = fault_records().await;
    let order: Vec<String> = records.iter().map(id_of).collect();
    let faults = Faults {
        calls: HashSet::from([0]),
        entries: HashMap::from([(format!("{}:1", ids[1]), 2), (format!("{}:2", ids[0]), 1)]),
        ..Faults::default()
    };
    let (client, wire) = mocked(faults);
    let app = faulty_app(client, 4);
    let (response, summary) = handle(&app, &batch(&records), None).await;
    let wire = wire.lock().unwrap();
    assert_eq!(
        failures(&response),
        Vec::<String>::new(),
        "{:?}",
        wire.calls
    );
    assert_eq!((summary.published, summary.failed), (11, 0));
    // Every event accepted exactly once, whatever was refused on the way.
    let mut accepted = wire.accepted();
    accepted.sort();
    let mut want = order.clone();
    want.sort();
    assert_eq!(accepted, want);
    assert_customer_order(&wire, &order.iter().cloned().collect());
    // The refused call and entries came back: 3 entries refused, 8 in the
    // refused call, all sent again.
    assert_eq!(summary.report.retried, 8 + 3, "{:?}", wire.calls);
    assert_eq!(summary.report.errors["InternalException"], 8);
    assert_eq!(summary.report.errors["ThrottlingException"], 3);
    // At most 10 entries per call.
    assert!(wire.calls.iter().all(|c| c.len() <= 10));
}

#[tokio::test]
async fn what_keeps_failing_is_named_for_redelivery_and_redelivered_with_the_same_ids() {
    let (records, ids) = fault_records().await;
    let stuck = format!("{}:2", ids[3]);
    let (client, wire) = mocked(Faults {
        entries: HashMap::from([(stuck.clone(), u32::MAX)]),
        ..Faults::default()
    });
    let (response, summary) = handle(&faulty_app(client, 3), &batch(&records), None).await;
    let first = std::mem::take(&mut *wire.lock().unwrap());
    // The first record whose event never got on the bus, as the test sees it.
    let accepted: HashSet<String> = first.accepted().into_iter().collect();
    let at = records
        .iter()
        .position(|r| !accepted.contains(&id_of(r)))
        .unwrap();
    assert_eq!(id_of(&records[at]), stuck);
    assert_eq!(failures(&response), vec![seq(&records[at])]);
    assert_eq!(summary.resume_at, Some(at));
    assert_eq!(first.refused[&stuck], 3, "tried as often as configured");
    // Its customer's next event was held back only while it was retried;
    // the others' went on: only the stuck one is not on the bus.
    assert_eq!((summary.published, summary.failed), (10, 1));

    // Lambda delivers the named record and everything after it again.
    let (client, wire) = mocked(Faults::default());
    let (response, _) = handle(&faulty_app(client, 3), &batch(&records[at..]), None).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let second = wire.lock().unwrap();
    let redelivered: Vec<String> = second.accepted();
    let want: Vec<String> = records[at..].iter().map(id_of).collect();
    assert_eq!(redelivered, want);
    // Nothing lost, and what was sent twice is the same event.
    for r in &records {
        let id = id_of(r);
        assert!(
            accepted.contains(&id) || redelivered.contains(&id),
            "{id} lost"
        );
    }
    for id in &redelivered {
        if let Some(d) = first.details.get(id) {
            assert_eq!(&second.details[id], d, "{id} differs when sent again");
        }
    }
}

#[tokio::test]
async fn an_outage_names_the_first_record_and_a_passed_deadline_sends_nothing() {
    let (records, _) = fault_records().await;
    let (client, wire) = mocked(Faults {
        all_calls: true,
        ..Faults::default()
    });
    let (response, summary) = handle(&faulty_app(client, 3), &batch(&records), None).await;
    assert_eq!(failures(&response), vec![seq(&records[0])]);
    assert_eq!((summary.published, summary.failed), (0, 11));
    // The first call's events, three times; nothing after the first one
    // that gave up.
    assert_eq!(wire.lock().unwrap().calls.len(), 3);

    let (client, wire) = mocked(Faults::default());
    let deadline = Some(Instant::now());
    let (response, _) = handle(&faulty_app(client, 3), &batch(&records), deadline).await;
    assert_eq!(failures(&response), vec![seq(&records[0])]);
    assert!(wire.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn an_unreadable_customer_record_stops_the_batch_there() {
    let (mut records, _) = fault_records().await;
    records[5]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    let (client, wire) = mocked(Faults::default());
    let (response, summary) = handle(&faulty_app(client, 3), &batch(&records), None).await;
    assert_eq!(failures(&response), vec![seq(&records[5])]);
    let sent = wire.lock().unwrap().accepted();
    let before: Vec<String> = records[..5].iter().map(id_of).collect();
    assert_eq!(sent, before);
    assert_eq!((summary.published, summary.failed), (5, 1));
}

#[tokio::test]
async fn sentinel_and_idempotency_records_are_skipped_in_code() {
    // The event source mapping filters them out (template.yaml); the
    // function skips them too, if they get through.
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    let id = unique("cust");
    let keyed = [
        ("content-type", "application/json"),
        ("idempotency-key", "k-skip"),
    ];
    let body = json!({"customerId": id, "email": "skip@example.com"}).to_string();
    t.req(
        "POST",
        "/v1/customers",
        &[("authorization", common::WRITE), keyed[0], keyed[1]],
        Some(&body),
    )
    .await
    .ok(201);
    let records = stream.read().await;
    let others: Vec<Value> = records
        .iter()
        .filter(|r| !is_customer_record(r))
        .cloned()
        .collect();
    assert_eq!(
        (records.len(), others.len()),
        (3, 2),
        "customer, sentinel, record"
    );
    let (client, wire) = mocked(Faults::default());
    let (response, summary) = handle(&faulty_app(client, 3), &batch(&others), None).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!((summary.skipped, summary.published), (2, 0));
    assert!(wire.lock().unwrap().calls.is_empty());
}

// ---------------------------------------------------------------------------
// The events function's logs
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_batch_logs_hold_counts_not_customers() {
    let sink = Captured::default();
    let writer = sink.clone();
    customers_api::startup::logging::init_with("debug", move || writer.clone());
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    life(&t).await;
    let mut records = stream.read().await;
    // Delivered, partly refused, and unreadable batches.
    let bus = Bus::new().await;
    // Other tests of this binary log into the same sink: this one's lines
    // are told apart by their service.
    let ours = |mut app: EventsApp| {
        app.telemetry.service = "batch-log-test".into();
        app
    };
    deliver(&ours(bus.app(Mode::Full)), &records, 100).await;
    let (client, _) = mocked(Faults {
        calls: HashSet::from([0]),
        ..Faults::default()
    });
    handle(&ours(faulty_app(client, 1)), &batch(&records), None).await;
    let last = records.iter().rposition(is_customer_record).unwrap();
    records[last]["dynamodb"]["OldImage"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    let (client, _) = mocked(Faults::default());
    handle(&ours(faulty_app(client, 3)), &batch(&records), None).await;

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("stream batch delivered"), "{logs}");
    assert!(logs.contains("stream batch partly delivered"), "{logs}");
    assert!(logs.contains("cannot be read"), "{logs}");
    // Each batch line is valid EMF with the batch's figures (issue 16).
    let customers = records.iter().filter(|r| is_customer_record(r)).count();
    let mut batch_lines = 0;
    let batches = logs
        .lines()
        .filter(|l| l.contains("\"_aws\"") && l.contains("\"service\":\"batch-log-test\""));
    for line in batches {
        let m = common::emf::validate(line).unwrap_or_else(|e| panic!("{e:?}: {line}"));
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(m.namespace, "CustomersApi");
        assert_eq!(m.dimension_names(), vec![vec!["service"]]);
        assert_eq!(m.unit("iteratorAgeMs"), Some("Milliseconds"));
        assert!(m.value("iteratorAgeMs").is_some_and(|a| a >= 0.0), "{line}");
        let (published, failed) = (m.value("eventsPublished"), m.value("eventsFailed"));
        if v["message"] == "stream batch delivered" {
            assert_eq!(v["level"], "INFO");
            assert_eq!(failed, Some(0.0), "{line}");
            assert_eq!(published, Some(customers as f64), "{line}");
        } else {
            assert_eq!(
                v["level"], "WARN",
                "a failing batch survives a WARN log level"
            );
            assert!(failed.is_some_and(|f| f >= 1.0), "{line}");
        }
        batch_lines += 1;
    }
    assert_eq!(batch_lines, 3, "one line per batch:\n{logs}");
    for v in VALUES {
        assert!(!logs.contains(v), "`{v}` in the logs:\n{logs}");
    }
}

// ---------------------------------------------------------------------------
// The event source mapping's filter, as template.yaml writes it
// ---------------------------------------------------------------------------

fn template_filters() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let t: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("template.yaml is YAML");
    let filters = &t["Resources"]["EventsFunction"]["Properties"]["Events"]["TableStream"]["Properties"]
        ["FilterCriteria"]["Filters"];
    filters
        .as_sequence()
        .expect("the stream's event source mapping has filters")
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().expect("a pattern")).unwrap())
        .collect()
}

/// Lambda's filter syntax is EventBridge's event pattern syntax; moto's
/// EventBridge applies it. Each of the template's patterns becomes a rule
/// (on the event's `detail`, where the record is put), and the records of a
/// customer's life go through: the customers' records pass (a record
/// passes when any filter matches), the sentinels' and the idempotency
/// record's do not.
#[tokio::test]
async fn the_templates_filter_passes_customers_records_only() {
    let t = TestApp::new().await;
    let mut stream = Stream::open(&t).await;
    life(&t).await;
    let records = stream.read().await;
    let bus = Bus::new().await;
    let eb = aws_sdk_eventbridge::Client::new(&bus.sdk);
    let queue_arn = bus
        .sqs
        .get_queue_attributes()
        .queue_url(&bus.queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    let filters = template_filters();
    assert_eq!(filters.len(), 2);
    for (n, pattern) in filters.iter().enumerate() {
        let rule = format!("filter-{n}");
        eb.put_rule()
            .name(&rule)
            .event_bus_name(&bus.name)
            .event_pattern(json!({"source": ["filter-test"], "detail": pattern}).to_string())
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule(&rule)
            .event_bus_name(&bus.name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(&queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    for r in &records {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source("filter-test")
            .detail_type("record")
            .detail(r.to_string())
            .event_bus_name(&bus.name)
            .build();
        let out = eb.put_events().entries(entry).send().await.unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }
    let passed: HashSet<String> = bus
        .drain()
        .await
        .iter()
        .map(|(_, e)| seq(&e["detail"]))
        .collect();
    let customers: HashSet<String> = records
        .iter()
        .filter(|r| is_customer_record(r))
        .map(seq)
        .collect();
    assert_eq!(customers.len(), 9);
    assert_eq!(passed, customers);
}
