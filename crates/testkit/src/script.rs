//! A small, human-readable text format for command logs, and a stable text form of events.
//!
//! One command per line; `#` starts a comment; blank lines are ignored. A line may start with
//! `t=<nanoseconds>`, the time the sequencer stamps on it; without it the command takes the
//! time of the previous line (0 at the start). Words are separated by spaces; options are
//! `key=value` and may come in any order.
//!
//! ```text
//! account <id> [role=trader|market_maker|operator|insurance_fund] [stp=resting|aggressing|both]
//! deposit <account> <USD|CNY> <amount in minor units>
//! list <id> ref=<ticks> [symbol=S] [product=P] [rule=resting|shfe_median] [limit_bps=N]
//!      [max_qty=N] [protect=<ticks>] [cb=<ticks>/<window ns>/<auction ns>]
//! phase <instrument> closed|preopen|continuous|break
//! halt <instrument>
//! resume <instrument> auction=<ns>
//! eod <instrument>                      # end of the trading day
//! tick                                  # let time pass
//! new acct=<a> inst=<i> buy|sell <type> x<qty> [gfd|gtc|gtd=<ns>|ioc|fok]
//!     [cl=<client id>] [min=<qty>] [display=<qty>] [post] [stp=resting|aggressing|both]
//!   <type>: limit <price> | market | stop-limit <price> stop=<price> | stop-market stop=<price>
//!   (the time in force defaults to gtc, or ioc for a market order)
//! amend acct=<a> inst=<i> id=<order id>|cl=<client id> [px=<price>] [qty=<qty>] [stop=<price>]
//! cancel acct=<a> inst=<i> id=<order id>|cl=<client id>
//! mass [acct=<a>] [inst=<i>] [product=<p>] [side=buy|sell]
//! ```
//!
//! For example: `t=1000 new acct=1 inst=0 buy limit 1001 x5 gtc cl=abc`. Prices are in ticks,
//! quantities in contracts, times in nanoseconds. Client order ids cannot contain spaces or
//! `=` here. [`format_command`] writes a command back in this form (`parse_line` of its output
//! gives the same command); [`format_event`] writes one event per line in a stable form.

use tokex_engine::{
    Amend, Cancel, CancelReason, Command, Event, MassCancel, NewOrder, OrderRef, OrderType, Phase,
    Role, StpMode, TimeInForce,
};
use tokex_types::{
    AccountId, ClientOrderId, Currency, InstrumentId, InstrumentSpec, Money, OrderId, Price, Qty,
    Side, Timestamp, TradePriceRule,
};

/// A parse error with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One parsed line: the time it is stamped with and the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub line: usize,
    pub time: Timestamp,
    pub command: Command,
}

/// Parses a whole log. Times must not go backwards.
pub fn parse_script(text: &str) -> Result<Vec<Line>, ParseError> {
    let mut out = Vec::new();
    let mut time = Timestamp(0);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let err = |message: String| ParseError { line: n, message };
        let Some((t, command)) = parse_line(raw).map_err(err)? else {
            continue;
        };
        if let Some(t) = t {
            if t < time {
                return Err(err(format!("time goes backwards ({} < {})", t.0, time.0)));
            }
            time = t;
        }
        out.push(Line {
            line: n,
            time,
            command,
        });
    }
    Ok(out)
}

/// Parses one line: `Ok(None)` for a blank line or a comment; otherwise the optional time
/// and the command.
pub fn parse_line(raw: &str) -> Result<Option<(Option<Timestamp>, Command)>, String> {
    let text = raw.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut time = None;
    if let Some(t) = words[0].strip_prefix("t=") {
        time = Some(Timestamp(num(t, "time")?));
        words.remove(0);
    }
    let Some((&verb, rest)) = words.split_first() else {
        return Err("a time but no command".into());
    };
    let mut a = Args::new(rest);
    let cmd = match verb {
        "account" => {
            let account = AccountId(num(a.positional("account id")?, "account id")?);
            let role = match a.opt("role") {
                None | Some("trader") => Role::Trader,
                Some("market_maker") => Role::MarketMaker,
                Some("operator") => Role::Operator,
                Some("insurance_fund") => Role::InsuranceFund,
                Some(r) => return Err(format!("unknown role {r:?}")),
            };
            let stp = match a.opt("stp") {
                None => StpMode::default(),
                Some(s) => stp_of(s)?,
            };
            Command::CreateAccount { account, role, stp }
        }
        "deposit" => {
            let account = AccountId(num(a.positional("account")?, "account")?);
            let c = a.positional("currency")?;
            let currency = Currency::parse(c).ok_or(format!("unknown currency {c:?}"))?;
            let amount = Money(num(a.positional("amount")?, "amount")?);
            Command::Deposit {
                account,
                currency,
                amount,
            }
        }
        "list" => {
            let id: u32 = num(a.positional("instrument id")?, "instrument id")?;
            let reference: i64 = num(a.req("ref")?, "ref")?;
            let mut s = InstrumentSpec::for_tests(id, reference);
            if let Some(v) = a.opt("symbol") {
                s.symbol = v.to_string();
            }
            if let Some(v) = a.opt("product") {
                s.product = v.to_string();
            }
            if let Some(v) = a.opt("rule") {
                s.trade_price_rule = match v {
                    "resting" => TradePriceRule::Resting,
                    "shfe_median" => TradePriceRule::ShfeMedian,
                    _ => return Err(format!("unknown trade price rule {v:?}")),
                };
            }
            if let Some(v) = a.opt("limit_bps") {
                s.price_limit_bps = num(v, "limit_bps")?;
            }
            if let Some(v) = a.opt("max_qty") {
                s.order_qty_max = Qty(num(v, "max_qty")?);
            }
            if let Some(v) = a.opt("protect") {
                s.market_protection_ticks = num(v, "protect")?;
            }
            if let Some(v) = a.opt("cb") {
                let p: Vec<&str> = v.split('/').collect();
                if p.len() != 3 {
                    return Err("cb=<ticks>/<window ns>/<auction ns>".into());
                }
                s.cb_ticks = num(p[0], "cb ticks")?;
                s.cb_window_ns = num(p[1], "cb window")?;
                s.cb_auction_ns = num(p[2], "cb auction")?;
            }
            Command::ListInstrument(Box::new(s))
        }
        "phase" => {
            let instrument = inst_of(a.positional("instrument")?)?;
            let phase = match a.positional("phase")? {
                "closed" => Phase::Closed,
                "preopen" => Phase::PreOpen,
                "continuous" => Phase::Continuous,
                "break" => Phase::Break,
                "halted" => Phase::Halted,
                p => return Err(format!("unknown phase {p:?}")),
            };
            Command::SetPhase { instrument, phase }
        }
        "halt" => Command::Halt {
            instrument: inst_of(a.positional("instrument")?)?,
        },
        "resume" => Command::Resume {
            instrument: inst_of(a.positional("instrument")?)?,
            auction_ns: num(a.req("auction")?, "auction")?,
        },
        "eod" => Command::EndTradingDay {
            instrument: inst_of(a.positional("instrument")?)?,
        },
        "tick" => Command::Tick,
        "new" => Command::NewOrder(parse_new(&mut a)?),
        "amend" => Command::Amend(Amend {
            account: AccountId(num(a.req("acct")?, "acct")?),
            instrument: InstrumentId(num(a.req("inst")?, "inst")?),
            order: order_ref(&mut a)?,
            price: a.opt("px").map(|v| num(v, "px").map(Price)).transpose()?,
            qty: a.opt("qty").map(|v| num(v, "qty").map(Qty)).transpose()?,
            stop_price: a
                .opt("stop")
                .map(|v| num(v, "stop").map(Price))
                .transpose()?,
        }),
        "cancel" => Command::Cancel(Cancel {
            account: AccountId(num(a.req("acct")?, "acct")?),
            instrument: InstrumentId(num(a.req("inst")?, "inst")?),
            order: order_ref(&mut a)?,
        }),
        "mass" => Command::MassCancel(MassCancel {
            account: a
                .opt("acct")
                .map(|v| num(v, "acct").map(AccountId))
                .transpose()?,
            instrument: a
                .opt("inst")
                .map(|v| num(v, "inst").map(InstrumentId))
                .transpose()?,
            product: a.opt("product").map(str::to_string),
            side: a.opt("side").map(side_of).transpose()?,
        }),
        v => return Err(format!("unknown command {v:?}")),
    };
    a.finish()?;
    Ok(Some((time, cmd)))
}

fn parse_new(a: &mut Args) -> Result<NewOrder, String> {
    let account = AccountId(num(a.req("acct")?, "acct")?);
    let instrument = InstrumentId(num(a.req("inst")?, "inst")?);
    let side = side_of(a.positional("side")?)?;
    let (order_type, price) = match a.positional("order type")? {
        "limit" => (
            OrderType::Limit,
            Some(Price(num(a.positional("price")?, "price")?)),
        ),
        "market" => (OrderType::Market, None),
        "stop-limit" => (
            OrderType::StopLimit,
            Some(Price(num(a.positional("price")?, "price")?)),
        ),
        "stop-market" => (OrderType::StopMarket, None),
        t => return Err(format!("unknown order type {t:?}")),
    };
    let q = a.positional("quantity")?;
    let qty = Qty(num(
        q.strip_prefix('x')
            .ok_or(format!("quantity {q:?} must be x<n>"))?,
        "quantity",
    )?);
    let mut tif = if order_type == OrderType::Market {
        TimeInForce::Ioc
    } else {
        TimeInForce::Gtc
    };
    let mut post_only = false;
    while let Some(w) = a.next_flag() {
        match w {
            "gfd" => tif = TimeInForce::Gfd,
            "gtc" => tif = TimeInForce::Gtc,
            "ioc" => tif = TimeInForce::Ioc,
            "fok" => tif = TimeInForce::Fok,
            "post" => post_only = true,
            f => return Err(format!("unknown word {f:?}")),
        }
    }
    if let Some(t) = a.opt("gtd") {
        tif = TimeInForce::Gtd(Timestamp(num(t, "gtd")?));
    }
    let client_order_id = a
        .opt("cl")
        .map(|c| ClientOrderId::new(c).ok_or(format!("bad client order id {c:?}")))
        .transpose()?;
    Ok(NewOrder {
        account,
        instrument,
        client_order_id,
        side,
        order_type,
        price,
        stop_price: a
            .opt("stop")
            .map(|v| num(v, "stop").map(Price))
            .transpose()?,
        qty,
        tif,
        min_qty: a.opt("min").map(|v| num(v, "min").map(Qty)).transpose()?,
        display_qty: a
            .opt("display")
            .map(|v| num(v, "display").map(Qty))
            .transpose()?,
        post_only,
        stp: a.opt("stp").map(stp_of).transpose()?,
    })
}

fn order_ref(a: &mut Args) -> Result<OrderRef, String> {
    match (a.opt("id"), a.opt("cl")) {
        (Some(id), None) => Ok(OrderRef::Id(OrderId(num(id, "id")?))),
        (None, Some(c)) => ClientOrderId::new(c)
            .map(OrderRef::Client)
            .ok_or(format!("bad client order id {c:?}")),
        _ => Err("give the order as id=<n> or cl=<client id>".into()),
    }
}

/// Words of a line after the verb: positional words in order, `key=value` options, flags.
struct Args<'a> {
    positional: Vec<&'a str>,
    next: usize,
    options: Vec<(&'a str, &'a str, bool)>,
}

impl<'a> Args<'a> {
    fn new(words: &[&'a str]) -> Args<'a> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => options.push((k, v, false)),
                None => positional.push(*w),
            }
        }
        Args {
            positional,
            next: 0,
            options,
        }
    }
    fn positional(&mut self, what: &str) -> Result<&'a str, String> {
        let w = self
            .positional
            .get(self.next)
            .ok_or(format!("missing {what}"))?;
        self.next += 1;
        Ok(w)
    }
    fn next_flag(&mut self) -> Option<&'a str> {
        let w = self.positional.get(self.next)?;
        self.next += 1;
        Some(w)
    }
    fn opt(&mut self, key: &str) -> Option<&'a str> {
        let o = self.options.iter_mut().find(|o| o.0 == key)?;
        o.2 = true;
        Some(o.1)
    }
    fn req(&mut self, key: &str) -> Result<&'a str, String> {
        self.opt(key).ok_or(format!("missing {key}=…"))
    }
    fn finish(&self) -> Result<(), String> {
        if let Some(w) = self.positional.get(self.next) {
            return Err(format!("unexpected word {w:?}"));
        }
        if let Some(o) = self.options.iter().find(|o| !o.2) {
            return Err(format!("unknown option {}=", o.0));
        }
        Ok(())
    }
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

fn inst_of(s: &str) -> Result<InstrumentId, String> {
    num(s, "instrument").map(InstrumentId)
}

fn side_of(s: &str) -> Result<Side, String> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(format!("expected buy or sell, not {s:?}")),
    }
}

fn stp_of(s: &str) -> Result<StpMode, String> {
    match s {
        "resting" => Ok(StpMode::CancelResting),
        "aggressing" => Ok(StpMode::CancelAggressing),
        "both" => Ok(StpMode::CancelBoth),
        _ => Err(format!("unknown self-match mode {s:?}")),
    }
}

fn stp_str(s: StpMode) -> &'static str {
    match s {
        StpMode::CancelResting => "resting",
        StpMode::CancelAggressing => "aggressing",
        StpMode::CancelBoth => "both",
    }
}

fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::Closed => "closed",
        Phase::PreOpen => "preopen",
        Phase::Continuous => "continuous",
        Phase::Break => "break",
        Phase::Halted => "halted",
    }
}

fn tif_str(t: TimeInForce) -> String {
    match t {
        TimeInForce::Gfd => "gfd".into(),
        TimeInForce::Gtc => "gtc".into(),
        TimeInForce::Gtd(t) => format!("gtd={}", t.0),
        TimeInForce::Ioc => "ioc".into(),
        TimeInForce::Fok => "fok".into(),
    }
}

fn ref_str(r: OrderRef) -> String {
    match r {
        OrderRef::Id(id) => format!("id={}", id.0),
        OrderRef::Client(c) => format!("cl={c}"),
    }
}

fn type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "limit",
        OrderType::Market => "market",
        OrderType::StopLimit => "stop-limit",
        OrderType::StopMarket => "stop-market",
    }
}

/// Writes a command in the text format (without its time). Fields of an instrument spec that
/// the format cannot express are left out.
pub fn format_command(c: &Command) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    match c {
        Command::CreateAccount { account, role, stp } => {
            let role = match role {
                Role::Trader => "trader",
                Role::MarketMaker => "market_maker",
                Role::Operator => "operator",
                Role::InsuranceFund => "insurance_fund",
            };
            write!(s, "account {} role={role} stp={}", account.0, stp_str(*stp)).unwrap();
        }
        Command::Deposit {
            account,
            currency,
            amount,
        } => write!(s, "deposit {} {currency} {}", account.0, amount.0).unwrap(),
        Command::ListInstrument(spec) => {
            let rule = match spec.trade_price_rule {
                TradePriceRule::Resting => "resting",
                TradePriceRule::ShfeMedian => "shfe_median",
            };
            write!(
                s,
                "list {} ref={} symbol={} product={} rule={rule} limit_bps={} max_qty={} protect={}",
                spec.id.0,
                spec.initial_reference_price.0,
                spec.symbol,
                spec.product,
                spec.price_limit_bps,
                spec.order_qty_max.0,
                spec.market_protection_ticks
            )
            .unwrap();
            if spec.cb_ticks > 0 {
                write!(
                    s,
                    " cb={}/{}/{}",
                    spec.cb_ticks, spec.cb_window_ns, spec.cb_auction_ns
                )
                .unwrap();
            }
        }
        Command::NewOrder(o) => {
            write!(
                s,
                "new acct={} inst={} {} {}",
                o.account.0,
                o.instrument.0,
                o.side.as_str(),
                type_str(o.order_type)
            )
            .unwrap();
            if let Some(p) = o.price {
                write!(s, " {}", p.0).unwrap();
            }
            write!(s, " x{} {}", o.qty.0, tif_str(o.tif)).unwrap();
            if let Some(p) = o.stop_price {
                write!(s, " stop={}", p.0).unwrap();
            }
            if let Some(c) = o.client_order_id {
                write!(s, " cl={c}").unwrap();
            }
            if let Some(q) = o.min_qty {
                write!(s, " min={}", q.0).unwrap();
            }
            if let Some(q) = o.display_qty {
                write!(s, " display={}", q.0).unwrap();
            }
            if o.post_only {
                s.push_str(" post");
            }
            if let Some(m) = o.stp {
                write!(s, " stp={}", stp_str(m)).unwrap();
            }
        }
        Command::Amend(a) => {
            write!(
                s,
                "amend acct={} inst={} {}",
                a.account.0,
                a.instrument.0,
                ref_str(a.order)
            )
            .unwrap();
            if let Some(p) = a.price {
                write!(s, " px={}", p.0).unwrap();
            }
            if let Some(q) = a.qty {
                write!(s, " qty={}", q.0).unwrap();
            }
            if let Some(p) = a.stop_price {
                write!(s, " stop={}", p.0).unwrap();
            }
        }
        Command::Cancel(c) => write!(
            s,
            "cancel acct={} inst={} {}",
            c.account.0,
            c.instrument.0,
            ref_str(c.order)
        )
        .unwrap(),
        Command::MassCancel(m) => {
            s.push_str("mass");
            if let Some(a) = m.account {
                write!(s, " acct={}", a.0).unwrap();
            }
            if let Some(i) = m.instrument {
                write!(s, " inst={}", i.0).unwrap();
            }
            if let Some(p) = &m.product {
                write!(s, " product={p}").unwrap();
            }
            if let Some(x) = m.side {
                write!(s, " side={}", x.as_str()).unwrap();
            }
        }
        Command::SetPhase { instrument, phase } => {
            write!(s, "phase {} {}", instrument.0, phase_str(*phase)).unwrap()
        }
        Command::Halt { instrument } => write!(s, "halt {}", instrument.0).unwrap(),
        Command::Resume {
            instrument,
            auction_ns,
        } => write!(s, "resume {} auction={auction_ns}", instrument.0).unwrap(),
        Command::EndTradingDay { instrument } => write!(s, "eod {}", instrument.0).unwrap(),
        Command::Tick => s.push_str("tick"),
        #[allow(unreachable_patterns)]
        other => write!(s, "# not expressible: {other:?}").unwrap(),
    }
    s
}

fn reason_str(r: CancelReason) -> &'static str {
    r.as_str()
}

/// One event in a stable, one-line text form.
pub fn format_event(e: &Event) -> String {
    match e {
        Event::OrderAccepted {
            order_id,
            account,
            instrument,
            client_order_id,
            side,
            order_type,
            tif,
            price,
            stop_price,
            qty,
        } => {
            let mut s = format!(
                "accepted #{} acct={} inst={} {} {}",
                order_id.0,
                account.0,
                instrument.0,
                side.as_str(),
                type_str(*order_type)
            );
            if let Some(p) = price {
                s += &format!(" {}", p.0);
            }
            s += &format!(" x{} {}", qty.0, tif_str(*tif));
            if let Some(p) = stop_price {
                s += &format!(" stop={}", p.0);
            }
            if let Some(c) = client_order_id {
                s += &format!(" cl={c}");
            }
            s
        }
        Event::OrderRested {
            order_id,
            instrument,
            side,
            price,
            visible,
            leaves,
        } => format!(
            "rested #{} inst={} {} {} visible={} leaves={}",
            order_id.0,
            instrument.0,
            side.as_str(),
            price.0,
            visible.0,
            leaves.0
        ),
        Event::Trade {
            trade_id,
            instrument,
            price,
            qty,
            aggressor,
            buy_order,
            buy_account,
            sell_order,
            sell_account,
            maker_side,
            buy_leaves,
            sell_leaves,
        } => format!(
            "trade T{} inst={} {} x{} aggressor={} buy=#{}/a{} sell=#{}/a{} maker={} leaves={}/{}",
            trade_id,
            instrument.0,
            price.0,
            qty.0,
            aggressor.map_or("auction", Side::as_str),
            buy_order.0,
            buy_account.0,
            sell_order.0,
            sell_account.0,
            maker_side.as_str(),
            buy_leaves.0,
            sell_leaves.0
        ),
        Event::OrderCancelled {
            order_id,
            account,
            instrument,
            cancelled_qty,
            reason,
        } => format!(
            "cancelled #{} acct={} inst={} qty={} reason={}",
            order_id.0,
            account.0,
            instrument.0,
            cancelled_qty.0,
            reason_str(*reason)
        ),
        Event::OrderAmended {
            order_id,
            account,
            instrument,
            price,
            stop_price,
            leaves,
            priority_kept,
        } => format!(
            "amended #{} acct={} inst={} px={} stop={} leaves={} priority={}",
            order_id.0,
            account.0,
            instrument.0,
            price.map_or("-".to_string(), |p| p.0.to_string()),
            stop_price.map_or("-".to_string(), |p| p.0.to_string()),
            leaves.0,
            if *priority_kept { "kept" } else { "lost" }
        ),
        Event::StopTriggered {
            order_id,
            instrument,
            last_price,
        } => format!(
            "stop-triggered #{} inst={} last={}",
            order_id.0, instrument.0, last_price.0
        ),
        Event::PhaseChanged {
            instrument,
            phase,
            auction_until,
        } => {
            let mut s = format!("phase inst={} {}", instrument.0, phase_str(*phase));
            if let Some(t) = auction_until {
                s += &format!(" until={}", t.0);
            }
            s
        }
        Event::AuctionUncrossed {
            instrument,
            price,
            volume,
        } => format!(
            "uncrossed inst={} px={} volume={}",
            instrument.0,
            price.map_or("none".to_string(), |p| p.0.to_string()),
            volume.0
        ),
        Event::CircuitBreakerTripped {
            instrument,
            price,
            auction_until,
        } => format!(
            "breaker inst={} px={} until={}",
            instrument.0, price.0, auction_until.0
        ),
        Event::InstrumentListed { instrument, symbol } => {
            format!("listed inst={} {symbol}", instrument.0)
        }
        Event::AccountCreated { account } => format!("account-created {}", account.0),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}
