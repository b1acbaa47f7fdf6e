//! Spawned processes: sessions of a binary against the Runtime API (cold
//! start, invocations, peak RSS), the round trips of the unavoidable init
//! calls with fresh clients, and init step by step (examples/init_probe).

use std::path::Path;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use customers_api::startup::config::Config;
use customers_api::startup::init;
use serde_json::Value;

use crate::runtime_api;
use crate::setup::Bench;
use crate::stats::{median, ns};
use crate::{Error, Res};

pub(crate) struct Session {
    /// exec → first `next`.
    pub(crate) init: Duration,
    /// exec → first response received.
    pub(crate) first: Duration,
    /// CPU (user + system, all its threads) the process had used when its
    /// first `next` arrived, and when its first response did.
    pub(crate) init_cpu_ns: Option<u64>,
    pub(crate) first_cpu_ns: Option<u64>,
    /// The same when the second response arrived (sessions of two or more),
    /// and when the last did.
    pub(crate) second_cpu_ns: Option<u64>,
    pub(crate) last_cpu_ns: Option<u64>,
    /// push → response, for invocations 2..n.
    pub(crate) warm_ns: Vec<u64>,
    /// by event index modulo `slots` (the number of kinds the events
    /// rotate through).
    pub(crate) warm_by_slot: Vec<Vec<u64>>,
    /// The process's CPU from one response to the next (the invocation's
    /// work, its `next` call, and what the one before did after its
    /// response), by the same slots, for invocations 2..n.
    pub(crate) cpu_by_slot: Vec<Vec<u64>>,
    pub(crate) vm_hwm_kb: Option<u64>,
    pub(crate) vm_rss_kb: Option<u64>,
    /// Answers that did not meet the session's `Expect`.
    pub(crate) unexpected: usize,
    pub(crate) first_problem: Option<String>,
}

impl Session {
    /// Mean CPU of an invocation after the first, ns.
    pub(crate) fn cpu_per_warm_invocation(&self) -> Option<f64> {
        let n = self.warm_ns.len();
        let (first, last) = (self.first_cpu_ns?, self.last_cpu_ns?);
        (n > 0).then(|| last.saturating_sub(first) as f64 / n as f64)
    }
}

/// One kind of cold start over the runs: ns each.
#[derive(Debug, Default)]
pub(crate) struct ColdRow {
    /// exec → first `next`, exec → first response.
    pub(crate) init: Vec<u64>,
    pub(crate) first: Vec<u64>,
    /// CPU used by then.
    pub(crate) init_cpu: Vec<u64>,
    pub(crate) first_cpu: Vec<u64>,
    /// CPU of the second request alone (its response's CPU − the first's).
    pub(crate) second_cpu: Vec<u64>,
}

impl ColdRow {
    pub(crate) fn push(&mut self, s: &Session) {
        self.init.push(ns(s.init));
        self.first.push(ns(s.first));
        self.init_cpu.extend(s.init_cpu_ns);
        self.first_cpu.extend(s.first_cpu_ns);
        if let (Some(a), Some(b)) = (s.first_cpu_ns, s.second_cpu_ns) {
            self.second_cpu.push(b.saturating_sub(a));
        }
    }
}

pub(crate) fn lambda_env(b: &Bench) -> Vec<(String, String)> {
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

/// CPU time a process has run, ns: the sum over its threads of
/// /proc/<pid>/task/<tid>/schedstat's first field (the scheduler's
/// `sum_exec_runtime`, user and system alike, ns resolution; /proc/<pid>/stat's
/// utime + stime count 10 ms ticks, too coarse for a ~10 ms init). A thread
/// that has already exited is missing: the function's runtime is current-thread
/// and its blocking pool keeps threads for 10 s, so none has exited by the
/// first `next`.
pub(crate) fn process_cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = t.ok()?.path().join("schedstat");
        let s = std::fs::read_to_string(path).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// What a session's answers must be to count as served.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// API Gateway responses of status 200 (customers-api, the floor).
    Status200,
    /// `ReportBatchItemFailures` answers with no failure (customers-events).
    NoBatchFailures,
}

impl Expect {
    fn met_by(self, body: &[u8]) -> bool {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        match self {
            Expect::Status200 => v.get("statusCode").and_then(Value::as_u64) == Some(200),
            Expect::NoBatchFailures => v
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty),
        }
    }
}

/// Spawns `bin` against a fresh Runtime API, serves `events.len()`
/// invocations one after another, reads its memory high-water mark, kills it.
/// The events rotate through `slots` kinds (for `warm_by_slot`); an answer
/// that does not meet `expect` is counted in `unexpected`.
pub(crate) async fn session(
    bin: &Path,
    env: &[(String, String)],
    events: Vec<String>,
    slots: usize,
    expect: Expect,
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
        let (mut init_cpu_ns, mut first_cpu_ns, mut second_cpu_ns, mut last_cpu_ns) =
            (None, None, None, None);
        let mut pushed_at = t0;
        let mut warm_ns = Vec::with_capacity(n);
        let slots = slots.max(1);
        let mut warm_by_slot: Vec<Vec<u64>> = vec![Vec::new(); slots];
        let mut cpu_by_slot: Vec<Vec<u64>> = vec![Vec::new(); slots];
        let mut cpu_at_last_response = None;
        let mut done = 0usize;
        let mut unexpected = 0usize;
        let mut first_problem = None;
        let deadline = tokio::time::sleep(Duration::from_secs(60 + n as u64 / 10));
        tokio::pin!(deadline);
        while done < n {
            tokio::select! {
                ev = srv.events.recv() => match ev.ok_or("runtime API closed")? {
                    Event::Next(at) => {
                        if init.is_none() {
                            init = Some(at - t0);
                            init_cpu_ns = process_cpu_ns(pid);
                        }
                    }
                    Event::Response { id, at, body } => {
                        if id != format!("inv-{done:05}") {
                            return Err(format!("response for {id}, expected inv-{done:05}").into());
                        }
                        if !expect.met_by(&body) {
                            unexpected += 1;
                            first_problem.get_or_insert_with(|| String::from_utf8_lossy(&body).chars().take(400).collect());
                        }
                        let cpu_now = process_cpu_ns(pid);
                        if done == 0 {
                            first = Some(at - t0);
                            first_cpu_ns = cpu_now;
                        } else {
                            if done == 1 {
                                second_cpu_ns = cpu_now;
                            }
                            let d = ns(at - pushed_at);
                            warm_ns.push(d);
                            warm_by_slot[done % slots].push(d);
                            if let (Some(now), Some(before)) = (cpu_now, cpu_at_last_response) {
                                cpu_by_slot[done % slots].push(now.saturating_sub(before));
                            }
                        }
                        cpu_at_last_response = cpu_now;
                        done += 1;
                        if done == n {
                            last_cpu_ns = cpu_now;
                        }
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
            init_cpu_ns,
            first_cpu_ns,
            second_cpu_ns,
            last_cpu_ns,
            warm_ns,
            warm_by_slot,
            cpu_by_slot,
            vm_hwm_kb: proc_status_kb(pid, "VmHWM:"),
            vm_rss_kb: proc_status_kb(pid, "VmRSS:"),
            unexpected,
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
    /// SIGTERM first, as Lambda ends an environment, so that a wrapper (a
    /// profiler run as `--bin`) can write its data; SIGKILL after 5 s.
    fn drop(&mut self) {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        while terminated && Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// --- SSM and DynamoDB round trips with a fresh client --------------------------

pub(crate) struct RoundTrips {
    pub(crate) config_load: Vec<u64>,
    pub(crate) ssm_fresh: Vec<u64>,
    pub(crate) ssm_warm: Vec<u64>,
    pub(crate) ddb_fresh: Vec<u64>,
    pub(crate) ddb_warm: Vec<u64>,
}

/// `endpoints` (DynamoDB, SSM URLs) overrides the stack's: the TLS proxies.
pub(crate) async fn round_trips(
    config: &Config,
    param: &str,
    table: &str,
    n: usize,
    endpoints: Option<&(String, String)>,
) -> Res<RoundTrips> {
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
        let mut conf = aws_sdk_ssm::config::Builder::from(&sdk);
        if let Some((_, url)) = endpoints {
            conf = conf.endpoint_url(url);
        }
        let ssm = aws_sdk_ssm::Client::from_conf(conf.build());
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
        let mut conf = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let Some((url, _)) = endpoints {
            conf = conf.endpoint_url(url);
        }
        let ddb = aws_sdk_dynamodb::Client::from_conf(conf.build());
        for fresh in [true, false] {
            let t = Instant::now();
            // What Store::warm sends: a GetItem of a key no item has.
            ddb.get_item()
                .table_name(table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S("warm#init".into()),
                )
                .projection_expression("pk")
                .send()
                .await?;
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
pub(crate) fn init_breakdown(
    probe: &Path,
    env: &[(String, String)],
    n: usize,
) -> Res<Vec<(String, f64)>> {
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
