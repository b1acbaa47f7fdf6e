//! The customer itself, without I/O: the field table (types, limits, merge
//! or replace), validation, what a POST and a PATCH body mean, the per-field
//! strategies, and the email normal form. Pure functions only; this layer
//! uses no other.

pub mod create;
pub mod email;
pub mod fields;
pub mod patch;
pub mod strategy;
pub mod validate;
