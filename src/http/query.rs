//! The query parameters of `GET /v1/customers` (SPEC §12), pure: an email
//! lookup, or a page of the list with its limit, cursor and `createdAt`
//! bounds. Every violation is reported at once, each naming its parameter.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::Value;

use crate::customer::email::{self, Email};
use crate::customer::validate::{FieldError, Violation};
use crate::error::ApiError;
use crate::store::cursor::{self, Cursor};
use crate::store::find::MAX_LIMIT;
use crate::store::page::Bounds;

pub const DEFAULT_LIMIT: usize = 20;
const KNOWN: &[&str] = &["email", "limit", "cursor", "createdAfter", "createdBefore"];

#[derive(Debug, Clone, PartialEq)]
pub enum ListQuery {
    /// `?email=`: the customer holding this address, if any.
    Email(Email),
    /// A page of the list.
    Page {
        limit: usize,
        /// Given when `limit` was sent, so the next link repeats it.
        limit_given: bool,
        start: Option<Cursor>,
        bounds: Bounds,
    },
}

/// Parses the parameters (each name with every value it was given).
pub fn parse<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ListQuery, ApiError> {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in params {
        by_name.entry(k).or_default().push(v);
    }
    let mut errs = Vec::new();
    let mut one = |name: &str| -> Option<&str> {
        let values = by_name.get(name)?;
        if values.len() > 1 {
            errs.push(invalid(name, "must be given at most once", values[0]));
            return None;
        }
        Some(values[0])
    };
    let email_raw = one("email");
    let limit_raw = one("limit");
    let cursor_raw = one("cursor");
    let after_raw = one("createdAfter");
    let before_raw = one("createdBefore");
    for name in by_name.keys().filter(|n| !KNOWN.contains(n)) {
        errs.push(FieldError::new(
            Violation::UnknownParameter,
            name,
            format!(
                "is not a parameter of this route (known: {})",
                KNOWN.join(", ")
            ),
            &Value::String(
                by_name[name]
                    .first()
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ));
    }
    let limit = match limit_raw {
        None => Some(DEFAULT_LIMIT),
        Some(s) => match parse_limit(s) {
            Some(n) => Some(n),
            None => {
                errs.push(invalid(
                    "limit",
                    &format!("must be an integer from 1 to {MAX_LIMIT}"),
                    s,
                ));
                None
            }
        },
    };
    if let Some(raw) = email_raw {
        if cursor_raw.is_some() || after_raw.is_some() || before_raw.is_some() {
            errs.push(invalid(
                "email",
                "cannot be combined with cursor, createdAfter or createdBefore",
                raw,
            ));
        }
        let found = email::parse(raw).map_err(|m| errs.push(invalid("email", &m, raw)));
        return match found {
            Ok(e) if errs.is_empty() => Ok(ListQuery::Email(e)),
            _ => Err(ApiError::Invalid(errs)),
        };
    }
    let mut bound = |name: &str, raw: Option<&str>, round_up: bool| {
        let raw = raw?;
        let t = timestamp(raw, round_up);
        if t.is_none() {
            errs.push(invalid(
                name,
                "must be an RFC 3339 date-time with a time zone, years 0001 to 9999",
                raw,
            ));
        }
        t
    };
    // `createdAt < B` with B finer than microseconds is `< B` rounded up;
    // `createdAt > A` is `> A` rounded down.
    let bounds = Bounds {
        after: bound("createdAfter", after_raw, false),
        before: bound("createdBefore", before_raw, true),
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let start = match cursor_raw {
        None => None,
        Some(raw) => Some(cursor::decode(raw, &bounds).map_err(|e| {
            ApiError::Invalid(vec![FieldError::new(
                Violation::Cursor,
                "cursor",
                e.to_string(),
                &Value::String(raw.to_owned()),
            )])
        })?),
    };
    Ok(ListQuery::Page {
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        limit_given: limit_raw.is_some(),
        start,
        bounds,
    })
}

fn invalid(param: &str, msg: &str, value: &str) -> FieldError {
    FieldError::new(
        Violation::Invalid,
        param,
        msg,
        &Value::String(value.to_owned()),
    )
}

fn parse_limit(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n))
}

/// An RFC 3339 date-time as a stored timestamp (UTC, microseconds).
fn timestamp(s: &str, round_up: bool) -> Option<String> {
    let mut t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    let extra_ns = t.timestamp_subsec_nanos() % 1000;
    if round_up && extra_ns != 0 {
        t = t.checked_add_signed(Duration::nanoseconds(i64::from(1000 - extra_ns)))?;
    }
    if !(1..=9999).contains(&t.year()) {
        return None;
    }
    Some(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cursor::encode;

    fn p(q: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        parse(q.iter().copied())
    }

    fn page(q: &[(&str, &str)]) -> (usize, Option<Cursor>, Bounds) {
        match p(q) {
            Ok(ListQuery::Page {
                limit,
                start,
                bounds,
                ..
            }) => (limit, start, bounds),
            other => panic!("{other:?}"),
        }
    }

    fn refusal(q: &[(&str, &str)]) -> (&'static str, Vec<String>) {
        match p(q) {
            Err(e) => (
                e.code(),
                e.errors().iter().map(|f| f.param.clone()).collect(),
            ),
            Ok(ok) => panic!("accepted: {ok:?}"),
        }
    }

    #[test]
    fn defaults_and_limits() {
        assert_eq!(page(&[]).0, 20);
        assert_eq!(page(&[("limit", "1")]).0, 1);
        assert_eq!(page(&[("limit", "100")]).0, 100);
        for bad in [
            "0", "101", "-1", "+5", "1.0", "", "abc", "1e2", " 5", "0000001",
        ] {
            assert_eq!(
                refusal(&[("limit", bad)]),
                ("validation_failed", vec!["limit".into()]),
                "{bad}"
            );
        }
        assert_eq!(
            refusal(&[("limit", "5"), ("limit", "6")]),
            ("validation_failed", vec!["limit".into()])
        );
    }

    #[test]
    fn unknown_parameters() {
        assert_eq!(
            refusal(&[("page", "2"), ("limit", "5")]),
            ("unknown_parameter", vec!["page".into()])
        );
        assert_eq!(
            refusal(&[("Email", "a@b.com")]),
            ("unknown_parameter", vec!["Email".into()])
        );
    }

    #[test]
    fn email_lookup_and_its_conflicts() {
        match p(&[("email", " Jane@Bücher.DE ")]) {
            Ok(ListQuery::Email(e)) => assert_eq!(e.norm, "jane@xn--bcher-kva.de"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p(&[("email", "a@b.com"), ("limit", "5")]),
            Ok(ListQuery::Email(_))
        ));
        assert_eq!(
            refusal(&[("email", "not-an-email")]),
            ("validation_failed", vec!["email".into()])
        );
        assert_eq!(
            refusal(&[("email", "")]),
            ("validation_failed", vec!["email".into()])
        );
        for other in ["cursor", "createdAfter", "createdBefore"] {
            assert_eq!(
                refusal(&[("email", "a@b.com"), (other, "x")]).0,
                "validation_failed",
                "{other}"
            );
        }
    }

    #[test]
    fn bounds_are_utc_microseconds() {
        let (_, _, b) = page(&[
            ("createdAfter", "2026-01-01T01:00:00.1234567+01:00"),
            ("createdBefore", "2026-01-02T00:00:00.0000001Z"),
        ]);
        assert_eq!(b.after.as_deref(), Some("2026-01-01T00:00:00.123456Z"));
        assert_eq!(b.before.as_deref(), Some("2026-01-02T00:00:00.000001Z"));
        let (_, _, b) = page(&[("createdBefore", "2026-01-02T00:00:00Z")]);
        assert_eq!(b.before.as_deref(), Some("2026-01-02T00:00:00.000000Z"));
        for bad in [
            "2026-01-01",
            "2026-01-01T00:00:00",
            "yesterday",
            "10000-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(
                refusal(&[("createdAfter", bad)]),
                ("validation_failed", vec!["createdAfter".into()]),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_are_bound_to_their_filters() {
        let after = "2026-01-01T00:00:00.000000Z";
        let c = Cursor {
            position: "2026-01-02T00:00:00.000000Z#c".into(),
            bounds: Bounds {
                after: Some(after.into()),
                before: None,
            },
        };
        let t = encode(&c);
        let (_, start, _) = page(&[("cursor", &t), ("createdAfter", "2026-01-01T00:00:00Z")]);
        assert_eq!(start, Some(c));
        assert_eq!(
            refusal(&[("cursor", &t)]),
            ("invalid_cursor", vec!["cursor".into()])
        );
        assert_eq!(
            refusal(&[("cursor", "garbage")]),
            ("invalid_cursor", vec!["cursor".into()])
        );
    }
}
