//! Pre-trade risk and post-trade position keeping: the seam between matching and clearing.
//!
//! - [`Engine::pre_trade_check`]: an order is accepted only if the initial margin of the
//!   account's worst-case position — as if all its working orders on the order's side, and
//!   the order itself, filled — fits in its equity (an order that does not raise the
//!   requirement is always accepted, so closing out is never blocked), and the worst case
//!   stays within the product's position limits (all months; spot month).
//! - [`Engine::on_trade`]: positions, variation-margin basis, average price, realised P&L,
//!   fees, day statistics.
//!
//! Margin is computed per currency on the reference (previous settlement) price; equity is
//! cash plus the intraday mark-to-market at the last trade price. There is no margin offset
//! between currencies or months (portfolio margin is *later* in the spec).

use crate::engine::Engine;
use crate::event::{Event, Reject, RejectCode};
use crate::state::{InstrumentState, Position};
use tokex_types::{AccountId, Currency, InstrumentId, Money, Price, Qty, Side};

/// Equity below this share of maintenance margin (in basis points) triggers liquidation at
/// once, without waiting for the margin-call deadline.
pub const LIQUIDATION_THRESHOLD_BPS: i128 = 5_000;

/// Notional margin of `contracts` at `price`, rounded up to the minor unit.
fn margin_of(contracts: u64, price: Price, tick_value_minor: i64, bps: u32) -> i128 {
    let v = contracts as i128 * price.0 as i128 * tick_value_minor as i128 * bps as i128;
    // Nearly always fits in 64 bits, where division is an instruction rather than a call.
    match i64::try_from(v + 9_999) {
        Ok(n) => n.div_euclid(10_000) as i128,
        Err(_) => (v + 9_999).div_euclid(10_000),
    }
}

/// A hypothetical change of working quantity for the worst-case computation.
#[derive(Copy, Clone)]
pub(crate) struct WhatIf {
    pub instrument: InstrumentId,
    pub side: Side,
    /// Added to the working quantity on `side` (may be negative for an amendment down).
    pub delta: i64,
}

impl Engine {
    fn worst_case(p: &Position, what_if: Option<WhatIf>, id: InstrumentId) -> u64 {
        let (mut wb, mut ws) = (p.working_buy as i64, p.working_sell as i64);
        if let Some(w) = what_if.filter(|w| w.instrument == id) {
            match w.side {
                Side::Buy => wb += w.delta,
                Side::Sell => ws += w.delta,
            }
        }
        (p.net + wb).unsigned_abs().max((p.net - ws).unsigned_abs())
    }

    /// Initial margin of the account's worst-case positions in `currency`, minor units.
    pub(crate) fn initial_requirement(
        &self,
        account: AccountId,
        currency: Currency,
        what_if: Option<WhatIf>,
    ) -> i128 {
        let Some(a) = self.st.account(account) else {
            return 0;
        };
        let mut total = 0i128;
        let mut seen_new = false;
        for (id, p) in &a.positions {
            let inst = &self.st.instruments[id.0 as usize];
            if inst.spec.currency != currency || inst.delisted {
                continue;
            }
            seen_new |= what_if.is_some_and(|w| w.instrument == *id);
            let (im, _) = inst.margin_bps();
            total += margin_of(
                Self::worst_case(p, what_if, *id),
                inst.reference_price,
                inst.spec.tick_value_minor,
                im,
            );
        }
        if let Some(w) = what_if.filter(|_| !seen_new) {
            let inst = &self.st.instruments[w.instrument.0 as usize];
            if inst.spec.currency == currency {
                let (im, _) = inst.margin_bps();
                total += margin_of(
                    w.delta.max(0) as u64,
                    inst.reference_price,
                    inst.spec.tick_value_minor,
                    im,
                );
            }
        }
        total
    }

    /// Maintenance margin of the account's open positions in `currency`.
    pub(crate) fn maintenance_requirement(&self, account: AccountId, currency: Currency) -> i128 {
        let Some(a) = self.st.account(account) else {
            return 0;
        };
        a.positions
            .iter()
            .map(|(id, p)| (&self.st.instruments[id.0 as usize], p))
            .filter(|(i, _)| i.spec.currency == currency && !i.delisted)
            .map(|(i, p)| {
                margin_of(
                    p.net.unsigned_abs(),
                    i.reference_price,
                    i.spec.tick_value_minor,
                    i.margin_bps().1,
                )
            })
            .sum()
    }

    /// Initial margin of open positions only (no working orders).
    pub(crate) fn position_initial_requirement(
        &self,
        account: AccountId,
        currency: Currency,
    ) -> i128 {
        let Some(a) = self.st.account(account) else {
            return 0;
        };
        a.positions
            .iter()
            .map(|(id, p)| (&self.st.instruments[id.0 as usize], p))
            .filter(|(i, _)| i.spec.currency == currency && !i.delisted)
            .map(|(i, p)| {
                margin_of(
                    p.net.unsigned_abs(),
                    i.reference_price,
                    i.spec.tick_value_minor,
                    i.margin_bps().0,
                )
            })
            .sum()
    }

    /// [`Engine::equity`] and [`Engine::maintenance_requirement`] of every currency, indexed by
    /// [`Currency::index`], in one pass over the account's positions (the risk sweep visits
    /// every account with positions, many times a day).
    pub(crate) fn equity_and_maintenance(
        &self,
        account: AccountId,
    ) -> [(i128, i128); Currency::ALL.len()] {
        let mut out = [(0i128, 0i128); Currency::ALL.len()];
        let Some(a) = self.st.account(account) else {
            return out;
        };
        for c in Currency::ALL {
            out[c.index()].0 = a.cash[c.index()] as i128;
        }
        for (id, p) in &a.positions {
            let inst = &self.st.instruments[id.0 as usize];
            if inst.delisted {
                continue;
            }
            let slot = &mut out[inst.spec.currency.index()];
            slot.0 += (p.net as i128 * inst.mark_price().0 as i128 - p.basis)
                * inst.spec.tick_value_minor as i128;
            slot.1 += margin_of(
                p.net.unsigned_abs(),
                inst.reference_price,
                inst.spec.tick_value_minor,
                inst.margin_bps().1,
            );
        }
        out
    }

    /// Cash plus intraday mark-to-market of positions in `currency`, minor units.
    pub(crate) fn equity(&self, account: AccountId, currency: Currency) -> i128 {
        let Some(a) = self.st.account(account) else {
            return 0;
        };
        let mut e = a.cash[currency.index()] as i128;
        for (id, p) in &a.positions {
            let inst = &self.st.instruments[id.0 as usize];
            if inst.spec.currency == currency && !inst.delisted {
                e += (p.net as i128 * inst.mark_price().0 as i128 - p.basis)
                    * inst.spec.tick_value_minor as i128;
            }
        }
        e
    }

    fn check_margin_and_limits(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        what_if: WhatIf,
    ) -> Result<(), Reject> {
        let a = self.st.account(account).expect("validated");
        if a.liquidating {
            return Err(Reject::new(
                RejectCode::InsufficientMargin,
                "the account is being liquidated",
            ));
        }
        let inst: &InstrumentState = &self.st.instruments[instrument.0 as usize];
        let cur = inst.spec.currency;
        // Position limits on the worst case.
        let empty = Position::default();
        let p = a.positions.get(&instrument).unwrap_or(&empty);
        let worst = Self::worst_case(p, Some(what_if), instrument);
        let before = Self::worst_case(p, None, instrument);
        if worst > before {
            if self.is_spot_month(inst) && worst > inst.spec.position_limit_spot_month {
                return Err(Reject::new(
                    RejectCode::PositionLimit,
                    format!(
                        "the spot-month position limit is {} contracts",
                        inst.spec.position_limit_spot_month
                    ),
                ));
            }
            let all: u64 = a
                .positions
                .iter()
                .filter(|(id, _)| {
                    let i = &self.st.instruments[id.0 as usize];
                    i.product_ix == inst.product_ix && !i.delisted && **id != instrument
                })
                .map(|(id, p)| Self::worst_case(p, None, *id))
                .sum::<u64>()
                + worst;
            if all > inst.spec.position_limit_all_months {
                return Err(Reject::new(
                    RejectCode::PositionLimit,
                    format!(
                        "the all-months position limit of {} is {} contracts",
                        inst.spec.product, inst.spec.position_limit_all_months
                    ),
                ));
            }
        }
        // Only this instrument's worst case changes: the requirement moves by its margin
        // difference. An order that does not raise it is always accepted.
        let (im, _) = inst.margin_bps();
        let (price, tv) = (inst.reference_price, inst.spec.tick_value_minor);
        let delta = margin_of(worst, price, tv, im) - margin_of(before, price, tv, im);
        if delta <= 0 {
            return Ok(());
        }
        // One pass over the account's positions for the current requirement and equity.
        let (mut now, mut equity) = (0i128, a.cash[cur.index()] as i128);
        for (id, p) in &a.positions {
            let i = &self.st.instruments[id.0 as usize];
            if i.spec.currency != cur || i.delisted {
                continue;
            }
            now += margin_of(
                Self::worst_case(p, None, *id),
                i.reference_price,
                i.spec.tick_value_minor,
                i.margin_bps().0,
            );
            equity += (p.net as i128 * i.mark_price().0 as i128 - p.basis)
                * i.spec.tick_value_minor as i128;
        }
        let after = now + delta;
        if after > equity {
            return Err(self.reject_with(RejectCode::InsufficientMargin, || {
                format!(
                    "initial margin {} {cur} needed, equity is {} {cur}",
                    fmt_minor(after),
                    fmt_minor(equity)
                )
            }));
        }
        Ok(())
    }

    /// The spot month is the contract month that contains the current time.
    fn is_spot_month(&self, inst: &InstrumentState) -> bool {
        let secs = (self.st.now.0 / 1_000_000_000) as i64;
        chrono::DateTime::from_timestamp(secs, 0).is_some_and(|d| {
            use chrono::Datelike;
            d.year() == inst.spec.year && d.month() == inst.spec.month
        })
    }

    /// Checks a new order against the account's margin and limits. Changes nothing.
    pub(crate) fn pre_trade_check(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        qty: Qty,
        _price: Option<Price>,
    ) -> Result<(), Reject> {
        self.check_margin_and_limits(
            account,
            instrument,
            WhatIf {
                instrument,
                side,
                delta: qty.0 as i64,
            },
        )
    }

    /// Checks an amendment that raises exposure (quantity up, or a new price).
    pub(crate) fn pre_trade_check_amend(
        &self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        old_leaves: Qty,
        new_leaves: Qty,
        _price: Price,
    ) -> Result<(), Reject> {
        let delta = new_leaves.0 as i64 - old_leaves.0 as i64;
        if delta <= 0 {
            return Ok(());
        }
        self.check_margin_and_limits(
            account,
            instrument,
            WhatIf {
                instrument,
                side,
                delta,
            },
        )
    }

    /// Working quantity joins (`delta > 0`) or leaves the account's worst case.
    pub(crate) fn change_working(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        delta: i64,
    ) {
        let Some(a) = self.st.account_mut(account) else {
            return;
        };
        let p = a.positions.entry(instrument).or_default();
        let w = match side {
            Side::Buy => &mut p.working_buy,
            Side::Sell => &mut p.working_sell,
        };
        *w = w
            .checked_add_signed(delta)
            .expect("working quantity below zero");
    }

    /// Books one trade: both positions, fees, day statistics. `maker_side` is `None` in an
    /// auction, where both orders were resting (both pay the maker fee).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_trade(
        &mut self,
        ix: usize,
        trade_id: u64,
        price: Price,
        qty: Qty,
        buy: AccountId,
        sell: AccountId,
        maker_side: Option<Side>,
        out: &mut Vec<Event>,
    ) {
        let inst = &mut self.st.instruments[ix];
        inst.day.record(price, qty.0);
        let id = inst.spec.id;
        let tv = inst.spec.tick_value_minor;
        let cur = inst.spec.currency;
        let (fm, ft) = (inst.spec.fee_maker_minor, inst.spec.fee_taker_minor);
        let fee = |side: Side| -> i64 {
            let per = match maker_side {
                None => fm,
                Some(m) if m == side => fm,
                Some(_) => ft,
            };
            per * qty.0 as i64
        };
        let (buy_fee, sell_fee) = (fee(Side::Buy), fee(Side::Sell));
        for (acct, side, f) in [(buy, Side::Buy, buy_fee), (sell, Side::Sell, sell_fee)] {
            let resting = maker_side.is_none_or(|m| m == side);
            let a = self.st.account_mut(acct).expect("trading account");
            a.cash[cur.index()] -= f;
            let p = a.positions.entry(id).or_default();
            if resting {
                let w = match side {
                    Side::Buy => &mut p.working_buy,
                    Side::Sell => &mut p.working_sell,
                };
                *w -= qty.0;
            }
            apply_fill(p, side, price, qty.0, tv);
        }
        if buy_fee != 0 || sell_fee != 0 {
            self.st.fees[cur.index()] += (buy_fee + sell_fee) as i128;
            out.push(Event::FeesCharged {
                trade_id,
                buy_account: buy,
                buy_fee: Money(buy_fee),
                sell_account: sell,
                sell_fee: Money(sell_fee),
                currency: cur,
            });
        }
    }
}

/// Read accessors for the gateways (REST, WebSocket): what an account's balances and margin
/// screens show. They wrap the functions pre-trade risk uses, so the numbers agree.
impl Engine {
    /// Cash plus intraday mark-to-market of open positions in `currency`, minor units.
    pub fn account_equity(&self, account: AccountId, currency: Currency) -> i128 {
        self.equity(account, currency)
    }

    /// Initial margin of the account's worst-case positions (working orders included) in
    /// `currency`, minor units: what new orders must fit under.
    pub fn account_initial_margin(&self, account: AccountId, currency: Currency) -> i128 {
        self.initial_requirement(account, currency, None)
    }

    /// Initial margin of open positions only (no working orders), minor units.
    pub fn account_position_initial_margin(&self, account: AccountId, currency: Currency) -> i128 {
        self.position_initial_requirement(account, currency)
    }

    /// Maintenance margin of open positions in `currency`, minor units.
    pub fn account_maintenance_margin(&self, account: AccountId, currency: Currency) -> i128 {
        self.maintenance_requirement(account, currency)
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> impl Iterator<Item = &crate::state::Account> {
        self.st.accounts.iter().flatten()
    }

    /// Index fixings received: (index id, date) → value in millionths of the index unit.
    pub fn fixings(&self) -> &std::collections::BTreeMap<(String, chrono::NaiveDate), i64> {
        &self.st.fixings
    }
}

/// Updates a position for a fill of `qty` at `price` on `side`.
fn apply_fill(p: &mut Position, side: Side, price: Price, qty: u64, tick_value: i64) {
    let signed = side.sign() * qty as i64;
    let px = price.0 as i128;
    p.basis += px * signed as i128;
    match side {
        Side::Buy => p.day_bought += qty,
        Side::Sell => p.day_sold += qty,
    }
    let net = p.net;
    if net == 0 || net.signum() == signed.signum() {
        p.open_cost += px * signed as i128;
    } else {
        // Closing (part of) the position: realise against the average entry price.
        let closing = qty.min(net.unsigned_abs()) as i128;
        let cost_removed = p.open_cost * closing / net.unsigned_abs() as i128;
        // A long closed by a sell realises price − avg; a short closed by a buy, avg − price.
        let pnl_ticks = if net > 0 {
            px * closing - cost_removed
        } else {
            -cost_removed - px * closing
        };
        p.realised_minor += (pnl_ticks * tick_value as i128) as i64;
        p.open_cost -= cost_removed;
        let opening = qty as i128 - closing;
        if opening > 0 {
            // Flipped through zero: the rest opens a new position at this price.
            p.open_cost = px * opening * side.sign() as i128;
        }
    }
    p.net += signed;
    if p.net == 0 {
        p.open_cost = 0;
    }
}

/// Minor units as a decimal string with two places.
pub fn fmt_minor(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_price_and_realised_pnl() {
        let mut p = Position::default();
        apply_fill(&mut p, Side::Buy, Price(100), 2, 10);
        apply_fill(&mut p, Side::Buy, Price(110), 2, 10);
        assert_eq!(p.avg_price(), Some((420, 4))); // 105 average
        apply_fill(&mut p, Side::Sell, Price(120), 1, 10); // +15 ticks × 10
        assert_eq!(p.realised_minor, 150);
        apply_fill(&mut p, Side::Sell, Price(100), 5, 10); // closes 3 at −5 each, opens 2 short
        assert_eq!(p.realised_minor, 150 - 150);
        assert_eq!((p.net, p.open_cost), (-2, -200));
        // Short closed by a buy below entry makes money.
        apply_fill(&mut p, Side::Buy, Price(90), 2, 10);
        assert_eq!(p.realised_minor, 200);
        assert_eq!(p.net, 0);
    }
}
