//! `check`: the email invariant (SPEC §4) and the item layout, over a whole
//! table. The scan (strongly consistent, optionally in parallel segments)
//! files every item into an [`Index`]; [`findings`] says what is wrong;
//! `--fix` applies the repairs that are provably safe. The tests' invariant
//! check is [`run`] too: one implementation.
//!
//! A scan of a live table is not a snapshot, so every finding is read again
//! in one consistent snapshot of the items it involves before it is
//! reported (`confirm`), and repairs are conditioned on that re-read state.

pub mod confirm;
pub mod findings;
pub mod repair;

#[cfg(test)]
mod tests;

use serde_json::json;

use crate::admin::progress::Progress;
use crate::admin::{AdminError, exit};
use crate::store::dynamo::{Store, StoreError};
use crate::store::item::Item;

pub use findings::{Code, Finding, Index};

#[derive(Debug, Clone)]
pub struct Options {
    pub segments: u32,
    pub fix: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segments: 1,
            fix: false,
        }
    }
}

#[derive(Debug)]
pub struct Report {
    pub items: usize,
    pub customers: usize,
    pub sentinels: usize,
    pub findings: Vec<Finding>,
    /// Findings of the scan that a re-read showed to be passing states.
    pub passing: usize,
}

impl Report {
    /// Findings still standing (not repaired).
    pub fn open(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| {
            !f.repair
                .as_deref()
                .is_some_and(|r| r.starts_with("repaired"))
        })
    }
}

/// Scans every segment concurrently, sending pages to one collector.
pub async fn scan(store: &Store, segments: u32, progress: &Progress) -> Result<Index, StoreError> {
    let total = i32::try_from(segments.max(1)).unwrap_or(1);
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<Vec<Item>, StoreError>>(2 * total as usize);
    for segment in 0..total {
        let store = store.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut start = None;
            loop {
                match store.scan_page(segment, total, start).await {
                    Ok(page) => {
                        start = page.next;
                        if tx.send(Ok(page.items)).await.is_err() || start.is_none() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    let mut ix = Index::default();
    while let Some(page) = rx.recv().await {
        let items = page?;
        for it in &items {
            ix.add(it);
        }
        progress.inc(items.len() as u64);
    }
    Ok(ix)
}

/// Scans, finds, and with `fix` repairs. Errors only when the table cannot
/// be read; everything wrong with its content is a finding.
pub async fn run(store: &Store, opts: &Options, progress: &Progress) -> Result<Report, StoreError> {
    let ix = scan(store, opts.segments, progress).await?;
    progress.finish();
    // One finding at a time, re-read then repaired, so that a repair is
    // seen by the re-read of the next finding about the same customer.
    let mut found = Vec::new();
    let mut passing = 0;
    for f in findings::findings(&ix) {
        let mut f = match confirm::confirm(store, &ix, f).await? {
            confirm::Verdict::Confirmed(f) | confirm::Verdict::AsScanned(f) => f,
            confirm::Verdict::Passing => {
                passing += 1;
                continue;
            }
        };
        if opts.fix {
            f.repair = Some(match &f.fix {
                Some(fix) => repair::apply(store, fix).await?.1,
                None => "not repaired: needs a decision (see the README)".into(),
            });
        }
        found.push(f);
    }
    Ok(Report {
        items: ix.items(),
        customers: ix.customers.len(),
        sentinels: ix.sentinels.len(),
        findings: found,
        passing,
    })
}

/// The command: progress on stderr, the report on stdout, the exit status.
pub async fn command(store: &Store, opts: &Options, as_json: bool) -> Result<u8, AdminError> {
    let total = store.item_count().await?;
    let progress = Progress::new("check", total);
    let report = run(store, opts, &progress).await?;
    let open = report.open().count();
    if as_json {
        let out = json!({
            "table": store.table(),
            "items": report.items,
            "customers": report.customers,
            "sentinels": report.sentinels,
            "findings": report.findings,
            "open": open,
            "passing": report.passing,
        });
        println!("{out}");
    } else {
        for f in &report.findings {
            let code = serde_json::to_value(f.code).unwrap_or_default();
            match &f.repair {
                Some(r) => println!("{}: {} [{r}]", code.as_str().unwrap_or(""), f.message),
                None => {
                    let hint = if f.fix.is_some() {
                        " [--fix repairs it]"
                    } else {
                        ""
                    };
                    println!("{}: {}{hint}", code.as_str().unwrap_or(""), f.message)
                }
            }
        }
        println!(
            "{} items ({} customers, {} sentinels): {} findings, {open} open",
            report.items,
            report.customers,
            report.sentinels,
            report.findings.len()
        );
        if report.passing > 0 {
            println!(
                "{} more seen by the scan were gone when read again (writes in flight)",
                report.passing
            );
        }
    }
    Ok(if open == 0 { exit::OK } else { exit::FINDINGS })
}
