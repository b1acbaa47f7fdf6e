//! Change events (SPEC §13): the second function of this crate reads the
//! table's DynamoDB stream and puts one EventBridge event on the bus per
//! committed change of a customer, with what changed and what it was before.
//!
//! A record is read back through the one item layout the API writes
//! (`store::item`) in `change`; `diff` says what changed (pure); `detail`
//! shapes the event per `EVENT_DETAIL` mode (pure); `publish` sends the
//! events with `PutEvents` (batches, retries, per-customer order); `handler`
//! runs a stream batch and answers which records Lambda must deliver again.
//! Uses `customer` and `store`, never `http` or `auth`.

pub mod change;
pub mod detail;
pub mod diff;
pub mod handler;
pub mod publish;

pub use handler::{EventsApp, Summary, handle};
