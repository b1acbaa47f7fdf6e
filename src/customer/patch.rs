//! What a PATCH body means: parsing into per-member changes (SPEC §3), the
//! equivalent list of path operations for a single DynamoDB update, and the
//! same changes applied in memory. All pure.

use serde_json::{Map, Value};

use crate::customer::fields::{self, Access, Field, Kind, METADATA, Strategy};
use crate::customer::strategy::Strategies;
use crate::customer::validate::{self, Ctx, FieldError, Nulls, Violation};

/// The two body dialects a PATCH accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `application/json`: top-level members set or clear; nested objects
    /// follow the per-field strategy.
    Json,
    /// `application/merge-patch+json`: RFC 7396 for every member.
    MergePatch,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Remove the member.
    Clear,
    /// Store this value whole.
    Set(Value),
    /// RFC 7396 merge of this object (its `null` members delete).
    Merge(Map<String, Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub field: &'static Field,
    pub change: Change,
}

/// A validated patch. Only constructed by [`parse`], so an unchecked value
/// cannot reach the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    members: Vec<Member>,
}

#[derive(Debug, PartialEq)]
pub enum PatchError {
    NotObject,
    Empty,
    Invalid(Vec<FieldError>),
}

impl Patch {
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, name: &str) -> Option<&Change> {
        self.members
            .iter()
            .find(|m| m.field.name == name)
            .map(|m| &m.change)
    }
}

/// Parses and validates a PATCH body, reporting every violation at once.
pub fn parse(
    body: &Value,
    mode: Mode,
    strategies: &Strategies,
    ctx: &Ctx,
) -> Result<Patch, PatchError> {
    let Value::Object(map) = body else {
        return Err(PatchError::NotObject);
    };
    if map.is_empty() {
        return Err(PatchError::Empty);
    }
    let mut errs = Vec::new();
    let mut members = Vec::new();
    for (name, v) in map {
        let Some(field) = writable_field(name, v, &mut errs) else {
            continue;
        };
        let merge = match (mode, field.kind) {
            (Mode::MergePatch, Kind::Object(_) | Kind::Metadata) => true,
            (Mode::Json, _) => strategies.get(field) == Some(Strategy::Merge),
            (Mode::MergePatch, _) => false,
        };
        let change = if v.is_null() {
            Some(Change::Clear)
        } else if merge && v.is_object() {
            match validate::value(field.kind, v, name, Nulls::Keep, ctx, &mut errs) {
                Some(Value::Object(m)) => Some(Change::Merge(m)),
                _ => None,
            }
        } else {
            validate::value(field.kind, v, name, Nulls::Drop, ctx, &mut errs).map(set_or_clear)
        };
        if let Some(change) = change {
            members.push(Member { field, change });
        }
    }
    if errs.is_empty() {
        Ok(Patch { members })
    } else {
        Err(PatchError::Invalid(errs))
    }
}

/// The customer member a client may write under `name`, or the violation
/// of naming it (unknown, or read-only) pushed to `errs`.
pub fn writable_field(name: &str, v: &Value, errs: &mut Vec<FieldError>) -> Option<&'static Field> {
    let Some(field) = fields::lookup(fields::CUSTOMER, name) else {
        errs.push(FieldError::new(
            Violation::Unknown,
            name,
            "is not a known member",
            v,
        ));
        return None;
    };
    if field.access != Access::Writable {
        errs.push(FieldError::new(
            Violation::ReadOnly,
            name,
            "is read-only",
            v,
        ));
        return None;
    }
    Some(field)
}

/// An empty object or array stores nothing: it is the member cleared.
pub fn set_or_clear(v: Value) -> Change {
    let mut v = v;
    prune(&mut v);
    match &v {
        Value::Object(m) if m.is_empty() => Change::Clear,
        Value::Array(a) if a.is_empty() => Change::Clear,
        _ => Change::Set(v),
    }
}

/// Removes empty objects below `v` (an address whose members were all
/// deleted is no address).
pub fn prune(v: &mut Value) {
    if let Value::Object(m) = v {
        for x in m.values_mut() {
            prune(x);
        }
        m.retain(|_, x| !matches!(x, Value::Object(o) if o.is_empty()) && !x.is_null());
    }
}

/// Applies the patch to a stored-shape document (no nulls, no empty objects).
pub fn apply(doc: &mut Map<String, Value>, patch: &Patch) {
    for m in &patch.members {
        let name = m.field.name;
        match &m.change {
            Change::Clear => {
                doc.remove(name);
            }
            Change::Set(v) => {
                doc.insert(name.to_owned(), v.clone());
            }
            Change::Merge(obj) => {
                let mut target = doc.remove(name).unwrap_or(Value::Null);
                json_patch::merge(&mut target, &Value::Object(obj.clone()));
                prune(&mut target);
                let keep = matches!(&target, Value::Object(o) if !o.is_empty());
                if keep {
                    doc.insert(name.to_owned(), target);
                }
            }
        }
    }
}

/// One assignment or removal at a document path, as DynamoDB applies them.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Set(Vec<String>, Value),
    Remove(Vec<String>),
}

/// The path operations equivalent to a patch, with the preconditions under
/// which they are equivalent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ops {
    pub ops: Vec<Op>,
    /// Paths that must hold a map for a nested assignment to be valid.
    pub maps: Vec<Vec<String>>,
    /// (map path, largest size it may have before the update) so that a merge
    /// cannot push a map past its key limit.
    pub size_limits: Vec<(Vec<String>, usize)>,
}

pub fn ops(patch: &Patch) -> Ops {
    let mut out = Ops::default();
    for m in &patch.members {
        let path = vec![m.field.name.to_owned()];
        match &m.change {
            Change::Clear => out.ops.push(Op::Remove(path)),
            Change::Set(v) => out.ops.push(Op::Set(path, v.clone())),
            Change::Merge(obj) => {
                let before = out.ops.len();
                merge_ops(&path, obj, &mut out);
                if m.field.kind == Kind::Metadata {
                    let added = out.ops[before..]
                        .iter()
                        .filter(|o| matches!(o, Op::Set(..)))
                        .count();
                    if added > 0 {
                        out.size_limits
                            .push((path, METADATA.max_keys.saturating_sub(added)));
                    }
                }
            }
        }
    }
    out
}

fn merge_ops(path: &[String], obj: &Map<String, Value>, out: &mut Ops) {
    if obj.is_empty() {
        return;
    }
    out.maps.push(path.to_vec());
    for (k, v) in obj {
        let mut p = path.to_vec();
        p.push(k.clone());
        match v {
            Value::Null => out.ops.push(Op::Remove(p)),
            // A nested object in a merge merges too (RFC 7396).
            Value::Object(inner) => merge_ops(&p, inner, out),
            _ => out.ops.push(Op::Set(p, v.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn parse_json(v: Value) -> Result<Patch, PatchError> {
        parse(&v, Mode::Json, &Strategies::default(), &ctx())
    }

    fn applied(doc: Value, patch: Value, mode: Mode, s: &Strategies) -> Value {
        let p = parse(&patch, mode, s, &ctx()).unwrap();
        let Value::Object(mut d) = doc else { panic!() };
        apply(&mut d, &p);
        Value::Object(d)
    }

    #[test]
    fn empty_and_non_object_bodies_are_refused() {
        assert_eq!(parse_json(json!({})), Err(PatchError::Empty));
        assert_eq!(parse_json(json!([])), Err(PatchError::NotObject));
        assert_eq!(parse_json(json!("x")), Err(PatchError::NotObject));
    }

    #[test]
    fn absent_null_and_value_are_three_states() {
        let p = parse_json(json!({"name": "A", "phone": null})).unwrap();
        assert_eq!(p.member("name"), Some(&Change::Set(json!("A"))));
        assert_eq!(p.member("phone"), Some(&Change::Clear));
        assert_eq!(p.member("notes"), None);
    }

    #[test]
    fn unknown_and_read_only_members_are_reported_together() {
        let Err(PatchError::Invalid(errs)) =
            parse_json(json!({"id": "x", "billingAddress": {}, "phone": "12", "customerId": "c"}))
        else {
            panic!()
        };
        let got: Vec<_> = errs
            .iter()
            .map(|e| (e.param.as_str(), e.violation))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id", Violation::ReadOnly),
                ("billingAddress", Violation::Unknown),
                ("phone", Violation::Invalid),
                ("customerId", Violation::ReadOnly),
            ]
        );
    }

    #[test]
    fn address_merges_by_default_and_shipping_replaces() {
        let doc = json!({
            "address": {"line1": "1 A St", "city": "Springfield", "country": "US"},
            "shipping": {"name": "Bob", "address": {"city": "X", "line1": "Y"}}
        });
        let out = applied(
            doc,
            json!({"address": {"line1": "456 Oak Avenue", "country": null}, "shipping": {"name": "Al"}}),
            Mode::Json,
            &Strategies::default(),
        );
        assert_eq!(
            out,
            json!({
                "address": {"line1": "456 Oak Avenue", "city": "Springfield"},
                "shipping": {"name": "Al"}
            })
        );
    }

    #[test]
    fn strategies_can_be_swapped() {
        let s = Strategies::parse("address=replace,metadata=merge").unwrap();
        let doc = json!({"address": {"line1": "1", "city": "C"}, "metadata": {"a": "1"}});
        let out = applied(
            doc,
            json!({"address": {"line1": "2"}, "metadata": {"b": "2"}}),
            Mode::Json,
            &s,
        );
        assert_eq!(
            out,
            json!({"address": {"line1": "2"}, "metadata": {"a": "1", "b": "2"}})
        );
    }

    #[test]
    fn merge_patch_mode_merges_every_object_recursively() {
        let doc = json!({"shipping": {"name": "Bob", "address": {"city": "X", "line1": "Y"}}, "tags": ["a"]});
        let out = applied(
            doc,
            json!({"shipping": {"address": {"city": null, "line2": "Z"}}, "tags": ["b"]}),
            Mode::MergePatch,
            &Strategies::default(),
        );
        assert_eq!(
            out,
            json!({"shipping": {"name": "Bob", "address": {"line1": "Y", "line2": "Z"}}, "tags": ["b"]})
        );
    }

    #[test]
    fn merging_away_every_member_clears_the_object() {
        let out = applied(
            json!({"address": {"city": "X"}}),
            json!({"address": {"city": null}}),
            Mode::Json,
            &Strategies::default(),
        );
        assert_eq!(out, json!({}));
    }

    #[test]
    fn empty_containers_clear() {
        let p = parse_json(json!({"tags": [], "metadata": {}})).unwrap();
        assert_eq!(p.member("tags"), Some(&Change::Clear));
        assert_eq!(p.member("metadata"), Some(&Change::Clear));
    }

    #[test]
    fn ops_for_a_merge_name_paths_and_guard_the_parent() {
        let p = parse(
            &json!({"address": {"city": "C", "line2": null}, "metadata": {"k": "v"}}),
            Mode::MergePatch,
            &Strategies::default(),
            &ctx(),
        )
        .unwrap();
        let o = ops(&p);
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            o.ops,
            vec![
                Op::Set(p(&["address", "city"]), json!("C")),
                Op::Remove(p(&["address", "line2"])),
                Op::Set(p(&["metadata", "k"]), json!("v")),
            ]
        );
        assert_eq!(o.maps, vec![p(&["address"]), p(&["metadata"])]);
        assert_eq!(o.size_limits, vec![(p(&["metadata"]), 49)]);
    }

    /// RFC 7396 Appendix A, through the merge this crate applies.
    #[test]
    fn rfc7396_appendix_a() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            let mut t = target.clone();
            json_patch::merge(&mut t, &patch);
            assert_eq!(t, want, "{target} + {patch}");
        }
    }
}
