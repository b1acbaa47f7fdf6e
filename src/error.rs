//! One error type for everything a request can end in, and its one mapping to
//! an RFC 9457 `application/problem+json` response.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::validate::{FieldError, Violation};

pub const PROBLEM_JSON: &str = "application/problem+json";
pub const ACCEPT_PATCH: &str = "application/json, application/merge-patch+json";
/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

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
    #[error("API keys cannot be checked right now.")]
    AuthUnavailable,
    #[error("The customer store is unavailable right now.")]
    ServiceUnavailable,
    #[error("An internal error occurred.")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_) | EmptyPatch | Invalid(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            InsufficientScope(_) => StatusCode::FORBIDDEN,
            NotFound | RouteNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            EmailTaken | CustomerExists | Conflict => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            AuthUnavailable | ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

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
            AuthUnavailable => "auth_unavailable",
            ServiceUnavailable => "service_unavailable",
            Internal => "internal",
        }
    }

    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Invalid(errs) => errs.clone(),
            _ => Vec::new(),
        }
    }

    pub fn to_response(&self, request_id: &str) -> Response<Body> {
        let status = self.status();
        let errors: Vec<Value> = self
            .errors()
            .iter()
            .map(|e| json!({"param": e.param, "message": e.message, "value": e.value, "code": e.violation.code()}))
            .collect();
        let body = json!({
            "type": format!("urn:customers-api:problem:{}", self.code()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
            "code": self.code(),
            "requestId": request_id,
            "errors": errors,
        });
        let mut r = Response::new(Body::Text(body.to_string()));
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self {
            ApiError::Unauthorized(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"customers\""),
                );
            }
            ApiError::InsufficientScope(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"customers\", error=\"insufficient_scope\"",
                    ),
                );
            }
            ApiError::MethodNotAllowed(allow) => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::UnsupportedMediaType { accept, patch } => {
                let name = if *patch {
                    "accept-patch"
                } else {
                    "accept-post"
                };
                h.insert(name, HeaderValue::from_static(accept));
            }
            ApiError::AuthUnavailable | ApiError::ServiceUnavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        r
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Body>) -> Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => panic!("text body expected"),
        }
    }

    #[test]
    fn problem_shape() {
        let r = ApiError::Unauthorized("Missing bearer key.").to_response("req-1");
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], PROBLEM_JSON);
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer realm=\"customers\""
        );
        let b = body(&r);
        assert_eq!(b["code"], "unauthorized");
        assert_eq!(b["status"], 401);
        assert_eq!(b["requestId"], "req-1");
        assert_eq!(b["errors"], json!([]));
    }

    #[test]
    fn mixed_violations_are_validation_failed() {
        let v = Value::Null;
        let one = ApiError::Invalid(vec![FieldError::new(Violation::Unknown, "a", "m", &v)]);
        assert_eq!(one.code(), "unknown_field");
        let mixed = ApiError::Invalid(vec![
            FieldError::new(Violation::Unknown, "a", "m", &v),
            FieldError::new(Violation::Invalid, "b", "m", &v),
        ]);
        assert_eq!(mixed.code(), "validation_failed");
        assert_eq!(body(&mixed.to_response("r"))["errors"][1]["param"], "b");
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let r = ApiError::ServiceUnavailable.to_response("r");
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
    }
}
