//! An SDK interceptor that counts a client's operations and HTTP attempts:
//! how the bench knows the DynamoDB and SSM calls behind each request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
struct Count {
    /// Operations (one per `send()`).
    ops: AtomicU64,
    /// HTTP attempts (retries included).
    attempts: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Counter(Arc<Count>);

impl Counter {
    pub(crate) fn ops(&self) -> u64 {
        self.0.ops.load(Ordering::Relaxed)
    }
    pub(crate) fn attempts(&self) -> u64 {
        self.0.attempts.load(Ordering::Relaxed)
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "bench-call-counter"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.ops.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

// --- consumed capacity (issue 18) -------------------------------------------

/// DynamoDB operations that take `ReturnConsumedCapacity`.
const WITH_CAPACITY: [&str; 10] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
];

#[derive(Debug, Default)]
struct Units {
    /// Thousandths of a request unit (DynamoDB's figures are multiples of 0.5).
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    /// Conditional writes refused: billed on AWS (1 WCU per KB of the item),
    /// but their error carries no `ConsumedCapacity`.
    refused_writes: AtomicU64,
}

/// Sets `ReturnConsumedCapacity: TOTAL` on every DynamoDB call of a client
/// (in the JSON body, before signing) and adds up the capacity the answers
/// report, read and write apart. The same interceptor is on the client the
/// handler and the raw calls share, so both sides pay the same few bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capacity(Arc<Units>);

/// Request units consumed between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Used {
    pub(crate) read: f64,
    pub(crate) write: f64,
    pub(crate) refused_writes: u64,
}

impl std::ops::Sub for Used {
    type Output = Used;
    fn sub(self, o: Used) -> Used {
        Used {
            read: self.read - o.read,
            write: self.write - o.write,
            refused_writes: self.refused_writes - o.refused_writes,
        }
    }
}

impl std::ops::AddAssign for Used {
    fn add_assign(&mut self, o: Used) {
        self.read += o.read;
        self.write += o.write;
        self.refused_writes += o.refused_writes;
    }
}

impl Capacity {
    pub(crate) fn used(&self) -> Used {
        Used {
            read: self.0.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write: self.0.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            refused_writes: self.0.refused_writes.load(Ordering::Relaxed),
        }
    }

    fn add(&self, read: bool, units: Option<f64>) {
        let milli = (units.unwrap_or(0.0) * 1000.0).round() as u64;
        let slot = if read {
            &self.0.read_milli
        } else {
            &self.0.write_milli
        };
        slot.fetch_add(milli, Ordering::Relaxed);
    }
}

impl Intercept for Capacity {
    fn name(&self) -> &'static str {
        "bench-consumed-capacity"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        let op = req
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("");
        if !WITH_CAPACITY.contains(&op) {
            return Ok(());
        }
        let Some(bytes) = req.body().bytes() else {
            return Ok(());
        };
        let mut v: serde_json::Value = serde_json::from_slice(bytes)?;
        v["ReturnConsumedCapacity"] = serde_json::json!("TOTAL");
        let body = serde_json::to_vec(&v)?;
        req.headers_mut()
            .insert("content-length", body.len().to_string());
        *req.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as op;
        let sum = |cs: &[aws_sdk_dynamodb::types::ConsumedCapacity]| {
            Some(cs.iter().filter_map(|c| c.capacity_units).sum::<f64>())
        };
        match context.output_or_error() {
            Ok(out) => {
                if let Some(o) = out.downcast_ref::<op::get_item::GetItemOutput>() {
                    self.add(
                        true,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) = out.downcast_ref::<op::query::QueryOutput>() {
                    self.add(
                        true,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) = out.downcast_ref::<op::scan::ScanOutput>() {
                    self.add(
                        true,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) = out.downcast_ref::<op::batch_get_item::BatchGetItemOutput>()
                {
                    self.add(true, sum(o.consumed_capacity()));
                } else if let Some(o) =
                    out.downcast_ref::<op::transact_get_items::TransactGetItemsOutput>()
                {
                    self.add(true, sum(o.consumed_capacity()));
                } else if let Some(o) = out.downcast_ref::<op::put_item::PutItemOutput>() {
                    self.add(
                        false,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) = out.downcast_ref::<op::update_item::UpdateItemOutput>() {
                    self.add(
                        false,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) = out.downcast_ref::<op::delete_item::DeleteItemOutput>() {
                    self.add(
                        false,
                        o.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                    );
                } else if let Some(o) =
                    out.downcast_ref::<op::batch_write_item::BatchWriteItemOutput>()
                {
                    self.add(false, sum(o.consumed_capacity()));
                } else if let Some(o) =
                    out.downcast_ref::<op::transact_write_items::TransactWriteItemsOutput>()
                {
                    self.add(false, sum(o.consumed_capacity()));
                }
            }
            Err(e) => {
                let refused = e.as_operation_error().is_some_and(|e| {
                    e.downcast_ref::<op::update_item::UpdateItemError>()
                        .is_some_and(|e| e.is_conditional_check_failed_exception())
                        || e.downcast_ref::<op::put_item::PutItemError>()
                            .is_some_and(|e| e.is_conditional_check_failed_exception())
                        || e.downcast_ref::<op::delete_item::DeleteItemError>()
                            .is_some_and(|e| e.is_conditional_check_failed_exception())
                });
                if refused {
                    self.0.refused_writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}
