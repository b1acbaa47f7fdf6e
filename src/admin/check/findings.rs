//! What is wrong with a table, from its items alone: pure, unit-tested. The
//! email invariant of SPEC §4 under the current normal form
//! (`customer::email::normalize`): every sentinel is owned by a customer
//! whose email normalizes to the sentinel's key, and every customer holding
//! an email owns that email's sentinel and records its normal form in
//! `emailNorm`. Findings name customer ids and sentinels' owners, never an
//! email: reports are read by people and pasted into tickets.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::Value;

use crate::customer::email;
use crate::store::item::{self, CUSTOMER_KIND, EMAIL_KIND, IDEM_KIND, Item, attr};

/// A customer as the check needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub version: u64,
    /// The normal form of its email today, `None` without an email.
    pub holds: Option<String>,
    /// Its `emailNorm` attribute: the form its sentinel was written under.
    pub recorded: Option<String>,
}

/// Every item of a table, filed by kind.
#[derive(Debug, Default)]
pub struct Index {
    pub customers: BTreeMap<String, Customer>,
    /// Normal form → owner.
    pub sentinels: BTreeMap<String, String>,
    pub unreadable: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// An item the layout cannot read (`item::stored_from_item` fails, an
    /// unknown kind, a sentinel without an owner).
    UnreadableItem,
    /// A sentinel whose owner does not exist.
    SentinelWithoutHolder,
    /// A sentinel whose owner holds another email, or none.
    SentinelHolderHasOtherEmail,
    /// A customer holding an email whose sentinel is missing or names
    /// another owner.
    EmailWithoutSentinel,
    /// A customer whose `emailNorm` is not the current normal form of its
    /// email: its sentinel is keyed under an older normalization.
    StaleNormalization,
    /// Two or more customers hold one email under the current normal form.
    EmailHeldTwice,
}

/// The repair of a finding, when one is provably safe (see `repair.rs`).
/// Holds normalized emails: never printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Delete the sentinel if `owner` still owns it and still does not exist.
    RemoveOrphan { norm: String, owner: String },
    /// Delete the sentinel if `owner` still owns it and is still at `version`.
    RemoveNotHeld {
        norm: String,
        owner: String,
        version: u64,
    },
    /// Move customer `id`'s sentinel from `from` to `to` (or release it when
    /// it holds no email), with `emailNorm`, if it is still at `version`.
    Rekey {
        id: String,
        from: String,
        to: Option<String>,
        version: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub code: Code,
    /// The customer concerned: the holder, or the sentinel's owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Other customers involved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<String>,
    pub message: String,
    #[serde(skip)]
    pub fix: Option<Fix>,
    /// Set by `--fix`: what the repair did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<String>,
}

impl Finding {
    fn new(code: Code, customer_id: Option<&str>, message: String) -> Self {
        Finding {
            code,
            customer_id: customer_id.map(str::to_owned),
            others: Vec::new(),
            message,
            fix: None,
            repair: None,
        }
    }
}

fn s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// How an unreadable item is named: a customer by its id; any other key
/// by its prefix only, since a sentinel's key is an email.
fn describe_key(pk: Option<&str>) -> String {
    match pk {
        Some(pk) => match pk.strip_prefix("customer#") {
            Some(id) => format!("customer {id}"),
            None => match pk.split_once('#') {
                Some((prefix, _)) => format!("an item under `{prefix}#…` (rest withheld)"),
                None => "an item with an unprefixed key (withheld)".into(),
            },
        },
        None => "an item without a string pk".into(),
    }
}

impl Index {
    /// Files one scanned item.
    pub fn add(&mut self, it: &Item) {
        let pk = s(it, attr::PK);
        let unreadable = |why: String| {
            let id = pk.and_then(|p| p.strip_prefix("customer#"));
            Finding::new(
                Code::UnreadableItem,
                id,
                format!("{}: {why}", describe_key(pk)),
            )
        };
        match s(it, attr::KIND) {
            Some(CUSTOMER_KIND) => match item::stored_from_item(it) {
                Err(e) => self.unreadable.push(unreadable(e.to_string())),
                Ok(st) if pk != Some(item::customer_key(st.customer_id()).as_str()) => self
                    .unreadable
                    .push(unreadable("its key does not match its customerId".into())),
                Ok(st) => match st.doc.get("email") {
                    Some(Value::String(e)) => {
                        let id = st.customer_id().to_owned();
                        self.customers.insert(
                            id,
                            Customer {
                                version: st.version,
                                holds: Some(email::normalize(e)),
                                recorded: st.email_norm,
                            },
                        );
                    }
                    Some(_) => self
                        .unreadable
                        .push(unreadable("its email is not a string".into())),
                    None => {
                        let id = st.customer_id().to_owned();
                        self.customers.insert(
                            id,
                            Customer {
                                version: st.version,
                                holds: None,
                                recorded: st.email_norm,
                            },
                        );
                    }
                },
            },
            Some(EMAIL_KIND) => {
                let norm = pk.and_then(|p| p.strip_prefix("email#"));
                match (norm, s(it, attr::OWNER)) {
                    (Some(n), Some(o)) => {
                        self.sentinels.insert(n.to_owned(), o.to_owned());
                    }
                    (None, _) => self
                        .unreadable
                        .push(unreadable("a sentinel whose key is not `email#…`".into())),
                    (Some(_), None) => self.unreadable.push(unreadable(
                        "a sentinel without a string owner (find it with a scan for kind = email \
                         and attribute_not_exists(owner))"
                            .into(),
                    )),
                }
            }
            // Idempotency records hold no email: only their shape is checked.
            Some(IDEM_KIND) => {
                if let Err(e) = item::record_from_item(it) {
                    self.unreadable.push(unreadable(e.to_string()));
                }
            }
            Some(other) => {
                let shown: String = other.chars().take(40).collect();
                self.unreadable
                    .push(unreadable(format!("unknown kind `{shown}`")))
            }
            None => self
                .unreadable
                .push(unreadable("no string `kind` attribute".into())),
        }
    }

    pub fn items(&self) -> usize {
        self.customers.len() + self.sentinels.len() + self.unreadable.len()
    }
}

/// Every violation in the index, each with its safe repair when there is one.
pub fn findings(ix: &Index) -> Vec<Finding> {
    let mut out = ix.unreadable.clone();
    let mut holders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, c) in &ix.customers {
        if let Some(h) = &c.holds {
            holders.entry(h).or_default().push(id);
        }
    }
    for (norm, owner) in &ix.sentinels {
        match ix.customers.get(owner) {
            None => out.push(Finding {
                fix: Some(Fix::RemoveOrphan {
                    norm: norm.clone(),
                    owner: owner.clone(),
                }),
                ..Finding::new(
                    Code::SentinelWithoutHolder,
                    Some(owner),
                    format!("a sentinel is owned by {owner}, a customer that does not exist"),
                )
            }),
            Some(c) if c.holds.as_ref() == Some(norm) => {}
            // Its customer's finding (stale normalization) covers it.
            Some(c) if c.recorded.as_ref() == Some(norm) => {}
            Some(c) => out.push(Finding {
                fix: Some(Fix::RemoveNotHeld {
                    norm: norm.clone(),
                    owner: owner.clone(),
                    version: c.version,
                }),
                ..Finding::new(
                    Code::SentinelHolderHasOtherEmail,
                    Some(owner),
                    format!(
                        "a sentinel is owned by customer {owner}, who holds {}",
                        if c.holds.is_some() {
                            "another email"
                        } else {
                            "no email"
                        }
                    ),
                )
            }),
        }
    }
    for (id, c) in &ix.customers {
        if c.recorded != c.holds {
            out.push(stale(ix, &holders, id, c));
            continue;
        }
        let Some(h) = &c.holds else { continue };
        match ix.sentinels.get(h) {
            Some(o) if o == id => {}
            None => out.push(Finding::new(
                Code::EmailWithoutSentinel,
                Some(id),
                format!("customer {id} holds an email that has no sentinel"),
            )),
            Some(o) => out.push(Finding {
                others: vec![o.clone()],
                ..Finding::new(
                    Code::EmailWithoutSentinel,
                    Some(id),
                    format!("customer {id} holds an email whose sentinel is owned by {o}"),
                )
            }),
        }
    }
    for ids in holders.values().filter(|ids| ids.len() > 1) {
        out.push(Finding {
            others: ids[1..].iter().map(|s| (*s).to_owned()).collect(),
            ..Finding::new(
                Code::EmailHeldTwice,
                Some(ids[0]),
                format!("customers {} hold one email", ids.join(", ")),
            )
        });
    }
    out
}

/// A customer whose `emailNorm` is not its email's normal form today.
fn stale(ix: &Index, holders: &BTreeMap<&str, Vec<&str>>, id: &str, c: &Customer) -> Finding {
    let what = match (&c.recorded, &c.holds) {
        (Some(_), Some(_)) => "its email's sentinel is keyed under an older normal form",
        (Some(_), None) => "it records an email's normal form but holds no email",
        (None, _) => "it holds an email but records no normal form (emailNorm)",
    };
    let mut f = Finding::new(
        Code::StaleNormalization,
        Some(id),
        format!("customer {id}: {what}"),
    );
    let old_is_ours = c
        .recorded
        .as_ref()
        .is_some_and(|r| ix.sentinels.get(r).map(String::as_str) == Some(id));
    let new_free = match &c.holds {
        None => Ok(()),
        Some(h) => match (ix.sentinels.get(h), holders.get(h.as_str())) {
            (Some(o), _) => Err(format!(
                "the sentinel under the current form is owned by {o}"
            )),
            (None, Some(ids)) if ids.len() > 1 => {
                Err("other customers hold the same email".to_owned())
            }
            _ => Ok(()),
        },
    };
    match (old_is_ours, new_free, &c.recorded) {
        (true, Ok(()), Some(from)) => {
            f.fix = Some(Fix::Rekey {
                id: id.to_owned(),
                from: from.clone(),
                to: c.holds.clone(),
                version: c.version,
            });
        }
        (false, _, Some(_)) => f
            .message
            .push_str("; no sentinel under the recorded form is its own"),
        (_, Err(why), _) => {
            f.message.push_str("; ");
            f.message.push_str(&why);
        }
        _ => {}
    }
    f
}
