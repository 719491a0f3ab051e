//! Pre-trade risk and post-trade clearing hooks called by matching.
//!
//! The seam between the trading core and clearing: every order passes
//! [`Engine::pre_trade_check`] before it can reach the book, and every trade is reported to
//! [`Engine::on_trade`].

use crate::engine::Engine;
use crate::event::Reject;
use tokex_types::{AccountId, InstrumentId, Price, Qty, Side};

impl Engine {
    /// Checks a new order against the account's margin and limits. Must not change state.
    pub(crate) fn pre_trade_check(
        &self,
        _account: AccountId,
        _instrument: InstrumentId,
        _side: Side,
        _qty: Qty,
        _price: Option<Price>,
    ) -> Result<(), Reject> {
        Ok(())
    }

    /// Checks an amendment that increases exposure (quantity up or a new price).
    pub(crate) fn pre_trade_check_amend(
        &self,
        _account: AccountId,
        _instrument: InstrumentId,
        _side: Side,
        _old_leaves: Qty,
        _new_leaves: Qty,
        _price: Price,
    ) -> Result<(), Reject> {
        Ok(())
    }

    /// Books a trade into positions. `maker_side` is `None` in an auction.
    pub(crate) fn on_trade(
        &mut self,
        _ix: usize,
        _price: Price,
        _qty: Qty,
        _buy: AccountId,
        _sell: AccountId,
        _maker_side: Option<Side>,
    ) {
    }
}
