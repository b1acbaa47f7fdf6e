//! The rules of CloudWatch's Embedded Metric Format specification
//! (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
//! checked on a log line, independently of the code that writes it. A line
//! that breaks one is a line CloudWatch logs but extracts no metric from.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// The units `StandardUnit` allows.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// What CloudWatch would extract from a valid line.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub namespace: String,
    /// Each dimension set, as (name, value) pairs in the directive's order.
    pub dimension_sets: Vec<Vec<(String, String)>>,
    /// Metric name → (unit, values).
    pub metrics: BTreeMap<String, (String, Vec<f64>)>,
    pub timestamp_ms: u64,
}

impl Extracted {
    pub fn value(&self, metric: &str) -> Option<f64> {
        self.metrics
            .get(metric)
            .and_then(|(_, v)| v.first().copied())
    }
    pub fn unit(&self, metric: &str) -> Option<&str> {
        self.metrics.get(metric).map(|(u, _)| u.as_str())
    }
    pub fn dimension_names(&self) -> Vec<Vec<&str>> {
        self.dimension_sets
            .iter()
            .map(|s| s.iter().map(|(n, _)| n.as_str()).collect())
            .collect()
    }
}

fn namespace_ok(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 255
        && !ns.trim().is_empty()
        && !ns.starts_with("AWS/")
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c))
}

/// Every rule of the specification the line breaks (empty: valid), and what
/// it yields.
pub fn validate(line: &str) -> Result<Extracted, Vec<String>> {
    let mut errs = Vec::new();
    let root: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Err(vec![format!("not JSON: {e}")]),
    };
    let Some(root) = root.as_object() else {
        return Err(vec!["the root is not an object".into()]);
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return Err(vec!["no `_aws` object".into()]);
    };
    let timestamp_ms = match aws.get("Timestamp").and_then(Value::as_u64) {
        Some(t) => t,
        None => {
            errs.push("`_aws.Timestamp` is not a whole number of epoch milliseconds".into());
            0
        }
    };
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        errs.push("`_aws.CloudWatchMetrics` is not an array".into());
        return Err(errs);
    };
    if directives.len() != 1 {
        errs.push(format!(
            "expected one metric directive, found {}",
            directives.len()
        ));
    }
    let mut out = Extracted {
        namespace: String::new(),
        dimension_sets: Vec::new(),
        metrics: BTreeMap::new(),
        timestamp_ms,
    };
    for d in directives {
        let Some(d) = d.as_object() else {
            errs.push("a metric directive is not an object".into());
            continue;
        };
        match d.get("Namespace").and_then(Value::as_str) {
            Some(ns) if namespace_ok(ns) => out.namespace = ns.to_owned(),
            other => errs.push(format!("invalid Namespace {other:?}")),
        }
        match d.get("Dimensions").and_then(Value::as_array) {
            None => errs.push("Dimensions is not an array".into()),
            Some(sets) => {
                for set in sets {
                    let Some(names) = set.as_array() else {
                        errs.push("a dimension set is not an array".into());
                        continue;
                    };
                    if names.len() > 30 {
                        errs.push("a dimension set has more than 30 dimensions".into());
                    }
                    let mut pairs = Vec::new();
                    for n in names {
                        let Some(n) = n.as_str() else {
                            errs.push(format!("a dimension name is not a string: {n}"));
                            continue;
                        };
                        match root.get(n).and_then(Value::as_str) {
                            Some(v)
                                if !v.is_empty()
                                    && v.len() <= 1024
                                    && !v.trim().is_empty()
                                    && !v.starts_with(':') =>
                            {
                                pairs.push((n.to_owned(), v.to_owned()))
                            }
                            other => errs.push(format!(
                                "dimension `{n}` is not a valid string member of the root: {other:?}"
                            )),
                        }
                    }
                    out.dimension_sets.push(pairs);
                }
            }
        }
        match d.get("Metrics").and_then(Value::as_array) {
            None => errs.push("Metrics is not an array".into()),
            Some(metrics) => {
                if metrics.len() > 100 {
                    errs.push("more than 100 metrics in a directive".into());
                }
                let mut seen = HashSet::new();
                for m in metrics {
                    let Some(name) = m.get("Name").and_then(Value::as_str) else {
                        errs.push(format!("a metric has no Name: {m}"));
                        continue;
                    };
                    if name.is_empty() || name.len() > 255 {
                        errs.push(format!("metric name `{name}` is not 1-255 characters"));
                    }
                    if !seen.insert(name) {
                        errs.push(format!("metric `{name}` defined twice"));
                    }
                    let unit = match m.get("Unit") {
                        None => "None".to_owned(),
                        Some(Value::String(u)) if UNITS.contains(&u.as_str()) => u.clone(),
                        Some(u) => {
                            errs.push(format!("metric `{name}` has an invalid Unit {u}"));
                            String::new()
                        }
                    };
                    if let Some(r) = m.get("StorageResolution")
                        && r.as_u64() != Some(1)
                        && r.as_u64() != Some(60)
                    {
                        errs.push(format!("metric `{name}`: StorageResolution {r}"));
                    }
                    let values = match root.get(name) {
                        Some(Value::Number(n)) => n.as_f64().map(|v| vec![v]),
                        Some(Value::Array(a)) if a.len() <= 100 => {
                            a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>()
                        }
                        _ => None,
                    };
                    match values {
                        Some(v) => {
                            out.metrics.insert(name.to_owned(), (unit, v));
                        }
                        None => errs.push(format!(
                            "metric `{name}` has no number (or array of at most 100) in the root"
                        )),
                    }
                }
            }
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}
