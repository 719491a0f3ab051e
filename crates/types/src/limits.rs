//! Named limits. Every unbounded thing gets a bound here, with its unit in its name, and is
//! checked at the edge with a clear error (TigerBeetle's "put a limit on everything").

/// Longest client order id, in bytes (a UUID in text is 36).
pub const CLIENT_ORDER_ID_LEN_MAX: usize = 36;
/// Working orders (resting or stop) per account across all instruments, default.
pub const ORDERS_PER_ACCOUNT_MAX: u32 = 10_000;
/// Price levels one side of a dense book may span, in ticks. Futures have daily price limits,
/// so the range a book must cover is bounded; this is the hard ceiling.
pub const BOOK_LEVELS_MAX: u32 = 4_000_000;
/// Resting orders per book.
pub const ORDERS_PER_BOOK_MAX: u32 = 16_000_000;
/// Accounts per engine.
pub const ACCOUNTS_MAX: u32 = 10_000_000;
/// Largest quantity any order may carry, whatever the product says.
pub const ORDER_QTY_MAX_CONTRACTS: u64 = 1_000_000;
/// Stop orders triggered by one trade cascade before the engine stops and reports.
pub const STOP_CASCADE_MAX: u32 = 100_000;
