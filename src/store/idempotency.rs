//! Idempotency records (SPEC §11). A record is its own item, put with the
//! condition "absent or expired" inside the very write that commits the
//! change it answers for, so there is no moment at which the change is
//! committed and the key is not. When that condition fails, DynamoDB hands
//! the record back with the cancellation reasons and the caller replays it.

use crate::error::ApiError;
use crate::store::item::{self, Stored};
use crate::store::precondition;

/// A response as it is recorded and replayed: status, body text and the
/// headers a replay must repeat. Fresh keyed responses are built from the
/// same value, so a replay is byte for byte what the first answer was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Option<String>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    /// `{"data": Customer}` with its `ETag`.
    pub fn customer(status: u16, s: &Stored, location: Option<String>) -> Reply {
        Reply {
            status,
            body: Some(item::data_body(&s.doc)),
            etag: Some(precondition::etag(s.version)),
            location,
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            etag: None,
            location: None,
        }
    }
}

/// A write that carries an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    /// `http::idempotency::record_id`: the API key's id and the key, hashed.
    pub id: String,
    pub fingerprint: String,
    /// Epoch seconds: a record whose `expires_at` is before this is gone.
    pub now: i64,
    pub expires_at: i64,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fingerprint: String,
    pub reply: Reply,
    pub expires_at: i64,
}

impl Record {
    /// Expiry is checked on every use: DynamoDB's TTL deletes days late.
    pub fn live(&self, now: i64) -> bool {
        self.expires_at >= now
    }
}

/// What a keyed write ends in besides an error.
#[derive(Debug)]
pub enum Written<T> {
    /// This request made the change.
    Fresh(T),
    /// An earlier request with the same key and fingerprint did.
    Replayed(Reply),
}

impl<T> Written<T> {
    /// The fresh result turned into something else; a replay stays as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Written<U> {
        match self {
            Written::Fresh(t) => Written::Fresh(f(t)),
            Written::Replayed(r) => Written::Replayed(r),
        }
    }
}

/// The answer a live record gives the request `k`: its reply, or 422 when
/// the key was used for a different request.
pub fn replay<T>(k: &Keyed, r: Record) -> Result<Written<T>, ApiError> {
    if r.fingerprint == k.fingerprint {
        Ok(Written::Replayed(r.reply))
    } else {
        Err(ApiError::IdempotencyKeyReused)
    }
}
