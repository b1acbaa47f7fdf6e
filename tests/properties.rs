//! Properties of the pure core (no I/O): parsing never panics, accepted
//! patches are idempotent, accepted customers satisfy every limit (checked by
//! an independent oracle below, not by the validator itself), the DynamoDB
//! mapping round-trips, and built expressions use every placeholder.

use chrono::NaiveDate;
use customers_api::customer::fields::{self, Access, Field, Kind};
use customers_api::customer::patch::{self, Mode};
use customers_api::customer::strategy::Strategies;
use customers_api::customer::validate::{self, Ctx};
use customers_api::store::expr::{self, EmailGuard, Expect};
use customers_api::store::item::{self, Stored};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn ctx() -> Ctx {
    Ctx {
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    }
}

/// Strings around the interesting lengths, with a few hostile characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-zA-Z0-9 .#:_-]{1,12}",
        1 => "[\\u{0}-\\u{7f}]{0,6}",
        1 => ".{0,4}",
        1 => (max.saturating_sub(1)..=max + 1).prop_map(|n| "x".repeat(n)),
        1 => Just("é".repeat(max)),
    ]
}

/// Values near the rules of a kind: mostly valid, sometimes not.
fn value_for(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text { max, .. } => text(max).prop_map(Value::String).boxed(),
        Kind::Email => prop_oneof![
            6 => "[a-z]{1,8}@[a-z]{1,8}\\.(com|io)".prop_map(Value::String),
            2 => "[A-Z]{1,8}@[a-z]{1,8}\\.com ".prop_map(Value::String),
            1 => text(254).prop_map(Value::String),
        ]
        .boxed(),
        Kind::Phone => prop_oneof![5 => "\\+[1-9][0-9]{6,14}", 1 => "\\+?[0-9]{0,17}"].prop_map(Value::String).boxed(),
        Kind::Date => prop_oneof![
            5 => (1890i32..2030, 1u32..13, 1u32..32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
            1 => "[0-9-]{0,11}",
        ]
        .prop_map(Value::String)
        .boxed(),
        Kind::Bool => prop_oneof![any::<bool>().prop_map(Value::Bool), Just(json!("true"))].boxed(),
        Kind::Country => prop_oneof![
            5 => prop::sample::select(vec!["US", "IN", "DE", "PT", "JP"]).prop_map(str::to_owned),
            1 => "[A-Z]{2}",
            1 => "[a-zA-Z]{1,3}",
        ].prop_map(Value::String).boxed(),
        Kind::Object(members) => object_for(members).boxed(),
        Kind::Metadata => prop::collection::btree_map(
            prop_oneof![4 => "[a-z.#:]{1,6}", 1 => text(40)],
            prop_oneof![8 => text(500).prop_map(Value::String), 1 => Just(Value::Null), 1 => Just(json!(1))],
            0..8,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed(),
        Kind::Tags => prop::collection::vec(prop_oneof![12 => "[a-z]{1,6}".prop_map(Value::String), 1 => Just(json!(3))], 0..6)
            .prop_map(Value::Array)
            .boxed(),
        Kind::Uuid | Kind::CustomerId | Kind::Timestamp | Kind::Details => {
            "[a-z0-9-]{1,10}".prop_map(Value::String).boxed()
        }
    }
}

fn object_for(members: &'static [Field]) -> impl Strategy<Value = Value> {
    let per_member: Vec<_> = members
        .iter()
        .map(|f| {
            prop_oneof![
                2 => Just(None),
                1 => Just(Some((f.name.to_owned(), Value::Null))),
                6 => value_for(f.kind).prop_map(move |v| Some((f.name.to_owned(), v))),
            ]
        })
        .collect();
    (per_member, prop::option::weighted(0.03, "[a-z]{1,5}")).prop_map(|(pairs, extra)| {
        let mut m: Map<String, Value> = pairs.into_iter().flatten().collect();
        if let Some(k) = extra {
            m.entry(k).or_insert(json!("unknown"));
        }
        Value::Object(m)
    })
}

/// A patch body: a few customer members (writable or not), sometimes unknown.
fn patch_body() -> impl Strategy<Value = Value> {
    let all: Vec<_> = fields::CUSTOMER.iter().collect();
    let writable: Vec<_> = fields::CUSTOMER
        .iter()
        .filter(|f| f.access == Access::Writable)
        .collect();
    let field = prop_oneof![12 => prop::sample::select(writable), 1 => prop::sample::select(all)];
    prop::collection::vec(
        (field, prop::bool::weighted(0.1)).prop_flat_map(|(f, null)| {
            let v = if null {
                Just(Value::Null).boxed()
            } else {
                value_for(f.kind)
            };
            (Just(f.name.to_owned()), v)
        }),
        1..5,
    )
    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

/// Any JSON at all, for the no-panic property.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let names = prop_oneof![
            prop::sample::select(fields::CUSTOMER.iter().map(|f| f.name).collect::<Vec<_>>())
                .prop_map(str::to_owned),
            prop::sample::select(fields::ADDRESS.iter().map(|f| f.name).collect::<Vec<_>>())
                .prop_map(str::to_owned),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(names, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn strategies() -> impl Strategy<Value = Strategies> {
    prop::sample::select(vec![
        "",
        "address=replace",
        "metadata=merge",
        "shipping=merge,address=replace,metadata=merge",
    ])
    .prop_map(|s| Strategies::parse(s).unwrap())
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Json), Just(Mode::MergePatch)]
}

/// A valid stored customer, built by applying accepted patches to a minimal one.
fn customer() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((patch_body(), mode(), strategies()), 0..8).prop_map(|patches| {
        let mut doc = Map::new();
        doc.insert("id".into(), json!("1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"));
        doc.insert("customerId".into(), json!("c1"));
        for (body, m, s) in patches {
            if let Ok(p) = patch::parse(&body, m, &s, &ctx()) {
                let mut next = doc.clone();
                patch::apply(&mut next, &p);
                if validate::customer(&next, &ctx()).is_empty() {
                    doc = next;
                }
            }
        }
        doc
    })
}

// ---- the independent oracle of SPEC §2 ----

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn clean(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

fn oracle_member(kind: Kind, v: &Value) -> Result<(), String> {
    let s = v.as_str();
    let ok = match kind {
        Kind::Text { min, max } => {
            s.is_some_and(|s| chars(s) >= min && chars(s) <= max && clean(s))
        }
        Kind::Email => s.is_some_and(|s| {
            let parts: Vec<_> = s.split('@').collect();
            s == s.trim()
                && chars(s) <= 254
                && parts.len() == 2
                && !parts[0].is_empty()
                && chars(parts[0]) <= 64
                && parts[1].contains('.')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }),
        Kind::Phone => s.is_some_and(|s| {
            let d = s.strip_prefix('+').unwrap_or("");
            (7..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        }),
        Kind::Date => s.is_some_and(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok_and(|d| {
                d >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
                    && d <= ctx().today
                    && s.len() == 10
            })
        }),
        Kind::Bool => v.is_boolean(),
        Kind::Country => s.is_some_and(|s| {
            isocountry::CountryCode::for_alpha2(s).is_ok() && s == s.to_uppercase()
        }),
        Kind::Object(members) => v.as_object().is_some_and(|o| {
            !o.is_empty()
                && o.iter().all(|(k, x)| {
                    fields::lookup(members, k).is_some_and(|f| oracle_member(f.kind, x).is_ok())
                })
        }),
        Kind::Metadata => v.as_object().is_some_and(|o| {
            !o.is_empty()
                && o.len() <= 50
                && o.iter().all(|(k, x)| {
                    (1..=40).contains(&chars(k))
                        && !k.contains(['[', ']'])
                        && clean(k)
                        && x.as_str().is_some_and(|x| chars(x) <= 500 && clean(x))
                })
        }),
        Kind::Tags => v.as_array().is_some_and(|a| {
            let mut seen = std::collections::HashSet::new();
            !a.is_empty()
                && a.len() <= 50
                && a.iter().all(|t| {
                    t.as_str()
                        .is_some_and(|t| (1..=64).contains(&chars(t)) && clean(t) && seen.insert(t))
                })
        }),
        Kind::Uuid | Kind::CustomerId | Kind::Timestamp | Kind::Details => true,
    };
    if ok { Ok(()) } else { Err(format!("{v}")) }
}

fn oracle(doc: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in doc {
        let f = fields::lookup(fields::CUSTOMER, k).ok_or(format!("unknown member {k}"))?;
        oracle_member(f.kind, v).map_err(|e| format!("{k}: {e}"))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_any_json_never_panics(body in any_json(), m in mode(), s in strategies()) {
        let _ = patch::parse(&body, m, &s, &ctx());
        let mut errs = Vec::new();
        for f in fields::CUSTOMER {
            let _ = validate::value(f.kind, &body, f.name, validate::Nulls::Keep, &ctx(), &mut errs);
        }
        let bytes = body.to_string();
        prop_assert!(customers_api::http::body::parse_json(bytes.as_bytes()).is_ok());
    }

    #[test]
    fn an_accepted_patch_applied_twice_equals_applied_once(
        doc in customer(), body in patch_body(), m in mode(), s in strategies()
    ) {
        if let Ok(p) = patch::parse(&body, m, &s, &ctx()) {
            let mut once = doc.clone();
            patch::apply(&mut once, &p);
            let mut twice = once.clone();
            patch::apply(&mut twice, &p);
            prop_assert_eq!(once, twice);
        }
    }

    #[test]
    fn every_accepted_customer_satisfies_every_limit(
        doc in customer(), body in patch_body(), m in mode(), s in strategies()
    ) {
        prop_assert!(oracle(&doc).is_ok(), "{:?}", oracle(&doc));
        if let Ok(p) = patch::parse(&body, m, &s, &ctx()) {
            let mut next = doc.clone();
            patch::apply(&mut next, &p);
            if validate::customer(&next, &ctx()).is_empty() {
                prop_assert!(oracle(&next).is_ok(), "{:?} from {}", oracle(&next), body);
            }
        }
    }

    #[test]
    fn the_item_mapping_round_trips(doc in customer(), version in 1u64..1_000_000) {
        let email_norm = item::email_norm_of(&doc);
        let s = Stored { doc, version, email_norm };
        let back = item::stored_from_item(&item::item_from_stored(&s)).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn expressions_use_every_placeholder_and_stay_within_limits(
        body in patch_body(), m in mode(), s in strategies(), v in prop::option::of(1u64..9)
    ) {
        if let Ok(p) = patch::parse(&body, m, &s, &ctx()) {
            let ops = patch::ops(&p);
            let expect = v.map_or(Expect::Exists, |v| Expect::OneOf(vec![v]));
            let e = expr::fast_update(&ops, &expect, &EmailGuard::Absent, "2026-11-23T00:00:00.000000Z");
            let text = format!("{} {}", e.update, e.condition);
            for k in e.names.keys().chain(e.values.keys()) {
                let used = text.match_indices(k.as_str())
                    .any(|(i, _)| !text[i + k.len()..].starts_with(|c: char| c.is_ascii_digit()));
                prop_assert!(used, "{} unused in {}", k, text);
            }
            prop_assert!(e.update.len() <= 4096 && e.condition.len() <= 4096);
        }
    }

    #[test]
    fn read_only_members_are_never_accepted(body in patch_body(), m in mode()) {
        let read_only = body.as_object().is_some_and(|o| o.keys().any(|k| {
            fields::lookup(fields::CUSTOMER, k).is_some_and(|f| f.access != Access::Writable)
        }));
        if read_only {
            prop_assert!(patch::parse(&body, m, &Strategies::default(), &ctx()).is_err());
        }
    }
}

/// Guards against vacuous properties: the generators must produce accepted
/// patches and customers with many members, not just refusals.
#[test]
fn generators_reach_interesting_cases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut members, mut with_email, n) = (0, 0, 0, 300);
    for _ in 0..n {
        let doc = customer().new_tree(&mut runner).unwrap().current();
        members += doc.len();
        with_email += usize::from(doc.contains_key("email"));
        let body = patch_body().new_tree(&mut runner).unwrap().current();
        accepted +=
            usize::from(patch::parse(&body, Mode::Json, &Strategies::default(), &ctx()).is_ok());
    }
    eprintln!(
        "accepted {accepted}/{n}, mean members {}, with email {with_email}",
        members / n
    );
    assert!(accepted > n / 5, "accepted {accepted}/{n}");
    assert!(members / n >= 4, "mean members {}", members / n);
    assert!(with_email > n / 10, "with email {with_email}");
}
