//! The change-events function: DynamoDB stream batches in, EventBridge
//! events out, `ReportBatchItemFailures` back (SPEC §13).

use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::dynamodb::Event;
use customers_api::events;
use customers_api::startup::events::{EventsConfig, app, last_call};
use customers_api::startup::{init, logging, partitions, tls};
use lambda_runtime::{Error, LambdaEvent, service_fn};

// As customers-api: the runtime is built after the two `select`s.
fn main() -> Result<(), Error> {
    logging::init();
    let config = match EventsConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(variable = e.var, "{e}");
            eprintln!("customers-events: {e}");
            std::process::exit(2);
        }
    };
    // SAFETY: no thread has been started yet; logging and reading the
    // configuration start none.
    unsafe {
        tls::select(config.tls_roots);
        partitions::select();
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(config))
}

async fn serve(config: EventsConfig) -> Result<(), Error> {
    let sdk = init::sdk_config_with(
        config.attempt_timeout,
        config.operation_timeout,
        3,
        config.tls_roots,
    )
    .await;
    let app = Arc::new(app(&config, aws_sdk_eventbridge::Client::new(&sdk)));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Event>| {
        let app = app.clone();
        let last_call = last_call(ev.context.deadline, SystemTime::now(), &config);
        async move {
            let (response, _) = events::handle(&app, &ev.payload, last_call).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}
