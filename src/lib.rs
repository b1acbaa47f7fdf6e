//! customers-api: `PATCH /v1/customers/{customerId}` and friends on Lambda,
//! DynamoDB and SSM.
//!
//! The folders are the layers, listed in the order a PATCH passes through
//! them. Imports point down this list only: `customer` uses no other layer,
//! `store` uses `customer`, `auth` uses nothing but the shared error, `http`
//! uses all three, and `startup` assembles them. `events`, the change-events
//! function's own layer, uses `customer` and `store`.

pub mod auth;
pub mod customer;
pub mod events;
pub mod http;
pub mod startup;
pub mod store;

pub mod error;
