//! Pure builders of DynamoDB update and condition expressions. Every
//! attribute name, including user map keys such as metadata keys, goes
//! through `ExpressionAttributeNames`, so reserved words and characters like
//! `.`, `#` or `:` are stored literally.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::customer::fields::{self, Access};
use crate::customer::patch::{Op, Ops};
use crate::store::item::{self, attr};

/// The parts of one conditional write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expression {
    pub update: String,
    pub condition: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

#[derive(Default)]
struct Builder {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Builder {
    fn name(&mut self, n: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, v)| v.as_str() == n) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), n.to_owned());
        p
    }

    fn path(&mut self, segs: &[String]) -> String {
        segs.iter()
            .map(|s| self.name(s))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn finish(self, update: String, condition: String) -> Expression {
        Expression {
            update,
            condition,
            names: self.names,
            values: self.values,
        }
    }
}

/// `version IN (...)`; with no versions (an If-Match of only weak or foreign
/// tags) a condition no item meets, so DynamoDB returns the item and the
/// caller answers 412, or 404 when there is none.
fn version_in(b: &mut Builder, versions: &[u64]) -> String {
    let v = b.name(attr::VERSION);
    if versions.is_empty() {
        let never = b.value(AttributeValue::N("0".into()));
        return format!("{v} = {never}");
    }
    let list: Vec<_> = versions
        .iter()
        .map(|n| b.value(AttributeValue::N(n.to_string())))
        .collect();
    format!("{v} IN ({})", list.join(", "))
}

fn update_text(sets: &[String], removes: &[String]) -> String {
    let mut u = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        u.push_str(" REMOVE ");
        u.push_str(&removes.join(", "));
    }
    u
}

/// What the stored email must be for a single-item update to keep the email
/// sentinel valid: when it is not, the caller falls back to a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailGuard {
    /// The patch does not touch `email`.
    Untouched,
    /// The stored normalized email must already be this one.
    Is(String),
    /// The customer must hold no email.
    Absent,
}

/// Which versions a write accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Any version, the item must exist.
    Exists,
    /// One of these versions (from `If-Match`).
    OneOf(Vec<u64>),
}

/// The single-call PATCH: nested assignments straight into the stored item.
/// Its condition holds only if the item exists, the version is accepted, every
/// merged-into parent is a map, merged maps stay within their limits, the
/// email is unchanged in normalized form, and at least one operation changes
/// something. When it fails DynamoDB returns the item, and the caller decides
/// between 404, 412, "nothing to change" and the general path.
pub fn fast_update(ops: &Ops, expect: &Expect, email: &EmailGuard, now: &str) -> Expression {
    let mut b = Builder::default();
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut diffs = Vec::new();
    for op in &ops.ops {
        match op {
            Op::Set(path, v) => {
                let p = b.path(path);
                let val = b.value(item::to_attr(v));
                // `<>` is true when the attribute is missing, and compares
                // maps and lists deeply.
                diffs.push(format!("{p} <> {val}"));
                sets.push(format!("{p} = {val}"));
            }
            Op::Remove(path) => {
                let p = b.path(path);
                diffs.push(format!("attribute_exists({p})"));
                removes.push(p);
            }
        }
    }
    let mut conds = vec![format!("attribute_exists({})", b.name(attr::PK))];
    if let Expect::OneOf(versions) = expect {
        conds.push(version_in(&mut b, versions));
    }
    if !ops.maps.is_empty() {
        let m = b.value(AttributeValue::S("M".into()));
        for path in &ops.maps {
            let p = b.path(path);
            conds.push(format!("attribute_type({p}, {m})"));
        }
    }
    for (path, max) in &ops.size_limits {
        let p = b.path(path);
        let n = b.value(AttributeValue::N(max.to_string()));
        conds.push(format!("size({p}) <= {n}"));
    }
    match email {
        EmailGuard::Untouched => {}
        EmailGuard::Is(norm) => {
            let e = b.name(attr::EMAIL_NORM);
            let v = b.value(AttributeValue::S(norm.clone()));
            conds.push(format!("{e} = {v}"));
        }
        EmailGuard::Absent => {
            let e = b.name(attr::EMAIL_NORM);
            conds.push(format!("attribute_not_exists({e})"));
        }
    }
    if !diffs.is_empty() {
        conds.push(format!("({})", diffs.join(" OR ")));
    }
    let u = b.name("updatedAt");
    let now_v = b.value(AttributeValue::S(now.to_owned()));
    let ver = b.name(attr::VERSION);
    let one = b.value(AttributeValue::N("1".into()));
    sets.push(format!("{u} = {now_v}"));
    sets.push(format!("{ver} = {ver} + {one}"));
    let update = update_text(&sets, &removes);
    b.finish(update, conds.join(" AND "))
}

/// The general write: top-level members that differ between `old` and `new`
/// are set or removed whole, conditioned on the version that was read. Used
/// when the single-call form does not apply (a merge into a missing object,
/// an email change inside a transaction, a near-limit merge).
pub fn replace_members(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    email_norm: Option<Option<&str>>,
    version: u64,
    now: &str,
) -> Expression {
    let mut b = Builder::default();
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let writable = fields::CUSTOMER
        .iter()
        .filter(|f| f.access == Access::Writable);
    for f in writable {
        match (old.get(f.name), new.get(f.name)) {
            (a, Some(v)) if a != Some(v) => {
                let p = b.name(f.name);
                let val = b.value(item::to_attr(v));
                sets.push(format!("{p} = {val}"));
            }
            (Some(_), None) => removes.push(b.name(f.name)),
            _ => {}
        }
    }
    match email_norm {
        None => {}
        Some(Some(norm)) => {
            let p = b.name(attr::EMAIL_NORM);
            let val = b.value(AttributeValue::S(norm.to_owned()));
            sets.push(format!("{p} = {val}"));
        }
        Some(None) => removes.push(b.name(attr::EMAIL_NORM)),
    }
    let u = b.name("updatedAt");
    let now_v = b.value(AttributeValue::S(now.to_owned()));
    let ver = b.name(attr::VERSION);
    let next = b.value(AttributeValue::N((version + 1).to_string()));
    let expected = b.value(AttributeValue::N(version.to_string()));
    sets.push(format!("{u} = {now_v}"));
    sets.push(format!("{ver} = {next}"));
    let update = update_text(&sets, &removes);
    b.finish(update, format!("{ver} = {expected}"))
}

/// The condition of a write that must find the customer at `version` (or at
/// any version) before removing it.
pub fn delete_condition(expect: &Expect, require_no_email: bool) -> Expression {
    let mut b = Builder::default();
    let mut conds = vec![format!("attribute_exists({})", b.name(attr::PK))];
    if let Expect::OneOf(versions) = expect {
        conds.push(version_in(&mut b, versions));
    }
    if require_no_email {
        let e = b.name(attr::EMAIL_NORM);
        conds.push(format!("attribute_not_exists({e})"));
    }
    b.finish(String::new(), conds.join(" AND "))
}

/// `customers-admin check --fix`: the customer's `emailNorm` set to the
/// email's current normal form (removed when it holds none), at `version`.
/// The version moves, so a writer that read the customer before the repair
/// fails its own condition and retries from the repaired item; `updatedAt`
/// does not, as no member a client sees has changed.
pub fn renormalize(norm: Option<&str>, version: u64) -> Expression {
    let mut b = Builder::default();
    let e = b.name(attr::EMAIL_NORM);
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    match norm {
        Some(n) => {
            let val = b.value(AttributeValue::S(n.to_owned()));
            sets.push(format!("{e} = {val}"));
        }
        None => removes.push(e),
    }
    let ver = b.name(attr::VERSION);
    let next = b.value(AttributeValue::N((version + 1).to_string()));
    let expected = b.value(AttributeValue::N(version.to_string()));
    sets.push(format!("{ver} = {next}"));
    b.finish(update_text(&sets, &removes), format!("{ver} = {expected}"))
}

/// The condition "no customer under this key".
pub fn absent() -> Expression {
    let mut b = Builder::default();
    let pk = b.name(attr::PK);
    b.finish(String::new(), format!("attribute_not_exists({pk})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::patch::{self, Mode};
    use crate::customer::strategy::Strategies;
    use crate::customer::validate::Ctx;
    use chrono::NaiveDate;
    use serde_json::json;

    fn ops_of(v: Value, mode: Mode) -> Ops {
        let ctx = Ctx {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        patch::ops(&patch::parse(&v, mode, &Strategies::default(), &ctx).unwrap())
    }

    #[test]
    fn renormalizing_moves_the_version_but_not_updated_at() {
        let e = renormalize(Some("jane@xn--bcher-kva.de"), 4);
        assert_eq!(
            render(&e, &e.update),
            "SET emailNorm = 'jane@xn--bcher-kva.de', version = 5"
        );
        assert_eq!(render(&e, &e.condition), "version = 4");
        let e = renormalize(None, 1);
        assert_eq!(render(&e, &e.update), "SET version = 2 REMOVE emailNorm");
        let e = absent();
        assert_eq!(render(&e, &e.condition), "attribute_not_exists(pk)");
    }

    /// Replaces placeholders by their names/values so tests read like the
    /// expression DynamoDB evaluates.
    fn render(e: &Expression, s: &str) -> String {
        let mut out = s.to_owned();
        let mut names: Vec<_> = e.names.iter().collect();
        names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in names {
            out = out.replace(k.as_str(), v);
        }
        let mut values: Vec<_> = e.values.iter().collect();
        values.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in values {
            let shown = match v {
                AttributeValue::S(s) => format!("'{s}'"),
                AttributeValue::N(n) => n.clone(),
                other => format!("{other:?}"),
            };
            out = out.replace(k.as_str(), &shown);
        }
        out
    }

    #[test]
    fn scalar_patch_is_one_set_with_a_change_check() {
        let e = fast_update(
            &ops_of(json!({"name": "Johnathan Doe"}), Mode::Json),
            &Expect::Exists,
            &EmailGuard::Untouched,
            "T",
        );
        assert_eq!(
            render(&e, &e.update),
            "SET name = 'Johnathan Doe', updatedAt = 'T', version = version + 1"
        );
        assert_eq!(
            render(&e, &e.condition),
            "attribute_exists(pk) AND (name <> 'Johnathan Doe')"
        );
    }

    #[test]
    fn merge_guards_the_parent_and_names_user_keys() {
        let e = fast_update(
            &ops_of(
                json!({"metadata": {"a.b": "1", "name": null}}),
                Mode::MergePatch,
            ),
            &Expect::OneOf(vec![7]),
            &EmailGuard::Untouched,
            "T",
        );
        assert_eq!(
            render(&e, &e.update),
            "SET metadata.a.b = '1', updatedAt = 'T', version = version + 1 REMOVE metadata.name"
        );
        assert_eq!(
            render(&e, &e.condition),
            "attribute_exists(pk) AND version IN (7) AND attribute_type(metadata, 'M') \
             AND size(metadata) <= 49 AND (metadata.a.b <> '1' OR attribute_exists(metadata.name))"
        );
        // `a.b` is one name, not a path.
        assert!(e.names.values().any(|n| n == "a.b"));
        assert!(!e.update.contains("a.b"));
    }

    #[test]
    fn email_guards() {
        let o = ops_of(json!({"email": "A@x.io"}), Mode::Json);
        let e = fast_update(&o, &Expect::Exists, &EmailGuard::Is("a@x.io".into()), "T");
        assert!(render(&e, &e.condition).contains("emailNorm = 'a@x.io'"));
        let o = ops_of(json!({"email": null}), Mode::Json);
        let e = fast_update(&o, &Expect::Exists, &EmailGuard::Absent, "T");
        assert!(render(&e, &e.condition).contains("attribute_not_exists(emailNorm)"));
    }

    #[test]
    fn every_placeholder_is_used() {
        let e = fast_update(
            &ops_of(
                json!({"address": {"city": "C"}, "tags": ["a"], "notes": null}),
                Mode::Json,
            ),
            &Expect::OneOf(vec![1, 2]),
            &EmailGuard::Absent,
            "T",
        );
        let text = format!("{} {}", e.update, e.condition);
        for k in e.names.keys().chain(e.values.keys()) {
            let used = text
                .match_indices(k.as_str())
                .any(|(i, _)| !text[i + k.len()..].starts_with(|c: char| c.is_ascii_digit()));
            assert!(used, "{k} unused in {text}");
        }
    }

    #[test]
    fn replace_members_writes_only_what_differs() {
        let old = json!({"name": "A", "notes": "n", "address": {"city": "X"}});
        let new = json!({"name": "A", "address": {"city": "Y"}, "tags": ["t"]});
        let (Value::Object(old), Value::Object(new)) = (old, new) else {
            panic!()
        };
        let e = replace_members(&old, &new, Some(None), 4, "T");
        let u = render(&e, &e.update);
        assert!(u.starts_with("SET address = "), "{u}");
        assert!(u.contains("tags = "), "{u}");
        assert!(
            u.ends_with("updatedAt = 'T', version = 5 REMOVE notes, emailNorm"),
            "{u}"
        );
        assert_eq!(render(&e, &e.condition), "version = 4");
    }
}
