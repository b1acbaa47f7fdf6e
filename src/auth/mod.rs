//! Who is calling (SPEC §6): the bearer key of a request, checked against the
//! SHA-256 hashes held in SSM, the key set's cache and its JSON both ways,
//! and the format of the keys `customers-admin` issues. Uses only the shared
//! error type.

pub mod bearer;
pub mod issue;
pub mod keys;

pub use bearer::bearer;
pub use keys::{
    ApiKey, KeySet, Keys, SCOPE_READ, SCOPE_WRITE, SCOPES, parse_keys, serialize_keys, sha256_hex,
};
