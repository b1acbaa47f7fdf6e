use std::process::ExitCode;

use clap::Parser;
use customers_api::admin;

// A multi-threaded runtime: import and a segmented scan keep many requests
// in flight, unlike the function's one request at a time.
fn main() -> ExitCode {
    let cli = admin::Cli::parse();
    match tokio::runtime::Runtime::new() {
        Ok(rt) => ExitCode::from(rt.block_on(admin::run(cli))),
        Err(e) => {
            eprintln!("customers-admin: cannot start the async runtime: {e}");
            ExitCode::from(admin::exit::ERROR)
        }
    }
}
