//! `If-Match` and `ETag` on the wire (SPEC §5): `*` or a list of entity
//! tags, compared strongly against `"<version>"`.

use lambda_http::http::HeaderMap;
use lambda_http::http::header::IF_MATCH;

pub use crate::store::precondition::{IfMatch, etag};

pub fn parse(headers: &HeaderMap) -> IfMatch {
    let values: Vec<&str> = headers
        .get_all(IF_MATCH)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    if values.is_empty() {
        return IfMatch::None;
    }
    let tags: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if tags.contains(&"*") {
        return IfMatch::Any;
    }
    let versions = tags
        .iter()
        .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse::<u64>().ok())
        .collect();
    IfMatch::Versions(versions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn p(v: &str) -> IfMatch {
        let mut h = HeaderMap::new();
        h.insert(IF_MATCH, HeaderValue::from_str(v).unwrap());
        parse(&h)
    }

    #[test]
    fn parsing() {
        assert_eq!(parse(&HeaderMap::new()), IfMatch::None);
        assert_eq!(p("*"), IfMatch::Any);
        assert_eq!(p("\"3\""), IfMatch::Versions(vec![3]));
        assert_eq!(p("\"3\", \"5\""), IfMatch::Versions(vec![3, 5]));
        assert_eq!(p("W/\"3\""), IfMatch::Versions(vec![]));
        assert_eq!(p("3"), IfMatch::Versions(vec![]));
        assert!(p("\"3\"").matches(3));
        assert!(!p("\"3\"").matches(4));
        assert_eq!(etag(12), "\"12\"");
    }
}
