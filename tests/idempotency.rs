//! Idempotent writes (SPEC §11, issue 13) on DynamoDB Local: first use,
//! replay, reuse with another request, scope per API key, expiry, lost
//! responses, concurrency, and what each costs.

mod common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use common::lossy::Lossy;
use common::{READ, Resp, TestApp, WRITE, sdk, unique};
use customers_api::auth::sha256_hex;
use customers_api::http::idempotency::record_id;
use serde_json::{Value, json};

/// A second key with write scope, to show that scopes do not mix.
const OTHER: &str = "Bearer other-write-key";

fn keys_with_other() -> String {
    json!({"keys": [
        {"id": "local_write", "sha256": sha256_hex("local-write-key"), "scopes": ["customers:read", "customers:write"]},
        {"id": "local_read", "sha256": sha256_hex("local-read-key"), "scopes": ["customers:read"]},
        {"id": "other_write", "sha256": sha256_hex("other-write-key"), "scopes": ["customers:read", "customers:write"]},
    ]})
    .to_string()
}

async fn keyed(
    t: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    extra: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut h = vec![
        ("authorization", WRITE),
        ("content-type", "application/json"),
        ("idempotency-key", key),
    ];
    h.extend_from_slice(extra);
    t.req(method, path, &h, body).await
}

async fn post_k(t: &TestApp, key: &str, body: &Value) -> Resp {
    keyed(
        t,
        "POST",
        "/v1/customers",
        key,
        &[],
        Some(&body.to_string()),
    )
    .await
}

async fn patch_k(t: &TestApp, id: &str, key: &str, if_match: Option<&str>, body: &Value) -> Resp {
    let extra: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    let path = format!("/v1/customers/{id}");
    keyed(t, "PATCH", &path, key, &extra, Some(&body.to_string())).await
}

async fn delete_k(t: &TestApp, id: &str, key: &str, if_match: Option<&str>) -> Resp {
    let extra: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    keyed(
        t,
        "DELETE",
        &format!("/v1/customers/{id}"),
        key,
        &extra,
        None,
    )
    .await
}

fn replayed(r: &Resp) -> bool {
    r.header("idempotent-replayed") == "true"
}

/// Status, body bytes and the headers a replay repeats.
#[track_caller]
fn same_answer(first: &Resp, again: &Resp) {
    assert_eq!(again.status, first.status, "{}", again.raw);
    assert_eq!(again.raw, first.raw);
    for h in ["etag", "location", "content-type"] {
        assert_eq!(again.header(h), first.header(h), "{h}");
    }
}

/// Makes the record of `key` (sent with the local write key) expired, as
/// if its lifetime had passed; DynamoDB Local never deletes by TTL.
async fn expire(t: &TestApp, key: &str) {
    let past = chrono::Utc::now().timestamp() - 10;
    t.ddb
        .update_item()
        .table_name(&t.table)
        .key(
            "pk",
            AttributeValue::S(format!("idem#{}", record_id("local_write", key))),
        )
        .update_expression("SET expiresAt = :p")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":p", AttributeValue::N(past.to_string()))
        .send()
        .await
        .expect("the record exists");
}

#[tokio::test]
async fn post_first_use_replay_reuse_and_scope() {
    let t = TestApp::builder()
        .keys(Some(&keys_with_other()))
        .build()
        .await;
    let id = unique("c");
    let body = json!({"customerId": id, "name": "Ada", "email": format!("{id}@example.com")});
    let first = post_k(&t, "k-post", &body).await;
    first.ok(201);
    assert!(!replayed(&first));
    assert_eq!(first.calls, 1, "a keyed POST is one transaction");
    assert_eq!(first.header("location"), format!("/v1/customers/{id}"));

    // The same request, members reordered and spaced: replayed, one call.
    let spaced = format!(
        "{{ \"email\": \"{id}@example.com\",\n  \"name\": \"Ada\", \"customerId\": \"{id}\" }}"
    );
    let again = keyed(
        &t,
        "POST",
        "/v1/customers",
        "\"k-post\"",
        &[],
        Some(&spaced),
    )
    .await;
    same_answer(&first, &again);
    assert!(replayed(&again));
    assert_eq!(again.calls, 1);

    // The key with another body: 422, nothing written.
    let other = json!({"customerId": id, "name": "Grace"});
    post_k(&t, "k-post", &other)
        .await
        .expect(422, "idempotency_key_reused");
    let now = t.get(&id).await;
    assert_eq!(
        (now.data()["name"].as_str(), now.etag()),
        (Some("Ada"), "\"1\"")
    );

    // Another API key's `k-post` is another key: the POST runs, and finds
    // the customer there.
    let mut h = vec![
        ("authorization", OTHER),
        ("content-type", "application/json"),
        ("idempotency-key", "k-post"),
    ];
    let r = t
        .req("POST", "/v1/customers", &h, Some(&body.to_string()))
        .await;
    r.expect(409, "customer_exists");
    assert!(!replayed(&r));
    // And its own first use is its own record.
    let id2 = unique("c");
    let body2 = json!({"customerId": id2}).to_string();
    h[0] = ("authorization", OTHER);
    t.req("POST", "/v1/customers", &h, Some(&body2))
        .await
        .ok(201);
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn patch_replays_its_own_answer_after_later_changes() {
    let t = TestApp::new().await;
    let id = unique("c");
    t.seed(json!({"customerId": id, "name": "Ada"})).await;

    let first = patch_k(&t, &id, "k1", Some("\"1\""), &json!({"name": "Grace"})).await;
    first.ok(200);
    assert_eq!(first.etag(), "\"2\"");
    assert!(!replayed(&first));
    assert_eq!(
        first.calls, 2,
        "a keyed PATCH reads (record + customer), then writes"
    );
    assert_eq!(
        first.raw,
        t.get(&id).await.raw,
        "the recorded body is what GET shows"
    );

    let again = patch_k(&t, &id, "k1", Some("\"1\""), &json!({"name": "Grace"})).await;
    same_answer(&first, &again);
    assert!(replayed(&again));
    assert_eq!(again.calls, 1, "a replay is one read");

    // Someone else changes the customer; the retry still gets its own 200
    // (not 412 for its stale If-Match), and nothing is written.
    t.patch(&id, json!({"name": "Linus"})).await.ok(200);
    let late = patch_k(&t, &id, "k1", Some("\"1\""), &json!({"name": "Grace"})).await;
    same_answer(&first, &late);
    assert!(replayed(&late));
    let cur = t.get(&id).await;
    assert_eq!(
        (cur.data()["name"].as_str(), cur.etag()),
        (Some("Linus"), "\"3\"")
    );

    // Reused for another change, another dialect or another If-Match: 422.
    for (m, b) in [
        (Some("\"1\""), json!({"name": "Other"})),
        (Some("\"3\""), json!({"name": "Grace"})),
        (None, json!({"name": "Grace"})),
    ] {
        patch_k(&t, &id, "k1", m, &b)
            .await
            .expect(422, "idempotency_key_reused");
    }
    let merge = t
        .req(
            "PATCH",
            &format!("/v1/customers/{id}"),
            &[
                ("authorization", WRITE),
                ("content-type", "application/merge-patch+json"),
                ("idempotency-key", "k1"),
                ("if-match", "\"1\""),
            ],
            Some(r#"{"name":"Grace"}"#),
        )
        .await;
    merge.expect(422, "idempotency_key_reused");
    assert_eq!(t.get(&id).await.etag(), "\"3\"");
}

#[tokio::test]
async fn what_commits_nothing_records_nothing() {
    let t = TestApp::new().await;
    let id = unique("c");
    let taken = unique("c");
    t.seed(json!({"customerId": taken, "email": format!("{taken}@example.com")}))
        .await;
    t.seed(json!({"customerId": id, "name": "Ada"})).await;

    // A no-op: 200, no version bump, and the key is still free.
    let noop = patch_k(&t, &id, "k-noop", None, &json!({"name": "Ada"})).await;
    noop.ok(200);
    assert_eq!(noop.etag(), "\"1\"");
    let then = patch_k(&t, &id, "k-noop", None, &json!({"name": "Bea"})).await;
    then.ok(200);
    assert!(!replayed(&then));
    assert_eq!(then.etag(), "\"2\"");

    // 412, 409, 400 and 404 store nothing: a retry with the key runs again.
    patch_k(&t, &id, "k-412", Some("\"9\""), &json!({"name": "C"}))
        .await
        .expect(412, "precondition_failed");
    patch_k(&t, &id, "k-412", Some("\"2\""), &json!({"name": "C"}))
        .await
        .ok(200);
    let steal = json!({"email": format!("{taken}@example.com")});
    patch_k(&t, &id, "k-409", None, &steal)
        .await
        .expect(409, "email_taken");
    patch_k(
        &t,
        &id,
        "k-409",
        None,
        &json!({"email": format!("{id}@example.com")}),
    )
    .await
    .ok(200);
    patch_k(&t, &id, "k-400", None, &json!({"phone": "nope"}))
        .await
        .expect(400, "validation_failed");
    patch_k(&t, &id, "k-400", None, &json!({"phone": "+14155550100"}))
        .await
        .ok(200);
    let ghost = unique("c");
    delete_k(&t, &ghost, "k-404", None)
        .await
        .expect(404, "not_found");
    t.seed(json!({"customerId": ghost})).await;
    delete_k(&t, &ghost, "k-404", None).await.ok(204);
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn delete_replays_204_and_releases_the_email_once() {
    let t = TestApp::new().await;
    let plain = unique("c");
    t.seed(json!({"customerId": plain})).await;
    let first = delete_k(&t, &plain, "k-del", None).await;
    first.ok(204);
    assert_eq!(
        first.calls, 1,
        "a keyed DELETE without email is one transaction"
    );
    let again = delete_k(&t, &plain, "k-del", None).await;
    same_answer(&first, &again);
    assert!(replayed(&again));
    assert_eq!(again.calls, 1);
    delete_k(&t, &plain, "k-del", Some("\"1\""))
        .await
        .expect(422, "idempotency_key_reused");

    let held = unique("c");
    let email = format!("{held}@example.com");
    t.seed(json!({"customerId": held, "email": email})).await;
    let first = delete_k(&t, &held, "k-del-2", Some("\"1\"")).await;
    first.ok(204);
    assert_eq!(first.calls, 2, "as unkeyed: the first try learns the email");
    let again = delete_k(&t, &held, "k-del-2", Some("\"1\"")).await;
    assert!(replayed(&again));
    same_answer(&first, &again);
    // The email is free for another customer; the invariant holds.
    t.seed(json!({"customerId": unique("c"), "email": email}))
        .await;
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn an_expired_record_no_longer_answers() {
    let t = TestApp::new().await;
    let id = unique("c");
    let body = json!({"customerId": id, "name": "Ada"});
    post_k(&t, "k-exp", &body).await.ok(201);
    expire(&t, "k-exp").await;
    // Expired: the POST runs again, and finds the customer it made.
    let r = post_k(&t, "k-exp", &body).await;
    r.expect(409, "customer_exists");
    assert!(!replayed(&r));

    patch_k(&t, &id, "k-exp-p", None, &json!({"tags": ["a"]}))
        .await
        .ok(200);
    expire(&t, "k-exp-p").await;
    // Runs again: now a no-op (same value), not a replay.
    let r = patch_k(&t, &id, "k-exp-p", None, &json!({"tags": ["a"]})).await;
    r.ok(200);
    assert!(!replayed(&r));
    // An expired record is replaced by the next committed use.
    patch_k(&t, &id, "k-exp-p", None, &json!({"tags": ["b"]}))
        .await
        .ok(200);
    let r = patch_k(&t, &id, "k-exp-p", None, &json!({"tags": ["b"]})).await;
    assert!(replayed(&r), "{}", r.raw);
    assert_eq!(t.get(&id).await.etag(), "\"3\"");
}

#[tokio::test]
async fn lost_responses_are_answered_by_the_retry() {
    let lossy = Lossy::default();
    let t = TestApp::builder()
        .ddb(lossy.client(&sdk().await))
        .env("SDK_ATTEMPT_TIMEOUT_MS", "300")
        .env("SDK_OPERATION_TIMEOUT_MS", "900")
        .build()
        .await;
    let id = unique("c");
    let email = format!("{id}@example.com");
    let body = json!({"customerId": id, "email": email});

    // POST: the transaction commits, its answer is lost, the client gets
    // 503; the retry replays 201 (not 409).
    lossy.arm("TransactWriteItems", 1);
    post_k(&t, "k-lost-post", &body)
        .await
        .expect(503, "service_unavailable");
    assert_eq!(lossy.lost_after_commit(), 1);
    let retry = post_k(&t, "k-lost-post", &body).await;
    retry.ok(201);
    assert!(replayed(&retry));
    assert_eq!(retry.etag(), "\"1\"");
    // Without the key the same retry would have been told 409.
    t.post(body.clone()).await.expect(409, "customer_exists");

    // PATCH with If-Match: 503, then the retry's own 200 (not 412), and
    // exactly one version bump.
    lossy.arm("TransactWriteItems", 1);
    let change = json!({"name": "Ada"});
    patch_k(&t, &id, "k-lost-patch", Some("\"1\""), &change)
        .await
        .expect(503, "service_unavailable");
    assert_eq!(lossy.lost_after_commit(), 2);
    let retry = patch_k(&t, &id, "k-lost-patch", Some("\"1\""), &change).await;
    retry.ok(200);
    assert!(replayed(&retry));
    assert_eq!(retry.etag(), "\"2\"");
    assert_eq!(retry.data()["name"], "Ada");
    assert_eq!(t.get(&id).await.etag(), "\"2\"");

    // DELETE: 503, then 204 (not 404); the sentinel went with it.
    lossy.arm("TransactWriteItems", 1);
    delete_k(&t, &id, "k-lost-del", Some("\"2\""))
        .await
        .expect(503, "service_unavailable");
    assert_eq!(lossy.lost_after_commit(), 3);
    let retry = delete_k(&t, &id, "k-lost-del", Some("\"2\"")).await;
    retry.ok(204);
    assert!(replayed(&retry));
    t.get(&id).await.expect(404, "not_found");
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn concurrent_identical_requests_make_one_change() {
    let t = Arc::new(TestApp::new().await);
    let id = unique("c");
    let body = json!({"customerId": id, "name": "Ada", "email": format!("{id}@example.com")});
    let posts: Vec<_> = (0..32)
        .map(|_| {
            let (t, body) = (t.clone(), body.clone());
            tokio::spawn(async move { post_k(&t, "k-race-post", &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for p in posts {
        answers.push(p.await.expect("task"));
    }
    for a in &answers {
        same_answer(&answers[0], a);
    }
    assert_eq!(answers[0].status, 201);
    assert_eq!(answers.iter().filter(|a| !replayed(a)).count(), 1);

    let change = json!({"tags": ["vip"], "address": {"city": "Paris"}});
    let patches: Vec<_> = (0..32)
        .map(|_| {
            let (t, id, change) = (t.clone(), id.clone(), change.clone());
            tokio::spawn(async move { patch_k(&t, &id, "k-race-patch", None, &change).await })
        })
        .collect();
    let mut answers = Vec::new();
    for p in patches {
        answers.push(p.await.expect("task"));
    }
    for a in &answers {
        same_answer(&answers[0], a);
    }
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers.iter().filter(|a| !replayed(a)).count(), 1);
    assert_eq!(t.get(&id).await.etag(), "\"2\"", "one change, one version");
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn header_rules_and_the_required_mode() {
    let t = TestApp::builder()
        .env("REQUIRE_IDEMPOTENCY_KEY", "true")
        .build()
        .await;
    let id = unique("c");
    let body = json!({"customerId": id}).to_string();
    let plain = [
        ("authorization", WRITE),
        ("content-type", "application/json"),
    ];
    t.req("POST", "/v1/customers", &plain, Some(&body))
        .await
        .expect(400, "idempotency_key_required");
    for bad in ["", "\"unterminated", "two words", &"x".repeat(256)] {
        let mut h = plain.to_vec();
        h.push(("idempotency-key", bad));
        t.req("POST", "/v1/customers", &h, Some(&body))
            .await
            .expect(400, "invalid_idempotency_key");
    }
    assert_eq!(t.item_count().await, 0, "refused requests change nothing");
    post_k(&t, "k", &json!({"customerId": id})).await.ok(201);
    // GET needs no key and ignores a malformed one.
    t.req(
        "GET",
        &format!("/v1/customers/{id}"),
        &[("authorization", READ), ("idempotency-key", "two words")],
        None,
    )
    .await
    .ok(200);
    t.delete(&id, &[])
        .await
        .expect(400, "idempotency_key_required");
    t.patch(&id, json!({"name": "A"}))
        .await
        .expect(400, "idempotency_key_required");
}
