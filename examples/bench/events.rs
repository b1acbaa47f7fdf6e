//! The API Gateway HTTP API events the bench sends, and the kinds of request
//! (`Kind`) it measures.

use serde_json::json;

use crate::{READ_KEY, Res, WRITE_KEY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Get,
    PatchName,
    PatchAddress,
    PatchEmail,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Get,
        Kind::PatchName,
        Kind::PatchAddress,
        Kind::PatchEmail,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Get => "GET",
            Kind::PatchName => "PATCH name",
            Kind::PatchAddress => "PATCH address.city (merge)",
            Kind::PatchEmail => "PATCH email (change)",
        }
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            Kind::Get => "get",
            Kind::PatchName => "patch_name",
            Kind::PatchAddress => "patch_address",
            Kind::PatchEmail => "patch_email",
        }
    }

    /// SPEC §8.
    pub(crate) fn expected_calls(self) -> u32 {
        match self {
            Kind::PatchEmail => 2,
            _ => 1,
        }
    }

    pub(crate) fn raw_label(self) -> &'static str {
        match self {
            Kind::Get => "GetItem",
            Kind::PatchName | Kind::PatchAddress => "UpdateItem",
            Kind::PatchEmail => "UpdateItem(refused, ALL_OLD) + TransactWriteItems(3)",
        }
    }
}

pub(crate) fn email_of(id: &str, i: usize) -> String {
    format!("{id}-{}@example.com", i % 2)
}

pub(crate) fn name_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "Bench Even"
    } else {
        "Bench Odd"
    }
}

pub(crate) fn city_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "Springfield"
    } else {
        "Shelbyville"
    }
}

/// An API Gateway HTTP API (payload 2.0) event; `i` alternates the written
/// value so that every PATCH really writes.
pub(crate) fn event(kind: Kind, id: &str, i: usize) -> String {
    let path = format!("/v1/customers/{id}");
    let (method, auth, body) = match kind {
        Kind::Get => ("GET", READ_KEY, None),
        Kind::PatchName => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"name": name_of(i)}).to_string()),
        ),
        Kind::PatchAddress => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"address": {"city": city_of(i)}}).to_string()),
        ),
        Kind::PatchEmail => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"email": email_of(id, i)}).to_string()),
        ),
    };
    raw_event(method, &path, auth, body, Some(id))
}

pub(crate) fn raw_event(
    method: &str,
    path: &str,
    auth: &str,
    body: Option<String>,
    id: Option<&str>,
) -> String {
    let mut headers = json!({
        "accept": "application/json",
        "authorization": auth,
        "host": "bench.execute-api.us-east-1.amazonaws.com",
        "user-agent": "bench",
        "x-forwarded-proto": "https"
    });
    if let Some(b) = &body {
        headers["content-type"] = json!("application/json");
        headers["content-length"] = json!(b.len().to_string());
    }
    let route = if id.is_some() {
        format!("{method} /v1/customers/{{customerId}}")
    } else {
        format!("{method} /v1/customers")
    };
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": route,
            "stage": "$default",
            "time": "23/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1_795_442_400_000u64
        },
        "pathParameters": id.map(|id| json!({"customerId": id})),
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

pub(crate) fn request(ev: &str) -> Res<lambda_http::Request> {
    Ok(lambda_http::request::from_str(ev)?)
}

pub(crate) fn body_text(b: &lambda_http::Body) -> String {
    match b {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}
