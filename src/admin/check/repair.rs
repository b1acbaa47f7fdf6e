//! `check --fix`: each safe repair is one conditional `TransactWriteItems`
//! whose conditions restate what the scan saw, so that a repair applies only
//! to the state it was proven safe for; if anything moved since, nothing is
//! written and the finding is reported as left alone.
//!
//! - A sentinel whose owner does not exist: delete it if still owned by that
//!   id, with a condition check that the customer is still absent.
//! - A sentinel whose owner holds another email or none: delete it if still
//!   owned by that id, with a condition check that the owner is still at the
//!   version the scan read (at which it did not hold that email).
//! - A sentinel keyed under an older normal form: put the sentinel under the
//!   current form if absent, delete the old one if still owned by the
//!   customer, and set the customer's `emailNorm` at the version read (the
//!   version moves, see `expr::renormalize`).
//!
//! Nothing else is repaired: a missing sentinel, a sentinel another customer
//! owns, an email two customers hold, an unreadable item all need someone to
//! decide who holds what.

use crate::store::dynamo::{Calls, Role, Store, StoreError, TxOutcome};
use crate::store::expr::{self, Expect};
use crate::store::item;

use super::findings::Fix;

/// Applies `fix`; the text says what happened, for the report.
pub async fn apply(store: &Store, fix: &Fix) -> Result<(bool, String), StoreError> {
    let calls = Calls::default();
    let (items, roles) = match fix {
        Fix::RemoveOrphan { norm, owner } => (
            vec![
                store.delete_sentinel(norm, owner)?,
                store.check_customer(owner, expr::absent())?,
            ],
            vec![Role::OldSentinel, Role::NewCustomer],
        ),
        Fix::RemoveNotHeld {
            norm,
            owner,
            version,
        } => (
            vec![
                store.delete_sentinel(norm, owner)?,
                store.check_customer(
                    owner,
                    expr::delete_condition(&Expect::OneOf(vec![*version]), false),
                )?,
            ],
            vec![Role::OldSentinel, Role::Customer],
        ),
        Fix::Rekey {
            id,
            from,
            to,
            version,
        } => {
            let mut items = Vec::new();
            let mut roles = Vec::new();
            if let Some(to) = to {
                items.push(store.put_if_absent(item::sentinel(to, id))?);
                roles.push(Role::NewSentinel);
            }
            items.push(store.delete_sentinel(from, id)?);
            roles.push(Role::OldSentinel);
            items.push(store.update_customer(id, expr::renormalize(to.as_deref(), *version))?);
            roles.push(Role::Customer);
            (items, roles)
        }
    };
    let outcome = store.transact(&calls, items, &roles).await?;
    let done = |what: &str| Ok((true, what.to_owned()));
    let left = |why: &str| Ok((false, format!("not repaired: {why}; run check again")));
    match (fix, outcome) {
        (Fix::RemoveOrphan { .. } | Fix::RemoveNotHeld { .. }, TxOutcome::Done) => {
            done("repaired: sentinel removed")
        }
        (Fix::Rekey { to: Some(_), .. }, TxOutcome::Done) => {
            done("repaired: sentinel re-keyed to the current normal form")
        }
        (Fix::Rekey { to: None, .. }, TxOutcome::Done) => {
            done("repaired: sentinel released, emailNorm removed")
        }
        (_, TxOutcome::CustomerExists) => left("the customer exists now"),
        (_, TxOutcome::Gone) => left("the customer no longer exists"),
        (_, TxOutcome::Changed(_)) => left("the customer changed since the scan"),
        (_, TxOutcome::SentinelBroken) => left("the sentinel changed since the scan"),
        (_, TxOutcome::EmailTaken) => left("a sentinel under the current form exists now"),
        (_, TxOutcome::Conflict) => left("a concurrent transaction touched these items"),
        (_, TxOutcome::Throttled) => left("DynamoDB throttled the repair"),
        // Repairs carry no idempotency record.
        (_, TxOutcome::Replay(_)) => left("unexpected idempotency record"),
    }
}
