//! Worked examples, each written from the trading rules (SPEC §3) with the expected numbers
//! reasoned in comments. Every command runs through both the engine and the reference model
//! (so each example also checks that they agree), the engine's invariants are checked after
//! each command, and a rejected command must leave the state hash unchanged.
//!
//! Common set-up: instrument 0 (`resting` rule) and 1 (`shfe_median`), reference 1000, daily
//! limits ±10% = 900..=1100, market protection 10 ticks, maximum order 10,000 contracts.
//! Account 1 self-match mode cancel-resting, 2 cancel-aggressing, 3 cancel-both; 4 is a
//! second cancel-resting trader; 9 is an operator. Both instruments trading continuously.

use tokex_engine::{Command, Engine, NewOrder, Role, StpMode};
use tokex_testkit::script::{format_event, parse_line, parse_script};
use tokex_testkit::{trading_events, Pair, Quirks};
use tokex_types::limits::ORDERS_PER_ACCOUNT_MAX;
use tokex_types::{AccountId, Currency, InstrumentSpec, Money, Side, Timestamp};

const SETUP: &str = "
t=0 list 0 ref=1000
t=0 list 1 ref=1000 rule=shfe_median product=TEST2
t=0 account 1 stp=resting
t=0 account 2 stp=aggressing
t=0 account 3 stp=both
t=0 account 4 stp=resting
t=0 account 9 role=operator
t=0 deposit 1 USD 1000000000000
t=0 deposit 2 USD 1000000000000
t=0 deposit 3 USD 1000000000000
t=0 deposit 4 USD 1000000000000
t=0 phase 0 continuous
t=0 phase 1 continuous
";

struct Ex {
    p: Pair,
    t: u64,
}

impl Ex {
    fn new() -> Ex {
        Ex::with(SETUP, Quirks::default())
    }

    fn with(setup: &str, quirks: Quirks) -> Ex {
        let mut ex = Ex {
            p: Pair::with_quirks(quirks),
            t: 0,
        };
        ex.p.restore_every = 3;
        for l in parse_script(setup).expect("set-up parses") {
            ex.t = l.time.0;
            ex.p.must(ex.t, l.command);
        }
        ex
    }

    /// Runs one line of the text format; returns the answer and the trading events, one line
    /// each, in the golden text form.
    fn run(&mut self, line: &str) -> Vec<String> {
        let (t, cmd) = parse_line(line).expect("parses").expect("a command");
        if let Some(t) = t {
            self.t = t.0;
        }
        let o = self.p.must(self.t, cmd);
        let mut v = vec![match &o.result {
            Ok(()) => "ok".to_string(),
            Err(r) => format!("rejected {}", r.code.as_str()),
        }];
        v.extend(trading_events(&o.events).iter().map(format_event));
        v
    }

    /// Runs lines whose outcome the example does not inspect; each must be accepted.
    fn given(&mut self, lines: &str) {
        for l in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let r = self.run(l);
            assert_eq!(r[0], "ok", "{l}: {r:?}");
        }
    }

    fn trades(&mut self, line: &str) -> Vec<String> {
        self.run(line)
            .into_iter()
            .filter(|l| l.starts_with("trade"))
            .collect()
    }
}

// ----- the call auction ------------------------------------------------------------------

#[test]
fn auction_maximises_volume() {
    let mut ex = Ex::new();
    ex.given(
        "phase 0 preopen
         new acct=1 inst=0 buy limit 1002 x10
         new acct=2 inst=0 buy limit 1001 x10
         new acct=3 inst=0 sell limit 1000 x5
         new acct=4 inst=0 sell limit 1001 x10",
    );
    // Demand(p) = bids at or above p, supply(p) = asks at or below p:
    //   1000: demand 20, supply 5  → 5
    //   1001: demand 20, supply 15 → 15   ← maximum
    //   1002: demand 10, supply 15 → 10
    // At 1001 all bids above (1002) and asks below (1000) fill; at 1001 itself, time priority:
    // bid #1 (10) takes ask #3 (5) then 5 of ask #4; bid #2 takes the other 5 of #4.
    let r = ex.run("phase 0 continuous");
    assert_eq!(
        r,
        [
            "ok",
            "trade T1 inst=0 1001 x5 aggressor=auction buy=#1/a1 sell=#3/a3 maker=buy leaves=5/0",
            "trade T2 inst=0 1001 x5 aggressor=auction buy=#1/a1 sell=#4/a4 maker=buy leaves=0/5",
            "trade T3 inst=0 1001 x5 aggressor=auction buy=#2/a2 sell=#4/a4 maker=buy leaves=5/0",
            "uncrossed inst=0 px=1001 volume=15",
            "phase inst=0 continuous",
        ]
    );
}

#[test]
fn auction_ties_go_to_the_smallest_imbalance() {
    let mut ex = Ex::new();
    ex.given(
        "phase 0 preopen
         new acct=1 inst=0 buy limit 1004 x10
         new acct=2 inst=0 buy limit 1002 x2
         new acct=3 inst=0 sell limit 1001 x10",
    );
    //   1001: demand 12, supply 10 → 10, imbalance 2
    //   1002: demand 12, supply 10 → 10, imbalance 2
    //   1004: demand 10, supply 10 → 10, imbalance 0   ← same volume, smallest imbalance
    // (1001 is closest to the reference 1000, but imbalance comes first.)
    let r = ex.run("phase 0 continuous");
    assert!(
        r.contains(&"uncrossed inst=0 px=1004 volume=10".to_string()),
        "{r:?}"
    );
}

#[test]
fn auction_ties_then_go_closest_to_the_reference() {
    let mut ex = Ex::new();
    ex.given(
        "phase 0 preopen
         new acct=1 inst=0 buy limit 1006 x10
         new acct=3 inst=0 sell limit 999 x10",
    );
    // Every price from 999 to 1006 matches 10 with imbalance 0; the reference 1000 is among
    // them, so the auction prints at the reference itself.
    let r = ex.run("phase 0 continuous");
    assert!(
        r.contains(&"uncrossed inst=0 px=1000 volume=10".to_string()),
        "{r:?}"
    );
}

#[test]
fn auction_ties_outside_the_reference_go_to_the_nearest_end() {
    let mut ex = Ex::new();
    ex.given(
        "phase 0 preopen
         new acct=1 inst=0 buy limit 1010 x10
         new acct=3 inst=0 sell limit 1003 x10",
    );
    // 1003..=1010 all match 10 with imbalance 0; the reference 1000 lies below the range, so
    // its nearest end, 1003.
    let r = ex.run("phase 0 continuous");
    assert!(
        r.contains(&"uncrossed inst=0 px=1003 volume=10".to_string()),
        "{r:?}"
    );
}

#[test]
fn self_match_in_an_auction_cancels_the_later_order() {
    let mut ex = Ex::new();
    ex.given(
        "phase 0 preopen
         new acct=1 inst=0 sell limit 1000 x5
         new acct=1 inst=0 buy limit 1000 x5
         new acct=2 inst=0 buy limit 1000 x3",
    );
    // At 1000 the first pair is #2 (buy, account 1) against #1 (sell, account 1): the later
    // one, #2, is cancelled; #3 then trades 3 with #1.
    let r = ex.run("phase 0 continuous");
    assert_eq!(
        r[1..4],
        [
            "cancelled #2 acct=1 inst=0 qty=5 reason=self_match",
            "trade T1 inst=0 1000 x3 aggressor=auction buy=#3/a2 sell=#1/a1 maker=sell leaves=0/2",
            "uncrossed inst=0 px=1000 volume=3",
        ]
    );
}

// ----- trade price rules -----------------------------------------------------------------

#[test]
fn shfe_median_price_rule() {
    let mut ex = Ex::new();
    // No trade yet: the last price is the reference 1000.
    // Ask 1003 rests; a bid at 1007 arrives: median(buy 1007, sell 1003, last 1000) = 1003.
    ex.given("new acct=1 inst=1 sell limit 1003 x1");
    assert_eq!(
        ex.trades("new acct=2 inst=1 buy limit 1007 x1"),
        ["trade T1 inst=1 1003 x1 aggressor=buy buy=#2/a2 sell=#1/a1 maker=sell leaves=0/0"]
    );
    // Last 1003. Bid 1002 rests; a sell at 995 arrives: median(1002, 995, 1003) = 1002.
    ex.given("new acct=1 inst=1 buy limit 1002 x1");
    assert_eq!(
        ex.trades("new acct=2 inst=1 sell limit 995 x1")[0],
        "trade T2 inst=1 1002 x1 aggressor=sell buy=#3/a1 sell=#4/a2 maker=buy leaves=0/0"
    );
    // Last 1002. Ask 998 rests; a bid at 1001: median(1001, 998, 1002) = 1001 — the
    // aggressor's own limit, between the resting price and the last.
    ex.given("new acct=1 inst=1 sell limit 998 x1");
    assert_eq!(
        ex.trades("new acct=2 inst=1 buy limit 1001 x1")[0],
        "trade T3 inst=1 1001 x1 aggressor=buy buy=#6/a2 sell=#5/a1 maker=sell leaves=0/0"
    );
    // Last 1001. Ask 999 rests; a bid at 1005: median(1005, 999, 1001) = 1001, the last.
    ex.given("new acct=1 inst=1 sell limit 999 x1");
    assert_eq!(
        ex.trades("new acct=2 inst=1 buy limit 1005 x1")[0],
        "trade T4 inst=1 1001 x1 aggressor=buy buy=#8/a2 sell=#7/a1 maker=sell leaves=0/0"
    );
    // The same cross on the `resting` instrument prints at the resting price, 999.
    ex.given("new acct=1 inst=0 sell limit 999 x1");
    assert_eq!(
        ex.trades("new acct=2 inst=0 buy limit 1005 x1")[0],
        "trade T5 inst=0 999 x1 aggressor=buy buy=#10/a2 sell=#9/a1 maker=sell leaves=0/0"
    );
}

// ----- amend -----------------------------------------------------------------------------

#[test]
fn amend_down_keeps_priority_up_or_new_price_loses_it() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=1 inst=0 buy limit 1000 x10 cl=first
         new acct=4 inst=0 buy limit 1000 x10 cl=second",
    );
    // Quantity down at the same price: #1 keeps its place ahead of #2. The amended quantity
    // is the new remaining quantity.
    assert_eq!(
        ex.run("amend acct=1 inst=0 cl=first qty=4"),
        [
            "ok",
            "amended #1 acct=1 inst=0 px=1000 stop=- leaves=4 priority=kept"
        ]
    );
    // A sell of 5 takes #1's 4 first, then 1 from #2.
    assert_eq!(
        ex.trades("new acct=2 inst=0 sell limit 1000 x5"),
        [
            "trade T1 inst=0 1000 x4 aggressor=sell buy=#1/a1 sell=#3/a2 maker=buy leaves=0/1",
            "trade T2 inst=0 1000 x1 aggressor=sell buy=#2/a4 sell=#3/a2 maker=buy leaves=9/0",
        ]
    );
    // Quantity up: #2 (9 left) goes to the back, behind a new #4.
    ex.given("new acct=1 inst=0 buy limit 1000 x3");
    assert_eq!(
        ex.run("amend acct=4 inst=0 cl=second qty=12"),
        [
            "ok",
            "amended #2 acct=4 inst=0 px=1000 stop=- leaves=12 priority=lost",
            "rested #2 inst=0 buy 1000 visible=12 leaves=12",
        ]
    );
    assert_eq!(
        ex.trades("new acct=2 inst=0 sell limit 1000 x4"),
        [
            "trade T3 inst=0 1000 x3 aggressor=sell buy=#4/a1 sell=#5/a2 maker=buy leaves=0/1",
            "trade T4 inst=0 1000 x1 aggressor=sell buy=#2/a4 sell=#5/a2 maker=buy leaves=11/0",
        ]
    );
    // A price change loses priority too, even back to the same price later.
    ex.given(
        "new acct=1 inst=0 buy limit 1000 x2
         amend acct=4 inst=0 cl=second px=999
         amend acct=4 inst=0 cl=second px=1000",
    );
    assert_eq!(
        ex.trades("new acct=2 inst=0 sell limit 1000 x1"),
        ["trade T5 inst=0 1000 x1 aggressor=sell buy=#6/a1 sell=#7/a2 maker=buy leaves=1/0"]
    );
}

// ----- self-match prevention -------------------------------------------------------------

#[test]
fn stp_cancel_resting() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=1 inst=0 sell limit 1000 x2
         new acct=4 inst=0 sell limit 1001 x2",
    );
    // Account 1 buys 3 at 1001: its own ask #1 is cancelled, matching goes on with #2.
    assert_eq!(
        ex.run("new acct=1 inst=0 buy limit 1001 x3")[2..],
        [
            "cancelled #1 acct=1 inst=0 qty=2 reason=self_match",
            "trade T1 inst=0 1001 x2 aggressor=buy buy=#3/a1 sell=#2/a4 maker=sell leaves=1/0",
            "rested #3 inst=0 buy 1001 visible=1 leaves=1",
        ]
    );
}

#[test]
fn stp_cancel_aggressing() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=4 inst=0 sell limit 1000 x1
         new acct=2 inst=0 sell limit 1000 x2",
    );
    // Account 2 buys 3: 1 from #1, then its own #2 is next: the rest of the incoming (2) is
    // cancelled, #2 stays.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x3")[2..],
        [
            "trade T1 inst=0 1000 x1 aggressor=buy buy=#3/a2 sell=#1/a4 maker=sell leaves=2/0",
            "cancelled #3 acct=2 inst=0 qty=2 reason=self_match",
        ]
    );
    assert_eq!(
        ex.p.engine
            .instrument(tokex_types::InstrumentId(0))
            .unwrap()
            .book
            .len(),
        1
    );
}

#[test]
fn stp_cancel_both() {
    let mut ex = Ex::new();
    ex.given("new acct=3 inst=0 sell limit 1000 x2");
    assert_eq!(
        ex.run("new acct=3 inst=0 buy limit 1000 x3")[2..],
        [
            "cancelled #1 acct=3 inst=0 qty=2 reason=self_match",
            "cancelled #2 acct=3 inst=0 qty=3 reason=self_match",
        ]
    );
}

#[test]
fn stp_mode_can_be_set_per_order() {
    let mut ex = Ex::new();
    ex.given("new acct=1 inst=0 sell limit 1000 x2");
    // Account 1 defaults to cancel-resting; this order asks for cancel-aggressing.
    assert_eq!(
        ex.run("new acct=1 inst=0 buy limit 1000 x3 stp=aggressing")[2..],
        ["cancelled #2 acct=1 inst=0 qty=3 reason=self_match"]
    );
}

#[test]
fn amend_keeps_the_orders_own_self_match_mode() {
    let mut ex = Ex::new();
    // Account 3 (cancel-both) rests a sell at 1004 asking for cancel-resting, and a buy 1002.
    ex.given(
        "new acct=3 inst=0 sell limit 1004 x1 cl=s stp=resting
         new acct=3 inst=0 buy limit 1002 x1",
    );
    // Re-pricing the sell to 994 crosses its own bid: under the order's cancel-resting, the
    // bid is cancelled and the sell rests at 994. The engine uses the account's cancel-both
    // and cancels the sell as well.
    assert_eq!(
        ex.run("amend acct=3 inst=0 cl=s px=994")[2..],
        [
            "cancelled #2 acct=3 inst=0 qty=1 reason=self_match",
            "rested #1 inst=0 sell 994 visible=1 leaves=1",
        ]
    );
}

// ----- FOK, FAK with a minimum quantity ---------------------------------------------------

#[test]
fn fok_fills_entirely_or_not_at_all() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=1 inst=0 sell limit 1000 x3
         new acct=4 inst=0 sell limit 1001 x3",
    );
    // 6 available up to 1001: a FOK for 7 is cancelled whole, nothing trades.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1001 x7 fok")[2..],
        ["cancelled #3 acct=2 inst=0 qty=7 reason=unfilled"]
    );
    // A FOK for 6 fills at 1000 then 1001.
    assert_eq!(
        ex.trades("new acct=2 inst=0 buy limit 1001 x6 fok").len(),
        2
    );
}

#[test]
fn fak_with_minimum_quantity() {
    let mut ex = Ex::new();
    ex.given("new acct=1 inst=0 sell limit 1000 x3");
    // Minimum 4 but only 3 available: nothing trades.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x5 ioc min=4")[2..],
        ["cancelled #2 acct=2 inst=0 qty=5 reason=unfilled"]
    );
    // Minimum 2: the 3 available trade, the other 2 are cancelled.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x5 ioc min=2")[2..],
        [
            "trade T1 inst=0 1000 x3 aggressor=buy buy=#3/a2 sell=#1/a1 maker=sell leaves=2/0",
            "cancelled #3 acct=2 inst=0 qty=2 reason=unfilled",
        ]
    );
}

/// Regression: the FOK / minimum-quantity check counted an iceberg's hidden quantity even
/// when the matching would stop at a self-match before reaching the refilled slice.
#[test]
fn fok_counts_an_iceberg_only_as_far_as_matching_reaches() {
    let mut ex = Ex::new();
    // Account 1's iceberg shows 2 of 10 at 1000; account 2 (cancel-aggressing) rests 5 at
    // 1000 behind it.
    ex.given(
        "new acct=1 inst=0 sell limit 1000 x10 display=2
         new acct=2 inst=0 sell limit 1000 x5",
    );
    // Account 2 buys FOK 10: matching would take the slice of 2, the iceberg refills behind
    // #2, and #2 is account 2's own → matching stops at 2. So the FOK must not trade at all.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x10 fok")[2..],
        ["cancelled #3 acct=2 inst=0 qty=10 reason=unfilled"]
    );
    // Same with a minimum quantity of 3: only 2 reachable → nothing.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x10 ioc min=3")[2..],
        ["cancelled #4 acct=2 inst=0 qty=10 reason=unfilled"]
    );
}

// ----- stops -----------------------------------------------------------------------------

#[test]
fn stop_orders_trigger_on_the_last_trade_price_and_cascade() {
    let mut ex = Ex::new();
    // A buy stop must be above the last price (here the reference 1000).
    assert_eq!(
        ex.run("new acct=1 inst=0 buy stop-limit 1010 x1 stop=1000")[0],
        "rejected STOP_WOULD_TRIGGER"
    );
    ex.given(
        "new acct=4 inst=0 sell limit 1002 x1
         new acct=4 inst=0 sell limit 1004 x1
         new acct=4 inst=0 sell limit 1006 x5
         new acct=1 inst=0 buy stop-market x1 stop=1002
         new acct=2 inst=0 buy stop-limit 1006 x2 stop=1004",
    );
    // A trade at 1002 reaches stop #4 (≤ 1002): it enters as a market buy (limit 1004 + 10)
    // and takes 1004. The last price 1004 now reaches #5, a limit buy at 1006 for 2.
    assert_eq!(
        ex.run("new acct=3 inst=0 buy limit 1002 x1")[2..],
        [
            "trade T1 inst=0 1002 x1 aggressor=buy buy=#6/a3 sell=#1/a4 maker=sell leaves=0/0",
            "stop-triggered #4 inst=0 last=1002",
            "trade T2 inst=0 1004 x1 aggressor=buy buy=#4/a1 sell=#2/a4 maker=sell leaves=0/0",
            "stop-triggered #5 inst=0 last=1004",
            "trade T3 inst=0 1006 x2 aggressor=buy buy=#5/a2 sell=#3/a4 maker=sell leaves=0/3",
        ]
    );
}

#[test]
fn triggered_stops_are_released_in_order_of_entry() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=4 inst=0 sell limit 1001 x1
         new acct=4 inst=0 sell limit 1003 x10
         new acct=1 inst=0 buy stop-limit 1003 x1 stop=1001
         new acct=2 inst=0 buy stop-limit 1003 x1 stop=1001",
    );
    // Both stops are reached by the trade at 1001: #3 first, then #4 (order id order).
    let r = ex.run("new acct=3 inst=0 buy limit 1001 x1");
    let stops: Vec<_> = r.iter().filter(|l| l.starts_with("stop")).collect();
    assert_eq!(
        stops,
        [
            "stop-triggered #3 inst=0 last=1001",
            "stop-triggered #4 inst=0 last=1003"
        ]
    );
}

// ----- iceberg ---------------------------------------------------------------------------

#[test]
fn iceberg_refills_at_the_back_of_the_queue() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=1 inst=0 sell limit 1000 x5 display=2
         new acct=4 inst=0 sell limit 1000 x3",
    );
    // A buy of 4: 2 from the iceberg's slice (it refills 2 and goes behind #2), then 2 from #2.
    assert_eq!(
        ex.run("new acct=2 inst=0 buy limit 1000 x4")[2..],
        [
            "trade T1 inst=0 1000 x2 aggressor=buy buy=#3/a2 sell=#1/a1 maker=sell leaves=2/3",
            "rested #1 inst=0 sell 1000 visible=2 leaves=3",
            "trade T2 inst=0 1000 x2 aggressor=buy buy=#3/a2 sell=#2/a4 maker=sell leaves=0/1",
        ]
    );
}

// ----- protections -----------------------------------------------------------------------

#[test]
fn prices_outside_the_daily_limits_are_rejected() {
    let mut ex = Ex::new();
    // Limits: 1000 × (1 ± 10%) = 900..=1100.
    assert_eq!(
        ex.run("new acct=1 inst=0 buy limit 899 x1")[0],
        "rejected PRICE_OUTSIDE_LIMITS"
    );
    assert_eq!(
        ex.run("new acct=1 inst=0 sell limit 1101 x1")[0],
        "rejected PRICE_OUTSIDE_LIMITS"
    );
    assert_eq!(ex.run("new acct=1 inst=0 buy limit 900 x1")[0], "ok");
    assert_eq!(ex.run("new acct=1 inst=0 sell limit 1100 x1")[0], "ok");
    assert_eq!(
        ex.run("new acct=1 inst=0 sell limit 1100 x10001")[0],
        "rejected ORDER_TOO_LARGE"
    );
}

#[test]
fn market_orders_are_protected() {
    let mut ex = Ex::new();
    ex.given(
        "new acct=4 inst=0 sell limit 1000 x1
         new acct=4 inst=0 sell limit 1010 x1
         new acct=4 inst=0 sell limit 1011 x1",
    );
    // Best ask 1000, protection 10 ticks: the market buy becomes a limit at 1010. It takes
    // 1000 and 1010; 1011 is beyond the protection, the remaining 1 is cancelled.
    assert_eq!(
        ex.run("new acct=1 inst=0 buy market x3")[2..],
        [
            "trade T1 inst=0 1000 x1 aggressor=buy buy=#4/a1 sell=#1/a4 maker=sell leaves=2/0",
            "trade T2 inst=0 1010 x1 aggressor=buy buy=#4/a1 sell=#2/a4 maker=sell leaves=1/0",
            "cancelled #4 acct=1 inst=0 qty=1 reason=unfilled",
        ]
    );
    // With nothing on the other side a market order is cancelled at once.
    assert_eq!(
        ex.run("new acct=1 inst=0 sell market x1")[2..],
        ["cancelled #5 acct=1 inst=0 qty=1 reason=unfilled"]
    );
}

#[test]
fn circuit_breaker_trips_and_an_auction_follows() {
    // Breaker: more than 5 ticks within 1 s → a 2 s pre-open auction.
    let setup =
        format!("{SETUP}\nt=0 list 2 ref=1000 cb=5/1000000000/2000000000\nt=0 phase 2 continuous");
    let mut ex = Ex::with(&setup, Quirks::default());
    ex.given(
        "t=1000 new acct=4 inst=2 sell limit 1000 x1
         new acct=4 inst=2 sell limit 1005 x1
         new acct=4 inst=2 sell limit 1006 x1",
    );
    // A buy at 1006 for 3: 1000 (range 0), 1005 (range 5, not more than 5), 1006 would make
    // the range 6 > 5: the breaker trips before that trade; the rest (1) rests in the auction.
    assert_eq!(
        ex.run("new acct=1 inst=2 buy limit 1006 x3")[2..],
        [
            "trade T1 inst=2 1000 x1 aggressor=buy buy=#4/a1 sell=#1/a4 maker=sell leaves=2/0",
            "trade T2 inst=2 1005 x1 aggressor=buy buy=#4/a1 sell=#2/a4 maker=sell leaves=1/0",
            "breaker inst=2 px=1006 until=2000001000",
            "phase inst=2 preopen until=2000001000",
            "rested #4 inst=2 buy 1006 visible=1 leaves=1",
        ]
    );
    // During the auction: no IOC, limit orders rest.
    assert_eq!(
        ex.run("new acct=2 inst=2 buy limit 1006 x1 ioc")[0],
        "rejected NOT_ALLOWED_IN_AUCTION"
    );
    // When the auction time has passed the next command uncrosses first: #4 (1006) against
    // #3 (1006) at 1006, then continuous trading.
    assert_eq!(
        ex.run("t=2000001000 tick")[1..],
        [
            "trade T3 inst=2 1006 x1 aggressor=auction buy=#4/a1 sell=#3/a4 maker=sell leaves=0/0",
            "uncrossed inst=2 px=1006 volume=1",
            "phase inst=2 continuous",
        ]
    );
}

// ----- time in force ---------------------------------------------------------------------

#[test]
fn gtd_expires_at_its_time_and_gfd_at_the_end_of_the_day() {
    let mut ex = Ex::new();
    ex.given(
        "t=1000 new acct=1 inst=0 buy limit 990 x1 gtd=5000
         new acct=1 inst=0 buy limit 991 x1 gfd
         new acct=1 inst=0 buy limit 992 x1 gtc",
    );
    assert_eq!(ex.run("t=4999 tick"), ["ok"]);
    assert_eq!(
        ex.run("t=5000 tick"),
        ["ok", "cancelled #1 acct=1 inst=0 qty=1 reason=expired"]
    );
    assert_eq!(
        ex.run("eod 0"),
        ["ok", "cancelled #2 acct=1 inst=0 qty=1 reason=expired"]
    );
    assert_eq!(
        ex.p.engine
            .instrument(tokex_types::InstrumentId(0))
            .unwrap()
            .book
            .len(),
        1
    );
}

#[test]
fn duplicate_client_order_id_is_rejected_never_executed_twice() {
    let mut ex = Ex::new();
    ex.given("new acct=4 inst=0 sell limit 1000 x10");
    assert_eq!(
        ex.trades("new acct=1 inst=0 buy limit 1000 x1 ioc cl=once")
            .len(),
        1
    );
    // Same id again, same day: rejected even though the first order is finished.
    assert_eq!(
        ex.run("new acct=1 inst=0 buy limit 1000 x1 ioc cl=once"),
        ["rejected DUPLICATE_CLIENT_ORDER_ID"]
    );
    // Another account may use it.
    assert_eq!(
        ex.trades("new acct=2 inst=0 buy limit 1000 x1 ioc cl=once")
            .len(),
        1
    );
    // After the end of the trading day it is free again.
    ex.given("eod 0");
    assert_eq!(
        ex.trades("new acct=1 inst=0 buy limit 1000 x1 ioc cl=once")
            .len(),
        1
    );
}

// ----- rejects change nothing --------------------------------------------------------------

/// One case per reject code the trading core produces; `Pair` checks that each left the
/// state hash unchanged (and that the model rejects with the same code).
#[test]
fn every_trading_reject_leaves_the_state_unchanged() {
    let mut ex = Ex::new();
    ex.given(
        "t=10 tick
         new acct=1 inst=0 sell limit 1005 x5 cl=mine
         new acct=1 inst=0 buy stop-limit 1010 x2 stop=1008
         new acct=1 inst=0 buy limit 995 x5 post",
    );
    let cases = [
        ("new acct=77 inst=0 buy limit 1000 x1", "UNKNOWN_ACCOUNT"),
        ("account 1", "ACCOUNT_EXISTS"),
        ("new acct=1 inst=7 buy limit 1000 x1", "UNKNOWN_INSTRUMENT"),
        ("list 5 ref=1000", "INSTRUMENT_ID_MISMATCH"),
        ("list 2 ref=0", "INVALID_PRICE"),
        ("cancel acct=1 inst=0 id=99", "UNKNOWN_ORDER"),
        ("cancel acct=1 inst=0 cl=nope", "UNKNOWN_ORDER"),
        ("cancel acct=2 inst=0 id=1", "NOT_YOUR_ORDER"),
        (
            "new acct=9 inst=0 buy limit 1000 x1",
            "ACCOUNT_ROLE_CANNOT_TRADE",
        ),
        ("new acct=1 inst=0 buy limit 1000 x0", "INVALID_QUANTITY"),
        ("new acct=1 inst=0 buy limit 1000 x10001", "ORDER_TOO_LARGE"),
        ("new acct=1 inst=0 buy limit 0 x1", "INVALID_PRICE"),
        (
            "new acct=1 inst=0 buy limit 1200 x1",
            "PRICE_OUTSIDE_LIMITS",
        ),
        (
            "new acct=1 inst=0 buy market x1 gtc",
            "INVALID_TIME_IN_FORCE",
        ),
        (
            "new acct=1 inst=0 buy stop-limit 1010 x1 ioc stop=1008",
            "INVALID_TIME_IN_FORCE",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x5 fok min=2",
            "INVALID_MIN_QTY",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x5 ioc min=6",
            "INVALID_MIN_QTY",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x5 display=5",
            "INVALID_DISPLAY_QTY",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x5 ioc post",
            "INVALID_POST_ONLY",
        ),
        (
            "new acct=1 inst=0 buy limit 1005 x5 post",
            "POST_ONLY_WOULD_TRADE",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x5 stop=1010",
            "INVALID_STOP_PRICE",
        ),
        (
            "new acct=1 inst=0 buy stop-market x5 stop=1200",
            "INVALID_STOP_PRICE",
        ),
        (
            "new acct=1 inst=0 sell stop-market x5 stop=1001",
            "STOP_WOULD_TRIGGER",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x1 gtd=1",
            "EXPIRY_IN_PAST",
        ),
        (
            "new acct=1 inst=0 buy limit 1000 x1 cl=mine",
            "DUPLICATE_CLIENT_ORDER_ID",
        ),
        ("amend acct=1 inst=0 cl=mine px=1005", "NOTHING_TO_CHANGE"),
        ("amend acct=1 inst=0 id=3 px=1005", "POST_ONLY_WOULD_TRADE"),
        ("amend acct=1 inst=0 id=2 stop=1000", "STOP_WOULD_TRIGGER"),
        ("amend acct=1 inst=0 id=1 qty=0", "INVALID_QUANTITY"),
        ("phase 0 continuous", "INVALID_PHASE_CHANGE"),
        ("resume 0 auction=0", "NOT_HALTED"),
    ];
    for (line, code) in cases {
        assert_eq!(ex.run(line), [format!("rejected {code}")], "{line}");
    }
    ex.given("phase 0 preopen");
    assert_eq!(
        ex.run("new acct=1 inst=0 buy market x1"),
        ["rejected NOT_ALLOWED_IN_AUCTION"]
    );
    ex.given("phase 0 break");
    assert_eq!(
        ex.run("new acct=1 inst=0 buy limit 1000 x1"),
        ["rejected MARKET_CLOSED"]
    );
    assert_eq!(
        ex.run("amend acct=1 inst=0 id=1 qty=1"),
        ["rejected MARKET_CLOSED"]
    );
    ex.given("halt 0");
    assert_eq!(ex.run("halt 0"), ["rejected INVALID_PHASE_CHANGE"]);
    assert_eq!(
        ex.run("phase 0 continuous"),
        ["rejected INVALID_PHASE_CHANGE"]
    );
}

/// `TOO_MANY_ORDERS`, straight on the engine (ten thousand orders are too slow for the
/// model's linear scans with a hash check after each).
#[test]
fn too_many_working_orders_is_rejected_without_changing_anything() {
    let mut e = Engine::new();
    let mut spec = InstrumentSpec::for_tests(0, 1000);
    spec.order_qty_max = tokex_types::Qty(10);
    let cmds = [
        Command::ListInstrument(Box::new(spec)),
        Command::CreateAccount {
            account: AccountId(1),
            role: Role::Trader,
            stp: StpMode::default(),
        },
        Command::Deposit {
            account: AccountId(1),
            currency: Currency::Usd,
            amount: Money(i64::MAX / 4),
        },
        Command::SetPhase {
            instrument: tokex_types::InstrumentId(0),
            phase: tokex_engine::Phase::Continuous,
        },
    ];
    for (i, c) in cmds.iter().enumerate() {
        assert!(e.apply(i as u64, Timestamp(0), c).result.is_ok());
    }
    for k in 0..ORDERS_PER_ACCOUNT_MAX as u64 {
        let o = NewOrder::limit(1, 0, Side::Buy, 901 + (k % 50) as i64, 1);
        let r = e.apply(10 + k, Timestamp(0), &Command::NewOrder(o));
        assert!(r.result.is_ok(), "order {k}: {:?}", r.result);
    }
    let h = e.state_hash();
    let r = e.apply(
        1,
        Timestamp(0),
        &Command::NewOrder(NewOrder::limit(1, 0, Side::Buy, 950, 1)),
    );
    assert_eq!(
        r.result.unwrap_err().code,
        tokex_engine::RejectCode::TooManyOrders
    );
    assert_eq!(e.state_hash(), h);
    e.check_invariants().unwrap();
}
