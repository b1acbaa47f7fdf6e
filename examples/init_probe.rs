//! Where a cold start's init goes: the steps of `src/bin/customers-api.rs` run one after
//! another in a fresh process, each timed (the binary, through `init::start`,
//! builds the DynamoDB client while GetParameter is in flight; here each step
//! runs alone so that its cost can be read). `make bench` spawns it with the
//! same environment as the function and prints the medians; it can also be
//! run by hand with TABLE_NAME, API_KEYS_PARAMETER and the stack's AWS_*
//! variables set, and PROBE_EVENT_1 / PROBE_EVENT_2 (API Gateway events) for
//! the `request_` steps after init. Prints one JSON object of microseconds per
//! step on stdout.

use std::sync::Arc;
use std::time::Instant;

use customers_api::http;
use customers_api::startup::{config::Config, init, logging, partitions, tls};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

fn main() {
    let t0 = Instant::now();
    let mut steps: Vec<(&str, u128)> = Vec::new();
    let mut last = 0;
    let mut mark = |name: &'static str| {
        let now = t0.elapsed().as_micros();
        steps.push((name, now - last));
        last = now;
    };
    logging::init();
    mark("logging");
    let config = Config::from_env().expect("configuration");
    mark("config");
    // SAFETY: single-threaded still, as in src/bin/customers-api.rs.
    let roots = unsafe { tls::select(config.tls_roots) };
    mark("tls_roots_choice");
    // SAFETY: as above.
    unsafe { partitions::select() };
    mark("partitions_choice");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    mark("tokio_runtime");
    rt.block_on(async {
        let sdk = init::sdk_config(&config).await;
        mark("sdk_config_load");
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        mark("dynamodb_client");
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        mark("ssm_client");
        let app = init::app(config, ddb, ssm);
        mark("app");
        let keys = app.keys.warm().await;
        mark("ssm_keys_first_call");
        let table = app.customers.store().warm().await;
        mark("dynamodb_warm_first_call");
        app.keys.warm().await;
        mark("ssm_keys_second_call");
        let _ = app.customers.store().warm().await;
        mark("dynamodb_warm_second_call");
        assert!(keys && table.is_ok(), "keys or table not reachable");
        // The first request's one-time costs, beside a second's: two PATCH
        // events the bench hands over (API Gateway's shape, read as the
        // runtime reads them), answered by the handler the function runs.
        let app = Arc::new(app);
        for (step, var) in [
            ("request_first", "PROBE_EVENT_1"),
            ("request_second", "PROBE_EVENT_2"),
        ] {
            let Ok(event) = std::env::var(var) else {
                continue;
            };
            let req = lambda_http::request::from_str(&event).expect("an API Gateway event");
            let status = http::handle(app.clone(), req).await.status();
            assert_eq!(status, 200, "{step} answered {status}");
            mark(step);
        }
    });
    // The SDK decodes the roots inside its first TLS connector, so that cost
    // is part of `ssm_keys_first_call` above. The same load again (the
    // compiled-in roots, or the bundle `SSL_CERT_FILE` names, into a root
    // store) shows its share; the bench leaves `_repeated` steps out of the
    // sum.
    let pem: Vec<CertificateDer<'static>> = match roots {
        tls::Roots::Amazon => CertificateDer::pem_slice_iter(tls::AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the compiled-in roots"),
        _ => rustls_native_certs::load_native_certs().certs,
    };
    mark("tls_roots_pem_repeated");
    let mut roots = rustls::RootCertStore::empty();
    let (valid, _) = roots.add_parsable_certificates(pem);
    mark("tls_root_store_repeated");
    assert!(valid > 0, "no root certificates");
    let fields: Vec<String> = steps.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", fields.join(","));
}
