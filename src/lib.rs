//! customers-api: `PATCH /v1/customers/{customerId}` and friends on Lambda,
//! DynamoDB and SSM.
//!
//! The folders are the layers. Read them in the order a PATCH passes
//! through them: [`http`] (the Lambda handler) → [`auth`] (the bearer key) →
//! [`customer`] (the field table, validation, what a body means; pure) →
//! [`store`] (DynamoDB: the operations that keep the invariants) →
//! [`startup`] (configuration and init, which assemble them). Imports point
//! down that list only: `customer` uses no other layer, `store` uses
//! `customer`, `auth` uses nothing but the shared [`error`], `http` uses all
//! three. Beside them, each the layer of its own binary: [`events`] (the
//! change-events function, over `customer` and `store`) and [`admin`]
//! (`customers-admin`, over all of them). Below them all, [`telemetry`] (the
//! summary lines and their metrics; pure but for the writer). `rustfmt` sorts the declarations
//! below; this paragraph keeps the order.

pub mod admin;
pub mod auth;
pub mod customer;
pub mod events;
pub mod http;
pub mod startup;
pub mod store;
pub mod telemetry;

pub mod error;
