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
