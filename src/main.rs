use std::sync::Arc;

use customers_api::{app, config::Config, init, logging};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(variable = e.var, "{e}");
            eprintln!("customers-api: {e}");
            std::process::exit(2);
        }
    };
    let sdk = init::sdk_config(&config).await;
    let app = Arc::new(init::app(
        config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_ssm::Client::new(&sdk),
    ));
    init::warm(&app).await;
    lambda_http::run(service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app::handle(app, req).await) }
    }))
    .await
}
