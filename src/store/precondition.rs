//! What a conditional write requires of the stored version (SPEC §5): the
//! `If-Match` of a request once parsed, which `http::precondition` reads
//! from the headers.

use crate::store::expr::Expect;

/// The entity tag of a version, as `ETag` and `If-Match` carry it.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header.
    None,
    /// `*`: the customer must exist.
    Any,
    /// The versions named by strong tags; tags that cannot be one of our
    /// versions (weak, non-numeric) match nothing.
    Versions(Vec<u64>),
}

impl IfMatch {
    pub fn is_present(&self) -> bool {
        !matches!(self, IfMatch::None)
    }

    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::None | IfMatch::Any => true,
            IfMatch::Versions(v) => v.contains(&version),
        }
    }

    pub fn expect(&self) -> Expect {
        match self {
            IfMatch::None | IfMatch::Any => Expect::Exists,
            IfMatch::Versions(v) => Expect::OneOf(v.iter().copied().take(100).collect()),
        }
    }
}
