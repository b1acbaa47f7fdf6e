//! What runs once per execution environment before the first request:
//! configuration from the environment, logging, the TLS roots, the SDK's
//! endpoint partition table, and the assembly of the app with its SDK
//! clients warmed (`events`: the same for the change-events function). The
//! binaries in `src/bin/` are a few lines over this.

pub mod config;
pub mod events;
pub mod init;
pub mod logging;
pub mod partitions;
pub mod tls;
