//! `customers-admin check` on DynamoDB Local: a clean table exits 0; each
//! kind of corruption, injected directly into the table, is found, named by
//! customer id (never by email) and exits 1; `--fix` repairs the safe kinds
//! through conditional transactions and a second check is clean for them; a
//! repair never applies to a state that changed after the scan.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{TestApp, admin};
use customers_api::admin::check::{self, Code, findings, repair};
use customers_api::admin::progress::Progress;
use customers_api::store::dynamo::Store;
use serde_json::{Value, json};

async fn put(t: &TestApp, attrs: &[(&str, AttributeValue)]) {
    let mut req = t.ddb.put_item().table_name(&t.table);
    for (k, v) in attrs {
        req = req.item(*k, v.clone());
    }
    req.send().await.expect("put_item");
}

async fn delete(t: &TestApp, pk: &str) {
    t.ddb
        .delete_item()
        .table_name(&t.table)
        .key("pk", s(pk))
        .send()
        .await
        .expect("delete_item");
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

async fn sentinel(t: &TestApp, norm: &str, owner: &str) {
    put(
        t,
        &[
            ("pk", s(&format!("email#{norm}"))),
            ("kind", s("email")),
            ("owner", s(owner)),
        ],
    )
    .await;
}

async fn set_email_norm(t: &TestApp, id: &str, norm: &str) {
    t.ddb
        .update_item()
        .table_name(&t.table)
        .key("pk", s(&format!("customer#{id}")))
        .update_expression("SET emailNorm = :n")
        .expression_attribute_values(":n", s(norm))
        .send()
        .await
        .expect("update_item");
}

/// (code, customerId) of each finding of a `check --json` run, sorted.
fn found(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["customerId"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

const EMAILS: &[&str] = &[
    "ghost@x.io",
    "b1@x.io",
    "b2@x.io",
    "c@x.io",
    "erin",
    "dup@x.io",
    "Example",
];

#[tokio::test]
async fn a_clean_table_exits_0() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "a", "email": "a@x.io"})).await;
    t.seed(json!({"customerId": "b"})).await;
    let r = admin(&t, &["check"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("3 items (2 customers, 1 sentinels): 0 findings"),
        "{}",
        r.stdout
    );
    let j = admin(&t, &["check", "--json", "--segments", "3"]).await;
    assert_eq!(j.code, 0);
    let report: Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(report["findings"], json!([]));
    assert_eq!(report["customers"], 2);
}

#[tokio::test]
async fn every_kind_of_corruption_is_found_and_the_safe_ones_repaired() {
    let t = TestApp::new().await;
    // A sentinel whose owner does not exist.
    sentinel(&t, "ghost@x.io", "ghost").await;
    // A sentinel whose owner holds another email.
    t.seed(json!({"customerId": "b", "email": "b2@x.io"})).await;
    sentinel(&t, "b1@x.io", "b").await;
    // A customer whose email has no sentinel.
    t.seed(json!({"customerId": "c", "email": "c@x.io"})).await;
    delete(&t, "email#c@x.io").await;
    // A sentinel under an older normal form (one that kept the domain's case).
    t.seed(json!({"customerId": "e", "email": "Erin@Example.com"}))
        .await;
    delete(&t, "email#erin@example.com").await;
    sentinel(&t, "erin@Example.com", "e").await;
    set_email_norm(&t, "e", "erin@Example.com").await;
    // One email, two customers (the second written around the API).
    t.seed(json!({"customerId": "g1", "email": "dup@x.io"}))
        .await;
    put(
        &t,
        &[
            ("pk", s("customer#g2")),
            ("kind", s("customer")),
            ("customerId", s("g2")),
            ("email", s("dup@x.io")),
            ("emailNorm", s("dup@x.io")),
            ("version", AttributeValue::N("1".into())),
        ],
    )
    .await;
    // Items the layout cannot read.
    put(
        &t,
        &[
            ("pk", s("customer#f")),
            ("kind", s("customer")),
            ("customerId", s("f")),
        ],
    )
    .await;
    put(&t, &[("pk", s("thing#1")), ("kind", s("mystery"))]).await;

    let before = admin(&t, &["check", "--json"]).await;
    assert_eq!(before.code, 1, "{}", before.stderr);
    for e in EMAILS {
        assert!(
            !before.stdout.contains(e) && !before.stderr.contains(e),
            "an email leaked: {}",
            before.stdout
        );
    }
    let report: Value = serde_json::from_str(&before.stdout).expect("json");
    let unfixable = [
        ("email_held_twice", "g1"),
        ("email_without_sentinel", "c"),
        ("email_without_sentinel", "g2"),
        ("unreadable_item", "-"),
        ("unreadable_item", "f"),
    ];
    let mut all = unfixable.to_vec();
    all.extend([
        ("sentinel_holder_has_other_email", "b"),
        ("sentinel_without_holder", "ghost"),
        ("stale_normalization", "e"),
    ]);
    all.sort();
    assert_eq!(found(&report), pairs(&all));
    let text = admin(&t, &["check"]).await;
    assert_eq!(text.code, 1);
    assert!(
        text.stdout
            .contains("sentinel_without_holder: a sentinel is owned by ghost"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("customers g1, g2 hold one email"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("8 findings, 8 open"),
        "{}",
        text.stdout
    );
    assert_eq!(
        t.violations().await.len(),
        8,
        "the tests' checker is the same code"
    );

    let fix = admin(&t, &["check", "--fix", "--json"]).await;
    assert_eq!(
        fix.code, 1,
        "findings that need a decision remain: {}",
        fix.stderr
    );
    let fixed: Value = serde_json::from_str(&fix.stdout).expect("json");
    assert_eq!(fixed["open"], 5);
    for f in fixed["findings"].as_array().unwrap() {
        let repaired = f["repair"].as_str().unwrap().starts_with("repaired");
        let safe = [
            "sentinel_without_holder",
            "sentinel_holder_has_other_email",
            "stale_normalization",
        ]
        .contains(&f["code"].as_str().unwrap());
        assert_eq!(repaired, safe, "{f}");
    }

    let after = admin(&t, &["check", "--json"]).await;
    assert_eq!(after.code, 1);
    let report: Value = serde_json::from_str(&after.stdout).expect("json");
    let mut left = unfixable.to_vec();
    left.sort();
    assert_eq!(
        found(&report),
        pairs(&left),
        "only what needs a decision is left"
    );

    // The re-keyed customer works through the API: its email moves and
    // frees the sentinel it holds now.
    let g = t.get("e").await;
    g.ok(200);
    assert_eq!(g.etag(), "\"2\"", "the repair moved the version");
    assert_eq!(g.data()["email"], "Erin@Example.com");
    t.patch("e", json!({"email": "erin2@example.com"}))
        .await
        .ok(200);
    t.seed(json!({"customerId": "h", "email": "ERIN@example.com"}))
        .await;
    t.seed(json!({"customerId": "i", "email": "b1@x.io"})).await;
    t.seed(json!({"customerId": "j", "email": "ghost@x.io"}))
        .await;
    let last = admin(&t, &["check", "--json"]).await;
    let report: Value = serde_json::from_str(&last.stdout).expect("json");
    assert_eq!(found(&report), pairs(&left));
}

#[tokio::test]
async fn a_repair_does_nothing_once_the_state_it_was_proven_for_changed() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "b", "email": "b2@x.io"})).await;
    sentinel(&t, "b1@x.io", "b").await;
    let store = Store::new(t.ddb.clone(), t.table.clone());
    let ix = check::scan(&store, 1, &Progress::hidden())
        .await
        .expect("scan");
    let found = findings::findings(&ix);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, Code::SentinelHolderHasOtherEmail);
    // After the scan, b changes: its version moves, so what the scan proved
    // about b no longer applies.
    t.patch("b", json!({"name": "B"})).await.ok(200);
    let fix = found[0].fix.clone().expect("a safe fix");
    let (done, what) = repair::apply(&store, &fix).await.expect("transaction");
    assert!(!done, "{what}");
    assert!(what.contains("changed since the scan"), "{what}");
    assert_eq!(t.violations().await.len(), 1, "nothing was removed");

    // An orphan whose customer appears before the repair runs.
    let t = TestApp::new().await;
    sentinel(&t, "z@x.io", "z").await;
    let store = Store::new(t.ddb.clone(), t.table.clone());
    let ix = check::scan(&store, 1, &Progress::hidden())
        .await
        .expect("scan");
    let fix = findings::findings(&ix)[0].fix.clone().expect("a safe fix");
    put(
        &t,
        &[
            ("pk", s("customer#z")),
            ("kind", s("customer")),
            ("customerId", s("z")),
            ("email", s("z@x.io")),
            ("emailNorm", s("z@x.io")),
            ("version", AttributeValue::N("1".into())),
        ],
    )
    .await;
    let (done, what) = repair::apply(&store, &fix).await.expect("transaction");
    assert!(!done && what.contains("exists now"), "{what}");
    assert!(
        t.violations().await.is_empty(),
        "z holds its sentinel, untouched"
    );
}

#[tokio::test]
async fn a_finding_gone_when_read_again_is_not_reported() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c", "email": "c@x.io"})).await;
    delete(&t, "email#c@x.io").await;
    sentinel(&t, "o@x.io", "o").await;
    let store = Store::new(t.ddb.clone(), t.table.clone());
    let ix = check::scan(&store, 1, &Progress::hidden())
        .await
        .expect("scan");
    let found = findings::findings(&ix);
    assert_eq!(found.len(), 2, "{found:?}");
    // Between the scan and the re-read, both states end, as a write in
    // flight would end them: the sentinel arrives, the owner is created.
    sentinel(&t, "c@x.io", "c").await;
    put(
        &t,
        &[
            ("pk", s("customer#o")),
            ("kind", s("customer")),
            ("customerId", s("o")),
            ("email", s("o@x.io")),
            ("emailNorm", s("o@x.io")),
            ("version", AttributeValue::N("1".into())),
        ],
    )
    .await;
    for f in found {
        let v = check::confirm::confirm(&store, &ix, f.clone())
            .await
            .expect("re-read");
        assert!(
            matches!(v, check::confirm::Verdict::Passing),
            "{f:?} still reported"
        );
    }
    // Read again unchanged, a finding stays, with the versions read now.
    t.patch("c", json!({"name": "C"})).await.ok(200);
    delete(&t, "email#c@x.io").await;
    let ix = check::scan(&store, 1, &Progress::hidden())
        .await
        .expect("scan");
    let f = findings::findings(&ix).remove(0);
    match check::confirm::confirm(&store, &ix, f)
        .await
        .expect("re-read")
    {
        check::confirm::Verdict::Confirmed(g) => assert_eq!(g.code, Code::EmailWithoutSentinel),
        _ => panic!("a standing finding must be confirmed"),
    }
}
