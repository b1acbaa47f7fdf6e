//! `keys create | list | revoke`: read-modify-write of the keys parameter
//! under [`Lock`], with the parameter's version as a second guard against
//! editors that do not take the lock (a console, a script): we read version
//! v and expect our write to be v+1; otherwise someone else wrote in between,
//! and we say so and re-read to check our change is there. The key set's
//! format and the hashing are `auth`'s; nothing here parses or writes the
//! JSON itself.

use std::time::Duration;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use serde_json::{Map, Value, json};

use crate::admin::AdminError;
use crate::admin::lock::Lock;
use crate::auth::{self, KeySet, issue};
use crate::store::customers::now;

/// Attempts of a read-modify-write that finds its change missing after a
/// concurrent edit.
const ATTEMPTS: u32 = 3;

pub struct Parameter {
    ssm: aws_sdk_ssm::Client,
    name: String,
}

/// The parameter as read: its set and version (0 when it does not exist).
struct Read {
    set: KeySet,
    version: i64,
    exists: bool,
}

fn ssm_error(what: &str, e: &impl ProvideErrorMetadata) -> AdminError {
    AdminError::Ssm(format!(
        "{what} failed: {}",
        e.code().unwrap_or("dispatch failure or timeout")
    ))
}

impl Parameter {
    pub fn new(ssm: aws_sdk_ssm::Client, name: String) -> Self {
        Parameter { ssm, name }
    }

    async fn read(&self) -> Result<Read, AdminError> {
        let out = match self
            .ssm
            .get_parameter()
            .name(&self.name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("ParameterNotFound") => {
                return Ok(Read {
                    set: KeySet::default(),
                    version: 0,
                    exists: false,
                });
            }
            Err(e) => return Err(ssm_error("GetParameter", &e)),
        };
        let p = out
            .parameter
            .unwrap_or_else(|| aws_sdk_ssm::types::Parameter::builder().build());
        let set = auth::parse_keys(p.value().unwrap_or_default()).map_err(|e| {
            AdminError::Refused(format!(
                "the parameter {} is malformed ({e}); it was not changed: repair it by hand \
                 (aws ssm get-parameter-history shows earlier versions)",
                self.name
            ))
        })?;
        Ok(Read {
            set,
            version: p.version,
            exists: true,
        })
    }

    /// The KMS key of the SecureString, so that a rewrite keeps it (the
    /// function's role may decrypt with that key only). Not knowing it is
    /// an error: a write without a key id re-encrypts with the default key.
    async fn kms_key_id(&self) -> Result<Option<String>, AdminError> {
        use aws_sdk_ssm::types::ParameterStringFilter;
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(&self.name)
            .build()
            .map_err(|e| AdminError::Ssm(e.to_string()))?;
        let out = self
            .ssm
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| {
                ssm_error(
                    "DescribeParameters (which KMS key encrypts the parameter, kept on rewrite)",
                    &e,
                )
            })?;
        Ok(out
            .parameters()
            .iter()
            .find(|m| m.name() == Some(self.name.as_str()))
            .and_then(|m| m.key_id().map(str::to_owned)))
    }

    /// Writes `set`; returns the new version. `Ok(None)`: the parameter was
    /// created by someone else since we found it absent.
    async fn write(&self, read: &Read, set: &KeySet) -> Result<Option<i64>, AdminError> {
        let key_id = match read.exists {
            true => self.kms_key_id().await?,
            false => None,
        };
        let res = self
            .ssm
            .put_parameter()
            .name(&self.name)
            .value(auth::serialize_keys(set))
            .r#type(ParameterType::SecureString)
            .set_key_id(key_id)
            .overwrite(read.exists)
            .send()
            .await;
        match res {
            Ok(out) => Ok(Some(out.version)),
            Err(e) if e.code() == Some("ParameterAlreadyExists") => Ok(None),
            Err(e) => Err(ssm_error("PutParameter", &e)),
        }
    }

    /// Read, change, write, under the lock; `change` returns Err to refuse.
    /// `landed` says whether a set read back holds the change.
    async fn edit(
        &self,
        operation: &str,
        wait: u64,
        change: impl Fn(&mut KeySet) -> Result<(), AdminError>,
        landed: impl Fn(&KeySet) -> bool,
    ) -> Result<i64, AdminError> {
        let lock =
            Lock::acquire(&self.ssm, &self.name, operation, Duration::from_secs(wait)).await?;
        let result = self.edit_locked(&lock, change, landed).await;
        lock.release().await;
        result
    }

    async fn edit_locked(
        &self,
        lock: &Lock,
        change: impl Fn(&mut KeySet) -> Result<(), AdminError>,
        landed: impl Fn(&KeySet) -> bool,
    ) -> Result<i64, AdminError> {
        for _ in 0..ATTEMPTS {
            let read = self.read().await?;
            let mut set = read.set.clone();
            change(&mut set)?;
            lock.check_held()?;
            let Some(version) = self.write(&read, &set).await? else {
                eprintln!(
                    "customers-admin: {} was created by someone else meanwhile; reading it again",
                    self.name
                );
                continue;
            };
            if version == read.version + 1 {
                return Ok(version);
            }
            eprintln!(
                "customers-admin: {} was edited concurrently: read at version {}, our write is \
                 version {version}, so versions {} to {} were written by someone else and our \
                 write replaced them (`aws ssm get-parameter-history --with-decryption --name {}` \
                 shows them); checking that our change is in place",
                self.name,
                read.version,
                read.version + 1,
                version - 1,
                self.name
            );
            let now = self.read().await?;
            if landed(&now.set) {
                return Ok(now.version);
            }
            eprintln!("customers-admin: our change is not in place; trying again");
        }
        Err(AdminError::Refused(format!(
            "{} keeps changing under us; nothing more was attempted",
            self.name
        )))
    }

    /// `keys create`: the new key, to be printed once.
    pub async fn create(&self, id: &str, scopes: &str, wait: u64) -> Result<String, AdminError> {
        issue::check_key_id(id).map_err(|e| AdminError::Refused(format!("--id {e}")))?;
        let scopes = issue::parse_scopes(scopes)
            .map_err(|e| AdminError::Refused(format!("--scopes: {e}")))?;
        let mut secret = [0u8; issue::SECRET_BYTES];
        getrandom::fill(&mut secret)
            .map_err(|e| AdminError::Io(format!("OS random source: {e}")))?;
        let key = issue::format_key(id, &secret);
        let extra: Map<String, Value> = Map::from_iter([("createdAt".to_owned(), json!(now()))]);
        let version = self
            .edit(
                &format!("keys create {id}"),
                wait,
                |set| {
                    set.add(id, &key, scopes.clone(), extra.clone())
                        .map_err(|e| {
                            AdminError::Refused(format!(
                                "{e} in {}; nothing was changed",
                                self.name
                            ))
                        })
                },
                |set| set.find(&key).is_some_and(|k| k.id == id),
            )
            .await?;
        eprintln!(
            "customers-admin: added key `{id}` ({}) to {} (version {version}). It is printed once, \
             on stdout: hand it to its client now; only its SHA-256 is stored. Running instances \
             accept it within API_KEYS_TTL_SECONDS.",
            scopes.join(", "),
            self.name
        );
        Ok(key)
    }

    /// `keys revoke`.
    pub async fn revoke(&self, id: &str, wait: u64) -> Result<(), AdminError> {
        let version = self
            .edit(
                &format!("keys revoke {id}"),
                wait,
                |set| {
                    if set.remove(id) {
                        Ok(())
                    } else {
                        Err(AdminError::Refused(format!(
                            "no key has the id `{id}` in {} (`keys list` shows the ids); nothing was changed",
                            self.name
                        )))
                    }
                },
                |set| set.get(id).is_none(),
            )
            .await?;
        eprintln!(
            "customers-admin: revoked key `{id}` in {} (version {version}); running instances \
             refuse it within API_KEYS_TTL_SECONDS.",
            self.name
        );
        let now = self.read().await?;
        if !now
            .set
            .keys()
            .iter()
            .any(|k| k.scopes.iter().any(|s| s == auth::SCOPE_WRITE))
        {
            eprintln!("customers-admin: warning: no key with customers:write remains");
        }
        Ok(())
    }

    /// `keys list`: ids, scopes and creation times; never a hash.
    pub async fn list(&self, as_json: bool) -> Result<(), AdminError> {
        let read = self.read().await?;
        if !read.exists {
            eprintln!("customers-admin: {} does not exist: no keys", self.name);
        }
        let rows: Vec<Value> = read
            .set
            .keys()
            .iter()
            .map(|k| {
                json!({
                    "id": k.id,
                    "scopes": k.scopes,
                    "createdAt": k.extra.get("createdAt").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        if as_json {
            println!(
                "{}",
                json!({ "parameter": self.name, "version": read.version, "keys": rows })
            );
            return Ok(());
        }
        let width = read
            .set
            .keys()
            .iter()
            .map(|k| k.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        println!("{:width$}  {:33}  CREATED", "ID", "SCOPES");
        for k in read.set.keys() {
            let created = k
                .extra
                .get("createdAt")
                .and_then(Value::as_str)
                .unwrap_or("-");
            println!("{:width$}  {:33}  {created}", k.id, k.scopes.join(","));
        }
        Ok(())
    }
}
