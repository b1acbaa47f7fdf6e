//! DynamoDB: the operations that keep the invariants (`customers`), the SDK
//! calls and their typed errors (`dynamo`), the item layout (`item`), the
//! pure expression builders (`expr`), finding customers by email and by
//! page (`find`, with the pure `page` ranges and the list `cursor`), and the
//! table-wide invariant check (`invariant`). Uses `customer`, never `http`
//! or `auth`.

pub mod cursor;
pub mod customers;
pub mod dynamo;
pub mod expr;
pub mod find;
pub mod invariant;
pub mod item;
pub mod page;
pub mod precondition;
