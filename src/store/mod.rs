//! DynamoDB: the operations that keep the invariants (`customers`), the SDK
//! calls and their typed errors (`dynamo`), the item layout (`item`), the
//! pure expression builders (`expr`), and the table-wide reads of
//! `customers-admin` (`scan`). Uses `customer`, never `http` or `auth`.

pub mod customers;
pub mod dynamo;
pub mod expr;
pub mod idempotency;
pub mod item;
pub mod precondition;
pub mod scan;
