//! Invariants checked over the whole state. Cheap ones are asserted in the core as it runs;
//! these O(n) ones run after every command in tests and in `verify`.

use crate::command::Phase;
use crate::engine::Engine;
use crate::state::tag;
use tokex_types::Side;

impl Engine {
    /// Checks every invariant of the trading core; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut working = vec![0u32; self.st.accounts.len()];
        for inst in &self.st.instruments {
            let sym = &inst.spec.symbol;
            inst.book
                .check_invariants()
                .map_err(|e| format!("{sym}: {e}"))?;
            if inst.book.is_crossed() && !matches!(inst.phase, Phase::PreOpen | Phase::Halted) {
                return Err(format!("{sym}: book crossed in {:?}", inst.phase));
            }
            for side in [Side::Buy, Side::Sell] {
                for o in inst.book.orders(side) {
                    let has_meta = self.st.meta.contains_key(&o.id.0);
                    if has_meta != (o.tag & tag::HAS_META != 0) {
                        return Err(format!("{sym}: order {} meta flag disagrees", o.id.0));
                    }
                    *working
                        .get_mut(o.account.0 as usize)
                        .ok_or("order of unknown account")? += 1;
                }
            }
            for s in inst.stops.orders.values() {
                *working
                    .get_mut(s.account.0 as usize)
                    .ok_or("stop of unknown account")? += 1;
            }
            if inst.stops.orders.len() != inst.stops.buys.len() + inst.stops.sells.len() {
                return Err(format!("{sym}: stop indexes disagree"));
            }
        }
        for (i, a) in self.st.accounts.iter().enumerate() {
            let n = a.as_ref().map_or(0, |a| a.working_orders);
            if n != working[i] {
                return Err(format!(
                    "account {i}: working_orders {n} but {} orders work",
                    working[i]
                ));
            }
        }
        self.check_clearing_invariants()?;
        let orders: usize = self.st.instruments.iter().map(|i| i.book.len()).sum();
        if self.st.meta.len() > orders {
            return Err(format!(
                "{} metadata entries for {orders} resting orders",
                self.st.meta.len()
            ));
        }
        Ok(())
    }
}

impl Engine {
    /// Money is conserved per currency; every instrument's positions sum to zero; working
    /// quantities match the working orders; positions stay within their limits.
    fn check_clearing_invariants(&self) -> Result<(), String> {
        use std::collections::BTreeMap;
        use tokex_types::{Currency, InstrumentId};
        for c in Currency::ALL {
            let cash: i128 = self
                .st
                .accounts
                .iter()
                .flatten()
                .map(|a| a.cash[c.index()] as i128)
                .sum();
            let lhs = self.st.deposits[c.index()] - self.st.withdrawals[c.index()];
            let rhs = cash + self.st.fees[c.index()];
            if lhs != rhs {
                return Err(format!(
                    "{c}: deposits − withdrawals = {lhs} but Σ cash + fees = {rhs}"
                ));
            }
        }
        let mut net: BTreeMap<InstrumentId, i64> = BTreeMap::new();
        let mut basis: BTreeMap<InstrumentId, i128> = BTreeMap::new();
        let mut working: BTreeMap<(u32, InstrumentId), (u64, u64)> = BTreeMap::new();
        for inst in &self.st.instruments {
            for side in [Side::Buy, Side::Sell] {
                for o in inst.book.orders(side) {
                    let w = working.entry((o.account.0, inst.spec.id)).or_default();
                    match side {
                        Side::Buy => w.0 += o.leaves.0,
                        Side::Sell => w.1 += o.leaves.0,
                    }
                }
            }
            for s in inst.stops.orders.values() {
                let w = working.entry((s.account.0, inst.spec.id)).or_default();
                match s.side {
                    Side::Buy => w.0 += s.qty.0,
                    Side::Sell => w.1 += s.qty.0,
                }
            }
        }
        for a in self.st.accounts.iter().flatten() {
            for (id, p) in &a.positions {
                *net.entry(*id).or_default() += p.net;
                *basis.entry(*id).or_default() += p.basis;
                let w = working.remove(&(a.id.0, *id)).unwrap_or_default();
                if (p.working_buy, p.working_sell) != w {
                    return Err(format!(
                        "account {} instrument {}: working {:?} but orders hold {w:?}",
                        a.id.0,
                        id.0,
                        (p.working_buy, p.working_sell)
                    ));
                }
                let inst = &self.st.instruments[id.0 as usize];
                if inst.delisted && p.net != 0 {
                    return Err(format!(
                        "account {} holds {} of expired {}",
                        a.id.0, p.net, inst.spec.symbol
                    ));
                }
            }
        }
        if let Some(((a, i), w)) = working.into_iter().find(|(_, w)| *w != (0, 0)) {
            return Err(format!(
                "account {a} instrument {}: orders hold {w:?} with no position entry",
                i.0
            ));
        }
        if let Some((i, n)) = net.iter().find(|(_, n)| **n != 0) {
            return Err(format!("instrument {}: positions sum to {n}", i.0));
        }
        // Σ basis = Σ prices of trades since settlement with opposite signs: always zero, so
        // variation margin sums to zero.
        if let Some((i, b)) = basis.iter().find(|(_, b)| **b != 0) {
            return Err(format!(
                "instrument {}: variation-margin basis sums to {b}",
                i.0
            ));
        }
        Ok(())
    }
}
