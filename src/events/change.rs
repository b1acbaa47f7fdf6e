//! One stream record, read back through the item layout the API writes
//! (`store::item`): which customer, which kind of change, the states before
//! and after. Records of other items (email sentinels, idempotency records)
//! and writes that did not move the version are no change at all.

use aws_lambda_events::dynamodb::EventRecord;
use serde_json::Value;

use crate::store::item::{self, Item, Stored, attr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Created,
    Updated,
    Deleted,
}

impl Kind {
    /// The EventBridge `DetailType`.
    pub fn detail_type(self) -> &'static str {
        match self {
            Kind::Created => "customer.created",
            Kind::Updated => "customer.updated",
            Kind::Deleted => "customer.deleted",
        }
    }
}

/// A committed change of one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub customer_id: String,
    /// The version the change produced; a deletion is the deleted version + 1.
    pub version: u64,
    /// RFC 3339 UTC with microseconds: `createdAt` of a creation,
    /// `updatedAt` of an update, the stream record's time for a deletion
    /// (which leaves no item to say when).
    pub occurred_at: String,
    pub before: Option<Stored>,
    pub after: Option<Stored>,
}

impl Change {
    /// `<customerId>:<version>`: the same change always has the same id, so a
    /// consumer drops a redelivery.
    pub fn event_id(&self) -> String {
        format!("{}:{}", self.customer_id, self.version)
    }
}

/// A record that should be a customer's change and cannot be read as one:
/// retrying does not help, so it ends in the on-failure destination after
/// the event source mapping's retries, rather than being dropped here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadRecord {
    #[error("the record has no {0} image (the stream must be NEW_AND_OLD_IMAGES)")]
    MissingImage(&'static str),
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the images belong to different customers")]
    Mismatch,
}

impl From<item::Malformed> for BadRecord {
    fn from(m: item::Malformed) -> Self {
        BadRecord::Malformed(m.0)
    }
}

/// The change a record holds, if it holds one.
pub fn change_of(rec: &EventRecord) -> Result<Option<Change>, BadRecord> {
    let r = &rec.change;
    if !is_customer(r) {
        return Ok(None);
    }
    let image = |i: &serde_dynamo::Item| -> Result<Option<Stored>, BadRecord> {
        if i.is_empty() {
            return Ok(None);
        }
        let item: Item = i.clone().into();
        Ok(Some(item::stored_from_item(&item)?))
    };
    let (before, after) = (image(&r.old_image)?, image(&r.new_image)?);
    let (kind, customer_id, version, occurred_at) = match (&before, &after) {
        (None, Some(a)) => (Kind::Created, a, a.version, timestamp(a, "createdAt")),
        (Some(b), Some(a)) => {
            if b.customer_id() != a.customer_id() {
                return Err(BadRecord::Mismatch);
            }
            // A write that touched only attributes of ours (none does
            // today) is not a change of the customer.
            if a.version <= b.version {
                return Ok(None);
            }
            (Kind::Updated, a, a.version, timestamp(a, "updatedAt"))
        }
        (Some(b), None) => {
            let at = r
                .approximate_creation_date_time
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            (Kind::Deleted, b, b.version + 1, Some(at))
        }
        (None, None) => {
            let which = match rec.event_name.as_str() {
                "REMOVE" => "old",
                _ => "new",
            };
            return Err(BadRecord::MissingImage(which));
        }
    };
    let occurred_at = occurred_at.ok_or(BadRecord::Malformed("timestamp"))?;
    Ok(Some(Change {
        kind,
        customer_id: customer_id.customer_id().to_owned(),
        version,
        occurred_at,
        before,
        after,
    }))
}

fn timestamp(s: &Stored, name: &str) -> Option<String> {
    s.doc.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A customer's record: an image says `kind` = `customer`, or, with no
/// image at all, the key is a customer's (so that a stream without images
/// fails loudly instead of dropping every change).
fn is_customer(r: &aws_lambda_events::dynamodb::StreamRecord) -> bool {
    let kind = |i: &serde_dynamo::Item| match i.get(attr::KIND) {
        Some(serde_dynamo::AttributeValue::S(k)) => k == item::CUSTOMER_KIND,
        _ => false,
    };
    if kind(&r.new_image) || kind(&r.old_image) {
        return true;
    }
    let keyed = matches!(
        r.keys.get(attr::PK),
        Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(&item::customer_key(""))
    );
    keyed && r.new_image.is_empty() && r.old_image.is_empty()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A record as Lambda delivers it, from items in the API's layout.
    pub fn record(name: &str, old: Option<&Item>, new: Option<&Item>, seq: &str) -> EventRecord {
        let image = |i: Option<&Item>| match i {
            Some(i) => serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap(),
            None => Value::Null,
        };
        let keys = old.or(new).map(|i| {
            let pk = i.get(attr::PK).cloned().unwrap();
            item::Item::from([(attr::PK.to_owned(), pk)])
        });
        serde_json::from_value(json!({
            "eventID": format!("e-{seq}"),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_442_400.0,
                "Keys": image(keys.as_ref()),
                "NewImage": image(new),
                "OldImage": image(old),
                "SequenceNumber": seq,
                "SizeBytes": 100,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        }))
        .unwrap()
    }

    pub fn customer(id: &str, version: u64, extra: Value) -> Item {
        let mut doc = serde_json::Map::from_iter([
            ("customerId".to_owned(), json!(id)),
            ("createdAt".to_owned(), json!("2026-11-23T14:00:00.000001Z")),
            (
                "updatedAt".to_owned(),
                json!(format!("2026-11-23T14:00:00.00000{version}Z")),
            ),
        ]);
        if let Value::Object(m) = extra {
            doc.extend(m);
        }
        item::item_from_stored(&Stored {
            email_norm: item::email_norm_of(&doc),
            doc,
            version,
        })
    }

    #[test]
    fn insert_modify_remove() {
        let v1 = customer("c", 1, json!({"name": "A"}));
        let v2 = customer("c", 2, json!({"name": "B"}));
        let created = change_of(&record("INSERT", None, Some(&v1), "1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                created.kind,
                created.event_id(),
                created.occurred_at.as_str()
            ),
            (Kind::Created, "c:1".into(), "2026-11-23T14:00:00.000001Z")
        );
        let updated = change_of(&record("MODIFY", Some(&v1), Some(&v2), "2"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                updated.kind,
                updated.event_id(),
                updated.occurred_at.as_str()
            ),
            (Kind::Updated, "c:2".into(), "2026-11-23T14:00:00.000002Z")
        );
        let deleted = change_of(&record("REMOVE", Some(&v2), None, "3"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                deleted.kind,
                deleted.event_id(),
                deleted.occurred_at.as_str()
            ),
            (Kind::Deleted, "c:3".into(), "2026-11-23T14:00:00.000000Z")
        );
        assert_eq!(deleted.before.unwrap().doc["name"], json!("B"));
    }

    #[test]
    fn sentinels_records_and_unmoved_versions_are_no_change() {
        let sentinel = item::sentinel("a@example.com", "c");
        assert_eq!(
            change_of(&record("INSERT", None, Some(&sentinel), "1")),
            Ok(None)
        );
        assert_eq!(
            change_of(&record("REMOVE", Some(&sentinel), None, "2")),
            Ok(None)
        );
        let mut idem = item::key(item::idem_key("x"));
        idem.insert(
            attr::KIND.into(),
            aws_sdk_dynamodb::types::AttributeValue::S(item::IDEM_KIND.into()),
        );
        assert_eq!(
            change_of(&record("INSERT", None, Some(&idem), "3")),
            Ok(None)
        );
        let v1 = customer("c", 1, json!({}));
        let mut touched = v1.clone();
        touched.insert(
            "other".into(),
            aws_sdk_dynamodb::types::AttributeValue::S("x".into()),
        );
        assert_eq!(
            change_of(&record("MODIFY", Some(&v1), Some(&touched), "4")),
            Ok(None)
        );
    }

    #[test]
    fn unreadable_customer_records_are_errors_not_silence() {
        let mut broken = customer("c", 1, json!({}));
        broken.remove(attr::VERSION);
        assert_eq!(
            change_of(&record("INSERT", None, Some(&broken), "1")),
            Err(BadRecord::Malformed("version"))
        );
        let mut keys_only = record("INSERT", None, Some(&customer("c", 1, json!({}))), "2");
        keys_only.change.new_image = serde_dynamo::Item::from(Item::new());
        assert_eq!(change_of(&keys_only), Err(BadRecord::MissingImage("new")));
        let other = customer("d", 2, json!({}));
        assert_eq!(
            change_of(&record(
                "MODIFY",
                Some(&customer("c", 1, json!({}))),
                Some(&other),
                "3"
            )),
            Err(BadRecord::Mismatch)
        );
    }
}
