//! The four operations on a customer, keeping the invariants of SPEC §3–§5:
//! no lost update, one sentinel per held email (written in the same
//! transaction as the customer), versions that only move on a real change.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::customer::patch::{self, Change, Patch};
use crate::customer::validate::{self, Ctx};
use crate::error::ApiError;
use crate::store::dynamo::{Calls, Removal, Role, Store, StoreError, TxOutcome, Write};
use crate::store::expr::{self, EmailGuard, Expect};
use crate::store::idempotency::{Keyed, Record, Reply, Written, replay};
use crate::store::item::{self, Stored};
use crate::store::precondition::IfMatch;

/// Attempts when the customer changes between our read and our write, or a
/// transaction conflicts; then 409 `conflict` (or 503 when throttled).
pub const MAX_ATTEMPTS: u32 = 8;

pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub fn today() -> Ctx {
    Ctx {
        today: chrono::Utc::now().date_naive(),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(what) => {
                tracing::warn!(error = %what, "DynamoDB unavailable");
                ApiError::ServiceUnavailable
            }
            StoreError::Conflict => ApiError::Conflict,
            StoreError::Internal(what) => {
                tracing::error!(error = %what, "DynamoDB call failed");
                ApiError::Internal
            }
        }
    }
}

/// Full jitter, growing from 10 ms to at most 320 ms. Every re-run of ours
/// waits here first, so this is where it is counted; after the last attempt
/// there is no re-run to wait for.
pub(crate) async fn backoff(attempt: u32) {
    if attempt + 1 >= MAX_ATTEMPTS {
        return;
    }
    crate::store::attempts::rerun();
    let cap = 10u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=cap))).await;
}

fn sentinel_broken(customer_id: &str) -> ApiError {
    tracing::error!(
        customerId = customer_id,
        "email sentinel is not owned by the customer holding the email"
    );
    ApiError::Internal
}

#[derive(Clone)]
pub struct Customers {
    store: Store,
}

/// Why a retry loop ended without an answer.
enum Retry {
    Conflict,
    Throttled,
}

impl Retry {
    fn into_error(self) -> ApiError {
        match self {
            Retry::Conflict => ApiError::Conflict,
            Retry::Throttled => ApiError::ServiceUnavailable,
        }
    }
}

impl Customers {
    pub fn new(store: Store) -> Self {
        Customers { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn get(&self, calls: &Calls, id: &str) -> Result<Stored, ApiError> {
        self.store.get(calls, id).await?.ok_or(ApiError::NotFound)
    }

    /// POST: one conditional put, or one transaction with the sentinel and,
    /// when keyed, the idempotency record (whose reply is known up front).
    pub async fn create(
        &self,
        calls: &Calls,
        doc: Map<String, Value>,
        keyed: Option<(&Keyed, String)>,
    ) -> Result<Written<Stored>, ApiError> {
        let email_norm = item::email_norm_of(&doc);
        let stored = Stored {
            doc,
            version: 1,
            email_norm,
        };
        let id = stored.customer_id().to_owned();
        let record = keyed.map(|(k, location)| (k, Reply::customer(201, &stored, Some(location))));
        let mut last = Retry::Conflict;
        for attempt in 0..MAX_ATTEMPTS {
            let outcome = match (&stored.email_norm, &record) {
                (None, None) => self.store.put_new(calls, &stored).await?,
                (norm, record) => {
                    let mut items =
                        vec![self.store.put_if_absent(item::item_from_stored(&stored))?];
                    let mut roles = vec![Role::NewCustomer];
                    if let Some(norm) = norm {
                        items.push(self.store.put_if_absent(item::sentinel(norm, &id))?);
                        roles.push(Role::NewSentinel);
                    }
                    if let Some((k, reply)) = record {
                        items.push(self.store.put_record(k, reply)?);
                        roles.push(Role::Record);
                    }
                    self.store.transact(calls, items, &roles).await?
                }
            };
            match outcome {
                TxOutcome::Done => return Ok(Written::Fresh(stored)),
                TxOutcome::Replay(r) => return replayed(record.as_ref().map(|(k, _)| *k), r),
                TxOutcome::CustomerExists => return Err(ApiError::CustomerExists),
                TxOutcome::EmailTaken => return Err(ApiError::EmailTaken),
                TxOutcome::Conflict => last = Retry::Conflict,
                TxOutcome::Throttled => last = Retry::Throttled,
                TxOutcome::Gone | TxOutcome::Changed(_) | TxOutcome::SentinelBroken => {
                    return Err(ApiError::Internal);
                }
            }
            backoff(attempt).await;
        }
        Err(last.into_error())
    }

    /// PATCH. The common case is one `UpdateItem` whose condition encodes
    /// every assumption it makes; when one does not hold, DynamoDB hands back
    /// the item and the general path decides with the item in hand.
    ///
    /// A keyed PATCH must record its reply in the write that commits it, and
    /// the reply is the customer after the change, which depends on the
    /// customer before it; so it reads first (the record and the customer in
    /// one call: a live record replays at once, before `If-Match`), then
    /// takes the general path with the record in its transaction.
    pub async fn patch(
        &self,
        calls: &Calls,
        id: &str,
        p: &Patch,
        if_match: &IfMatch,
        keyed: Option<&Keyed>,
    ) -> Result<Written<Stored>, ApiError> {
        let ops = patch::ops(p);
        let email = match p.member("email") {
            None | Some(Change::Merge(_)) => EmailGuard::Untouched,
            Some(Change::Clear) => EmailGuard::Absent,
            Some(Change::Set(v)) => EmailGuard::Is(crate::customer::email::normalize(
                v.as_str().unwrap_or_default(),
            )),
        };
        let expect = if_match.expect();
        let mut last = Retry::Conflict;
        for attempt in 0..MAX_ATTEMPTS {
            let old = if let Some(k) = keyed {
                let (record, cur) = self.store.get_with_record(calls, id, &k.id).await?;
                if let Some(r) = record.filter(|r| r.live(k.now)) {
                    return replay(k, r);
                }
                cur.ok_or(ApiError::NotFound)?
            } else if ops.ops.is_empty() {
                // Nothing to write: only the current state decides the answer.
                self.store.get(calls, id).await?.ok_or(ApiError::NotFound)?
            } else {
                let e = expr::fast_update(&ops, &expect, &email, &now());
                match self.store.update(calls, id, e).await? {
                    Write::Done(new) => return Ok(Written::Fresh(new)),
                    Write::Gone => return Err(ApiError::NotFound),
                    Write::Refused(cur) => cur,
                    Write::Conflict => {
                        last = Retry::Conflict;
                        backoff(attempt).await;
                        continue;
                    }
                }
            };
            if !if_match.matches(old.version) {
                return Err(ApiError::PreconditionFailed);
            }
            let mut doc = old.doc.clone();
            patch::apply(&mut doc, p);
            if doc == old.doc {
                // A no-op commits nothing, so it records nothing either.
                return Ok(Written::Fresh(old));
            }
            let errs = validate::customer(&doc, &today());
            if !errs.is_empty() {
                return Err(ApiError::Invalid(errs));
            }
            let outcome = self.write(calls, &old, doc, keyed).await?;
            match outcome {
                Outcome::Done(new) => return Ok(Written::Fresh(new)),
                Outcome::Tx(TxOutcome::Replay(r)) => return replayed(keyed, r),
                Outcome::Tx(TxOutcome::Gone) => return Err(ApiError::NotFound),
                Outcome::Tx(TxOutcome::EmailTaken) => return Err(ApiError::EmailTaken),
                Outcome::Tx(TxOutcome::SentinelBroken) => return Err(sentinel_broken(id)),
                Outcome::Tx(TxOutcome::Changed(cur)) => {
                    if if_match.is_present() && !if_match.matches(cur.version) {
                        return Err(ApiError::PreconditionFailed);
                    }
                    // Retry through the single-call form: it costs one call
                    // like a write from `cur` would, and the writer we lost to
                    // has often made it applicable (e.g. created the map we
                    // merge into), so concurrent merges converge at once.
                    last = Retry::Conflict;
                }
                Outcome::Tx(TxOutcome::Conflict) => last = Retry::Conflict,
                Outcome::Tx(TxOutcome::Throttled) => last = Retry::Throttled,
                Outcome::Tx(TxOutcome::Done | TxOutcome::CustomerExists) => {
                    return Err(ApiError::Internal);
                }
            }
            backoff(attempt).await;
        }
        Err(last.into_error())
    }

    /// Writes `doc` over `old`, conditioned on `old`'s version: a plain update
    /// when the normalized email stays and no record is due, else a
    /// transaction that moves the sentinel with it and carries the record.
    async fn write(
        &self,
        calls: &Calls,
        old: &Stored,
        mut doc: Map<String, Value>,
        keyed: Option<&Keyed>,
    ) -> Result<Outcome, StoreError> {
        let id = old.customer_id().to_owned();
        let now = now();
        let new_norm = item::email_norm_of(&doc);
        if new_norm == old.email_norm && keyed.is_none() {
            let e = expr::replace_members(&old.doc, &doc, None, old.version, &now);
            return Ok(match self.store.update(calls, &id, e).await? {
                Write::Done(new) => Outcome::Done(new),
                Write::Gone => Outcome::Tx(TxOutcome::Gone),
                Write::Refused(cur) => Outcome::Tx(TxOutcome::Changed(cur)),
                Write::Conflict => Outcome::Tx(TxOutcome::Conflict),
            });
        }
        let mut items = Vec::new();
        let mut roles = Vec::new();
        let moved = new_norm != old.email_norm;
        if moved {
            if let Some(n) = &new_norm {
                items.push(self.store.put_if_absent(item::sentinel(n, &id))?);
                roles.push(Role::NewSentinel);
            }
            if let Some(o) = &old.email_norm {
                items.push(self.store.delete_sentinel(o, &id)?);
                roles.push(Role::OldSentinel);
            }
        }
        let norm = moved.then_some(new_norm.as_deref());
        let e = expr::replace_members(&old.doc, &doc, norm, old.version, &now);
        items.push(self.store.update_customer(&id, e)?);
        roles.push(Role::Customer);
        doc.insert("updatedAt".into(), Value::String(now));
        let new = Stored {
            doc,
            version: old.version + 1,
            email_norm: new_norm,
        };
        if let Some(k) = keyed {
            items.push(
                self.store
                    .put_record(k, &Reply::customer(200, &new, None))?,
            );
            roles.push(Role::Record);
        }
        match self.store.transact(calls, items, &roles).await? {
            TxOutcome::Done => Ok(Outcome::Done(new)),
            other => Ok(Outcome::Tx(other)),
        }
    }

    /// DELETE: one conditional delete when the customer holds no email, else
    /// a transaction that releases the sentinel with it. A keyed DELETE puts
    /// its record (a 204, known up front) in the same write, so it too costs
    /// one call without an email and two with one.
    pub async fn delete(
        &self,
        calls: &Calls,
        id: &str,
        if_match: &IfMatch,
        keyed: Option<&Keyed>,
    ) -> Result<Written<()>, ApiError> {
        let record = keyed.map(|k| (k, Reply::no_content()));
        let mut known: Option<Stored> = None;
        let mut last = Retry::Conflict;
        for attempt in 0..MAX_ATTEMPTS {
            let old = match known.take() {
                Some(s) => s,
                None => {
                    let e = expr::delete_condition(&if_match.expect(), true);
                    match self.remove(calls, id, e, None, record.as_ref()).await? {
                        TxOutcome::Done => return Ok(Written::Fresh(())),
                        TxOutcome::Replay(r) => return replayed(keyed, r),
                        TxOutcome::Gone => return Err(ApiError::NotFound),
                        TxOutcome::Changed(cur) => cur,
                        TxOutcome::Throttled => {
                            last = Retry::Throttled;
                            backoff(attempt).await;
                            continue;
                        }
                        TxOutcome::Conflict => {
                            last = Retry::Conflict;
                            backoff(attempt).await;
                            continue;
                        }
                        TxOutcome::EmailTaken
                        | TxOutcome::CustomerExists
                        | TxOutcome::SentinelBroken => return Err(ApiError::Internal),
                    }
                }
            };
            if !if_match.matches(old.version) {
                return Err(ApiError::PreconditionFailed);
            }
            let at_version = expr::delete_condition(&Expect::OneOf(vec![old.version]), false);
            let sentinel = old.email_norm.as_deref();
            match self
                .remove(calls, id, at_version, sentinel, record.as_ref())
                .await?
            {
                TxOutcome::Done => return Ok(Written::Fresh(())),
                TxOutcome::Replay(r) => return replayed(keyed, r),
                TxOutcome::Gone => return Err(ApiError::NotFound),
                TxOutcome::SentinelBroken => return Err(sentinel_broken(id)),
                TxOutcome::Changed(cur) => {
                    if if_match.is_present() && !if_match.matches(cur.version) {
                        return Err(ApiError::PreconditionFailed);
                    }
                    known = Some(cur);
                    last = Retry::Conflict;
                }
                TxOutcome::Conflict => last = Retry::Conflict,
                TxOutcome::Throttled => last = Retry::Throttled,
                TxOutcome::EmailTaken | TxOutcome::CustomerExists => {
                    return Err(ApiError::Internal);
                }
            }
            backoff(attempt).await;
        }
        Err(last.into_error())
    }

    /// Deletes the customer under `condition`: a plain `DeleteItem` when
    /// nothing else must change with it, else one transaction that also
    /// releases the email's sentinel and puts the record.
    async fn remove(
        &self,
        calls: &Calls,
        id: &str,
        condition: expr::Expression,
        sentinel: Option<&str>,
        record: Option<&(&Keyed, Reply)>,
    ) -> Result<TxOutcome, StoreError> {
        if sentinel.is_none() && record.is_none() {
            return Ok(match self.store.delete(calls, id, condition).await? {
                Removal::Deleted => TxOutcome::Done,
                Removal::Gone => TxOutcome::Gone,
                Removal::Refused(cur) => TxOutcome::Changed(cur),
                Removal::Conflict => TxOutcome::Conflict,
            });
        }
        let mut items = vec![self.store.delete_customer(id, condition)?];
        let mut roles = vec![Role::Customer];
        if let Some(norm) = sentinel {
            items.push(self.store.delete_sentinel(norm, id)?);
            roles.push(Role::OldSentinel);
        }
        if let Some((k, reply)) = record {
            items.push(self.store.put_record(k, reply)?);
            roles.push(Role::Record);
        }
        self.store.transact(calls, items, &roles).await
    }
}

/// A record handed back by a failed condition: only keyed writes put one.
fn replayed<T>(keyed: Option<&Keyed>, r: Record) -> Result<Written<T>, ApiError> {
    match keyed {
        Some(k) => replay(k, r),
        None => Err(ApiError::Internal),
    }
}

enum Outcome {
    Done(Stored),
    Tx(TxOutcome),
}
