//! The list's storage side, pure (SPEC §12): the range a request asks for
//! as a key condition on the list index, and the positions a page starts
//! after. `listSk` is `<createdAt>#<customerId>` with `createdAt` of fixed
//! width, and every customer id character sorts after `#` (and before `$`),
//! so time bounds become string bounds without looking at ids.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::customer::validate::check_customer_id;
use crate::store::expr::Expression;
use crate::store::item::{self, Item, LIST_PARTITION, attr};

/// `createdAt` bounds, both exclusive, as stored timestamps
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    pub after: Option<String>,
    pub before: Option<String>,
}

/// Length of a stored timestamp (`2025-06-04T06:03:30.195790Z`).
pub const TIMESTAMP_LEN: usize = 27;

/// Whether `s` is a timestamp as this service stores them.
pub fn is_timestamp(s: &str) -> bool {
    s.len() == TIMESTAMP_LEN
        && s.ends_with('Z')
        && chrono::NaiveDateTime::parse_from_str(&s[..TIMESTAMP_LEN - 1], "%Y-%m-%dT%H:%M:%S%.6f")
            .is_ok()
}

/// The key condition on the list index for `bounds`, or `None` when the
/// range is empty (BETWEEN with its ends reversed is an error in DynamoDB).
///
/// `createdAt > A` is `listSk >= "A$"`: the keys of customers created at
/// `A` are all `"A#..."`, below `"A$"`. `createdAt < B` is `listSk <= "B"`:
/// no key equals `B`, and those created at `B` are `"B#..."`, above it.
pub fn key_condition(bounds: &Bounds) -> Option<Expression> {
    let mut names = HashMap::from([
        ("#p".to_owned(), attr::LIST_PK.to_owned()),
        ("#s".to_owned(), attr::LIST_SK.to_owned()),
    ]);
    let mut values = HashMap::from([(
        ":p".to_owned(),
        AttributeValue::S(LIST_PARTITION.to_owned()),
    )]);
    let lo = bounds.after.as_ref().map(|a| format!("{a}$"));
    let hi = bounds.before.clone();
    let sort = match (&lo, &hi) {
        (Some(lo), Some(hi)) if lo > hi => return None,
        (Some(_), Some(_)) => Some("#s BETWEEN :lo AND :hi"),
        (Some(_), None) => Some("#s >= :lo"),
        (None, Some(_)) => Some("#s <= :hi"),
        (None, None) => None,
    };
    if let Some(lo) = lo {
        values.insert(":lo".into(), AttributeValue::S(lo));
    }
    if let Some(hi) = hi {
        values.insert(":hi".into(), AttributeValue::S(hi));
    }
    let condition = match sort {
        Some(s) => format!("#p = :p AND {s}"),
        None => {
            names.remove("#s");
            "#p = :p".to_owned()
        }
    };
    Some(Expression {
        update: String::new(),
        condition,
        names,
        values,
    })
}

/// The customer id a position (`listSk`) names, if it is one we make.
pub fn customer_id_of(position: &str) -> Option<&str> {
    let (created, id) = position.split_once('#')?;
    (is_timestamp(created) && check_customer_id(id).is_ok()).then_some(id)
}

/// Whether `position` lies inside `bounds` (a cursor we made always does).
pub fn within(position: &str, bounds: &Bounds) -> bool {
    let created = position.split_once('#').map_or("", |(c, _)| c);
    bounds.after.as_deref().is_none_or(|a| created > a)
        && bounds.before.as_deref().is_none_or(|b| created < b)
}

/// The `ExclusiveStartKey` of the page after `position`: the index keys
/// plus the table key, all derived from the position.
pub fn start_key(position: &str) -> Option<Item> {
    let id = customer_id_of(position)?;
    let mut key = item::key(item::customer_key(id));
    key.insert(
        attr::LIST_PK.into(),
        AttributeValue::S(LIST_PARTITION.into()),
    );
    key.insert(attr::LIST_SK.into(), AttributeValue::S(position.to_owned()));
    Some(key)
}

/// The position of an index entry, as the Query returned it.
pub fn position_of(key: &Item) -> Option<String> {
    match key.get(attr::LIST_SK) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "2026-01-01T00:00:00.000000Z";
    const B: &str = "2026-01-02T00:00:00.000000Z";

    fn bounds(after: Option<&str>, before: Option<&str>) -> Bounds {
        Bounds {
            after: after.map(str::to_owned),
            before: before.map(str::to_owned),
        }
    }

    fn s(v: &AttributeValue) -> &str {
        v.as_s().map(String::as_str).unwrap_or_default()
    }

    #[test]
    fn conditions_for_each_kind_of_range() {
        let e = key_condition(&bounds(None, None)).unwrap();
        assert_eq!(e.condition, "#p = :p");
        assert_eq!(e.names.len(), 1);
        let e = key_condition(&bounds(Some(A), None)).unwrap();
        assert_eq!(e.condition, "#p = :p AND #s >= :lo");
        assert_eq!(s(&e.values[":lo"]), format!("{A}$"));
        let e = key_condition(&bounds(None, Some(B))).unwrap();
        assert_eq!(e.condition, "#p = :p AND #s <= :hi");
        assert_eq!(s(&e.values[":hi"]), B);
        let e = key_condition(&bounds(Some(A), Some(B))).unwrap();
        assert_eq!(e.condition, "#p = :p AND #s BETWEEN :lo AND :hi");
        assert!(key_condition(&bounds(Some(B), Some(A))).is_none());
        assert!(key_condition(&bounds(Some(A), Some(A))).is_none());
    }

    #[test]
    fn string_bounds_are_the_exclusive_time_bounds() {
        // Every id character sorts between `#` and `$`.
        for id in ["-", ".", "0", ":", "A", "_", "z", "zzz"] {
            let at_a = item::list_sk(A, id);
            let at_b = item::list_sk(B, id);
            let lo = format!("{A}$");
            assert!(at_a < lo && at_b > lo, "{id}");
            assert!(at_b.as_str() > B && at_a.as_str() < B, "{id}");
        }
    }

    #[test]
    fn positions_round_trip_and_refuse_forgeries() {
        let p = item::list_sk(A, "cust:1");
        let key = start_key(&p).unwrap();
        assert_eq!(s(&key["pk"]), "customer#cust:1");
        assert_eq!(s(&key["listPk"]), "customer");
        assert_eq!(position_of(&key).as_deref(), Some(p.as_str()));
        for bad in [
            "",
            "x#y",
            "2026-01-01T00:00:00Z#c",
            &format!("{A}#"),
            &format!("{A}#a/b"),
            &format!("{A}c"),
        ] {
            assert!(start_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn within_is_exclusive() {
        let p = item::list_sk(A, "c");
        assert!(within(&p, &bounds(None, None)));
        assert!(!within(&p, &bounds(Some(A), None)));
        assert!(!within(&p, &bounds(None, Some(A))));
        assert!(within(&p, &bounds(None, Some(B))));
    }
}
