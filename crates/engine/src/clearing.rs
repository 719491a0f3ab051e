//! Clearing: cash, index fixings, daily settlement, margin calls, liquidation, the
//! insurance fund, and expiry.
//!
//! Money moves only here (and fees in [`crate::risk`]): deposits and withdrawals by the
//! operator, variation margin at daily settlement, final settlement at expiry, and the
//! insurance fund's cover of a default. Every movement keeps the ledger identity
//! `deposits − withdrawals = Σ cash + fees` per currency (the insurance fund is an account,
//! so its cash is in Σ cash), checked by `check_invariants`.

use crate::command::{OrderType, Phase, Role, TimeInForce};
use crate::engine::Engine;
use crate::event::{CancelReason, CashKind, Event, Reject, RejectCode};
use crate::matching::Incoming;
use crate::risk::LIQUIDATION_THRESHOLD_BPS;
use tokex_types::decimal::Decimal;
use tokex_types::{AccountId, Currency, InstrumentId, Money, OrderId, Price, Qty, Side};

use RejectCode as C;

/// Longest index id accepted in a fixing.
pub const INDEX_ID_LEN_MAX: usize = 32;

/// `n / d` rounded half away from zero.
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d.abs() {
        q + n.signum() * d.signum()
    } else {
        q
    }
}

impl Engine {
    fn known_account(&self, id: AccountId) -> Result<(), Reject> {
        self.st
            .account(id)
            .map(|_| ())
            .ok_or_else(|| Reject::new(C::UnknownAccount, format!("no account {}", id.0)))
    }

    fn move_cash(
        &mut self,
        account: AccountId,
        currency: Currency,
        amount: i64,
        kind: CashKind,
        out: &mut Vec<Event>,
    ) {
        let a = self.st.account_mut(account).expect("known account");
        let c = &mut a.cash[currency.index()];
        *c = c.checked_add(amount).expect("cash overflow");
        let balance = Money(*c);
        out.push(Event::CashMoved {
            account,
            currency,
            amount: Money(amount),
            kind,
            balance,
        });
    }

    pub(crate) fn deposit(
        &mut self,
        account: AccountId,
        currency: Currency,
        amount: Money,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        self.known_account(account)?;
        if amount.0 <= 0 {
            return Err(Reject::new(C::InvalidAmount, "a deposit must be positive"));
        }
        self.st.deposits[currency.index()] += amount.0 as i128;
        self.move_cash(account, currency, amount.0, CashKind::Deposit, out);
        self.clear_margin_call_if_met(account, out);
        Ok(())
    }

    pub(crate) fn withdraw(
        &mut self,
        account: AccountId,
        currency: Currency,
        amount: Money,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        self.known_account(account)?;
        if amount.0 <= 0 {
            return Err(Reject::new(
                C::InvalidAmount,
                "a withdrawal must be positive",
            ));
        }
        let cash = self.st.account(account).expect("known").cash[currency.index()];
        if amount.0 > cash {
            return Err(Reject::new(
                C::InsufficientFunds,
                format!(
                    "cash is {} {currency}",
                    crate::risk::fmt_minor(cash as i128)
                ),
            ));
        }
        let equity = self.equity(account, currency);
        let need = self.initial_requirement(account, currency, None);
        if equity - (amount.0 as i128) < need {
            return Err(Reject::new(
                C::InsufficientFunds,
                format!(
                    "the withdrawal would leave equity {} {currency} below the initial margin {} {currency}",
                    crate::risk::fmt_minor(equity - amount.0 as i128),
                    crate::risk::fmt_minor(need)
                ),
            ));
        }
        self.st.withdrawals[currency.index()] += amount.0 as i128;
        self.move_cash(account, currency, -amount.0, CashKind::Withdrawal, out);
        Ok(())
    }

    pub(crate) fn record_fixing(
        &mut self,
        index: &str,
        date: chrono::NaiveDate,
        value_e6: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        if index.is_empty()
            || index.len() > INDEX_ID_LEN_MAX
            || !index
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Reject::new(
                C::InvalidFixing,
                "an index id is 1 to 32 letters, digits, '-' or '_'",
            ));
        }
        if value_e6 <= 0 {
            return Err(Reject::new(C::InvalidFixing, "a fixing must be positive"));
        }
        self.st.fixings.insert((index.to_string(), date), value_e6);
        out.push(Event::FixingRecorded {
            index: index.to_string(),
            date,
            value_e6,
        });
        Ok(())
    }

    /// End-of-day settlement of every live instrument, then margin calls.
    pub(crate) fn daily_settlement(&mut self, out: &mut Vec<Event>) -> Result<(), Reject> {
        let live: Vec<usize> = (0..self.st.instruments.len())
            .filter(|&i| !self.st.instruments[i].delisted)
            .collect();
        let mut settle = vec![Price(0); self.st.instruments.len()];
        for &ix in &live {
            let inst = &self.st.instruments[ix];
            settle[ix] = if inst.day.volume > 0 {
                Price(div_round(inst.day.turnover, inst.day.volume as i128) as i64)
            } else {
                inst.reference_price
            };
        }
        // Variation margin, account by account (in id order).
        let mut vm_sum = vec![0i128; self.st.instruments.len()];
        for ai in 0..self.st.accounts.len() {
            let Some(a) = self.st.accounts[ai].as_mut() else {
                continue;
            };
            let account = a.id;
            let mut moves: Vec<(InstrumentId, i64, i64)> = Vec::new();
            for (id, p) in a.positions.iter_mut() {
                let ix = id.0 as usize;
                let inst = &self.st.instruments[ix];
                if inst.delisted {
                    continue;
                }
                let s = settle[ix].0 as i128;
                let vm_ticks = p.net as i128 * s - p.basis;
                p.basis = p.net as i128 * s;
                p.day_bought = 0;
                p.day_sold = 0;
                vm_sum[ix] += vm_ticks;
                if vm_ticks != 0 || p.net != 0 {
                    let vm = i64::try_from(vm_ticks * inst.spec.tick_value_minor as i128)
                        .expect("variation margin overflow");
                    a.cash[inst.spec.currency.index()] += vm;
                    moves.push((*id, vm, p.net));
                }
            }
            a.positions.retain(|_, p| !p.is_idle());
            for (instrument, amount, position) in moves {
                out.push(Event::VariationMargin {
                    account,
                    instrument,
                    amount: Money(amount),
                    position,
                });
            }
        }
        for &ix in &live {
            assert_eq!(
                vm_sum[ix], 0,
                "variation margin of instrument {ix} does not sum to zero"
            );
            let open_interest = self.open_interest(ix);
            let inst = &mut self.st.instruments[ix];
            let s = settle[ix];
            let locked = inst.day.volume > 0 && (s >= inst.upper_limit || s <= inst.lower_limit);
            let bps = if locked {
                inst.spec.price_limit_bps + inst.spec.limit_widen_bps
            } else {
                inst.spec.price_limit_bps
            };
            inst.limit_locked = locked;
            inst.set_reference(s, bps);
            let volume = Qty(inst.day.volume);
            inst.day = Default::default();
            inst.last_price = None;
            inst.window.clear();
            out.push(Event::Settled {
                instrument: inst.spec.id,
                price: s,
                volume,
                open_interest,
                limit_locked: locked,
                lower_limit: inst.lower_limit,
                upper_limit: inst.upper_limit,
            });
        }
        self.issue_margin_calls(out);
        Ok(())
    }

    fn open_interest(&self, ix: usize) -> u64 {
        let id = InstrumentId(ix as u32);
        self.st
            .accounts
            .iter()
            .flatten()
            .filter_map(|a| a.positions.get(&id))
            .map(|p| p.net.max(0) as u64)
            .sum()
    }

    fn issue_margin_calls(&mut self, out: &mut Vec<Event>) {
        for ai in 0..self.st.accounts.len() {
            let Some(a) = self.st.accounts[ai].as_ref() else {
                continue;
            };
            if a.positions.is_empty() || a.liquidating {
                continue;
            }
            let account = a.id;
            for currency in Currency::ALL {
                let maintenance = self.maintenance_requirement(account, currency);
                if maintenance == 0 {
                    continue;
                }
                let equity = self.equity(account, currency);
                let initial = self.position_initial_requirement(account, currency);
                if equity < maintenance {
                    let now = self.st.now;
                    let a = self.st.account_mut(account).expect("known");
                    a.margin_call = Some(crate::state::MarginCall {
                        currency,
                        issued_at: now,
                        shortfall: (initial - equity) as i64,
                    });
                    out.push(Event::MarginCall {
                        account,
                        currency,
                        equity: Money(equity as i64),
                        maintenance: Money(maintenance as i64),
                        initial: Money(initial as i64),
                    });
                    break;
                }
            }
        }
    }

    fn clear_margin_call_if_met(&mut self, account: AccountId, out: &mut Vec<Event>) {
        let Some(call) = self.st.account(account).and_then(|a| a.margin_call) else {
            return;
        };
        if self.equity(account, call.currency)
            >= self.position_initial_requirement(account, call.currency)
        {
            self.st.account_mut(account).expect("known").margin_call = None;
            out.push(Event::MarginCallMet { account });
        }
    }

    /// At the margin-call deadline: met calls are cleared, the rest liquidated.
    pub(crate) fn margin_call_deadline(&mut self, out: &mut Vec<Event>) -> Result<(), Reject> {
        let called: Vec<AccountId> = self
            .st
            .accounts
            .iter()
            .flatten()
            .filter(|a| a.margin_call.is_some())
            .map(|a| a.id)
            .collect();
        for account in called {
            self.clear_margin_call_if_met(account, out);
            if let Some(call) = self.st.account(account).and_then(|a| a.margin_call) {
                self.liquidate(account, call.currency, out);
            }
        }
        Ok(())
    }

    /// Liquidates every account whose equity is below the liquidation threshold, and
    /// retries liquidations still in progress.
    ///
    /// With no open position in a currency the maintenance margin is zero and the threshold
    /// test reads `equity < 0`: a loss already beyond the account's money (a position closed
    /// at a loss, or settled at expiry, before any sweep). Liquidating such an account only
    /// cancels its orders and hands the loss to the insurance fund. A liquidation whose last
    /// position was closed by expiry is finished the same way.
    pub(crate) fn risk_sweep(&mut self, out: &mut Vec<Event>) -> Result<(), Reject> {
        let candidates: Vec<AccountId> = self
            .st
            .accounts
            .iter()
            .flatten()
            .filter(|a| {
                matches!(a.role, Role::Trader | Role::MarketMaker)
                    && (a.liquidating || !a.positions.is_empty() || a.cash.iter().any(|&c| c < 0))
            })
            .map(|a| a.id)
            .collect();
        for account in candidates {
            if self.st.account(account).is_some_and(|a| a.liquidating) {
                self.liquidate(account, Currency::Usd, out);
                continue;
            }
            let per_currency = self.equity_and_maintenance(account);
            for currency in Currency::ALL {
                let (equity, maintenance) = per_currency[currency.index()];
                debug_assert_eq!(
                    (equity, maintenance),
                    (
                        self.equity(account, currency),
                        self.maintenance_requirement(account, currency)
                    ),
                    "one-pass sweep figures differ from the per-currency ones"
                );
                if equity * 10_000 < maintenance * LIQUIDATION_THRESHOLD_BPS {
                    self.liquidate(account, currency, out);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Cancels the account's working orders and closes its positions with protected market
    /// orders through the book, marked as liquidation. When it is flat, a negative equity is
    /// met by the insurance fund. A position the book cannot absorb now stays, and the next
    /// risk sweep tries again.
    pub(crate) fn liquidate(
        &mut self,
        account: AccountId,
        currency: Currency,
        out: &mut Vec<Event>,
    ) {
        if !self.st.account(account).is_some_and(|a| a.liquidating) {
            let equity = self.equity(account, currency);
            let maintenance = self.maintenance_requirement(account, currency);
            self.st.account_mut(account).expect("known").liquidating = true;
            out.push(Event::LiquidationStarted {
                account,
                currency,
                equity: Money(equity as i64),
                maintenance: Money(maintenance as i64),
            });
        }
        // Cancel everything working.
        for ix in 0..self.st.instruments.len() {
            let inst = &self.st.instruments[ix];
            let mut ids: Vec<OrderId> = inst
                .book
                .orders(Side::Buy)
                .chain(inst.book.orders(Side::Sell))
                .filter(|o| o.account == account)
                .map(|o| o.id)
                .collect();
            ids.extend(
                inst.stops
                    .orders
                    .values()
                    .filter(|s| s.account == account)
                    .map(|s| s.id),
            );
            ids.sort_unstable();
            for id in ids {
                self.cancel_working(ix, id, CancelReason::Risk, out);
            }
        }
        // Close positions through the book.
        let positions: Vec<(InstrumentId, i64)> = self
            .st
            .account(account)
            .expect("known")
            .positions
            .iter()
            .filter(|(_, p)| p.net != 0)
            .map(|(id, p)| (*id, p.net))
            .collect();
        for (instrument, net) in positions {
            let ix = instrument.0 as usize;
            if self.st.instruments[ix].phase != Phase::Continuous
                || self.st.instruments[ix].delisted
            {
                continue;
            }
            let side = if net > 0 { Side::Sell } else { Side::Buy };
            let max = self.st.instruments[ix].spec.order_qty_max.0;
            let mut left = net.unsigned_abs();
            while left > 0 {
                let qty = left.min(max);
                let id = OrderId(self.st.next_order_id);
                self.st.next_order_id += 1;
                out.push(Event::OrderAccepted {
                    order_id: id,
                    account,
                    instrument,
                    client_order_id: None,
                    side,
                    order_type: OrderType::Market,
                    tif: TimeInForce::Ioc,
                    price: None,
                    stop_price: None,
                    qty: Qty(qty),
                });
                let inc = Incoming {
                    id,
                    account,
                    side,
                    price: None,
                    leaves: qty,
                    filled: 0,
                    tif: TimeInForce::Ioc,
                    min_qty: 0,
                    display: 0,
                    stp: crate::command::StpMode::CancelResting,
                    client_order_id: None,
                    post_only: false,
                    liquidation: true,
                };
                let before = self
                    .st
                    .account(account)
                    .and_then(|a| a.positions.get(&instrument))
                    .map_or(0, |p| p.net);
                self.execute(ix, inc, out);
                self.trigger_stops(ix, out);
                let after = self
                    .st
                    .account(account)
                    .and_then(|a| a.positions.get(&instrument))
                    .map_or(0, |p| p.net);
                let done = before.abs_diff(after);
                if done < qty {
                    break; // the book could not absorb more now
                }
                left -= qty;
            }
        }
        let flat = self
            .st
            .account(account)
            .expect("known")
            .positions
            .values()
            .all(|p| p.net == 0);
        if flat {
            self.cover_default(account, out);
            let a = self.st.account_mut(account).expect("known");
            a.liquidating = false;
            a.margin_call = None;
            out.push(Event::LiquidationFinished { account });
        }
    }

    /// A flat account with negative equity: the insurance fund pays the difference.
    fn cover_default(&mut self, account: AccountId, out: &mut Vec<Event>) {
        let Some(fund) = self.st.insurance_fund else {
            return;
        };
        for currency in Currency::ALL {
            let equity = self.equity(account, currency);
            if equity >= 0 {
                continue;
            }
            let amount = i64::try_from(-equity).expect("default overflow");
            self.move_cash(fund, currency, -amount, CashKind::InsuranceCover, out);
            self.move_cash(account, currency, amount, CashKind::InsuranceCover, out);
            let fund_balance = Money(self.st.account(fund).expect("fund").cash[currency.index()]);
            out.push(Event::DefaultCovered {
                account,
                currency,
                amount: Money(amount),
                fund_balance,
            });
        }
    }

    /// Final settlement price: the mean of the underlying's fixings dated in the contract
    /// month, in ticks, rounded half away from zero; the last settlement price when there
    /// are none. Returns the price and the number of fixings used.
    pub fn final_settlement_price(&self, instrument: InstrumentId) -> Option<(Price, u32)> {
        let inst = self.st.instruments.get(instrument.0 as usize)?;
        let spec = &inst.spec;
        let first = chrono::NaiveDate::from_ymd_opt(spec.year, spec.month, 1)?;
        let next = if spec.month == 12 {
            chrono::NaiveDate::from_ymd_opt(spec.year + 1, 1, 1)?
        } else {
            chrono::NaiveDate::from_ymd_opt(spec.year, spec.month + 1, 1)?
        };
        let range = (spec.underlying.clone(), first)..(spec.underlying.clone(), next);
        let (mut sum, mut n) = (0i128, 0i128);
        for (_, v) in self.st.fixings.range(range) {
            sum += *v as i128;
            n += 1;
        }
        if n == 0 {
            return Some((inst.reference_price, 0));
        }
        let tick_e6 = Decimal::parse(&spec.tick_size).ok()?.rescaled(6)?;
        Some((Price(div_round(sum, n * tick_e6) as i64), n as u32))
    }

    pub(crate) fn expire(
        &mut self,
        instrument: InstrumentId,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        self.live_instrument(instrument)?;
        let (fsp, fixings) = self
            .final_settlement_price(instrument)
            .ok_or_else(|| Reject::new(C::Internal, "bad tick size"))?;
        let ix = instrument.0 as usize;
        let inst = &self.st.instruments[ix];
        let mut ids: Vec<OrderId> = inst
            .book
            .orders(Side::Buy)
            .chain(inst.book.orders(Side::Sell))
            .map(|o| o.id)
            .collect();
        ids.extend(inst.stops.orders.keys().copied());
        ids.sort_unstable();
        for id in ids {
            self.cancel_working(ix, id, CancelReason::InstrumentExpired, out);
        }
        let tv = self.st.instruments[ix].spec.tick_value_minor as i128;
        let currency = self.st.instruments[ix].spec.currency;
        let mut sum = 0i128;
        for ai in 0..self.st.accounts.len() {
            let Some(a) = self.st.accounts[ai].as_mut() else {
                continue;
            };
            let Some(p) = a.positions.remove(&instrument) else {
                continue;
            };
            let ticks = p.net as i128 * fsp.0 as i128 - p.basis;
            sum += ticks;
            let amount = i64::try_from(ticks * tv).expect("final settlement overflow");
            let account = a.id;
            if amount != 0 || p.net != 0 {
                out.push(Event::VariationMargin {
                    account,
                    instrument,
                    amount: Money(amount),
                    position: p.net,
                });
                self.move_cash(account, currency, amount, CashKind::FinalSettlement, out);
            }
        }
        assert_eq!(
            sum, 0,
            "final settlement of instrument {ix} does not sum to zero"
        );
        let inst = &mut self.st.instruments[ix];
        inst.delisted = true;
        inst.phase = Phase::Closed;
        inst.auction_until = None;
        inst.set_reference(fsp, inst.limit_bps);
        self.st.client_ids.retain(|_, e| e.instrument != instrument);
        out.push(Event::Expired {
            instrument,
            final_price: fsp,
            fixings,
        });
        self.st.recompute_deadline();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::div_round;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(7, 3), 2);
        assert_eq!(div_round(8, 3), 3);
    }
}
