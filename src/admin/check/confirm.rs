//! A scan of a live table is not a snapshot: a customer read before its
//! email moved and a sentinel read after can look like a violation that
//! never existed. So each finding is read again, with every item it involves
//! (the customers, their sentinels under both forms, those sentinels'
//! owners) in one `TransactGetItems`, a serializable snapshot, and judged
//! again by the same [`findings`](super::findings::findings) on that
//! snapshot. A finding that is not there any more was a passing state and is
//! dropped; one that is there keeps the versions just read, for `--fix`.

use std::collections::BTreeSet;

use crate::store::dynamo::{Store, StoreError};
use crate::store::item;

use super::findings::{Code, Finding, Fix, Index, findings};

/// `TransactGetItems` takes at most 100 keys; larger neighbourhoods (an
/// email held by dozens of customers) are reported as scanned.
const MAX_KEYS: usize = 100;
const ROUNDS: usize = 3;

/// What the re-read decided.
pub enum Verdict {
    /// Still wrong, as read now.
    Confirmed(Finding),
    /// Gone on the re-read.
    Passing,
    /// Could not be re-read as a whole (too many items, or kept changing).
    AsScanned(Finding),
}

#[derive(Default)]
struct Hood {
    customers: BTreeSet<String>,
    norms: BTreeSet<String>,
}

impl Hood {
    fn pks(&self) -> Vec<String> {
        let c = self.customers.iter().map(|id| item::customer_key(id));
        let s = self.norms.iter().map(|n| item::email_key(n));
        c.chain(s).collect()
    }

    /// Adds what the items of `ix` point at; true if that added anything.
    fn close_over(&mut self, ix: &Index) -> bool {
        let before = (self.customers.len(), self.norms.len());
        for c in ix.customers.values() {
            self.norms
                .extend(c.holds.iter().chain(c.recorded.iter()).cloned());
        }
        for owner in ix.sentinels.values() {
            self.customers.insert(owner.clone());
        }
        before != (self.customers.len(), self.norms.len())
    }
}

/// The items a finding is about, as the scan saw them.
fn neighbourhood(f: &Finding, scan: &Index) -> Hood {
    let mut h = Hood::default();
    h.customers
        .extend(f.customer_id.iter().chain(f.others.iter()).cloned());
    match &f.fix {
        Some(Fix::RemoveOrphan { norm, .. } | Fix::RemoveNotHeld { norm, .. }) => {
            h.norms.insert(norm.clone());
        }
        Some(Fix::Rekey { from, to, .. }) => {
            h.norms.insert(from.clone());
            h.norms.extend(to.iter().cloned());
        }
        None => {}
    }
    for id in h.customers.clone() {
        if let Some(c) = scan.customers.get(&id) {
            h.norms
                .extend(c.holds.iter().chain(c.recorded.iter()).cloned());
        }
    }
    for n in h.norms.clone() {
        if let Some(o) = scan.sentinels.get(&n) {
            h.customers.insert(o.clone());
        }
    }
    h
}

fn same(a: &Finding, b: &Finding) -> bool {
    a.code == b.code && a.customer_id == b.customer_id
}

pub async fn confirm(store: &Store, scan: &Index, f: Finding) -> Result<Verdict, StoreError> {
    if f.code == Code::UnreadableItem {
        return Ok(Verdict::AsScanned(f));
    }
    let mut hood = neighbourhood(&f, scan);
    for _ in 0..ROUNDS {
        let pks = hood.pks();
        if pks.len() > MAX_KEYS {
            break;
        }
        let mut ix = Index::default();
        for it in store
            .snapshot(&crate::store::dynamo::Calls::default(), &pks)
            .await?
        {
            ix.add(&it);
        }
        if hood.close_over(&ix) {
            continue; // the snapshot points at items not read: read them too
        }
        return Ok(match findings(&ix).into_iter().find(|g| same(g, &f)) {
            Some(g) => Verdict::Confirmed(g),
            None => Verdict::Passing,
        });
    }
    Ok(Verdict::AsScanned(f))
}
