//! customers-api: `PATCH /v1/customers/{customerId}` and friends on Lambda,
//! DynamoDB and SSM.
//!
//! The folders are the layers, listed in the order a PATCH passes through
//! them. Imports point down this list only: `customer` uses no other layer,
//! `store` uses `customer`, `auth` uses nothing but the shared error, `http`
//! uses all three, and `startup` assembles them. `admin` is the operators'
//! tool (`customers-admin`), over all of them.

pub mod admin;
pub mod auth;
pub mod customer;
pub mod http;
pub mod startup;
pub mod store;

pub mod error;
