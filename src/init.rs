//! Building the application once per execution environment: one shared
//! `SdkConfig` with timeouts, both clients, keys fetched and the DynamoDB
//! connection opened before the first request.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::app::App;
use crate::auth::Keys;
use crate::config::Config;
use crate::service::Customers;
use crate::store::Store;

pub async fn sdk_config(config: &Config) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.attempt_timeout)
        .read_timeout(config.attempt_timeout)
        .operation_attempt_timeout(config.attempt_timeout)
        .operation_timeout(config.operation_timeout)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

/// Assembles the app from clients (tests pass their own).
pub fn app(config: Config, ddb: aws_sdk_dynamodb::Client, ssm: aws_sdk_ssm::Client) -> App {
    let keys = Keys::new(
        ssm,
        config.api_keys_parameter.clone(),
        config.keys_ttl,
        config.keys_max_stale,
    );
    let store = Store::new(ddb, config.table_name.clone());
    App {
        config,
        keys,
        customers: Customers::new(store),
    }
}

/// Fetches the keys and opens the DynamoDB connection concurrently. Neither
/// failure stops the function: requests answer 503 until the dependency is
/// back, which is more useful than a crash loop.
pub async fn warm(app: &App) {
    let (keys_ok, table) = tokio::join!(app.keys.warm(), app.customers.store().warm());
    if let Err(e) = table {
        tracing::warn!(error = %e, "DynamoDB table check failed during init");
    }
    if !keys_ok {
        tracing::warn!("starting without API keys; requests get 503 until SSM answers");
    }
}
