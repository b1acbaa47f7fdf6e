//! customers-api: `PATCH /v1/customers/{customerId}` and friends on Lambda,
//! DynamoDB and SSM. Read in this order: `router` → `auth` → `patch` (with
//! `fields`, `validate`) → `expr` → `service` → `store`.

pub mod app;
pub mod auth;
pub mod body;
pub mod config;
pub mod email;
pub mod error;
pub mod expr;
pub mod fields;
pub mod init;
pub mod invariant;
pub mod item;
pub mod logging;
pub mod patch;
pub mod precondition;
pub mod router;
pub mod service;
pub mod store;
pub mod strategy;
pub mod tls;
pub mod validate;
