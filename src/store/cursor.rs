//! The list's cursor (SPEC §12): opaque to clients, it holds the position
//! the next page starts after and the `createdAt` bounds it was made for,
//! so a cursor cannot be used with other filters. It is base64url of a
//! short checksum and a small JSON document. The checksum is no signature
//! (a cursor only names a position any reader may reach): it makes an
//! edited or truncated cursor a 400 `invalid_cursor` rather than a page
//! from somewhere else. The limit is not part of it: each page may ask for
//! its own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::page::{self, Bounds};

const VERSION: u32 = 1;
const CHECKSUM_LEN: usize = 8;
/// Far above any cursor we make (~150 bytes); refused before decoding.
const MAX_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The `listSk` of the last customer of the previous page.
    pub position: String,
    pub bounds: Bounds,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    p: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("is not a cursor this API returned")]
    Malformed,
    #[error("was made for other createdAfter/createdBefore filters")]
    Foreign,
}

fn checksum(json: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update(b"customers-api list cursor\0")
        .chain_update(json)
        .finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

pub fn encode(c: &Cursor) -> String {
    let wire = Wire {
        v: VERSION,
        p: c.position.clone(),
        a: c.bounds.after.clone(),
        b: c.bounds.before.clone(),
    };
    // Serializing strings cannot fail; an empty cursor would only be refused.
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    let mut bytes = checksum(&json).to_vec();
    bytes.extend_from_slice(&json);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes `token` and checks that it was made for `bounds`.
pub fn decode(token: &str, bounds: &Bounds) -> Result<Cursor, CursorError> {
    if token.is_empty() || token.len() > MAX_LEN {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| CursorError::Malformed)?;
    if bytes.len() <= CHECKSUM_LEN {
        return Err(CursorError::Malformed);
    }
    let (sum, json) = bytes.split_at(CHECKSUM_LEN);
    if sum != checksum(json) {
        return Err(CursorError::Malformed);
    }
    let wire: Wire = serde_json::from_slice(json).map_err(|_| CursorError::Malformed)?;
    let stamps_ok = [&wire.a, &wire.b]
        .iter()
        .all(|t| t.as_deref().is_none_or(page::is_timestamp));
    if wire.v != VERSION || page::customer_id_of(&wire.p).is_none() || !stamps_ok {
        return Err(CursorError::Malformed);
    }
    let made_for = Bounds {
        after: wire.a,
        before: wire.b,
    };
    if &made_for != bounds {
        return Err(CursorError::Foreign);
    }
    if !page::within(&wire.p, bounds) {
        return Err(CursorError::Malformed);
    }
    Ok(Cursor {
        position: wire.p,
        bounds: made_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "2026-01-01T00:00:00.000000Z";
    const P: &str = "2026-01-02T03:04:05.000006Z#cust_1";

    fn cursor(after: Option<&str>) -> Cursor {
        Cursor {
            position: P.into(),
            bounds: Bounds {
                after: after.map(str::to_owned),
                before: None,
            },
        }
    }

    #[test]
    fn round_trip() {
        for c in [cursor(None), cursor(Some(A))] {
            let t = encode(&c);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(decode(&t, &c.bounds), Ok(c));
        }
    }

    #[test]
    fn other_filters_are_foreign() {
        let t = encode(&cursor(Some(A)));
        assert_eq!(decode(&t, &Bounds::default()), Err(CursorError::Foreign));
        let t = encode(&cursor(None));
        assert_eq!(
            decode(&t, &cursor(Some(A)).bounds),
            Err(CursorError::Foreign)
        );
    }

    #[test]
    fn every_single_character_edit_is_refused() {
        let c = cursor(None);
        let t = encode(&c);
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..t.len() {
            for r in alphabet.chars().step_by(7) {
                let mut edited = t.clone();
                edited.replace_range(i..=i, &r.to_string());
                if edited != t {
                    assert!(decode(&edited, &c.bounds).is_err(), "{i} {r}");
                }
            }
        }
        assert!(decode(&t[..t.len() - 1], &c.bounds).is_err());
        assert!(decode(&format!("{t}A"), &c.bounds).is_err());
        assert!(decode("", &c.bounds).is_err());
        assert!(decode("%%%", &c.bounds).is_err());
        assert!(decode(&"A".repeat(600), &c.bounds).is_err());
    }

    #[test]
    fn a_well_formed_cursor_must_name_a_position_we_make() {
        let json = br#"{"v":1,"p":"not a position"}"#;
        let mut bytes = checksum(json).to_vec();
        bytes.extend_from_slice(json);
        let t = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(decode(&t, &Bounds::default()), Err(CursorError::Malformed));
    }
}
