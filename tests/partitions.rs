//! `partitions::select` as `main` calls it, then every SDK client's endpoint
//! for every region of the `aws` partition: the same as with the SDK's own
//! table (tests/partitions_sdk.rs holds those expectations to the SDK). One
//! test in its own process: the SDK reads the table once per process, at the
//! first resolver, and `select` sets a variable.

#[path = "common/partition_cases.rs"]
mod cases;

use customers_api::startup::partitions::{self, CUSTOM_PARTITION, Partitions};

#[tokio::test]
async fn the_aws_partition_alone_gives_the_sdks_endpoints() {
    // SAFETY: the only test of this binary; the harness's main thread only
    // waits for it, and no SDK client or runtime thread reads the
    // environment yet.
    let selected = unsafe {
        std::env::remove_var(CUSTOM_PARTITION);
        std::env::set_var("AWS_REGION", "eu-west-1");
        partitions::select()
    };
    let Partitions::Aws(path) = selected else {
        panic!("a commercial region gets the cut-down table: {selected:?}");
    };
    assert_eq!(
        std::env::var_os(CUSTOM_PARTITION),
        Some(path.clone().into_os_string())
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("readable through its path"),
        partitions::AWS_PARTITION_JSON
    );
    let wrong = cases::mismatches().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
