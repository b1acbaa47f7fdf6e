//! Unique email and concurrency control on the local stack: SPEC §4, §5 and
//! the call counts of §8. Races run on real DynamoDB Local transactions; after
//! every race the whole table is checked with the invariant checker.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{Resp, TestApp};
use serde_json::{Value, json};
use tokio::sync::Barrier;

type Item = HashMap<String, AttributeValue>;

/// The raw item under `pk`, read consistently with the un-faulted client.
async fn raw(t: &TestApp, pk: &str) -> Option<Item> {
    t.ddb
        .get_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
}

/// Who holds the sentinel of this (already normalized) email, if anyone.
async fn owner(t: &TestApp, norm: &str) -> Option<String> {
    raw(t, &format!("email#{norm}"))
        .await
        .map(|item| match item.get("owner") {
            Some(AttributeValue::S(s)) => s.clone(),
            other => panic!("sentinel {norm} has no string owner: {other:?}"),
        })
}

#[track_caller]
fn assert_no_violations(v: &[String], when: &str) {
    assert!(v.is_empty(), "email invariant broken {when}: {v:#?}");
}

fn if_match(tag: &str) -> [(&'static str, &str); 2] {
    [("content-type", "application/json"), ("if-match", tag)]
}

/// Runs every future on its own task, all released by one barrier, and
/// returns their results in input order.
async fn all_at_once<F, Fut>(n: usize, f: F) -> Vec<Resp>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let b = barrier.clone();
            let fut = f(i);
            tokio::spawn(async move {
                b.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.expect("request task panicked"));
    }
    out
}

// ---------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_patches_to_one_fresh_email_have_exactly_one_winner() {
    let t = Arc::new(TestApp::new().await);
    // Fixed width, so no id is a substring of another.
    let ids: Vec<String> = (0..32).map(|i| format!("racer-{i:02}")).collect();
    let own = |i: usize| format!("own{i:02}@race.example.com");
    for (i, id) in ids.iter().enumerate() {
        // Half hold an email already (their transaction also releases it),
        // half hold none: both shapes of the transaction race.
        let body = if i.is_multiple_of(2) {
            json!({"customerId": id, "email": own(i)})
        } else {
            json!({"customerId": id})
        };
        t.seed(body).await;
    }

    let results = {
        let (t, ids) = (t.clone(), ids.clone());
        all_at_once(ids.len(), move |i| {
            let (t, id) = (t.clone(), ids[i].clone());
            async move {
                t.patch(&id, json!({"email": "Fresh@Race.example.com"}))
                    .await
            }
        })
        .await
    };

    let winners: Vec<usize> = (0..ids.len())
        .filter(|&i| results[i].status == 200)
        .collect();
    let statuses: Vec<(u16, &str)> = results.iter().map(|r| (r.status, r.code())).collect();
    assert_eq!(winners.len(), 1, "exactly one 200; got {statuses:?}");
    let w = winners[0];
    let winner = &ids[w];
    for (i, r) in results.iter().enumerate() {
        if i == w {
            continue;
        }
        r.expect(409, "email_taken");
        let text = r.body.to_string();
        assert!(
            !text.contains(winner.as_str()),
            "the 409 reveals the holder {winner}: {text}"
        );
        for other in &ids {
            assert!(
                !r.body["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains(other.as_str()),
                "detail names a customer: {}",
                r.body["detail"]
            );
        }
    }

    assert_eq!(results[w].data()["email"], "Fresh@Race.example.com");
    assert_eq!(results[w].etag(), "\"2\"");
    assert_eq!(
        owner(&t, "fresh@race.example.com").await.as_deref(),
        Some(winner.as_str())
    );
    if w.is_multiple_of(2) {
        assert_eq!(owner(&t, &own(w)).await, None, "winner's old email kept");
    }
    for (i, id) in ids.iter().enumerate() {
        if i == w {
            continue;
        }
        let g = t.get(id).await;
        g.ok(200);
        assert_eq!(g.etag(), "\"1\"", "loser {id} was written");
        let expected = if i.is_multiple_of(2) {
            json!(own(i))
        } else {
            Value::Null
        };
        assert_eq!(g.data()["email"], expected, "loser {id}");
    }
    assert_no_violations(&t.violations().await, "after the race");
    let held = ids.len() / 2 - usize::from(w.is_multiple_of(2)) + 1;
    assert_eq!(t.item_count().await, ids.len() + held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_customers_swapping_emails_never_break_the_invariant() {
    let t = Arc::new(TestApp::new().await);
    t.seed(json!({"customerId": "swap-a", "email": "a@swap.example.com"}))
        .await;
    t.seed(json!({"customerId": "swap-b", "email": "b@swap.example.com"}))
        .await;
    let started = Instant::now();
    for round in 0..100 {
        let before_a = t.get("swap-a").await.data()["email"].clone();
        let before_b = t.get("swap-b").await.data()["email"].clone();
        let r = {
            let (t, a, b) = (t.clone(), before_a.clone(), before_b.clone());
            all_at_once(2, move |i| {
                let t = t.clone();
                // A takes B's email, B takes A's, at the same moment.
                let (id, to) = if i == 0 {
                    ("swap-a", b.clone())
                } else {
                    ("swap-b", a.clone())
                };
                async move { t.patch(id, json!({ "email": to })).await }
            })
            .await
        };
        for x in &r {
            assert!(
                x.status == 200
                    || (x.status == 409 && ["email_taken", "conflict"].contains(&x.code())),
                "round {round}: {} {}",
                x.status,
                x.body
            );
        }
        assert!(
            !(r[0].status == 200 && r[1].status == 200),
            "round {round}: both took an email the other held"
        );
        assert_no_violations(&t.violations().await, &format!("in round {round}"));
        let a = t.get("swap-a").await.data()["email"].clone();
        let b = t.get("swap-b").await.data()["email"].clone();
        assert_ne!(a, b, "round {round}: both hold one email");
        // Each holds what its own answer says: the new email on 200, the old
        // one otherwise.
        assert_eq!(
            a,
            if r[0].status == 200 {
                before_b.clone()
            } else {
                before_a.clone()
            },
            "round {round}"
        );
        assert_eq!(
            b,
            if r[1].status == 200 {
                before_a.clone()
            } else {
                before_b.clone()
            },
            "round {round}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "100 rounds took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moving_into_an_email_being_released_concurrently() {
    // A moves to B's email while B moves to a fresh one: A wins exactly when
    // B's release committed first; whatever the order, nothing breaks.
    let t = Arc::new(TestApp::new().await);
    t.seed(json!({"customerId": "chain-a", "email": "a0@chain.example.com"}))
        .await;
    t.seed(json!({"customerId": "chain-b", "email": "b0@chain.example.com"}))
        .await;
    for round in 1..=40 {
        let a_now = t.get("chain-a").await.data()["email"].clone();
        let b_now = t.get("chain-b").await.data()["email"].clone();
        let b_next = json!(format!("b{round}@chain.example.com"));
        let r = {
            let (t, b_now, b_next) = (t.clone(), b_now.clone(), b_next.clone());
            all_at_once(2, move |i| {
                let t = t.clone();
                let (id, to) = if i == 0 {
                    ("chain-a", b_now.clone())
                } else {
                    ("chain-b", b_next.clone())
                };
                async move { t.patch(id, json!({ "email": to })).await }
            })
            .await
        };
        r[1].ok(200);
        assert!(
            r[0].status == 200 || (r[0].status, r[0].code()) == (409, "email_taken"),
            "round {round}: {}",
            r[0].body
        );
        assert_no_violations(&t.violations().await, &format!("in round {round}"));
        let a = t.get("chain-a").await.data()["email"].clone();
        assert_eq!(a, if r[0].status == 200 { b_now } else { a_now });
        assert_eq!(t.get("chain-b").await.data()["email"], b_next);
        if r[0].status == 200 {
            // A is at B's old address now; give it a fresh one for the next round.
            t.patch(
                "chain-a",
                json!({"email": format!("a{round}@chain.example.com")}),
            )
            .await
            .ok(200);
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Post(String, Option<String>),
    SetEmail(String, String),
    ClearEmail(String),
    Rename(String),
    Delete(String),
}

fn random_email(rng: &mut fastrand::Rng) -> String {
    let base = [
        "m0@mix.example.com",
        "m1@mix.example.com",
        "m2@mix.example.com",
        "m3@mix.example.com",
    ][rng.usize(..4)];
    // The same addresses in other cases and with spaces around: one email.
    match rng.u8(..4) {
        0 => base.to_uppercase(),
        1 => format!("  {base} "),
        _ => base.to_owned(),
    }
}

fn random_op(rng: &mut fastrand::Rng) -> Op {
    let id = format!("mix-{}", rng.usize(..6));
    match rng.u8(..10) {
        0 | 1 => Op::Post(id, rng.bool().then(|| random_email(rng))),
        2..=4 => Op::SetEmail(id, random_email(rng)),
        5 | 6 => Op::ClearEmail(id),
        7 => Op::Rename(id),
        _ => Op::Delete(id),
    }
}

async fn run_op(t: &TestApp, op: &Op, star: bool) -> Resp {
    let headers: &[(&str, &str)] = if star {
        &[("content-type", "application/json"), ("if-match", "*")]
    } else {
        &[("content-type", "application/json")]
    };
    match op {
        Op::Post(id, email) => {
            let mut body = json!({"customerId": id, "name": "Mixed"});
            if let Some(e) = email {
                body["email"] = json!(e);
            }
            t.post(body).await
        }
        Op::SetEmail(id, e) => {
            t.patch_with(id, &json!({ "email": e }).to_string(), headers)
                .await
        }
        Op::ClearEmail(id) => t.patch_with(id, r#"{"email":null}"#, headers).await,
        Op::Rename(id) => {
            let body = json!({"name": format!("N{}", fastrand::u32(..))});
            t.patch_with(id, &body.to_string(), headers).await
        }
        Op::Delete(id) => t.delete(id, &headers[1..]).await,
    }
}

fn allowed(op: &Op, r: &Resp) -> bool {
    matches!(
        (op, r.status, r.code()),
        (Op::Post(..), 201, _)
            | (
                Op::Post(..),
                409,
                "customer_exists" | "email_taken" | "conflict"
            )
            | (Op::SetEmail(..), 409, "email_taken" | "conflict")
            | (Op::ClearEmail(..) | Op::Rename(..), 409, "conflict")
            | (
                Op::SetEmail(..) | Op::ClearEmail(..) | Op::Rename(..),
                200 | 404,
                _
            )
            | (Op::Delete(..), 204 | 404, _)
            | (Op::Delete(..), 409, "conflict")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_mixes_keep_the_invariant() {
    let t = Arc::new(TestApp::new().await);
    for seed in [7_u64, 2024] {
        let mut rng = fastrand::Rng::with_seed(seed);
        for round in 0..20 {
            let ops: Vec<(Op, bool)> = (0..8).map(|_| (random_op(&mut rng), rng.bool())).collect();
            let r = {
                let (t, ops) = (t.clone(), ops.clone());
                all_at_once(ops.len(), move |i| {
                    let (t, (op, star)) = (t.clone(), ops[i].clone());
                    async move { run_op(&t, &op, star).await }
                })
                .await
            };
            for ((op, _), r) in ops.iter().zip(&r) {
                assert!(
                    r.status < 500 && allowed(op, r),
                    "seed {seed} round {round}: {op:?} answered {} {}",
                    r.status,
                    r.body
                );
            }
            assert_no_violations(
                &t.violations().await,
                &format!("after seed {seed} round {round}: {ops:?}"),
            );
        }
    }
    // Every held email is held once, whatever its spelling.
    let mut held = HashSet::new();
    for i in 0..6 {
        let g = t.get(&format!("mix-{i}")).await;
        if let Some(e) = g.data()["email"].as_str() {
            assert!(held.insert(e.trim().to_lowercase()), "{e} held twice");
        }
    }
}

// ---------------------------------------------------------------------------
// If-Match and versions
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_patches_with_the_same_if_match_one_wins() {
    let t = Arc::new(TestApp::new().await);
    t.seed(json!({"customerId": "im", "name": "Start"})).await;
    let r = {
        let t = t.clone();
        all_at_once(16, move |i| {
            let t = t.clone();
            async move {
                let body = json!({"name": format!("Writer {i}")}).to_string();
                t.patch_with("im", &body, &if_match("\"1\"")).await
            }
        })
        .await
    };
    let winners: Vec<usize> = (0..16).filter(|&i| r[i].status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        r.iter().map(|x| (x.status, x.code())).collect::<Vec<_>>()
    );
    for (i, x) in r.iter().enumerate() {
        if i != winners[0] {
            x.expect(412, "precondition_failed");
        }
    }
    let g = t.get("im").await;
    assert_eq!(g.etag(), "\"2\"", "the version went up by exactly one");
    assert_eq!(g.data()["name"], format!("Writer {}", winners[0]));
    assert_eq!(r[winners[0]].etag(), "\"2\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_email_changes_with_the_same_if_match_one_wins() {
    let t = Arc::new(TestApp::new().await);
    t.seed(json!({"customerId": "imx", "email": "start@im.example.com"}))
        .await;
    let r = {
        let t = t.clone();
        all_at_once(16, move |i| {
            let t = t.clone();
            async move {
                let body = json!({"email": format!("to{i}@im.example.com")}).to_string();
                t.patch_with("imx", &body, &if_match("\"1\"")).await
            }
        })
        .await
    };
    let winners: Vec<usize> = (0..16).filter(|&i| r[i].status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        r.iter().map(|x| (x.status, x.code())).collect::<Vec<_>>()
    );
    let w = winners[0];
    for (i, x) in r.iter().enumerate() {
        if i != w {
            x.expect(412, "precondition_failed");
            assert_eq!(owner(&t, &format!("to{i}@im.example.com")).await, None);
        }
    }
    let g = t.get("imx").await;
    assert_eq!(g.etag(), "\"2\"");
    assert_eq!(g.data()["email"], format!("to{w}@im.example.com"));
    assert_eq!(owner(&t, "start@im.example.com").await, None);
    assert_no_violations(&t.violations().await, "after the race");
    assert_eq!(t.item_count().await, 2);
}

#[tokio::test]
async fn if_match_mismatch_on_delete_deletes_nothing() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "keep", "email": "keep@im.example.com"}))
        .await;
    t.seed(json!({"customerId": "keep2"})).await;
    for id in ["keep", "keep2"] {
        for tag in ["\"7\"", "\"2\"", "\"0\", \"3\""] {
            t.delete(id, &[("if-match", tag)])
                .await
                .expect(412, "precondition_failed");
        }
        let g = t.get(id).await;
        g.ok(200);
        assert_eq!(g.etag(), "\"1\"");
    }
    assert_eq!(
        owner(&t, "keep@im.example.com").await.as_deref(),
        Some("keep")
    );
    assert_eq!(t.item_count().await, 3);
    // The current version and `*` do delete.
    t.delete("keep", &[("if-match", "\"1\"")]).await.ok(204);
    t.delete("keep2", &[("if-match", "*")]).await.ok(204);
    assert_eq!(t.item_count().await, 0);
}

#[tokio::test]
async fn an_if_match_no_version_can_satisfy_is_412_on_delete_and_patch() {
    // A weak tag never matches under strong comparison, and a tag that is not
    // a number is none of our versions: both are a mismatch (SPEC §5).
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "weak", "email": "weak@im.example.com"}))
        .await;
    t.seed(json!({"customerId": "weak2"})).await;
    for tag in ["W/\"1\"", "\"abc\""] {
        for id in ["weak", "weak2"] {
            t.patch_with(id, r#"{"name":"X"}"#, &if_match(tag))
                .await
                .expect(412, "precondition_failed");
            t.delete(id, &[("if-match", tag)])
                .await
                .expect(412, "precondition_failed");
        }
        t.delete("ghost", &[("if-match", tag)])
            .await
            .expect(404, "not_found");
    }
    for id in ["weak", "weak2"] {
        assert_eq!(t.get(id).await.etag(), "\"1\"");
    }
    assert_eq!(t.item_count().await, 3);
}

#[tokio::test]
async fn if_match_on_patch_and_star_on_missing() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "pm", "email": "pm@im.example.com"}))
        .await;
    t.patch_with("pm", r#"{"name":"X"}"#, &if_match("\"5\""))
        .await
        .expect(412, "precondition_failed");
    t.patch_with(
        "pm",
        r#"{"email":"pm2@im.example.com"}"#,
        &if_match("\"5\""),
    )
    .await
    .expect(412, "precondition_failed");
    let g = t.get("pm").await;
    assert_eq!(g.etag(), "\"1\"");
    assert_eq!(g.data()["name"], Value::Null);
    assert_eq!(owner(&t, "pm2@im.example.com").await, None);

    let r = t
        .patch_with("pm", r#"{"name":"Y"}"#, &if_match("\"0\", \"1\""))
        .await;
    r.ok(200);
    assert_eq!(r.etag(), "\"2\"");
    t.patch_with("pm", r#"{"email":"pm2@im.example.com"}"#, &if_match("*"))
        .await
        .ok(200);

    t.patch_with("ghost", r#"{"name":"X"}"#, &if_match("*"))
        .await
        .expect(404, "not_found");
    t.patch_with("ghost", r#"{"email":"g@im.example.com"}"#, &if_match("*"))
        .await
        .expect(404, "not_found");
    t.patch_with("ghost", r#"{"name":"X"}"#, &if_match("\"1\""))
        .await
        .expect(404, "not_found");
    t.delete("ghost", &[("if-match", "*")])
        .await
        .expect(404, "not_found");
    assert_eq!(owner(&t, "g@im.example.com").await, None);
    assert_eq!(t.item_count().await, 2);
    assert_no_violations(&t.violations().await, "at the end");
}

#[tokio::test]
async fn require_if_match_makes_it_mandatory() {
    let t = TestApp::builder()
        .env("REQUIRE_IF_MATCH", "true")
        .build()
        .await;
    t.seed(json!({"customerId": "req", "email": "req@im.example.com"}))
        .await;
    t.patch("req", json!({"name": "X"}))
        .await
        .expect(428, "precondition_required");
    t.patch("req", json!({"email": "other@im.example.com"}))
        .await
        .expect(428, "precondition_required");
    t.delete("req", &[])
        .await
        .expect(428, "precondition_required");
    let g = t.get("req").await;
    assert_eq!(g.etag(), "\"1\"", "refused requests wrote nothing");
    assert_eq!(g.data()["name"], Value::Null);

    let r = t
        .patch_with("req", r#"{"name":"X"}"#, &if_match("\"1\""))
        .await;
    r.ok(200);
    assert_eq!(r.etag(), "\"2\"");
    t.patch_with("req", r#"{"name":"Y"}"#, &if_match("*"))
        .await
        .ok(200);
    t.delete("req", &[("if-match", "\"2\"")])
        .await
        .expect(412, "precondition_failed");
    t.delete("req", &[("if-match", "\"3\"")]).await.ok(204);
    assert_eq!(t.item_count().await, 0, "the email was released");
}

// ---------------------------------------------------------------------------
// Release, normalization
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_released_email_can_be_taken_at_once() {
    let t = TestApp::new().await;
    for how in ["changed", "cleared", "deleted"] {
        for taker in ["patch", "post"] {
            let holder = format!("holder-{how}-{taker}");
            let email = format!("{how}.{taker}@release.example.com");
            t.seed(json!({"customerId": holder, "email": email})).await;
            let released = match how {
                "changed" => {
                    let to = format!("elsewhere.{taker}@release.example.com");
                    t.patch(&holder, json!({ "email": to })).await
                }
                "cleared" => t.patch(&holder, json!({ "email": null })).await,
                _ => t.delete(&holder, &[]).await,
            };
            assert!(
                released.status == 200 || released.status == 204,
                "{}",
                released.body
            );
            let new = format!("taker-{how}-{taker}");
            if taker == "patch" {
                t.seed(json!({"customerId": new})).await;
                let r = t.patch(&new, json!({ "email": email })).await;
                r.ok(200);
                assert_eq!(r.data()["email"], email.as_str());
            } else {
                let r = t.post(json!({"customerId": new, "email": email})).await;
                r.ok(201);
            }
            assert_eq!(
                owner(&t, &email).await.as_deref(),
                Some(new.as_str()),
                "{how} then {taker}"
            );
            assert_no_violations(&t.violations().await, &format!("{how} then {taker}"));
        }
    }
}

#[tokio::test]
async fn case_and_unicode_spellings_are_one_email() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "jane", "email": "Jane@Example.com"}))
        .await;
    for spelling in [
        "jane@example.com",
        "JANE@EXAMPLE.COM",
        "  jane@Example.com ",
    ] {
        t.post(json!({"customerId": "jane-2", "email": spelling}))
            .await
            .expect(409, "email_taken");
    }
    t.get("jane-2").await.expect(404, "not_found");
    t.seed(json!({"customerId": "other"})).await;
    for spelling in ["jane@example.com", "JANE@EXAMPLE.COM"] {
        t.patch("other", json!({ "email": spelling }))
            .await
            .expect(409, "email_taken");
    }

    // "é" precomposed and "e" + combining acute accent (and its upper case).
    t.seed(json!({"customerId": "jose", "email": "jos\u{e9}@example.com"}))
        .await;
    t.post(json!({"customerId": "jose-2", "email": "jose\u{301}@example.com"}))
        .await
        .expect(409, "email_taken");
    for spelling in ["jose\u{301}@example.com", "JOS\u{c9}@EXAMPLE.COM"] {
        t.patch("other", json!({ "email": spelling }))
            .await
            .expect(409, "email_taken");
    }
    // And the other way round: decomposed first.
    t.seed(json!({"customerId": "rene", "email": "rene\u{301}@example.com"}))
        .await;
    t.post(json!({"customerId": "rene-2", "email": "ren\u{e9}@example.com"}))
        .await
        .expect(409, "email_taken");

    let g = t.get("other").await;
    assert_eq!(g.etag(), "\"1\"");
    assert_eq!(g.data()["email"], Value::Null);
    assert_eq!(owner(&t, "jane@example.com").await.as_deref(), Some("jane"));
    assert_eq!(
        owner(&t, "jos\u{e9}@example.com").await.as_deref(),
        Some("jose")
    );
    assert_eq!(
        owner(&t, "ren\u{e9}@example.com").await.as_deref(),
        Some("rene")
    );
    assert_eq!(t.item_count().await, 4 + 3, "4 customers, 3 sentinels");
    assert_no_violations(&t.violations().await, "at the end");
}

#[tokio::test]
async fn a_customer_can_change_the_case_of_its_own_email() {
    let t = TestApp::new().await;
    let before = t
        .seed(json!({"customerId": "case", "email": "jane@example.com"}))
        .await;
    let r = t
        .patch("case", json!({"email": "  JANE@Example.COM  "}))
        .await;
    r.ok(200);
    assert_eq!(
        r.data()["email"],
        "JANE@Example.COM",
        "stored as sent, trimmed"
    );
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(r.calls, 1, "a case-only change is one DynamoDB call");
    assert!(r.data()["updatedAt"].as_str() > before["updatedAt"].as_str());
    assert_eq!(owner(&t, "jane@example.com").await.as_deref(), Some("case"));
    assert_eq!(t.item_count().await, 2, "the sentinel is unchanged");
    assert_eq!(t.get("case").await.data()["email"], "JANE@Example.COM");

    // Composed to decomposed form of one's own address: also one email.
    t.seed(json!({"customerId": "nfc", "email": "jos\u{e9}@example.com"}))
        .await;
    let r = t
        .patch("nfc", json!({"email": "jose\u{301}@example.com"}))
        .await;
    r.ok(200);
    assert_eq!(r.data()["email"], "jose\u{301}@example.com");
    assert_eq!(r.calls, 1);
    assert_eq!(
        owner(&t, "jos\u{e9}@example.com").await.as_deref(),
        Some("nfc")
    );
    assert_eq!(t.item_count().await, 4);
    assert_no_violations(&t.violations().await, "at the end");
}

// ---------------------------------------------------------------------------
// Call counts (SPEC §8)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn dynamodb_calls_per_request() {
    let t = TestApp::new().await;
    let r = t
        .post(json!({"customerId": "cc", "email": "one@calls.example.com", "address": {"city": "A", "country": "US"}}))
        .await;
    r.ok(201);
    assert_eq!(r.calls, 1, "POST with an email");
    let r = t.post(json!({"customerId": "cc-bare"})).await;
    r.ok(201);
    assert_eq!(r.calls, 1, "POST without an email");

    let g = t.get("cc").await;
    g.ok(200);
    assert_eq!(g.calls, 1, "GET");

    let r = t
        .patch("cc", json!({"email": "two@calls.example.com"}))
        .await;
    r.ok(200);
    assert_eq!(r.calls, 2, "PATCH changing the email");
    assert_eq!(r.etag(), "\"2\"");

    let unchanged = t
        .patch("cc", json!({"email": "two@calls.example.com"}))
        .await;
    unchanged.ok(200);
    assert_eq!(unchanged.calls, 1, "PATCH setting the same email");
    assert_eq!(unchanged.etag(), "\"2\"", "no version bump");
    assert_eq!(unchanged.data()["updatedAt"], r.data()["updatedAt"]);

    let r = t.patch("cc", json!({"name": "N"})).await;
    r.ok(200);
    assert_eq!(r.calls, 1, "PATCH without an email change");

    let r = t.patch("cc", json!({"address": {"city": "X"}})).await;
    r.ok(200);
    assert_eq!(r.calls, 1, "PATCH merging into an existing address");
    assert_eq!(r.data()["address"]["city"], "X");
    assert_eq!(r.data()["address"]["country"], "US");

    let r = t.patch("cc", json!({"email": null})).await;
    r.ok(200);
    assert_eq!(r.calls, 2, "PATCH clearing the email");
    assert_eq!(r.data()["email"], Value::Null);
    let v = r.etag().to_owned();

    let r = t.patch("cc", json!({"email": null})).await;
    r.ok(200);
    assert_eq!(r.calls, 1, "PATCH clearing an email already absent");
    assert_eq!(r.etag(), v);

    let r = t
        .patch("cc-bare", json!({"email": "three@calls.example.com"}))
        .await;
    r.ok(200);
    assert_eq!(r.calls, 2, "PATCH setting a first email");

    let r = t.delete("cc-bare", &[]).await;
    r.ok(204);
    assert_eq!(r.calls, 2, "DELETE of a customer with an email");
    let r = t.delete("cc", &[]).await;
    r.ok(204);
    assert_eq!(r.calls, 1, "DELETE of a customer without an email");
    assert_eq!(t.item_count().await, 0);
}

// ---------------------------------------------------------------------------
// Failures change nothing; broken state is reported, never repaired
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refused_email_change_writes_nothing() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "holder", "email": "taken@fail.example.com", "name": "Holder"}))
        .await;
    t.seed(json!({"customerId": "wants", "email": "mine@fail.example.com", "name": "Before", "tags": ["t"]}))
        .await;
    let holder_before = t.get("holder").await;
    let before = t.get("wants").await;
    let items_before = t.item_count().await;

    for body in [
        json!({"email": "TAKEN@fail.example.com", "name": "After", "tags": []}),
        json!({"email": "taken@fail.example.com"}),
    ] {
        let r = t.patch("wants", body).await;
        r.expect(409, "email_taken");
        assert!(!r.body.to_string().contains("holder"), "{}", r.body);
    }
    t.post(json!({"customerId": "newcomer", "email": "taken@fail.example.com"}))
        .await
        .expect(409, "email_taken");
    t.get("newcomer").await.expect(404, "not_found");

    let after = t.get("wants").await;
    assert_eq!(after.etag(), before.etag());
    assert_eq!(after.data(), before.data());
    let holder_after = t.get("holder").await;
    assert_eq!(holder_after.etag(), holder_before.etag());
    assert_eq!(holder_after.data(), holder_before.data());
    assert_eq!(
        owner(&t, "taken@fail.example.com").await.as_deref(),
        Some("holder")
    );
    assert_eq!(
        owner(&t, "mine@fail.example.com").await.as_deref(),
        Some("wants")
    );
    assert_eq!(t.item_count().await, items_before);
    assert_no_violations(&t.violations().await, "at the end");
}

async fn customer_item(t: &TestApp, id: &str) -> Item {
    raw(t, &format!("customer#{id}"))
        .await
        .unwrap_or_else(|| panic!("customer {id} is gone"))
}

async fn all_items(t: &TestApp) -> Vec<Item> {
    let mut items = t
        .ddb
        .scan()
        .table_name(&t.table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("pk")));
    items
}

#[tokio::test]
async fn a_sentinel_owned_by_someone_else_is_500_never_repaired() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c", "email": "x@y.io"})).await;
    // The impossible state: C holds x@y.io, its sentinel names another owner.
    t.ddb
        .put_item()
        .table_name(&t.table)
        .item("pk", AttributeValue::S("email#x@y.io".into()))
        .item("kind", AttributeValue::S("email".into()))
        .item("owner", AttributeValue::S("someone-else".into()))
        .send()
        .await
        .expect("put_item");
    let broken = t.violations().await;
    assert_eq!(broken.len(), 2, "{broken:?}");
    let before = all_items(&t).await;

    t.patch("c", json!({"email": "other@y.io"}))
        .await
        .expect(500, "internal");
    t.patch("c", json!({ "email": null }))
        .await
        .expect(500, "internal");
    t.delete("c", &[]).await.expect(500, "internal");

    assert_eq!(all_items(&t).await, before, "the data is unchanged");
    assert_eq!(owner(&t, "other@y.io").await, None);
    assert_eq!(t.violations().await, broken, "nothing was repaired");
    let g = t.get("c").await;
    g.ok(200);
    assert_eq!(g.etag(), "\"1\"");
    assert_eq!(g.data()["email"], "x@y.io");
}

#[tokio::test]
async fn a_missing_sentinel_is_500_never_repaired() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c", "email": "x@y.io"})).await;
    t.ddb
        .delete_item()
        .table_name(&t.table)
        .key("pk", AttributeValue::S("email#x@y.io".into()))
        .send()
        .await
        .expect("delete_item");
    let broken = t.violations().await;
    assert_eq!(broken.len(), 1, "{broken:?}");
    let before = customer_item(&t, "c").await;

    t.patch("c", json!({"email": "other@y.io"}))
        .await
        .expect(500, "internal");
    t.patch("c", json!({ "email": null }))
        .await
        .expect(500, "internal");
    t.delete("c", &[]).await.expect(500, "internal");

    assert_eq!(customer_item(&t, "c").await, before);
    assert_eq!(t.item_count().await, 1, "no sentinel was written");
    assert_eq!(t.violations().await, broken);
}
