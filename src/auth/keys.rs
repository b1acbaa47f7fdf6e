//! Bearer keys checked against SHA-256 hashes held in one SSM SecureString
//! parameter (SPEC §6). Plaintext keys exist only in the request; the set of
//! hashes is fetched at init, cached for a TTL, and served stale for a bounded
//! time when SSM fails. Without a usable set every request is refused: the
//! service fails closed.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::error::ApiError;

pub const SCOPE_READ: &str = "customers:read";
pub const SCOPE_WRITE: &str = "customers:write";

/// Minimum spacing of SSM attempts after a failure, so an outage does not
/// add an SSM timeout to every request.
const RETRY_GAP: Duration = Duration::from_secs(1);

/// Every scope a key can carry.
pub const SCOPES: &[&str] = &[SCOPE_READ, SCOPE_WRITE];

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    hash: [u8; 32],
    pub scopes: Vec<String>,
    /// Members of the entry this service does not read (`createdAt`, a
    /// note someone added), kept so that rewriting the set loses nothing.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<ApiKey>,
    extra: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct RawSet {
    keys: Vec<RawKey>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct RawKey {
    id: String,
    sha256: String,
    scopes: Vec<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Parses the parameter's JSON. Errors never include the parameter's text.
pub fn parse_keys(json: &str) -> Result<KeySet, String> {
    let raw: RawSet = serde_json::from_str(json).map_err(|e| {
        format!(
            "keys parameter is not the expected JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let mut keys = Vec::with_capacity(raw.keys.len());
    for k in raw.keys {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(k.sha256.trim(), &mut hash)
            .map_err(|_| format!("key `{}` has a sha256 that is not 64 hex digits", k.id))?;
        keys.push(ApiKey {
            id: k.id,
            hash,
            scopes: k.scopes,
            extra: k.extra,
        });
    }
    Ok(KeySet {
        keys,
        extra: raw.extra,
    })
}

/// The parameter's JSON for `set`, the inverse of [`parse_keys`]: the
/// members it does not know are written back as they were read.
pub fn serialize_keys(set: &KeySet) -> String {
    let raw = RawSet {
        keys: set
            .keys
            .iter()
            .map(|k| RawKey {
                id: k.id.clone(),
                sha256: hex::encode(k.hash),
                scopes: k.scopes.clone(),
                extra: k.extra.clone(),
            })
            .collect(),
        extra: set.extra.clone(),
    };
    // A map of strings and arrays of strings always serializes.
    serde_json::to_string(&raw).unwrap_or_default()
}

pub fn sha256_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl KeySet {
    /// Finds the key whose hash matches, comparing in constant time against
    /// every stored hash so timing tells nothing about which one matched.
    pub fn find(&self, presented: &str) -> Option<&ApiKey> {
        let digest = Sha256::digest(presented.as_bytes());
        let mut found = None;
        for k in &self.keys {
            if bool::from(k.hash.ct_eq(digest.as_slice())) {
                found = Some(k);
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    pub fn get(&self, id: &str) -> Option<&ApiKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Adds the entry for `key` (stored as its SHA-256 only); refuses an id
    /// already in the set.
    pub fn add(
        &mut self,
        id: &str,
        key: &str,
        scopes: Vec<String>,
        extra: Map<String, Value>,
    ) -> Result<(), String> {
        if self.get(id).is_some() {
            return Err(format!("a key with id `{id}` already exists"));
        }
        self.keys.push(ApiKey {
            id: id.to_owned(),
            hash: Sha256::digest(key.as_bytes()).into(),
            scopes,
            extra,
        });
        Ok(())
    }

    /// Removes the entries with this id; false if there were none.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.id != id);
        self.keys.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Default)]
struct State {
    set: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
}

/// Where the keys come from; SSM in production and in tests (moto).
pub struct Keys {
    ssm: aws_sdk_ssm::Client,
    parameter: String,
    ttl: Duration,
    max_stale: Duration,
    /// The set while fresh, with when it was fetched: read without queueing
    /// behind `state`, which a refresh holds across its SSM call. Under many
    /// requests in flight, every one of them used to take `state` in turn.
    fresh: RwLock<Option<(Arc<KeySet>, Instant)>>,
    state: Mutex<State>,
}

impl Keys {
    pub fn new(
        ssm: aws_sdk_ssm::Client,
        parameter: String,
        ttl: Duration,
        max_stale: Duration,
    ) -> Self {
        Keys {
            ssm,
            parameter,
            ttl,
            max_stale,
            fresh: RwLock::new(None),
            state: Mutex::new(State::default()),
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let out = self
            .ssm
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_ssm::error::ProvideErrorMetadata;
                format!(
                    "SSM GetParameter failed: {}",
                    e.code().unwrap_or("dispatch or timeout")
                )
            })?;
        let value = out
            .parameter
            .and_then(|p| p.value)
            .ok_or("SSM returned no parameter value")?;
        parse_keys(&value)
    }

    /// Fetches now; used during init so warm requests make no SSM call.
    pub async fn warm(&self) -> bool {
        let mut st = self.state.lock().await;
        self.refresh(&mut st).await
    }

    async fn refresh(&self, st: &mut State) -> bool {
        let now = Instant::now();
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(keys = set.len(), "API keys loaded");
                let set = Arc::new(set);
                *self.fresh.write().unwrap_or_else(PoisonError::into_inner) =
                    Some((set.clone(), now));
                st.set = Some(set);
                st.fetched_at = Some(now);
                st.failed_at = None;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "API keys could not be loaded");
                st.failed_at = Some(now);
                false
            }
        }
    }

    /// The key set to check against: cached while fresh, refreshed when due,
    /// the last good one while within the staleness bound, else none.
    pub async fn current(&self) -> Result<Arc<KeySet>, ApiError> {
        if let Some((set, at)) = &*self.fresh.read().unwrap_or_else(PoisonError::into_inner)
            && at.elapsed() < self.ttl
        {
            return Ok(set.clone());
        }
        let mut st = self.state.lock().await;
        let now = Instant::now();
        let age = st.fetched_at.map(|t| now.duration_since(t));
        if let (Some(set), Some(age)) = (&st.set, age)
            && age < self.ttl
        {
            return Ok(set.clone());
        }
        let may_try = st
            .failed_at
            .is_none_or(|t| now.duration_since(t) >= RETRY_GAP);
        if may_try
            && self.refresh(&mut st).await
            && let Some(set) = &st.set
        {
            return Ok(set.clone());
        }
        match (&st.set, age) {
            (Some(set), Some(age)) if age < self.max_stale => Ok(set.clone()),
            _ => Err(ApiError::AuthUnavailable),
        }
    }

    /// Authenticates the request and checks its scope; returns the key id.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        scope: &'static str,
    ) -> Result<String, ApiError> {
        let token = super::bearer::bearer(headers)?;
        let set = self.current().await?;
        let key = set
            .find(token)
            .ok_or(ApiError::Unauthorized("The API key is not valid."))?;
        if !key.scopes.iter().any(|s| s == scope) {
            return Err(ApiError::InsufficientScope(scope));
        }
        Ok(key.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> KeySet {
        let json = format!(
            r#"{{"keys":[{{"id":"w","sha256":"{}","scopes":["customers:read","customers:write"]}},{{"id":"r","sha256":"{}","scopes":["customers:read"]}}]}}"#,
            sha256_hex("local-write-key"),
            sha256_hex("local-read-key")
        );
        parse_keys(&json).unwrap()
    }

    #[test]
    fn known_keys_are_found_unknown_are_not() {
        let s = set();
        assert_eq!(s.find("local-write-key").unwrap().id, "w");
        assert_eq!(s.find("local-read-key").unwrap().id, "r");
        assert!(s.find("local-write-kez").is_none());
        assert!(s.find("").is_none());
    }

    #[test]
    fn malformed_parameters_are_errors_without_echoing_content() {
        assert!(
            parse_keys("not json secret")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            !parse_keys("not json secret")
                .unwrap_err()
                .contains("secret")
        );
        assert!(parse_keys(r#"{"keys":[{"id":"a","sha256":"abc","scopes":[]}]}"#).is_err());
        assert!(parse_keys(r#"{"nokeys":[]}"#).is_err());
    }

    #[test]
    fn a_set_round_trips_with_members_it_does_not_read() {
        let json = format!(
            r#"{{"keys":[{{"id":"w","sha256":"{}","scopes":["customers:read"],"note":"ci"}}],"owner":"team"}}"#,
            sha256_hex("k1")
        );
        let mut s = parse_keys(&json).unwrap();
        assert_eq!(serialize_keys(&s), json);
        s.add("n", "k2", vec![SCOPE_WRITE.into()], Map::new())
            .unwrap();
        assert!(s.add("n", "k3", vec![], Map::new()).is_err());
        let again = parse_keys(&serialize_keys(&s)).unwrap();
        assert_eq!(again.find("k2").map(|k| k.id.as_str()), Some("n"));
        assert_eq!(again.find("k1").map(|k| k.id.as_str()), Some("w"));
        assert!(!serialize_keys(&s).contains("\"k2\""));
        let mut again = again;
        assert!(again.remove("w"));
        assert!(!again.remove("w"));
        assert!(again.find("k1").is_none());
    }
}
