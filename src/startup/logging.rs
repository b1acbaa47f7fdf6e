//! JSON logs through `tracing`. The SDK, HTTP and runtime crates are capped
//! at `info` whatever `RUST_LOG` says: at debug and trace they print request
//! and response bodies and events, which hold emails and addresses.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Directives appended after the user's so they win for these targets.
pub const QUIET_DEPENDENCIES: &str = "aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_smithy_http=info,\
aws_smithy_http_client=info,aws_smithy_types=info,aws_sdk_dynamodb=info,aws_sdk_ssm=info,aws_sdk_eventbridge=info,\
aws_config=info,\
aws_runtime=info,hyper=info,hyper_util=info,h2=info,rustls=info,lambda_runtime=info,lambda_http=info,\
lambda_runtime_api_client=info";

pub fn filter(user: &str) -> EnvFilter {
    let user = if user.trim().is_empty() { "info" } else { user };
    EnvFilter::try_new(format!("{user},{QUIET_DEPENDENCIES}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_DEPENDENCIES}")))
}

/// Installs the subscriber writing to `writer` (stdout in Lambda, where the
/// runtime adds the timestamp and request id; a buffer in the log audit test),
/// and the same writer for the summary lines (`telemetry`), which are written
/// whole, not through `tracing`: their `_aws` member is a JSON object, which
/// a `tracing` field cannot be.
pub fn init_with<W>(user_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Clone + Send + Sync + 'static,
{
    let lines = writer.clone();
    crate::telemetry::set_sink(move |bytes| {
        let mut out = lines.make_writer();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    });
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_env_filter(filter(user_filter))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(writer)
        .try_init();
}

pub fn init() {
    init_with(
        &std::env::var("RUST_LOG").unwrap_or_default(),
        std::io::stdout,
    );
}
