//! `customers-admin`, the operators' tool (SPEC §14): API keys in the SSM
//! parameter (`keys`), the email invariant checked and safely repaired over
//! a whole table (`check`), customers brought in through the POST path
//! (`import`) and taken out as the GET view (`export`). It owns the command
//! line, progress display and reports; everything about keys, customers and
//! the table layout is the other layers' code, used as the function uses it.
//! The top layer: it may use every other; nothing uses it (tests do).

pub mod check;
pub mod cli;
pub mod export;
pub mod import;
pub mod keys;
pub mod lock;
pub mod progress;

pub use cli::{Cli, run};

/// What stops a command before it has an answer (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Config(String),
    #[error("DynamoDB: {0}")]
    Store(#[from] crate::store::dynamo::StoreError),
    #[error("SSM: {0}")]
    Ssm(String),
    #[error("{0}")]
    Io(String),
    /// The command cannot do what was asked (an existing key id, an unknown
    /// one, a malformed parameter); nothing was changed.
    #[error("{0}")]
    Refused(String),
}

/// Exit statuses, the same for every command.
pub mod exit {
    /// Done; for `check`, nothing wrong; for `import`, no line failed.
    pub const OK: u8 = 0;
    /// `check` found something; `import` or `export` had lines or items it
    /// could not take.
    pub const FINDINGS: u8 = 1;
    /// The command could not run (configuration, AWS, a refused request).
    pub const ERROR: u8 = 2;
}
