//! `make bench` (scripts/bench.sh): what a request and a cold start cost,
//! beside what the DynamoDB and SSM calls alone cost, measured in the same run
//! against the local stack (DynamoDB Local + moto). Prints a table and writes
//! the same figures as JSON. Figures are reported, never asserted: the targets
//! of issue 5 are printed beside them with ✓/✗.
//!
//! ```text
//! target/release/examples/bench --bin target/release/customers-api \
//!     --hello target/release/examples/hello [--out target/bench/latest.json]
//!     [--events-bin target/release/customers-events]
//!     [--requests 5000] [--warmup 500] [--cold 25] [--invocations 1000]
//!     [--concurrency 32] [--per-worker 100] [--package target/bench/package.json]
//!     [--compare OTHER_BUILD_OF_THE_FUNCTION [--compare-roots amazon|system]]
//!     [--cpu-invocations 50] [--cpu-only]
//! ```
//!
//! `--cpu-only` prints the CPU-per-request table alone (DynamoDB mocked, a
//! minute): for judging a change to the handler's own work.
//!
//! `--compare` cold-starts a second build of the function in the same
//! interleaving (A, B, floor), so that a change to init can be judged against
//! the build before it on the same stack in the same minute: the run-to-run
//! drift of these machines (±1 ms) is larger than most such changes.
//! Over TLS it trusts the proxies' CA as the function does (`SSL_CERT_FILE`,
//! Amazon's roots + the CA); `--compare-roots system` hands it the system
//! bundle + the CA instead, what a build from before `TLS_ROOTS` decoded on
//! Lambda.
//!
//! Needs the variables of a stack env file (scripts/stack.sh):
//! AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SSM, AWS_REGION and credentials.
//! It creates its own table and keys parameter, so it can share a stack.
//!
//! What is measured:
//! - warm path: `handle_with` on the App `src/bin/customers-api.rs` builds (same `init::`
//!   functions, same config defaults, JSON logs formatted into a sink),
//!   interleaved request by request with the raw SDK calls that do the same
//!   DynamoDB work on a twin item, through the same client;
//! - cold start: the release binary and a `lambda_http` hello world, each
//!   spawned against a minimal Lambda Runtime API served here;
//! - peak RSS after 1000 invocations through that Runtime API, and the
//!   change-events binary's peak RSS and CPU per stream batch the same way;
//! - throughput with 32 requests in flight, handler against raw SDK calls;
//! - SSM GetParameter and DynamoDB GetItem (init's warm-up) with a fresh client each time
//!   (connection setup included): the unavoidable part of init.

mod call_counter;
mod cold;
mod events;
mod events_fn;
mod raw;
mod report;
mod runtime_api;
mod setup;
mod stats;
mod tls_proxy;
mod warm;

use std::path::{Path, PathBuf};
use std::time::Instant;

use customers_api::startup::init;

use crate::cold::{ColdRow, Expect, init_breakdown, lambda_env, round_trips, session};
use crate::events::{Kind, event};
use crate::report::Results;
use crate::setup::{item_bytes, seed, setup, tls_twin, version_of};
use crate::stats::median;
use crate::tls_proxy::HandshakeStats;
use crate::warm::{cpu_only, throughput, warm_path};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

const WRITE_KEY: &str = "Bearer bench-write-key";
const READ_KEY: &str = "Bearer bench-read-key";

// --- options ------------------------------------------------------------------

struct Opts {
    bin: PathBuf,
    hello: PathBuf,
    probe: PathBuf,
    /// The change-events function's binary (its own session: RSS, CPU).
    events_bin: PathBuf,
    out: PathBuf,
    package: PathBuf,
    compare: Option<PathBuf>,
    /// The --compare build's bundle over TLS: the system's (`true`) or
    /// Amazon's roots, each with the proxies' CA.
    compare_system_roots: bool,
    requests: usize,
    /// Requests per warm row over TLS (default: --requests).
    tls_requests: Option<usize>,
    /// Stream batches of 100 records through the events function.
    events_batches: usize,
    warmup: usize,
    cold: usize,
    invocations: usize,
    concurrency: usize,
    per_worker: usize,
    cpu_only: bool,
    /// Invocations of each kind in the CPU-by-kind session.
    cpu_invocations: usize,
}

fn opts() -> Res<Opts> {
    let mut o = Opts {
        bin: "target/release/customers-api".into(),
        hello: "target/release/examples/hello".into(),
        probe: "target/release/examples/init_probe".into(),
        events_bin: "target/release/customers-events".into(),
        out: "target/bench/latest.json".into(),
        package: "target/bench/package.json".into(),
        compare: None,
        compare_system_roots: false,
        // 5000 so that p99 rests on 50 samples: DynamoDB Local's tail
        // (JVM pauses) makes p99 of 2000 swing by ±30 % from run to run.
        requests: 5000,
        tls_requests: None,
        events_batches: 20,
        warmup: 500,
        cold: 25,
        invocations: 1000,
        concurrency: 32,
        per_worker: 100,
        cpu_only: false,
        cpu_invocations: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bin" => o.bin = val()?.into(),
            "--hello" => o.hello = val()?.into(),
            "--probe" => o.probe = val()?.into(),
            "--events-bin" => o.events_bin = val()?.into(),
            "--out" => o.out = val()?.into(),
            "--package" => o.package = val()?.into(),
            "--compare" => o.compare = Some(val()?.into()),
            "--compare-roots" => {
                o.compare_system_roots = match val()?.as_str() {
                    "system" => true,
                    "amazon" => false,
                    other => {
                        return Err(format!("--compare-roots amazon|system, not {other}").into());
                    }
                }
            }
            "--requests" => o.requests = val()?.parse()?,
            "--tls-requests" => o.tls_requests = Some(val()?.parse()?),
            "--events-batches" => o.events_batches = val()?.parse()?,
            "--warmup" => o.warmup = val()?.parse()?,
            "--cold" => o.cold = val()?.parse()?,
            "--invocations" => o.invocations = val()?.parse()?,
            "--concurrency" => o.concurrency = val()?.parse()?,
            "--per-worker" => o.per_worker = val()?.parse()?,
            "--cpu-only" => o.cpu_only = true,
            "--cpu-invocations" => o.cpu_invocations = val()?.parse::<usize>()?.max(2),
            "-h" | "--help" => {
                eprintln!("see the header of examples/bench/main.rs");
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

// --- main -------------------------------------------------------------------------

fn main() {
    let fail = |e: Error| -> ! {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    };
    let o = opts().unwrap_or_else(|e| fail(e));
    // The throwaway CA of the TLS rows, made and trusted before any thread
    // exists: this process's SDK clients read SSL_CERT_FILE when they are
    // built (so the in-process TLS twin trusts the proxies), and the spawned
    // function gets the same variable for its TLS cold starts.
    let out_dir = o.out.parent().unwrap_or(Path::new(".")).to_path_buf();
    let certs = tls_proxy::make_certs(&out_dir.join("tls")).unwrap_or_else(|e| fail(e));
    // SAFETY: single-threaded: the runtime is built below.
    unsafe { std::env::set_var("SSL_CERT_FILE", &certs.bundle) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e.into()));
    if let Err(e) = rt.block_on(run(o, certs)) {
        fail(e);
    }
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

async fn run(o: Opts, certs: tls_proxy::Certs) -> Res<()> {
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
        .with_env_filter(customers_api::startup::logging::filter("info"))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::sink)
        .init();

    let started = Instant::now();
    progress("creating the table and keys parameter, building the app");
    let b = setup().await?;
    let hs = std::sync::Arc::new(HandshakeStats::default());
    let acceptor = tls_proxy::acceptor(&certs)?;
    let ddb_proxy = tls_proxy::start(
        acceptor.clone(),
        &std::env::var("AWS_ENDPOINT_URL_DYNAMODB")?,
        hs.clone(),
    )
    .await?;
    let ssm_proxy = tls_proxy::start(
        acceptor,
        &std::env::var("AWS_ENDPOINT_URL_SSM")?,
        hs.clone(),
    )
    .await?;
    let tls_urls = (ddb_proxy.url.clone(), ssm_proxy.url.clone());
    let bt = tls_twin(&b, tls_urls.0.clone(), tls_urls.1.clone()).await?;
    let mut ids = vec![
        "bench-h".to_owned(),
        "bench-r".to_owned(),
        "bench-kh".to_owned(),
        "bench-kr".to_owned(),
        "cold-1".to_owned(),
        "cold-2".to_owned(),
        "probe-1".to_owned(),
        "rt-1".to_owned(),
    ];
    for w in 0..o.concurrency {
        ids.push(format!("tp-h-{w}"));
        ids.push(format!("tp-r-{w}"));
    }
    // Enough customers for a page of 100 (the list rows).
    for i in 0..40 {
        ids.push(format!("list-{i}"));
    }
    for id in &ids {
        seed(&b.app, id).await?;
    }
    if o.cpu_only {
        progress("CPU per request with DynamoDB answered in process (aws-smithy-mocks)");
        let n = o.requests.max(1000);
        report::print_cpu(&cpu_only(&b, o.warmup, n).await?, n);
        return Ok(());
    }

    // 1. Warm path.
    let mut warm = Vec::new();
    for kind in Kind::ALL.into_iter().chain(Kind::KEYED).chain(Kind::FIND) {
        progress(&format!(
            "warm path: {} ({} + {} requests, handler and raw interleaved)",
            kind.label(),
            o.warmup,
            o.requests
        ));
        warm.push(warm_path(&b, kind, o.warmup, o.requests, 0).await?);
    }
    let expected_version = 1 + 3 * (o.warmup + o.requests) as u64;
    let h_version = version_of(&b.admin, &b.table, "bench-h").await?;
    let r_version = version_of(&b.admin, &b.table, "bench-r").await?;
    let writes_ok = h_version == expected_version && r_version == expected_version;

    // 1b. The same rows over TLS (the proxies), numbered on from the plain
    // pass so every PATCH still writes.
    let tls_n = o.tls_requests.unwrap_or(o.requests);
    let mut warm_tls = Vec::new();
    for kind in Kind::ALL.into_iter().chain(Kind::KEYED).chain(Kind::FIND) {
        progress(&format!(
            "warm path over TLS: {} ({} + {tls_n} requests)",
            kind.label(),
            o.warmup
        ));
        warm_tls.push(warm_path(&bt, kind, o.warmup, tls_n, o.warmup + o.requests).await?);
    }

    // 1c. The change-events function beside the raw PutEvents calls.
    progress(&format!(
        "events function: {} stream batches of {} records (moto), then with PutEvents mocked",
        o.events_batches,
        events_fn::BATCH
    ));
    let events_row = events_fn::events_rows(&b, o.events_batches.max(1)).await?;

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
    progress("SSM GetParameter and DynamoDB GetItem (init's warm-up) with fresh clients");
    let rt = round_trips(&b.config, &b.param, &b.table, o.cold, None).await?;
    progress("the same over TLS (a full handshake each)");
    let rt_tls = round_trips(&b.config, &b.param, &b.table, o.cold, Some(&tls_urls)).await?;

    // 4. Cold starts, interleaved function / floor.
    let env = lambda_env(&b);
    // The function over TLS: the proxies' URLs and the CA; the rest as is.
    let env_tls: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT_URL_DYNAMODB" => (k.clone(), tls_urls.0.clone()),
            "AWS_ENDPOINT_URL_SSM" => (k.clone(), tls_urls.1.clone()),
            _ => (k.clone(), v.clone()),
        })
        .chain([(
            "SSL_CERT_FILE".to_owned(),
            certs.bundle.display().to_string(),
        )])
        .collect();
    let env_tls_compare: Vec<(String, String)> = env_tls
        .iter()
        .map(|(k, v)| match k.as_str() {
            "SSL_CERT_FILE" if o.compare_system_roots => {
                (k.clone(), certs.system_bundle.display().to_string())
            }
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let (breakdown, breakdown_tls) = if o.probe.is_file() {
        progress("init step by step (examples/init_probe in fresh processes), plain then TLS");
        // Two PATCHes after init, of other values than each other so that
        // both write: the first request's one-time costs beside a second's.
        let probe_events = [
            (
                "PROBE_EVENT_1".to_owned(),
                event(Kind::PatchName, "probe-1", 0),
            ),
            (
                "PROBE_EVENT_2".to_owned(),
                event(Kind::PatchName, "probe-1", 1),
            ),
        ];
        let with_events = |env: &[(String, String)]| -> Vec<(String, String)> {
            env.iter()
                .cloned()
                .chain(probe_events.iter().cloned())
                .collect()
        };
        (
            Some(init_breakdown(&o.probe, &with_events(&env), o.cold)?),
            Some(init_breakdown(&o.probe, &with_events(&env_tls), o.cold)?),
        )
    } else {
        (None, None)
    };
    let api_log = out_dir.join("customers-api.stderr.log");
    let hello_log = out_dir.join("hello.stderr.log");
    let _ = std::fs::remove_file(&api_log);
    let _ = std::fs::remove_file(&hello_log);
    let cmp_log = out_dir.join("compare.stderr.log");
    let _ = std::fs::remove_file(&cmp_log);
    // The rows, by index: 0 = the function, 1 = the floor, 2 = the --compare
    // build, 3 = the function over TLS, 4 = the --compare build over TLS; the
    // order rotates so that none always runs right after another's exit.
    let mut rows: Vec<ColdRow> = (0..5).map(|_| ColdRow::default()).collect();
    let mut order: Vec<usize> = vec![0, 1, 3];
    if o.compare.is_some() {
        order.extend([2, 4]);
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
        // Two PATCHes of two customers: the first request's CPU beside a
        // second's shows what the first pays once.
        let evs = vec![
            event(Kind::PatchName, "cold-1", i),
            event(Kind::PatchName, "cold-2", i),
        ];
        order.rotate_left(1);
        for &which in &order {
            let (bin, log) = match (which, &o.compare) {
                (0 | 3, _) => (&o.bin, &api_log),
                (2 | 4, Some(other)) => (other, &cmp_log),
                _ => (&o.hello, &hello_log),
            };
            let env = match which {
                4 => &env_tls_compare,
                3 => &env_tls,
                _ => &env,
            };
            let s = session(bin, env, evs.clone(), 1, Expect::Status200, log).await?;
            if let Some(p) = s.first_problem.clone() {
                cold_problems.push(p);
            }
            rows[which].push(&s);
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
    let slots = Kind::ALL.len();
    let api_s = session(
        &o.bin,
        &env,
        mixed.clone(),
        slots,
        Expect::Status200,
        &api_log,
    )
    .await?;
    let hello_s = session(&o.hello, &env, mixed, slots, Expect::Status200, &hello_log).await?;

    // 5b. The change-events function as Lambda runs it: stream batches of
    // 100 through the Runtime API, PutEvents to moto over TLS (the SSM
    // proxy's moto serves EventBridge too): its peak RSS, and its CPU per
    // batch with the real calls' HTTP and TLS in it.
    let events_s = if o.events_bin.is_file() {
        let n = o.events_batches.max(2);
        progress(&format!(
            "{n} stream batches of {} through the Runtime API (customers-events)",
            events_fn::BATCH
        ));
        let env_events: Vec<(String, String)> = env_tls
            .iter()
            .filter(|(k, _)| k != "AWS_LAMBDA_FUNCTION_NAME")
            .cloned()
            .chain([
                ("AWS_LAMBDA_FUNCTION_NAME".into(), "customers-events".into()),
                ("EVENT_BUS_NAME".into(), "default".into()),
                ("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), tls_urls.1.clone()),
            ])
            .collect();
        let batches = events_fn::stream_batches(&b, n).await?;
        let log = out_dir.join("customers-events.stderr.log");
        let _ = std::fs::remove_file(&log);
        Some(
            session(
                &o.events_bin,
                &env_events,
                batches,
                1,
                Expect::NoBatchFailures,
                &log,
            )
            .await?,
        )
    } else {
        None
    };

    // 6. The process's CPU per invocation of each kind of the cost table,
    // over TLS as on AWS: what sets the billed duration at a fraction of a
    // core. Values and keys none of the warm rows used, so that every PATCH
    // writes and every keyed one is new (the replay's is the warm row's).
    let kinds: Vec<Kind> = warm.iter().map(|w| w.kind).collect();
    progress(&format!(
        "CPU per invocation by kind: {} invocations of {} kinds over TLS",
        o.cpu_invocations * kinds.len(),
        kinds.len()
    ));
    let by_kind: Vec<String> = (0..o.cpu_invocations)
        .flat_map(|j| {
            kinds
                .iter()
                .map(move |&k| event(k, k.ids().0, 10_000_000 + j))
        })
        .collect();
    let kind_s = session(
        &o.bin,
        &env_tls,
        by_kind,
        kinds.len(),
        Expect::Status200,
        &api_log,
    )
    .await?;
    let kind_cpu: Vec<(Kind, f64, f64)> = kinds
        .iter()
        .enumerate()
        .map(|(slot, &k)| {
            (
                k,
                median(&kind_s.cpu_by_slot[slot]),
                median(&kind_s.warm_by_slot[slot]),
            )
        })
        .collect();

    let item_bytes = item_bytes(&b, "bench-h").await?;
    report::print(
        &o,
        &b,
        Results {
            started,
            warm,
            writes_ok,
            cpu,
            tput,
            rt,
            breakdown,
            breakdown_tls,
            cold: rows,
            cold_problems,
            warm_tls,
            rt_tls,
            events: events_row,
            handshakes: hs.summary(),
            item_bytes,
            api_s,
            hello_s,
            events_s,
            kind_cpu,
        },
    )?;

    // Leave the shared stack clean.
    let _ = b.admin.delete_table().table_name(&b.table).send().await;
    let _ = aws_sdk_ssm::Client::new(&init::sdk_config(&b.config).await)
        .delete_parameter()
        .name(&b.param)
        .send()
        .await;
    Ok(())
}
