//! CloudWatch Embedded Metric Format, the part we write: a JSON log line
//! whose `_aws` member names, in one metric directive, the namespace, the
//! dimension sets and the metrics, each metric and dimension being a member
//! of the line itself. Pure: the caller supplies the time.
//!
//! Written here rather than taken from `metrics_cloudwatch_embedded`: that
//! crate is a `metrics` recorder that flushes a line of its own (per request
//! or per interval), and our summary line must carry the metrics itself,
//! with the request's fields. What we need of EMF is one directive, which
//! this module writes and its tests (and `tests/telemetry.rs`, against the
//! specification's rules) check.

use serde_json::{Map, Number, Value};

/// The units we use (EMF accepts CloudWatch's `StandardUnit` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// A JSON log line being assembled, members in insertion order.
#[derive(Debug, Default)]
pub struct Line {
    members: Map<String, Value>,
}

impl Line {
    /// `level` as `tracing`'s JSON lines spell it (Lambda's log-level
    /// filter reads it), and the message that names the line.
    pub fn new(level: &str, message: &str) -> Line {
        let mut members = Map::new();
        members.insert("level".into(), level.into());
        members.insert("message".into(), message.into());
        Line { members }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Line {
        self.members.insert(key.to_owned(), value.into());
        self
    }

    /// A number member; whole values are written as integers, and a value
    /// JSON cannot hold (NaN, infinity) as 0 rather than dropping the line.
    pub fn number(&mut self, key: &str, value: f64) -> &mut Line {
        let n = if value.fract() == 0.0 && (0.0..9.0e15).contains(&value) {
            Number::from(value as u64)
        } else {
            Number::from_f64(value).unwrap_or_else(|| Number::from(0))
        };
        self.members.insert(key.to_owned(), Value::Number(n));
        self
    }

    /// The line with its `_aws` directive: every metric of `metrics` the
    /// line has a number for (so `coldStart` appears only when set), over
    /// the dimension sets whose members are all strings on the line.
    pub fn into_emf(
        mut self,
        namespace: &str,
        dimensions: &[&[&str]],
        metrics: &[(&str, Unit)],
        timestamp_ms: u64,
    ) -> Map<String, Value> {
        let defined: Vec<Value> = metrics
            .iter()
            .filter(|(name, _)| self.members.get(*name).is_some_and(Value::is_number))
            .map(|(name, unit)| {
                let mut m = Map::new();
                m.insert("Name".into(), (*name).into());
                m.insert("Unit".into(), unit.as_str().into());
                Value::Object(m)
            })
            .collect();
        let sets: Vec<Value> = dimensions
            .iter()
            .filter(|set| {
                set.iter()
                    .all(|d| self.members.get(*d).is_some_and(Value::is_string))
            })
            .map(|set| Value::Array(set.iter().map(|d| (*d).into()).collect()))
            .collect();
        let mut directive = Map::new();
        directive.insert("Namespace".into(), namespace.into());
        directive.insert("Dimensions".into(), Value::Array(sets));
        directive.insert("Metrics".into(), Value::Array(defined));
        let mut aws = Map::new();
        aws.insert("Timestamp".into(), timestamp_ms.into());
        aws.insert(
            "CloudWatchMetrics".into(),
            Value::Array(vec![Value::Object(directive)]),
        );
        self.members.insert("_aws".into(), Value::Object(aws));
        self.members
    }

    /// The line without metrics (a line that is only a log record).
    pub fn into_map(self) -> Map<String, Value> {
        self.members
    }
}

/// Why `s` cannot be a CloudWatch namespace, if it cannot: 1–255 of
/// letters, digits, `. - _ / # :` and space, not all spaces, not under
/// `AWS/` (reserved for AWS's own).
pub fn namespace_problem(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 255 {
        return Some(format!("must be 1 to 255 characters, got {}", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_/#: ".contains(*c)))
    {
        return Some(format!(
            "may hold only letters, digits, . - _ / # : and spaces, not `{c}`"
        ));
    }
    if s.trim().is_empty() {
        return Some("must hold a character other than a space".into());
    }
    if s.starts_with("AWS/") {
        return Some("must not start with AWS/ (AWS's own namespaces)".into());
    }
    None
}

/// Why `s` cannot be a dimension value, if it cannot: 1–255 printable ASCII
/// characters (CloudWatch allows 1,024; a stack name is at most 128), not
/// all spaces, not starting with `:`.
pub fn dimension_value_problem(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 255 {
        return Some(format!("must be 1 to 255 characters, got {}", s.len()));
    }
    if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Some("may hold only printable ASCII characters".into());
    }
    if s.trim().is_empty() {
        return Some("must hold a character other than a space".into());
    }
    if s.starts_with(':') {
        return Some("must not start with `:`".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_directive_names_members_of_the_line() {
        let mut line = Line::new("INFO", "request");
        line.set("service", "svc")
            .set("route", "GET /v1/customers")
            .number("requests", 1.0)
            .number("durationMs", 1.25);
        let out = line.into_emf(
            "Ns",
            &[&["service", "route"], &["service"]],
            &[
                ("requests", Unit::Count),
                ("durationMs", Unit::Milliseconds),
                ("coldStart", Unit::Count),
            ],
            1_700_000_000_123,
        );
        assert_eq!(
            Value::Object(out),
            json!({
                "level": "INFO",
                "message": "request",
                "service": "svc",
                "route": "GET /v1/customers",
                "requests": 1,
                "durationMs": 1.25,
                "_aws": {
                    "Timestamp": 1_700_000_000_123_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Ns",
                        "Dimensions": [["service", "route"], ["service"]],
                        "Metrics": [
                            {"Name": "requests", "Unit": "Count"},
                            {"Name": "durationMs", "Unit": "Milliseconds"}
                        ]
                    }]
                }
            })
        );
    }

    #[test]
    fn a_set_whose_dimension_is_missing_is_left_out() {
        let mut line = Line::new("INFO", "batch");
        line.set("service", "svc").number("eventsPublished", 3.0);
        let out = line.into_emf(
            "Ns",
            &[&["service", "route"], &["service"]],
            &[("eventsPublished", Unit::Count)],
            0,
        );
        assert_eq!(
            out["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service"]])
        );
    }

    #[test]
    fn numbers_json_cannot_hold_become_zero() {
        let mut line = Line::new("INFO", "x");
        line.number("a", f64::NAN).number("b", 2.0).number("c", 0.5);
        let m = line.into_map();
        assert_eq!(m["a"], json!(0));
        assert_eq!(m["b"], json!(2));
        assert_eq!(m["c"], json!(0.5));
    }

    #[test]
    fn namespaces() {
        assert_eq!(namespace_problem("CustomersApi"), None);
        assert_eq!(namespace_problem("Team/Customers api#1:x"), None);
        assert!(namespace_problem("").is_some());
        assert!(namespace_problem("   ").is_some());
        assert!(namespace_problem("AWS/Lambda").is_some());
        assert!(namespace_problem("ns\"x").is_some());
        assert!(namespace_problem(&"n".repeat(256)).is_some());
    }

    #[test]
    fn dimension_values() {
        assert_eq!(dimension_value_problem("customers-prod"), None);
        assert!(dimension_value_problem("").is_some());
        assert!(dimension_value_problem(":x").is_some());
        assert!(dimension_value_problem(" ").is_some());
        assert!(dimension_value_problem("caf\u{e9}").is_some());
    }
}
