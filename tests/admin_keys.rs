//! `customers-admin keys` on the local stack (moto's SSM), driving the real
//! binary: a created key is accepted by the function and refused once
//! revoked, `list` never shows a hash, concurrent creates never lose a key,
//! the lock is waited for and broken when stale, a malformed parameter is
//! never overwritten.

mod common;

use std::collections::HashMap;

use aws_sdk_ssm::types::ParameterType;
use common::{Run, TestApp, admin, admin_cmd, event, finish};
use customers_api::auth::{parse_keys, sha256_hex};
use customers_api::http::{App, RequestCtx, handle_with};
use customers_api::startup::config::Config;
use customers_api::startup::init;
use serde_json::json;

/// The parameter's current value.
async fn param(t: &TestApp) -> String {
    t.ssm
        .get_parameter()
        .name(&t.param)
        .with_decryption(true)
        .send()
        .await
        .expect("get_parameter")
        .parameter
        .and_then(|p| p.value)
        .expect("value")
}

/// GET of a seeded customer by a freshly started function (its keys read
/// now, as after the key TTL), started as `customers-api` starts:
/// `init::start`, which must have the keys and the table ready.
async fn get_with(t: &TestApp, key: &str) -> u16 {
    get_c1(&started(t).await, key).await
}

async fn started(t: &TestApp) -> App {
    let env = HashMap::from([
        ("TABLE_NAME", t.table.clone()),
        ("API_KEYS_PARAMETER", t.param.clone()),
    ]);
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    init::start(config, &common::sdk().await).await
}

async fn get_c1(app: &App, key: &str) -> u16 {
    let auth = format!("Bearer {key}");
    let req = event("GET", "/v1/customers/c1", &[("authorization", &auth)], None);
    let ctx = RequestCtx::new("admin-test".into());
    handle_with(app, req, &ctx).await.status().as_u16()
}

/// `init::start` has fetched the keys before the first request (the SSM call
/// it sends first, with the DynamoDB client built meanwhile): the parameter
/// deleted once the function has started, a GET is still served.
#[tokio::test]
async fn a_started_function_has_its_keys_before_the_first_request() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c1", "name": "N"})).await;
    let app = started(&t).await;
    t.ssm
        .delete_parameter()
        .name(&t.param)
        .send()
        .await
        .expect("delete_parameter");
    assert_eq!(get_c1(&app, "local-read-key").await, 200);
}

#[tokio::test]
async fn a_created_key_works_until_revoked_and_is_stored_only_as_its_hash() {
    let t = TestApp::new().await;
    t.seed(json!({"customerId": "c1", "name": "N"})).await;

    let r = admin(
        &t,
        &[
            "keys",
            "create",
            "--id",
            "ci_deploy",
            "--scopes",
            "customers:read,customers:write",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the key alone: {:?}", r.stdout);
    let key = lines[0];
    assert!(key.starts_with("cak_ci_deploy_"), "{key}");
    assert_eq!(key.len(), "cak_ci_deploy_".len() + 64);
    assert!(!r.stderr.contains(key), "the key is printed once");

    let stored = param(&t).await;
    assert!(!stored.contains(key), "no plaintext key in the parameter");
    let set = parse_keys(&stored).expect("the parameter stays well-formed");
    assert_eq!(set.find(key).map(|k| k.id.as_str()), Some("ci_deploy"));
    assert_eq!(set.len(), 3, "the local keys are kept");
    let desc = t
        .ssm
        .get_parameter()
        .name(&t.param)
        .send()
        .await
        .expect("get_parameter")
        .parameter
        .expect("parameter");
    assert_eq!(desc.r#type(), Some(&ParameterType::SecureString));

    assert_eq!(
        get_with(&t, key).await,
        200,
        "the function accepts the new key"
    );
    assert_eq!(get_with(&t, "local-read-key").await, 200);

    // list: ids and scopes, never a hash
    for args in [&["keys", "list"][..], &["keys", "list", "--json"][..]] {
        let l = admin(&t, args).await;
        assert_eq!(l.code, 0, "{}", l.stderr);
        assert!(l.stdout.contains("ci_deploy") && l.stdout.contains("local_read"));
        for secret in [
            sha256_hex(key),
            sha256_hex("local-write-key"),
            sha256_hex("local-read-key"),
        ] {
            assert!(
                !l.stdout.contains(&secret) && !l.stderr.contains(&secret),
                "a hash was printed"
            );
        }
        assert!(!l.stdout.contains("sha256") && !l.stdout.contains(key));
    }
    let j: serde_json::Value =
        serde_json::from_str(&admin(&t, &["keys", "list", "--json"]).await.stdout).expect("json");
    assert_eq!(j["keys"][2]["id"], "ci_deploy");
    assert_eq!(
        j["keys"][2]["scopes"],
        json!(["customers:read", "customers:write"])
    );

    // an existing id is refused and nothing changes
    let again = admin(
        &t,
        &[
            "keys",
            "create",
            "--id",
            "ci_deploy",
            "--scopes",
            "customers:read",
        ],
    )
    .await;
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(again.stdout.is_empty());
    assert_eq!(param(&t).await, stored);

    // revoke: unknown id is an error, the real one is refused afterwards
    let unknown = admin(&t, &["keys", "revoke", "nobody"]).await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no key has the id `nobody`"),
        "{}",
        unknown.stderr
    );
    assert_eq!(param(&t).await, stored);
    let rv = admin(&t, &["keys", "revoke", "ci_deploy"]).await;
    assert_eq!(rv.code, 0, "{}", rv.stderr);
    assert_eq!(get_with(&t, key).await, 401, "a revoked key is refused");
    assert_eq!(
        get_with(&t, "local-write-key").await,
        200,
        "the others still work"
    );
    assert_eq!(parse_keys(&param(&t).await).unwrap().len(), 2);
    assert!(
        t.ssm
            .get_parameter()
            .name(format!("{}.lock", t.param))
            .send()
            .await
            .is_err(),
        "the lock is released"
    );
}

#[tokio::test]
async fn bad_ids_and_scopes_are_refused_before_anything_is_written() {
    let t = TestApp::new().await;
    let before = param(&t).await;
    for (id, scopes) in [
        ("bad id", "customers:read"),
        ("-x", "customers:read"),
        ("ok", "customers:admin"),
        ("ok", ""),
    ] {
        let r = admin(&t, &["keys", "create", "--id", id, "--scopes", scopes]).await;
        assert_eq!(r.code, 2, "{id} {scopes}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    assert_eq!(param(&t).await, before);
}

#[tokio::test]
async fn a_missing_parameter_is_created_as_a_secure_string() {
    let t = TestApp::builder().keys(None).build().await;
    let r = admin(
        &t,
        &[
            "keys",
            "create",
            "--id",
            "first",
            "--scopes",
            "customers:read",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let set = parse_keys(&param(&t).await).expect("well-formed");
    assert_eq!(set.len(), 1);
    assert!(set.find(r.stdout.trim()).is_some());
}

#[tokio::test]
async fn a_malformed_parameter_is_reported_and_never_overwritten() {
    let t = TestApp::builder()
        .keys(Some("{\"keys\": [oops secret-ish"))
        .build()
        .await;
    for args in [
        &["keys", "create", "--id", "x", "--scopes", "customers:read"][..],
        &["keys", "revoke", "local_read"][..],
        &["keys", "list"][..],
    ] {
        let r = admin(&t, args).await;
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains("malformed"), "{}", r.stderr);
        assert!(
            !r.stderr.contains("secret-ish"),
            "the content is not echoed"
        );
        assert!(r.stdout.is_empty());
    }
    assert_eq!(param(&t).await, "{\"keys\": [oops secret-ish");
}

#[tokio::test]
async fn concurrent_creates_never_lose_a_key() {
    let t = TestApp::new().await;
    let n = 6;
    // All processes started before any is waited for.
    let children: Vec<_> = (0..n)
        .map(|i| {
            admin_cmd(
                &t,
                &[
                    "keys",
                    "create",
                    "--id",
                    &format!("k{i}"),
                    "--scopes",
                    "customers:read",
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    let runs: Vec<Run> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| finish(c.wait_with_output().expect("wait")))
            .collect()
    })
    .await
    .expect("join");
    let set = parse_keys(&param(&t).await).expect("well-formed");
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.code, 0, "k{i}: {}", r.stderr);
        let key = r.stdout.trim();
        assert_eq!(
            set.find(key).map(|k| k.id.clone()),
            Some(format!("k{i}")),
            "k{i} was lost"
        );
    }
    assert_eq!(set.len(), 2 + n);
}

async fn put_lock(t: &TestApp, acquired_at: &str) {
    t.ssm
        .put_parameter()
        .name(format!("{}.lock", t.param))
        .value(
            json!({"owner": "someone", "acquiredAt": acquired_at, "operation": "keys create z"})
                .to_string(),
        )
        .r#type(ParameterType::String)
        .send()
        .await
        .expect("put lock");
}

#[tokio::test]
async fn a_held_lock_is_waited_for_and_a_stale_one_broken() {
    let t = TestApp::new().await;
    let before = param(&t).await;
    put_lock(&t, &chrono::Utc::now().to_rfc3339()).await;
    let r = admin(
        &t,
        &[
            "keys",
            "create",
            "--id",
            "x",
            "--scopes",
            "customers:read",
            "--lock-wait",
            "1",
        ],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("locked by another keys command"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    assert_eq!(param(&t).await, before, "nothing written while locked");

    t.ssm
        .delete_parameter()
        .name(format!("{}.lock", t.param))
        .send()
        .await
        .expect("delete");
    let old = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    put_lock(&t, &old).await;
    let r = admin(
        &t,
        &[
            "keys",
            "create",
            "--id",
            "x",
            "--scopes",
            "customers:read",
            "--lock-wait",
            "1",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("breaking the lock"), "{}", r.stderr);
    assert!(
        parse_keys(&param(&t).await)
            .unwrap()
            .find(r.stdout.trim())
            .is_some()
    );
}
