use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

use super::findings::{Code, Fix, Index, findings};
use crate::customer::email;
use crate::store::item::{self, Item, Stored};

fn customer(id: &str, email: Option<&str>, recorded: Option<&str>) -> Item {
    let mut doc = Map::new();
    doc.insert("customerId".into(), json!(id));
    if let Some(e) = email {
        doc.insert("email".into(), json!(e));
    }
    item::item_from_stored(&Stored {
        doc,
        version: 3,
        email_norm: recorded.map(str::to_owned),
    })
}

fn index(items: &[Item]) -> Index {
    let mut ix = Index::default();
    for i in items {
        ix.add(i);
    }
    ix
}

fn codes(ix: &Index) -> Vec<(Code, Option<String>)> {
    findings(ix)
        .into_iter()
        .map(|f| (f.code, f.customer_id))
        .collect()
}

#[test]
fn a_consistent_table_has_no_findings() {
    let ix = index(&[
        customer("a", Some("A@x.io"), Some("a@x.io")),
        item::sentinel("a@x.io", "a"),
        customer("b", None, None),
    ]);
    assert!(findings(&ix).is_empty(), "{:?}", findings(&ix));
}

#[test]
fn idempotency_records_are_not_findings_unless_unreadable() {
    use crate::store::idempotency::{Keyed, Reply};
    let k = Keyed {
        id: "abc".into(),
        fingerprint: "fp".into(),
        now: 1,
        expires_at: 2,
    };
    let ix = index(&[
        customer("b", None, None),
        item::record_item(&k, &Reply::no_content()),
    ]);
    assert!(findings(&ix).is_empty(), "{:?}", findings(&ix));
    let mut broken = item::record_item(&k, &Reply::no_content());
    broken.remove("status");
    let ix = index(&[broken]);
    assert_eq!(codes(&ix), vec![(Code::UnreadableItem, None)]);
}

#[test]
fn each_violation_is_named_by_customer_and_never_by_email() {
    let ix = index(&[
        // orphan sentinel
        item::sentinel("gone@x.io", "ghost"),
        // sentinel whose owner holds another email
        customer("b", Some("b2@x.io"), Some("b2@x.io")),
        item::sentinel("b2@x.io", "b"),
        item::sentinel("b1@x.io", "b"),
        // an email without sentinel
        customer("c", Some("c@x.io"), Some("c@x.io")),
        // an email whose sentinel another owns
        customer("d", Some("d@x.io"), Some("d@x.io")),
        item::sentinel("d@x.io", "ghost2"),
        // older normal form: recorded differs from normalize(email)
        customer("e", Some("E@X.io"), Some("E@X.io")),
        item::sentinel("E@X.io", "e"),
        // unreadable: no version
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("customer#f".into())),
            ("kind".to_owned(), AttributeValue::S("customer".into())),
            ("customerId".to_owned(), AttributeValue::S("f".into())),
        ]),
        // unknown kind, a key that is an email
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S("odd#g@x.io".into())),
            ("kind".to_owned(), AttributeValue::S("mystery".into())),
        ]),
    ]);
    let all = findings(&ix);
    let mut got: Vec<(Code, Option<&str>)> = all
        .iter()
        .map(|f| (f.code, f.customer_id.as_deref()))
        .collect();
    got.sort_by_key(|(c, id)| (format!("{c:?}"), id.map(str::to_owned)));
    assert_eq!(
        got,
        [
            (Code::EmailWithoutSentinel, Some("c")),
            (Code::EmailWithoutSentinel, Some("d")),
            (Code::SentinelHolderHasOtherEmail, Some("b")),
            (Code::SentinelWithoutHolder, Some("ghost")),
            (Code::SentinelWithoutHolder, Some("ghost2")),
            (Code::StaleNormalization, Some("e")),
            (Code::UnreadableItem, None),
            (Code::UnreadableItem, Some("f")),
        ]
    );
    let text = serde_json::to_string(&all).unwrap();
    for e in ["x.io", "X.io", "@"] {
        assert!(!text.contains(e), "an email leaked into the report: {text}");
    }
    let fixes: Vec<_> = all.iter().filter_map(|f| f.fix.clone()).collect();
    assert!(fixes.contains(&Fix::RemoveOrphan {
        norm: "gone@x.io".into(),
        owner: "ghost".into()
    }));
    assert!(fixes.contains(&Fix::RemoveNotHeld {
        norm: "b1@x.io".into(),
        owner: "b".into(),
        version: 3
    }));
    assert!(fixes.contains(&Fix::Rekey {
        id: "e".into(),
        from: "E@X.io".into(),
        to: Some(email::normalize("E@X.io")),
        version: 3
    }));
    assert_eq!(fixes.len(), 4, "ghost2's orphan is the fourth: {fixes:?}");
}

#[test]
fn a_rekey_is_offered_only_when_the_new_form_is_free() {
    // Two customers whose old forms differ but whose current form is one.
    let ix = index(&[
        customer("a", Some("Q@x.io"), Some("Q@x.io")),
        item::sentinel("Q@x.io", "a"),
        customer("b", Some("q@X.IO"), Some("q@X.IO")),
        item::sentinel("q@X.IO", "b"),
    ]);
    let all = findings(&ix);
    assert!(all.iter().all(|f| f.fix.is_none()), "{all:?}");
    assert!(all.iter().any(|f| f.code == Code::EmailHeldTwice));
    assert_eq!(
        codes(&ix)
            .iter()
            .filter(|(c, _)| *c == Code::StaleNormalization)
            .count(),
        2
    );
    // A released email: emailNorm recorded, no email, own sentinel.
    let ix = index(&[
        customer("c", None, Some("c@x.io")),
        item::sentinel("c@x.io", "c"),
    ]);
    let all = findings(&ix);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        all[0].fix,
        Some(Fix::Rekey {
            id: "c".into(),
            from: "c@x.io".into(),
            to: None,
            version: 3
        })
    );
    let _ = Value::Null;
}
