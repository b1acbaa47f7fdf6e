//! What the endpoints of the three services the functions call must be for
//! every region of the `aws` partition (tests/partitions.rs with the cut-down
//! table of `src/startup/partitions.rs`, tests/partitions_sdk.rs with the
//! SDK's own), resolved by each SDK crate's own endpoint rules.

use aws_sdk_dynamodb::config::endpoint::ResolveEndpoint as _;
use aws_sdk_eventbridge::config::endpoint::ResolveEndpoint as _;
use aws_sdk_ssm::config::endpoint::ResolveEndpoint as _;

/// The regions of the `aws` partition in the SDK's table of 2026-12.
pub const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// The URL every service's rules give in the `aws` partition.
fn expected(service: &str, region: &str, fips: bool, dual_stack: bool) -> String {
    let host = if fips {
        format!("{service}-fips")
    } else {
        service.to_owned()
    };
    let suffix = if dual_stack {
        "api.aws"
    } else {
        "amazonaws.com"
    };
    format!("https://{host}.{region}.{suffix}")
}

/// Every region × FIPS × dual stack, for DynamoDB, SSM and EventBridge; the
/// mismatches, as `service region fips dual-stack: got, expected` lines.
pub async fn mismatches() -> Vec<String> {
    let mut out = Vec::new();
    for region in AWS_REGIONS {
        for (fips, dual) in [(false, false), (true, false), (false, true), (true, true)] {
            let ddb = aws_sdk_dynamodb::config::endpoint::Params::builder()
                .region(*region)
                .use_fips(fips)
                .use_dual_stack(dual)
                .build()
                .expect("params");
            let ddb = aws_sdk_dynamodb::config::endpoint::DefaultResolver::new()
                .resolve_endpoint(&ddb)
                .await;
            let ssm = aws_sdk_ssm::config::endpoint::Params::builder()
                .region(*region)
                .use_fips(fips)
                .use_dual_stack(dual)
                .build()
                .expect("params");
            let ssm = aws_sdk_ssm::config::endpoint::DefaultResolver::new()
                .resolve_endpoint(&ssm)
                .await;
            let events = aws_sdk_eventbridge::config::endpoint::Params::builder()
                .region(*region)
                .use_fips(fips)
                .use_dual_stack(dual)
                .build()
                .expect("params");
            let events = aws_sdk_eventbridge::config::endpoint::DefaultResolver::new()
                .resolve_endpoint(&events)
                .await;
            for (service, got) in [("dynamodb", ddb), ("ssm", ssm), ("events", events)] {
                let want = expected(service, region, fips, dual);
                let got = got.map(|e| e.url().to_owned()).map_err(|e| e.to_string());
                if got.as_deref() != Ok(want.as_str()) {
                    out.push(format!(
                        "{service} {region} fips={fips} dual-stack={dual}: {got:?}, expected {want}"
                    ));
                }
            }
        }
    }
    out
}
