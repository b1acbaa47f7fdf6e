//! Maps method and path to an action (SPEC §1). Pure.

use lambda_http::http::Method;
use serde_json::Value;

use crate::auth::{SCOPE_READ, SCOPE_WRITE};
use crate::customer::validate::{FieldError, Violation, check_customer_id};
use crate::error::ApiError;
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `GET /v1/customers`: the list, or the lookup by `?email=`.
    List,
    Create,
    Get(String),
    Patch(String),
    Delete(String),
}

impl Action {
    pub fn scope(&self) -> &'static str {
        match self {
            Action::Get(_) | Action::List => SCOPE_READ,
            _ => SCOPE_WRITE,
        }
    }

    /// The route as API Gateway names it (method and path template): the
    /// summary line's `route` field and metric dimension, so never an id.
    pub fn route(&self) -> &'static str {
        match self {
            Action::List => "GET /v1/customers",
            Action::Create => "POST /v1/customers",
            Action::Get(_) => "GET /v1/customers/{customerId}",
            Action::Patch(_) => "PATCH /v1/customers/{customerId}",
            Action::Delete(_) => "DELETE /v1/customers/{customerId}",
        }
    }

    /// The customer id the action names.
    pub fn customer_id(&self) -> Option<&str> {
        match self {
            Action::Create | Action::List => None,
            Action::Get(id) | Action::Patch(id) | Action::Delete(id) => Some(id),
        }
    }

    /// The same action with its path segment decoded and checked by
    /// [`customer_id`]. The caller reports a failure only after
    /// authentication, so an anonymous caller learns nothing about ids.
    pub fn checked(self) -> Result<Action, ApiError> {
        Ok(match self {
            Action::Create => Action::Create,
            Action::List => Action::List,
            Action::Get(s) => Action::Get(customer_id(&s)?),
            Action::Patch(s) => Action::Patch(customer_id(&s)?),
            Action::Delete(s) => Action::Delete(customer_id(&s)?),
        })
    }
}

const COLLECTION_ALLOW: &str = "GET, POST";
const ITEM_ALLOW: &str = "GET, PATCH, DELETE";

/// The customer id named by a path segment: percent-decoded (clients encode
/// `:` as `%3A`), then held to the rules of SPEC §1.
pub fn customer_id(segment: &str) -> Result<String, ApiError> {
    let raw = Value::String(segment.to_owned());
    let refuse = |msg: String| {
        ApiError::Invalid(vec![FieldError::new(
            Violation::CustomerId,
            "customerId",
            msg,
            &raw,
        )])
    };
    let decoded = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| refuse("must be UTF-8 once percent-decoded".into()))?;
    check_customer_id(&decoded).map_err(refuse)?;
    Ok(decoded.into_owned())
}

/// Routes `path`, which may carry one leading stage segment (`/prod/v1/...`,
/// as `lambda_http` builds it for a named stage) and one trailing slash.
pub fn route(method: &Method, path: &str) -> Result<Action, ApiError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let rest = match segs.as_slice() {
        ["v1", "customers", rest @ ..] => rest,
        [_stage, "v1", "customers", rest @ ..] => rest,
        _ => return Err(ApiError::RouteNotFound),
    };
    match rest {
        [] => match *method {
            Method::POST => Ok(Action::Create),
            Method::GET => Ok(Action::List),
            _ => Err(ApiError::MethodNotAllowed(COLLECTION_ALLOW)),
        },
        [id] => {
            let action = match *method {
                Method::GET => Action::Get,
                Method::PATCH => Action::Patch,
                Method::DELETE => Action::Delete,
                _ => return Err(ApiError::MethodNotAllowed(ITEM_ALLOW)),
            };
            Ok(action((*id).to_owned()))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: Method, p: &str) -> Result<Action, &'static str> {
        route(&m, p).map_err(|e| e.code())
    }

    #[test]
    fn routes() {
        assert_eq!(r(Method::POST, "/v1/customers"), Ok(Action::Create));
        assert_eq!(r(Method::POST, "/v1/customers/"), Ok(Action::Create));
        assert_eq!(
            r(Method::GET, "/v1/customers/abc/"),
            Ok(Action::Get("abc".into()))
        );
        assert_eq!(
            r(Method::PATCH, "/prod/v1/customers/abc"),
            Ok(Action::Patch("abc".into()))
        );
        assert_eq!(
            r(Method::DELETE, "/v1/customers/a:b.c-d_e"),
            Ok(Action::Delete("a:b.c-d_e".into()))
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            r(Method::PUT, "/v1/customers/x/"),
            Err("method_not_allowed")
        );
        assert_eq!(r(Method::GET, "/v1/customers"), Ok(Action::List));
        assert_eq!(r(Method::GET, "/prod/v1/customers/"), Ok(Action::List));
        assert_eq!(r(Method::PUT, "/v1/customers"), Err("method_not_allowed"));
        assert_eq!(
            route(&Method::DELETE, "/v1/customers")
                .map_err(|e| e.to_response("r"))
                .err()
                .map(|r| r.headers()["allow"].clone()),
            Some(lambda_http::http::HeaderValue::from_static("GET, POST"))
        );
        assert_eq!(r(Method::GET, "/v2/customers/x"), Err("route_not_found"));
        assert_eq!(r(Method::GET, "/v1/customers/x/y"), Err("route_not_found"));
        assert_eq!(r(Method::GET, "/"), Err("route_not_found"));
        assert_eq!(
            r(Method::GET, "/a/b/v1/customers/x"),
            Err("route_not_found")
        );
        // The id is checked after authentication, by `customer_id`.
        assert_eq!(
            r(Method::GET, "/v1/customers/a%2Fb"),
            Ok(Action::Get("a%2Fb".into()))
        );
    }

    #[test]
    fn customer_ids_from_paths() {
        let id = |s: &str| customer_id(s).map_err(|e| e.code());
        assert_eq!(id("a%3Ab"), Ok("a:b".into()));
        assert_eq!(id("%76ictim"), Ok("victim".into()));
        assert_eq!(id("a%2Fb"), Err("invalid_customer_id"));
        assert_eq!(id("%2e%2e"), Err("invalid_customer_id"));
        assert_eq!(id(".."), Err("invalid_customer_id"));
        assert_eq!(id("%ff"), Err("invalid_customer_id"));
        assert_eq!(id(""), Err("invalid_customer_id"));
        assert_eq!(id(&"a".repeat(129)), Err("invalid_customer_id"));
    }
}
