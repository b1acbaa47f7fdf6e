//! Properties of change events (pure: no stack). For random sequences of a
//! customer's states, written in the API's item layout and read back from
//! Lambda-shaped stream records by the events function's own code:
//!
//! - replaying the events' `previous` backwards from the last state gives
//!   every earlier state (and `occurredAt` gives its `updatedAt`);
//! - in `changes` mode, applying `current` forwards from the creation gives
//!   every later state;
//! - ids are `<customerId>:<version>` and versions count up by one.

use customers_api::events::change::change_of;
use customers_api::events::detail::{Mode, detail};
use customers_api::store::item::{self, Item, Stored};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn opt<T: Strategy>(s: T) -> impl Strategy<Value = Option<T::Value>> {
    prop::option::of(s)
}

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(values).prop_map(str::to_owned)
}

/// An object of the present members, or nothing when none is.
fn object(members: Vec<(&str, Option<Value>)>) -> Option<Value> {
    let m: Map<String, Value> = members
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    (!m.is_empty()).then_some(Value::Object(m))
}

fn address() -> impl Strategy<Value = Option<Value>> {
    (
        opt(pick(&["1 Main St", "2 Side St"])),
        opt(pick(&["Springfield", "Shelbyville"])),
        opt(pick(&["US", "FR"])),
    )
        .prop_map(|(line1, city, country)| {
            object(vec![
                ("line1", line1.map(Value::from)),
                ("city", city.map(Value::from)),
                ("country", country.map(Value::from)),
            ])
        })
}

/// A customer's writable members, in the stored shape (no nulls, no empty
/// containers).
fn members() -> impl Strategy<Value = Map<String, Value>> {
    (
        opt(pick(&["Ada", "Grace", "Linus"])),
        opt(pick(&["a@example.com", "b@example.com"])),
        opt(pick(&["+15555550100", "+15555550101"])),
        address(),
        (opt(pick(&["Sam", "Kim"])), address()),
        prop::collection::btree_map(pick(&["tier", "source", "a.b"]), pick(&["1", "2"]), 0..3),
        prop::sample::subsequence(vec!["vip", "b2b", "eu"], 0..3),
        opt(any::<bool>()),
    )
        .prop_map(
            |(name, email, phone, address, (ship_name, ship_address), metadata, tags, consent)| {
                let shipping = object(vec![
                    ("name", ship_name.map(Value::from)),
                    ("address", ship_address),
                ]);
                let metadata = (!metadata.is_empty()).then(|| json!(metadata));
                let tags = (!tags.is_empty()).then(|| json!(tags));
                let doc = object(vec![
                    ("name", name.map(Value::from)),
                    ("email", email.map(Value::from)),
                    ("phone", phone.map(Value::from)),
                    ("address", address),
                    ("shipping", shipping),
                    ("metadata", metadata),
                    ("tags", tags),
                    ("marketingConsent", consent.map(Value::from)),
                ]);
                match doc {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                }
            },
        )
}

/// Versions 1..=n of one customer, each different from the one before
/// (the store never writes a change that changes nothing).
fn history(states: Vec<Map<String, Value>>) -> Vec<Stored> {
    let mut out: Vec<Stored> = Vec::new();
    for m in states {
        if out.last().is_some_and(|prev| writable(&prev.doc) == m) {
            continue;
        }
        let version = out.len() as u64 + 1;
        let mut doc = Map::from_iter([
            (
                "id".to_owned(),
                json!("1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"),
            ),
            ("customerId".to_owned(), json!("cust_p")),
            ("createdAt".to_owned(), json!("2026-11-23T14:00:00.000000Z")),
            (
                "updatedAt".to_owned(),
                json!(format!("2026-11-23T14:00:{version:02}.000000Z")),
            ),
        ]);
        doc.extend(m);
        out.push(Stored {
            email_norm: item::email_norm_of(&doc),
            doc,
            version,
        });
    }
    out
}

fn writable(doc: &Map<String, Value>) -> Map<String, Value> {
    let mut d = doc.clone();
    for k in ["id", "customerId", "createdAt", "updatedAt"] {
        d.remove(k);
    }
    d
}

fn image(i: Option<&Item>) -> Value {
    i.map_or(Value::Null, |i| {
        serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap()
    })
}

/// The stream record of the write from `old` to `new`, as Lambda sends it.
fn record(old: Option<&Stored>, new: Option<&Stored>, seq: usize) -> Value {
    let (old, new) = (
        old.map(item::item_from_stored),
        new.map(item::item_from_stored),
    );
    let name = match (&old, &new) {
        (None, _) => "INSERT",
        (_, None) => "REMOVE",
        _ => "MODIFY",
    };
    json!({
        "eventID": format!("e{seq}"),
        "eventName": name,
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_442_460.0,
            "Keys": {"pk": {"S": "customer#cust_p"}},
            "NewImage": image(new.as_ref()),
            "OldImage": image(old.as_ref()),
            "SequenceNumber": format!("{seq:021}"),
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

/// The events of the history (and of its deletion), in `mode`.
fn events(h: &[Stored], deleted: bool, mode: Mode) -> Vec<Value> {
    let mut records = vec![record(None, h.first(), 0)];
    records.extend(
        h.windows(2)
            .enumerate()
            .map(|(i, w)| record(Some(&w[0]), Some(&w[1]), i + 1)),
    );
    if deleted {
        records.push(record(h.last(), None, h.len()));
    }
    records
        .into_iter()
        .map(|r| {
            let r = serde_json::from_value(r).unwrap();
            let change = change_of(&r).unwrap().expect("a customer's change");
            detail(&change, mode)
        })
        .collect()
}

/// Unset is unset: no nulls, no empty objects or arrays; `updatedAt`
/// aside (events carry it as `occurredAt`).
fn normal(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "updatedAt")
                .map(|(k, v)| (k.clone(), normal(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Object(o) => !o.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn previous_replayed_backwards_gives_every_state(
        states in prop::collection::vec(members(), 1..8),
        deleted in any::<bool>(),
    ) {
        let h = history(states);
        let ev = events(&h, deleted, Mode::Full);
        for (k, e) in ev.iter().enumerate() {
            prop_assert_eq!(&e["id"], &json!(format!("cust_p:{}", k + 1)));
            prop_assert_eq!(&e["version"], &json!(k + 1));
        }
        // From the last state: the deletion's previous, else the last data.
        let last = ev.last().unwrap();
        let mut state = if deleted { last["previous"].clone() } else { last["data"].clone() };
        let updates = &ev[1..h.len()];
        for (k, e) in updates.iter().enumerate().rev() {
            let version = k + 2;
            prop_assert_eq!(normal(&state), normal(&item::view(&h[version - 1].doc)));
            prop_assert_eq!(&e["occurredAt"], &h[version - 1].doc["updatedAt"]);
            json_patch::merge(&mut state, &e["previous"]);
        }
        prop_assert_eq!(normal(&state), normal(&item::view(&h[0].doc)));
        prop_assert_eq!(normal(&state), normal(&ev[0]["data"]));
    }

    #[test]
    fn current_applied_forwards_gives_every_state(
        states in prop::collection::vec(members(), 1..8),
    ) {
        let h = history(states);
        let ev = events(&h, false, Mode::Changes);
        let mut state = ev[0]["current"].clone();
        prop_assert_eq!(normal(&state), normal(&item::view(&h[0].doc)));
        for (k, e) in ev.iter().enumerate().skip(1) {
            prop_assert!(e.get("data").is_none());
            json_patch::merge(&mut state, &e["current"]);
            prop_assert_eq!(normal(&state), normal(&item::view(&h[k].doc)));
        }
    }
}
