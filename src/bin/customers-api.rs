use std::sync::Arc;

use customers_api::http;
use customers_api::startup::{config::Config, init, logging, partitions, tls};
use lambda_http::{Error, service_fn};

// No `#[tokio::main]`: the runtime is built after `tls::select` and
// `partitions::select`, which may set environment variables and so must run
// while there is one thread.
fn main() -> Result<(), Error> {
    logging::init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(variable = e.var, "{e}");
            eprintln!("customers-api: {e}");
            std::process::exit(2);
        }
    };
    // SAFETY: no thread has been started yet; logging and reading the
    // configuration start none.
    unsafe {
        tls::select(config.tls_roots);
        partitions::select();
    }
    // One thread: an execution environment is handed one request at a time,
    // and a worker pool only adds thread starts to init and cross-thread
    // wake-ups to every call (`make bench --compare`: cold start -0.4 ms).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(config))
}

async fn serve(config: Config) -> Result<(), Error> {
    let sdk = init::sdk_config(&config).await;
    let app = Arc::new(init::start(config, &sdk).await);
    lambda_http::run(service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(http::handle(app, req).await) }
    }))
    .await
}
