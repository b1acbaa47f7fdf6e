//! Hostile input (issue 6): every case gets its documented status and code,
//! and the stored customer is unchanged afterwards.

mod common;

use base64::Engine;
use common::{READ, Resp, TestApp, WRITE};
use serde_json::{Value, json};

const ID: &str = "victim";

async fn arranged() -> (TestApp, Value) {
    let t = TestApp::new().await;
    t.seed(json!({
        "customerId": ID, "name": "Victim", "email": "victim@example.com",
        "metadata": {"k": "v"}, "address": {"city": "Porto", "country": "PT"}
    }))
    .await;
    let snapshot = t.get(ID).await.body.clone();
    (t, snapshot)
}

async fn unchanged(t: &TestApp, snapshot: &Value) {
    let now = t.get(ID).await;
    assert_eq!(&now.body, snapshot, "the stored customer changed");
    assert!(t.violations().await.is_empty());
}

async fn patch_raw(t: &TestApp, headers: &[(&str, &str)], body: &str) -> Resp {
    t.req("PATCH", &format!("/v1/customers/{ID}"), headers, Some(body))
        .await
}

#[tokio::test]
async fn authorization_basic_scheme_is_401() {
    let (t, snap) = arranged().await;
    let r = patch_raw(
        &t,
        &[("authorization", "Basic bG9jYWwtd3JpdGUta2V5Og==")],
        r#"{"name":"x"}"#,
    )
    .await;
    r.expect(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"customers\"");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn authorization_empty_bearer_is_401() {
    let (t, snap) = arranged().await;
    for v in ["Bearer", "Bearer ", "Bearer    ", ""] {
        patch_raw(&t, &[("authorization", v)], r#"{"name":"x"}"#)
            .await
            .expect(401, "unauthorized");
    }
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn authorization_with_commas_is_401() {
    // API Gateway v2 joins repeated headers with commas.
    let (t, snap) = arranged().await;
    for v in [
        "Bearer local-write-key,Bearer local-write-key",
        "Bearer local-write-key, x",
        "Bearer a,b",
    ] {
        patch_raw(&t, &[("authorization", v)], r#"{"name":"x"}"#)
            .await
            .expect(401, "unauthorized");
    }
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn authorization_twice_is_401() {
    let (t, snap) = arranged().await;
    // A request that reaches the handler with two Authorization values.
    let mut req = common::event(
        "PATCH",
        &format!("/v1/customers/{ID}"),
        &[],
        Some(r#"{"name":"x"}"#),
    );
    for v in [WRITE, WRITE] {
        req.headers_mut()
            .append("authorization", v.parse().unwrap());
    }
    t.send(req).await.expect(401, "unauthorized");
    // API Gateway HTTP API (v2) joins repeated headers with a comma.
    patch_raw(
        &t,
        &[("authorization", &format!("{WRITE},{WRITE}"))],
        r#"{"name":"x"}"#,
    )
    .await
    .expect(401, "unauthorized");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn every_route_with_every_kind_of_key() {
    let (t, _) = arranged().await;
    let routes: [(&str, String, Option<&str>); 4] = [
        ("GET", format!("/v1/customers/{ID}"), None),
        (
            "PATCH",
            format!("/v1/customers/{ID}"),
            Some(r#"{"notes":"n"}"#),
        ),
        (
            "POST",
            "/v1/customers".into(),
            Some(r#"{"customerId":"new"}"#),
        ),
        ("DELETE", format!("/v1/customers/{ID}"), None),
    ];
    for (method, path, body) in &routes {
        let none = t.req(method, path, &[], *body).await;
        none.expect(401, "unauthorized");
        let unknown = t
            .req(method, path, &[("authorization", "Bearer nope")], *body)
            .await;
        unknown.expect(401, "unauthorized");
        let read = t.req(method, path, &[("authorization", READ)], *body).await;
        if *method == "GET" {
            read.ok(200);
        } else {
            read.expect(403, "insufficient_scope");
        }
    }
    let expected = [200, 200, 201, 204];
    for ((method, path, body), status) in routes.iter().zip(expected) {
        t.req(method, path, &[("authorization", WRITE)], *body)
            .await
            .ok(status);
    }
}

#[tokio::test]
async fn metadata_keys_with_syntax_characters_are_literal_or_refused_by_rule() {
    let (t, snap) = arranged().await;
    let r = t.patch(ID, json!({"metadata": {"[": "x"}})).await;
    r.expect(400, "validation_failed");
    assert_eq!(r.body["errors"][0]["param"], "metadata.[");
    t.patch(ID, json!({"metadata": {"a]": "x", "": "y"}}))
        .await
        .expect(400, "validation_failed");
    unchanged(&t, &snap).await;
    let literal = json!({"a.b": "1", "#x": "2", ":v": "3", "name": "4", "😀": "5"});
    let r = t.patch(ID, json!({"metadata": literal})).await;
    r.ok(200);
    assert_eq!(t.get(ID).await.data()["metadata"], literal);
}

#[tokio::test]
async fn customer_ids_that_are_not_ids() {
    let (t, snap) = arranged().await;
    for path in [
        // Raw paths as the client sent them (a client library would usually
        // normalise `..` away before sending).
        "/v1/customers/..".to_owned(),
        "/v1/customers/.".to_owned(),
        "/v1/customers/a%2Fb".to_owned(),
        "/v1/customers/%2e%2e".to_owned(),
        "/v1/customers/%ff".to_owned(),
        format!("/v1/customers/{}", "a".repeat(129)),
    ] {
        t.req(
            "PATCH",
            &path,
            &[("authorization", WRITE)],
            Some(r#"{"name":"x"}"#),
        )
        .await
        .expect(400, "invalid_customer_id");
    }
    t.req(
        "PATCH",
        "/v1/customers/a/b",
        &[("authorization", WRITE)],
        Some(r#"{"name":"x"}"#),
    )
    .await
    .expect(404, "route_not_found");
    for id in ["a/b", "..", &"a".repeat(129), "%41"] {
        t.post(json!({"customerId": id}))
            .await
            .expect(400, "invalid_customer_id");
    }
    t.post(json!({"customerId": 7}))
        .await
        .expect(400, "invalid_customer_id");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn invalid_utf8_body_is_invalid_json() {
    let (t, snap) = arranged().await;
    let mut ev: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/patch-base64.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    ev["rawPath"] = json!(format!("/v1/customers/{ID}"));
    ev["requestContext"]["http"]["path"] = json!(format!("/v1/customers/{ID}"));
    ev["pathParameters"] = json!({"customerId": ID});
    ev["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode(b"{\"name\":\"\xff\xfe\"}"));
    ev["isBase64Encoded"] = json!(true);
    let r = t
        .send(lambda_http::request::from_str(&ev.to_string()).unwrap())
        .await;
    r.expect(400, "invalid_json");
    assert!(r.body["detail"].as_str().unwrap().contains("UTF-8"));
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn json_nested_ten_thousand_deep() {
    let (t, snap) = arranged().await;
    // 10 000 levels take more than 16 KiB, so the size limit answers first,
    // before any parsing.
    let deep = format!(
        "{{\"metadata\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    patch_raw(&t, &[("authorization", WRITE)], &deep)
        .await
        .expect(413, "payload_too_large");
    // Within 16 KiB, the parser's depth limit (128) answers: no stack overflow.
    let deep_small = format!(
        "{{\"metadata\":{}{}}}",
        "[".repeat(8_000),
        "]".repeat(8_000)
    );
    assert!(deep_small.len() <= 16 * 1024);
    patch_raw(&t, &[("authorization", WRITE)], &deep_small)
        .await
        .expect(400, "invalid_json");
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(2_500), "}".repeat(2_500));
    patch_raw(&t, &[("authorization", WRITE)], &deep_obj)
        .await
        .expect(400, "invalid_json");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn duplicate_json_members_are_refused() {
    let (t, snap) = arranged().await;
    let r = patch_raw(
        &t,
        &[("authorization", WRITE)],
        r#"{"name":"a","name":"b"}"#,
    )
    .await;
    r.expect(400, "invalid_json");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate member `name`")
    );
    patch_raw(
        &t,
        &[("authorization", WRITE)],
        r#"{"address":{"city":"a","city":"b"}}"#,
    )
    .await
    .expect(400, "invalid_json");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn numbers_where_strings_belong() {
    let (t, snap) = arranged().await;
    let r = t.patch(ID, json!({"name": 42, "phone": 14155550100u64, "tags": [1], "metadata": {"k": 1}, "marketingConsent": "yes"})).await;
    r.expect(400, "validation_failed");
    let params: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["param"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        params,
        vec!["name", "phone", "tags.0", "metadata.k", "marketingConsent"]
    );
    assert_eq!(r.body["errors"][0]["value"], 42);
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn body_of_sixteen_kib_plus_one() {
    let (t, snap) = arranged().await;
    let body = format!(r#"{{"notes":"{}"}}"#, "a".repeat(16 * 1024 + 1 - 12));
    assert_eq!(body.len(), 16 * 1024 + 1);
    patch_raw(&t, &[("authorization", WRITE)], &body)
        .await
        .expect(413, "payload_too_large");
    let post = format!(
        r#"{{"customerId":"big","notes":"{}"}}"#,
        "a".repeat(16 * 1024)
    );
    t.req(
        "POST",
        "/v1/customers",
        &[("authorization", WRITE)],
        Some(&post),
    )
    .await
    .expect(413, "payload_too_large");
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn control_characters_are_refused() {
    let (t, snap) = arranged().await;
    for v in [
        "a\u{0}b",
        "line\nbreak",
        "tab\there",
        "del\u{7f}",
        "bell\u{7}",
    ] {
        t.patch(ID, json!({"name": v}))
            .await
            .expect(400, "validation_failed");
    }
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn percent_encoded_ids_name_the_same_customer() {
    // Clients encode `:` in path segments; unreserved characters may be
    // encoded too (RFC 3986 §6.2.2.2).
    let (t, _) = arranged().await;
    t.seed(json!({"customerId": "org:42"})).await;
    t.get("org%3A42").await.ok(200);
    t.get("org%3a42").await.ok(200);
    assert_eq!(t.get("%76ictim").await.data()["customerId"], ID);
}

#[tokio::test]
async fn post_reports_a_bad_id_with_every_other_violation() {
    let (t, snap) = arranged().await;
    let r = t
        .post(json!({"customerId": "bad id", "phone": "1", "planet": "Mars"}))
        .await;
    r.expect(400, "invalid_customer_id");
    let got: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["param"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("customerId", "invalid_customer_id"),
        ("phone", "validation_failed"),
        ("planet", "unknown_field"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    unchanged(&t, &snap).await;
}

#[tokio::test]
async fn anonymous_callers_get_401_before_any_id_check() {
    let (t, _) = arranged().await;
    t.req("GET", "/v1/customers/a%2Fb", &[], None)
        .await
        .expect(401, "unauthorized");
}

#[tokio::test]
async fn if_match_that_names_no_version() {
    let (t, snap) = arranged().await;
    for tag in ["W/\"1\"", "\"abc\"", "1"] {
        t.delete(ID, &[("if-match", tag)])
            .await
            .expect(412, "precondition_failed");
        t.patch_with(ID, r#"{"name":"x"}"#, &[("if-match", tag)])
            .await
            .expect(412, "precondition_failed");
    }
    t.delete("nobody", &[("if-match", "W/\"1\"")])
        .await
        .expect(404, "not_found");
    unchanged(&t, &snap).await;
}
