//! The baseline: the DynamoDB calls the service issues, written by hand with
//! the SDK.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Get, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem, Update,
};

use crate::Res;
use crate::events::{Kind, city_of, email_of, name_of};

/// The same DynamoDB operations the service issues, written by hand: what a
/// function with no validation, no routing and no decoding would still pay.
pub(crate) struct Raw {
    pub(crate) ddb: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

impl Raw {
    pub(crate) async fn run(&self, kind: Kind, id: &str, i: usize) -> Res<()> {
        match kind {
            Kind::Get => self.get(id).await,
            Kind::PatchName => {
                self.update(
                    id,
                    "SET #n = :v, #u = :now, #ver = #ver + :one",
                    "attribute_exists(#pk) AND (#n <> :v)",
                    &[("#n", "name")],
                    s(name_of(i)),
                )
                .await
            }
            Kind::PatchAddress => {
                self.update(
                    id,
                    "SET #a.#c = :v, #u = :now, #ver = #ver + :one",
                    "attribute_exists(#pk) AND attribute_type(#a, :m) AND (#a.#c <> :v)",
                    &[("#a", "address"), ("#c", "city")],
                    s(city_of(i)),
                )
                .await
            }
            Kind::PatchEmail => self.change_email(id, i).await,
            Kind::PatchKeyed => self.keyed_patch(id, i, &format!("idem#raw-{i}")).await,
            // The first one writes the record, as the handler's first does.
            Kind::Replay if i == 0 => self.keyed_patch(id, i, "idem#raw-replay").await,
            Kind::Replay => self
                .read_with_record(id, "idem#raw-replay")
                .await
                .map(|_| ()),
            Kind::Lookup => self.lookup(&email_of(id, 1)).await,
            Kind::Page20 => self.page(20).await,
            Kind::Page100 => self.page(100).await,
        }
    }

    /// `?email=`: the sentinel, then its owner, both consistent.
    async fn lookup(&self, email: &str) -> Res<()> {
        let sentinel = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("email#{email}")))
            .consistent_read(true)
            .send()
            .await?
            .item
            .ok_or("raw lookup: no sentinel")?;
        let owner = match sentinel.get("owner") {
            Some(AttributeValue::S(o)) => o.clone(),
            _ => return Err("raw lookup: no owner".into()),
        };
        self.get(&owner).await
    }

    /// A list page: `n + 1` keys of the index (the extra one says whether a
    /// next page exists), then the first `n` customers, consistent.
    async fn page(&self, n: usize) -> Res<()> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("byCreatedAt")
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", "listPk")
            .expression_attribute_values(":p", s("customer"))
            .scan_index_forward(false)
            .limit(i32::try_from(n + 1)?)
            .send()
            .await?;
        let mut keys = KeysAndAttributes::builder().consistent_read(true);
        let items = out.items.unwrap_or_default();
        if items.len() < n {
            return Err(format!("raw page: {} keys, {n} wanted", items.len()).into());
        }
        for it in items.iter().take(n) {
            let pk = it.get("pk").cloned().ok_or("raw page: key without pk")?;
            keys = keys.keys(HashMap::from([("pk".to_owned(), pk)]));
        }
        let got = self
            .ddb
            .batch_get_item()
            .request_items(&self.table, keys.build()?)
            .send()
            .await?;
        let found = got
            .responses
            .unwrap_or_default()
            .remove(&self.table)
            .unwrap_or_default();
        if found.len() != n {
            return Err(format!("raw page: {} customers, {n} wanted", found.len()).into());
        }
        Ok(())
    }

    /// The record and the customer in one `TransactGetItems` (one
    /// serializable snapshot, as the service reads them); the customer's
    /// version.
    async fn read_with_record(&self, id: &str, record: &str) -> Res<u64> {
        let get = |pk: String| -> Res<TransactGetItem> {
            let g = Get::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .build()?;
            Ok(TransactGetItem::builder().get(g).build())
        };
        let out = self
            .ddb
            .transact_get_items()
            .transact_items(get(format!("customer#{id}"))?)
            .transact_items(get(record.to_owned())?)
            .send()
            .await?;
        let customer = out
            .responses()
            .first()
            .and_then(|r| r.item())
            .ok_or("raw TransactGetItems: no customer")?;
        match customer.get("version") {
            Some(AttributeValue::N(n)) => Ok(n.parse()?),
            _ => Err("raw TransactGetItems: no version".into()),
        }
    }

    /// A keyed PATCH: the read, then one transaction that puts a record of
    /// the response's size and updates the customer at the version read.
    async fn keyed_patch(&self, id: &str, i: usize, record: &str) -> Res<()> {
        let version = self.read_with_record(id, record).await?;
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(record))
            .item("kind", s("idem"))
            .item("fingerprint", s("0".repeat(64)))
            .item("status", AttributeValue::N("200".into()))
            .item("body", s("x".repeat(900)))
            .item("etag", s(format!("\"{}\"", version + 1)))
            .item("expiresAt", AttributeValue::N("4102444800".into()))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":now", AttributeValue::N("1795442400".into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let up = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("customer#{id}")))
            .update_expression("SET #n = :v, #u = :now, #ver = :next")
            .condition_expression("#ver = :cur")
            .expression_attribute_names("#n", "name")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":v", s(name_of(i)))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
            .expression_attribute_values(":cur", AttributeValue::N(version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        self.ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(up).build())
            .send()
            .await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Res<()> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("customer#{id}")))
            .consistent_read(true)
            .send()
            .await?;
        out.item.ok_or("raw GetItem: no item")?;
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        value: AttributeValue,
    ) -> Res<()> {
        let mut req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("customer#{id}")))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":v", value)
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        if condition.contains(":m") {
            req = req.expression_attribute_values(":m", s("M"));
        }
        req.send().await?;
        Ok(())
    }

    /// What the service does for an email change: the single-call form is
    /// refused (the stored email differs) and hands back the item, then one
    /// transaction moves the sentinel and updates the customer.
    async fn change_email(&self, id: &str, i: usize) -> Res<()> {
        let email = email_of(id, i);
        let pk = format!("customer#{id}");
        let refused = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk.clone()))
            .update_expression("SET #e = :e, #u = :now, #ver = #ver + :one")
            .condition_expression("attribute_exists(#pk) AND #en = :norm AND (#e <> :e)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#e", "email")
            .expression_attribute_names("#en", "emailNorm")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":e", s(email.clone()))
            .expression_attribute_values(":norm", s(email.clone()))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match refused {
            Ok(_) => return Err("raw email change: the condition unexpectedly held".into()),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    c.item.ok_or("raw email change: item gone")?
                }
                other => return Err(other.into()),
            },
        };
        let version: u64 = match old.get("version") {
            Some(AttributeValue::N(n)) => n.parse()?,
            _ => return Err("raw email change: no version".into()),
        };
        let old_norm = match old.get("emailNorm") {
            Some(AttributeValue::S(n)) => n.clone(),
            _ => return Err("raw email change: no emailNorm".into()),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("email#{email}")))
            .item("kind", s("email"))
            .item("owner", s(id))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let del = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("email#{old_norm}")))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let up = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET #e = :e, #en = :norm, #u = :now, #ver = :next")
            .condition_expression("#ver = :v")
            .expression_attribute_names("#e", "email")
            .expression_attribute_names("#en", "emailNorm")
            .expression_attribute_names("#u", "updatedAt")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":e", s(email.clone()))
            .expression_attribute_values(":norm", s(email))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        self.ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(del).build())
            .transact_items(TransactWriteItem::builder().update(up).build())
            .send()
            .await?;
        Ok(())
    }
}
