//! Finding customers (SPEC §12): by email through the sentinel, and the
//! list through the keys-only index, then the customers themselves with a
//! strongly consistent `BatchGetItem`. The index is eventually consistent;
//! what a page shows of each customer is not (it is read from the table).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use crate::error::ApiError;
use crate::store::customers::{Customers, MAX_ATTEMPTS, backoff};
use crate::store::dynamo::{Calls, Store, StoreError, classify, decode_owned};
use crate::store::expr::Expression;
use crate::store::item::{self, Item, LIST_INDEX, Stored, attr};
use crate::store::page::{self, Bounds};

/// Largest page (SPEC §12), also `BatchGetItem`'s limit of 100 keys.
pub const MAX_LIMIT: usize = 100;

/// One page of the list: customers newest first, and the position after
/// the last one when there are more.
#[derive(Debug)]
pub struct Page {
    pub customers: Vec<Stored>,
    pub next: Option<String>,
}

impl Customers {
    /// The customer holding `norm` (a normalized email), read through its
    /// sentinel: two strongly consistent reads, one when nobody holds it.
    /// A customer that let the email go between the two reads is not
    /// returned: at the second read, it no longer held the email.
    pub async fn find_by_email(
        &self,
        calls: &Calls,
        norm: &str,
    ) -> Result<Option<Stored>, ApiError> {
        let store = self.store();
        let Some(sentinel) = store.get_raw(calls, item::email_key(norm)).await? else {
            return Ok(None);
        };
        let Some(AttributeValue::S(owner)) = sentinel.get(attr::OWNER) else {
            tracing::error!("email sentinel without an owner");
            return Err(ApiError::Internal);
        };
        let found = store.get(calls, owner).await?;
        Ok(found.filter(|s| s.email_norm.as_deref() == Some(norm)))
    }

    /// One page of at most `limit` customers after `start` (a position from
    /// the previous page), within `bounds`: one `Query` (one key more than
    /// the page, to know whether another page follows) and one
    /// `BatchGetItem` (plus one per retry of unprocessed keys).
    pub async fn page(
        &self,
        calls: &Calls,
        bounds: &Bounds,
        start: Option<&str>,
        limit: usize,
    ) -> Result<Page, ApiError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let Some(cond) = page::key_condition(bounds) else {
            return Ok(Page {
                customers: Vec::new(),
                next: None,
            });
        };
        let start_key = match start {
            None => None,
            Some(p) => Some(page::start_key(p).ok_or(ApiError::Internal)?),
        };
        let mut keys = self
            .store()
            .query_list(calls, cond, start_key, limit + 1)
            .await?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        let positions: Vec<String> = keys.iter().filter_map(page::position_of).collect();
        let next = if more {
            positions.last().cloned()
        } else {
            None
        };
        let ids: Vec<&str> = positions
            .iter()
            .filter_map(|p| page::customer_id_of(p))
            .collect();
        let mut found: HashMap<String, Stored> = self
            .store()
            .batch_get(calls, &ids)
            .await?
            .into_iter()
            .map(|s| (s.customer_id().to_owned(), s))
            .collect();
        // In the index's order; a customer deleted since the Query is absent.
        let customers = ids.iter().filter_map(|id| found.remove(*id)).collect();
        Ok(Page { customers, next })
    }
}

impl Store {
    /// A strongly consistent `GetItem` of any item, undecoded.
    pub async fn get_raw(&self, calls: &Calls, pk: String) -> Result<Option<Item>, StoreError> {
        calls.add();
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(item::key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out.item)
    }

    /// One `Query` of the list index, newest first; the keys it returns.
    pub async fn query_list(
        &self,
        calls: &Calls,
        cond: Expression,
        start: Option<Item>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        calls.add();
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(LIST_INDEX)
            .key_condition_expression(cond.condition)
            .set_expression_attribute_names(Some(cond.names))
            .set_expression_attribute_values(Some(cond.values))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out.items.unwrap_or_default())
    }

    /// The customers named by `ids` (at most 100), strongly consistent, in
    /// no particular order; missing ones are left out. Keys DynamoDB leaves
    /// unprocessed (under load) are asked for again with backoff, up to
    /// [`MAX_ATTEMPTS`] calls in all, then 503.
    pub async fn batch_get(&self, calls: &Calls, ids: &[&str]) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        let keys: Vec<Item> = ids
            .iter()
            .map(|id| item::key(item::customer_key(id)))
            .collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
        );
        for attempt in 0..MAX_ATTEMPTS {
            let Some(request) = pending.take() else {
                return Ok(out);
            };
            if attempt > 0 {
                backoff(attempt - 1).await;
            }
            calls.add();
            let res = self
                .client()
                .batch_get_item()
                .request_items(self.table(), request)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let mut responses = res.responses.unwrap_or_default();
            for it in responses.remove(self.table()).unwrap_or_default() {
                out.push(decode_owned(it)?);
            }
            pending = res
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.table()))
                .filter(|k| !k.keys().is_empty());
        }
        match pending {
            None => Ok(out),
            Some(_) => Err(StoreError::Unavailable("unprocessed keys".into())),
        }
    }
}
