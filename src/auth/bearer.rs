//! The bearer key of a request (RFC 6750): exactly one `Authorization`
//! header, scheme `Bearer` in any case, one b64token. Pure.

use lambda_http::http::{HeaderMap, header};

use crate::error::ApiError;

/// The presented bearer key: exactly one `Authorization` header, scheme
/// `Bearer` (any case), one RFC 6750 b64token.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::Unauthorized(
            "Send exactly one `Authorization: Bearer <key>` header.",
        ));
    };
    let malformed = ApiError::Unauthorized("The Authorization header must be `Bearer <key>`.");
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("The Authorization header must be `Bearer <key>`."))?;
    let Some((scheme, token)) = text.split_once(' ') else {
        return Err(malformed);
    };
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body.bytes().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if !scheme.eq_ignore_ascii_case("bearer") || !b64token {
        return Err(malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&headers(&["Bearer abc"])).unwrap(), "abc");
        assert_eq!(
            bearer(&headers(&["bearer a-b.c_d~e+f/g=="])).unwrap(),
            "a-b.c_d~e+f/g=="
        );
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer a,b",
            "Bearer a b",
            "abc",
            "Bearer ==",
        ] {
            assert!(bearer(&headers(&[bad])).is_err(), "{bad}");
        }
        assert!(bearer(&headers(&[])).is_err());
        assert!(bearer(&headers(&["Bearer a", "Bearer a"])).is_err());
    }
}
