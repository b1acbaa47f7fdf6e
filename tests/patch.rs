//! PATCH semantics on the local stack: SPEC §2 and §3, the seeds' examples,
//! RFC 7396, strategies, limits, and concurrency without lost updates.

mod common;

use std::sync::Arc;

use common::{TestApp, WRITE};
use serde_json::{Value, json};

fn address() -> Value {
    json!({"line1": "123 Main Street", "line2": "Apt 4B", "city": "Bangalore", "state": "Karnataka", "postalCode": "560001", "country": "IN"})
}

async fn customer(t: &TestApp, id: &str) -> Value {
    t.seed(json!({
        "customerId": id,
        "firstName": "John",
        "lastName": "Doe",
        "email": format!("{id}@example.com"),
        "phone": "+1234567890",
        "address": address(),
        "shipping": {"name": "John", "phone": "+1234567890", "address": address()},
        "metadata": {"source": "sdk_import", "priority": "high"},
        "tags": ["old"],
    }))
    .await
}

#[tokio::test]
async fn tiquo_partial_update_and_tag_replacement() {
    let t = TestApp::new().await;
    let before = customer(&t, "cust_abc123").await;
    let r = t
        .patch("cust_abc123", json!({"phone": "+1987654321", "tags": ["VIP", "longtime"], "notes": "Prefers email communication"}))
        .await;
    r.ok(200);
    let d = r.data();
    assert_eq!(d["phone"], "+1987654321");
    assert_eq!(d["tags"], json!(["VIP", "longtime"]));
    assert_eq!(d["notes"], "Prefers email communication");
    for kept in [
        "firstName",
        "lastName",
        "email",
        "address",
        "shipping",
        "metadata",
        "createdAt",
        "id",
    ] {
        assert_eq!(d[kept], before[kept], "{kept} is unchanged");
    }
    let r = t.patch("cust_abc123", json!({"tags": ["new-tag"]})).await;
    assert_eq!(
        r.data()["tags"],
        json!(["new-tag"]),
        "tags are replaced, not appended"
    );
}

#[tokio::test]
async fn tiquo_address_merge_keeps_other_members_in_one_call() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let r = t
        .patch("c", json!({"address": {"line1": "456 Oak Avenue"}}))
        .await;
    r.ok(200);
    assert_eq!(
        r.calls, 1,
        "merging into an existing address is one DynamoDB call"
    );
    let mut want = address();
    want["line1"] = json!("456 Oak Avenue");
    assert_eq!(r.data()["address"], want);
    // `null` inside a merge removes that member only.
    let r = t.patch("c", json!({"address": {"line2": null}})).await;
    want["line2"] = Value::Null;
    assert_eq!(r.data()["address"], want);
}

#[tokio::test]
async fn merge_into_a_missing_address_creates_it() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c"})).await;
    let r = t
        .patch("c", json!({"address": {"city": "Lisbon", "country": "PT"}}))
        .await;
    r.ok(200);
    assert_eq!(r.data()["address"]["city"], "Lisbon");
    assert_eq!(r.data()["address"]["country"], "PT");
    assert_eq!(r.data()["address"]["line1"], Value::Null);
    assert_eq!(r.etag(), "\"2\"");
    // Clearing every member leaves no address.
    let r = t
        .patch("c", json!({"address": {"city": null, "country": null}}))
        .await;
    assert_eq!(r.data()["address"], Value::Null);
    assert_eq!(t.get("c").await.data()["address"], Value::Null);
}

#[tokio::test]
async fn kelviq_update_replaces_metadata() {
    let t = TestApp::new().await;
    customer(&t, "unique-customer-id-123").await;
    t.patch(
        "unique-customer-id-123",
        json!({"metadata": {"source": "sdk_import", "priority": "high", "extra": "x"}}),
    )
    .await
    .ok(200);
    let r = t
        .patch(
            "unique-customer-id-123",
            json!({
                "email": "jane.roe.updated@example.com",
                "name": "Johnathan Doe",
                "metadata": {"source": "sdk_import", "priority": "very_high", "status": "active"},
                "address": address(),
            }),
        )
        .await;
    r.ok(200);
    let d = r.data();
    assert_eq!(
        d["metadata"],
        json!({"source": "sdk_import", "priority": "very_high", "status": "active"})
    );
    assert_eq!(d["email"], "jane.roe.updated@example.com");
    assert_eq!(d["name"], "Johnathan Doe");
    assert_eq!(d["address"], address());
    assert_eq!(d["details"], json!({}));
}

#[tokio::test]
async fn checkoutpage_replaces_shipping_and_rejects_empty_bodies() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let r = t
        .patch(
            "c",
            json!({"shipping": {"name": "Jane", "address": {"city": "Paris"}}}),
        )
        .await;
    r.ok(200);
    assert_eq!(
        r.data()["shipping"],
        json!({"name": "Jane", "phone": null, "address": {"line1": null, "line2": null, "city": "Paris", "state": null, "postalCode": null, "country": null}})
    );
    let etag = r.etag().to_owned();
    t.patch_with("c", "", &[("content-type", "application/json")])
        .await
        .expect(400, "empty_patch");
    t.patch("c", json!({})).await.expect(400, "empty_patch");
    t.patch("c", json!([{"name": "x"}]))
        .await
        .expect(400, "invalid_json");
    t.patch_with("c", "{\"name\": ", &[])
        .await
        .expect(400, "invalid_json");
    assert_eq!(
        t.get("c").await.etag(),
        etag,
        "refused patches change nothing"
    );
}

#[tokio::test]
async fn clearing_and_absent_are_different() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let r = t
        .patch(
            "c",
            json!({"phone": null, "metadata": null, "tags": null, "shipping": null}),
        )
        .await;
    r.ok(200);
    let d = r.data();
    assert_eq!(d["phone"], Value::Null);
    assert_eq!(d["metadata"], json!({}));
    assert_eq!(d["tags"], json!([]));
    assert_eq!(d["shipping"], Value::Null);
    assert_eq!(d["firstName"], "John", "absent members are untouched");
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_version_and_updated_at() {
    let t = TestApp::new().await;
    let before = customer(&t, "c").await;
    let r = t
        .patch("c", json!({"firstName": "John", "address": {"city": "Bangalore"}, "tags": ["old"], "email": "c@example.com"}))
        .await;
    r.ok(200);
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.data()["updatedAt"], before["updatedAt"]);
    assert_eq!(r.calls, 1);
    let r = t.patch("c", json!({"address": {}})).await;
    r.ok(200);
    assert_eq!(r.etag(), "\"1\"");
}

#[tokio::test]
async fn rfc7396_examples_through_the_api_on_metadata() {
    // Appendix A examples whose documents fit a string-to-string map.
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
    ];
    let t = TestApp::new().await;
    for (i, (target, patch, want)) in cases.into_iter().enumerate() {
        let id = format!("c{i}");
        t.seed(json!({"customerId": id, "metadata": target})).await;
        let r = t.merge_patch(&id, json!({"metadata": patch})).await;
        r.ok(200);
        assert_eq!(r.data()["metadata"], want, "case {i}");
    }
    // Arrays replace; null deletes top-level members; objects merge
    // recursively (shipping.address) whatever the json-mode strategy.
    customer(&t, "deep").await;
    let r = t
        .merge_patch("deep", json!({"tags": ["x"], "phone": null, "shipping": {"address": {"city": "Pune", "line2": null}}}))
        .await;
    r.ok(200);
    let d = r.data();
    assert_eq!(d["tags"], json!(["x"]));
    assert_eq!(d["phone"], Value::Null);
    assert_eq!(d["shipping"]["name"], "John");
    assert_eq!(d["shipping"]["address"]["city"], "Pune");
    assert_eq!(d["shipping"]["address"]["line1"], "123 Main Street");
    assert_eq!(d["shipping"]["address"]["line2"], Value::Null);
}

#[tokio::test]
async fn content_types() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let body = r#"{"metadata":{"k":"v"}}"#;
    t.patch_with(
        "c",
        body,
        &[(
            "content-type",
            "Application/Merge-Patch+JSON; charset=utf-8",
        )],
    )
    .await
    .ok(200);
    assert_eq!(
        t.get("c").await.data()["metadata"]["source"],
        "sdk_import",
        "merged"
    );
    t.patch_with("c", r#"{"name":"A"}"#, &[]).await.ok(200);
    t.patch_with(
        "c",
        r#"{"name":"B"}"#,
        &[("content-type", "APPLICATION/JSON;charset=UTF-8")],
    )
    .await
    .ok(200);
    let r = t
        .patch_with("c", body, &[("content-type", "text/plain")])
        .await;
    r.expect(415, "unsupported_media_type");
    assert_eq!(
        r.header("accept-patch"),
        "application/json, application/merge-patch+json"
    );
}

#[tokio::test]
async fn patch_strategy_swaps_behaviour() {
    let t = TestApp::builder()
        .env("PATCH_STRATEGY", "address=replace,metadata=merge")
        .build()
        .await;
    customer(&t, "c").await;
    let r = t
        .patch(
            "c",
            json!({"address": {"line1": "456 Oak Avenue"}, "metadata": {"status": "active"}}),
        )
        .await;
    r.ok(200);
    assert_eq!(
        r.data()["address"],
        json!({"line1": "456 Oak Avenue", "line2": null, "city": null, "state": null, "postalCode": null, "country": null})
    );
    assert_eq!(
        r.data()["metadata"],
        json!({"source": "sdk_import", "priority": "high", "status": "active"})
    );
}

#[test]
fn a_bad_patch_strategy_stops_the_function_at_start_up() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_customers-api"))
        .env("TABLE_NAME", "t")
        .env("API_KEYS_PARAMETER", "/p")
        .env("PATCH_STRATEGY", "address=sideways")
        .output()
        .expect("run the binary");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PATCH_STRATEGY")
            && stderr.contains("sideways")
            && stderr.contains("merge or replace"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unknown_and_read_only_members() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let r = t.patch("c", json!({"billingAddress": {"city": "X"}})).await;
    r.expect(400, "unknown_field");
    assert_eq!(r.body["errors"][0]["param"], "billingAddress");
    for ro in ["id", "customerId", "createdAt", "updatedAt", "details"] {
        let r = t.patch("c", json!({ ro: "x" })).await;
        r.expect(400, "read_only_field");
        assert_eq!(r.body["errors"][0]["param"], ro);
    }
    let r = t.patch("c", json!({"address": {"planet": "Mars"}})).await;
    r.expect(400, "unknown_field");
    assert_eq!(r.body["errors"][0]["param"], "address.planet");
    assert_eq!(t.get("c").await.etag(), "\"1\"");
}

#[tokio::test]
async fn every_violation_is_reported_at_once() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let r = t
        .patch("c", json!({"phone": "12345", "address": {"country": "XX"}, "tags": ["a", "b", "a"], "name": "ok"}))
        .await;
    r.expect(400, "validation_failed");
    let errs = r.body["errors"].as_array().unwrap();
    let params: Vec<_> = errs.iter().map(|e| e["param"].as_str().unwrap()).collect();
    assert_eq!(params, vec!["phone", "address.country", "tags.2"]);
    assert_eq!(errs[0]["value"], "12345");
    assert!(
        errs.iter()
            .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(
        t.get("c").await.data()["name"],
        Value::Null,
        "nothing was applied"
    );
}

/// (field body at the limit, field body one past it, param reported)
fn limits() -> Vec<(Value, Value, &'static str)> {
    let s = |n: usize| "a".repeat(n);
    let meta = |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), json!("v"))).collect());
    let tags = |n: usize| Value::Array((0..n).map(|i| json!(format!("t{i}"))).collect());
    // Domain labels of at most 63 (SPEC §4 as revised by issue 14; a single
    // long label was accepted before).
    let email = |local: usize, total: usize| {
        let (mut rest, mut labels) = (total - local - 4, Vec::new());
        while rest > 0 {
            let n = rest.min(63);
            labels.push(s(n));
            rest -= n;
            rest = rest.saturating_sub(1);
        }
        json!(format!("{}@{}.io", s(local), labels.join(".")))
    };
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    vec![
        (json!({"name": s(256)}), json!({"name": s(257)}), "name"),
        (
            json!({"firstName": s(128)}),
            json!({"firstName": s(129)}),
            "firstName",
        ),
        (
            json!({"lastName": s(128)}),
            json!({"lastName": s(129)}),
            "lastName",
        ),
        (
            json!({"companyName": s(256)}),
            json!({"companyName": s(257)}),
            "companyName",
        ),
        (json!({"taxId": s(64)}), json!({"taxId": s(65)}), "taxId"),
        (
            json!({"taxIdType": s(32)}),
            json!({"taxIdType": s(33)}),
            "taxIdType",
        ),
        (
            json!({"notes": s(5000)}),
            json!({"notes": s(5001)}),
            "notes",
        ),
        (
            json!({"preferredLocationId": s(128)}),
            json!({"preferredLocationId": s(129)}),
            "preferredLocationId",
        ),
        (
            json!({"companyId": s(128)}),
            json!({"companyId": s(129)}),
            "companyId",
        ),
        (
            json!({"email": email(64, 254)}),
            json!({"email": email(64, 255)}),
            "email",
        ),
        (
            json!({"email": email(64, 100)}),
            json!({"email": email(65, 100)}),
            "email",
        ),
        (
            json!({"billingEmail": email(64, 254)}),
            json!({"billingEmail": email(64, 255)}),
            "billingEmail",
        ),
        (
            json!({"phone": "+123456789012345"}),
            json!({"phone": "+1234567890123456"}),
            "phone",
        ),
        (
            json!({"phone": "+1234567"}),
            json!({"phone": "+123456"}),
            "phone",
        ),
        (
            json!({"dateOfBirth": "1900-01-01"}),
            json!({"dateOfBirth": "1899-12-31"}),
            "dateOfBirth",
        ),
        (
            json!({"dateOfBirth": today.to_string()}),
            json!({"dateOfBirth": tomorrow.to_string()}),
            "dateOfBirth",
        ),
        (
            json!({"address": {"line1": s(256)}}),
            json!({"address": {"line1": s(257)}}),
            "address.line1",
        ),
        (
            json!({"address": {"postalCode": s(32)}}),
            json!({"address": {"postalCode": s(33)}}),
            "address.postalCode",
        ),
        (
            json!({"address": {"country": "DE"}}),
            json!({"address": {"country": "de"}}),
            "address.country",
        ),
        (
            json!({"shipping": {"name": s(256)}}),
            json!({"shipping": {"name": s(257)}}),
            "shipping.name",
        ),
        (
            json!({"metadata": meta(50)}),
            json!({"metadata": meta(51)}),
            "metadata",
        ),
        (
            json!({"metadata": {s(40): "v"}}),
            json!({"metadata": {s(41): "v"}}),
            "metadata.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            json!({"metadata": {"k": s(500)}}),
            json!({"metadata": {"k": s(501)}}),
            "metadata.k",
        ),
        (json!({"tags": tags(50)}), json!({"tags": tags(51)}), "tags"),
        (json!({"tags": [s(64)]}), json!({"tags": [s(65)]}), "tags.0"),
        (
            json!({"name": "é".repeat(256)}),
            json!({"name": "é".repeat(257)}),
            "name",
        ),
    ]
}

#[tokio::test]
async fn every_limit_at_its_boundary() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c"})).await;
    for (at, past, param) in limits() {
        let r = t.patch("c", at.clone()).await;
        assert_eq!(r.status, 200, "{at} at the limit: {}", r.body);
        let before = t.get("c").await.etag().to_owned();
        let r = t.patch("c", past.clone()).await;
        assert_eq!(r.status, 400, "{param} one past the limit: {}", r.body);
        assert_eq!(r.code(), "validation_failed");
        assert_eq!(r.body["errors"][0]["param"], param, "{}", r.body);
        assert_eq!(
            t.get("c").await.etag(),
            before,
            "a refused patch changes nothing"
        );
        // The same rules hold on POST.
        let mut create = past.as_object().unwrap().clone();
        create.insert(
            "customerId".into(),
            json!(format!("p{}", uuid::Uuid::new_v4().simple())),
        );
        t.post(Value::Object(create))
            .await
            .expect(400, "validation_failed");
    }
}

#[tokio::test]
async fn metadata_merge_cannot_pass_fifty_keys() {
    let t = TestApp::builder()
        .env("PATCH_STRATEGY", "metadata=merge")
        .build()
        .await;
    let meta: serde_json::Map<String, Value> =
        (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
    t.seed(json!({"customerId": "c", "metadata": meta})).await;
    let r = t
        .patch("c", json!({"metadata": {"k0": "changed", "n1": "v"}}))
        .await;
    r.ok(200);
    assert_eq!(r.data()["metadata"].as_object().unwrap().len(), 50);
    let r = t.patch("c", json!({"metadata": {"n2": "v"}})).await;
    r.expect(400, "validation_failed");
    assert_eq!(r.body["errors"][0]["param"], "metadata");
    // Replacing a key at the limit is fine.
    t.patch("c", json!({"metadata": {"n1": "w", "k1": null}}))
        .await
        .ok(200);
    assert_eq!(
        t.get("c").await.data()["metadata"]
            .as_object()
            .unwrap()
            .len(),
        49
    );
}

#[tokio::test]
async fn user_map_keys_are_stored_literally() {
    let t = TestApp::builder()
        .env("PATCH_STRATEGY", "metadata=merge")
        .build()
        .await;
    t.seed(json!({"customerId": "c", "metadata": {"x": "1"}}))
        .await;
    let keys = json!({"a.b": "1", "#x": "2", ":v": "3", "name": "4", "😀": "5", "version": "6", "pk": "7"});
    let r = t.patch("c", json!({"metadata": keys})).await;
    r.ok(200);
    let mut want = keys.as_object().unwrap().clone();
    want.insert("x".into(), json!("1"));
    assert_eq!(r.data()["metadata"], Value::Object(want.clone()));
    assert_eq!(t.get("c").await.data()["metadata"], Value::Object(want));
    assert_eq!(
        t.get("c").await.etag(),
        "\"2\"",
        "a metadata key named `version` is not the version"
    );
    let r = t.patch("c", json!({"metadata": {"[": "x"}})).await;
    r.expect(400, "validation_failed");
}

#[tokio::test]
async fn payload_limit() {
    let t = TestApp::new().await;
    customer(&t, "c").await;
    let pad = 16 * 1024 - r#"{"notes":""}"#.len();
    let at = format!(r#"{{"notes":"{}"}}"#, " ".repeat(pad));
    assert_eq!(at.len(), 16 * 1024);
    // At 16 KiB the body is read (and fails validation on length, not size).
    t.patch_with("c", &at, &[])
        .await
        .expect(400, "validation_failed");
    let past = format!(r#"{{"notes":"{}"}}"#, " ".repeat(pad + 1));
    t.patch_with("c", &past, &[])
        .await
        .expect(413, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_merges_of_different_metadata_keys_all_land() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c"})).await;
    let app = Arc::new(t);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (t, b) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                t.merge_patch(
                    "c",
                    json!({"metadata": { format!("key{i}"): format!("v{i}") }}),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().ok(200);
    }
    let r = app.get("c").await;
    let meta = r.data()["metadata"].as_object().unwrap().clone();
    assert_eq!(meta.len(), 20, "{meta:?}");
    for i in 0..20 {
        assert_eq!(meta[&format!("key{i}")], format!("v{i}"));
    }
    assert_eq!(r.etag(), "\"21\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_to_twenty_fields_all_land() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c", "address": {"line1": "x"}}))
        .await;
    let patches = vec![
        json!({"name": "N"}),
        json!({"firstName": "F"}),
        json!({"lastName": "L"}),
        json!({"companyName": "C"}),
        json!({"email": "c@example.com"}),
        json!({"billingEmail": "b@example.com"}),
        json!({"phone": "+14155550100"}),
        json!({"dateOfBirth": "1990-05-15"}),
        json!({"taxId": "T"}),
        json!({"taxIdType": "eu_vat"}),
        json!({"tags": ["t"]}),
        json!({"notes": "n"}),
        json!({"preferredLocationId": "loc"}),
        json!({"companyId": "co"}),
        json!({"marketingConsent": true}),
        json!({"address": {"line1": "L1"}}),
        json!({"address": {"line2": "L2"}}),
        json!({"address": {"city": "City"}}),
        json!({"address": {"postalCode": "12345"}}),
        json!({"address": {"country": "US"}}),
    ];
    assert_eq!(patches.len(), 20);
    let app = Arc::new(t);
    let barrier = Arc::new(tokio::sync::Barrier::new(patches.len()));
    let tasks: Vec<_> = patches
        .iter()
        .cloned()
        .map(|p| {
            let (t, b) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                t.patch("c", p).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().ok(200);
    }
    let d = app.get("c").await.data().clone();
    for p in &patches {
        let (k, v) = p.as_object().unwrap().iter().next().unwrap();
        if k == "address" {
            let (m, mv) = v.as_object().unwrap().iter().next().unwrap();
            assert_eq!(&d["address"][m], mv, "address.{m}");
        } else {
            assert_eq!(&d[k], v, "{k}");
        }
    }
    assert!(app.violations().await.is_empty());
}

#[tokio::test]
async fn post_follows_the_same_rules() {
    let t = TestApp::new().await;
    let r = t
        .post(json!({"customerId": "p", "name": "N", "phone": null, "metadata": {}, "tags": []}))
        .await;
    r.ok(201);
    assert_eq!(r.data()["phone"], Value::Null);
    let r = t.post(json!({"customerId": "q", "id": "mine"})).await;
    r.expect(400, "read_only_field");
    t.post(json!({"name": "no id"}))
        .await
        .expect(400, "invalid_customer_id");
    t.post(json!({"customerId": "bad id"}))
        .await
        .expect(400, "invalid_customer_id");
    let r = t
        .req(
            "POST",
            "/v1/customers",
            &[
                ("authorization", WRITE),
                ("content-type", "application/merge-patch+json"),
            ],
            Some(r#"{"customerId":"m"}"#),
        )
        .await;
    r.expect(415, "unsupported_media_type");
}
