//! What a key issued by `customers-admin` looks like: `cak_<id>_<secret>`,
//! the secret 32 random bytes in lowercase hex. Pure: the caller brings the
//! random bytes. The prefix and the id let a secret scanner, a log reader or
//! an operator tell which entry of the keys parameter a leaked key is,
//! without comparing it against every hash; the secret alone authenticates.
//!
//! Hex keeps the whole key an RFC 6750 b64token (what `bearer` accepts) and
//! contains no `_`, so the id is everything between the prefix and the last
//! `_` whatever ids contain. Base64url would be shorter but carries `_` and
//! `-` itself, leaving the id recoverable only by counting characters.

use crate::auth::keys::SCOPES;

pub const PREFIX: &str = "cak_";
pub const SECRET_BYTES: usize = 32;
pub const ID_MAX: usize = 64;

/// An id for a new key: 1–64 of `[A-Za-z0-9_-]`, starting with a letter or
/// digit (the characters a b64token allows that need no quoting in a shell
/// or a URL, minus `.` `~` `+` `/`).
pub fn check_key_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n == 0 || n > ID_MAX {
        return Err(format!("must be 1 to {ID_MAX} characters"));
    }
    if !id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
    {
        return Err("may contain only letters, digits, `_` and `-`".into());
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or a digit".into());
    }
    Ok(())
}

/// The key for `id` and `secret` (`id` already checked).
pub fn format_key(id: &str, secret: &[u8; SECRET_BYTES]) -> String {
    format!("{PREFIX}{id}_{}", hex::encode(secret))
}

/// The id a key of this format names, if it is one.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.rsplit_once('_')?;
    let hex_secret = secret.len() == 2 * SECRET_BYTES
        && secret
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    (hex_secret && check_key_id(id).is_ok()).then_some(id)
}

/// `customers:read,customers:write`: known scopes, at least one, no repeats.
pub fn parse_scopes(list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in list.split(',').map(str::trim) {
        if !SCOPES.contains(&s) {
            return Err(format!(
                "unknown scope `{s}` (known: {})",
                SCOPES.join(", ")
            ));
        }
        if out.iter().any(|o| o == s) {
            return Err(format!("scope `{s}` is listed twice"));
        }
        out.push(s.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn a_key_is_a_bearer_token_and_names_its_id() {
        for id in [
            "key_1",
            "ci-deploy",
            "a",
            "local_write",
            &"x".repeat(ID_MAX),
        ] {
            let key = format_key(id, &[0xab; SECRET_BYTES]);
            assert_eq!(key.len(), PREFIX.len() + id.len() + 1 + 64);
            assert_eq!(key_id(&key), Some(id));
            let mut h = HeaderMap::new();
            let v = HeaderValue::from_str(&format!("Bearer {key}")).unwrap();
            h.insert(header::AUTHORIZATION, v);
            assert_eq!(crate::auth::bearer(&h).ok(), Some(key.as_str()));
        }
        assert_eq!(key_id("local-write-key"), None);
        assert_eq!(key_id(&format!("cak_a_{}", "A".repeat(64))), None);
        assert_eq!(key_id(&format!("cak__{}", "a".repeat(64))), None);
    }

    #[test]
    fn ids_outside_the_charset_are_refused() {
        for bad in [
            "",
            "-a",
            "_a",
            "a b",
            "a.b",
            "a/b",
            "é",
            &"x".repeat(ID_MAX + 1),
        ] {
            assert!(check_key_id(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "key_1", "A-9_z"] {
            assert!(check_key_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn scopes_are_known_and_distinct() {
        assert_eq!(
            parse_scopes("customers:read, customers:write").unwrap(),
            ["customers:read", "customers:write"]
        );
        assert!(parse_scopes("").is_err());
        assert!(parse_scopes("customers:admin").is_err());
        assert!(parse_scopes("customers:read,customers:read").is_err());
    }
}
