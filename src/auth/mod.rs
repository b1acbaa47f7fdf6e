//! Who is calling (SPEC §6): the bearer key of a request, checked against the
//! SHA-256 hashes held in SSM, and the key set's cache. Uses only the shared
//! error type.

pub mod bearer;
pub mod keys;

pub use bearer::bearer;
pub use keys::{ApiKey, KeySet, Keys, SCOPE_READ, SCOPE_WRITE, parse_keys, sha256_hex};
