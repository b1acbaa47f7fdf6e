//! The cold-start floor for `make bench`: a `lambda_http` hello world with the
//! same runtime, features and release profile as the function, and nothing
//! else (no SDK, no logging, no configuration).

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::Text(r#"{"hello":"world"}"#.into()))?,
        )
    }))
    .await
}
