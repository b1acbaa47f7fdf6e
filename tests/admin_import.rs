//! `customers-admin import` and `export` on DynamoDB Local through the real
//! binary: 2,000 lines with invalid ones and duplicate emails; the valid
//! ones created through the POST path, the rest reported by line number; a
//! second run writes nothing; check is clean afterwards; an export imported
//! into a fresh table gives the same customers, field for field.

mod common;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{TestApp, admin};
use serde_json::{Value, json};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(common::unique("admin-import"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Every item of the table, in key order.
async fn items(t: &TestApp) -> Vec<HashMap<String, AttributeValue>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t
            .ddb
            .scan()
            .table_name(&t.table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out.sort_by_key(|i| format!("{:?}", i.get("pk")));
    out
}

/// The file's text and, by line number, the code each failing line must get.
fn fixture(n: usize) -> (String, BTreeMap<u64, &'static str>) {
    let mut text = String::new();
    let mut expected = BTreeMap::new();
    let mut line = 0u64;
    let mut valid = vec![false; n];
    for i in 0..n {
        line += 1;
        if i == n / 2 {
            text.push_str("\n   \n"); // blank lines are skipped, not counted
            line += 2;
        }
        let mut c = json!({
            "customerId": format!("imp-{i:04}"),
            "name": format!("Customer {i}"),
            "email": format!("user{i}@example.com"),
            "phone": format!("+1415555{i:04}"),
            "address": {"line1": format!("{i} Main St"), "country": "US"},
            "tags": [format!("t{}", i % 5)],
            "metadata": {"source": "legacy", "n": i.to_string()},
            "marketingConsent": i % 2 == 0,
        });
        if i % 10 == 3 {
            c["id"] = json!(uuid::Uuid::new_v4().to_string());
            c["createdAt"] = json!("2024-01-02T03:04:05.000006Z");
            c["updatedAt"] = json!("2025-01-02T03:04:05.123456Z");
        }
        let row = if i % 97 == 13 {
            c["phone"] = json!("12345");
            expected.insert(line, "validation_failed");
            c.to_string()
        } else if i % 500 == 250 {
            expected.insert(line, "invalid_json");
            "{\"customerId\": \"imp-broken\", ".to_owned()
        } else if i > 100 && i % 61 == 7 && valid[i - 100] {
            // An earlier line's email in another case: one email.
            c["email"] = json!(format!("USER{}@Example.COM", i - 100));
            expected.insert(line, "email_taken");
            c.to_string()
        } else {
            valid[i] = true;
            c.to_string()
        };
        text.push_str(&row);
        text.push('\n');
    }
    (text, expected)
}

fn summary(stdout: &str) -> (u64, u64, u64) {
    let nums: Vec<u64> = stdout
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "summary line: {stdout}");
    (nums[0], nums[1], nums[2])
}

fn report(path: &std::path::Path) -> (String, BTreeMap<u64, String>) {
    let text = std::fs::read_to_string(path).expect("report");
    let rows = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("report line is JSON");
            (
                v["line"].as_u64().expect("line"),
                v["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    (text, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_lines_import_resume_check_and_round_trip() {
    let n = 2000;
    let t = TestApp::new().await;
    let (text, expected) = fixture(n);
    let file = tmp("customers.jsonl");
    std::fs::write(&file, &text).expect("write fixture");
    let rep = file.with_file_name("report.jsonl");
    let args = [
        "import",
        file.to_str().unwrap(),
        "--concurrency",
        "16",
        "--report",
        rep.to_str().unwrap(),
    ];

    let first = admin(&t, &args).await;
    assert_eq!(first.code, 1, "some lines failed: {}", first.stderr);
    let bad = expected.len() as u64;
    assert!(bad >= 40, "the fixture has failures of each kind: {bad}");
    assert_eq!(summary(&first.stdout), (n as u64 - bad, 0, bad));
    assert!(
        first.stderr.contains("import: 2000/2000 (100%)"),
        "{}",
        first.stderr
    );
    let (rep_text, rows) = report(&rep);
    let want: BTreeMap<u64, String> = expected
        .iter()
        .map(|(l, c)| (*l, (*c).to_owned()))
        .collect();
    assert_eq!(rows, want, "every failed line, by number and code");
    for line in rep_text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["code"] == "validation_failed" {
            assert_eq!(
                v["errors"],
                json!([{"param": "phone", "message": v["errors"][0]["message"]}])
            );
        }
    }
    assert!(
        !rep_text.contains("example.com")
            && !rep_text.contains("Example.COM")
            && !rep_text.contains("12345"),
        "no values in the report"
    );
    assert_eq!(
        items(&t).await.len() as u64,
        2 * (n as u64 - bad),
        "each created customer with its sentinel"
    );
    // What the line gave for the server-owned members was kept.
    let g = t.get("imp-0003").await;
    g.ok(200);
    assert_eq!(g.data()["createdAt"], "2024-01-02T03:04:05.000006Z");
    assert_eq!(g.data()["updatedAt"], "2025-01-02T03:04:05.123456Z");
    assert_eq!(
        g.data()["address"],
        json!({"line1": "3 Main St", "line2": null, "city": null, "state": null, "postalCode": null, "country": "US"})
    );

    let before = items(&t).await;
    let second = admin(&t, &args).await;
    assert_eq!(second.code, 1);
    assert_eq!(
        summary(&second.stdout),
        (0, n as u64 - bad, bad),
        "{}",
        second.stdout
    );
    assert_eq!(items(&t).await, before, "a second run writes nothing");
    assert_eq!(report(&rep).1, want);

    let check = admin(&t, &["check"]).await;
    assert_eq!(check.code, 0, "{}", check.stdout);

    let out = file.with_file_name("export.jsonl");
    let ex = admin(
        &t,
        &["export", "--out", out.to_str().unwrap(), "--segments", "3"],
    )
    .await;
    assert_eq!(ex.code, 0, "{}", ex.stderr);
    let exported = std::fs::read_to_string(&out).expect("export");
    assert_eq!(exported.lines().count() as u64, n as u64 - bad);
    let by_id = |text: &str| -> BTreeMap<String, Value> {
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("export line");
                (v["customerId"].as_str().unwrap().to_owned(), v)
            })
            .collect()
    };
    let original = by_id(&exported);
    assert_eq!(&original["imp-0003"], g.data(), "a line is the GET view");

    let fresh = TestApp::new().await;
    let restored = admin(
        &fresh,
        &["import", out.to_str().unwrap(), "--concurrency", "16"],
    )
    .await;
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(summary(&restored.stdout), (n as u64 - bad, 0, 0));
    let ex2 = admin(&fresh, &["export"]).await;
    assert_eq!(ex2.code, 0, "{}", ex2.stderr);
    assert_eq!(
        by_id(&ex2.stdout),
        original,
        "the same customers, field for field"
    );
    assert!(fresh.violations().await.is_empty());
}

#[tokio::test]
async fn a_line_whose_customer_exists_with_other_content_fails() {
    let t = TestApp::new().await;
    let file = tmp("two.jsonl");
    let lines = [
        json!({"customerId": "a", "name": "A", "email": "a@x.io"}),
        json!({"customerId": "b", "name": "B"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let r = admin(&t, &["import", file.to_str().unwrap()]).await;
    assert_eq!((r.code, summary(&r.stdout)), (0, (2, 0, 0)), "{}", r.stderr);
    t.patch("b", json!({"name": "Bee"})).await.ok(200);
    let rep = file.with_file_name("r.jsonl");
    let r = admin(
        &t,
        &[
            "import",
            file.to_str().unwrap(),
            "--report",
            rep.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!((r.code, summary(&r.stdout)), (1, (0, 1, 1)));
    let (_, rows) = report(&rep);
    assert_eq!(rows, BTreeMap::from([(2, "customer_exists".to_owned())]));
    assert_eq!(
        t.get("b").await.data()["name"],
        "Bee",
        "nothing overwritten"
    );
}
