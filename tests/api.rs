//! The four routes end to end on the local stack: SPEC §1, §6, §7.

mod common;

use common::{READ, TestApp, WRITE};
use serde_json::{Value, json};

#[tokio::test]
async fn create_read_patch_delete() {
    let t = TestApp::new().await;
    let r = t
        .post(json!({"customerId": "cust_1", "name": "John Doe", "email": "john@example.com", "phone": "+14155550100"}))
        .await;
    r.ok(201);
    assert_eq!(r.header("location"), "/v1/customers/cust_1");
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.calls, 1, "POST makes one DynamoDB call");
    let created = r.data().clone();
    assert_eq!(created["customerId"], "cust_1");
    assert!(uuid::Uuid::parse_str(created["id"].as_str().unwrap()).is_ok());
    assert_eq!(created["createdAt"], created["updatedAt"]);
    assert_eq!(created["metadata"], json!({}));
    assert_eq!(created["tags"], json!([]));
    assert_eq!(created["address"], Value::Null);

    let g = t.get("cust_1").await;
    g.ok(200);
    assert_eq!(g.etag(), "\"1\"");
    assert_eq!(g.data(), &created);
    assert_eq!(g.calls, 1);

    let p = t.patch("cust_1", json!({"name": "Johnathan Doe"})).await;
    p.ok(200);
    assert_eq!(p.etag(), "\"2\"");
    assert_eq!(
        p.calls, 1,
        "a PATCH without email change is one DynamoDB call"
    );
    assert_eq!(p.data()["name"], "Johnathan Doe");
    assert_eq!(p.data()["email"], "john@example.com");
    assert_eq!(p.data()["phone"], "+14155550100");
    assert_eq!(p.data()["createdAt"], created["createdAt"]);
    assert!(p.data()["updatedAt"].as_str() > created["updatedAt"].as_str());

    let d = t.delete("cust_1", &[]).await;
    d.ok(204);
    assert!(d.calls <= 2);
    t.get("cust_1").await.expect(404, "not_found");
    assert_eq!(
        t.item_count().await,
        0,
        "customer and email sentinel are gone"
    );
}

#[tokio::test]
async fn timestamps_are_rfc3339_utc_with_microseconds() {
    let t = TestApp::new().await;
    let c = t.seed(json!({"customerId": "c"})).await;
    let ts = c["createdAt"].as_str().unwrap();
    assert_eq!(ts.len(), "2025-06-04T06:03:30.195790Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok());
}

#[tokio::test]
async fn missing_customers() {
    let t = TestApp::new().await;
    t.patch("nobody", json!({"name": "X"}))
        .await
        .expect(404, "not_found");
    t.delete("nobody", &[]).await.expect(404, "not_found");
    assert_eq!(
        t.item_count().await,
        0,
        "PATCH on a missing customer creates nothing"
    );
    t.seed(json!({"customerId": "dup"})).await;
    t.post(json!({"customerId": "dup", "name": "Other"}))
        .await
        .expect(409, "customer_exists");
    assert_eq!(t.get("dup").await.data()["name"], Value::Null);
}

#[tokio::test]
async fn authentication_and_scopes() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "a"})).await;
    let path = "/v1/customers/a";
    let body = Some(r#"{"name":"N"}"#);

    let r = t.req("PATCH", path, &[("authorization", READ)], body).await;
    r.expect(403, "insufficient_scope");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("customers:write")
    );

    let r = t.req("PATCH", path, &[], body).await;
    r.expect(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"customers\"");

    let r = t
        .req(
            "PATCH",
            path,
            &[("authorization", "Bearer not-a-key")],
            body,
        )
        .await;
    r.expect(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"customers\"");

    t.req("GET", path, &[("authorization", READ)], None)
        .await
        .ok(200);
    t.req("GET", path, &[("authorization", WRITE)], None)
        .await
        .ok(200);
    t.req("DELETE", path, &[("authorization", READ)], None)
        .await
        .expect(403, "insufficient_scope");
    t.req(
        "POST",
        "/v1/customers",
        &[("authorization", READ)],
        Some(r#"{"customerId":"b"}"#),
    )
    .await
    .expect(403, "insufficient_scope");
    assert_eq!(
        t.get("a").await.data()["name"],
        Value::Null,
        "refused requests changed nothing"
    );
}

#[tokio::test]
async fn routing() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "x"})).await;
    t.req("GET", "/v1/customers/x/", &[("authorization", READ)], None)
        .await
        .ok(200);
    let r = t
        .req(
            "PUT",
            "/v1/customers/x/",
            &[("authorization", WRITE)],
            Some("{}"),
        )
        .await;
    r.expect(405, "method_not_allowed");
    assert_eq!(r.header("allow"), "GET, PATCH, DELETE");
    // GET on the collection is the list since issue 14 (tests/find.rs).
    let r = t
        .req("PUT", "/v1/customers", &[("authorization", WRITE)], None)
        .await;
    r.expect(405, "method_not_allowed");
    assert_eq!(r.header("allow"), "GET, POST");
    t.req("GET", "/v1/orders/x", &[("authorization", READ)], None)
        .await
        .expect(404, "route_not_found");
    let r = t
        .req(
            "GET",
            "/v1/customers/a%2Fb",
            &[("authorization", READ)],
            None,
        )
        .await;
    r.expect(400, "invalid_customer_id");
    assert_eq!(r.header("content-type"), "application/problem+json");
    assert_eq!(r.body["status"], 400);
    assert_eq!(r.body["errors"][0]["param"], "customerId");
    assert!(r.body["requestId"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn location_keeps_the_stage_prefix() {
    let t = TestApp::new().await;
    let r = t
        .req(
            "POST",
            "/prod/v1/customers",
            &[("authorization", WRITE)],
            Some(r#"{"customerId":"staged"}"#),
        )
        .await;
    r.ok(201);
    assert_eq!(r.header("location"), "/prod/v1/customers/staged");
}

#[tokio::test]
async fn post_with_an_unsupported_media_type_names_what_it_accepts() {
    let t = TestApp::new().await;
    let r = t
        .req(
            "POST",
            "/v1/customers",
            &[("authorization", WRITE), ("content-type", "text/csv")],
            Some("customerId\nx"),
        )
        .await;
    r.expect(415, "unsupported_media_type");
    assert_eq!(r.header("accept-post"), "application/json");
}

#[tokio::test]
async fn sample_events_replay() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "cust_example", "email": "jane@example.com"}))
        .await;
    let load = |name: &str| {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let r = t.send(load("patch.json")).await;
    r.ok(200);
    assert_eq!(r.data()["name"], "Johnathan Doe");
    let r = t.send(load("patch-merge-patch.json")).await;
    r.ok(200);
    assert_eq!(r.data()["metadata"]["source"], "sdk_import");
    t.send(load("patch-base64.json")).await.ok(200);
    let r = t.send(load("rest-v1-patch.json")).await;
    r.ok(200);
    assert_eq!(r.data()["name"], "Johnathan Doe");
    t.send(load("get.json")).await.ok(200);
    let r = t.send(load("post.json")).await;
    r.ok(201);
    assert_eq!(r.data()["customerId"], "cust_event");
    t.send(load("delete.json")).await.ok(204);
    t.get("cust_example").await.expect(404, "not_found");
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn stage_prefix_from_a_named_stage() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "s"})).await;
    let mut ev: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/events/get.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap(),
    )
    .unwrap();
    ev["rawPath"] = json!("/prod/v1/customers/s");
    ev["requestContext"]["stage"] = json!("prod");
    ev["pathParameters"] = json!({"customerId": "s"});
    let r = t
        .send(lambda_http::request::from_str(&ev.to_string()).unwrap())
        .await;
    r.ok(200);
    assert_eq!(r.data()["customerId"], "s");
}

#[tokio::test]
async fn unreadable_keys_fail_closed() {
    // The parameter does not exist yet: SSM answers ParameterNotFound.
    let t = TestApp::builder().keys(None).build().await;
    let r = t
        .req("GET", "/v1/customers/a", &[("authorization", READ)], None)
        .await;
    r.expect(503, "auth_unavailable");
    assert_eq!(r.header("retry-after"), "1");
    // SSM comes back: served without a restart once the retry gap has passed.
    common::put_keys(&t.ssm, &t.param, &common::keys_json()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    t.req("GET", "/v1/customers/a", &[("authorization", READ)], None)
        .await
        .expect(404, "not_found");
}

#[tokio::test]
async fn malformed_keys_parameter_is_503_never_open() {
    let t = TestApp::builder()
        .keys(Some("{\"keys\": \"oops\"}"))
        .build()
        .await;
    for auth in [READ, WRITE, "Bearer anything"] {
        t.req("GET", "/v1/customers/a", &[("authorization", auth)], None)
            .await
            .expect(503, "auth_unavailable");
    }
}

#[tokio::test]
async fn ssm_unreachable_is_503_not_401() {
    // Nothing listens on port 9 of loopback: as if moto were stopped.
    let sdk = common::sdk().await;
    let ssm_conf = aws_sdk_ssm::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let t = TestApp::builder()
        .ssm(aws_sdk_ssm::Client::from_conf(ssm_conf))
        .build()
        .await;
    let started = std::time::Instant::now();
    t.req(
        "PATCH",
        "/v1/customers/a",
        &[("authorization", WRITE)],
        Some(r#"{"name":"x"}"#),
    )
    .await
    .expect(503, "auth_unavailable");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn warm_requests_make_no_ssm_call() {
    let t = TestApp::new().await;
    // The parameter is deleted after init: a warm request within the TTL must
    // not notice, because it does not ask SSM.
    t.ssm
        .delete_parameter()
        .name(&t.param)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        t.req("GET", "/v1/customers/a", &[("authorization", READ)], None)
            .await
            .expect(404, "not_found");
    }
}

#[tokio::test]
async fn stale_keys_serve_within_the_bound_then_503() {
    let t = TestApp::builder()
        .env("API_KEYS_TTL_SECONDS", "1")
        .env("API_KEYS_MAX_STALE_SECONDS", "3")
        .build()
        .await;
    t.ssm
        .delete_parameter()
        .name(&t.param)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Past the TTL, refresh fails, within the staleness bound: still served.
    t.get("a").await.expect(404, "not_found");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    t.get("a").await.expect(503, "auth_unavailable");
}
