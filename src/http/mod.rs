//! The HTTP edge: the Lambda handler, routing, request bodies and headers,
//! and the one mapping from [`crate::error::ApiError`] to an RFC 9457
//! problem. It may use every other layer; nothing below uses it.

pub mod body;
pub mod handler;
pub mod idempotency;
pub mod precondition;
pub mod problem;
pub mod query;
pub mod router;

pub use handler::{App, RequestCtx, handle, handle_with};
