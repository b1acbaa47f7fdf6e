//! In-process measurements: the warm path against the raw calls, CPU per
//! request with DynamoDB answered by mocks, and throughput with requests in
//! flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use customers_api::http::{RequestCtx, handle_with};
use customers_api::startup::config::Config;
use customers_api::startup::init;

use crate::Res;
use crate::call_counter::Used;
use crate::events::{Kind, body_text, event, request};
use crate::raw::{Raw, s};
use crate::setup::Bench;
use crate::stats::{Pct, ns, pct};

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
    let ddb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&refuse, &update, &get, &tx]
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
