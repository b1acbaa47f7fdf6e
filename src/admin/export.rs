//! `export`: every customer as one JSON line, the GET view
//! (`store::item::view`), to stdout or a file; progress on stderr. Scan
//! order (no sorting: a table may not fit in memory, a line does).

use std::io::Write;
use std::path::Path;

use crate::admin::progress::Progress;
use crate::admin::{AdminError, exit};
use crate::store::dynamo::Store;
use crate::store::item::{self, CUSTOMER_KIND, attr};

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub exported: u64,
    /// Customer items the layout cannot read (named on stderr).
    pub unreadable: u64,
}

fn io(e: std::io::Error) -> AdminError {
    AdminError::Io(format!("writing the export: {e}"))
}

/// Writes every customer to `out`, one line each.
pub async fn run(
    store: &Store,
    out: &mut dyn Write,
    segments: u32,
    progress: &Progress,
) -> Result<Summary, AdminError> {
    let total = i32::try_from(segments.max(1)).unwrap_or(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel(2 * total as usize);
    for segment in 0..total {
        let store = store.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut start = None;
            loop {
                let page = store.scan_page(segment, total, start).await;
                let more = match &page {
                    Ok(p) => p.next.clone(),
                    Err(_) => None,
                };
                if tx.send(page).await.is_err() {
                    return;
                }
                match more {
                    Some(next) => start = Some(next),
                    None => return,
                }
            }
        });
    }
    drop(tx);
    let mut summary = Summary::default();
    while let Some(page) = rx.recv().await {
        let page = page?;
        for it in &page.items {
            if !matches!(it.get(attr::KIND), Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) if k == CUSTOMER_KIND)
            {
                continue;
            }
            match item::stored_from_item(it) {
                Ok(s) => {
                    serde_json::to_writer(&mut *out, &item::view(&s.doc))
                        .map_err(|e| AdminError::Io(format!("writing the export: {e}")))?;
                    out.write_all(b"\n").map_err(io)?;
                    summary.exported += 1;
                }
                Err(e) => {
                    let pk = match it.get(attr::PK) {
                        Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) => pk.as_str(),
                        _ => "?",
                    };
                    progress.println(&format!("customers-admin: skipped {pk}: {e}"));
                    summary.unreadable += 1;
                }
            }
        }
        progress.inc(page.items.len() as u64);
    }
    out.flush().map_err(io)?;
    progress.finish();
    Ok(summary)
}

pub async fn command(store: &Store, out: Option<&Path>, segments: u32) -> Result<u8, AdminError> {
    let progress = Progress::new("export", store.item_count().await?);
    let summary = match out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| AdminError::Io(format!("{}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(f);
            run(store, &mut w, segments, &progress).await?
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            run(store, &mut w, segments, &progress).await?
        }
    };
    eprintln!(
        "customers-admin: exported {} customers{}",
        summary.exported,
        if summary.unreadable > 0 {
            format!(
                ", skipped {} unreadable items (run check)",
                summary.unreadable
            )
        } else {
            String::new()
        }
    );
    Ok(if summary.unreadable == 0 {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
