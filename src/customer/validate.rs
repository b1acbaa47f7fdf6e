//! Pure validation of JSON values against the field table. Nothing here does
//! I/O; every rule of SPEC §2 lives in one function below.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::customer::email;
use crate::customer::fields::{self, CUSTOMER_ID, Field, Kind, METADATA, TAGS};

/// Why a member was refused; decides the problem `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Unknown,
    ReadOnly,
    Invalid,
    /// A malformed `customerId`; it names the resource, so it outranks the rest.
    CustomerId,
    /// A query parameter the route does not have.
    UnknownParameter,
    /// A list cursor that is malformed or was made for other filters.
    Cursor,
}

impl Violation {
    pub fn code(self) -> &'static str {
        match self {
            Violation::Unknown => "unknown_field",
            Violation::ReadOnly => "read_only_field",
            Violation::Invalid => "validation_failed",
            Violation::CustomerId => "invalid_customer_id",
            Violation::UnknownParameter => "unknown_parameter",
            Violation::Cursor => "invalid_cursor",
        }
    }
}

/// One entry of a problem's `errors[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub param: String,
    pub message: String,
    pub value: Value,
    #[serde(skip)]
    pub violation: Violation,
}

impl FieldError {
    pub fn new(
        violation: Violation,
        param: &str,
        message: impl Into<String>,
        value: &Value,
    ) -> Self {
        FieldError {
            param: param.to_owned(),
            message: message.into(),
            value: value.clone(),
            violation,
        }
    }
}

pub fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

pub fn check_text(s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be {min} to {max} characters")
        });
    }
    if has_control(s) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Email syntax of SPEC §4 (see [`email`]). Returns the address as it is
/// stored: trimmed, otherwise as sent.
pub fn check_email(raw: &str) -> Result<String, String> {
    email::parse(raw).map(|e| e.stored)
}

pub fn check_phone(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() >= 8
        && b.len() <= 16
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[2..].iter().all(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err("must be E.164: + then 7 to 15 digits, the first not 0".into())
    }
}

pub fn check_date(s: &str, today: NaiveDate) -> Result<(), String> {
    let shape_ok = s.len() == 10
        && s.bytes().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let date = if shape_ok {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    } else {
        None
    };
    let Some(date) = date else {
        return Err("must be a real date as YYYY-MM-DD".into());
    };
    let min = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if date < min || date > today {
        return Err("must be between 1900-01-01 and today".into());
    }
    Ok(())
}

pub fn check_country(s: &str) -> Result<(), String> {
    let upper = s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase());
    if upper && isocountry::CountryCode::for_alpha2(s).is_ok() {
        Ok(())
    } else {
        Err("must be an ISO 3166-1 alpha-2 country code in uppercase".into())
    }
}

pub fn check_customer_id(s: &str) -> Result<(), String> {
    let chars_ok = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'));
    // `.` and `..` are legal characters but are path segments to every URL
    // normaliser on the way, so the resource could never be addressed.
    if s.is_empty() || s.len() > CUSTOMER_ID.max || !chars_ok || s == "." || s == ".." {
        return Err(format!(
            "must be 1 to {} characters of A-Z a-z 0-9 _ . : - (not . or ..)",
            CUSTOMER_ID.max
        ));
    }
    Ok(())
}

fn check_metadata_key(k: &str) -> Result<(), String> {
    let n = k.chars().count();
    if n == 0 || n > METADATA.key_max || k.contains(['[', ']']) || has_control(k) {
        return Err(format!(
            "metadata keys must be 1 to {} characters without [ ] or control characters",
            METADATA.key_max
        ));
    }
    Ok(())
}

/// Whether nested `null` members are deletions (merge) or dropped (replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `null` members are dropped: the value is a whole replacement.
    Drop,
    /// `null` members are kept: they delete the member in an RFC 7396 merge.
    Keep,
}

pub struct Ctx {
    pub today: NaiveDate,
}

/// Validates `v` as a value of `kind` at `path`. Pushes every violation and
/// returns the value as it will be stored (emails trimmed, `null` members
/// dropped or kept per `nulls`), or `None` if anything was wrong.
pub fn value(
    kind: Kind,
    v: &Value,
    path: &str,
    nulls: Nulls,
    ctx: &Ctx,
    errs: &mut Vec<FieldError>,
) -> Option<Value> {
    let before = errs.len();
    let out = value_inner(kind, v, path, nulls, ctx, errs);
    if errs.len() == before { out } else { None }
}

fn invalid(
    errs: &mut Vec<FieldError>,
    path: &str,
    msg: impl Into<String>,
    v: &Value,
) -> Option<Value> {
    errs.push(FieldError::new(Violation::Invalid, path, msg, v));
    None
}

fn string_rule(
    v: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
    rule: impl FnOnce(&str) -> Result<(), String>,
) -> Option<Value> {
    match v {
        Value::String(s) => match rule(s) {
            Ok(()) => Some(v.clone()),
            Err(m) => invalid(errs, path, m, v),
        },
        _ => invalid(errs, path, "must be a string", v),
    }
}

fn value_inner(
    kind: Kind,
    v: &Value,
    path: &str,
    nulls: Nulls,
    ctx: &Ctx,
    errs: &mut Vec<FieldError>,
) -> Option<Value> {
    match kind {
        Kind::Text { min, max } => string_rule(v, path, errs, |s| check_text(s, min, max)),
        Kind::Phone => string_rule(v, path, errs, check_phone),
        Kind::Date => string_rule(v, path, errs, |s| check_date(s, ctx.today)),
        Kind::Country => string_rule(v, path, errs, check_country),
        Kind::CustomerId => match v {
            Value::String(s) if check_customer_id(s).is_ok() => Some(v.clone()),
            _ => {
                let msg = match v {
                    Value::String(s) => check_customer_id(s).err().unwrap_or_default(),
                    _ => "must be a string".into(),
                };
                errs.push(FieldError::new(Violation::CustomerId, path, msg, v));
                None
            }
        },
        Kind::Email => match v {
            Value::String(s) => match check_email(s) {
                Ok(trimmed) => Some(Value::String(trimmed)),
                Err(m) => invalid(errs, path, m, v),
            },
            _ => invalid(errs, path, "must be a string", v),
        },
        Kind::Bool => match v {
            Value::Bool(_) => Some(v.clone()),
            _ => invalid(errs, path, "must be true or false", v),
        },
        Kind::Object(members) => object(members, v, path, nulls, ctx, errs),
        Kind::Metadata => metadata(v, path, nulls, errs),
        Kind::Tags => tags(v, path, errs),
        // Read-only kinds are never accepted from a client; the caller refuses
        // them before validation, so reaching here is a refusal too.
        Kind::Uuid | Kind::Timestamp | Kind::Details => {
            errs.push(FieldError::new(
                Violation::ReadOnly,
                path,
                "is read-only",
                v,
            ));
            None
        }
    }
}

fn object(
    members: &'static [Field],
    v: &Value,
    path: &str,
    nulls: Nulls,
    ctx: &Ctx,
    errs: &mut Vec<FieldError>,
) -> Option<Value> {
    let Value::Object(map) = v else {
        return invalid(errs, path, "must be an object", v);
    };
    let mut out = Map::new();
    for (k, mv) in map {
        let p = join(path, k);
        let Some(field) = fields::lookup(members, k) else {
            errs.push(FieldError::new(
                Violation::Unknown,
                &p,
                "is not a known member",
                mv,
            ));
            continue;
        };
        if mv.is_null() {
            if nulls == Nulls::Keep {
                out.insert(k.clone(), Value::Null);
            }
            continue;
        }
        if let Some(clean) = value_inner(field.kind, mv, &p, nulls, ctx, errs) {
            out.insert(k.clone(), clean);
        }
    }
    Some(Value::Object(out))
}

fn metadata(v: &Value, path: &str, nulls: Nulls, errs: &mut Vec<FieldError>) -> Option<Value> {
    let Value::Object(map) = v else {
        return invalid(errs, path, "must be an object of strings", v);
    };
    // In a merge the final count depends on what is stored; it is checked
    // again on the merged result.
    let set = map.values().filter(|x| !x.is_null()).count();
    if set > METADATA.max_keys {
        invalid(
            errs,
            path,
            format!("must have at most {} keys", METADATA.max_keys),
            v,
        );
    }
    let mut out = Map::new();
    for (k, mv) in map {
        let p = join(path, k);
        if let Err(m) = check_metadata_key(k) {
            invalid(errs, &p, m, &Value::String(k.clone()));
            continue;
        }
        match mv {
            Value::Null => {
                if nulls == Nulls::Keep {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::String(s) => match check_text(s, 0, METADATA.value_max) {
                Ok(()) => {
                    out.insert(k.clone(), mv.clone());
                }
                Err(m) => {
                    invalid(errs, &p, m, mv);
                }
            },
            _ => {
                invalid(errs, &p, "must be a string", mv);
            }
        }
    }
    Some(Value::Object(out))
}

fn tags(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<Value> {
    let Value::Array(items) = v else {
        return invalid(errs, path, "must be an array of strings", v);
    };
    if items.len() > TAGS.max_items {
        invalid(
            errs,
            path,
            format!("must have at most {} tags", TAGS.max_items),
            v,
        );
    }
    for (i, t) in items.iter().enumerate() {
        let p = join(path, &i.to_string());
        match t {
            Value::String(s) => {
                if let Err(m) = check_text(s, 1, TAGS.item_max) {
                    invalid(errs, &p, m, t);
                } else if items[..i].contains(t) {
                    invalid(errs, &p, "duplicates an earlier tag", t);
                }
            }
            _ => {
                invalid(errs, &p, "must be a string", t);
            }
        }
    }
    Some(v.clone())
}

/// Validates a whole stored-shape customer document (writable members only),
/// as produced by applying a patch. Catches limits a patch alone cannot know,
/// such as the metadata key count after a merge.
pub fn customer(doc: &Map<String, Value>, ctx: &Ctx) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for field in fields::CUSTOMER
        .iter()
        .filter(|f| f.access != fields::Access::ReadOnly)
    {
        if let Some(v) = doc.get(field.name) {
            value(field.kind, v, field.name, Nulls::Drop, ctx, &mut errs);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn check(kind: Kind, v: Value) -> Result<Value, Vec<FieldError>> {
        let mut errs = Vec::new();
        match value(kind, &v, "f", Nulls::Drop, &ctx(), &mut errs) {
            Some(x) => Ok(x),
            None => Err(errs),
        }
    }

    fn ok(kind: Kind, v: Value) -> bool {
        check(kind, v).is_ok()
    }

    #[test]
    fn text_limits_at_the_boundary() {
        let k = Kind::Text { min: 1, max: 256 };
        assert!(ok(k, json!("a".repeat(256))));
        assert!(!ok(k, json!("a".repeat(257))));
        assert!(!ok(k, json!("")));
        // Characters, not bytes.
        assert!(ok(k, json!("é".repeat(256))));
        assert!(!ok(k, json!("a\u{7}b")));
        assert!(!ok(k, json!("line\nbreak")));
        assert!(!ok(k, json!(12)));
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            check(Kind::Email, json!("  Jane@Example.com ")).unwrap(),
            json!("Jane@Example.com")
        );
        let local64 = format!("{}@example.com", "a".repeat(64));
        assert!(ok(Kind::Email, json!(local64)));
        let local65 = format!("{}@example.com", "a".repeat(65));
        assert!(!ok(Kind::Email, json!(local65)));
        // Labels of at most 63 (SPEC §4); the old 189-character label is
        // refused now, as email-validator refuses it.
        let labels = |last: usize| format!("{0}.{0}.{1}.com", "b".repeat(63), "b".repeat(last));
        let at_254 = format!("{}@{}", "a".repeat(60), labels(61));
        assert_eq!(at_254.len(), 254);
        assert!(ok(Kind::Email, json!(at_254)));
        let at_255 = format!("{}@{}", "a".repeat(60), labels(62));
        assert!(!ok(Kind::Email, json!(at_255)));
        assert!(!ok(Kind::Email, json!(format!("a@{}.com", "b".repeat(64)))));
        for bad in [
            "a@b",
            "a@@b.com",
            "ab.com",
            "a b@c.com",
            "@b.com",
            "a@.com",
            "a@b.",
            "a@b..com",
            "",
        ] {
            assert!(!ok(Kind::Email, json!(bad)), "{bad}");
        }
    }

    #[test]
    fn phone_is_e164() {
        assert!(ok(Kind::Phone, json!("+1987654")));
        assert!(ok(Kind::Phone, json!("+123456789012345")));
        assert!(!ok(Kind::Phone, json!("+1234567890123456")));
        assert!(!ok(Kind::Phone, json!("+198765")));
        assert!(!ok(Kind::Phone, json!("+0987654321")));
        assert!(!ok(Kind::Phone, json!("1987654321")));
        assert!(!ok(Kind::Phone, json!("+1 987654321")));
    }

    #[test]
    fn dates_are_real_and_in_range() {
        assert!(ok(Kind::Date, json!("1900-01-01")));
        assert!(ok(Kind::Date, json!("2026-11-23")));
        assert!(ok(Kind::Date, json!("2024-02-29")));
        assert!(!ok(Kind::Date, json!("1899-12-31")));
        assert!(!ok(Kind::Date, json!("2026-11-24")));
        assert!(!ok(Kind::Date, json!("2023-02-29")));
        assert!(!ok(Kind::Date, json!("1990-5-15")));
        assert!(!ok(Kind::Date, json!("+1990-05-15")));
    }

    #[test]
    fn countries_are_real_uppercase_codes() {
        assert!(ok(Kind::Country, json!("IN")));
        assert!(ok(Kind::Country, json!("US")));
        assert!(!ok(Kind::Country, json!("us")));
        assert!(!ok(Kind::Country, json!("ZZ")));
        assert!(!ok(Kind::Country, json!("USA")));
    }

    #[test]
    fn customer_ids() {
        assert!(check_customer_id(&"a".repeat(128)).is_ok());
        assert!(check_customer_id(&"a".repeat(129)).is_err());
        assert!(check_customer_id("cust_abc-1.2:3").is_ok());
        for bad in ["", ".", "..", "a/b", "a%2Fb", "a b", "ü"] {
            assert!(check_customer_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_limits() {
        let fifty: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(ok(Kind::Metadata, Value::Object(fifty.clone())));
        let mut fifty_one = fifty;
        fifty_one.insert("k50".into(), json!("v"));
        assert!(!ok(Kind::Metadata, Value::Object(fifty_one)));
        assert!(ok(
            Kind::Metadata,
            json!({ "a".repeat(40): "x".repeat(500) })
        ));
        assert!(!ok(Kind::Metadata, json!({ "a".repeat(41): "x" })));
        assert!(!ok(Kind::Metadata, json!({ "k": "x".repeat(501) })));
        assert!(!ok(Kind::Metadata, json!({ "a[0]": "x" })));
        assert!(!ok(Kind::Metadata, json!({ "": "x" })));
        assert!(!ok(Kind::Metadata, json!({ "k": 1 })));
        assert!(ok(
            Kind::Metadata,
            json!({ "a.b": "x", "#x": "y", ":v": "z", "name": "n", "😀": "e" })
        ));
    }

    #[test]
    fn tag_limits() {
        let fifty: Vec<Value> = (0..50).map(|i| json!(format!("t{i}"))).collect();
        assert!(ok(Kind::Tags, Value::Array(fifty.clone())));
        let mut fifty_one = fifty;
        fifty_one.push(json!("t50"));
        assert!(!ok(Kind::Tags, Value::Array(fifty_one)));
        assert!(ok(Kind::Tags, json!(["x".repeat(64)])));
        assert!(!ok(Kind::Tags, json!(["x".repeat(65)])));
        let errs = check(Kind::Tags, json!(["a", "b", "a"])).unwrap_err();
        assert_eq!(errs[0].param, "f.2");
        assert!(!ok(Kind::Tags, json!([""])));
    }

    #[test]
    fn objects_report_every_violation_with_dotted_paths() {
        let errs = check(
            Kind::Object(fields::ADDRESS),
            json!({"country": "zz", "city": "", "planet": "Mars", "line1": "ok"}),
        )
        .unwrap_err();
        let params: Vec<_> = errs.iter().map(|e| e.param.as_str()).collect();
        assert_eq!(params, vec!["f.country", "f.city", "f.planet"]);
        assert_eq!(errs[2].violation, Violation::Unknown);
    }

    #[test]
    fn replace_drops_nulls_and_merge_keeps_them() {
        let v = json!({"line1": "a", "city": null});
        assert_eq!(
            check(Kind::Object(fields::ADDRESS), v.clone()).unwrap(),
            json!({"line1": "a"})
        );
        let mut errs = Vec::new();
        let kept = value(
            Kind::Object(fields::ADDRESS),
            &v,
            "address",
            Nulls::Keep,
            &ctx(),
            &mut errs,
        );
        assert_eq!(kept, Some(v));
    }
}
