//! `PutEvents`: the entries of one stream batch, in stream order, at most 10
//! and 256 KB per call; entries that fail are retried (bounded, with
//! jittered backoff) without letting a customer's later event overtake an
//! earlier one that failed.
//!
//! The order rule: a customer's event is sent only once every earlier event
//! of that customer in the batch has been accepted. So a call carries at
//! most one event per customer (EventBridge accepts or refuses the entries
//! of a call one by one, so two of one customer in one call could land in
//! the wrong order), and after a failure that customer's later events wait
//! for the retry to succeed. Other customers' events go on meanwhile. Once
//! an event has used up its attempts, nothing after it in the stream is
//! sent: the stream delivers that record and every later one again (see
//! `handler`), so sending them now would only make duplicates.
//!
//! The cost of the rule is one call per event for a burst of one customer's
//! writes within one batch; a batch of many customers still fills its calls.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::PutEventsError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::events::change::Change;
use crate::events::detail::{self, Mode};

/// The EventBridge `Source` of every event.
pub const SOURCE: &str = "customers-api";
/// `PutEvents` limits: entries per call, and bytes per call as EventBridge
/// counts them ([`entry_size`]).
pub const MAX_ENTRIES: usize = 10;
pub const MAX_CALL_BYTES: usize = 256 * 1024;

/// One event to publish, with the stream record it comes from.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Index of its record in the stream batch.
    pub record: usize,
    pub customer_id: String,
    pub event_id: String,
    pub entry: PutEventsRequestEntry,
    pub size: usize,
}

impl Outgoing {
    pub fn new(record: usize, change: &Change, mode: Mode, bus: &str) -> Outgoing {
        let detail = detail::detail(change, mode).to_string();
        let detail_type = change.kind.detail_type();
        // The time the change happened, so that archives and replays keep it;
        // EventBridge uses the time of the call when this is absent.
        let time = DateTime::from_str(&change.occurred_at, Format::DateTime).ok();
        let size = entry_size(SOURCE, detail_type, &detail, time.is_some());
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(bus)
            .set_time(time)
            .build();
        Outgoing {
            record,
            customer_id: change.customer_id.clone(),
            event_id: change.event_id(),
            entry,
            size,
        }
    }
}

/// An entry's size as EventBridge counts it against the 256 KB of a call
/// ("Calculating PutEvents event entry size"): 14 bytes for the time, plus
/// the UTF-8 bytes of the source, detail type and detail.
pub fn entry_size(source: &str, detail_type: &str, detail: &str, time: bool) -> usize {
    usize::from(time) * 14 + source.len() + detail_type.len() + detail.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending {
        failures: u32,
    },
    Delivered,
    /// Failed every attempt.
    GaveUp,
}

/// How often and how patiently a failed entry is tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries per entry, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// Full jitter, doubling from `base` up to `cap`.
    fn delay(&self, failures: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(self.cap);
        let ms = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(fastrand::u64(1..=ms))
    }
}

/// The events the next call carries: in stream order, the first event not
/// yet delivered of each customer, until an event that gave up; as many as
/// fit in one call (at least one, so an oversized entry gets its refusal
/// from EventBridge).
pub fn next_call(states: &[State], customers: &[&str], sizes: &[usize]) -> Vec<usize> {
    // Customers whose earliest undelivered event has been seen.
    let mut seen: HashSet<&str> = HashSet::new();
    let (mut out, mut bytes) = (Vec::new(), 0);
    for (i, state) in states.iter().enumerate() {
        match state {
            State::Delivered => continue,
            State::GaveUp => break,
            State::Pending { .. } => {}
        }
        if !seen.insert(customers[i]) {
            continue;
        }
        if out.len() == MAX_ENTRIES || (!out.is_empty() && bytes + sizes[i] > MAX_CALL_BYTES) {
            break;
        }
        bytes += sizes[i];
        out.push(i);
    }
    out
}

/// What publishing a batch's events came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One per event, in the order given.
    pub states: Vec<State>,
    pub calls: u32,
    /// Entries sent again after a failure.
    pub retried: u32,
    /// Failures by error code (an entry's, or the call's).
    pub errors: BTreeMap<String, u32>,
}

impl Report {
    pub fn delivered(&self) -> usize {
        self.states
            .iter()
            .filter(|s| **s == State::Delivered)
            .count()
    }

    /// The first event not delivered.
    pub fn first_undelivered(&self) -> Option<usize> {
        self.states.iter().position(|s| *s != State::Delivered)
    }
}

#[derive(Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    retry: Retry,
}

impl Publisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String) -> Self {
        Publisher {
            client,
            bus,
            retry: Retry::default(),
        }
    }

    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Publishes `events` (in stream order). No call starts after
    /// `deadline`: what is left is reported undelivered, for the stream to
    /// deliver again, rather than the invocation timing out.
    pub async fn publish(&self, events: &[Outgoing], deadline: Option<Instant>) -> Report {
        let customers: Vec<&str> = events.iter().map(|e| e.customer_id.as_str()).collect();
        let sizes: Vec<usize> = events.iter().map(|e| e.size).collect();
        let mut r = Report {
            states: vec![State::Pending { failures: 0 }; events.len()],
            ..Report::default()
        };
        loop {
            let call = next_call(&r.states, &customers, &sizes);
            if call.is_empty() {
                break;
            }
            let failures = call
                .iter()
                .map(|&i| match r.states[i] {
                    State::Pending { failures } => failures,
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            let wait = (failures > 0).then(|| self.retry.delay(failures));
            let late = |extra: Duration| deadline.is_some_and(|d| Instant::now() + extra >= d);
            if late(wait.unwrap_or_default()) {
                break;
            }
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
            }
            r.retried += call
                .iter()
                .filter(|&&i| matches!(r.states[i], State::Pending { failures } if failures > 0))
                .count() as u32;
            r.calls += 1;
            let entries: Vec<_> = call.iter().map(|&i| events[i].entry.clone()).collect();
            let outcome = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await;
            let codes: Vec<Option<String>> = match outcome {
                Ok(out) => (0..call.len())
                    .map(|k| match out.entries().get(k) {
                        Some(e) if e.error_code().is_none() && e.event_id().is_some() => None,
                        Some(e) => Some(e.error_code().unwrap_or("Unknown").to_owned()),
                        None => Some("MissingResultEntry".to_owned()),
                    })
                    .collect(),
                Err(e) => vec![Some(call_error(&e)); call.len()],
            };
            for (&i, code) in call.iter().zip(codes) {
                r.states[i] = match (code, r.states[i]) {
                    (None, _) => State::Delivered,
                    (Some(code), State::Pending { failures }) => {
                        *r.errors.entry(code).or_default() += 1;
                        if failures + 1 >= self.retry.attempts {
                            State::GaveUp
                        } else {
                            State::Pending {
                                failures: failures + 1,
                            }
                        }
                    }
                    (Some(_), other) => other,
                };
            }
        }
        r
    }
}

/// A name for a failed call, without its message (which may quote input).
fn call_error<R>(e: &SdkError<PutEventsError, R>) -> String {
    match e {
        SdkError::ServiceError(s) => match s.err() {
            PutEventsError::InternalException(_) => "InternalException",
            other => other.code().unwrap_or("ServiceError"),
        }
        .to_owned(),
        SdkError::TimeoutError(_) => "Timeout".to_owned(),
        SdkError::DispatchFailure(_) => "DispatchFailure".to_owned(),
        SdkError::ResponseError(_) => "ResponseError".to_owned(),
        SdkError::ConstructionFailure(_) => "ConstructionFailure".to_owned(),
        _ => "Unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: State = State::Pending { failures: 0 };
    const F: State = State::Pending { failures: 1 };
    const D: State = State::Delivered;
    const G: State = State::GaveUp;

    #[test]
    fn calls_hold_ten_entries_in_stream_order() {
        let states = vec![P; 23];
        let customers: Vec<String> = (0..23).map(|i| format!("c{i}")).collect();
        let customers: Vec<&str> = customers.iter().map(String::as_str).collect();
        let sizes = vec![100; 23];
        assert_eq!(
            next_call(&states, &customers, &sizes),
            (0..10).collect::<Vec<_>>()
        );
        let mut states = states;
        states[..20].fill(D);
        assert_eq!(next_call(&states, &customers, &sizes), vec![20, 21, 22]);
    }

    #[test]
    fn calls_stay_under_256_kb_but_hold_at_least_one_entry() {
        let customers = ["a", "b", "c", "d"];
        let sizes = [100_000, 100_000, 100_000, 300_000];
        assert_eq!(next_call(&[P, P, P, P], &customers, &sizes), vec![0, 1]);
        assert_eq!(next_call(&[D, D, P, P], &customers, &sizes), vec![2]);
        assert_eq!(next_call(&[D, D, D, P], &customers, &sizes), vec![3]);
    }

    #[test]
    fn a_customers_event_waits_for_its_earlier_ones() {
        let customers = ["a", "b", "a", "c", "a"];
        let sizes = [10; 5];
        // One event per customer and call, the earliest.
        assert_eq!(
            next_call(&[P, P, P, P, P], &customers, &sizes),
            vec![0, 1, 3]
        );
        // a's first event failed: it is retried, a's later ones wait.
        assert_eq!(next_call(&[F, D, P, D, P], &customers, &sizes), vec![0]);
        // Once it is delivered, the next one goes.
        assert_eq!(next_call(&[D, D, P, D, P], &customers, &sizes), vec![2]);
        assert_eq!(next_call(&[D, D, D, D, P], &customers, &sizes), vec![4]);
    }

    #[test]
    fn nothing_after_an_event_that_gave_up() {
        let customers = ["a", "b", "c"];
        assert_eq!(next_call(&[P, G, P], &customers, &[1; 3]), vec![0]);
        assert_eq!(
            next_call(&[D, G, P], &customers, &[1; 3]),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn delays_grow_and_stay_capped() {
        let r = Retry {
            attempts: 4,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(250),
        };
        for _ in 0..50 {
            assert!(r.delay(1) <= Duration::from_millis(100));
            assert!(r.delay(3) <= Duration::from_millis(250));
            assert!(r.delay(40) <= Duration::from_millis(250));
        }
    }

    #[test]
    fn entry_size_counts_as_eventbridge_does() {
        assert_eq!(entry_size("s", "dt", "{}", true), 14 + 1 + 2 + 2);
        assert_eq!(entry_size("s", "dt", "é", false), 1 + 2 + 2);
    }
}
