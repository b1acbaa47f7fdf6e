//! In-process measurements: the warm path against the raw calls, CPU per
//! request with DynamoDB answered by mocks, and throughput with requests in
//! flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use customers_api::http::{RequestCtx, handle_with};
use customers_api::startup::config::Config;
use customers_api::startup::init;

use crate::Res;
use crate::call_counter::Used;
use crate::events::{Kind, body_text, event, request};
use crate::raw::{Raw, s};
use crate::setup::Bench;
use crate::stats::{Pct, ns, pct};

type Item = HashMap<String, AttributeValue>;

pub(crate) struct Warm {
    pub(crate) kind: Kind,
    pub(crate) handler: Pct,
    pub(crate) raw: Pct,
    pub(crate) calls_min: u32,
    pub(crate) calls_max: u32,
    pub(crate) attempts_per_req: f64,
    pub(crate) ssm_calls: u64,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) n: usize,
    /// Request units over the `n` measured requests (handler, raw).
    pub(crate) handler_units: Used,
    pub(crate) raw_units: Used,
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

/// `offset` shifts the request numbers (the written values alternate with
/// them): the TLS pass continues where the plain one ended.
pub(crate) async fn warm_path(
    b: &Bench,
    kind: Kind,
    warmup: usize,
    n: usize,
    offset: usize,
) -> Res<Warm> {
    let (hid, rid) = kind.ids();
    let mut h = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    let (mut cmin, mut cmax) = (u32::MAX, 0);
    let mut errors = 0;
    let mut first_error = None;
    let mut ssm_calls = 0;
    let mut attempts = 0;
    let (mut hu, mut ru) = (Used::default(), Used::default());
    for i in offset..offset + warmup + n {
        let ev = event(kind, hid, i);
        let measured = i >= offset + warmup;
        let mut raw_u = Used::default();
        // Alternate which goes first, so neither always follows the other.
        let raw_first = i % 2 == 1;
        let mut raw_d = Duration::ZERO;
        if raw_first {
            let u0 = b.capacity.used();
            let t = Instant::now();
            b.raw.run(kind, rid, i).await?;
            raw_d = t.elapsed();
            raw_u = b.capacity.used() - u0;
        }
        let (ssm0, att0) = (b.ssm_count.ops(), b.ddb_count.attempts());
        let u0 = b.capacity.used();
        let (d, calls, status, text) = handler_once(b, &ev, format!("bench-{i}")).await?;
        let h_u = b.capacity.used() - u0;
        let (ssm1, att1) = (b.ssm_count.ops(), b.ddb_count.attempts());
        if !raw_first {
            let u0 = b.capacity.used();
            let t = Instant::now();
            b.raw.run(kind, rid, i).await?;
            raw_d = t.elapsed();
            raw_u = b.capacity.used() - u0;
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
            hu += h_u;
            ru += raw_u;
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
        handler_units: hu,
        raw_units: ru,
    })
}

// --- CPU per request, without I/O ----------------------------------------------

/// The handler and the raw calls with DynamoDB answered in process by
/// `aws-smithy-mocks` (the SDK still builds and checks each request): what
/// is left is CPU, and the difference is what our code costs per request.
pub(crate) async fn cpu_only(
    b: &Bench,
    warmup: usize,
    n: usize,
) -> Res<Vec<(Kind, Pct, Pct, u32)>> {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let mut item = crate::setup::seeded_item(b, "bench-h").await?;
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
    // The list pages: the index keys of 101 customers, then the customers
    // themselves, each a copy of bench-h under its own id.
    let (keys, customers) = page_items(&item);
    let (k21, k101) = (keys[..21].to_vec(), keys);
    let query = |n: i32, keys: Vec<Item>| {
        mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(move |r| r.limit() == Some(n))
            .then_output(move || QueryOutput::builder().set_items(Some(keys.clone())).build())
    };
    let (q21, q101) = (query(21, k21), query(101, k101));
    let batch = |n: usize, items: Vec<Item>| {
        mock!(aws_sdk_dynamodb::Client::batch_get_item)
            .match_requests(move |r| {
                r.request_items()
                    .and_then(|m| m.values().next())
                    .is_some_and(|k| k.keys().len() == n)
            })
            .then_output(move || {
                BatchGetItemOutput::builder()
                    .responses(TABLE_IN_MOCKS, items.clone())
                    .build()
            })
    };
    let (b20, b100) = (
        batch(20, customers[..20].to_vec()),
        batch(100, customers[..100].to_vec()),
    );
    let ddb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&refuse, &update, &get, &tx, &q21, &q101, &b20, &b100]
    );
    // Keys from moto as usual, cached for longer than this section runs.
    let env: HashMap<&str, &str> = HashMap::from([
        ("TABLE_NAME", TABLE_IN_MOCKS),
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
        table: TABLE_IN_MOCKS.to_owned(),
    };
    let mut out = Vec::new();
    for kind in Kind::ALL.into_iter().chain([Kind::Page20, Kind::Page100]) {
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

/// The table name the mocked client's answers are keyed by.
const TABLE_IN_MOCKS: &str = "customers-mocked";

/// 101 index keys (newest first) and the 101 customers they name.
fn page_items(template: &Item) -> (Vec<Item>, Vec<Item>) {
    let (mut keys, mut customers) = (Vec::new(), Vec::new());
    for j in 0..101 {
        let id = format!("cpu-page-{j:03}");
        let position = format!("2026-01-01T00:00:{:02}.{:06}Z#{id}", 59 - j / 2, j);
        let pk = s(format!("customer#{id}"));
        let mut c = template.clone();
        c.insert("pk".into(), pk.clone());
        c.insert("customerId".into(), s(id));
        c.insert("listSk".into(), s(position.clone()));
        customers.push(c);
        keys.push(HashMap::from([
            ("pk".to_owned(), pk),
            ("listPk".to_owned(), s("customer")),
            ("listSk".to_owned(), s(position)),
        ]));
    }
    (keys, customers)
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

pub(crate) struct Tput {
    pub(crate) rps: f64,
    /// CPU time of this process per request, µs.
    pub(crate) cpu_us: Option<f64>,
}

/// `round` shifts the alternating values so that a round never starts by
/// writing the value the previous one ended with.
pub(crate) async fn throughput(
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
