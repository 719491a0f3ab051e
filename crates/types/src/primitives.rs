//! Integer primitives. Every quantity that reaches matching or clearing is an integer.

use std::fmt;

/// Exchange-assigned order id: sequential, unique across the whole exchange, never reused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OrderId(pub u64);

/// Account id. Accounts are created by the operator; every order belongs to one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AccountId(pub u32);

/// Dense instrument index inside the engine (0, 1, 2, ... in listing order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct InstrumentId(pub u32);

/// A price in ticks of the instrument's tick size. May be zero or negative only where an
/// instrument allows it (none of the default products do).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub i64);

/// A quantity in whole contracts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(pub u64);

/// Money in minor units of a currency (cents, fen). Products that can overflow are computed in
/// `i128` and checked back into `i64`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

/// Nanoseconds since the Unix epoch, UTC. The core never reads a clock: time is an input.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// Sequence number stamped on each command by the sequencer.
pub type Seq = u64;

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// +1 for a buy, -1 for a sell: the sign of the position change.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// ISO 4217 currency of an account balance or an instrument.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    Usd,
    Cny,
}

impl Currency {
    pub const ALL: [Currency; 2] = [Currency::Usd, Currency::Cny];
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cny => "CNY",
        }
    }
    /// Number of decimal places of the minor unit (cents, fen).
    pub fn minor_digits(self) -> u32 {
        2
    }
    pub fn parse(s: &str) -> Option<Currency> {
        match s {
            "USD" => Some(Currency::Usd),
            "CNY" => Some(Currency::Cny),
            _ => None,
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Timestamp {
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;
    pub fn from_secs(s: u64) -> Timestamp {
        Timestamp(s * Self::NANOS_PER_SEC)
    }
    pub fn secs(self) -> u64 {
        self.0 / Self::NANOS_PER_SEC
    }
}

impl Money {
    pub const ZERO: Money = Money(0);
    /// Checked conversion of an `i128` intermediate back into stored money.
    pub fn from_i128(v: i128) -> Option<Money> {
        i64::try_from(v).ok().map(Money)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.checked_add(o.0).expect("money overflow"))
    }
}
impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0.checked_sub(o.0).expect("money overflow"))
    }
}
impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        *self = *self + o;
    }
}
impl std::ops::SubAssign for Money {
    fn sub_assign(&mut self, o: Money) {
        *self = *self - o;
    }
}
impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

/// A client's own id for an order: 1 to [`crate::limits::CLIENT_ORDER_ID_LEN_MAX`] printable
/// ASCII bytes, stored inline so it can be a map key without allocating.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; crate::limits::CLIENT_ORDER_ID_LEN_MAX],
}

impl ClientOrderId {
    /// `None` when empty, too long, or not printable ASCII (space to '~').
    pub fn new(s: &str) -> Option<ClientOrderId> {
        let b = s.as_bytes();
        if b.is_empty()
            || b.len() > crate::limits::CLIENT_ORDER_ID_LEN_MAX
            || !b.iter().all(|c| (0x20..0x7f).contains(c))
        {
            return None;
        }
        let mut bytes = [0u8; crate::limits::CLIENT_ORDER_ID_LEN_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(ClientOrderId {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from printable ASCII.
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("ascii")
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
