//! Order entry: FIX application messages to engine commands, and the exchange's events back
//! to ExecutionReports.
//!
//! - [`Instruments`]: symbols (`TKF-2026-12`) to instrument ids and tick sizes; prices convert
//!   exactly between FIX decimals and ticks, an off-tick price is rejected.
//! - [`Tracker`]: the state FIX reports per order (ClOrdID chain, order quantity, cumulative
//!   quantity, average price), kept for the accounts bound to FIX sessions and persisted in
//!   the session database so a restart keeps replaced ClOrdIDs and average prices.
//! - [`to_command`] and friends: pure mapping functions, unit-tested.

use crate::codec::{tag, Message};
use std::collections::{BTreeMap, VecDeque};
use tokex_engine::{
    Amend, Cancel, CancelReason, Command, MassCancel, NewOrder, OrderRef, OrderType, RejectCode,
    TimeInForce,
};
use tokex_types::decimal::Decimal;
use tokex_types::{
    AccountId, ClientOrderId, InstrumentId, InstrumentSpec, OrderId, Price, Qty, Side, Timestamp,
};

/// Finished orders remembered for OrderStatusRequest and late cancels.
pub const FINISHED_ORDERS_KEPT_MAX: usize = 10_000;

#[derive(Clone, Debug)]
pub struct InstrumentInfo {
    pub id: InstrumentId,
    pub symbol: String,
    pub product: String,
    pub tick: Decimal,
    pub currency: &'static str,
    pub year: i32,
    pub month: u32,
    pub last_trading_day: chrono::NaiveDate,
    pub delisted: bool,
}

impl InstrumentInfo {
    pub fn from_spec(s: &InstrumentSpec, delisted: bool) -> InstrumentInfo {
        InstrumentInfo {
            id: s.id,
            symbol: s.symbol.clone(),
            product: s.product.clone(),
            tick: Decimal::parse(&s.tick_size).unwrap_or(Decimal::new(1, 0)),
            currency: s.currency.code(),
            year: s.year,
            month: s.month,
            last_trading_day: s.last_trading_day,
            delisted,
        }
    }

    /// A FIX price to ticks: exact, positive, a whole number of ticks.
    pub fn parse_price(&self, s: &str) -> Result<Price, String> {
        let d = Decimal::parse(s).map_err(|e| format!("price {s:?}: {e}"))?;
        let ticks = d
            .div_exact(self.tick)
            .map_err(|_| format!("price {s} is not a multiple of the tick size {}", self.tick))?;
        if ticks <= 0 {
            return Err(format!("price {s} must be positive"));
        }
        i64::try_from(ticks)
            .map(Price)
            .map_err(|_| format!("price {s} is out of range"))
    }

    pub fn format_price(&self, p: Price) -> String {
        Decimal::new(p.0 as i128 * self.tick.mantissa, self.tick.scale).to_string()
    }

    /// Average price of `notional` tick·contracts over `qty` contracts, to 4 more decimals
    /// than the tick, trailing zeros dropped.
    pub fn format_avg(&self, notional: i128, qty: u64) -> String {
        if qty == 0 {
            return "0".into();
        }
        let scaled = notional * self.tick.mantissa * 10_000;
        let q = qty as i128;
        let v = (scaled + q / 2).div_euclid(q);
        Decimal::new(v, self.tick.scale + 4)
            .normalized()
            .to_string()
    }
}

#[derive(Default)]
pub struct Instruments {
    pub by_symbol: BTreeMap<String, InstrumentId>,
    pub by_id: BTreeMap<u32, InstrumentInfo>,
}

impl Instruments {
    pub fn insert(&mut self, info: InstrumentInfo) {
        self.by_symbol.insert(info.symbol.clone(), info.id);
        self.by_id.insert(info.id.0, info);
    }

    pub fn by_symbol(&self, s: &str) -> Option<&InstrumentInfo> {
        self.by_symbol.get(s).and_then(|id| self.by_id.get(&id.0))
    }

    pub fn get(&self, id: InstrumentId) -> Option<&InstrumentInfo> {
        self.by_id.get(&id.0)
    }
}

/// What FIX knows about one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub order_id: OrderId,
    pub account: AccountId,
    pub instrument: InstrumentId,
    /// The session that entered it (reports go there), if it came over FIX.
    pub session: Option<usize>,
    pub cl_ord_id: Option<String>,
    pub orig_cl_ord_id: Option<String>,
    pub side: Side,
    pub ord_type: OrderType,
    pub tif: TimeInForce,
    pub price: Option<Price>,
    pub stop_price: Option<Price>,
    /// Total quantity (cum + leaves).
    pub order_qty: u64,
    pub leaves: u64,
    pub cum: u64,
    /// Σ price × qty of the fills, tick·contracts.
    pub notional: i128,
    /// OrdStatus for a finished order: '2' filled, '4' cancelled, 'C' expired.
    pub done: Option<char>,
}

impl Tracked {
    pub fn ord_status(&self) -> char {
        match self.done {
            Some(c) => c,
            None if self.cum > 0 => '1',
            None => '0',
        }
    }
}

/// Orders of FIX-bound accounts.
#[derive(Default)]
pub struct Tracker {
    pub orders: BTreeMap<u64, Tracked>,
    pub by_cl_ord_id: BTreeMap<(u32, String), u64>,
    finished: VecDeque<u64>,
}

impl Tracker {
    pub fn insert(&mut self, t: Tracked) {
        if let Some(c) = &t.cl_ord_id {
            self.by_cl_ord_id
                .insert((t.account.0, c.clone()), t.order_id.0);
        }
        self.orders.insert(t.order_id.0, t);
    }

    pub fn find(
        &self,
        account: AccountId,
        cl_ord_id: Option<&str>,
        order_id: Option<&str>,
    ) -> Option<&Tracked> {
        let by_id = order_id
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|id| self.orders.get(&id));
        let by_cl = cl_ord_id
            .and_then(|c| self.by_cl_ord_id.get(&(account.0, c.to_string())))
            .and_then(|id| self.orders.get(id));
        by_id.or(by_cl).filter(|t| t.account == account)
    }

    /// A new ClOrdID for an order after a cancel or replace.
    pub fn rename(&mut self, id: OrderId, cl: &str, orig: Option<&str>) {
        if let Some(t) = self.orders.get_mut(&id.0) {
            t.orig_cl_ord_id = orig.map(str::to_string).or(t.cl_ord_id.clone());
            t.cl_ord_id = Some(cl.to_string());
            self.by_cl_ord_id
                .insert((t.account.0, cl.to_string()), id.0);
        }
    }

    pub fn finish(&mut self, id: OrderId, status: char) {
        if let Some(t) = self.orders.get_mut(&id.0) {
            if t.done.is_none() {
                t.done = Some(status);
                t.leaves = 0;
                self.finished.push_back(id.0);
            }
        }
        while self.finished.len() > FINISHED_ORDERS_KEPT_MAX {
            if let Some(old) = self.finished.pop_front() {
                if let Some(t) = self.orders.remove(&old) {
                    self.by_cl_ord_id.retain(|_, v| *v != t.order_id.0);
                }
            }
        }
    }
}

/// OrdRejReason (103) for an engine reject code (values the FIX 4.4 dictionary defines).
pub fn ord_rej_reason(c: RejectCode) -> u32 {
    use RejectCode::*;
    match c {
        UnknownInstrument => 1,
        MarketClosed | NotAllowedInAuction => 2,
        OrderTooLarge | PriceOutsideLimits | InsufficientMargin | PositionLimit | TooManyOrders => {
            3
        }
        ExpiryInPast => 4,
        UnknownOrder | NotYourOrder => 5,
        DuplicateClientOrderId => 6,
        InvalidQuantity | InvalidMinQty | InvalidDisplayQty => 13,
        UnknownAccount | AccountRoleCannotTrade => 15,
        _ => 99,
    }
}

/// CxlRejReason (102) for an engine reject code.
pub fn cxl_rej_reason(c: RejectCode) -> u32 {
    use RejectCode::*;
    match c {
        UnknownOrder | NotYourOrder => 1,
        DuplicateClientOrderId => 6,
        _ => 99,
    }
}

/// A rejection at the gateway, before the engine: OrdRejReason and Text.
#[derive(Debug, PartialEq, Eq)]
pub struct GatewayReject {
    pub reason: u32,
    pub text: String,
}

fn gr<T>(reason: u32, text: impl Into<String>) -> Result<T, GatewayReject> {
    Err(GatewayReject {
        reason,
        text: text.into(),
    })
}

pub fn parse_side(s: Option<&str>) -> Result<Side, GatewayReject> {
    match s {
        Some("1") => Ok(Side::Buy),
        Some("2") => Ok(Side::Sell),
        other => gr(
            99,
            format!("Side (54) must be 1 (buy) or 2 (sell), got {other:?}"),
        ),
    }
}

pub fn side_code(s: Side) -> &'static str {
    match s {
        Side::Buy => "1",
        Side::Sell => "2",
    }
}

/// A FIX quantity to whole contracts ("5" or "5.00").
pub fn parse_qty(s: Option<&str>, what: &str) -> Result<Option<u64>, GatewayReject> {
    let Some(s) = s else { return Ok(None) };
    let d = Decimal::parse(s).map_err(|_| GatewayReject {
        reason: 13,
        text: format!("{what} {s:?} is not a number"),
    })?;
    match d.div_exact(Decimal::new(1, 0)) {
        Ok(n) if n > 0 && n <= u64::MAX as i128 => Ok(Some(n as u64)),
        _ => gr(
            13,
            format!("{what} {s} must be a positive whole number of contracts"),
        ),
    }
}

pub fn cl_ord_id(s: Option<&str>) -> Result<ClientOrderId, GatewayReject> {
    let s = s.unwrap_or("");
    ClientOrderId::new(s).ok_or_else(|| GatewayReject {
        reason: 99,
        text: format!(
            "ClOrdID (11) must be 1 to {} printable ASCII characters, got {} bytes",
            tokex_types::limits::CLIENT_ORDER_ID_LEN_MAX,
            s.len()
        ),
    })
}

pub fn ord_type_code(t: OrderType) -> &'static str {
    match t {
        OrderType::Market => "1",
        OrderType::Limit => "2",
        OrderType::StopMarket => "3",
        OrderType::StopLimit => "4",
    }
}

pub fn tif_code(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gfd => "0",
        TimeInForce::Gtc => "1",
        TimeInForce::Ioc => "3",
        TimeInForce::Fok => "4",
        TimeInForce::Gtd(_) => "6",
    }
}

/// UTCTimestamp (`YYYYMMDD-HH:MM:SS[.sss]`) to nanoseconds.
pub fn parse_utc_timestamp(s: &str) -> Option<Timestamp> {
    let fmt = if s.contains('.') {
        "%Y%m%d-%H:%M:%S%.f"
    } else {
        "%Y%m%d-%H:%M:%S"
    };
    let t = chrono::NaiveDateTime::parse_from_str(s, fmt)
        .ok()?
        .and_utc();
    let ns = t.timestamp_nanos_opt()?;
    u64::try_from(ns).ok().map(Timestamp)
}

/// NewOrderSingle (D) to a NewOrder command.
pub fn new_order(
    m: &Message,
    account: AccountId,
    ins: &InstrumentInfo,
) -> Result<NewOrder, GatewayReject> {
    let clid = cl_ord_id(m.get(tag::CL_ORD_ID))?;
    let side = parse_side(m.get(tag::SIDE))?;
    let qty = parse_qty(m.get(tag::ORDER_QTY), "OrderQty (38)")?.ok_or_else(|| GatewayReject {
        reason: 13,
        text: "OrderQty (38) is required".into(),
    })?;
    let order_type = match m.get(tag::ORD_TYPE) {
        Some("1") => OrderType::Market,
        Some("2") => OrderType::Limit,
        Some("3") => OrderType::StopMarket,
        Some("4") => OrderType::StopLimit,
        other => {
            return gr(
                99,
                format!(
                "OrdType (40) {other:?} is not supported: 1 market, 2 limit, 3 stop, 4 stop limit"
            ),
            )
        }
    };
    let price = match (order_type, m.get(tag::PRICE)) {
        (OrderType::Limit | OrderType::StopLimit, Some(p)) => {
            Some(ins.parse_price(p).map_err(|t| GatewayReject {
                reason: 99,
                text: t,
            })?)
        }
        (OrderType::Limit | OrderType::StopLimit, None) => {
            return gr(99, "Price (44) is required for limit orders")
        }
        (_, Some(_)) => return gr(99, "Price (44) is not allowed on market and stop orders"),
        (_, None) => None,
    };
    let stop_price = match (order_type, m.get(tag::STOP_PX)) {
        (OrderType::StopMarket | OrderType::StopLimit, Some(p)) => {
            Some(ins.parse_price(p).map_err(|t| GatewayReject {
                reason: 99,
                text: format!("StopPx: {t}"),
            })?)
        }
        (OrderType::StopMarket | OrderType::StopLimit, None) => {
            return gr(99, "StopPx (99) is required for stop orders")
        }
        (_, Some(_)) => return gr(99, "StopPx (99) is only for stop orders"),
        (_, None) => None,
    };
    let tif = match m.get(tag::TIME_IN_FORCE) {
        None if order_type == OrderType::Market => TimeInForce::Ioc,
        None | Some("0") => TimeInForce::Gfd,
        Some("1") => TimeInForce::Gtc,
        Some("3") => TimeInForce::Ioc,
        Some("4") => TimeInForce::Fok,
        Some("6") => TimeInForce::Gtd(expiry(m)?),
        Some(other) => {
            return gr(
                99,
                format!(
                "TimeInForce (59) {other:?} is not supported: 0 day, 1 GTC, 3 IOC, 4 FOK, 6 GTD"
            ),
            )
        }
    };
    let exec_inst = m.get(tag::EXEC_INST).unwrap_or("");
    let post_only = exec_inst.split(' ').any(|v| v == "6");
    if let Some(bad) = exec_inst.split(' ').find(|v| !v.is_empty() && *v != "6") {
        return gr(99, format!("ExecInst (18) {bad:?} is not supported: 6 (participate, don't initiate) means post-only"));
    }
    let min_qty = parse_qty(m.get(tag::MIN_QTY), "MinQty (110)")?.map(Qty);
    let display_qty = parse_qty(m.get(tag::MAX_FLOOR), "MaxFloor (111)")?.map(Qty);
    if let Some(a) = m.get(tag::ACCOUNT) {
        if a != account.0.to_string() {
            return gr(
                15,
                format!(
                    "Account (1) {a} is not this session's account {}",
                    account.0
                ),
            );
        }
    }
    Ok(NewOrder {
        account,
        instrument: ins.id,
        client_order_id: Some(clid),
        side,
        order_type,
        price,
        stop_price,
        qty: Qty(qty),
        tif,
        min_qty,
        display_qty,
        post_only,
        stp: None,
    })
}

/// GTD expiry: ExpireTime (126, UTC) or ExpireDate (432: the end of that UTC date).
fn expiry(m: &Message) -> Result<Timestamp, GatewayReject> {
    if let Some(t) = m.get(tag::EXPIRE_TIME) {
        return parse_utc_timestamp(t).ok_or_else(|| GatewayReject {
            reason: 99,
            text: format!("ExpireTime (126) {t:?} is not a UTCTimestamp"),
        });
    }
    if let Some(d) = m.get(tag::EXPIRE_DATE) {
        let date = chrono::NaiveDate::parse_from_str(d, "%Y%m%d").map_err(|_| GatewayReject {
            reason: 99,
            text: format!("ExpireDate (432) {d:?} is not YYYYMMDD"),
        })?;
        let end = date
            .succ_opt()
            .and_then(|n| n.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .ok_or_else(|| GatewayReject {
                reason: 99,
                text: "ExpireDate out of range".into(),
            })?;
        return Ok(Timestamp(end as u64 - 1));
    }
    gr(
        99,
        "TimeInForce 6 (GTD) needs ExpireTime (126) or ExpireDate (432)",
    )
}

/// OrderCancelReplaceRequest (G) to an Amend: OrderQty is the new total, so the new
/// remaining quantity is OrderQty − CumQty.
pub fn amend(m: &Message, t: &Tracked, ins: &InstrumentInfo) -> Result<Amend, GatewayReject> {
    cl_ord_id(m.get(tag::CL_ORD_ID))?;
    if parse_side(m.get(tag::SIDE))? != t.side {
        return gr(99, "Side (54) cannot change");
    }
    if m.get(tag::ORD_TYPE) != Some(ord_type_code(t.ord_type)) {
        return gr(99, "OrdType (40) cannot change");
    }
    let mut a = Amend {
        account: t.account,
        instrument: t.instrument,
        order: OrderRef::Id(t.order_id),
        price: None,
        qty: None,
        stop_price: None,
    };
    if let Some(total) = parse_qty(m.get(tag::ORDER_QTY), "OrderQty (38)")? {
        if total <= t.cum {
            return gr(
                13,
                format!(
                    "OrderQty {total} is not above the filled quantity {}",
                    t.cum
                ),
            );
        }
        if total != t.order_qty {
            a.qty = Some(Qty(total - t.cum));
        }
    }
    if let Some(p) = m.get(tag::PRICE) {
        let p = ins
            .parse_price(p)
            .map_err(|text| GatewayReject { reason: 99, text })?;
        if Some(p) != t.price {
            a.price = Some(p);
        }
    }
    if let Some(p) = m.get(tag::STOP_PX) {
        let p = ins.parse_price(p).map_err(|text| GatewayReject {
            reason: 99,
            text: format!("StopPx: {text}"),
        })?;
        if Some(p) != t.stop_price {
            a.stop_price = Some(p);
        }
    }
    Ok(a)
}

pub fn cancel(t: &Tracked) -> Cancel {
    Cancel {
        account: t.account,
        instrument: t.instrument,
        order: OrderRef::Id(t.order_id),
    }
}

/// OrderMassCancelRequest (q): 1 = one instrument (Symbol), 3 = a product (Symbol or
/// UnderlyingSymbol holding the product root, e.g. `TKF`), 7 = all; Side (54) optional.
pub fn mass_cancel(
    m: &Message,
    account: AccountId,
    instruments: &Instruments,
) -> Result<MassCancel, (u32, String)> {
    let side = match m.get(tag::SIDE) {
        None => None,
        s => Some(parse_side(s).map_err(|e| (99, e.text))?),
    };
    let mut mc = MassCancel {
        account: Some(account),
        instrument: None,
        product: None,
        side,
    };
    match m.get(tag::MASS_CANCEL_REQUEST_TYPE) {
        Some("1") => {
            let s = m.get(tag::SYMBOL).unwrap_or("");
            let ins = instruments
                .by_symbol(s)
                .ok_or((1, format!("unknown symbol {s:?}")))?;
            mc.instrument = Some(ins.id);
        }
        Some("3") => {
            let p = m
                .get(tag::SYMBOL)
                .or(m.get(tag::UNDERLYING_SYMBOL))
                .unwrap_or("");
            if !instruments.by_id.values().any(|i| i.product == p) {
                return Err((3, format!("unknown product {p:?}")));
            }
            mc.product = Some(p.to_string());
        }
        Some("7") => {}
        other => {
            return Err((
                0,
                format!("MassCancelRequestType {other:?} is not supported: 1, 3 or 7"),
            ))
        }
    }
    Ok(mc)
}

/// The fields of an ExecutionReport for `t` (MsgType set; ExecID and ExecType given).
pub fn execution_report(
    t: &Tracked,
    ins: Option<&InstrumentInfo>,
    exec_id: &str,
    exec_type: char,
) -> Message {
    let mut m = Message::new("8").with(tag::ORDER_ID, t.order_id.0);
    if let Some(c) = &t.cl_ord_id {
        m.push(tag::CL_ORD_ID, c);
    }
    if let Some(c) = &t.orig_cl_ord_id {
        m.push(tag::ORIG_CL_ORD_ID, c);
    }
    m.push(tag::EXEC_ID, exec_id);
    m.push(tag::EXEC_TYPE, exec_type);
    m.push(tag::ORD_STATUS, t.ord_status());
    m.push(tag::ACCOUNT, t.account.0);
    m.push(
        tag::SYMBOL,
        ins.map_or("?".to_string(), |i| i.symbol.clone()),
    );
    m.push(tag::SIDE, side_code(t.side));
    m.push(tag::ORD_TYPE, ord_type_code(t.ord_type));
    if let (Some(p), Some(i)) = (t.price, ins) {
        m.push(tag::PRICE, i.format_price(p));
    }
    if let (Some(p), Some(i)) = (t.stop_price, ins) {
        m.push(tag::STOP_PX, i.format_price(p));
    }
    m.push(tag::TIME_IN_FORCE, tif_code(t.tif));
    m.push(tag::ORDER_QTY, t.order_qty);
    m.push(tag::LEAVES_QTY, t.leaves);
    m.push(tag::CUM_QTY, t.cum);
    m.push(
        tag::AVG_PX,
        ins.map_or("0".into(), |i| i.format_avg(t.notional, t.cum)),
    );
    m
}

/// ExecutionReport (ExecType 8) for a NewOrderSingle the gateway rejects before the engine
/// sees it: OrderID `NONE`, the client's own fields echoed back.
pub fn new_order_reject(m: &Message, account: AccountId, r: GatewayReject) -> Message {
    let mut er = Message::new("8")
        .with(tag::ORDER_ID, "NONE")
        .with(tag::CL_ORD_ID, m.get(tag::CL_ORD_ID).unwrap_or("NONE"))
        .with(
            tag::EXEC_ID,
            format!("R-{}", m.get(tag::MSG_SEQ_NUM).unwrap_or("0")),
        )
        .with(tag::EXEC_TYPE, '8')
        .with(tag::ORD_STATUS, '8')
        .with(tag::ORD_REJ_REASON, r.reason)
        .with(tag::ACCOUNT, account.0)
        .with(tag::SYMBOL, m.get(tag::SYMBOL).unwrap_or("?"))
        .with(
            tag::SIDE,
            m.get(tag::SIDE)
                .filter(|s| *s == "1" || *s == "2")
                .unwrap_or("1"),
        );
    if let Some(q) = m.get(tag::ORDER_QTY) {
        er.push(tag::ORDER_QTY, q);
    }
    er.push(tag::LEAVES_QTY, 0);
    er.push(tag::CUM_QTY, 0);
    er.push(tag::AVG_PX, 0);
    er.push(tag::TEXT, r.text);
    er
}

/// ExecType and OrdStatus for a cancellation reason.
pub fn cancel_status(r: CancelReason) -> char {
    match r {
        CancelReason::Expired => 'C',
        _ => '4',
    }
}

pub fn cancel_text(r: CancelReason) -> &'static str {
    match r {
        CancelReason::Requested => "cancelled on request",
        CancelReason::MassCancel => "cancelled by mass cancel",
        CancelReason::Unfilled => {
            "unfilled remainder cancelled (IOC, FOK, market or minimum quantity)"
        }
        CancelReason::SelfMatch => "cancelled by self-match prevention",
        CancelReason::Expired => "expired",
        CancelReason::StopNotExecutable => "triggered stop could not enter",
        CancelReason::InstrumentExpired => "the instrument expired",
        CancelReason::Risk => "cancelled by the risk engine",
    }
}

pub fn tracked_from_new(o: &NewOrder, id: OrderId, session: Option<usize>) -> Tracked {
    Tracked {
        order_id: id,
        account: o.account,
        instrument: o.instrument,
        session,
        cl_ord_id: o.client_order_id.map(|c| c.as_str().to_string()),
        orig_cl_ord_id: None,
        side: o.side,
        ord_type: o.order_type,
        tif: o.tif,
        price: o.price,
        stop_price: o.stop_price,
        order_qty: o.qty.0,
        leaves: o.qty.0,
        cum: 0,
        notional: 0,
        done: None,
    }
}

/// Command equality used to find the FIX context of an applied command.
pub fn same_command(a: &Command, b: &Command) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins() -> InstrumentInfo {
        InstrumentInfo {
            id: InstrumentId(3),
            symbol: "TKF-2026-12".into(),
            product: "TKF".into(),
            tick: Decimal::parse("0.001").unwrap(),
            currency: "USD",
            year: 2026,
            month: 12,
            last_trading_day: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            delisted: false,
        }
    }

    fn d() -> Message {
        Message::new("D")
            .with(tag::CL_ORD_ID, "c1")
            .with(tag::SYMBOL, "TKF-2026-12")
            .with(tag::SIDE, "1")
            .with(tag::ORDER_QTY, "5")
            .with(tag::ORD_TYPE, "2")
            .with(tag::PRICE, "8.125")
    }

    #[test]
    fn prices_convert_exactly_and_off_tick_is_rejected() {
        let i = ins();
        assert_eq!(i.parse_price("8.125"), Ok(Price(8125)));
        assert_eq!(i.parse_price("8.1250"), Ok(Price(8125)));
        assert!(i
            .parse_price("8.1255")
            .unwrap_err()
            .contains("not a multiple of the tick size 0.001"));
        assert!(i.parse_price("-1").is_err());
        assert!(i.parse_price("1e3").is_err());
        assert_eq!(i.format_price(Price(8125)), "8.125");
        assert_eq!(i.format_avg(8125 * 2 + 8126, 3), "8.1253333");
        assert_eq!(i.format_avg(8000 * 2, 2), "8");
    }

    #[test]
    fn new_order_single_maps_every_order_type_and_tif() {
        let i = ins();
        let o = new_order(&d(), AccountId(2), &i).unwrap();
        assert_eq!(
            (o.order_type, o.tif, o.price, o.qty),
            (
                OrderType::Limit,
                TimeInForce::Gfd,
                Some(Price(8125)),
                Qty(5)
            )
        );
        let mut m = d()
            .with(tag::TIME_IN_FORCE, "1")
            .with(tag::EXEC_INST, "6")
            .with(tag::MAX_FLOOR, "2");
        let o = new_order(&m, AccountId(2), &i).unwrap();
        assert!(o.post_only);
        assert_eq!((o.tif, o.display_qty), (TimeInForce::Gtc, Some(Qty(2))));
        m.set(tag::TIME_IN_FORCE, "3");
        m.push(tag::MIN_QTY, "3");
        assert_eq!(
            new_order(&m, AccountId(2), &i).unwrap().min_qty,
            Some(Qty(3))
        );
        let mut mkt = d();
        mkt.set(tag::ORD_TYPE, "1");
        mkt.remove(tag::PRICE);
        let o = new_order(&mkt, AccountId(2), &i).unwrap();
        assert_eq!(
            (o.order_type, o.tif, o.price),
            (OrderType::Market, TimeInForce::Ioc, None)
        );
        let mut stop = d();
        stop.set(tag::ORD_TYPE, "4");
        stop.push(tag::STOP_PX, "8.2");
        let o = new_order(&stop, AccountId(2), &i).unwrap();
        assert_eq!(
            (o.order_type, o.stop_price),
            (OrderType::StopLimit, Some(Price(8200)))
        );
        let gtd = d()
            .with(tag::TIME_IN_FORCE, "6")
            .with(tag::EXPIRE_TIME, "20270101-00:00:00");
        assert_eq!(
            new_order(&gtd, AccountId(2), &i).unwrap().tif,
            TimeInForce::Gtd(Timestamp(1_798_761_600_000_000_000))
        );
        let gtd = d()
            .with(tag::TIME_IN_FORCE, "6")
            .with(tag::EXPIRE_DATE, "20261231");
        assert_eq!(
            new_order(&gtd, AccountId(2), &i).unwrap().tif,
            TimeInForce::Gtd(Timestamp(1_798_761_600_000_000_000 - 1))
        );
        let no_exp = d().with(tag::TIME_IN_FORCE, "6");
        assert!(new_order(&no_exp, AccountId(2), &i)
            .unwrap_err()
            .text
            .contains("ExpireTime"));
    }

    #[test]
    fn new_order_single_rejects_with_clear_text() {
        let i = ins();
        let mut m = d();
        m.set(tag::CL_ORD_ID, "x".repeat(37));
        assert!(new_order(&m, AccountId(2), &i)
            .unwrap_err()
            .text
            .contains("1 to 36 printable ASCII"));
        let mut m = d();
        m.set(tag::PRICE, "8.1234");
        assert!(new_order(&m, AccountId(2), &i)
            .unwrap_err()
            .text
            .contains("tick size"));
        let mut m = d();
        m.set(tag::ORD_TYPE, "P");
        assert!(new_order(&m, AccountId(2), &i)
            .unwrap_err()
            .text
            .contains("OrdType"));
        let mut m = d();
        m.set(tag::ORDER_QTY, "1.5");
        assert_eq!(new_order(&m, AccountId(2), &i).unwrap_err().reason, 13);
        let m = d().with(tag::TIME_IN_FORCE, "2");
        assert!(new_order(&m, AccountId(2), &i).is_err());
        let m = d().with(tag::ACCOUNT, "9");
        assert_eq!(new_order(&m, AccountId(2), &i).unwrap_err().reason, 15);
    }

    #[test]
    fn replace_quantity_is_total_minus_filled() {
        let i = ins();
        let o = new_order(&d(), AccountId(2), &i).unwrap();
        let mut t = tracked_from_new(&o, OrderId(9), Some(0));
        t.cum = 2;
        t.leaves = 3;
        let g = Message::new("G")
            .with(tag::ORIG_CL_ORD_ID, "c1")
            .with(tag::CL_ORD_ID, "c2")
            .with(tag::SIDE, "1")
            .with(tag::ORD_TYPE, "2")
            .with(tag::ORDER_QTY, "10")
            .with(tag::PRICE, "8.125");
        let a = amend(&g, &t, &i).unwrap();
        assert_eq!((a.qty, a.price), (Some(Qty(8)), None));
        let mut g2 = g.clone();
        g2.set(tag::ORDER_QTY, "2");
        assert!(amend(&g2, &t, &i).unwrap_err().text.contains("filled"));
        let mut g3 = g;
        g3.set(tag::PRICE, "8.2");
        g3.set(tag::ORDER_QTY, "5");
        let a = amend(&g3, &t, &i).unwrap();
        assert_eq!((a.qty, a.price), (None, Some(Price(8200))));
    }

    #[test]
    fn execution_report_fields() {
        let i = ins();
        let o = new_order(&d(), AccountId(2), &i).unwrap();
        let mut t = tracked_from_new(&o, OrderId(9), Some(0));
        t.cum = 5;
        t.leaves = 0;
        t.notional = 8125 * 5;
        t.done = Some('2');
        let m = execution_report(&t, Some(&i), "7-1", 'F');
        assert_eq!(m.get(tag::ORD_STATUS), Some("2"));
        assert_eq!(m.get(tag::AVG_PX), Some("8.125"));
        assert_eq!(m.get(tag::ORDER_ID), Some("9"));
        assert_eq!(m.get(tag::PRICE), Some("8.125"));
    }

    #[test]
    fn reject_reasons_are_dictionary_values() {
        let allowed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 99];
        for c in [
            RejectCode::UnknownInstrument,
            RejectCode::InsufficientMargin,
            RejectCode::InvalidPrice,
            RejectCode::DuplicateClientOrderId,
        ] {
            assert!(allowed.contains(&ord_rej_reason(c)));
        }
        assert_eq!(cxl_rej_reason(RejectCode::UnknownOrder), 1);
    }
}
