//! The log audit (SPEC §9, issue 6): a full scenario at `RUST_LOG=debug`, with
//! the production subscriber, and not one line may hold a key, an email, a
//! phone number, an address member, a note or a metadata value.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{READ, TestApp, WRITE};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRETS: &[&str] = &[
    "local-write-key",
    "local-read-key",
    "not-a-real-key-but-secret",
    "jane.secret@example.com",
    "JANE.SECRET@EXAMPLE.COM",
    "moved.secret@example.org",
    "taken.secret@example.net",
    "billing.secret@example.com",
    "+14155550199",
    "+14155550188",
    "742 Evergreen Terrace",
    "Flat 9Z",
    "Springfieldia",
    "Shelbyvillia",
    "Oregonia",
    "97403-1234",
    "Prefers carrier pigeons",
    "metadata-value-secret",
    "shipping-name-secret",
    "TAX-ID-SECRET-123",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_holds_personal_data_or_keys() {
    let sink = Captured::default();
    let writer = sink.clone();
    customers_api::startup::logging::init_with("debug", move || writer.clone());

    let t = TestApp::new().await;
    let hashes: Vec<String> = ["local-write-key", "local-read-key"]
        .iter()
        .map(|k| customers_api::auth::sha256_hex(k))
        .collect();

    let full = json!({
        "customerId": "audit",
        "name": "shipping-name-secret",
        "email": "jane.secret@example.com",
        "billingEmail": "billing.secret@example.com",
        "phone": "+14155550199",
        "address": {"line1": "742 Evergreen Terrace", "line2": "Flat 9Z", "city": "Springfieldia", "state": "Oregonia", "postalCode": "97403-1234", "country": "US"},
        "shipping": {"name": "shipping-name-secret", "phone": "+14155550188", "address": {"city": "Shelbyvillia"}},
        "taxId": "TAX-ID-SECRET-123",
        "metadata": {"k": "metadata-value-secret"},
        "notes": "Prefers carrier pigeons",
    });
    t.post(full).await.ok(201);
    t.seed(json!({"customerId": "other", "email": "taken.secret@example.net"}))
        .await;
    t.get("audit").await.ok(200);
    t.patch("audit", json!({"email": "JANE.SECRET@EXAMPLE.COM"}))
        .await
        .ok(200);
    t.patch(
        "audit",
        json!({"email": "moved.secret@example.org", "address": {"line2": "Flat 9Z"}}),
    )
    .await
    .ok(200);
    t.patch("audit", json!({"email": "taken.secret@example.net"}))
        .await
        .expect(409, "email_taken");
    t.patch(
        "audit",
        json!({"phone": "+14155550199x", "notes": "Prefers carrier pigeons\u{7}"}),
    )
    .await
    .expect(400, "validation_failed");
    t.patch_with(
        "audit",
        r#"{"metadata":{"k":"metadata-value-secret","k":"x"}}"#,
        &[],
    )
    .await
    .expect(400, "invalid_json");
    t.merge_patch(
        "audit",
        json!({"metadata": {"k": "metadata-value-secret", "j": null}}),
    )
    .await
    .ok(200);
    t.req(
        "GET",
        "/v1/customers/audit",
        &[("authorization", "Bearer not-a-real-key-but-secret")],
        None,
    )
    .await
    .expect(401, "unauthorized");
    t.req(
        "PATCH",
        "/v1/customers/audit",
        &[("authorization", READ)],
        Some("{}"),
    )
    .await
    .expect(403, "insufficient_scope");
    // Finding customers (issue 14): the address travels in the query string.
    let r = t.list("email=taken.secret@example.net").await;
    r.ok(200);
    assert_eq!(r.body["data"][0]["customerId"], "other");
    t.list("email=taken.secret@example.net-")
        .await
        .expect(400, "validation_failed");
    t.list("limit=5").await.ok(200);
    t.req(
        "DELETE",
        "/v1/customers/audit",
        &[("authorization", WRITE)],
        None,
    )
    .await
    .ok(204);

    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let summaries: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert_eq!(summaries.len(), 15, "one summary line per request:\n{text}");
    for s in &summaries {
        for field in [
            "requestId",
            "method",
            "route",
            "customerId",
            "status",
            "code",
            "durationMs",
            "dynamodbCalls",
        ] {
            assert!(s.get(field).is_some(), "summary line lacks {field}: {s}");
        }
    }
    assert_eq!(
        summaries[0]["customerId"], "audit",
        "POST logs the created customerId"
    );
    let conflict = summaries
        .iter()
        .find(|s| s["code"] == "email_taken")
        .unwrap();
    assert_eq!(conflict["status"], 409);
    assert_eq!(conflict["customerId"], "audit");
    assert_eq!(conflict["dynamodbCalls"], 2);

    for line in &lines {
        let lower = line.to_lowercase();
        for secret in SECRETS
            .iter()
            .chain(hashes.iter().map(|h| h.as_str()).collect::<Vec<_>>().iter())
        {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "a log line holds `{secret}`: {line}"
            );
        }
    }
}
