//! What a POST body means (SPEC §1): `customerId` plus any writable member
//! of §2, validated by the same rules as a PATCH, `null` and absent both
//! meaning unset. Pure: the caller supplies the new id and the clock.

use serde_json::{Map, Value};

use crate::customer::fields::Kind;
use crate::customer::patch::{self, Change};
use crate::customer::validate::{self, Ctx, FieldError, Nulls, Violation};

/// The document of a new customer with server id `id`, created at `now`, or
/// every violation in the body at once.
pub fn new_customer(
    body: &Map<String, Value>,
    id: String,
    now: &str,
    ctx: &Ctx,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errs: Vec<FieldError> = Vec::new();
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
    doc.insert("id".into(), Value::String(id));
    doc.insert("customerId".into(), id_value);
    for (name, v) in body {
        if name == "customerId" {
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
    doc.insert("createdAt".into(), Value::String(now.to_owned()));
    doc.insert("updatedAt".into(), Value::String(now.to_owned()));
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
}
