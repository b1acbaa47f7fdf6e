//! One error type for everything a request can end in, shared by every
//! layer so that a failure keeps its meaning up to the edge; `http::problem`
//! is its one mapping to a status and an RFC 9457 body.

use crate::customer::validate::{FieldError, Violation};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("The patch has no members; send at least one field to change.")]
    EmptyPatch,
    #[error("The request has invalid members.")]
    Invalid(Vec<FieldError>),
    #[error("The body is larger than 16 KiB.")]
    PayloadTooLarge,
    #[error("Content-Type must be one of: {accept}.")]
    UnsupportedMediaType { accept: &'static str, patch: bool },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("This API key lacks the scope `{0}`.")]
    InsufficientScope(&'static str),
    #[error("No customer has this customerId.")]
    NotFound,
    #[error("No route matches this path.")]
    RouteNotFound,
    #[error("This path does not support this method.")]
    MethodNotAllowed(&'static str),
    #[error("Another customer already uses this email address.")]
    EmailTaken,
    #[error("A customer with this customerId already exists.")]
    CustomerExists,
    #[error("The customer changed concurrently too many times; retry the request.")]
    Conflict,
    #[error("The customer's current version does not match If-Match.")]
    PreconditionFailed,
    #[error("This deployment requires an If-Match header on PATCH and DELETE.")]
    PreconditionRequired,
    #[error("{0}")]
    InvalidIdempotencyKey(&'static str),
    #[error("This deployment requires an Idempotency-Key header on POST, PATCH and DELETE.")]
    IdempotencyKeyRequired,
    #[error("This Idempotency-Key was already used with a different request.")]
    IdempotencyKeyReused,
    #[error("API keys cannot be checked right now.")]
    AuthUnavailable,
    #[error("The customer store is unavailable right now.")]
    ServiceUnavailable,
    #[error("An internal error occurred.")]
    Internal,
}

impl ApiError {
    /// The stable, machine-readable `code` of the problem (SPEC §7).
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            EmptyPatch => "empty_patch",
            Invalid(errs) => invalid_code(errs),
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType { .. } => "unsupported_media_type",
            Unauthorized(_) => "unauthorized",
            InsufficientScope(_) => "insufficient_scope",
            NotFound => "not_found",
            RouteNotFound => "route_not_found",
            MethodNotAllowed(_) => "method_not_allowed",
            EmailTaken => "email_taken",
            CustomerExists => "customer_exists",
            Conflict => "conflict",
            PreconditionFailed => "precondition_failed",
            PreconditionRequired => "precondition_required",
            InvalidIdempotencyKey(_) => "invalid_idempotency_key",
            IdempotencyKeyRequired => "idempotency_key_required",
            IdempotencyKeyReused => "idempotency_key_reused",
            AuthUnavailable => "auth_unavailable",
            ServiceUnavailable => "service_unavailable",
            Internal => "internal",
        }
    }

    /// The field errors an `Invalid` carries, for the problem's `errors[]`.
    pub fn errors(&self) -> &[FieldError] {
        match self {
            ApiError::Invalid(errs) => errs,
            _ => &[],
        }
    }
}

/// One code for a list: `invalid_customer_id` if the id is bad, else the
/// shared one, or `validation_failed` when mixed.
fn invalid_code(errs: &[FieldError]) -> &'static str {
    if errs.iter().any(|e| e.violation == Violation::CustomerId) {
        return Violation::CustomerId.code();
    }
    match errs.first() {
        Some(first) if errs.iter().all(|e| e.violation == first.violation) => {
            first.violation.code()
        }
        _ => Violation::Invalid.code(),
    }
}
