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
    /// `PatchName` with a fresh `Idempotency-Key` each time.
    PatchKeyed,
    /// The same keyed PATCH again: answered from its record.
    Replay,
    /// `GET /v1/customers?email=` (issue 14).
    Lookup,
    /// A list page of 20, and of 100.
    Page20,
    Page100,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Get,
        Kind::PatchName,
        Kind::PatchAddress,
        Kind::PatchEmail,
    ];

    /// The keyed rows (issue 13), on customers of their own, so the
    /// versions of the others still say whether every PATCH wrote.
    pub(crate) const KEYED: [Kind; 2] = [Kind::PatchKeyed, Kind::Replay];

    /// The finding rows (issue 14): reads, so they leave every version as is.
    pub(crate) const FIND: [Kind; 3] = [Kind::Lookup, Kind::Page20, Kind::Page100];

    /// The customers the handler and the raw calls work on.
    pub(crate) fn ids(self) -> (&'static str, &'static str) {
        match self {
            Kind::PatchKeyed | Kind::Replay | Kind::Lookup | Kind::Page20 | Kind::Page100 => {
                ("bench-kh", "bench-kr")
            }
            _ => ("bench-h", "bench-r"),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Get => "GET",
            Kind::PatchName => "PATCH name",
            Kind::PatchAddress => "PATCH address.city (merge)",
            Kind::PatchEmail => "PATCH email (change)",
            Kind::PatchKeyed => "PATCH name, Idempotency-Key",
            Kind::Replay => "replay of a keyed PATCH",
            Kind::Lookup => "GET ?email= (lookup)",
            Kind::Page20 => "GET list, page of 20",
            Kind::Page100 => "GET list, page of 100",
        }
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            Kind::Get => "get",
            Kind::PatchName => "patch_name",
            Kind::PatchAddress => "patch_address",
            Kind::PatchEmail => "patch_email",
            Kind::PatchKeyed => "patch_keyed",
            Kind::Replay => "replay",
            Kind::Lookup => "lookup",
            Kind::Page20 => "page_20",
            Kind::Page100 => "page_100",
        }
    }

    /// SPEC §8.
    pub(crate) fn expected_calls(self) -> u32 {
        match self {
            Kind::PatchEmail | Kind::PatchKeyed | Kind::Lookup | Kind::Page20 | Kind::Page100 => 2,
            _ => 1,
        }
    }

    pub(crate) fn raw_label(self) -> &'static str {
        match self {
            Kind::Get => "GetItem",
            Kind::PatchName | Kind::PatchAddress => "UpdateItem",
            Kind::PatchEmail => "UpdateItem(refused, ALL_OLD) + TransactWriteItems(3)",
            Kind::PatchKeyed => "TransactGetItems(2) + TransactWriteItems(2)",
            Kind::Replay => "TransactGetItems(2)",
            Kind::Lookup => "GetItem(sentinel) + GetItem(customer)",
            Kind::Page20 => "Query(21 keys) + BatchGetItem(20)",
            Kind::Page100 => "Query(101 keys) + BatchGetItem(100)",
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
    match kind {
        Kind::Lookup => return list_event(&[("email", &email_of(id, 1))]),
        Kind::Page20 => return list_event(&[("limit", "20")]),
        Kind::Page100 => return list_event(&[("limit", "100")]),
        _ => {}
    }
    let path = format!("/v1/customers/{id}");
    let (method, auth, body) = match kind {
        Kind::Get | Kind::Lookup | Kind::Page20 | Kind::Page100 => ("GET", READ_KEY, None),
        Kind::PatchName | Kind::PatchKeyed | Kind::Replay => (
            "PATCH",
            WRITE_KEY,
            Some(json!({"name": name_of(if kind == Kind::Replay { 0 } else { i })}).to_string()),
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
    let ev = raw_event(method, &path, auth, body, Some(id));
    match kind {
        Kind::PatchKeyed => with_key(&ev, &format!("bench-key-{i}")),
        Kind::Replay => with_key(&ev, "bench-key-replay"),
        _ => ev,
    }
}

/// `GET /v1/customers` with these query parameters.
fn list_event(query: &[(&str, &str)]) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&raw_event("GET", "/v1/customers", READ_KEY, None, None))
            .unwrap_or_default();
    let raw: Vec<String> = query
        .iter()
        .map(|(k, val)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(val, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect();
    v["rawQueryString"] = json!(raw.join("&"));
    v["queryStringParameters"] = query
        .iter()
        .map(|(k, val)| ((*k).to_owned(), json!(val)))
        .collect();
    v.to_string()
}

fn with_key(ev: &str, key: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(ev).unwrap_or_default();
    v["headers"]["idempotency-key"] = json!(key);
    v.to_string()
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
