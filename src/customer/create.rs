//! What a POST body means (SPEC §1): `customerId` plus any writable member
//! of §2, validated by the same rules as a PATCH, `null` and absent both
//! meaning unset. An import (`customers-admin import`) is the same body
//! that may also carry the server-owned members of an export, kept when
//! valid, so that an export restores as it was. Pure: the caller supplies
//! the new id and the clock.

use serde_json::{Map, Value};

use crate::customer::fields::Kind;
use crate::customer::patch::{self, Change};
use crate::customer::validate::{self, Ctx, FieldError, Nulls, Violation};

/// The server-owned members an import may carry; a POST refuses them.
pub const KEPT_ON_IMPORT: &[&str] = &["id", "createdAt", "updatedAt", "details"];

/// Where a new customer's body comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `POST /v1/customers`: server-owned members are read-only.
    Post,
    /// A line of an import: `id`, `createdAt`, `updatedAt` and `details`
    /// are kept when present (and valid), generated otherwise.
    Import,
}

/// The document of a new customer with server id `id`, created at `now`, or
/// every violation in the body at once.
pub fn new_customer(
    body: &Map<String, Value>,
    id: String,
    now: &str,
    ctx: &Ctx,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    build(body, id, now, ctx, Origin::Post)
}

/// [`new_customer`] for an import line: the members of
/// [`KEPT_ON_IMPORT`] in `body` win over `id` and `now`.
pub fn imported_customer(
    body: &Map<String, Value>,
    id: String,
    now: &str,
    ctx: &Ctx,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    build(body, id, now, ctx, Origin::Import)
}

/// A UUID v4 as the server writes it: lowercase, hyphenated.
pub fn check_uuid(s: &str) -> Result<(), String> {
    match uuid::Uuid::parse_str(s) {
        Ok(u) if u.get_version_num() == 4 && u.hyphenated().to_string() == s => Ok(()),
        _ => Err("must be a UUID v4, lowercase and hyphenated".into()),
    }
}

/// RFC 3339 UTC with microseconds, as the server writes it.
pub fn check_timestamp(s: &str) -> Result<(), String> {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
    match chrono::NaiveDateTime::parse_from_str(s, FORMAT) {
        Ok(t) if t.format(FORMAT).to_string() == s => Ok(()),
        _ => Err(
            "must be an RFC 3339 UTC time with microseconds, e.g. 2025-06-04T06:03:30.195790Z"
                .into(),
        ),
    }
}

/// The server-owned members of an import line: (id, createdAt, updatedAt,
/// details), each `None` when absent or `null`.
type Kept = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Value>,
);

fn kept_members(body: &Map<String, Value>, errs: &mut Vec<FieldError>) -> Kept {
    let mut text = |name: &str, rule: fn(&str) -> Result<(), String>| match body.get(name) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let checked = match v {
                Value::String(s) => rule(s),
                _ => Err("must be a string".into()),
            };
            match checked {
                Ok(()) => v.as_str().map(str::to_owned),
                Err(m) => {
                    errs.push(FieldError::new(Violation::Invalid, name, m, v));
                    None
                }
            }
        }
    };
    let id = text("id", check_uuid);
    let created = text("createdAt", check_timestamp);
    let updated = text("updatedAt", check_timestamp);
    match (&created, &updated, body.get("updatedAt")) {
        (Some(c), Some(u), Some(v)) if u < c => errs.push(FieldError::new(
            Violation::Invalid,
            "updatedAt",
            "must not be before createdAt",
            v,
        )),
        (None, Some(_), Some(v)) if body.get("createdAt").is_none_or(|c| c.is_null()) => errs.push(
            FieldError::new(Violation::Invalid, "updatedAt", "requires createdAt", v),
        ),
        _ => {}
    }
    let details = match body.get("details") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => match patch::set_or_clear(v.clone()) {
            Change::Set(d) => Some(d),
            _ => None,
        },
        Some(v) => {
            errs.push(FieldError::new(
                Violation::Invalid,
                "details",
                "must be an object",
                v,
            ));
            None
        }
    };
    (id, created, updated, details)
}

fn build(
    body: &Map<String, Value>,
    id: String,
    now: &str,
    ctx: &Ctx,
    origin: Origin,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errs: Vec<FieldError> = Vec::new();
    let (kept_id, created, updated, details) = match origin {
        Origin::Post => (None, None, None, None),
        Origin::Import => kept_members(body, &mut errs),
    };
    let id_value = body.get("customerId").cloned().unwrap_or(Value::Null);
    if id_value.is_null() {
        errs.push(FieldError::new(
            Violation::CustomerId,
            "customerId",
            "is required",
            &id_value,
        ));
    } else {
        validate::value(
            Kind::CustomerId,
            &id_value,
            "customerId",
            Nulls::Drop,
            ctx,
            &mut errs,
        );
    }
    let mut doc = Map::new();
    doc.insert("id".into(), Value::String(kept_id.unwrap_or(id)));
    doc.insert("customerId".into(), id_value);
    for (name, v) in body {
        if name == "customerId"
            || (origin == Origin::Import && KEPT_ON_IMPORT.contains(&name.as_str()))
        {
            continue;
        }
        let Some(field) = patch::writable_field(name, v, &mut errs) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let clean = validate::value(field.kind, v, name, Nulls::Drop, ctx, &mut errs);
        if let Some(Change::Set(clean)) = clean.map(patch::set_or_clear) {
            doc.insert(name.clone(), clean);
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    if let Some(d) = details {
        doc.insert("details".into(), d);
    }
    let created = created.unwrap_or_else(|| now.to_owned());
    let updated = updated.unwrap_or_else(|| created.clone());
    doc.insert("createdAt".into(), Value::String(created));
    doc.insert("updatedAt".into(), Value::String(updated));
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx {
            today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_valid_body_becomes_a_document_with_server_members() {
        let doc = new_customer(
            &obj(json!({"customerId": "c1", "name": "N", "phone": null})),
            "uuid".into(),
            "2026-01-01T00:00:00.000000Z",
            &ctx(),
        )
        .unwrap();
        assert_eq!(doc["id"], "uuid");
        assert_eq!(doc["customerId"], "c1");
        assert_eq!(doc["name"], "N");
        assert!(!doc.contains_key("phone"));
        assert_eq!(doc["createdAt"], doc["updatedAt"]);
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let errs = new_customer(
            &obj(json!({"name": "", "id": "x", "bogus": 1})),
            "uuid".into(),
            "now",
            &ctx(),
        )
        .unwrap_err();
        let params: Vec<&str> = errs.iter().map(|e| e.param.as_str()).collect();
        assert!(params.contains(&"customerId"), "{params:?}");
        assert!(params.contains(&"name"), "{params:?}");
        assert!(params.contains(&"id"), "{params:?}");
        assert!(params.contains(&"bogus"), "{params:?}");
    }

    #[test]
    fn an_import_keeps_valid_server_members_and_a_post_refuses_them() {
        let body = obj(json!({
            "customerId": "c1",
            "id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
            "createdAt": "2025-06-04T06:03:30.195790Z",
            "updatedAt": "2025-06-05T06:03:30.195790Z",
            "details": {},
            "email": null
        }));
        let doc =
            imported_customer(&body, "gen".into(), "2026-01-01T00:00:00.000000Z", &ctx()).unwrap();
        assert_eq!(doc["id"], "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b");
        assert_eq!(doc["createdAt"], "2025-06-04T06:03:30.195790Z");
        assert_eq!(doc["updatedAt"], "2025-06-05T06:03:30.195790Z");
        assert!(!doc.contains_key("details"), "an empty object is unset");
        let errs = new_customer(&body, "gen".into(), "now", &ctx()).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().all(|e| e.violation == Violation::ReadOnly));

        let bare = imported_customer(
            &obj(json!({"customerId": "c2"})),
            "gen".into(),
            "t0",
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            (&bare["id"], &bare["createdAt"], &bare["updatedAt"]),
            (&json!("gen"), &json!("t0"), &json!("t0"))
        );
        let created_only =
            obj(json!({"customerId": "c", "createdAt": "2025-06-04T06:03:30.195790Z"}));
        let doc = imported_customer(&created_only, "gen".into(), "t0", &ctx()).unwrap();
        assert_eq!(doc["updatedAt"], "2025-06-04T06:03:30.195790Z");
    }

    #[test]
    fn invalid_server_members_of_an_import_are_reported() {
        for (body, param) in [
            (
                json!({"customerId": "c", "id": "1B4E28BA-2FA1-4D3B-A3F5-EF19B5A7633B"}),
                "id",
            ),
            (
                json!({"customerId": "c", "id": "1b4e28ba-2fa1-1d3b-a3f5-ef19b5a7633b"}),
                "id",
            ),
            (json!({"customerId": "c", "id": 7}), "id"),
            (
                json!({"customerId": "c", "createdAt": "2025-06-04T06:03:30Z"}),
                "createdAt",
            ),
            (
                json!({"customerId": "c", "createdAt": "2025-02-30T06:03:30.195790Z"}),
                "createdAt",
            ),
            (
                json!({"customerId": "c", "updatedAt": "2025-06-04T06:03:30.195790Z"}),
                "updatedAt",
            ),
            (
                json!({"customerId": "c", "createdAt": "2025-06-05T00:00:00.000000Z", "updatedAt": "2025-06-04T00:00:00.000000Z"}),
                "updatedAt",
            ),
            (json!({"customerId": "c", "details": []}), "details"),
        ] {
            let errs = imported_customer(&obj(body.clone()), "g".into(), "t", &ctx()).unwrap_err();
            let params: Vec<&str> = errs.iter().map(|e| e.param.as_str()).collect();
            assert_eq!(params, [param], "{body}");
        }
    }
}
