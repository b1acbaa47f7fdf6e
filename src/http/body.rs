//! Request bodies: size limit, media types, and a JSON parser that refuses
//! duplicate members (serde_json silently keeps the last one, which would let
//! two readers of one body disagree about what it says).

use std::fmt;

use lambda_http::Body;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::customer::patch::Mode;

pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The PATCH media types, for `Accept-Patch`.
pub const ACCEPT_PATCH: &str = "application/json, application/merge-patch+json";

pub fn bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// The media type without parameters, lowercased; `None` when absent.
fn essence(content_type: Option<&str>) -> Option<String> {
    content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// The PATCH dialect named by `Content-Type` (JSON when absent).
pub fn patch_mode(content_type: Option<&str>) -> Option<Mode> {
    match essence(content_type).as_deref() {
        None | Some("application/json") => Some(Mode::Json),
        Some("application/merge-patch+json") => Some(Mode::MergePatch),
        _ => None,
    }
}

pub fn is_json(content_type: Option<&str>) -> bool {
    matches!(
        essence(content_type).as_deref(),
        None | Some("application/json")
    )
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!("duplicate member `{k}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses UTF-8 JSON, refusing duplicate members. The nesting depth is
/// bounded by serde_json's recursion limit (128), so a deep body is an error,
/// not a stack overflow.
pub fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "The body is not valid UTF-8.".to_owned())?;
    serde_json::from_str::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| format!("The body is not valid JSON: {e}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types() {
        assert_eq!(patch_mode(None), Some(Mode::Json));
        assert_eq!(
            patch_mode(Some("Application/JSON; charset=utf-8")),
            Some(Mode::Json)
        );
        assert_eq!(
            patch_mode(Some("application/merge-patch+json")),
            Some(Mode::MergePatch)
        );
        assert_eq!(patch_mode(Some("text/plain")), None);
        assert_eq!(patch_mode(Some("application/json-patch+json")), None);
        assert!(is_json(Some("application/json;charset=UTF-8")));
        assert!(!is_json(Some("application/merge-patch+json")));
    }

    #[test]
    fn strict_json() {
        assert_eq!(
            parse_json(br#"{"a":[1,2.5,"x",null,true]}"#).unwrap(),
            json!({"a":[1,2.5,"x",null,true]})
        );
        assert!(
            parse_json(br#"{"a":1,"a":2}"#)
                .unwrap_err()
                .contains("duplicate member `a`")
        );
        assert!(parse_json(br#"{"x":{"a":1,"a":2}}"#).is_err());
        assert!(parse_json(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        assert!(parse_json(b"{} x").is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_json(deep.as_bytes()).is_err());
    }
}
