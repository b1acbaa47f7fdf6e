//! What a committed change changed, as the event says it (SPEC §13): dotted
//! member paths, with the values before (`previous`) and after (`current`).
//! Pure; driven by the field table, so a new field needs nothing here.
//!
//! - Objects with a fixed set of members (`address`, `shipping`,
//!   `shipping.address`) and `metadata` are compared member by member:
//!   `address.city`, `shipping.address.line1`, `metadata.<key>`.
//! - Everything else is one value: scalars, `tags` (always replaced whole),
//!   `details`.
//! - A member absent on one side is `null` on that side.
//! - `updatedAt` is left out: it changes on every write, and the event
//!   carries it as `occurredAt`.
//!
//! `previous` is therefore an RFC 7396 merge patch that takes the new state
//! back to the old one, and `current` one that takes the old state to the new
//! (up to the difference between `null` and absent, which a customer does not
//! make: unset is absent in storage and `null` in responses).

use serde_json::{Map, Value};

use crate::customer::fields::{self, Field, Kind};

/// Members that never appear in `changed`.
pub const IGNORED: &[&str] = &["updatedAt"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Dotted paths, in field-table order (metadata keys sorted).
    pub changed: Vec<String>,
    /// The old value at each path, nested like the customer.
    pub previous: Map<String, Value>,
    /// The new value at each path, nested like the customer.
    pub current: Map<String, Value>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// The difference between two stored-shape documents (no nulls, no empty
/// containers: `store::item::Stored::doc`).
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Diff {
    let mut d = Diff::default();
    for f in fields::CUSTOMER {
        if IGNORED.contains(&f.name) {
            continue;
        }
        member(
            &mut d,
            f.name,
            f.name,
            Shape::of(f.kind),
            before.get(f.name),
            after.get(f.name),
        );
    }
    d
}

/// How a member is compared.
#[derive(Clone, Copy)]
enum Shape {
    /// Member by member, following this table (members it does not name are
    /// compared whole, after the named ones, sorted).
    Fields(&'static [Field]),
    /// Key by key, every value whole, keys sorted.
    Map,
    Whole,
}

impl Shape {
    fn of(kind: Kind) -> Shape {
        match kind {
            Kind::Object(inner) => Shape::Fields(inner),
            Kind::Metadata => Shape::Map,
            _ => Shape::Whole,
        }
    }
}

fn member(
    d: &mut Diff,
    path: &str,
    name: &str,
    shape: Shape,
    before: Option<&Value>,
    after: Option<&Value>,
) {
    if before == after {
        return;
    }
    let empty = Map::new();
    let objects = (
        before.map_or(Some(&empty), Value::as_object),
        after.map_or(Some(&empty), Value::as_object),
    );
    let (Shape::Fields(_) | Shape::Map, (Some(b), Some(a))) = (shape, objects) else {
        // A whole value, or an object member holding something else (not a
        // shape the API writes, but then the value is what changed).
        d.changed.push(path.to_owned());
        d.previous
            .insert(name.to_owned(), before.cloned().unwrap_or(Value::Null));
        d.current
            .insert(name.to_owned(), after.cloned().unwrap_or(Value::Null));
        return;
    };
    let mut inner = Diff::default();
    for (key, shape) in members(shape, b, a) {
        let child = format!("{path}.{key}");
        member(&mut inner, &child, &key, shape, b.get(&key), a.get(&key));
    }
    if !inner.is_empty() {
        d.changed.append(&mut inner.changed);
        d.previous
            .insert(name.to_owned(), Value::Object(inner.previous));
        d.current
            .insert(name.to_owned(), Value::Object(inner.current));
    }
}

/// The members to compare, in output order, with how to compare each.
fn members(shape: Shape, b: &Map<String, Value>, a: &Map<String, Value>) -> Vec<(String, Shape)> {
    let table = match shape {
        Shape::Fields(t) => t,
        _ => &[],
    };
    let mut out: Vec<(String, Shape)> = table
        .iter()
        .map(|f| (f.name.to_owned(), Shape::of(f.kind)))
        .collect();
    let mut rest: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| fields::lookup(table, k).is_none())
        .cloned()
        .collect();
    rest.sort_unstable();
    rest.dedup();
    out.extend(rest.into_iter().map(|k| (k, Shape::Whole)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::patch::prune;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn check(before: Value, after: Value, changed: &[&str], previous: Value, current: Value) {
        let d = diff(&doc(before), &doc(after));
        assert_eq!(d.changed, changed);
        assert_eq!(Value::Object(d.previous), previous);
        assert_eq!(Value::Object(d.current), current);
    }

    #[test]
    fn a_scalar_set_changed_and_cleared() {
        check(
            json!({"customerId": "c"}),
            json!({"customerId": "c", "phone": "+15555550100"}),
            &["phone"],
            json!({"phone": null}),
            json!({"phone": "+15555550100"}),
        );
        check(
            json!({"customerId": "c", "name": "A", "phone": "+15555550100"}),
            json!({"customerId": "c", "name": "B"}),
            &["name", "phone"],
            json!({"name": "A", "phone": "+15555550100"}),
            json!({"name": "B", "phone": null}),
        );
    }

    #[test]
    fn objects_are_compared_member_by_member() {
        check(
            json!({"address": {"line1": "1 Main St", "city": "Old"}}),
            json!({"address": {"line1": "1 Main St", "city": "New", "country": "US"}}),
            &["address.city", "address.country"],
            json!({"address": {"city": "Old", "country": null}}),
            json!({"address": {"city": "New", "country": "US"}}),
        );
        check(
            json!({}),
            json!({"shipping": {"name": "S", "address": {"city": "X"}}}),
            &["shipping.name", "shipping.address.city"],
            json!({"shipping": {"name": null, "address": {"city": null}}}),
            json!({"shipping": {"name": "S", "address": {"city": "X"}}}),
        );
        check(
            json!({"address": {"city": "X", "line1": "L"}}),
            json!({}),
            &["address.line1", "address.city"],
            json!({"address": {"line1": "L", "city": "X"}}),
            json!({"address": {"line1": null, "city": null}}),
        );
    }

    #[test]
    fn metadata_by_key_sorted_and_tags_whole() {
        check(
            json!({"metadata": {"tier": "gold", "source": "import", "a.b": "x"}, "tags": ["a"]}),
            json!({"metadata": {"tier": "platinum", "a.b": "x", "new": "1"}, "tags": ["a", "b"]}),
            &["metadata.new", "metadata.source", "metadata.tier", "tags"],
            json!({"metadata": {"new": null, "source": "import", "tier": "gold"}, "tags": ["a"]}),
            json!({"metadata": {"new": "1", "source": null, "tier": "platinum"}, "tags": ["a", "b"]}),
        );
        check(
            json!({"tags": ["a"]}),
            json!({}),
            &["tags"],
            json!({"tags": ["a"]}),
            json!({"tags": null}),
        );
    }

    #[test]
    fn updated_at_alone_is_no_change() {
        let d = diff(
            &doc(json!({"customerId": "c", "updatedAt": "2026-01-01T00:00:00.000000Z"})),
            &doc(json!({"customerId": "c", "updatedAt": "2026-01-02T00:00:00.000000Z"})),
        );
        assert!(d.is_empty(), "{d:?}");
        assert!(diff(&doc(json!({"name": "A"})), &doc(json!({"name": "A"}))).is_empty());
    }

    #[test]
    fn previous_and_current_are_merge_patches_between_the_states() {
        let before = json!({"customerId": "c", "name": "A", "address": {"city": "X"},
            "metadata": {"k": "v"}, "tags": ["t"]});
        let after = json!({"customerId": "c", "email": "a@example.com",
            "address": {"city": "Y", "line1": "L"}, "shipping": {"name": "S"}});
        let d = diff(&doc(before.clone()), &doc(after.clone()));
        // An object left empty is unset: pruned, as the store does.
        let mut back = after.clone();
        json_patch::merge(&mut back, &Value::Object(d.previous));
        prune(&mut back);
        assert_eq!(back, before);
        let mut forward = before;
        json_patch::merge(&mut forward, &Value::Object(d.current));
        prune(&mut forward);
        assert_eq!(forward, after);
    }

    #[test]
    fn an_object_member_holding_a_scalar_is_compared_whole() {
        check(
            json!({"address": "odd"}),
            json!({"address": {"city": "X"}}),
            &["address"],
            json!({"address": "odd"}),
            json!({"address": {"city": "X"}}),
        );
    }
}
