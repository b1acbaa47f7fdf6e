//! DynamoDB calls. Every call is counted per request (SPEC §8) and every SDK
//! error keeps its type until it is classified here, so a failed condition is
//! never confused with an outage.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::store::expr::Expression;
use crate::store::idempotency::{Keyed, Record, Reply};
use crate::store::item::{self, Item, Stored, attr};

/// DynamoDB operations made while serving one request.
#[derive(Debug, Default)]
pub struct Calls(AtomicU32);

impl Calls {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, unreachable: the client may retry (503).
    #[error("DynamoDB unavailable ({0})")]
    Unavailable(String),
    /// Another write or transaction holds the item (retried, then 409).
    #[error("DynamoDB transaction conflict")]
    Conflict,
    /// A bug or a corrupt item (500).
    #[error("DynamoDB error ({0})")]
    Internal(String),
}

const THROTTLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
];

pub(crate) fn classify<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StoreError {
    match e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            if code == "TransactionConflictException" {
                StoreError::Conflict
            } else if THROTTLE_CODES.contains(&code) {
                StoreError::Unavailable(code.to_owned())
            } else {
                // Only the code: DynamoDB messages can quote attribute values.
                StoreError::Internal(code.to_owned())
            }
        }
        SdkError::TimeoutError(_) => StoreError::Unavailable("timeout".into()),
        SdkError::DispatchFailure(_) => StoreError::Unavailable("dispatch failure".into()),
        SdkError::ResponseError(_) => StoreError::Unavailable("response error".into()),
        _ => StoreError::Internal("construction failure".into()),
    }
}

pub(crate) fn decode(item: &Item) -> Result<Stored, StoreError> {
    item::stored_from_item(item).map_err(|e| StoreError::Internal(e.to_string()))
}

/// [`decode`] of an item the caller owns, moving its values.
pub(crate) fn decode_owned(item: Item) -> Result<Stored, StoreError> {
    item::stored_from_owned(item).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Result of a conditional single-item write.
#[derive(Debug)]
pub enum Write {
    Done(Stored),
    /// The condition failed and the item does not exist.
    Gone,
    /// The condition failed; this is the item as it is now.
    Refused(Stored),
    /// A transaction on the item was in progress; retry.
    Conflict,
}

/// Result of a conditional delete.
#[derive(Debug)]
pub enum Removal {
    Deleted,
    Gone,
    Refused(Stored),
    Conflict,
}

/// The role of each item in a transaction, to read its cancellation reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    NewCustomer,
    Customer,
    NewSentinel,
    OldSentinel,
    /// The idempotency record of a keyed write.
    Record,
}

#[derive(Debug)]
pub enum TxOutcome {
    Done,
    /// The keyed write's record already exists and is live: this is it.
    Replay(Record),
    CustomerExists,
    Gone,
    Changed(Stored),
    EmailTaken,
    /// The old sentinel was not owned by the customer that holds its email:
    /// the invariant was already broken before this request.
    SentinelBroken,
    Conflict,
    Throttled,
}

/// Reads cancellation reasons in `TransactItems` order. A live idempotency
/// record wins over everything: the request it names already happened, so
/// nothing else about the item matters. Then the customer's own condition:
/// if it moved, every other verdict is stale.
pub fn tx_outcome(reasons: &[CancellationReason], roles: &[Role]) -> Result<TxOutcome, StoreError> {
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    let failed = |role: Role| {
        roles
            .iter()
            .position(|r| *r == role)
            .filter(|i| code(*i) == "ConditionalCheckFailed")
    };
    if let Some(i) = failed(Role::Record) {
        let item = reasons.get(i).and_then(|r| r.item());
        return match item {
            Some(item) => item::record_from_item(item)
                .map(TxOutcome::Replay)
                .map_err(|e| StoreError::Internal(e.to_string())),
            None => Err(StoreError::Internal(
                "idempotency record condition failed without the record".into(),
            )),
        };
    }
    if let Some(i) = failed(Role::Customer) {
        return match reasons.get(i).and_then(|r| r.item()) {
            None => Ok(TxOutcome::Gone),
            Some(item) => Ok(TxOutcome::Changed(decode(item)?)),
        };
    }
    if failed(Role::NewCustomer).is_some() {
        return Ok(TxOutcome::CustomerExists);
    }
    if failed(Role::NewSentinel).is_some() {
        return Ok(TxOutcome::EmailTaken);
    }
    if failed(Role::OldSentinel).is_some() {
        return Ok(TxOutcome::SentinelBroken);
    }
    let codes: Vec<&str> = (0..roles.len()).map(code).collect();
    if codes.contains(&"TransactionConflict") {
        return Ok(TxOutcome::Conflict);
    }
    if codes.iter().any(|c| THROTTLE_CODES.contains(c)) {
        return Ok(TxOutcome::Throttled);
    }
    Err(StoreError::Internal(format!(
        "transaction cancelled: {codes:?}"
    )))
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

fn values(e: &Expression) -> Option<std::collections::HashMap<String, AttributeValue>> {
    (!e.values.is_empty()).then(|| e.values.clone())
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Store {
            client: crate::store::attempts::counting(&client),
            table,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(
        &self,
        calls: &Calls,
        customer_id: &str,
    ) -> Result<Option<Stored>, StoreError> {
        calls.add();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        out.item.map(decode_owned).transpose()
    }

    /// A conditional `UpdateItem` returning the new item, or the current one
    /// when the condition fails.
    pub async fn update(
        &self,
        calls: &Calls,
        customer_id: &str,
        e: Expression,
    ) -> Result<Write, StoreError> {
        calls.add();
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .update_expression(&e.update)
            .condition_expression(&e.condition)
            .set_expression_attribute_values(values(&e))
            .set_expression_attribute_names(Some(e.names))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Write::Done(decode_owned(item)?)),
                None => Err(StoreError::Internal(
                    "UpdateItem returned no attributes".into(),
                )),
            },
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => match &c.item {
                    Some(item) => Ok(Write::Refused(decode(item)?)),
                    None => Ok(Write::Gone),
                },
                _ => match classify(&err) {
                    StoreError::Conflict => Ok(Write::Conflict),
                    other => Err(other),
                },
            },
        }
    }

    /// Creates a customer without an email: one conditional `PutItem`.
    pub async fn put_new(&self, calls: &Calls, s: &Stored) -> Result<TxOutcome, StoreError> {
        calls.add();
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::item_from_stored(s)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match res {
            Ok(_) => Ok(TxOutcome::Done),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Ok(TxOutcome::CustomerExists)
                }
                _ => Err(classify(&err)),
            },
        }
    }

    /// A conditional `DeleteItem`; on a failed condition, the current item.
    pub async fn delete(
        &self,
        calls: &Calls,
        customer_id: &str,
        e: Expression,
    ) -> Result<Removal, StoreError> {
        calls.add();
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .condition_expression(&e.condition)
            .set_expression_attribute_values(values(&e))
            .set_expression_attribute_names(Some(e.names))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Removal::Deleted),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(c)) => match &c.item {
                    Some(item) => Ok(Removal::Refused(decode(item)?)),
                    None => Ok(Removal::Gone),
                },
                _ => match classify(&err) {
                    StoreError::Conflict => Ok(Removal::Conflict),
                    other => Err(other),
                },
            },
        }
    }

    pub async fn transact(
        &self,
        calls: &Calls,
        items: Vec<TransactWriteItem>,
        roles: &[Role],
    ) -> Result<TxOutcome, StoreError> {
        calls.add();
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(TxOutcome::Done),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    tx_outcome(t.cancellation_reasons(), roles)
                }
                _ => match classify(&err) {
                    StoreError::Conflict => Ok(TxOutcome::Conflict),
                    other => Err(other),
                },
            },
        }
    }

    fn tx_put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#pk", attr::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        self.tx_put(item, "attribute_not_exists(#pk)")
    }

    /// The record of a keyed write, put only if no live record holds its id;
    /// a failed condition hands the live record back.
    pub fn put_record(&self, k: &Keyed, reply: &Reply) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::record_item(k, reply)))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(k.now.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The customer and the record of `record_id` as one serializable
    /// snapshot (`TransactGetItems`, one call plus one per retry after a
    /// conflict). Not `BatchGetItem`: it reads the two items separately, so
    /// a concurrent keyed request could see the record still absent and the
    /// customer already changed by it, and answer a no-op instead of the
    /// replay (seen once in 32 concurrent identical PATCHes).
    pub async fn get_with_record(
        &self,
        calls: &Calls,
        customer_id: &str,
        record_id: &str,
    ) -> Result<(Option<Record>, Option<Stored>), StoreError> {
        let customer_pk = item::customer_key(customer_id);
        let pks = [customer_pk.clone(), item::idem_key(record_id)];
        let (mut record, mut customer) = (None, None);
        for found in self.snapshot(calls, &pks).await? {
            match found.get(attr::PK) {
                Some(AttributeValue::S(pk)) if *pk == customer_pk => {
                    customer = Some(decode(&found)?);
                }
                _ => {
                    record = Some(
                        item::record_from_item(&found)
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    );
                }
            }
        }
        Ok((record, customer))
    }

    /// Deletes the sentinel of `norm` if `owner` holds it.
    pub fn delete_sentinel(
        &self,
        norm: &str,
        owner: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(item::email_key(norm))))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    pub fn update_customer(
        &self,
        customer_id: &str,
        e: Expression,
    ) -> Result<TransactWriteItem, StoreError> {
        let up = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .update_expression(&e.update)
            .condition_expression(&e.condition)
            .set_expression_attribute_values(values(&e))
            .set_expression_attribute_names(Some(e.names))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(up).build())
    }

    pub fn delete_customer(
        &self,
        customer_id: &str,
        e: Expression,
    ) -> Result<TransactWriteItem, StoreError> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .condition_expression(&e.condition)
            .set_expression_attribute_values(values(&e))
            .set_expression_attribute_names(Some(e.names))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    /// A transaction item that writes nothing and requires `e.condition` of
    /// the customer (`customers-admin check --fix`: "still at the version
    /// the check read", "still absent").
    pub fn check_customer(
        &self,
        customer_id: &str,
        e: Expression,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(item::customer_key(customer_id))))
            .condition_expression(&e.condition)
            .set_expression_attribute_values(values(&e))
            .set_expression_attribute_names(Some(e.names))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Opens the connection during init so the first request does not pay
    /// for TLS and DNS; also tells early if the table is missing (or the
    /// role cannot read it). A `GetItem` of a key no item has, rather than
    /// `DescribeTable`: a data-plane call like every later one (no
    /// control-plane rate limit when a burst of environments start, one IAM
    /// action fewer), half a read unit per cold start, and faster (`make
    /// bench --compare`: cold start 12.90 → 11.25 ms over TLS, init CPU
    /// −0.3 ms).
    pub async fn warm(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(WARM_KEY.into())))
            .projection_expression(attr::PK)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}

/// The key [`Store::warm`] reads: no item is ever written under it (customer
/// keys start `customer#`, sentinels `email#`, records `idem#`).
const WARM_KEY: &str = "warm#init";

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn customer_condition_wins_over_the_others() {
        let roles = [Role::NewSentinel, Role::OldSentinel, Role::Customer];
        let r = [
            reason("ConditionalCheckFailed"),
            reason("None"),
            reason("ConditionalCheckFailed"),
        ];
        assert!(matches!(tx_outcome(&r, &roles), Ok(TxOutcome::Gone)));
        let r = [
            reason("ConditionalCheckFailed"),
            reason("None"),
            reason("None"),
        ];
        assert!(matches!(tx_outcome(&r, &roles), Ok(TxOutcome::EmailTaken)));
        let r = [
            reason("None"),
            reason("ConditionalCheckFailed"),
            reason("None"),
        ];
        assert!(matches!(
            tx_outcome(&r, &roles),
            Ok(TxOutcome::SentinelBroken)
        ));
        let r = [
            reason("None"),
            reason("TransactionConflict"),
            reason("None"),
        ];
        assert!(matches!(tx_outcome(&r, &roles), Ok(TxOutcome::Conflict)));
        let r = [reason("ThrottlingError"), reason("None"), reason("None")];
        assert!(matches!(tx_outcome(&r, &roles), Ok(TxOutcome::Throttled)));
        let r = [reason("ValidationError"), reason("None"), reason("None")];
        assert!(tx_outcome(&r, &roles).is_err());
    }
}
