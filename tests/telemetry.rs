//! The summary line as CloudWatch reads it (SPEC §14, issue 16): every
//! route and error yields one line that is valid Embedded Metric Format
//! (`common::emf`, the specification's rules) and carries the request's
//! figures; the template's alarms on our namespace name metrics and
//! dimensions the code emits.

mod common;

use std::collections::BTreeSet;

use common::emf::{self, Extracted};
use common::{READ, Resp, TestApp, WRITE};
use customers_api::telemetry::{
    self, API_DIMENSIONS, API_METRICS, EVENTS_DIMENSIONS, EVENTS_METRICS,
};
use serde_json::{Value, json};

fn extracted(r: &Resp) -> Extracted {
    let line = serde_json::to_string(&r.summary).unwrap();
    assert_ne!(r.summary, Value::Null, "no summary line");
    emf::validate(&line).unwrap_or_else(|e| panic!("invalid EMF {e:?} in {line}"))
}

/// What every request line must say, whatever the request.
fn check(r: &Resp, route: &str, cold: bool) -> Extracted {
    let m = extracted(r);
    assert_eq!(m.namespace, "Test/Customers", "{}", r.summary);
    let class = format!("{}xx", r.status / 100);
    assert_eq!(
        m.dimension_sets,
        vec![
            vec![
                ("service".to_owned(), "customers-test".to_owned()),
                ("route".to_owned(), route.to_owned()),
                ("statusClass".to_owned(), class),
            ],
            vec![("service".to_owned(), "customers-test".to_owned())],
        ],
        "{}",
        r.summary
    );
    assert_eq!(m.value("requests"), Some(1.0));
    assert_eq!(m.unit("requests"), Some("Count"));
    assert_eq!(m.value("dynamodbCalls"), Some(f64::from(r.calls)));
    assert_eq!(m.value("retries"), Some(0.0), "{}", r.summary);
    let ms = m.value("durationMs").unwrap();
    assert!(ms > 0.0 && ms < 60_000.0, "durationMs {ms}");
    assert_eq!(m.unit("durationMs"), Some("Milliseconds"));
    assert_eq!(m.value("coldStart"), cold.then_some(1.0), "{}", r.summary);
    assert_eq!(r.summary["status"], r.status);
    assert_eq!(r.summary["level"], "INFO");
    assert_eq!(r.summary["message"], "request");
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert!(
        now.abs_diff(m.timestamp_ms) < 60_000,
        "Timestamp {}",
        m.timestamp_ms
    );
    m
}

async fn app() -> TestApp {
    TestApp::builder()
        .env("METRICS_NAMESPACE", "Test/Customers")
        .env("SERVICE_NAME", "customers-test")
        .build()
        .await
}

#[tokio::test]
async fn every_route_and_error_has_a_valid_emf_summary_line() {
    let t = app().await;
    const ONE: &str = "PATCH /v1/customers/{customerId}";
    let cases: Vec<(Resp, &str, u16, &str)> = vec![
        (
            t.post(json!({"customerId": "m1", "email": "m1@example.com", "name": "M"}))
                .await,
            "POST /v1/customers",
            201,
            "",
        ),
        (t.get("m1").await, "GET /v1/customers/{customerId}", 200, ""),
        (t.patch("m1", json!({"name": "N"})).await, ONE, 200, ""),
        (
            t.patch("m1", json!({"email": "m2@example.com"})).await,
            ONE,
            200,
            "",
        ),
        (
            t.patch("m1", json!({"email": "not an email"})).await,
            ONE,
            400,
            "validation_failed",
        ),
        (t.patch_with("m1", "{", &[]).await, ONE, 400, "invalid_json"),
        (
            t.patch_with("m1", r#"{"name":"x"}"#, &[("if-match", "\"99\"")])
                .await,
            ONE,
            412,
            "precondition_failed",
        ),
        (
            t.list("email=m2@example.com").await,
            "GET /v1/customers",
            200,
            "",
        ),
        (t.list("limit=5").await, "GET /v1/customers", 200, ""),
        (
            t.get("nobody").await,
            "GET /v1/customers/{customerId}",
            404,
            "not_found",
        ),
        (
            t.req("GET", "/v1/customers/m1", &[], None).await,
            "GET /v1/customers/{customerId}",
            401,
            "unauthorized",
        ),
        (
            t.req(
                "PATCH",
                "/v1/customers/m1",
                &[("authorization", READ)],
                Some("{}"),
            )
            .await,
            ONE,
            403,
            "insufficient_scope",
        ),
        (
            t.req("GET", "/v2/elsewhere", &[("authorization", WRITE)], None)
                .await,
            telemetry::UNROUTED,
            404,
            "route_not_found",
        ),
        (
            t.req(
                "PUT",
                "/v1/customers/m1",
                &[("authorization", WRITE)],
                Some("{}"),
            )
            .await,
            telemetry::UNROUTED,
            405,
            "method_not_allowed",
        ),
        (
            t.delete("m1", &[]).await,
            "DELETE /v1/customers/{customerId}",
            204,
            "",
        ),
    ];
    for (i, (r, route, status, code)) in cases.iter().enumerate() {
        assert_eq!(r.status, *status, "case {i}: {}", r.raw);
        let m = check(r, route, i == 0);
        assert_eq!(r.summary["code"], *code, "case {i}");
        // A metric per definition, nothing undeclared.
        let declared: BTreeSet<&str> = API_METRICS.iter().map(|(n, _)| *n).collect();
        assert!(m.metrics.keys().all(|k| declared.contains(k.as_str())));
    }
    // The DynamoDB figures are the request's (SPEC §8).
    assert_eq!(cases[0].0.summary["dynamodbCalls"], 1, "POST with an email");
    assert_eq!(cases[2].0.summary["dynamodbCalls"], 1, "PATCH name");
    assert_eq!(cases[3].0.summary["dynamodbCalls"], 2, "PATCH email");
    assert_eq!(cases[4].0.summary["dynamodbCalls"], 0, "invalid: no call");
    assert_eq!(cases[7].0.summary["dynamodbCalls"], 2, "lookup");
    assert_eq!(cases[1].0.summary["customerId"], "m1");
    assert_eq!(
        cases[0].0.summary["customerId"], "m1",
        "POST names the created id"
    );
}

#[tokio::test]
async fn a_second_environment_has_its_own_cold_start() {
    let a = app().await;
    let b = app().await;
    check(&a.get("x").await, "GET /v1/customers/{customerId}", true);
    check(&a.get("x").await, "GET /v1/customers/{customerId}", false);
    check(&b.get("x").await, "GET /v1/customers/{customerId}", true);
}

#[tokio::test]
async fn without_settings_the_defaults_name_the_metrics() {
    let t = TestApp::new().await;
    let r = t.get("x").await;
    let m = extracted(&r);
    assert_eq!(m.namespace, "CustomersApi");
    assert_eq!(
        m.dimension_sets[1],
        vec![("service".to_owned(), "customers-api".to_owned())]
    );
}

#[test]
fn the_validator_rejects_what_cloudwatch_would() {
    let good = json!({
        "service": "s", "requests": 1,
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
            "Namespace": "N", "Dimensions": [["service"]],
            "Metrics": [{"Name": "requests", "Unit": "Count"}]}]}
    });
    assert!(emf::validate(&good.to_string()).is_ok());
    let broken = [
        ("/_aws/Timestamp", json!("now")),
        ("/_aws/CloudWatchMetrics/0/Namespace", json!("AWS/Lambda")),
        ("/_aws/CloudWatchMetrics/0/Dimensions", json!([["absent"]])),
        ("/_aws/CloudWatchMetrics/0/Metrics/0/Unit", json!("Things")),
        ("/_aws/CloudWatchMetrics/0/Metrics/0/Name", json!("absent")),
        ("/requests", json!("1")),
        ("/service", json!(3)),
    ];
    for (pointer, value) in broken {
        let mut v = good.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        assert!(emf::validate(&v.to_string()).is_err(), "{pointer} accepted");
    }
}

/// The alarms and dashboard of `template.yaml` that read our namespace read
/// metrics the code writes, with the dimensions it writes them under.
#[test]
fn the_templates_alarms_read_metrics_the_code_emits() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let t: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("template.yaml is YAML");
    let emitted = |name: &str, dims: &BTreeSet<String>| {
        let lines = [
            (API_METRICS, API_DIMENSIONS),
            (EVENTS_METRICS, EVENTS_DIMENSIONS),
        ];
        lines.iter().any(|(metrics, sets)| {
            metrics.iter().any(|(n, _)| *n == name)
                && sets
                    .iter()
                    .any(|s| s.iter().map(|d| (*d).to_owned()).collect::<BTreeSet<_>>() == *dims)
        })
    };
    // `!Ref MetricsNamespace`, in its short form (a YAML tag) or its long one.
    let ours = |ns: &serde_yaml_ng::Value| match ns {
        serde_yaml_ng::Value::Tagged(t) => {
            t.tag == "Ref" && t.value.as_str() == Some("MetricsNamespace")
        }
        other => other.get("Ref").and_then(|r| r.as_str()) == Some("MetricsNamespace"),
    };
    let mut checked = 0;
    let resources = t["Resources"].as_mapping().expect("Resources");
    for (name, r) in resources {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let p = &r["Properties"];
        // A plain alarm, or metric math over metrics.
        let mut stats: Vec<&serde_yaml_ng::Value> = vec![p];
        if let Some(ms) = p["Metrics"].as_sequence() {
            stats.extend(
                ms.iter()
                    .filter_map(|m| m.get("MetricStat").map(|s| &s["Metric"])),
            );
        }
        for s in stats {
            if !s.get("Namespace").is_some_and(ours) {
                continue;
            }
            let metric = s["MetricName"].as_str().expect("MetricName");
            let dims: BTreeSet<String> = s["Dimensions"]
                .as_sequence()
                .map(|d| {
                    d.iter()
                        .map(|d| d["Name"].as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                emitted(metric, &dims),
                "alarm {name:?} reads {metric} by {dims:?}, which no summary line emits"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no alarm reads the MetricsNamespace metrics");
}
