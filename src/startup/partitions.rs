//! The endpoint partition table the SDK clients are built with, cut down to
//! the one partition this environment's region is in.
//!
//! Each SDK crate (DynamoDB, SSM, EventBridge) parses its copy of AWS's
//! partition table when its first client is built, even when the endpoint is
//! configured: all eight partitions, ~60 regions and eight regular
//! expressions, ~0.42 M instructions a crate (callgrind), 13 % of a cold
//! start's instructions for the two clients of `customers-api`. The table
//! only ever answers one question here, which partition `AWS_REGION` is in,
//! and for a region of the standard `aws` partition (every commercial
//! region) the answer is that partition's six outputs below, the same in
//! every SDK.
//!
//! The SDK reads its table from the file named by
//! `SMITHY_CLIENT_SDK_CUSTOM_PARTITION` when it is set (smithy-rs #3610, made
//! for regions not yet in the table). So for such a region `main` writes
//! `aws-partition.json` (the `aws` partition alone, ~50 k instructions to
//! parse) into an anonymous in-memory file and points the variable at it.
//! Other regions (China, GovCloud, the ISO and sovereign partitions), no
//! region in the environment, a variable already set by the operator, or an
//! OS without `memfd_create` keep the SDK's own table.
//!
//! The SDK reads the file with an `expect`, when the first client is built,
//! so the variable is set only after the file has been read back through the
//! very path the SDK will open.

use std::path::PathBuf;

/// The variable the SDK's generated endpoint code reads.
pub const CUSTOM_PARTITION: &str = "SMITHY_CLIENT_SDK_CUSTOM_PARTITION";

/// AWS's `aws` partition as the SDK's table has it (outputs and region
/// pattern), without the list of its regions: the pattern matches them all,
/// and no region of the table has outputs of its own.
pub const AWS_PARTITION_JSON: &str = include_str!("aws-partition.json");

/// The `aws` partition's `regionRegex` prefixes.
const AWS_PREFIXES: [&str; 9] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];

/// Which partition table the SDK clients will parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitions {
    /// `aws-partition.json`, through this path.
    Aws(PathBuf),
    /// The SDK's own table, and why.
    Sdk(&'static str),
}

/// What to do, from the region and whether the variable is already set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Hand the SDK `aws-partition.json`.
    Aws,
    /// Leave the SDK's table, for this reason.
    Sdk(&'static str),
}

pub fn choose(region: Option<&str>, custom_set: bool) -> Choice {
    match region {
        _ if custom_set => Choice::Sdk("SMITHY_CLIENT_SDK_CUSTOM_PARTITION is set"),
        None => Choice::Sdk("no AWS_REGION"),
        Some(r) if in_aws_partition(r) => Choice::Aws,
        Some(_) => Choice::Sdk("the region is outside the aws partition"),
    }
}

/// `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$` (the partition's `regionRegex`,
/// ASCII classes as in `regex-lite`), by hand: compiling it with
/// `regex-lite` would cost a tenth of what this module saves. `\w` cannot
/// match `-`, so the region is exactly three dash-separated parts.
pub fn in_aws_partition(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(prefix), Some(word), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    AWS_PREFIXES.contains(&prefix)
        && !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Applies `choose` to this process (the region as the SDK's environment
/// provider reads it: `AWS_REGION`, then `AWS_DEFAULT_REGION`). Logs the
/// choice, never the region.
///
/// # Safety
///
/// Must be called while the process has a single thread (in `main`, before
/// the tokio runtime): it may set an environment variable.
pub unsafe fn select() -> Partitions {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty());
    let custom_set = std::env::var_os(CUSTOM_PARTITION).is_some();
    let partitions = match choose(region.as_deref(), custom_set) {
        Choice::Sdk(why) => Partitions::Sdk(why),
        Choice::Aws => match memfd::publish(AWS_PARTITION_JSON.as_bytes()) {
            Ok(path) => {
                // SAFETY: single-threaded, per this function's contract.
                unsafe { std::env::set_var(CUSTOM_PARTITION, &path) };
                Partitions::Aws(path)
            }
            Err(why) => Partitions::Sdk(why),
        },
    };
    match &partitions {
        Partitions::Aws(_) => tracing::debug!("endpoint partitions: the aws partition alone"),
        Partitions::Sdk(why) => {
            tracing::debug!(reason = why, "endpoint partitions: the SDK's table")
        }
    }
    partitions
}

#[cfg(target_os = "linux")]
mod memfd {
    //! An anonymous in-memory file that lives as long as the process, opened
    //! by path through `/proc/self/fd`. `std` has no `memfd_create`, and a
    //! named file in `/tmp` would outlive the process on a developer's
    //! machine, where the tests start hundreds.

    use std::fs::File;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    /// Keeps the file open: the SDK opens the path when a client is built.
    static FILE: OnceLock<File> = OnceLock::new();

    pub(super) fn publish(bytes: &[u8]) -> Result<PathBuf, &'static str> {
        // SAFETY: a NUL-terminated name; the call has no other precondition.
        let fd = unsafe { libc::memfd_create(c"aws-partition.json".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err("memfd_create failed");
        }
        // SAFETY: `fd` was just returned to us, open, and is owned by nothing else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(bytes)
            .map_err(|_| "the in-memory file could not be written")?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        // Read back as the SDK will (a fresh open of the path), so that a
        // missing /proc leaves the SDK's table instead of its `expect`.
        match std::fs::read(&path) {
            Ok(read) if read == bytes => {}
            _ => return Err("/proc/self/fd is not readable"),
        }
        FILE.set(file).map_err(|_| "already selected")?;
        Ok(path)
    }
}

#[cfg(not(target_os = "linux"))]
mod memfd {
    pub(super) fn publish(_: &[u8]) -> Result<std::path::PathBuf, &'static str> {
        Err("no memfd_create on this OS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commercial_regions_are_in_the_aws_partition() {
        for r in [
            "us-east-1",
            "us-west-2",
            "eu-central-2",
            "ap-southeast-7",
            "ca-west-1",
            "il-central-1",
            "mx-central-1",
            "me-south-1",
            "af-south-1",
            "sa-east-1",
        ] {
            assert!(in_aws_partition(r), "{r}");
        }
    }

    #[test]
    fn the_other_partitions_and_malformed_regions_are_not() {
        for r in [
            "cn-north-1",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
            "eusc-de-east-1",
            "aws-global",
            "",
            "us",
            "us-east",
            "us-east-",
            "us--1",
            "us-east-1a",
            "US-EAST-1",
            "us-east-1-",
            "xx-east-1",
            "us-eäst-1",
        ] {
            assert!(!in_aws_partition(r), "{r}");
        }
    }

    /// The hand-written matcher against the pattern the file carries,
    /// compiled by the crate the SDK compiles it with.
    #[test]
    fn the_matcher_agrees_with_the_files_region_regex() {
        let table: serde_json::Value =
            serde_json::from_str(AWS_PARTITION_JSON).expect("valid JSON");
        let parts = table["partitions"].as_array().expect("partitions");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0]["id"], "aws");
        let pattern = parts[0]["regionRegex"].as_str().expect("regionRegex");
        assert_eq!(pattern, r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$");
        let re = regex_lite::Regex::new(pattern).expect("the SDK compiles it");
        for r in [
            "us-east-1",
            "eu-west-3",
            "ap-east-2",
            "us-gov-west-1",
            "cn-north-1",
            "us-east-1a",
            "us-east",
            "mx-central-1",
            "us_x-east-1",
            "us-e_st-12",
            "us-east-01",
            "aws-global",
            "us-iso-east-1",
            "eusc-de-east-1",
            "us-eäst-1",
            "us-east-١",
        ] {
            assert_eq!(in_aws_partition(r), re.is_match(r), "{r}");
        }
    }

    #[test]
    fn the_choice_follows_the_region_and_an_operators_variable() {
        assert_eq!(choose(Some("eu-west-1"), false), Choice::Aws);
        assert!(matches!(choose(Some("eu-west-1"), true), Choice::Sdk(_)));
        assert!(matches!(choose(Some("cn-north-1"), false), Choice::Sdk(_)));
        assert!(matches!(
            choose(Some("us-gov-east-1"), false),
            Choice::Sdk(_)
        ));
        assert!(matches!(choose(None, false), Choice::Sdk(_)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_in_memory_file_reads_back_through_its_path() {
        let path = memfd::publish(b"{}").expect("memfd on Linux");
        assert_eq!(std::fs::read(&path).expect("readable"), b"{}");
        assert!(memfd::publish(b"{}").is_err(), "one file per process");
    }
}
