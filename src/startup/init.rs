//! Building the application once per execution environment: one shared
//! `SdkConfig` with timeouts, both clients, keys fetched and the DynamoDB
//! connection opened before the first request.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::ProvideRegion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::config::ProvideCredentials;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::auth::Keys;
use crate::http::handler::App;
use crate::startup::config::Config;
use crate::startup::tls::{self, TlsRoots};
use crate::store::customers::Customers;
use crate::store::dynamo::{Store, StoreError};

pub async fn sdk_config(config: &Config) -> SdkConfig {
    sdk_config_with(
        config.attempt_timeout,
        config.operation_timeout,
        3,
        config.tls_roots,
    )
    .await
}

/// The same construction with other timeouts, retries and roots
/// (`customers-admin` has no `Config`, waits longer under throttling than a
/// request may, and trusts the system's roots, as a CLI on an operator's
/// machine should).
pub async fn sdk_config_with(
    attempt_timeout: Duration,
    operation_timeout: Duration,
    max_attempts: u32,
    roots: TlsRoots,
) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(attempt_timeout)
        .read_timeout(attempt_timeout)
        .operation_attempt_timeout(attempt_timeout)
        .operation_timeout(operation_timeout)
        .build();
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(tls::context(roots)))
        .timeout_config(timeouts)
        // The attempt timeout (and the read timeout inside it) already ends
        // a response that stops coming; the SDK's stalled-stream watch, made
        // for long S3 bodies, only added timers and throughput bookkeeping
        // to every call (-1.2 % instructions per invocation, callgrind).
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts));
    from_env_when_set(loader).await.load().await
}

/// Lambda gives every environment its credentials and region as variables,
/// the first place the SDK's default chains look; once they are found there,
/// the chains can answer nothing else. Building the rest of the chains anyway
/// (profile, web identity with an STS client of its own, ECS, IMDS) cost
/// ~0.2 ms of each cold start. So the environment providers are handed over
/// directly when they have an answer, and the default chains are built
/// otherwise (a profile on a developer's machine, say).
async fn from_env_when_set(mut loader: ConfigLoader) -> ConfigLoader {
    let region = EnvironmentVariableRegionProvider::new();
    if let Some(r) = region.region().await {
        loader = loader.region(r);
    }
    let credentials = EnvironmentVariableCredentialsProvider::new();
    if credentials.provide_credentials().await.is_ok() {
        loader = loader.credentials_provider(credentials);
    }
    loader
}

/// The SDK's default HTTPS client (hyper, rustls with aws-lc, proxies from
/// the environment: the same construction as `aws-smithy-runtime`'s
/// `default_https_client`) with the roots `tls.rs` chose, except for the
/// throwaway connectors below.
fn https_client(context: TlsContext) -> SharedHttpClient {
    Builder::new().build_with_connector_fn(move |settings, components| {
        // Called with neither by `validate_base_client_config`, once per
        // SdkConfig load and per client, only to pre-load native roots; the
        // connector is thrown away. A TLS one would build a root store from
        // the parsed roots each time (~0.1 ms), three times per cold start.
        if settings.is_none() && components.is_none() {
            return ConnectorBuilder::default().build_http();
        }
        let mut conn = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// Builds the app from the shared configuration and warms it, in the order
/// that keeps the thread busy while the network is not: the SSM client is
/// built and `GetParameter` sent first, and the DynamoDB client (the costlier
/// of the two to build) is built while that request is in flight, then
/// opens its own connection. On AWS the parameter's round trip (DNS, TCP, TLS,
/// SSM itself) is the longest wait of init; building both clients before
/// sending anything put ~0.4 ms of CPU in front of it.
pub async fn start(config: Config, sdk: &SdkConfig) -> App {
    let keys = key_cache(&config, aws_sdk_ssm::Client::new(sdk));
    let table = config.table_name.clone();
    // `join!` polls its first branch first: GetParameter is signed and its
    // connection started before the second branch runs.
    let (keys_ok, (store, table_check)) = tokio::join!(keys.warm(), async {
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), table);
        let checked = store.warm().await;
        (store, checked)
    });
    report(keys_ok, table_check);
    assemble(config, keys, store)
}

/// Assembles the app from clients (tests pass their own).
pub fn app(config: Config, ddb: aws_sdk_dynamodb::Client, ssm: aws_sdk_ssm::Client) -> App {
    let keys = key_cache(&config, ssm);
    let store = Store::new(ddb, config.table_name.clone());
    assemble(config, keys, store)
}

fn key_cache(config: &Config, ssm: aws_sdk_ssm::Client) -> Keys {
    Keys::new(
        ssm,
        config.api_keys_parameter.clone(),
        config.keys_ttl,
        config.keys_max_stale,
    )
}

fn assemble(config: Config, keys: Keys, store: Store) -> App {
    App {
        config,
        keys,
        customers: Customers::new(store),
        cold: std::sync::atomic::AtomicBool::new(true),
    }
}

/// Fetches the keys and opens the DynamoDB connection concurrently (for an
/// app built by [`app`]; [`start`] does this itself). Neither failure stops
/// the function: requests answer 503 until the dependency is back, which is
/// more useful than a crash loop.
pub async fn warm(app: &App) {
    let (keys_ok, table) = tokio::join!(app.keys.warm(), app.customers.store().warm());
    report(keys_ok, table);
}

fn report(keys_ok: bool, table: Result<(), StoreError>) {
    if let Err(e) = table {
        tracing::warn!(error = %e, "DynamoDB table check failed during init");
    }
    if !keys_ok {
        tracing::warn!("starting without API keys; requests get 503 until SSM answers");
    }
}
