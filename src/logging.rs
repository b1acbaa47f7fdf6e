//! JSON logs through `tracing`. The SDK and HTTP stacks are capped at `info`
//! whatever `RUST_LOG` says: at debug they print request and response bodies,
//! which hold emails and addresses.

use tracing_subscriber::EnvFilter;

/// Directives appended after the user's so they win for these targets.
pub const QUIET_DEPENDENCIES: &str = "aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_smithy_http=info,aws_sdk_dynamodb=info,aws_sdk_ssm=info,aws_config=info,hyper=info,hyper_util=info,h2=info,rustls=info,lambda_runtime=info,lambda_http=info";

pub fn filter(user: &str) -> EnvFilter {
    let user = if user.trim().is_empty() { "info" } else { user };
    EnvFilter::try_new(format!("{user},{QUIET_DEPENDENCIES}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_DEPENDENCIES}")))
}

pub fn init() {
    let user = std::env::var("RUST_LOG").unwrap_or_default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(&user))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .init();
}
