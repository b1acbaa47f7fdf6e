//! Percentiles of the measured durations, and the rounding and formatting
//! helpers shared by the table and the JSON.

use std::time::Duration;

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pct {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

/// Nearest-rank percentiles of durations in nanoseconds, reported in µs.
pub(crate) fn pct(ns: &[u64]) -> Pct {
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

pub(crate) fn median(ns: &[u64]) -> f64 {
    pct(ns).p50
}

pub(crate) fn pct_json(p: Pct) -> Value {
    json!({"p50": round1(p.p50), "p90": round1(p.p90), "p99": round1(p.p99), "max": round1(p.max)})
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

pub(crate) fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}
