//! `Idempotency-Key` on the wire (SPEC §11): the header's value, the id of
//! its record (scoped to the API key that sent it), and the fingerprint of
//! the request it names. Pure.
//!
//! The header is parsed by hand rather than with an RFC 8941 crate: the SPEC
//! also accepts the bare form (`abc-123`), which is not an sf-token when it
//! starts with a digit, so a structured-field parser would refuse keys that
//! clients send today; the sf-string part is four lines.

use lambda_http::http::{HeaderMap, Method};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::customer::patch::Mode;
use crate::error::ApiError;
use crate::store::precondition::IfMatch;

pub const HEADER: &str = "idempotency-key";
/// Sent on every replayed response (Stripe's name; the IETF draft has none).
pub const REPLAYED: &str = "idempotent-replayed";
pub const MAX_LEN: usize = 255;

const BAD: &str = "Idempotency-Key must be 1-255 printable ASCII characters (0x21-0x7E), bare or as a quoted sf-string.";

/// The key a write request carries: `None` without the header.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidIdempotencyKey(
            "Send one Idempotency-Key header, not several.",
        ));
    }
    let raw = value
        .to_str()
        .map_err(|_| ApiError::InvalidIdempotencyKey(BAD))?
        .trim_matches(|c| c == ' ' || c == '\t');
    parse(raw)
        .map(Some)
        .ok_or(ApiError::InvalidIdempotencyKey(BAD))
}

/// `"abc"` (an RFC 8941 sf-string, `\"` and `\\` escaped) or `abc`; either
/// way 1-255 characters from 0x21 to 0x7E once unquoted, so both spellings
/// name one key.
fn parse(raw: &str) -> Option<String> {
    let inner = match raw.strip_prefix('"') {
        Some(rest) => unquote(rest.strip_suffix('"')?)?,
        None => raw.to_owned(),
    };
    let printable = inner.bytes().all(|b| (0x21..=0x7e).contains(&b));
    (printable && (1..=MAX_LEN).contains(&inner.len())).then_some(inner)
}

fn unquote(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The id of the record: SHA-256 over the API key's id and the idempotency
/// key, length-prefixed so no two pairs share an id. Two API keys never
/// see each other's records, and the stored id reveals neither key.
pub fn record_id(api_key_id: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update((api_key_id.len() as u64).to_be_bytes());
    h.update(api_key_id.as_bytes());
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// What a retry must repeat for its key to replay (SPEC §11): the method,
/// the resource, the PATCH dialect, `If-Match`, and the body as JSON. The
/// body is in RFC 8785 canonical form, so member order, whitespace and
/// number spelling (`1.0` / `1`) do not matter; values do.
pub fn fingerprint(
    method: &Method,
    path: &str,
    mode: Option<Mode>,
    if_match: &IfMatch,
    body: Option<&Value>,
) -> String {
    let if_match = match if_match {
        IfMatch::None => Value::Null,
        IfMatch::Any => json!("*"),
        IfMatch::Versions(v) => {
            let mut v = v.clone();
            v.sort_unstable();
            v.dedup();
            json!(v)
        }
    };
    let mode = mode.map(|m| match m {
        Mode::Json => "application/json",
        Mode::MergePatch => "application/merge-patch+json",
    });
    let doc = json!({
        "method": method.as_str(),
        "path": path,
        "mode": mode,
        "ifMatch": if_match,
        "body": body,
    });
    // Serializing a `Value` cannot fail; an empty string would only make
    // every such request share one fingerprint, never replay another's.
    let canonical = serde_jcs::to_string(&doc).unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn k(v: &str) -> Result<Option<String>, &'static str> {
        key(&headers(&[v])).map_err(|e| e.code())
    }

    #[test]
    fn bare_and_quoted_name_one_key() {
        assert_eq!(k("abc-123"), Ok(Some("abc-123".into())));
        assert_eq!(k("\"abc-123\""), Ok(Some("abc-123".into())));
        assert_eq!(k(" 8e03978e-40d5 "), Ok(Some("8e03978e-40d5".into())));
        assert_eq!(k(r#""a\"b\\c""#), Ok(Some(r#"a"b\c"#.into())));
        assert_eq!(k(&"x".repeat(255)), Ok(Some("x".repeat(255))));
        assert_eq!(key(&HeaderMap::new()).map_err(|e| e.code()), Ok(None));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "\"\"",
            "a b",
            "\"a b\"",
            "\"abc",
            "\"a\"b\"",
            r#""a\nb""#,
            "caf\u{e9}",
        ] {
            let h = match HeaderValue::from_bytes(bad.as_bytes()) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let mut m = HeaderMap::new();
            m.insert(HEADER, h);
            assert_eq!(
                key(&m).map_err(|e| e.code()),
                Err("invalid_idempotency_key"),
                "{bad:?}"
            );
        }
        assert_eq!(k(&"x".repeat(256)), Err("invalid_idempotency_key"));
        assert_eq!(
            key(&headers(&["a", "b"])).map_err(|e| e.code()),
            Err("invalid_idempotency_key")
        );
    }

    #[test]
    fn record_ids_are_scoped_to_the_api_key() {
        assert_ne!(record_id("key_1", "abc"), record_id("key_2", "abc"));
        assert_ne!(record_id("ab", "c"), record_id("a", "bc"));
        assert_eq!(record_id("key_1", "abc"), record_id("key_1", "abc"));
        assert_eq!(record_id("k", "x").len(), 64);
    }

    #[test]
    fn fingerprints_ignore_spelling_not_values() {
        let fp = |body: &str, m: &IfMatch, mode: Option<Mode>| {
            let v: Value = serde_json::from_str(body).unwrap();
            fingerprint(&Method::PATCH, "/v1/customers/c", mode, m, Some(&v))
        };
        let none = IfMatch::None;
        let base = fp(r#"{"name":"A","tags":["x"]}"#, &none, Some(Mode::Json));
        assert_eq!(
            base,
            fp(
                r#"{ "tags": ["x"],  "name": "A" }"#,
                &none,
                Some(Mode::Json)
            )
        );
        assert_eq!(
            fp(r#"{"n":1.0}"#, &none, Some(Mode::Json)),
            fp(r#"{"n":1}"#, &none, Some(Mode::Json))
        );
        assert_ne!(
            base,
            fp(r#"{"name":"B","tags":["x"]}"#, &none, Some(Mode::Json))
        );
        assert_ne!(
            base,
            fp(
                r#"{"name":"A","tags":["x"]}"#,
                &none,
                Some(Mode::MergePatch)
            )
        );
        let v3 = IfMatch::Versions(vec![3]);
        assert_ne!(
            base,
            fp(r#"{"name":"A","tags":["x"]}"#, &v3, Some(Mode::Json))
        );
        assert_eq!(
            fp("{}", &IfMatch::Versions(vec![3, 2]), None),
            fp("{}", &IfMatch::Versions(vec![2, 3, 3]), None)
        );
        let v: Value = serde_json::from_str(r#"{"name":"A","tags":["x"]}"#).unwrap();
        assert_ne!(
            base,
            fingerprint(
                &Method::PATCH,
                "/v1/customers/d",
                Some(Mode::Json),
                &none,
                Some(&v)
            )
        );
        assert_ne!(
            fingerprint(&Method::DELETE, "/v1/customers/d", None, &none, None),
            fingerprint(&Method::PATCH, "/v1/customers/d", None, &none, None)
        );
    }
}
