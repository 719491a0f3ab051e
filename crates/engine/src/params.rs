//! Operator changes of a product's trading parameters while it trades (margins, daily price
//! limit, largest order, position limits, fees, circuit-breaker and market-protection ticks),
//! the way an exchange changes them by notice.
//!
//! A change names a product root and applies at once to every listed, not delisted month of
//! it, and to the months listed later: the engine keeps the changed values per product (in
//! the snapshot) and puts them into each new month's spec when `ListInstrument` is applied,
//! so a replay of the journal reproduces everything.
//!
//! When each parameter takes effect:
//! - **Margins**: at once, for every pre-trade check from the next command on, for the next
//!   risk sweep, daily settlement (margin calls) and margin-call deadline. Nothing is
//!   recomputed or called by the change itself: an account that a higher margin puts below
//!   initial margin may only reduce its risk until it pays in, and is called at settlement.
//! - **Daily price limit**: today's band is recomputed at once around the same reference
//!   (previous settlement) price, widened as before if the previous day was limit-locked, so
//!   the next price check (new order, amendment, stop price) uses it. Resting orders outside
//!   a narrowed band stay in the book, as they do when daily settlement moves the band.
//! - **Largest order, position limits, fees, market protection**: from the next order, trade
//!   or market order. Fees already charged are not revisited.
//! - **Circuit breaker**: from the next trade; turning it off (0) forgets the price window.
//!
//! Validation comes first and a reject changes nothing. Each value is checked against every
//! live month (they may differ if the products file changed between listings).

use crate::command::{ProductParams, ProductParamsChange};
use crate::engine::Engine;
use crate::event::{Event, Reject, RejectCode};
use crate::state::InstrumentState;
use tokex_types::limits::{BOOK_LEVELS_MAX, ORDER_QTY_MAX_CONTRACTS};
use tokex_types::InstrumentId;

use RejectCode as C;

/// Largest fee (or rebate) per contract, minor units: a fee times the largest order must fit
/// in 64 bits (10^12 × 10^6 = 10^18 < 2^63).
pub const FEE_PER_CONTRACT_MAX_MINOR: i64 = 1_000_000_000_000;
/// Largest position limit, contracts: positions are signed 64-bit numbers.
pub const POSITION_LIMIT_MAX_CONTRACTS: u64 = i64::MAX as u64 / 2;
/// Largest circuit-breaker range and market-protection distance, ticks: no book spans more.
pub const PROTECTION_TICKS_MAX: i64 = BOOK_LEVELS_MAX as i64;

fn rej<T>(code: RejectCode, msg: impl Into<String>) -> Result<T, Reject> {
    Err(Reject::new(code, msg))
}

/// Basis points as a percentage for messages, e.g. 1250 → "12.5%".
fn pct(bps: u32) -> String {
    let (whole, frac) = (bps / 100, bps % 100);
    if frac == 0 {
        format!("{whole}%")
    } else if frac % 10 == 0 {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

/// Checks the parameters `p` that `c` would put in force for one instrument. Only values the
/// change touches (alone or with their partner) are checked, so that an unrelated change is
/// never refused for a value the products file accepted.
fn check(inst: &InstrumentState, c: &ProductParamsChange, p: &ProductParams) -> Result<(), Reject> {
    let sym = &inst.spec.symbol;
    if c.price_limit_bps.is_some() {
        let b = p.price_limit_bps;
        if !(1..=10_000).contains(&b) {
            return rej(
                C::InvalidPriceLimit,
                "the price limit must be 0.01% to 100%",
            );
        }
        if b + inst.spec.limit_widen_bps > 10_000 {
            return rej(
                C::InvalidPriceLimit,
                format!(
                    "the price limit plus the widening after a limit-locked day ({}) must be at most 100%",
                    pct(inst.spec.limit_widen_bps)
                ),
            );
        }
        // A band narrower than one tick either side would leave only the reference price.
        if (inst.reference_price.0 as i128) * (b as i128) < 10_000 {
            return rej(
                C::InvalidPriceLimit,
                format!(
                    "a limit of {} is less than one tick either side of {sym}'s reference price ({} ticks)",
                    pct(b),
                    inst.reference_price.0
                ),
            );
        }
    }
    if c.initial_margin_bps.is_some() || c.maintenance_margin_bps.is_some() {
        let (im, mm) = (p.initial_margin_bps, p.maintenance_margin_bps);
        if !(1..=10_000).contains(&im) || !(1..=10_000).contains(&mm) {
            return rej(C::InvalidMargin, "margins must be 0.01% to 100%");
        }
        if mm >= im {
            return rej(
                C::InvalidMargin,
                format!(
                    "the maintenance margin ({}) must be less than the initial margin ({})",
                    pct(mm),
                    pct(im)
                ),
            );
        }
    }
    if c.order_qty_max.is_some() {
        let q = p.order_qty_max.0;
        if q == 0 || q > ORDER_QTY_MAX_CONTRACTS {
            return rej(
                C::InvalidOrderQtyMax,
                format!("the largest order must be 1 to {ORDER_QTY_MAX_CONTRACTS} contracts"),
            );
        }
    }
    if c.position_limit_all_months.is_some() || c.position_limit_spot_month.is_some() {
        let (all, spot) = (p.position_limit_all_months, p.position_limit_spot_month);
        for v in [all, spot] {
            if v == 0 || v > POSITION_LIMIT_MAX_CONTRACTS {
                return rej(
                    C::InvalidPositionLimit,
                    format!(
                        "position limits must be 1 to {POSITION_LIMIT_MAX_CONTRACTS} contracts"
                    ),
                );
            }
        }
        if spot > all {
            return rej(
                C::InvalidPositionLimit,
                format!("the spot-month limit ({spot}) exceeds the all-months limit ({all})"),
            );
        }
    }
    if c.fee_maker_minor.is_some() || c.fee_taker_minor.is_some() {
        let (m, t) = (p.fee_maker_minor, p.fee_taker_minor);
        if m.abs() > FEE_PER_CONTRACT_MAX_MINOR || t > FEE_PER_CONTRACT_MAX_MINOR {
            return rej(
                C::InvalidFee,
                format!(
                    "fees must be at most {FEE_PER_CONTRACT_MAX_MINOR} minor units per contract"
                ),
            );
        }
        if t < 0 {
            return rej(C::InvalidFee, "the taker fee must not be negative");
        }
        if m + t < 0 {
            return rej(
                C::InvalidFee,
                "a maker rebate must not exceed the taker fee",
            );
        }
    }
    if c.cb_ticks.is_some() {
        let t = p.cb_ticks;
        if !(0..=PROTECTION_TICKS_MAX).contains(&t) {
            return rej(
                C::InvalidProtection,
                format!("circuit-breaker ticks must be 0 (off) to {PROTECTION_TICKS_MAX}"),
            );
        }
        if t > 0 && (inst.spec.cb_window_ns == 0 || inst.spec.cb_auction_ns == 0) {
            return rej(
                C::InvalidProtection,
                format!("{sym} has no circuit-breaker window or auction length to use"),
            );
        }
    }
    if c.market_protection_ticks.is_some() {
        let t = p.market_protection_ticks;
        if !(1..=PROTECTION_TICKS_MAX).contains(&t) {
            return rej(
                C::InvalidProtection,
                format!("market-protection ticks must be 1 to {PROTECTION_TICKS_MAX}"),
            );
        }
    }
    Ok(())
}

impl Engine {
    /// The operator's change of a product's parameters (see the module docs).
    pub(crate) fn set_product_params(
        &mut self,
        c: &ProductParamsChange,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        if c.is_empty() {
            return rej(C::NothingToChange, "the change names no parameter");
        }
        let live: Vec<usize> = self
            .st
            .instruments
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.delisted && i.spec.product == c.product)
            .map(|(ix, _)| ix)
            .collect();
        if live.is_empty() {
            return rej(
                C::UnknownProduct,
                format!("no listed month of product {:?}", c.product),
            );
        }
        for &ix in &live {
            let inst = &self.st.instruments[ix];
            check(inst, c, &c.applied(ProductParams::of(&inst.spec)))?;
        }
        // Validated: now change state.
        //
        // What is kept for later months is the change, with each checked pair (margins,
        // position limits, fees) kept whole as the first live month has it, so that a month
        // listed later cannot combine one new value with an old partner the pair was not
        // checked against.
        let first = c.applied(ProductParams::of(&self.st.instruments[live[0]].spec));
        let mut kept = c.clone();
        if c.initial_margin_bps.is_some() || c.maintenance_margin_bps.is_some() {
            kept.initial_margin_bps = Some(first.initial_margin_bps);
            kept.maintenance_margin_bps = Some(first.maintenance_margin_bps);
        }
        if c.position_limit_all_months.is_some() || c.position_limit_spot_month.is_some() {
            kept.position_limit_all_months = Some(first.position_limit_all_months);
            kept.position_limit_spot_month = Some(first.position_limit_spot_month);
        }
        if c.fee_maker_minor.is_some() || c.fee_taker_minor.is_some() {
            kept.fee_maker_minor = Some(first.fee_maker_minor);
            kept.fee_taker_minor = Some(first.fee_taker_minor);
        }
        self.st
            .product_overrides
            .entry(c.product.clone())
            .or_insert_with(|| ProductParamsChange::new(&c.product))
            .merge(&kept);

        // One event per distinct set of parameters now in force (one, unless the months
        // came from different versions of the products file), instruments in id order.
        let mut groups: Vec<(ProductParams, Vec<InstrumentId>)> = Vec::new();
        for ix in live {
            let inst = &mut self.st.instruments[ix];
            let p = c.applied(ProductParams::of(&inst.spec));
            apply_params(inst, c, &p);
            match groups.iter_mut().find(|(q, _)| *q == p) {
                Some((_, ids)) => ids.push(inst.spec.id),
                None => groups.push((p, vec![inst.spec.id])),
            }
        }
        for (params, instruments) in groups {
            out.push(Event::ProductParamsChanged {
                product: c.product.clone(),
                instruments,
                params,
            });
        }
        Ok(())
    }

    /// Puts the parameters kept for `spec`'s product (if any) into the spec of a month being
    /// listed; returns them when there were any.
    pub(crate) fn listing_params(
        &self,
        spec: &mut tokex_types::InstrumentSpec,
    ) -> Option<ProductParams> {
        let kept = self.st.product_overrides.get(&spec.product)?;
        let p = kept.applied(ProductParams::of(spec));
        p.apply_to(spec);
        Some(p)
    }

    /// The parameters the operator has changed for one product root, if any.
    pub fn product_override(&self, product: &str) -> Option<&ProductParamsChange> {
        self.st.product_overrides.get(product)
    }

    /// The parameters the operator has changed per product (product root → the values kept
    /// for months listed later), in root order.
    pub fn product_overrides(&self) -> impl Iterator<Item = &ProductParamsChange> {
        self.st.product_overrides.values()
    }
}

/// Puts `p` (which `c` produced) into one live instrument and recomputes what depends on it.
fn apply_params(inst: &mut InstrumentState, c: &ProductParamsChange, p: &ProductParams) {
    p.apply_to(&mut inst.spec);
    if c.price_limit_bps.is_some() {
        let bps = if inst.limit_locked {
            p.price_limit_bps + inst.spec.limit_widen_bps
        } else {
            p.price_limit_bps
        };
        inst.set_reference(inst.reference_price, bps);
    }
    if c.cb_ticks == Some(0) {
        inst.window.clear();
    }
}
