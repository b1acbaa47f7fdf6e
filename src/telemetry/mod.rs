//! The summary lines: one JSON line per request (`customers-api`) and one per
//! stream batch (`customers-events`). Each is the operator's record of what
//! happened and, in CloudWatch Embedded Metric Format ([`emf`]), its
//! metrics: CloudWatch Logs extracts them from the line itself, so metrics
//! cost no API call and no second line (SPEC §14).
//!
//! This module owns the metric table (names, units, dimension sets: the
//! template's alarms and dashboard use the same names, and a test holds them
//! to it) and the line's writer, which is the log's: `startup::logging`
//! installs it, so the summary lines land in the same stream as the
//! `tracing` lines, and a test that captures the log captures them too.

pub mod emf;

use std::sync::OnceLock;

pub use emf::Unit;

/// The dimension every metric carries: the deployment (`SERVICE_NAME`, the
/// stack's name in `template.yaml`).
pub const SERVICE: &str = "service";
/// `GET /v1/customers/{customerId}` and the like, or [`UNROUTED`]: a fixed
/// set of values, never a path (ids would be one metric stream each).
pub const ROUTE: &str = "route";
/// `2xx` … `5xx`.
pub const STATUS_CLASS: &str = "statusClass";
/// The route of a request the router did not recognise (404, 405).
pub const UNROUTED: &str = "unrouted";

pub const REQUESTS: &str = "requests";
pub const DURATION_MS: &str = "durationMs";
pub const DYNAMODB_CALLS: &str = "dynamodbCalls";
pub const RETRIES: &str = "retries";
/// Present on the first request of an execution environment only.
pub const COLD_START: &str = "coldStart";

pub const EVENTS_PUBLISHED: &str = "eventsPublished";
pub const EVENTS_FAILED: &str = "eventsFailed";
/// How old the batch's oldest stream record was when the batch began.
pub const ITERATOR_AGE_MS: &str = "iteratorAgeMs";

/// The request line's dimension sets: by route and status class, and the
/// service as a whole (what an alarm on all requests reads).
pub const API_DIMENSIONS: &[&[&str]] = &[&[SERVICE, ROUTE, STATUS_CLASS], &[SERVICE]];
pub const API_METRICS: &[(&str, Unit)] = &[
    (REQUESTS, Unit::Count),
    (DURATION_MS, Unit::Milliseconds),
    (DYNAMODB_CALLS, Unit::Count),
    (RETRIES, Unit::Count),
    (COLD_START, Unit::Count),
];

pub const EVENTS_DIMENSIONS: &[&[&str]] = &[&[SERVICE]];
pub const EVENTS_METRICS: &[(&str, Unit)] = &[
    (EVENTS_PUBLISHED, Unit::Count),
    (EVENTS_FAILED, Unit::Count),
    (ITERATOR_AGE_MS, Unit::Milliseconds),
];

/// Where the metrics go: `METRICS_NAMESPACE` and `SERVICE_NAME`, validated at
/// start-up (`startup::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub namespace: String,
    pub service: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: "CustomersApi".into(),
            service: "customers-api".into(),
        }
    }
}

/// The status class dimension of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The line as written: `line` with its EMF directive for `settings`'
/// namespace, stamped now.
pub fn render(
    line: emf::Line,
    settings: &Settings,
    dimensions: &[&[&str]],
    metrics: &[(&str, Unit)],
) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let doc = line.into_emf(&settings.namespace, dimensions, metrics, now_ms);
    serde_json::to_string(&doc).unwrap_or_default()
}

type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the writer of the summary lines; the first call wins, as with
/// the `tracing` subscriber it goes with.
pub fn set_sink(sink: impl Fn(&[u8]) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(sink));
}

/// Writes one line (a newline is added) in one write, so it is never
/// interleaved with another. Without a sink (tests that install no log) the
/// line goes nowhere, as `tracing` events do without a subscriber.
pub fn emit(line: &str) {
    if let Some(sink) = SINK.get() {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        sink(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(304), "3xx");
        assert_eq!(status_class(412), "4xx");
        assert_eq!(status_class(503), "5xx");
    }

    #[test]
    fn every_metric_has_one_unit_and_a_distinct_name() {
        let mut names: Vec<&str> = API_METRICS
            .iter()
            .chain(EVENTS_METRICS)
            .map(|(n, _)| *n)
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), API_METRICS.len() + EVENTS_METRICS.len());
    }
}
