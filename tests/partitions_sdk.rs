//! With the SDK's own partition table (the variable unset, as for a region
//! outside the `aws` partition), the endpoints are the ones
//! tests/common/partition_cases.rs expects: the check that those
//! expectations, which tests/partitions.rs holds the cut-down table to, are
//! the SDK's. Its own process, as the table is read once per process.

#[path = "common/partition_cases.rs"]
mod cases;

use customers_api::startup::partitions::CUSTOM_PARTITION;

#[tokio::test]
async fn the_sdks_table_gives_the_expected_endpoints() {
    assert!(
        std::env::var_os(CUSTOM_PARTITION).is_none(),
        "this test is of the SDK's own table"
    );
    let wrong = cases::mismatches().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
