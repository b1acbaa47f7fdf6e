//! One stream batch: records to changes, changes to events, events to the
//! bus, and the answer that tells Lambda where to resume.
//!
//! The answer follows AWS's `ReportBatchItemFailures` contract for stream
//! sources: `batchItemFailures` names the sequence number of the first
//! record not fully handled, and Lambda resumes the shard from it (it uses
//! the lowest sequence number named, and retries every record from there);
//! an empty list checkpoints the whole batch. So the one item named is the
//! first record whose event is not on the bus, or that could not be read;
//! every record before it has been delivered or needs no event. Errors never
//! escape to the runtime: a failed invocation would retry the whole batch.

use std::time::Instant;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::events::change::change_of;
use crate::events::detail::Mode;
use crate::events::publish::{Outgoing, Publisher, Report};
use crate::telemetry::{self, Settings, emf::Line};

pub struct EventsApp {
    pub publisher: Publisher,
    pub mode: Mode,
    pub telemetry: Settings,
}

/// What a batch came to, for the summary line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    /// Events on the bus.
    pub published: usize,
    /// Events not on the bus, and records that could not be read.
    pub failed: usize,
    /// Records that are no customer's change (sentinels, idempotency
    /// records, writes that did not move the version).
    pub skipped: usize,
    /// The record Lambda resumes from, if any.
    pub resume_at: Option<usize>,
    pub report: Report,
}

pub async fn handle(
    app: &EventsApp,
    event: &Event,
    deadline: Option<Instant>,
) -> (DynamoDbEventResponse, Summary) {
    let bus = app.publisher.bus();
    let mut outgoing = Vec::new();
    let mut unreadable = None;
    let mut skipped = 0;
    for (i, rec) in event.records.iter().enumerate() {
        match change_of(rec) {
            Ok(Some(c)) => outgoing.push(Outgoing::new(i, &c, app.mode, bus)),
            Ok(None) => skipped += 1,
            Err(e) => {
                tracing::error!(
                    sequenceNumber = rec.change.sequence_number.as_deref().unwrap_or(""),
                    error = %e,
                    "stream record of a customer cannot be read"
                );
                // Everything from here on is delivered again with it.
                unreadable = Some(i);
                break;
            }
        }
    }
    let report = app.publisher.publish(&outgoing, deadline).await;
    let undelivered = report.first_undelivered().map(|k| outgoing[k].record);
    let resume_at = match (undelivered, unreadable) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = resume_at {
        let mut failure = DynamoDbBatchItemFailure::default();
        // No sequence number (never seen from Lambda) cannot be named; an
        // empty identifier makes Lambda retry the whole batch, which loses
        // nothing.
        failure.item_identifier = Some(
            event.records[i]
                .change
                .sequence_number
                .clone()
                .unwrap_or_default(),
        );
        response.batch_item_failures.push(failure);
    }
    let published = report.delivered();
    let summary = Summary {
        records: event.records.len(),
        published,
        failed: outgoing.len() - published + usize::from(unreadable.is_some()),
        skipped,
        resume_at,
        report,
    };
    let line = log(&summary, event, app);
    telemetry::emit(&line);
    (response, summary)
}

/// One JSON line per batch: counts, error codes and where the stream
/// resumes, no customer data; and its metrics as EMF (SPEC §14). A batch
/// with failures is a warning, so the line (and `eventsFailed`) survives a
/// log level of WARN.
fn log(s: &Summary, event: &Event, app: &EventsApp) -> String {
    let resume = s
        .resume_at
        .and_then(|i| event.records[i].change.sequence_number.as_deref())
        .unwrap_or("");
    let errors = serde_json::to_string(&s.report.errors).unwrap_or_default();
    let (level, message) = if s.failed > 0 {
        (
            "WARN",
            "stream batch partly delivered; the stream resumes at resumeAt",
        )
    } else {
        ("INFO", "stream batch delivered")
    };
    let mut line = Line::new(level, message);
    line.set(telemetry::SERVICE, app.telemetry.service.as_str())
        .set("records", s.records)
        .set("skipped", s.skipped)
        .set("putEventsCalls", s.report.calls)
        .set("retried", s.report.retried)
        .set("errors", errors)
        .set("resumeAt", resume)
        .set("detail", app.mode.as_str())
        .number(telemetry::EVENTS_PUBLISHED, s.published as f64)
        .number(telemetry::EVENTS_FAILED, s.failed as f64);
    let oldest = event
        .records
        .iter()
        .map(|r| r.change.approximate_creation_date_time)
        .min();
    if let Some(oldest) = oldest {
        let age = (chrono::Utc::now() - oldest).num_milliseconds().max(0);
        line.number(telemetry::ITERATOR_AGE_MS, age as f64);
    }
    telemetry::render(
        line,
        &app.telemetry,
        telemetry::EVENTS_DIMENSIONS,
        telemetry::EVENTS_METRICS,
    )
}
