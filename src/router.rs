//! Maps method and path to an action (SPEC §1). Pure.

use lambda_http::http::Method;
use serde_json::Value;

use crate::auth::{SCOPE_READ, SCOPE_WRITE};
use crate::error::ApiError;
use crate::validate::check_customer_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Get(String),
    Patch(String),
    Delete(String),
}

impl Action {
    pub fn scope(&self) -> &'static str {
        match self {
            Action::Get(_) => SCOPE_READ,
            _ => SCOPE_WRITE,
        }
    }

    /// The route template, for logs.
    pub fn route(&self) -> &'static str {
        match self {
            Action::Create => "/v1/customers",
            _ => "/v1/customers/{customerId}",
        }
    }

    pub fn customer_id(&self) -> Option<&str> {
        match self {
            Action::Create => None,
            Action::Get(id) | Action::Patch(id) | Action::Delete(id) => Some(id),
        }
    }
}

const COLLECTION_ALLOW: &str = "POST";
const ITEM_ALLOW: &str = "GET, PATCH, DELETE";

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
            _ => Err(ApiError::MethodNotAllowed(COLLECTION_ALLOW)),
        },
        [id] => {
            let action = match *method {
                Method::GET => Action::Get,
                Method::PATCH => Action::Patch,
                Method::DELETE => Action::Delete,
                _ => return Err(ApiError::MethodNotAllowed(ITEM_ALLOW)),
            };
            check_customer_id(id)
                .map_err(|m| ApiError::InvalidCustomerId(m, Value::String((*id).to_owned())))?;
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
        assert_eq!(r(Method::GET, "/v1/customers"), Err("method_not_allowed"));
        assert_eq!(r(Method::GET, "/v2/customers/x"), Err("route_not_found"));
        assert_eq!(r(Method::GET, "/v1/customers/x/y"), Err("route_not_found"));
        assert_eq!(r(Method::GET, "/"), Err("route_not_found"));
        assert_eq!(
            r(Method::GET, "/a/b/v1/customers/x"),
            Err("route_not_found")
        );
        assert_eq!(
            r(Method::GET, "/v1/customers/a%2Fb"),
            Err("invalid_customer_id")
        );
        assert_eq!(
            r(Method::GET, "/v1/customers/.."),
            Err("invalid_customer_id")
        );
        assert_eq!(
            r(Method::GET, &format!("/v1/customers/{}", "a".repeat(129))),
            Err("invalid_customer_id")
        );
        assert_eq!(
            r(Method::GET, "/v1/customers//"),
            Err("invalid_customer_id")
        );
    }
}
