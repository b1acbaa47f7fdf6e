//! Table-wide reads for `customers-admin` (check, export): the table's item
//! count and strongly consistent scan pages, segment by segment. The
//! function itself never scans.

use aws_sdk_dynamodb::types::Select;

use crate::store::dynamo::{Store, StoreError, classify};
use crate::store::item::Item;

/// One page of a scan and where the next one starts (`None`: the segment
/// is done).
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Item>,
}

impl Store {
    /// DynamoDB's item count of the table (updated about every six hours,
    /// so a progress total, not a fact).
    pub async fn item_count(&self) -> Result<u64, StoreError> {
        let out = self
            .client()
            .describe_table()
            .table_name(self.table())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .table
            .and_then(|t| t.item_count)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }

    /// The page of segment `segment` of `total` that starts at `start`.
    pub async fn scan_page(
        &self,
        segment: i32,
        total: i32,
        start: Option<Item>,
    ) -> Result<Page, StoreError> {
        let mut req = self
            .client()
            .scan()
            .table_name(self.table())
            .consistent_read(true)
            .select(Select::AllAttributes)
            .set_exclusive_start_key(start);
        if total > 1 {
            req = req.segment(segment).total_segments(total);
        }
        let out = req.send().await.map_err(|e| classify(&e))?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }
}

impl Store {
    /// The items under these keys as one serializable snapshot
    /// (`TransactGetItems`, at most 100 keys); absent keys are missing from
    /// the answer. A conflict with a transaction in flight is retried.
    pub async fn snapshot(
        &self,
        calls: &crate::store::dynamo::Calls,
        pks: &[String],
    ) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
        use aws_sdk_dynamodb::types::{Get, TransactGetItem};
        let mut gets = Vec::with_capacity(pks.len());
        for pk in pks {
            let get = Get::builder()
                .table_name(self.table())
                .set_key(Some(crate::store::item::key(pk.clone())))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            gets.push(TransactGetItem::builder().get(get).build());
        }
        let mut attempt = 0;
        loop {
            calls.add();
            let res = self
                .client()
                .transact_get_items()
                .set_transact_items(Some(gets.clone()))
                .send()
                .await;
            match res {
                Ok(out) => {
                    return Ok(out
                        .responses
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|r| r.item)
                        .filter(|i| !i.is_empty())
                        .collect());
                }
                Err(e)
                    if attempt < 3
                        && matches!(
                            e.as_service_error(),
                            Some(TransactGetItemsError::TransactionCanceledException(_))
                        ) =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                Err(e) => return Err(classify(&e)),
            }
        }
    }
}
