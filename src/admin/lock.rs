//! Mutual exclusion between `keys` commands editing one SSM parameter. SSM
//! has no compare-and-swap, so two read-modify-writes could each add a key
//! to the version they read and the second write would drop the first key.
//!
//! The lock is a second parameter, `<parameter>.lock`, created with
//! `PutParameter(Overwrite=false)`, which fails when it exists: at most one
//! command holds it. Its value names the holder (a random token) and when it
//! was taken. It is deleted by its holder when done. A holder killed before
//! that leaves it behind, so a lock older than [`STALE_AFTER`] is broken by
//! whoever waits for it. That is safe because a holder never writes the keys
//! parameter after [`HOLD_AT_MOST`] (it checks before writing, and the write
//! itself is bounded by the SDK's operation timeout), and `STALE_AFTER`
//! leaves room for both plus clock differences between machines of up to
//! half a minute.

use std::time::{Duration, Instant};

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};

use crate::admin::AdminError;

pub const STALE_AFTER: Duration = Duration::from_secs(120);
pub const HOLD_AT_MOST: Duration = Duration::from_secs(20);

#[derive(Serialize, Deserialize)]
struct Holder {
    owner: String,
    /// RFC 3339, the holder's clock.
    #[serde(rename = "acquiredAt")]
    acquired_at: String,
    operation: String,
}

pub struct Lock {
    ssm: aws_sdk_ssm::Client,
    name: String,
    token: String,
    taken: Instant,
}

pub fn lock_name(parameter: &str) -> String {
    format!("{parameter}.lock")
}

fn ssm_error(what: &str, e: &impl ProvideErrorMetadata) -> AdminError {
    AdminError::Ssm(format!(
        "{what} failed: {}",
        e.code().unwrap_or("dispatch failure or timeout")
    ))
}

fn token() -> Result<String, AdminError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AdminError::Io(format!("OS random source: {e}")))?;
    Ok(hex::encode(b))
}

impl Lock {
    /// Takes the lock of `parameter`, waiting up to `wait` for a holder to
    /// finish, and breaking a lock older than [`STALE_AFTER`].
    pub async fn acquire(
        ssm: &aws_sdk_ssm::Client,
        parameter: &str,
        operation: &str,
        wait: Duration,
    ) -> Result<Lock, AdminError> {
        let name = lock_name(parameter);
        let token = token()?;
        let started = Instant::now();
        let mut said_waiting = false;
        loop {
            let holder = Holder {
                owner: token.clone(),
                acquired_at: chrono::Utc::now().to_rfc3339(),
                operation: operation.to_owned(),
            };
            let value = serde_json::to_string(&holder).unwrap_or_default();
            let put = ssm
                .put_parameter()
                .name(&name)
                .value(value)
                .r#type(ParameterType::String)
                .overwrite(false)
                .description("customers-admin: held while a keys command edits the parameter")
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(Lock {
                        ssm: ssm.clone(),
                        name,
                        token,
                        taken: Instant::now(),
                    });
                }
                Err(e) if e.code() == Some("ParameterAlreadyExists") => {}
                Err(e) => return Err(ssm_error("PutParameter (lock)", &e)),
            }
            // Held: by whom, since when?
            let current = match ssm.get_parameter().name(&name).send().await {
                Ok(out) => out.parameter.and_then(|p| p.value),
                Err(e) if e.code() == Some("ParameterNotFound") => continue,
                Err(e) => return Err(ssm_error("GetParameter (lock)", &e)),
            };
            let held: Option<Holder> = current
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok());
            let taken = held
                .as_ref()
                .and_then(|h| chrono::DateTime::parse_from_rfc3339(&h.acquired_at).ok());
            let age = taken
                .and_then(|t| (chrono::Utc::now() - t.to_utc()).to_std().ok())
                .unwrap_or_default();
            // A lock we cannot read is no one's: it is broken at once.
            let stale = taken.is_none() || age > STALE_AFTER;
            if stale {
                // Delete only the lock we judged, not one taken since.
                let again = ssm.get_parameter().name(&name).send().await;
                if let Ok(out) = again
                    && out.parameter.and_then(|p| p.value) == current
                {
                    eprintln!(
                        "customers-admin: breaking the lock {name}, taken {}s ago by a keys command that did not finish",
                        age.as_secs()
                    );
                    let _ = ssm.delete_parameter().name(&name).send().await;
                }
                continue;
            }
            if started.elapsed() >= wait {
                let (op, since) = held
                    .map(|h| (h.operation, h.acquired_at))
                    .unwrap_or_default();
                return Err(AdminError::Refused(format!(
                    "the keys parameter is locked by another keys command ({op}, since {since}); \
                     retry later (a lock left by a killed command is broken after {}s)",
                    STALE_AFTER.as_secs()
                )));
            }
            if !said_waiting {
                eprintln!("customers-admin: waiting for another keys command to finish ({name})");
                said_waiting = true;
            }
            tokio::time::sleep(Duration::from_millis(fastrand::u64(50..=250))).await;
        }
    }

    /// Whether the holder may still write (see the module doc).
    pub fn check_held(&self) -> Result<(), AdminError> {
        if self.taken.elapsed() < HOLD_AT_MOST {
            Ok(())
        } else {
            Err(AdminError::Refused(format!(
                "held the lock longer than {}s (SSM slow?); nothing was written, retry",
                HOLD_AT_MOST.as_secs()
            )))
        }
    }

    /// Deletes the lock if it is still ours.
    pub async fn release(self) {
        let ours = match self.ssm.get_parameter().name(&self.name).send().await {
            Ok(out) => out
                .parameter
                .and_then(|p| p.value)
                .and_then(|v| serde_json::from_str::<Holder>(&v).ok())
                .is_some_and(|h| h.owner == self.token),
            Err(_) => false,
        };
        if ours && let Err(e) = self.ssm.delete_parameter().name(&self.name).send().await {
            eprintln!(
                "customers-admin: could not delete the lock {} ({}); it is broken after {}s",
                self.name,
                e.code().unwrap_or("dispatch failure or timeout"),
                STALE_AFTER.as_secs()
            );
        }
    }
}
