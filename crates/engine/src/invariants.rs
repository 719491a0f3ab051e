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
