//! The results of a run: printed as a table, with the targets of issue 5
//! beside them, and written as JSON (`--out`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::cold::{RoundTrips, Session};
use crate::events::Kind;
use crate::setup::Bench;
use crate::stats::{Pct, median, ms, pct, pct_json, round1, round3};
use crate::warm::Warm;
use crate::{Opts, Res};

/// Throughput of one kind of request: kind, handler and raw req/s, handler
/// and raw CPU µs per request.
pub(crate) type ThroughputRow = (Kind, f64, f64, Option<f64>, Option<f64>);

/// What `run` measured, handed over whole to `print`.
pub(crate) struct Results {
    pub(crate) started: Instant,
    pub(crate) warm: Vec<Warm>,
    /// bench-h and bench-r are at the version they reach if every PATCH wrote.
    pub(crate) writes_ok: bool,
    /// Per kind: handler and raw µs, DynamoDB calls per request.
    pub(crate) cpu: Vec<(Kind, Pct, Pct, u32)>,
    pub(crate) tput: Vec<ThroughputRow>,
    pub(crate) rt: RoundTrips,
    pub(crate) breakdown: Option<Vec<(String, f64)>>,
    /// Cold starts, ns: exec → first `next` (init), exec → first response.
    pub(crate) api_init: Vec<u64>,
    pub(crate) api_first: Vec<u64>,
    pub(crate) hello_init: Vec<u64>,
    pub(crate) hello_first: Vec<u64>,
    pub(crate) cmp_init: Vec<u64>,
    pub(crate) cmp_first: Vec<u64>,
    pub(crate) cold_problems: Vec<String>,
    /// The `--invocations` sessions.
    pub(crate) api_s: Session,
    pub(crate) hello_s: Session,
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// Prints the table to stdout and writes the same figures as JSON to `--out`.
pub(crate) fn print(o: &Opts, b: &Bench, r: Results) -> Res<()> {
    let Results {
        started,
        warm,
        writes_ok,
        cpu,
        tput,
        rt,
        breakdown,
        api_init,
        api_first,
        hello_init,
        hello_first,
        cmp_init,
        cmp_first,
        cold_problems,
        api_s,
        hello_s,
    } = r;
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
    out("  raw: GET = GetItem; PATCH = one conditional UpdateItem; email = UpdateItem refused with ALL_OLD + TransactWriteItems of 3;".into());
    out("       keyed = TransactGetItems (record + customer) + TransactWriteItems (record + customer); replay = that TransactGetItems;".into());
    out("       lookup = GetItem sentinel + GetItem customer; page of n = Query of n + 1 index keys + BatchGetItem of n".into());
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
    Ok(())
}
