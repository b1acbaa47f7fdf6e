//! The Lambda handler: route, authenticate, decode, call the store, answer.
//! Every path ends in a response (errors become problems), and every request
//! ends in one summary log line without personal data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use lambda_http::http::header::{CONTENT_TYPE, ETAG, LINK, LOCATION};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};

use crate::auth::Keys;
use crate::customer::create;
use crate::customer::patch::{self, PatchError};
use crate::error::ApiError;
use crate::http::body::{self, ACCEPT_PATCH, MAX_BODY_BYTES};
use crate::http::idempotency;
use crate::http::precondition::{self, IfMatch};
use crate::http::query::{self, ListQuery};
use crate::http::router::{self, Action};
use crate::startup::config::Config;
use crate::store::attempts::{self, Tally};
use crate::store::cursor::{self, Cursor};
use crate::store::customers::{self, Customers};
use crate::store::dynamo::Calls;
use crate::store::idempotency::{Keyed, Reply, Written};
use crate::store::item;
use crate::telemetry::{self, emf::Line};

pub struct App {
    pub config: Config,
    pub keys: Keys,
    pub customers: Customers,
    /// Set until the environment's first request has been summed up, which
    /// carries the `coldStart` metric.
    pub cold: AtomicBool,
}

/// Per-request context: the id echoed in problems and logs, and the count of
/// DynamoDB calls (tests assert it; the summary line reports it).
pub struct RequestCtx {
    pub request_id: String,
    /// X-Ray's trace id, when Lambda sends one: the summary line carries it,
    /// so a trace and its log line find each other.
    pub trace_id: Option<String>,
    pub calls: Calls,
    /// The SDK's attempts and our re-runs, for `retries`.
    tally: Arc<Tally>,
    /// The customer a POST created, for the summary line.
    created: OnceLock<String>,
    /// The summary line as written (tests read it).
    summary: OnceLock<String>,
}

impl RequestCtx {
    pub fn new(request_id: String) -> Self {
        RequestCtx {
            request_id,
            trace_id: None,
            calls: Calls::default(),
            tally: Arc::default(),
            created: OnceLock::new(),
            summary: OnceLock::new(),
        }
    }

    pub fn for_request(req: &Request) -> Self {
        let context = req.lambda_context_ref();
        let id = context
            .map(|c| c.request_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut ctx = RequestCtx::new(id);
        ctx.trace_id = context.and_then(|c| c.xray_trace_id.clone());
        ctx
    }

    /// The request's summary line, once it has been written.
    pub fn summary(&self) -> Option<&str> {
        self.summary.get().map(String::as_str)
    }
}

pub async fn handle(app: Arc<App>, req: Request) -> Response<Body> {
    let ctx = RequestCtx::for_request(&req);
    handle_with(&app, req, &ctx).await
}

pub async fn handle_with(app: &App, req: Request, ctx: &RequestCtx) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    // The path as the client sent it: the URI lambda_http builds has been
    // through URL normalisation, which turns `/v1/customers/..` into `/v1/`.
    let path = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    // The id is decoded and checked once; its error waits for `serve` to
    // authenticate first.
    let action = router::route(&method, path).map(|a| (a.route(), a.scope(), a.checked()));
    let (route, customer_id) = match &action {
        Ok((route, _, checked)) => (
            *route,
            checked
                .as_ref()
                .ok()
                .and_then(Action::customer_id)
                .map(str::to_owned),
        ),
        Err(_) => (telemetry::UNROUTED, None),
    };
    // Behind a named stage the resource lives under the same prefix.
    let prefix = path.find("/v1/customers").map_or("", |i| &path[..i]);
    let result = match action {
        Ok((_, scope, checked)) => {
            let served = serve(app, &req, scope, checked, prefix, ctx);
            attempts::counted(ctx.tally.clone(), served).await
        }
        Err(e) => Err(e),
    };
    let (response, code) = match result {
        Ok(r) => (r, ""),
        Err(e) => (e.to_response(&ctx.request_id), e.code()),
    };
    let customer_id = customer_id
        .as_deref()
        .or(ctx.created.get().map(String::as_str));
    let line = summary(
        app,
        ctx,
        &method,
        route,
        customer_id,
        &response,
        code,
        started,
    );
    telemetry::emit(&line);
    let _ = ctx.summary.set(line);
    response
}

/// The request's one summary line: what an operator looks a request up by
/// (its id, trace, route, status, problem code, customer id), and its
/// metrics as EMF (SPEC §14). No personal data: a customer id is ours, and
/// the route is a template.
#[allow(clippy::too_many_arguments)]
fn summary(
    app: &App,
    ctx: &RequestCtx,
    method: &Method,
    route: &str,
    customer_id: Option<&str>,
    response: &Response<Body>,
    code: &str,
    started: Instant,
) -> String {
    let status = response.status().as_u16();
    let calls = ctx.calls.get();
    let mut line = Line::new("INFO", "request");
    line.set("requestId", ctx.request_id.as_str());
    if let Some(trace) = &ctx.trace_id {
        line.set("xrayTraceId", trace.as_str());
    }
    line.set(telemetry::SERVICE, app.config.telemetry.service.as_str())
        .set("method", method.as_str())
        .set(telemetry::ROUTE, route)
        .set("customerId", customer_id.unwrap_or(""))
        .set("status", status)
        .set(telemetry::STATUS_CLASS, telemetry::status_class(status))
        .set("code", code)
        .number(telemetry::REQUESTS, 1.0)
        .number(
            telemetry::DURATION_MS,
            started.elapsed().as_secs_f64() * 1000.0,
        )
        .number(telemetry::DYNAMODB_CALLS, f64::from(calls))
        .number(telemetry::RETRIES, f64::from(ctx.tally.retries(calls)));
    if app.cold.swap(false, Ordering::Relaxed) {
        line.number(telemetry::COLD_START, 1.0);
    }
    telemetry::render(
        line,
        &app.config.telemetry,
        telemetry::API_DIMENSIONS,
        telemetry::API_METRICS,
    )
}

fn unsupported(patch: bool) -> ApiError {
    let accept = if patch {
        ACCEPT_PATCH
    } else {
        "application/json"
    };
    ApiError::UnsupportedMediaType { accept, patch }
}

fn content_type(req: &Request, patch: bool) -> Result<Option<&str>, ApiError> {
    match req.headers().get(CONTENT_TYPE) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| unsupported(patch)),
    }
}

fn read_body(req: &Request) -> Result<&[u8], ApiError> {
    let bytes = body::bytes(req.body());
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(bytes)
}

async fn serve(
    app: &App,
    req: &Request,
    scope: &'static str,
    action: Result<Action, ApiError>,
    prefix: &str,
    ctx: &RequestCtx,
) -> Result<Response<Body>, ApiError> {
    let key_id = app.keys.authorize(req.headers(), scope).await?;
    let action = action?;
    let calls = &ctx.calls;
    // Writes only: the header means nothing on a read (SPEC §11).
    let write = !matches!(action, Action::Get(_) | Action::List);
    let idempotency_key = match write {
        true => idempotency::key(req.headers())?,
        false => None,
    };
    if write && idempotency_key.is_none() && app.config.require_idempotency_key {
        return Err(ApiError::IdempotencyKeyRequired);
    }
    // The record a keyed write carries, for the request as it was sent.
    let keyed = |path: &str, mode, if_match: &IfMatch, body: Option<&Value>| {
        idempotency_key.as_deref().map(|key| {
            let now = chrono::Utc::now().timestamp();
            let ttl = i64::try_from(app.config.idempotency_ttl.as_secs()).unwrap_or(i64::MAX);
            Keyed {
                id: idempotency::record_id(&key_id, key),
                fingerprint: idempotency::fingerprint(req.method(), path, mode, if_match, body),
                now,
                expires_at: now.saturating_add(ttl),
            }
        })
    };
    let written = match action {
        Action::Get(id) => {
            let s = app.customers.get(calls, &id).await?;
            Written::Fresh(Reply::customer(200, &s, None))
        }
        Action::List => {
            let query = query::parse(
                req.query_string_parameters_ref()
                    .into_iter()
                    .flat_map(|q| q.iter()),
            )?;
            return list(app, query, prefix, calls).await;
        }
        Action::Create => {
            let (doc, body) = create_doc(req)?;
            let id = doc
                .get("customerId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let _ = ctx.created.set(id.clone());
            let location = format!("{prefix}/v1/customers/{id}");
            let k = keyed("/v1/customers", None, &IfMatch::None, Some(&body));
            let record = k.as_ref().map(|k| (k, location.clone()));
            app.customers
                .create(calls, doc, record)
                .await?
                .map(|s| Reply::customer(201, &s, Some(location)))
        }
        Action::Patch(id) => {
            let if_match = required_if_match(app, req)?;
            let bytes = read_body(req)?;
            let mode =
                body::patch_mode(content_type(req, true)?).ok_or_else(|| unsupported(true))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::EmptyPatch);
            }
            let value = body::parse_json(bytes).map_err(ApiError::InvalidJson)?;
            let p = patch::parse(&value, mode, &app.config.strategies, &customers::today())
                .map_err(|e| match e {
                    PatchError::NotObject => {
                        ApiError::InvalidJson("The body must be a JSON object.".into())
                    }
                    PatchError::Empty => ApiError::EmptyPatch,
                    PatchError::Invalid(errs) => ApiError::Invalid(errs),
                })?;
            let k = keyed(
                &format!("/v1/customers/{id}"),
                Some(mode),
                &if_match,
                Some(&value),
            );
            app.customers
                .patch(calls, &id, &p, &if_match, k.as_ref())
                .await?
                .map(|s| Reply::customer(200, &s, None))
        }
        Action::Delete(id) => {
            let if_match = required_if_match(app, req)?;
            let k = keyed(&format!("/v1/customers/{id}"), None, &if_match, None);
            app.customers
                .delete(calls, &id, &if_match, k.as_ref())
                .await?
                .map(|()| Reply::no_content())
        }
    };
    Ok(match written {
        Written::Fresh(r) => reply_response(r, false),
        Written::Replayed(r) => reply_response(r, true),
    })
}

/// `GET /v1/customers`: the lookup by email, or a page of the list with a
/// `Link` to the next one.
async fn list(
    app: &App,
    query: ListQuery,
    prefix: &str,
    calls: &Calls,
) -> Result<Response<Body>, ApiError> {
    let (found, next) = match query {
        ListQuery::Email(e) => {
            let found = app.customers.find_by_email(calls, &e.norm).await?;
            (found.into_iter().collect::<Vec<_>>(), None)
        }
        ListQuery::Page {
            limit,
            limit_given,
            start,
            bounds,
        } => {
            let start = start.as_ref().map(|c| c.position.as_str());
            let page = app.customers.page(calls, &bounds, start, limit).await?;
            let next = page.next.map(|position| {
                let token = cursor::encode(&Cursor {
                    position,
                    bounds: bounds.clone(),
                });
                let mut link = format!("{prefix}/v1/customers?cursor={token}");
                if limit_given {
                    link.push_str(&format!("&limit={limit}"));
                }
                for (name, t) in [
                    ("createdAfter", &bounds.after),
                    ("createdBefore", &bounds.before),
                ] {
                    if let Some(t) = t {
                        link.push_str(&format!("&{name}={t}"));
                    }
                }
                (token, link)
            });
            (page.customers, next)
        }
    };
    #[derive(serde::Serialize)]
    struct ListBody<'a> {
        data: Vec<item::View<'a>>,
        #[serde(rename = "nextCursor")]
        next_cursor: Option<&'a str>,
    }
    let body = ListBody {
        data: found.iter().map(|s| item::View(&s.doc)).collect(),
        next_cursor: next.as_ref().map(|(t, _)| t.as_str()),
    };
    let body = serde_json::to_string(&body).map_err(|_| ApiError::Internal)?;
    let mut r = Response::new(Body::Text(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some((_, link)) = next
        && let Ok(v) = HeaderValue::from_str(&format!("<{link}>; rel=\"next\""))
    {
        h.insert(LINK, v);
    }
    Ok(r)
}

fn required_if_match(app: &App, req: &Request) -> Result<IfMatch, ApiError> {
    let m = precondition::parse(req.headers());
    if app.config.require_if_match && !m.is_present() {
        return Err(ApiError::PreconditionRequired);
    }
    Ok(m)
}

/// POST body: `customerId` plus any writable member; `null` means unset.
fn create_doc(req: &Request) -> Result<(Map<String, Value>, Value), ApiError> {
    let bytes = read_body(req)?;
    if !body::is_json(content_type(req, false)?) {
        return Err(unsupported(false));
    }
    let value = body::parse_json(bytes).map_err(ApiError::InvalidJson)?;
    let Value::Object(map) = &value else {
        return Err(ApiError::InvalidJson(
            "The body must be a JSON object.".into(),
        ));
    };
    let id = uuid::Uuid::new_v4().to_string();
    let doc = create::new_customer(map, id, &customers::now(), &customers::today())
        .map_err(ApiError::Invalid)?;
    Ok((doc, value))
}

/// The response a reply stands for; a replay says so in
/// `Idempotent-Replayed` and is otherwise the first answer, byte for byte.
fn reply_response(reply: Reply, replayed: bool) -> Response<Body> {
    let mut r = match reply.body {
        Some(text) => {
            let mut r = Response::new(Body::Text(text));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        None => Response::new(Body::Empty),
    };
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    for (name, value) in [(ETAG, reply.etag), (LOCATION, reply.location)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    if replayed {
        h.insert(idempotency::REPLAYED, HeaderValue::from_static("true"));
    }
    r
}
