//! Finding customers (SPEC §12) on DynamoDB Local: the lookup by email
//! through the sentinel (any case, IDN, Punycode; read-after-write), the
//! list through the keys-only index (order, every limit, bounds, cursors,
//! concurrent writers), the query-parameter problems, and what each costs.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use common::{READ, TestApp, WRITE};
use customers_api::store::expr;
use customers_api::store::item;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn ids(r: &common::Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("data is an array: {}", r.body))
        .iter()
        .map(|c| c["customerId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn lookup(t: &TestApp, email: &str) -> common::Resp {
    let r = t.list(&format!("email={}", enc(email))).await;
    r.ok(200);
    assert_eq!(r.body["nextCursor"], Value::Null, "{}", r.body);
    assert_eq!(r.header("link"), "", "a lookup has no next page");
    r
}

#[tokio::test]
async fn lookup_finds_the_one_customer_in_any_case_idn_or_punycode() {
    let t = TestApp::new().await;
    let c = t
        .seed(json!({"customerId": "jane", "email": "Jane@Bücher.DE"}))
        .await;
    assert_eq!(c["email"], "Jane@Bücher.DE", "stored as sent");
    t.seed(json!({"customerId": "other", "email": "other@bücher.de"}))
        .await;
    for form in [
        "Jane@Bücher.DE",
        "jane@bücher.de",
        "JANE@BÜCHER.DE",
        "jane@xn--bcher-kva.de",
        "JANE@XN--BCHER-KVA.DE",
        " jane@bücher．de ",
    ] {
        let r = lookup(&t, form).await;
        assert_eq!(ids(&r), vec!["jane"], "{form}");
        assert_eq!(r.body["data"][0], c, "{form}: the customer as GET shows it");
        assert_eq!(r.calls, 2, "{form}: sentinel, then customer");
    }
    let r = lookup(&t, "nobody@bücher.de").await;
    assert_eq!(r.body["data"], json!([]));
    assert_eq!(r.calls, 1, "no sentinel, no second read");
    // Read-only key is enough; no key is not.
    t.req("GET", "/v1/customers?email=jane%40example.com", &[], None)
        .await
        .expect(401, "unauthorized");
}

#[tokio::test]
async fn lookup_is_read_after_write_through_moves_and_deletes() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "mover", "email": "old@example.com"}))
        .await;
    for round in 0..5 {
        let (from, to) = if round % 2 == 0 {
            ("old@example.com", "new@example.com")
        } else {
            ("new@example.com", "old@example.com")
        };
        t.patch("mover", json!({"email": to})).await.ok(200);
        // Straight after the PATCH: no sleep, no retry.
        assert_eq!(ids(&lookup(&t, to).await), vec!["mover"], "round {round}");
        assert_eq!(ids(&lookup(&t, from).await), Vec::<String>::new());
    }
    t.patch("mover", json!({"email": null})).await.ok(200);
    assert!(ids(&lookup(&t, "old@example.com").await).is_empty());
    t.patch("mover", json!({"email": "back@example.com"}))
        .await
        .ok(200);
    assert_eq!(ids(&lookup(&t, "BACK@example.com").await), vec!["mover"]);
    t.delete("mover", &[]).await.ok(204);
    assert!(ids(&lookup(&t, "back@example.com").await).is_empty());
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn idn_and_punycode_are_one_email_for_uniqueness() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "a", "email": "jane@bücher.de"}))
        .await;
    t.post(json!({"customerId": "b", "email": "JANE@XN--BCHER-KVA.DE"}))
        .await
        .expect(409, "email_taken");
    t.seed(json!({"customerId": "c"})).await;
    t.patch("c", json!({"email": "Jane@Bücher．DE"}))
        .await
        .expect(409, "email_taken");
    // Its holder may change the spelling: same normal form, same sentinel.
    let r = t
        .patch("a", json!({"email": "JANE@xn--bcher-kva.de"}))
        .await;
    r.ok(200);
    assert_eq!(r.calls, 1, "same normalized email: the single-call PATCH");
    assert!(t.violations().await.is_empty());
    assert_eq!(t.item_count().await, 3, "two customers, one sentinel");
}

#[tokio::test]
async fn the_new_email_rule_is_enforced_on_writes() {
    let t = TestApp::new().await;
    for bad in [
        "test@iana.org-",
        "\"test@iana.org",
        "test@[1.2.3.4",
        ".test@x.org",
        "test@iana/icann.org",
    ] {
        let r = t.post(json!({"customerId": "x", "email": bad})).await;
        r.expect(400, "validation_failed");
        assert_eq!(r.body["errors"][0]["param"], "email", "{bad}");
        let r = t
            .post(json!({"customerId": "x", "billingEmail": bad}))
            .await;
        r.expect(400, "validation_failed");
        assert_eq!(r.body["errors"][0]["param"], "billingEmail", "{bad}");
    }
    assert_eq!(t.item_count().await, 0);
}

/// Creates `n` customers `<prefix>000`... and returns their ids newest
/// first, the list's order: `createdAt` descending, then `customerId`
/// descending (the index's sort key `<createdAt>#<customerId>`, reversed).
async fn create_many(t: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut made = Vec::new();
    for i in 0..n {
        let c = t
            .seed(json!({"customerId": format!("{prefix}{i:03}"), "email": format!("{prefix}{i}@example.com")}))
            .await;
        made.push((
            c["createdAt"].as_str().unwrap_or_default().to_owned(),
            c["customerId"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    made.sort();
    made.reverse();
    made.into_iter().map(|(_, id)| id).collect()
}

/// Follows `nextCursor` from the first page to the last, with `limit(i)`
/// for page `i`; checks each page's size, cost, and `Link`. Returns the ids.
async fn walk(t: &TestApp, filters: &str, limit: impl Fn(usize) -> usize) -> Vec<String> {
    walk_with(t, filters, limit, true).await
}

/// As [`walk`]; with `full_pages` false, a page before the last may be
/// short (customers deleted between its Query and its BatchGetItem).
async fn walk_with(
    t: &TestApp,
    filters: &str,
    limit: impl Fn(usize) -> usize,
    full_pages: bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let l = limit(page);
        let mut q = format!("limit={l}{filters}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let r = t.list(&q).await;
        r.ok(200);
        let got = ids(&r);
        assert!(got.len() <= l, "page {page} has {} > {l}", got.len());
        assert_eq!(
            r.calls,
            if got.is_empty() { 1 } else { 2 },
            "Query + BatchGetItem"
        );
        seen.extend(got);
        match r.body["nextCursor"].as_str() {
            Some(next) => {
                let link = r.header("link");
                assert!(
                    link.starts_with("</v1/customers?cursor=")
                        && link.contains(next)
                        && link.contains(&format!("&limit={l}"))
                        && link.ends_with(">; rel=\"next\""),
                    "{link}"
                );
                if full_pages {
                    assert_eq!(
                        r.data().as_array().map(Vec::len),
                        Some(l),
                        "a full page before the last"
                    );
                }
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(r.header("link"), "", "no next page, no Link");
                break;
            }
        }
    }
    seen
}

#[tokio::test]
async fn every_limit_from_1_to_100_returns_each_customer_once_newest_first() {
    let t = TestApp::new().await;
    let expected = create_many(&t, "c", 250).await;
    for limit in 1..=100 {
        let seen = walk(&t, "", |_| limit).await;
        assert_eq!(seen, expected, "limit {limit}");
    }
    // The limit may change from page to page: 1, 2, 3, ...
    assert_eq!(walk(&t, "", |page| page + 1).await, expected);
    // Default 20.
    let r = t.list("").await;
    assert_eq!(ids(&r), expected[..20].to_vec());
    assert_eq!(r.calls, 2);
    let link = r.header("link");
    assert!(
        link.starts_with("</v1/customers?cursor=") && !link.contains("limit="),
        "{link}"
    );
}

#[tokio::test]
async fn an_empty_table_is_one_empty_page() {
    let t = TestApp::new().await;
    let r = t.list("").await;
    r.ok(200);
    assert_eq!(r.body, json!({"data": [], "nextCursor": null}));
    assert_eq!(r.calls, 1, "nothing to read after the Query");
    assert_eq!(r.header("content-type"), "application/json");
}

#[tokio::test]
async fn a_page_skips_customers_deleted_meanwhile_and_its_cursor_survives_them() {
    let t = TestApp::new().await;
    let expected = create_many(&t, "d", 12).await;
    let first = t.list("limit=5").await;
    assert_eq!(ids(&first), expected[..5].to_vec());
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    // The customer the cursor points after, and the next one, go away.
    t.delete(&expected[4], &[]).await.ok(204);
    t.delete(&expected[5], &[]).await.ok(204);
    let second = t.list(&format!("limit=5&cursor={cursor}")).await;
    assert_eq!(ids(&second), expected[6..11].to_vec());
}

#[tokio::test]
async fn concurrent_writers_never_make_a_customer_appear_twice_or_go_missing() {
    let t = TestApp::new().await;
    let stable = create_many(&t, "s", 90).await;
    let done = AtomicBool::new(false);
    let writer = async {
        let mut n = 0u32;
        while !done.load(Ordering::Relaxed) {
            let id = format!("w{n:04}");
            t.seed(json!({"customerId": id, "email": format!("{id}@example.com")}))
                .await;
            t.patch(
                &id,
                json!({"name": "Writer", "email": format!("{id}.b@example.com")}),
            )
            .await
            .ok(200);
            // Also patch a customer that exists throughout: a PATCH does
            // not touch the index, so it must not move in the list.
            let s = &stable[(n as usize * 7) % stable.len()];
            t.patch(s, json!({"name": format!("Patched {n}")}))
                .await
                .ok(200);
            if n.is_multiple_of(2) {
                t.delete(&id, &[]).await.ok(204);
            }
            n += 1;
            tokio::task::yield_now().await;
        }
        n
    };
    let reader = async {
        let mut rounds = Vec::new();
        for limit in [3, 7, 16] {
            let seen = walk_with(&t, "", |_| limit, false).await;
            rounds.push(seen);
        }
        done.store(true, Ordering::Relaxed);
        rounds
    };
    let (writes, rounds) = tokio::join!(writer, reader);
    assert!(
        writes >= 10,
        "the writer ran while the reader paged ({writes} rounds)"
    );
    for seen in rounds {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        assert!(
            counts.values().all(|&n| n == 1),
            "a customer appeared twice"
        );
        let stable_seen: Vec<&String> = seen.iter().filter(|id| id.starts_with('s')).collect();
        assert_eq!(
            stable_seen,
            stable.iter().collect::<Vec<_>>(),
            "every customer that existed throughout, once, newest first"
        );
    }
    assert!(t.violations().await.is_empty());
}

#[tokio::test]
async fn created_after_and_before_are_exclusive() {
    let t = TestApp::new().await;
    let expected = create_many(&t, "b", 10).await;
    let created: HashMap<String, String> = {
        let r = t.list("limit=100").await;
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["customerId"].as_str().unwrap().to_owned(),
                    c["createdAt"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // expected is newest first: index 2 is newer than index 7.
    let newer = &created[&expected[2]];
    let older = &created[&expected[7]];
    let r = t.list(&format!("createdAfter={}", enc(older))).await;
    assert_eq!(ids(&r), expected[..7].to_vec(), "after is exclusive");
    let r = t.list(&format!("createdBefore={}", enc(newer))).await;
    assert_eq!(ids(&r), expected[3..].to_vec(), "before is exclusive");
    let both = format!("&createdAfter={}&createdBefore={}", enc(older), enc(newer));
    assert_eq!(walk(&t, &both, |_| 2).await, expected[3..7].to_vec());
    // The same instant in another offset is the same bound.
    let shifted = chrono::DateTime::parse_from_rfc3339(older)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let r = t.list(&format!("createdAfter={}", enc(&shifted))).await;
    assert_eq!(ids(&r), expected[..7].to_vec(), "{shifted}");
    // An empty range costs nothing.
    let r = t
        .list(&format!(
            "createdAfter={}&createdBefore={}",
            enc(newer),
            enc(older)
        ))
        .await;
    r.ok(200);
    assert_eq!(r.body["data"], json!([]));
    assert_eq!(r.calls, 0);
}

#[tokio::test]
async fn bad_parameters_and_cursors_are_400_with_their_codes_and_cost_nothing() {
    let t = TestApp::new().await;
    create_many(&t, "p", 5).await;
    let filtered = format!("createdAfter={}", enc("2000-01-01T00:00:00Z"));
    let first = t.list(&format!("limit=2&{filtered}")).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases: Vec<(String, &str, &str)> = vec![
        ("limit=0".into(), "validation_failed", "limit"),
        ("limit=101".into(), "validation_failed", "limit"),
        ("limit=ten".into(), "validation_failed", "limit"),
        ("limit=".into(), "validation_failed", "limit"),
        ("limit=5&limit=6".into(), "validation_failed", "limit"),
        ("page=2".into(), "unknown_parameter", "page"),
        (
            "starting_after=x".into(),
            "unknown_parameter",
            "starting_after",
        ),
        (
            format!("cursor={tampered}&{filtered}"),
            "invalid_cursor",
            "cursor",
        ),
        ("cursor=not-a-cursor".into(), "invalid_cursor", "cursor"),
        (format!("cursor={cursor}"), "invalid_cursor", "cursor"),
        (
            format!(
                "cursor={cursor}&createdAfter={}",
                enc("2001-01-01T00:00:00Z")
            ),
            "invalid_cursor",
            "cursor",
        ),
        ("email=not-an-email".into(), "validation_failed", "email"),
        (
            "email=test%40iana.org-".into(),
            "validation_failed",
            "email",
        ),
        (
            format!("email=a%40example.com&cursor={cursor}"),
            "validation_failed",
            "email",
        ),
        (
            "email=a%40example.com&createdAfter=2000-01-01T00%3A00%3A00Z".into(),
            "validation_failed",
            "email",
        ),
        (
            "email=a%40example.com&createdBefore=2000-01-01T00%3A00%3A00Z".into(),
            "validation_failed",
            "email",
        ),
        (
            "createdAfter=yesterday".into(),
            "validation_failed",
            "createdAfter",
        ),
        (
            "createdBefore=2026-01-01".into(),
            "validation_failed",
            "createdBefore",
        ),
    ];
    for (q, code, param) in cases {
        let r = t.list(&q).await;
        r.expect(400, code);
        assert_eq!(r.body["errors"][0]["param"], param, "{q}: {}", r.body);
        assert_eq!(r.header("content-type"), "application/problem+json");
        assert_eq!(r.calls, 0, "{q}: refused before any DynamoDB call");
    }
    // The same cursor with its own filters still works.
    let r = t.list(&format!("limit=2&{filtered}&cursor={cursor}")).await;
    r.ok(200);
    assert_eq!(ids(&r).len(), 2);
}

#[tokio::test]
async fn the_collection_answers_get_and_post_only() {
    let t = TestApp::new().await;
    for method in ["PUT", "PATCH", "DELETE"] {
        let r = t
            .req(
                method,
                "/v1/customers",
                &[("authorization", WRITE)],
                Some("{}"),
            )
            .await;
        r.expect(405, "method_not_allowed");
        assert_eq!(r.header("allow"), "GET, POST", "{method}");
    }
    t.req("GET", "/v1/customers", &[("authorization", READ)], None)
        .await
        .ok(200);
    t.req("GET", "/v1/customers/", &[("authorization", WRITE)], None)
        .await
        .ok(200);
    t.req("GET", "/v1/customers", &[], None)
        .await
        .expect(401, "unauthorized");
}

#[tokio::test]
async fn list_and_lookup_sample_events_replay() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "cust_example", "email": "jane@example.com"}))
        .await;
    let load = |name: &str| {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let r = t.send(load("list.json")).await;
    r.ok(200);
    assert_eq!(ids(&r), vec!["cust_example"]);
    let r = t.send(load("lookup.json")).await;
    r.ok(200);
    assert_eq!(ids(&r), vec!["cust_example"]);
    assert_eq!(r.calls, 2);
}

fn gsi_units(c: Option<&ConsumedCapacity>) -> f64 {
    c.and_then(|c| c.global_secondary_indexes())
        .map(|m| m.values().filter_map(|u| u.capacity_units()).sum())
        .unwrap_or(0.0)
}

/// The writes a PATCH makes, issued as the store issues them but asking
/// DynamoDB Local what they consume: no index capacity, whereas the POST's
/// put and the DELETE do consume it (so the measurement can see it).
#[tokio::test]
async fn a_patch_consumes_no_index_capacity_but_post_and_delete_do() {
    let t = TestApp::new().await;
    let ddb = &t.ddb;
    let store = t.app.customers.store();
    let doc = json!({"customerId": "cap", "name": "N", "email": "cap@example.com",
        "createdAt": "2026-01-01T00:00:00.000000Z", "updatedAt": "2026-01-01T00:00:00.000000Z",
        "id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"});
    let Value::Object(doc) = doc else {
        unreachable!()
    };
    let stored = item::Stored {
        email_norm: item::email_norm_of(&doc),
        doc,
        version: 1,
    };
    let put = ddb
        .put_item()
        .table_name(&t.table)
        .set_item(Some(item::item_from_stored(&stored)))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    assert!(
        gsi_units(put.consumed_capacity()) > 0.0,
        "a POST writes the index: {:?}",
        put.consumed_capacity()
    );
    ddb.put_item()
        .table_name(&t.table)
        .set_item(Some(item::sentinel("cap@example.com", "cap")))
        .send()
        .await
        .unwrap();
    // The single-call PATCH (name).
    let body = json!({"name": "M", "metadata": {"k": "v"}});
    let p = customers_api::customer::patch::parse(
        &body,
        customers_api::customer::patch::Mode::Json,
        &Default::default(),
        &customers_api::store::customers::today(),
    )
    .unwrap();
    let ops = customers_api::customer::patch::ops(&p);
    let e = expr::fast_update(
        &ops,
        &expr::Expect::Exists,
        &expr::EmailGuard::Untouched,
        "2026-01-02T00:00:00.000000Z",
    );
    let up = ddb
        .update_item()
        .table_name(&t.table)
        .set_key(Some(item::key(item::customer_key("cap"))))
        .update_expression(&e.update)
        .condition_expression(&e.condition)
        .set_expression_attribute_names(Some(e.names))
        .set_expression_attribute_values(Some(e.values))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let c = up.consumed_capacity();
    assert!(
        c.and_then(|c| c.table()).is_some(),
        "the table's share is reported: {c:?}"
    );
    assert_eq!(
        gsi_units(c),
        0.0,
        "the single-call PATCH writes no index: {c:?}"
    );
    // The general PATCH that moves the email: one transaction of the
    // sentinels and the customer.
    let old = store
        .get(&Default::default(), "cap")
        .await
        .unwrap()
        .unwrap();
    let mut new_doc = old.doc.clone();
    new_doc.insert("email".into(), json!("moved@example.com"));
    new_doc.insert("phone".into(), json!("+14155550100"));
    let e = expr::replace_members(
        &old.doc,
        &new_doc,
        Some(Some("moved@example.com")),
        old.version,
        "2026-01-03T00:00:00.000000Z",
    );
    let items = vec![
        store
            .put_if_absent(item::sentinel("moved@example.com", "cap"))
            .unwrap(),
        store.delete_sentinel("cap@example.com", "cap").unwrap(),
        store.update_customer("cap", e).unwrap(),
    ];
    let tx = ddb
        .transact_write_items()
        .set_transact_items(Some(items))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let caps = tx.consumed_capacity();
    assert!(!caps.is_empty(), "the transaction's capacity is reported");
    assert_eq!(
        caps.iter().map(|c| gsi_units(Some(c))).sum::<f64>(),
        0.0,
        "{caps:?}"
    );
    // And the PATCH through the handler is the same single call as before.
    let r = t.patch("cap", json!({"name": "Again"})).await;
    r.ok(200);
    assert_eq!(r.calls, 1);
    let del = ddb
        .delete_item()
        .table_name(&t.table)
        .set_key(Some(item::key(item::customer_key("cap"))))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    assert!(
        gsi_units(del.consumed_capacity()) > 0.0,
        "a DELETE removes the index entry"
    );
}
