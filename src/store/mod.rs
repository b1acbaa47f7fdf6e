//! DynamoDB: the operations that keep the invariants (`customers`), the SDK
//! calls and their typed errors (`dynamo`), the item layout (`item`), the
//! pure expression builders (`expr`), finding customers by email and by
//! page (`find`, with the pure `page` ranges and the list `cursor`),
//! idempotency records (`idempotency`), the retries a request made
//! (`attempts`), and the table-wide reads of
//! `customers-admin` (`scan`). Uses `customer`, never `http` or `auth`.

pub mod attempts;
pub mod cursor;
pub mod customers;
pub mod dynamo;
pub mod expr;
pub mod find;
pub mod idempotency;
pub mod item;
pub mod page;
pub mod precondition;
pub mod scan;
