//! The change-events function (issue 15) beside the raw SDK `PutEvents`
//! calls doing the same work (issue 18): a stream batch of `BATCH` MODIFY
//! records (one per customer, as template.yaml's `BatchSize: 100` delivers
//! them) through `events::handle`, against the same events already built
//! and sent in calls of 10. Against moto (wall time per batch) and with
//! `PutEvents` answered in process (CPU per record); `PutEvents` calls per
//! record from a counter on the client.

use std::time::Instant;

use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use customers_api::events::{self, EventsApp};
use customers_api::startup::events::{EventsConfig, app};
use customers_api::startup::init;
use serde_json::json;

use crate::Res;
use crate::call_counter::Counter;
use crate::raw::s;
use crate::setup::{Bench, seeded_item};
use crate::stats::{Pct, ns, pct};

pub(crate) const BATCH: usize = 100;

pub(crate) struct EventsRow {
    pub(crate) batches: usize,
    /// Per batch of `BATCH`, µs: against moto.
    pub(crate) handler: Pct,
    pub(crate) raw: Pct,
    /// Per batch, µs: `PutEvents` answered in process.
    pub(crate) cpu_handler: Pct,
    pub(crate) cpu_raw: Pct,
    /// Per batch, µs: the batch's JSON read into the event type, which the
    /// runtime does before the handler runs.
    pub(crate) parse: Pct,
    pub(crate) handler_calls_per_record: f64,
    pub(crate) raw_calls_per_record: f64,
    pub(crate) published_per_batch: usize,
}

/// A MODIFY record of customer `id`: `base` at `version`, then renamed at
/// `version + 1`, as a DynamoDB stream with NEW_AND_OLD_IMAGES delivers it.
fn record(base: &crate::setup::Item, id: &str, version: u64, seq: usize) -> serde_json::Value {
    let image = |v: u64, name: &str| {
        let mut it = base.clone();
        it.insert("pk".into(), s(format!("customer#{id}")));
        it.insert("customerId".into(), s(id));
        it.insert("name".into(), s(name));
        it.insert("version".into(), AttributeValue::N(v.to_string()));
        it.insert(
            "updatedAt".into(),
            s(format!("2026-12-02T06:00:{:02}.{:06}Z", v % 60, seq)),
        );
        serde_json::to_value(serde_dynamo::Item::from(it)).unwrap_or_default()
    };
    json!({
        "eventID": format!("e-{seq}"),
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/customers/stream/x",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_442_400.0,
            "Keys": {"pk": {"S": format!("customer#{id}")}},
            "OldImage": image(version, "Before Rename"),
            "NewImage": image(version + 1, "After Rename"),
            "SequenceNumber": format!("{:021}", seq),
            "SizeBytes": 600,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

fn batch(base: &crate::setup::Item, round: usize) -> Res<Event> {
    Ok(serde_json::from_value(batch_json(base, round))?)
}

fn batch_json(base: &crate::setup::Item, round: usize) -> serde_json::Value {
    let records: Vec<_> = (0..BATCH)
        .map(|j| {
            record(
                base,
                &format!("ev-{j}"),
                10 + round as u64,
                round * BATCH + j,
            )
        })
        .collect();
    json!({ "Records": records })
}

/// `n` stream batches as the Runtime API hands them to the function, for a
/// session of the `customers-events` binary; rounds after the in-process
/// rows', so that every event is new.
pub(crate) async fn stream_batches(b: &Bench, n: usize) -> Res<Vec<String>> {
    let base = seeded_item(b, "bench-h").await?;
    Ok((0..n)
        .map(|i| batch_json(&base, 1_000 + i).to_string())
        .collect())
}

fn events_app(client: aws_sdk_eventbridge::Client) -> Res<EventsApp> {
    let config = EventsConfig::from_lookup(|k| match k {
        "EVENT_BUS_NAME" => Some("default".to_owned()),
        _ => None,
    })?;
    Ok(app(&config, client))
}

/// The raw side: the batch's entries, built beforehand, in calls of 10.
async fn raw_put(client: &aws_sdk_eventbridge::Client, entries: &[Vec<Entry>]) -> Res<usize> {
    let mut ok = 0;
    for call in entries {
        let out = client
            .put_events()
            .set_entries(Some(call.clone()))
            .send()
            .await?;
        ok += call.len() - out.failed_entry_count as usize;
    }
    Ok(ok)
}

type Entry = aws_sdk_eventbridge::types::PutEventsRequestEntry;

fn entries_of(ev: &Event, app: &EventsApp) -> Res<Vec<Vec<Entry>>> {
    let mut out = Vec::new();
    for (i, rec) in ev.records.iter().enumerate() {
        let c = events::change::change_of(rec)
            .map_err(|e| format!("record {i}: {e}"))?
            .ok_or("a record without a change")?;
        out.push(events::publish::Outgoing::new(i, &c, app.mode, app.publisher.bus()).entry);
    }
    Ok(out
        .chunks(events::publish::MAX_ENTRIES)
        .map(<[Entry]>::to_vec)
        .collect())
}

pub(crate) async fn events_rows(b: &Bench, batches: usize) -> Res<EventsRow> {
    let base = seeded_item(b, "bench-h").await?;
    let sdk = init::sdk_config(&b.config).await;
    let count = Counter::default();
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(count.clone())
            .build(),
    );
    let ev_app = events_app(client.clone())?;
    let warmup = 3.min(batches);
    let (mut h, mut r) = (Vec::new(), Vec::new());
    let (mut h_calls, mut r_calls) = (0, 0);
    let mut published = usize::MAX;
    for round in 0..warmup + batches {
        let ev = batch(&base, round)?;
        let entries = entries_of(&ev, &ev_app)?;
        let c0 = count.ops();
        let t = Instant::now();
        let (_, summary) = events::handle(&ev_app, &ev, None).await;
        let hd = t.elapsed();
        let c1 = count.ops();
        let t = Instant::now();
        let ok = raw_put(&client, &entries).await?;
        let rd = t.elapsed();
        let c2 = count.ops();
        if summary.published != BATCH || ok != BATCH {
            return Err(format!(
                "events: {} published by the function, {ok} by the raw calls, of {BATCH}",
                summary.published
            )
            .into());
        }
        if round >= warmup {
            h.push(ns(hd));
            r.push(ns(rd));
            h_calls += c1 - c0;
            r_calls += c2 - c1;
            published = published.min(summary.published);
        }
    }

    // CPU: PutEvents answered in process, every entry accepted.
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let put = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(|req| {
        let n = req.entries().len();
        PutEventsOutput::builder()
            .failed_entry_count(0)
            .set_entries(Some(
                (0..n)
                    .map(|k| {
                        PutEventsResultEntry::builder()
                            .event_id(format!("m-{k}"))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    });
    let mocked = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&put]);
    let mock_app = events_app(mocked.clone())?;
    let cpu_rounds = (batches * 5).max(50);
    let (mut ch, mut cr, mut cp) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..warmup + cpu_rounds {
        let text = batch_json(&base, round).to_string();
        let t = Instant::now();
        let ev: Event = serde_json::from_str(&text)?;
        let pd = t.elapsed();
        let entries = entries_of(&ev, &mock_app)?;
        let t = Instant::now();
        let (_, summary) = events::handle(&mock_app, &ev, None).await;
        let hd = t.elapsed();
        let t = Instant::now();
        raw_put(&mocked, &entries).await?;
        let rd = t.elapsed();
        if summary.published != BATCH {
            return Err("events (mocked): not every event published".into());
        }
        if round >= warmup {
            ch.push(ns(hd));
            cr.push(ns(rd));
            cp.push(ns(pd));
        }
    }
    let records = (batches * BATCH) as f64;
    Ok(EventsRow {
        batches,
        handler: pct(&h),
        raw: pct(&r),
        cpu_handler: pct(&ch),
        cpu_raw: pct(&cr),
        parse: pct(&cp),
        handler_calls_per_record: h_calls as f64 / records,
        raw_calls_per_record: r_calls as f64 / records,
        published_per_batch: published,
    })
}
