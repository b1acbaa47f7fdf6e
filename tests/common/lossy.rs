//! Lost responses: an SDK interceptor that lets a DynamoDB call reach
//! DynamoDB Local and commit there, then replaces the answer with a timeout,
//! as when the response is lost on its way back. It acts after the SDK's
//! retries (`modify_before_completion`), so the function sees exactly one
//! committed write whose outcome it cannot know.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
struct State {
    /// The operation whose next answers are lost, and how many.
    armed: Mutex<Option<(&'static str, u32)>>,
    /// Answers lost after DynamoDB had accepted the call.
    lost_after_commit: AtomicU32,
}

#[derive(Debug, Clone, Default)]
pub struct Lossy(Arc<State>);

impl Lossy {
    /// Loses the answers of the next `n` calls of `operation` that succeed.
    pub fn arm(&self, operation: &'static str, n: u32) {
        *self.0.armed.lock().unwrap() = Some((operation, n));
    }

    pub fn lost_after_commit(&self) -> u32 {
        self.0.lost_after_commit.load(Ordering::SeqCst)
    }

    /// A DynamoDB client for `sdk` whose answers this loses when armed.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}

impl Intercept for Lossy {
    fn name(&self) -> &'static str {
        "tests-lossy"
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_owned());
        let mut armed = self.0.armed.lock().unwrap();
        let Some((want, left)) = armed.as_mut() else {
            return Ok(());
        };
        if op.as_deref() != Some(*want) {
            return Ok(());
        }
        // Only answers of calls DynamoDB accepted: a refused condition is
        // not a commit whose outcome the function could miss.
        let Some(result) = context.output_or_error_mut().filter(|r| r.is_ok()) else {
            return Ok(());
        };
        *result = Err(OrchestratorError::timeout(
            "response lost (tests/common/lossy.rs)".into(),
        ));
        self.0.lost_after_commit.fetch_add(1, Ordering::SeqCst);
        *left -= 1;
        if *left == 0 {
            *armed = None;
        }
        Ok(())
    }
}
