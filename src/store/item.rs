//! The DynamoDB layout, and the only place that converts between items and
//! customers. One table, one string key `pk`:
//!
//! - `customer#<customerId>`: the customer; its members under their JSON
//!   names, plus `version` (N) and `emailNorm` (S, when it holds an email).
//!   A POST also gives it `listPk` = `customer` and `listSk` =
//!   `<createdAt>#<customerId>`, the keys of the list index [`LIST_INDEX`]
//!   (keys only, SPEC §12); nothing else ever writes them, so a PATCH never
//!   writes the index.
//! - `email#<normalized email>`: the sentinel that reserves an email, with
//!   `owner` = the holder's `customerId`.
//! - `idem#<record id>`: an idempotency record (`store::idempotency`): the
//!   request's `fingerprint`, the response's `status`, `body`, `etag` and
//!   `location`, and `expiresAt` (epoch seconds, also the table's TTL
//!   attribute).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::customer::email;
use crate::customer::fields::{self, Kind};
use crate::customer::patch::prune;
use crate::store::idempotency::{Keyed, Record, Reply};

pub type Item = HashMap<String, AttributeValue>;

/// Attribute names that are ours rather than the customer's.
pub mod attr {
    pub const PK: &str = "pk";
    pub const KIND: &str = "kind";
    pub const VERSION: &str = "version";
    pub const EMAIL_NORM: &str = "emailNorm";
    pub const OWNER: &str = "owner";
    pub const FINGERPRINT: &str = "fingerprint";
    pub const STATUS: &str = "status";
    pub const BODY: &str = "body";
    pub const ETAG: &str = "etag";
    pub const LOCATION: &str = "location";
    /// Epoch seconds; the table's TTL attribute.
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const LIST_PK: &str = "listPk";
    pub const LIST_SK: &str = "listSk";
}

/// The global secondary index of the list, newest first by `listSk`.
pub const LIST_INDEX: &str = "byCreatedAt";
/// The one partition of the list index (SPEC §15: about 1,000 POSTs and
/// DELETEs a second before it throttles; a sharded key would lift that at the
/// price of one Query per shard per page).
pub const LIST_PARTITION: &str = "customer";

/// The list index's sort key: `createdAt` (fixed width, so it sorts as time)
/// then the id, which breaks ties and makes every key unique.
pub fn list_sk(created_at: &str, customer_id: &str) -> String {
    format!("{created_at}#{customer_id}")
}

pub const CUSTOMER_KIND: &str = "customer";
pub const EMAIL_KIND: &str = "email";
pub const IDEM_KIND: &str = "idem";

pub fn customer_key(customer_id: &str) -> String {
    format!("customer#{customer_id}")
}

pub fn email_key(norm: &str) -> String {
    format!("email#{norm}")
}

pub fn idem_key(record_id: &str) -> String {
    format!("idem#{record_id}")
}

pub fn key(pk: String) -> Item {
    HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))])
}

/// A customer as stored: the document in response names, minus nulls and
/// empty containers, and its concurrency version.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub doc: Map<String, Value>,
    pub version: u64,
    pub email_norm: Option<String>,
}

impl Stored {
    pub fn customer_id(&self) -> &str {
        self.doc
            .get("customerId")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

pub fn to_attr(v: &Value) -> AttributeValue {
    // A serde_json::Value always has a DynamoDB representation; the fallback
    // only exists so no request can turn a conversion into a panic.
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(v).unwrap_or(AttributeValue::Null(true))
}

fn from_attr(a: AttributeValue) -> Option<Value> {
    serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value::<Value>(a).ok()
}

#[derive(Debug, thiserror::Error)]
#[error("stored item is malformed: {0}")]
pub struct Malformed(pub &'static str);

pub fn stored_from_item(item: &Item) -> Result<Stored, Malformed> {
    stored_from(
        item.get(attr::VERSION),
        item.get(attr::EMAIL_NORM),
        |name| item.get(name).cloned(),
    )
}

/// As [`stored_from_item`], moving the values out of an item the caller
/// owns (an SDK answer): no copy of each attribute before it is converted,
/// which is most of a page of 100's own time.
pub fn stored_from_owned(mut item: Item) -> Result<Stored, Malformed> {
    let version = item.remove(attr::VERSION);
    let email_norm = item.remove(attr::EMAIL_NORM);
    stored_from(version.as_ref(), email_norm.as_ref(), |name| {
        item.remove(name)
    })
}

fn stored_from(
    version: Option<&AttributeValue>,
    email_norm: Option<&AttributeValue>,
    mut take: impl FnMut(&str) -> Option<AttributeValue>,
) -> Result<Stored, Malformed> {
    let version = match version {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| Malformed("version"))?,
        _ => return Err(Malformed("version")),
    };
    let email_norm = match email_norm {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let mut doc = Map::new();
    for f in fields::CUSTOMER {
        let Some(mut v) = take(f.name).and_then(from_attr) else {
            continue;
        };
        prune(&mut v);
        let empty = match &v {
            Value::Null => true,
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if !empty {
            doc.insert(f.name.to_owned(), v);
        }
    }
    if !doc.contains_key("customerId") {
        return Err(Malformed("customerId"));
    }
    Ok(Stored {
        doc,
        version,
        email_norm,
    })
}

/// The item a POST writes: the customer with its list index keys.
pub fn item_from_stored(s: &Stored) -> Item {
    let mut item: Item = s.doc.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect();
    item.insert(
        attr::PK.into(),
        AttributeValue::S(customer_key(s.customer_id())),
    );
    item.insert(attr::KIND.into(), AttributeValue::S(CUSTOMER_KIND.into()));
    item.insert(
        attr::VERSION.into(),
        AttributeValue::N(s.version.to_string()),
    );
    if let Some(n) = &s.email_norm {
        item.insert(attr::EMAIL_NORM.into(), AttributeValue::S(n.clone()));
    }
    if let Some(created) = s.doc.get("createdAt").and_then(Value::as_str) {
        item.insert(
            attr::LIST_PK.into(),
            AttributeValue::S(LIST_PARTITION.into()),
        );
        item.insert(
            attr::LIST_SK.into(),
            AttributeValue::S(list_sk(created, s.customer_id())),
        );
    }
    item
}

pub fn sentinel(norm: &str, owner: &str) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(email_key(norm))),
        (attr::KIND.to_owned(), AttributeValue::S(EMAIL_KIND.into())),
        (attr::OWNER.to_owned(), AttributeValue::S(owner.to_owned())),
    ])
}

pub fn record_item(k: &Keyed, reply: &Reply) -> Item {
    let mut item = HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(idem_key(&k.id))),
        (attr::KIND.to_owned(), AttributeValue::S(IDEM_KIND.into())),
        (
            attr::FINGERPRINT.to_owned(),
            AttributeValue::S(k.fingerprint.clone()),
        ),
        (
            attr::STATUS.to_owned(),
            AttributeValue::N(reply.status.to_string()),
        ),
        (
            attr::EXPIRES_AT.to_owned(),
            AttributeValue::N(k.expires_at.to_string()),
        ),
    ]);
    for (name, v) in [
        (attr::BODY, &reply.body),
        (attr::ETAG, &reply.etag),
        (attr::LOCATION, &reply.location),
    ] {
        if let Some(v) = v {
            item.insert(name.to_owned(), AttributeValue::S(v.clone()));
        }
    }
    item
}

pub fn record_from_item(item: &Item) -> Result<Record, Malformed> {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let number = |name: &'static str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().map_err(|_| Malformed(name)),
        _ => Err(Malformed(name)),
    };
    let status = u16::try_from(number(attr::STATUS)?).map_err(|_| Malformed(attr::STATUS))?;
    Ok(Record {
        fingerprint: text(attr::FINGERPRINT).ok_or(Malformed(attr::FINGERPRINT))?,
        reply: Reply {
            status,
            body: text(attr::BODY),
            etag: text(attr::ETAG),
            location: text(attr::LOCATION),
        },
        expires_at: number(attr::EXPIRES_AT)?,
    })
}

/// The normalized email a document holds, if any.
pub fn email_norm_of(doc: &Map<String, Value>) -> Option<String> {
    doc.get("email")
        .and_then(Value::as_str)
        .map(email::normalize)
}

/// The response shape: every member present, unset as `null` (`{}` for
/// maps, `[]` for tags), nested objects with all their members.
pub fn view(doc: &Map<String, Value>) -> Value {
    serde_json::to_value(View(doc)).unwrap_or(Value::Null)
}

/// `{"data": Customer}`, the body of every answer about one customer.
pub fn data_body(doc: &Map<String, Value>) -> String {
    #[derive(serde::Serialize)]
    struct Data<'a> {
        data: View<'a>,
    }
    // Cannot fail: every key is a string and the writer is a String.
    serde_json::to_string(&Data { data: View(doc) }).unwrap_or_default()
}

/// [`view`] as it is serialized, straight from the stored document: a
/// response body is written from it without building (and then dropping) a
/// second tree of the customer (a page of 100 is 100 of these). `view` is
/// this, collected.
#[derive(Debug, Clone, Copy)]
pub struct View<'a>(pub &'a Map<String, Value>);

impl serde::Serialize for View<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        view_fields(fields::CUSTOMER, self.0, ser)
    }
}

/// `{}`.
struct EmptyObject;

impl serde::Serialize for EmptyObject {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        serde::ser::SerializeMap::end(ser.serialize_map(Some(0))?)
    }
}

/// The members of `table`, in its order, from `doc`.
struct Members<'a>(&'static [fields::Field], &'a Map<String, Value>);

impl serde::Serialize for Members<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        view_fields(self.0, self.1, ser)
    }
}

fn view_fields<S: serde::Serializer>(
    table: &'static [fields::Field],
    doc: &Map<String, Value>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    const NO_TAGS: &[Value] = &[];
    let mut out = ser.serialize_map(Some(table.len()))?;
    for f in table {
        match (f.kind, doc.get(f.name)) {
            (Kind::Object(inner), Some(Value::Object(o))) => {
                out.serialize_entry(f.name, &Members(inner, o))?
            }
            (Kind::Metadata | Kind::Details, None) => out.serialize_entry(f.name, &EmptyObject)?,
            (Kind::Tags, None) => out.serialize_entry(f.name, NO_TAGS)?,
            (_, v) => out.serialize_entry(f.name, &v)?,
        }
    }
    out.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_the_document() {
        let Value::Object(doc) = json!({
            "id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
            "customerId": "c1",
            "name": "N",
            "address": {"city": "X", "country": "US"},
            "metadata": {"name": "reserved word", "a.b": "dots"},
            "tags": ["a", "b"],
            "marketingConsent": false,
            "notes": ""
        }) else {
            panic!()
        };
        let s = Stored {
            doc,
            version: 3,
            email_norm: None,
        };
        let item = item_from_stored(&s);
        assert_eq!(
            item.get("pk"),
            Some(&AttributeValue::S("customer#c1".into()))
        );
        assert_eq!(stored_from_item(&item).unwrap(), s);
        assert_eq!(stored_from_owned(item).unwrap(), s, "owned reads the same");
    }

    #[test]
    fn empty_maps_left_by_a_merge_read_as_unset() {
        let mut item = item_from_stored(&Stored {
            doc: Map::from_iter([("customerId".to_owned(), json!("c"))]),
            version: 1,
            email_norm: None,
        });
        item.insert("address".into(), AttributeValue::M(HashMap::new()));
        let s = stored_from_item(&item).unwrap();
        assert_eq!(stored_from_owned(item.clone()).unwrap(), s);
        assert!(!s.doc.contains_key("address"));
        assert_eq!(view(&s.doc)["address"], Value::Null);
    }

    #[test]
    fn records_round_trip() {
        let k = Keyed {
            id: "abc".into(),
            fingerprint: "fp".into(),
            now: 10,
            expires_at: 86_410,
        };
        let reply = Reply {
            status: 201,
            body: Some("{}".into()),
            etag: Some("\"1\"".into()),
            location: Some("/v1/customers/c".into()),
        };
        let item = record_item(&k, &reply);
        assert_eq!(item.get("pk"), Some(&AttributeValue::S("idem#abc".into())));
        let r = record_from_item(&item).unwrap();
        assert_eq!(r.reply, reply);
        assert_eq!((r.fingerprint.as_str(), r.expires_at), ("fp", 86_410));
        let none = record_item(&k, &Reply::no_content());
        assert_eq!(record_from_item(&none).unwrap().reply, Reply::no_content());
        assert!(record_from_item(&key("idem#x".into())).is_err());
    }

    #[test]
    fn view_fills_every_member() {
        let Value::Object(doc) = json!({"customerId": "c", "shipping": {"name": "S"}}) else {
            panic!()
        };
        let v = view(&doc);
        assert_eq!(v["metadata"], json!({}));
        assert_eq!(v["tags"], json!([]));
        assert_eq!(v["details"], json!({}));
        assert_eq!(v["email"], Value::Null);
        assert_eq!(
            v["shipping"],
            json!({"name": "S", "phone": null, "address": null})
        );
        assert_eq!(v.as_object().unwrap().len(), fields::CUSTOMER.len());
    }

    #[test]
    fn the_serialized_view_is_the_view() {
        let Value::Object(doc) = json!({
            "customerId": "c", "name": "N", "tags": ["t"], "metadata": {"k": "v"},
            "address": {"city": "X", "country": "US"}, "marketingConsent": false,
            "unknownMember": 1
        }) else {
            panic!()
        };
        let body = data_body(&doc);
        assert_eq!(body, json!({ "data": view(&doc) }).to_string());
        let back: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(back["data"]["address"]["line2"], Value::Null);
        assert_eq!(back["data"]["tags"], json!(["t"]));
        assert_eq!(back["data"]["metadata"], json!({"k": "v"}));
        assert_eq!(back["data"].get("unknownMember"), None);
        assert!(
            body.starts_with(r#"{"data":{"id":null,"customerId":"c","#),
            "{body}"
        );
    }
}
