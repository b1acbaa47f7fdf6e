//! The event's `Detail` (SPEC §13), in the three `EVENT_DETAIL` modes that
//! decide how much personal data goes on the bus. Pure.
//!
//! | mode | created | updated | deleted |
//! |---|---|---|---|
//! | `full` | `data` | `data`, `changed`, `previous` | `data: null`, `previous` (the last state) |
//! | `changes` | `current` (the whole customer) | `changed`, `previous`, `current` | `previous` (the last state) |
//! | `ids` | nothing more | `changed` | nothing more |
//!
//! Every mode has `id`, `customerId`, `version` and `occurredAt`.

use serde_json::{Map, Value, json};

use crate::events::change::{Change, Kind};
use crate::events::diff;
use crate::store::item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// The customer as GET shows it, plus what changed and its old values.
    #[default]
    Full,
    /// Only the changed members, before and after.
    Changes,
    /// No values at all: which customer, which version, which paths.
    Ids,
}

impl Mode {
    /// `full`, `changes` or `ids` in any case; empty means `full`.
    pub fn parse(raw: &str) -> Result<Mode, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "full" => Ok(Mode::Full),
            "changes" => Ok(Mode::Changes),
            "ids" => Ok(Mode::Ids),
            _ => Err(format!("must be full, changes or ids, got `{raw}`")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Changes => "changes",
            Mode::Ids => "ids",
        }
    }
}

/// The `Detail` of the event for `change`.
pub fn detail(change: &Change, mode: Mode) -> Value {
    let mut d = Map::new();
    d.insert("id".into(), json!(change.event_id()));
    d.insert("customerId".into(), json!(change.customer_id));
    d.insert("version".into(), json!(change.version));
    d.insert("occurredAt".into(), json!(change.occurred_at));
    let view = |s: &Option<item::Stored>| s.as_ref().map_or(Value::Null, |s| item::view(&s.doc));
    match change.kind {
        Kind::Created => match mode {
            Mode::Full => {
                d.insert("data".into(), view(&change.after));
            }
            Mode::Changes => {
                d.insert("current".into(), view(&change.after));
            }
            Mode::Ids => {}
        },
        Kind::Updated => {
            let empty = Map::new();
            let before = change.before.as_ref().map_or(&empty, |s| &s.doc);
            let after = change.after.as_ref().map_or(&empty, |s| &s.doc);
            let diff = diff::diff(before, after);
            d.insert("changed".into(), json!(diff.changed));
            match mode {
                Mode::Full => {
                    d.insert("previous".into(), Value::Object(diff.previous));
                    d.insert("data".into(), view(&change.after));
                }
                Mode::Changes => {
                    d.insert("previous".into(), Value::Object(diff.previous));
                    d.insert("current".into(), Value::Object(diff.current));
                }
                Mode::Ids => {}
            }
        }
        Kind::Deleted => match mode {
            Mode::Full => {
                d.insert("previous".into(), view(&change.before));
                d.insert("data".into(), Value::Null);
            }
            Mode::Changes => {
                d.insert("previous".into(), view(&change.before));
            }
            Mode::Ids => {}
        },
    }
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::change::change_of;
    use crate::events::change::tests::{customer, record};

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn modes_parse_and_refuse_the_rest() {
        assert_eq!(Mode::parse(""), Ok(Mode::Full));
        assert_eq!(Mode::parse(" Changes "), Ok(Mode::Changes));
        assert_eq!(Mode::parse("IDS"), Ok(Mode::Ids));
        assert!(Mode::parse("some").unwrap_err().contains("`some`"));
    }

    #[test]
    fn members_per_mode_and_kind() {
        let v1 = customer("c", 1, json!({"name": "A", "address": {"city": "Old"}}));
        let v2 = customer("c", 2, json!({"name": "A", "address": {"city": "New"}}));
        let changes = [
            change_of(&record("INSERT", None, Some(&v1), "1")),
            change_of(&record("MODIFY", Some(&v1), Some(&v2), "2")),
            change_of(&record("REMOVE", Some(&v2), None, "3")),
        ]
        .map(|c| c.unwrap().unwrap());
        let base = ["id", "customerId", "version", "occurredAt"];
        let expect: [(Mode, [&[&str]; 3]); 3] = [
            (
                Mode::Full,
                [
                    &["data"],
                    &["changed", "previous", "data"],
                    &["previous", "data"],
                ],
            ),
            (
                Mode::Changes,
                [
                    &["current"],
                    &["changed", "previous", "current"],
                    &["previous"],
                ],
            ),
            (Mode::Ids, [&[], &["changed"], &[]]),
        ];
        for (mode, per_kind) in expect {
            for (c, extra) in changes.iter().zip(per_kind) {
                let d = detail(c, mode);
                let want: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
                assert_eq!(keys(&d), want, "{mode:?} {:?}", c.kind);
            }
        }
        let updated = detail(&changes[1], Mode::Changes);
        assert_eq!(updated["changed"], json!(["address.city"]));
        assert_eq!(updated["previous"], json!({"address": {"city": "Old"}}));
        assert_eq!(updated["current"], json!({"address": {"city": "New"}}));
        let deleted = detail(&changes[2], Mode::Full);
        assert_eq!(deleted["version"], json!(3));
        assert_eq!(deleted["data"], Value::Null);
        assert_eq!(deleted["previous"]["address"]["city"], json!("New"));
        assert_eq!(deleted["previous"]["email"], Value::Null);
        let created = detail(&changes[0], Mode::Full);
        assert_eq!(
            created["data"],
            item::view(&changes[0].after.as_ref().unwrap().doc)
        );
    }
}
