//! What the core says back: one [`Outcome`] per command — accepted with its events, or
//! rejected with a stable [`RejectCode`] and a human message.

use crate::command::{OrderType, Phase, ProductParams, TimeInForce};
use tokex_types::{
    AccountId, ClientOrderId, Currency, InstrumentId, Money, OrderId, Price, Qty, Side, Timestamp,
};

/// Stable reason codes. The string form (`as_str`) is part of the public API: never rename
/// one, only add.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    UnknownAccount,
    AccountExists,
    UnknownInstrument,
    InstrumentIdMismatch,
    UnknownOrder,
    NotYourOrder,
    MarketClosed,
    NotAllowedInAuction,
    InvalidQuantity,
    OrderTooLarge,
    InvalidPrice,
    PriceOutsideLimits,
    InvalidTimeInForce,
    InvalidMinQty,
    InvalidDisplayQty,
    InvalidPostOnly,
    InvalidStopPrice,
    StopWouldTrigger,
    ExpiryInPast,
    DuplicateClientOrderId,
    PostOnlyWouldTrade,
    NothingToChange,
    TooManyOrders,
    InvalidPhaseChange,
    NotHalted,
    AccountRoleCannotTrade,
    InsufficientMargin,
    PositionLimit,
    InsufficientFunds,
    InvalidAmount,
    InvalidFixing,
    /// No listed, not delisted instrument of the product named.
    UnknownProduct,
    /// Initial or maintenance margin out of range, or maintenance not below initial.
    InvalidMargin,
    /// Daily price limit out of range, or narrower than one tick at a month's reference.
    InvalidPriceLimit,
    /// Largest order quantity out of range.
    InvalidOrderQtyMax,
    /// Position limits zero, too large, or the spot month's above all months'.
    InvalidPositionLimit,
    /// Fees out of range, or a maker rebate larger than the taker fee.
    InvalidFee,
    /// Circuit-breaker or market-protection ticks out of range.
    InvalidProtection,
    Internal,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        use RejectCode::*;
        match self {
            UnknownAccount => "UNKNOWN_ACCOUNT",
            AccountExists => "ACCOUNT_EXISTS",
            UnknownInstrument => "UNKNOWN_INSTRUMENT",
            InstrumentIdMismatch => "INSTRUMENT_ID_MISMATCH",
            UnknownOrder => "UNKNOWN_ORDER",
            NotYourOrder => "NOT_YOUR_ORDER",
            MarketClosed => "MARKET_CLOSED",
            NotAllowedInAuction => "NOT_ALLOWED_IN_AUCTION",
            InvalidQuantity => "INVALID_QUANTITY",
            OrderTooLarge => "ORDER_TOO_LARGE",
            InvalidPrice => "INVALID_PRICE",
            PriceOutsideLimits => "PRICE_OUTSIDE_LIMITS",
            InvalidTimeInForce => "INVALID_TIME_IN_FORCE",
            InvalidMinQty => "INVALID_MIN_QTY",
            InvalidDisplayQty => "INVALID_DISPLAY_QTY",
            InvalidPostOnly => "INVALID_POST_ONLY",
            InvalidStopPrice => "INVALID_STOP_PRICE",
            StopWouldTrigger => "STOP_WOULD_TRIGGER",
            ExpiryInPast => "EXPIRY_IN_PAST",
            DuplicateClientOrderId => "DUPLICATE_CLIENT_ORDER_ID",
            PostOnlyWouldTrade => "POST_ONLY_WOULD_TRADE",
            NothingToChange => "NOTHING_TO_CHANGE",
            TooManyOrders => "TOO_MANY_ORDERS",
            InvalidPhaseChange => "INVALID_PHASE_CHANGE",
            NotHalted => "NOT_HALTED",
            AccountRoleCannotTrade => "ACCOUNT_ROLE_CANNOT_TRADE",
            InsufficientMargin => "INSUFFICIENT_MARGIN",
            PositionLimit => "POSITION_LIMIT",
            InsufficientFunds => "INSUFFICIENT_FUNDS",
            InvalidAmount => "INVALID_AMOUNT",
            InvalidFixing => "INVALID_FIXING",
            UnknownProduct => "UNKNOWN_PRODUCT",
            InvalidMargin => "INVALID_MARGIN",
            InvalidPriceLimit => "INVALID_PRICE_LIMIT",
            InvalidOrderQtyMax => "INVALID_ORDER_QTY_MAX",
            InvalidPositionLimit => "INVALID_POSITION_LIMIT",
            InvalidFee => "INVALID_FEE",
            InvalidProtection => "INVALID_PROTECTION",
            Internal => "INTERNAL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: RejectCode,
    pub message: String,
}

impl Reject {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Reject {
        Reject {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Asked for by the account (or the operator on its behalf).
    Requested,
    MassCancel,
    /// IOC/FAK remainder, market-order remainder, FOK not fillable, minimum quantity not met.
    Unfilled,
    /// Self-match prevention.
    SelfMatch,
    /// GFD at the end of the trading day, GTD at its time.
    Expired,
    /// A triggered stop-market order that could not enter (e.g. during an auction).
    StopNotExecutable,
    /// The instrument expired or was delisted.
    InstrumentExpired,
    /// Cancelled by the risk engine (liquidation).
    Risk,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Requested => "requested",
            CancelReason::MassCancel => "mass_cancel",
            CancelReason::Unfilled => "unfilled",
            CancelReason::SelfMatch => "self_match",
            CancelReason::Expired => "expired",
            CancelReason::StopNotExecutable => "stop_not_executable",
            CancelReason::InstrumentExpired => "instrument_expired",
            CancelReason::Risk => "risk",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    OrderAccepted {
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
        client_order_id: Option<ClientOrderId>,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Option<Price>,
        stop_price: Option<Price>,
        qty: Qty,
    },
    /// An order (or an iceberg's next slice) joined the back of a price level.
    OrderRested {
        order_id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        visible: Qty,
        leaves: Qty,
    },
    Trade {
        trade_id: u64,
        instrument: InstrumentId,
        price: Price,
        qty: Qty,
        /// Side of the incoming order; `None` in an auction uncross.
        aggressor: Option<Side>,
        buy_order: OrderId,
        buy_account: AccountId,
        sell_order: OrderId,
        sell_account: AccountId,
        /// The resting (maker) side.
        maker_side: Side,
        buy_leaves: Qty,
        sell_leaves: Qty,
    },
    OrderCancelled {
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
        cancelled_qty: Qty,
        reason: CancelReason,
    },
    OrderAmended {
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
        price: Option<Price>,
        stop_price: Option<Price>,
        leaves: Qty,
        priority_kept: bool,
    },
    StopTriggered {
        order_id: OrderId,
        instrument: InstrumentId,
        last_price: Price,
    },
    PhaseChanged {
        instrument: InstrumentId,
        phase: Phase,
        auction_until: Option<Timestamp>,
    },
    AuctionUncrossed {
        instrument: InstrumentId,
        price: Option<Price>,
        volume: Qty,
    },
    CircuitBreakerTripped {
        instrument: InstrumentId,
        price: Price,
        auction_until: Timestamp,
    },
    InstrumentListed {
        instrument: InstrumentId,
        symbol: String,
    },
    AccountCreated {
        account: AccountId,
    },
    /// Fees charged on one trade (negative = rebate), both sides.
    FeesCharged {
        trade_id: u64,
        buy_account: AccountId,
        buy_fee: Money,
        sell_account: AccountId,
        sell_fee: Money,
        currency: Currency,
    },
    CashMoved {
        account: AccountId,
        currency: Currency,
        amount: Money,
        kind: CashKind,
        balance: Money,
    },
    FixingRecorded {
        index: String,
        date: chrono::NaiveDate,
        value_e6: i64,
    },
    /// Daily settlement of one instrument.
    Settled {
        instrument: InstrumentId,
        price: Price,
        volume: Qty,
        open_interest: u64,
        limit_locked: bool,
        lower_limit: Price,
        upper_limit: Price,
    },
    /// Variation margin paid (positive) or collected (negative) for one position; also the
    /// final settlement at expiry.
    VariationMargin {
        account: AccountId,
        instrument: InstrumentId,
        amount: Money,
        position: i64,
    },
    MarginCall {
        account: AccountId,
        currency: Currency,
        equity: Money,
        maintenance: Money,
        initial: Money,
    },
    MarginCallMet {
        account: AccountId,
    },
    LiquidationStarted {
        account: AccountId,
        currency: Currency,
        equity: Money,
        maintenance: Money,
    },
    LiquidationFinished {
        account: AccountId,
    },
    /// A loss beyond the account's money met by the insurance fund.
    DefaultCovered {
        account: AccountId,
        currency: Currency,
        amount: Money,
        fund_balance: Money,
    },
    Expired {
        instrument: InstrumentId,
        final_price: Price,
        fixings: u32,
    },
    /// A product's parameters changed: `params` are now in force for `instruments` (every
    /// live month, after an operator's change; the new month alone, when a month is listed
    /// after one). Today's price limits of those instruments were recomputed around their
    /// reference price.
    ProductParamsChanged {
        product: String,
        instruments: Vec<InstrumentId>,
        params: ProductParams,
    },
}

/// Why cash moved.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CashKind {
    Deposit,
    Withdrawal,
    VariationMargin,
    FinalSettlement,
    InsuranceCover,
}

/// The one answer a command gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub seq: u64,
    pub result: Result<(), Reject>,
    pub events: Vec<Event>,
}

/// Convenience used in tests: did an order rest or fill, as a short string.
pub fn describe_tif(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Gfd => "GFD",
        TimeInForce::Gtc => "GTC",
        TimeInForce::Gtd(_) => "GTD",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}
