//! Canonical encoding of the whole core state: snapshots and the state hash.
//!
//! The encoding is *logical*: books are written as their orders in priority order, maps in
//! key order, so two engines in the same state produce the same bytes whatever their slab
//! slots, hash-map layouts or allocation history. The state hash is SHA-256 of these bytes.
//! Restoring rebuilds the books by inserting the orders in priority order, which recreates
//! every queue exactly.

use crate::command::{OrderType, Phase, ProductParamsChange, Role, StpMode, TimeInForce};
use crate::engine::Engine;
use crate::state::*;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use tokex_book::Resting;
use tokex_types::*;

const MAGIC: &[u8; 8] = b"TKXSNAP1";

#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i128(&mut self, v: i128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x)
            }
        }
    }
}

pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub type DecResult<T> = Result<T, String>;

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> DecResult<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(format!("snapshot truncated at byte {}", self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> DecResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> DecResult<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    pub fn u32(&mut self) -> DecResult<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn u64(&mut self) -> DecResult<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn i64(&mut self) -> DecResult<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn i128(&mut self) -> DecResult<i128> {
        Ok(i128::from_le_bytes(self.take(16)?.try_into().unwrap()))
    }
    pub fn bool(&mut self) -> DecResult<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("bad bool {b} at byte {}", self.pos - 1)),
        }
    }
    pub fn str(&mut self) -> DecResult<String> {
        self.str_ref().map(str::to_owned)
    }
    /// A string borrowed from the input, for values copied into inline storage (no allocation).
    pub fn str_ref(&mut self) -> DecResult<&'a str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| format!("bad utf-8 at byte {}", self.pos))
    }
    pub fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> DecResult<T>) -> DecResult<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(f(self)?)),
            b => Err(format!("bad option tag {b} at byte {}", self.pos - 1)),
        }
    }
    pub fn done(&self) -> bool {
        self.pos == self.buf.len()
    }
    fn bad<T>(&self, what: &str, v: u8) -> DecResult<T> {
        Err(format!("bad {what} {v} at byte {}", self.pos))
    }
}

// ----- small enums -------------------------------------------------------------------------

pub(crate) fn side_code(s: Side) -> u8 {
    s as u8
}
pub(crate) fn side_of(d: &mut Dec) -> DecResult<Side> {
    match d.u8()? {
        0 => Ok(Side::Buy),
        1 => Ok(Side::Sell),
        v => d.bad("side", v),
    }
}
pub(crate) fn phase_code(p: Phase) -> u8 {
    p as u8
}
pub(crate) fn phase_of(d: &mut Dec) -> DecResult<Phase> {
    Ok(match d.u8()? {
        0 => Phase::Closed,
        1 => Phase::PreOpen,
        2 => Phase::Continuous,
        3 => Phase::Break,
        4 => Phase::Halted,
        v => return d.bad("phase", v),
    })
}
pub(crate) fn role_of(d: &mut Dec) -> DecResult<Role> {
    Ok(match d.u8()? {
        0 => Role::Trader,
        1 => Role::MarketMaker,
        2 => Role::Operator,
        3 => Role::InsuranceFund,
        v => return d.bad("role", v),
    })
}
pub(crate) fn stp_of(d: &mut Dec) -> DecResult<StpMode> {
    Ok(match d.u8()? {
        0 => StpMode::CancelResting,
        1 => StpMode::CancelAggressing,
        2 => StpMode::CancelBoth,
        v => return d.bad("stp mode", v),
    })
}
pub(crate) fn enc_tif(e: &mut Enc, t: TimeInForce) {
    match t {
        TimeInForce::Gfd => e.u8(0),
        TimeInForce::Gtc => e.u8(1),
        TimeInForce::Gtd(ts) => {
            e.u8(2);
            e.u64(ts.0)
        }
        TimeInForce::Ioc => e.u8(3),
        TimeInForce::Fok => e.u8(4),
    }
}
pub(crate) fn tif_of(d: &mut Dec) -> DecResult<TimeInForce> {
    Ok(match d.u8()? {
        0 => TimeInForce::Gfd,
        1 => TimeInForce::Gtc,
        2 => TimeInForce::Gtd(Timestamp(d.u64()?)),
        3 => TimeInForce::Ioc,
        4 => TimeInForce::Fok,
        v => return d.bad("time in force", v),
    })
}
pub(crate) fn enc_clid(e: &mut Enc, c: Option<ClientOrderId>) {
    e.opt(c, |e, c| e.str(c.as_str()));
}
pub(crate) fn clid_of(d: &mut Dec) -> DecResult<Option<ClientOrderId>> {
    d.opt(|d| {
        let s = d.str_ref()?;
        ClientOrderId::new(s).ok_or_else(|| format!("bad client order id {s:?}"))
    })
}

pub(crate) fn currency_of(d: &mut Dec) -> DecResult<Currency> {
    match d.u8()? {
        0 => Ok(Currency::Usd),
        1 => Ok(Currency::Cny),
        v => d.bad("currency", v),
    }
}

pub(crate) fn enc_spec(e: &mut Enc, s: &InstrumentSpec) {
    e.u32(s.id.0);
    e.str(&s.symbol);
    e.str(&s.product);
    e.str(&s.underlying);
    e.u8(s.currency as u8);
    e.str(&s.tick_size);
    e.i64(s.tick_value_minor);
    e.i64(s.year as i64);
    e.u32(s.month);
    e.str(&s.last_trading_day.to_string());
    e.u64(s.expires_at.0);
    e.u8(match s.trade_price_rule {
        TradePriceRule::Resting => 0,
        TradePriceRule::ShfeMedian => 1,
    });
    e.u32(s.price_limit_bps);
    e.u32(s.limit_widen_bps);
    e.u32(s.limit_margin_extra_bps);
    e.u64(s.order_qty_max.0);
    e.i64(s.market_protection_ticks);
    e.i64(s.cb_ticks);
    e.u64(s.cb_window_ns);
    e.u64(s.cb_auction_ns);
    e.u32(s.initial_margin_bps);
    e.u32(s.maintenance_margin_bps);
    e.u64(s.position_limit_all_months);
    e.u64(s.position_limit_spot_month);
    e.i64(s.fee_maker_minor);
    e.i64(s.fee_taker_minor);
    e.i64(s.initial_reference_price.0);
}

pub(crate) fn spec_of(d: &mut Dec) -> DecResult<InstrumentSpec> {
    Ok(InstrumentSpec {
        id: InstrumentId(d.u32()?),
        symbol: d.str()?,
        product: d.str()?,
        underlying: d.str()?,
        currency: match d.u8()? {
            0 => Currency::Usd,
            1 => Currency::Cny,
            v => return d.bad("currency", v),
        },
        tick_size: d.str()?,
        tick_value_minor: d.i64()?,
        year: d.i64()? as i32,
        month: d.u32()?,
        last_trading_day: d.str()?.parse().map_err(|e| format!("bad date: {e}"))?,
        expires_at: Timestamp(d.u64()?),
        trade_price_rule: match d.u8()? {
            0 => TradePriceRule::Resting,
            1 => TradePriceRule::ShfeMedian,
            v => return d.bad("trade price rule", v),
        },
        price_limit_bps: d.u32()?,
        limit_widen_bps: d.u32()?,
        limit_margin_extra_bps: d.u32()?,
        order_qty_max: Qty(d.u64()?),
        market_protection_ticks: d.i64()?,
        cb_ticks: d.i64()?,
        cb_window_ns: d.u64()?,
        cb_auction_ns: d.u64()?,
        initial_margin_bps: d.u32()?,
        maintenance_margin_bps: d.u32()?,
        position_limit_all_months: d.u64()?,
        position_limit_spot_month: d.u64()?,
        fee_maker_minor: d.i64()?,
        fee_taker_minor: d.i64()?,
        initial_reference_price: Price(d.i64()?),
    })
}

/// A change of product parameters (journal command and kept overrides alike): the root,
/// then each parameter as an option, in a fixed order.
pub(crate) fn enc_params_change(e: &mut Enc, c: &ProductParamsChange) {
    e.str(&c.product);
    e.opt(c.price_limit_bps, |e, v| e.u32(v));
    e.opt(c.initial_margin_bps, |e, v| e.u32(v));
    e.opt(c.maintenance_margin_bps, |e, v| e.u32(v));
    e.opt(c.order_qty_max, |e, v| e.u64(v.0));
    e.opt(c.position_limit_all_months, |e, v| e.u64(v));
    e.opt(c.position_limit_spot_month, |e, v| e.u64(v));
    e.opt(c.fee_maker_minor, |e, v| e.i64(v));
    e.opt(c.fee_taker_minor, |e, v| e.i64(v));
    e.opt(c.cb_ticks, |e, v| e.i64(v));
    e.opt(c.market_protection_ticks, |e, v| e.i64(v));
}

pub(crate) fn params_change_of(d: &mut Dec) -> DecResult<ProductParamsChange> {
    Ok(ProductParamsChange {
        product: d.str()?,
        price_limit_bps: d.opt(|d| d.u32())?,
        initial_margin_bps: d.opt(|d| d.u32())?,
        maintenance_margin_bps: d.opt(|d| d.u32())?,
        order_qty_max: d.opt(|d| Ok(Qty(d.u64()?)))?,
        position_limit_all_months: d.opt(|d| d.u64())?,
        position_limit_spot_month: d.opt(|d| d.u64())?,
        fee_maker_minor: d.opt(|d| d.i64())?,
        fee_taker_minor: d.opt(|d| d.i64())?,
        cb_ticks: d.opt(|d| d.i64())?,
        market_protection_ticks: d.opt(|d| d.i64())?,
    })
}

fn enc_window(e: &mut Enc, q: &VecDeque<(Timestamp, Price)>) {
    e.u32(q.len() as u32);
    for &(t, p) in q {
        e.u64(t.0);
        e.i64(p.0);
    }
}
fn window_of(d: &mut Dec) -> DecResult<VecDeque<(Timestamp, Price)>> {
    let n = d.u32()?;
    (0..n)
        .map(|_| Ok((Timestamp(d.u64()?), Price(d.i64()?))))
        .collect()
}

fn enc_stop(e: &mut Enc, s: &StopOrder) {
    e.u64(s.id.0);
    e.u32(s.account.0);
    e.u8(side_code(s.side));
    e.u8(match s.order_type {
        OrderType::StopLimit => 0,
        _ => 1,
    });
    e.i64(s.stop_price.0);
    e.opt(s.price, |e, p| e.i64(p.0));
    e.u64(s.qty.0);
    enc_tif(e, s.tif);
    e.opt(s.display_qty, |e, q| e.u64(q.0));
    e.u8(s.stp as u8);
    enc_clid(e, s.client_order_id);
}
fn stop_of(d: &mut Dec) -> DecResult<StopOrder> {
    Ok(StopOrder {
        id: OrderId(d.u64()?),
        account: AccountId(d.u32()?),
        side: side_of(d)?,
        order_type: match d.u8()? {
            0 => OrderType::StopLimit,
            1 => OrderType::StopMarket,
            v => return d.bad("stop type", v),
        },
        stop_price: Price(d.i64()?),
        price: d.opt(|d| Ok(Price(d.i64()?)))?,
        qty: Qty(d.u64()?),
        tif: tif_of(d)?,
        display_qty: d.opt(|d| Ok(Qty(d.u64()?)))?,
        stp: stp_of(d)?,
        client_order_id: clid_of(d)?,
    })
}

impl Engine {
    /// The whole state as canonical bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let st = &self.st;
        let mut e = Enc::default();
        e.buf.extend_from_slice(MAGIC);
        e.u64(st.now.0);
        e.u64(st.next_order_id);
        e.u64(st.next_trade_id);
        e.u32(st.accounts.len() as u32);
        for a in &st.accounts {
            e.opt(a.as_ref(), |e, a| {
                e.u32(a.id.0);
                e.u8(a.role as u8);
                e.u8(a.stp as u8);
                e.u32(a.working_orders);
                e.i64(a.cash[0]);
                e.i64(a.cash[1]);
                e.u32(a.positions.len() as u32);
                for (id, p) in &a.positions {
                    e.u32(id.0);
                    e.i64(p.net);
                    e.i128(p.basis);
                    e.i128(p.open_cost);
                    e.i64(p.realised_minor);
                    e.u64(p.working_buy);
                    e.u64(p.working_sell);
                    e.u64(p.day_bought);
                    e.u64(p.day_sold);
                }
                e.opt(a.margin_call, |e, m| {
                    e.u8(m.currency as u8);
                    e.u64(m.issued_at.0);
                    e.i64(m.shortfall);
                });
                e.bool(a.liquidating);
            });
        }
        e.u32(st.instruments.len() as u32);
        for inst in &st.instruments {
            enc_spec(&mut e, &inst.spec);
            e.u8(phase_code(inst.phase));
            e.opt(inst.auction_until, |e, t| e.u64(t.0));
            e.opt(inst.last_price, |e, p| e.i64(p.0));
            e.i64(inst.reference_price.0);
            e.u32(inst.limit_bps);
            e.bool(inst.delisted);
            e.bool(inst.limit_locked);
            e.u32(inst.product_ix);
            let day = &inst.day;
            for p in [day.open, day.high, day.low, day.close] {
                e.opt(p, |e, p| e.i64(p.0));
            }
            e.u64(day.volume);
            e.i128(day.turnover);
            e.u64(day.trades);
            enc_window(&mut e, &inst.window.mins);
            enc_window(&mut e, &inst.window.maxs);
            for side in [Side::Buy, Side::Sell] {
                e.u32(inst.book.orders(side).count() as u32);
                for o in inst.book.orders(side) {
                    e.u64(o.id.0);
                    e.u32(o.account.0);
                    e.i64(o.price.0);
                    e.u64(o.leaves.0);
                    e.u64(o.visible.0);
                    e.u64(o.display.0);
                    e.u64(o.filled.0);
                    e.u16(o.tag);
                }
            }
            e.u32(inst.stops.orders.len() as u32);
            for s in inst.stops.orders.values() {
                enc_stop(&mut e, s);
            }
        }
        e.u32(st.products.len() as u32);
        for p in &st.products {
            e.str(p);
        }
        for c in 0..2 {
            e.i128(st.deposits[c]);
            e.i128(st.withdrawals[c]);
            e.i128(st.fees[c]);
        }
        e.u32(st.fixings.len() as u32);
        for ((index, date), v) in &st.fixings {
            e.str(index);
            e.str(&date.to_string());
            e.i64(*v);
        }
        e.opt(st.insurance_fund, |e, a| e.u32(a.0));
        let mut meta: Vec<_> = st.meta.iter().collect();
        meta.sort_unstable_by_key(|(k, _)| **k);
        e.u32(meta.len() as u32);
        for (id, m) in meta {
            e.u64(*id);
            enc_clid(&mut e, m.client_order_id);
            e.opt(m.expire_at, |e, t| e.u64(t.0));
        }
        let mut ids: Vec<_> = st.client_ids.iter().collect();
        ids.sort_unstable_by_key(|((a, c), _)| (*a, *c));
        e.u32(ids.len() as u32);
        for ((a, c), entry) in ids {
            e.u32(a.0);
            e.str(c.as_str());
            e.u64(entry.order_id.0);
            e.u32(entry.instrument.0);
        }
        e.u32(st.gtd_timers.len() as u32);
        for &(t, id, i) in &st.gtd_timers {
            e.u64(t.0);
            e.u64(id.0);
            e.u32(i.0);
        }
        // Product parameters the operator changed, last and only when there are any: a state
        // without them keeps the bytes (and the hash) it had before such changes existed, and
        // older snapshots restore unchanged.
        if !st.product_overrides.is_empty() {
            e.u32(st.product_overrides.len() as u32);
            for c in st.product_overrides.values() {
                enc_params_change(&mut e, c);
            }
        }
        e.buf
    }

    /// SHA-256 of [`Engine::snapshot`], hex.
    pub fn state_hash(&self) -> String {
        let digest = Sha256::digest(self.snapshot());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Rebuilds an engine from [`Engine::snapshot`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Engine, String> {
        let mut d = Dec::new(bytes);
        if d.take(8)? != MAGIC {
            return Err("not a Tokex snapshot (bad magic)".into());
        }
        let mut st = EngineState::new();
        st.now = Timestamp(d.u64()?);
        st.next_order_id = d.u64()?;
        st.next_trade_id = d.u64()?;
        let n = d.u32()?;
        for _ in 0..n {
            let a = d.opt(|d| {
                let mut a = Account::new(AccountId(d.u32()?), role_of(d)?, stp_of(d)?);
                a.working_orders = d.u32()?;
                a.cash = [d.i64()?, d.i64()?];
                let k = d.u32()?;
                for _ in 0..k {
                    let id = InstrumentId(d.u32()?);
                    let p = Position {
                        net: d.i64()?,
                        basis: d.i128()?,
                        open_cost: d.i128()?,
                        realised_minor: d.i64()?,
                        working_buy: d.u64()?,
                        working_sell: d.u64()?,
                        day_bought: d.u64()?,
                        day_sold: d.u64()?,
                    };
                    a.positions.insert(id, p);
                }
                a.margin_call = d.opt(|d| {
                    Ok(MarginCall {
                        currency: currency_of(d)?,
                        issued_at: Timestamp(d.u64()?),
                        shortfall: d.i64()?,
                    })
                })?;
                a.liquidating = d.bool()?;
                Ok(a)
            })?;
            st.accounts.push(a);
        }
        let n = d.u32()?;
        for _ in 0..n {
            let spec = spec_of(&mut d)?;
            let mut inst = InstrumentState::new(spec);
            inst.phase = phase_of(&mut d)?;
            inst.auction_until = d.opt(|d| Ok(Timestamp(d.u64()?)))?;
            inst.last_price = d.opt(|d| Ok(Price(d.i64()?)))?;
            let reference = Price(d.i64()?);
            let bps = d.u32()?;
            inst.set_reference(reference, bps);
            inst.delisted = d.bool()?;
            inst.limit_locked = d.bool()?;
            inst.product_ix = d.u32()?;
            let mut ohlc = [None; 4];
            for p in ohlc.iter_mut() {
                *p = d.opt(|d| Ok(Price(d.i64()?)))?;
            }
            inst.day = DayStats {
                open: ohlc[0],
                high: ohlc[1],
                low: ohlc[2],
                close: ohlc[3],
                volume: d.u64()?,
                turnover: d.i128()?,
                trades: d.u64()?,
            };
            inst.window.mins = window_of(&mut d)?;
            inst.window.maxs = window_of(&mut d)?;
            for side in [Side::Buy, Side::Sell] {
                let k = d.u32()?;
                for _ in 0..k {
                    let o = Resting {
                        id: OrderId(d.u64()?),
                        account: AccountId(d.u32()?),
                        side,
                        price: Price(d.i64()?),
                        leaves: Qty(d.u64()?),
                        visible: Qty(d.u64()?),
                        display: Qty(d.u64()?),
                        filled: Qty(d.u64()?),
                        tag: d.u16()?,
                    };
                    inst.book
                        .insert(o)
                        .map_err(|e| format!("order {}: {e:?}", o.id.0))?;
                }
            }
            let k = d.u32()?;
            for _ in 0..k {
                let s = stop_of(&mut d)?;
                inst.stops.insert(s);
            }
            st.instruments.push(inst);
        }
        let n = d.u32()?;
        for _ in 0..n {
            st.products.push(d.str()?);
        }
        for c in 0..2 {
            st.deposits[c] = d.i128()?;
            st.withdrawals[c] = d.i128()?;
            st.fees[c] = d.i128()?;
        }
        let n = d.u32()?;
        for _ in 0..n {
            let index = d.str()?;
            let date = d.str()?.parse().map_err(|e| format!("bad date: {e}"))?;
            st.fixings.insert((index, date), d.i64()?);
        }
        st.insurance_fund = d.opt(|d| Ok(AccountId(d.u32()?)))?;
        let n = d.u32()?;
        for _ in 0..n {
            let id = d.u64()?;
            let client_order_id = clid_of(&mut d)?;
            let expire_at = d.opt(|d| Ok(Timestamp(d.u64()?)))?;
            st.meta.insert(
                id,
                OrderMeta {
                    client_order_id,
                    expire_at,
                },
            );
        }
        let n = d.u32()?;
        for _ in 0..n {
            let a = AccountId(d.u32()?);
            let s = d.str()?;
            let c = ClientOrderId::new(&s).ok_or_else(|| format!("bad client order id {s:?}"))?;
            let order_id = OrderId(d.u64()?);
            let instrument = InstrumentId(d.u32()?);
            st.client_ids.insert(
                (a, c),
                ClientIdEntry {
                    order_id,
                    instrument,
                },
            );
        }
        let n = d.u32()?;
        for _ in 0..n {
            st.gtd_timers.insert((
                Timestamp(d.u64()?),
                OrderId(d.u64()?),
                InstrumentId(d.u32()?),
            ));
        }
        if !d.done() {
            let n = d.u32()?;
            if n == 0 {
                return Err("empty product-parameter section in the snapshot".into());
            }
            for _ in 0..n {
                let c = params_change_of(&mut d)?;
                if st.product_overrides.contains_key(&c.product) {
                    return Err(format!("product {:?} twice in the snapshot", c.product));
                }
                st.product_overrides.insert(c.product.clone(), c);
            }
        }
        if !d.done() {
            return Err(format!(
                "{} trailing bytes after the snapshot",
                bytes.len() - d.pos
            ));
        }
        st.recompute_deadline();
        Ok(Engine {
            st,
            reject_messages: true,
        })
    }
}
