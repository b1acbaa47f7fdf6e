//! The one mapping from [`ApiError`] to an HTTP status and an RFC 9457
//! `application/problem+json` response, with the headers each problem
//! promises (`WWW-Authenticate`, `Allow`, `Accept-Patch`, `Retry-After`).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Value, json};

pub use crate::error::ApiError;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_)
            | EmptyPatch
            | Invalid(_)
            | InvalidIdempotencyKey(_)
            | IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::validate::{FieldError, Violation};

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
