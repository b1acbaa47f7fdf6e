//! `import FILE.jsonl`: each line a customer as POST takes it, plus the
//! server-owned members of an export (`create::imported_customer`), created
//! through `Customers::create`, the POST path (validation, the email
//! sentinel in the same transaction), several lines in flight at once.
//!
//! Resumable: a line whose customer already exists with the same content
//! (the stored document equals what the line would create, the members the
//! line leaves to the server aside) counts as already present, so a run
//! stopped halfway, or run twice, ends in the same table. Failed lines are
//! reported with their number, code and `errors[]` (param and message, never
//! the value: reports travel, values are personal data).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::admin::progress::Progress;
use crate::admin::{AdminError, exit};
use crate::customer::create::{self, KEPT_ON_IMPORT};
use crate::customer::validate::check_customer_id;
use crate::error::ApiError;
use crate::http::body::{self, MAX_BODY_BYTES};
use crate::store::customers::{self, Customers};
use crate::store::dynamo::Calls;

#[derive(Debug, Clone)]
pub struct Options {
    pub concurrency: usize,
    pub report: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: u64,
    pub present: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineError {
    pub param: String,
    pub message: String,
}

/// One failed line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub line: u64,
    pub code: &'static str,
    /// When the line has a valid one: ids are not personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub message: String,
    pub errors: Vec<LineError>,
}

enum Outcome {
    Created,
    Present,
    Failed(Failure),
}

fn failure(line: u64, id: Option<String>, e: &ApiError) -> Outcome {
    Outcome::Failed(Failure {
        line,
        code: e.code(),
        customer_id: id,
        message: e.to_string(),
        errors: e
            .errors()
            .iter()
            .map(|f| LineError {
                param: f.param.clone(),
                message: f.message.clone(),
            })
            .collect(),
    })
}

/// The document without the server-owned members the line did not give:
/// what "same content" compares.
fn comparable(doc: &Map<String, Value>, line: &Map<String, Value>) -> Map<String, Value> {
    let mut d = doc.clone();
    for m in KEPT_ON_IMPORT {
        if line.get(*m).is_none_or(Value::is_null) && *m != "details" {
            d.remove(*m);
        }
    }
    d
}

async fn import_line(customers: &Customers, line: u64, bytes: &[u8]) -> Outcome {
    if bytes.len() > MAX_BODY_BYTES {
        return failure(line, None, &ApiError::PayloadTooLarge);
    }
    let map = match body::parse_json(bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return failure(
                line,
                None,
                &ApiError::InvalidJson("The line must be a JSON object.".into()),
            );
        }
        Err(e) => {
            return failure(
                line,
                None,
                &ApiError::InvalidJson(e.replace("body", "line")),
            );
        }
    };
    let id = map
        .get("customerId")
        .and_then(Value::as_str)
        .filter(|s| check_customer_id(s).is_ok())
        .map(str::to_owned);
    let doc = match create::imported_customer(
        &map,
        uuid::Uuid::new_v4().to_string(),
        &customers::now(),
        &customers::today(),
    ) {
        Ok(d) => d,
        Err(errs) => return failure(line, id, &ApiError::Invalid(errs)),
    };
    let calls = Calls::default();
    let want = comparable(&doc, &map);
    match customers.create(&calls, doc, None).await {
        Ok(_) => Outcome::Created,
        Err(ApiError::CustomerExists) => {
            let cid = id.clone().unwrap_or_default();
            match customers.get(&calls, &cid).await {
                Ok(stored) if comparable(&stored.doc, &map) == want => Outcome::Present,
                Ok(_) => Outcome::Failed(Failure {
                    line,
                    code: "customer_exists",
                    customer_id: id,
                    message: "A customer with this customerId exists with other content.".into(),
                    errors: Vec::new(),
                }),
                Err(e) => failure(line, id, &e),
            }
        }
        Err(e) => failure(line, id, &e),
    }
}

/// Non-empty lines, numbered from 1 as an editor shows them.
fn lines(path: &Path) -> Result<impl Iterator<Item = (u64, std::io::Result<Vec<u8>>)>, AdminError> {
    let f = std::fs::File::open(path)
        .map_err(|e| AdminError::Io(format!("{}: {e}", path.display())))?;
    Ok(BufReader::new(f)
        .split(b'\n')
        .zip(1u64..)
        .map(|(l, n)| {
            (
                n,
                l.map(|mut b| {
                    if b.last() == Some(&b'\r') {
                        b.pop();
                    }
                    b
                }),
            )
        })
        .filter(|(_, l)| {
            l.as_ref()
                .map_or(true, |b| !b.iter().all(u8::is_ascii_whitespace))
        }))
}

/// Imports the file; the failures come back sorted by line.
pub async fn run(
    customers: &Customers,
    path: &Path,
    concurrency: usize,
    progress: &Progress,
) -> Result<(Summary, Vec<Failure>), AdminError> {
    let mut read_error = None;
    let mut outcomes = futures::stream::iter(lines(path)?)
        .map(|(n, l)| {
            let bytes = match l {
                Ok(b) => Ok(b),
                Err(e) => Err(e.to_string()),
            };
            async move {
                match bytes {
                    Ok(b) => Ok(import_line(customers, n, &b).await),
                    Err(e) => Err(AdminError::Io(format!("{}: line {n}: {e}", path.display()))),
                }
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut summary = Summary::default();
    let mut failures = Vec::new();
    while let Some(o) = outcomes.next().await {
        match o {
            Ok(Outcome::Created) => summary.created += 1,
            Ok(Outcome::Present) => summary.present += 1,
            Ok(Outcome::Failed(f)) => {
                summary.failed += 1;
                failures.push(f);
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        progress.inc(1);
    }
    progress.finish();
    if let Some(e) = read_error {
        return Err(e);
    }
    failures.sort_by_key(|f| f.line);
    Ok((summary, failures))
}

pub async fn command(customers: &Customers, path: &Path, opts: &Options) -> Result<u8, AdminError> {
    let total = lines(path)?.count() as u64;
    let progress = Progress::new("import", total);
    let (summary, failures) = run(customers, path, opts.concurrency, &progress).await?;
    if let Some(report) = &opts.report {
        let write = || -> std::io::Result<()> {
            let mut w = std::io::BufWriter::new(std::fs::File::create(report)?);
            for f in &failures {
                serde_json::to_writer(&mut w, f)?;
                w.write_all(b"\n")?;
            }
            w.flush()
        };
        write().map_err(|e| AdminError::Io(format!("{}: {e}", report.display())))?;
    } else {
        for f in failures.iter().take(20) {
            eprintln!("line {}: {} {}", f.line, f.code, f.message);
        }
        if failures.len() > 20 {
            eprintln!(
                "... {} more (--report FILE lists every one)",
                failures.len() - 20
            );
        }
    }
    println!(
        "created {}, already present {}, failed {}",
        summary.created, summary.present, summary.failed
    );
    Ok(if summary.failed == 0 {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
