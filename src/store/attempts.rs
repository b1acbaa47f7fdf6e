//! Retries per request, for the summary line's `retries`: the SDK's (it
//! retries a throttled or failed call inside one `send()`, out of our code's
//! sight, so an interceptor on the store's client counts every attempt) and
//! ours (a transaction run again after a conflict, keys asked for again).
//! The client is shared, so the tally is a task-local the handler scopes
//! around one request: a request's calls run inside its future.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One request's attempts and re-runs.
#[derive(Debug, Default)]
pub struct Tally {
    attempts: AtomicU32,
    reruns: AtomicU32,
}

impl Tally {
    /// Attempts beyond the first of each of the `calls` calls, and re-runs.
    pub fn retries(&self, calls: u32) -> u32 {
        let sdk = self.attempts.load(Ordering::Relaxed).saturating_sub(calls);
        sdk + self.reruns.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    static TALLY: Arc<Tally>;
}

/// Runs `f` counting its DynamoDB attempts and re-runs into `tally`.
pub async fn counted<F: Future>(tally: Arc<Tally>, f: F) -> F::Output {
    TALLY.scope(tally, f).await
}

/// Our code is about to run a call again (after a backoff).
pub(crate) fn rerun() {
    let _ = TALLY.try_with(|t| t.reruns.fetch_add(1, Ordering::Relaxed));
}

#[derive(Debug)]
struct CountAttempts;

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Outside a counted request (init, the admin tool) nothing counts.
        let _ = TALLY.try_with(|t| t.attempts.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}

/// The same client, its attempts counted. The configuration (endpoint,
/// timeouts, retry policy, interceptors already there) is kept.
pub fn counting(client: &Client) -> Client {
    Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(CountAttempts)
            .build(),
    )
}
