//! Market data and private streams, built off the hot path.
//!
//! One task (the *feed*) owns everything here. It takes a snapshot of the core through
//! `query` — subscribing to the batch stream inside that same query, so the snapshot and the
//! stream join without a gap or an overlap — and then follows the durable batches:
//!
//! - trades, OHLCV bars (1m, 5m, 1h, 1d, UTC-aligned), open interest, working orders and
//!   recent fills per account are kept from the events alone;
//! - depth, top of book, daily statistics, positions and balances are read back from the core
//!   with one coalesced `query` at most every [`FLUSH_MS`] ms, only for what changed;
//! - every WebSocket channel has its own sequence number; a client subscribes with a
//!   snapshot carrying the channel's current number and then receives updates numbered one
//!   up, so a missing number is a gap;
//! - each client has a bounded queue: a client that falls [`CLIENT_QUEUE`] messages behind is
//!   disconnected with a reason rather than buffered without bound, and the engine never
//!   waits for anybody;
//! - if the feed itself falls behind the engine (`Lagged`), it takes a new snapshot and tells
//!   every subscriber to resync.
//!
//! REST reads market data from the feed's shared state, never from the core, so public
//! traffic costs the sequencer nothing.

use super::convert::*;
use crate::sequencer::Batch;
use crate::ExchangeHandle;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokex_engine::state::tag;
use tokex_engine::{Command, Engine, Event, OrderType, Phase, TimeInForce};
use tokex_types::decimal::Decimal;
use tokex_types::{AccountId, Currency, InstrumentId, InstrumentSpec, Price, Qty, Side, Timestamp};
use tokio::sync::{broadcast, mpsc, watch, Notify};

/// Coalescing interval of reads from the core (depth, statistics, positions, balances).
pub const FLUSH_MS: u64 = 50;
/// Levels per side kept and streamed.
pub const DEPTH_LEVELS: usize = 50;
/// Trades kept per instrument for REST and snapshots.
pub const TRADES_KEPT: usize = 1_000;
/// Bars kept per instrument and interval.
pub const BARS_KEPT: usize = 1_500;
/// Recent fills kept per account.
pub const FILLS_KEPT: usize = 100;
/// Messages a WebSocket client may have queued before it is disconnected.
pub const CLIENT_QUEUE: usize = 4_096;

pub const INTERVALS: [(&str, u64); 4] = [("1m", 60), ("5m", 300), ("1h", 3_600), ("1d", 86_400)];

pub fn interval_index(s: &str) -> Option<usize> {
    INTERVALS.iter().position(|(n, _)| *n == s)
}

pub fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::Closed => "closed",
        Phase::PreOpen => "pre_open",
        Phase::Continuous => "continuous",
        Phase::Break => "break",
        Phase::Halted => "halted",
    }
}

pub fn order_type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "limit",
        OrderType::Market => "market",
        OrderType::StopLimit => "stop_limit",
        OrderType::StopMarket => "stop_market",
    }
}

pub fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gfd => "gfd",
        TimeInForce::Gtc => "gtc",
        TimeInForce::Gtd(_) => "gtd",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
    }
}

#[derive(Clone, Debug)]
pub struct TradeView {
    pub trade_id: u64,
    pub time: Timestamp,
    pub price: Price,
    pub qty: u64,
    pub aggressor: Option<Side>,
}

#[derive(Clone, Debug, Default)]
pub struct Bar {
    pub start: u64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
    pub trades: u64,
}

/// What the core says about one instrument, refreshed by the coalesced reads.
#[derive(Clone, Debug, Default)]
pub struct BookView {
    pub phase: Option<Phase>,
    pub auction_until: Option<Timestamp>,
    pub reference: Price,
    pub lower_limit: Price,
    pub upper_limit: Price,
    pub last: Option<Price>,
    pub open: Option<Price>,
    pub high: Option<Price>,
    pub low: Option<Price>,
    pub close: Option<Price>,
    pub volume: u64,
    pub turnover: i128,
    pub day_trades: u64,
    pub delisted: bool,
    pub limit_locked: bool,
    pub bids: Vec<(Price, Qty, u32)>,
    pub asks: Vec<(Price, Qty, u32)>,
}

pub struct InstData {
    pub spec: InstrumentSpec,
    pub tick: Decimal,
    pub view: BookView,
    pub trades: VecDeque<TradeView>,
    pub bars: [BTreeMap<u64, Bar>; 4],
    pub open_interest: u64,
    /// The last settlement (price, time) seen, if any since the feed started.
    pub settlement: Option<(Price, Timestamp)>,
}

impl InstData {
    fn new(spec: InstrumentSpec) -> InstData {
        InstData {
            tick: tick_of(&spec),
            spec,
            view: BookView::default(),
            trades: VecDeque::new(),
            bars: Default::default(),
            open_interest: 0,
            settlement: None,
        }
    }

    pub fn price(&self, p: Price) -> String {
        fmt_price(self.tick, p)
    }

    fn add_trade(&mut self, t: TradeView) {
        for (i, (_, secs)) in INTERVALS.iter().enumerate() {
            let ns = secs * 1_000_000_000;
            let start = t.time.0 / ns * ns;
            let b = self.bars[i].entry(start).or_insert_with(|| Bar {
                start,
                open: t.price.0,
                high: t.price.0,
                low: t.price.0,
                close: t.price.0,
                volume: 0,
                trades: 0,
            });
            b.high = b.high.max(t.price.0);
            b.low = b.low.min(t.price.0);
            b.close = t.price.0;
            b.volume += t.qty;
            b.trades += 1;
            while self.bars[i].len() > BARS_KEPT {
                self.bars[i].pop_first();
            }
        }
        self.trades.push_back(t);
        while self.trades.len() > TRADES_KEPT {
            self.trades.pop_front();
        }
    }

    pub fn trade_json(&self, t: &TradeView) -> Value {
        json!({"trade_id": t.trade_id, "time": fmt_time(t.time), "price": self.price(t.price), "qty": t.qty.to_string(), "aggressor": t.aggressor.map(|s| s.as_str())})
    }

    pub fn bar_json(&self, b: &Bar, interval: &str) -> Value {
        json!({"interval": interval, "start": fmt_time(Timestamp(b.start)), "open": self.price(Price(b.open)), "high": self.price(Price(b.high)), "low": self.price(Price(b.low)), "close": self.price(Price(b.close)), "volume": b.volume.to_string(), "trades": b.trades})
    }

    pub fn depth_json(&self, n: usize) -> Value {
        let side = |levels: &[(Price, Qty, u32)]| -> Vec<Value> {
            levels
                .iter()
                .take(n)
                .map(|(p, q, c)| json!([self.price(*p), q.0.to_string(), c]))
                .collect()
        };
        json!({"instrument": self.spec.symbol, "bids": side(&self.view.bids), "asks": side(&self.view.asks)})
    }

    pub fn ticker_json(&self) -> Value {
        let v = &self.view;
        let best =
            |l: &[(Price, Qty, u32)]| l.first().map(|(p, q, _)| (self.price(*p), q.0.to_string()));
        let (bid, bid_qty) = best(&v.bids).unzip();
        let (ask, ask_qty) = best(&v.asks).unzip();
        json!({"instrument": self.spec.symbol, "bid": bid, "bid_qty": bid_qty, "ask": ask, "ask_qty": ask_qty, "last": v.last.map(|p| self.price(p)), "phase": v.phase.map(phase_str)})
    }

    pub fn stats_json(&self) -> Value {
        let v = &self.view;
        let p = |x: Option<Price>| x.map(|p| self.price(p));
        let vwap = (v.volume > 0).then(|| fmt_avg_price(self.tick, v.turnover, v.volume as i64));
        json!({
            "instrument": self.spec.symbol,
            "phase": v.phase.map(phase_str),
            "open": p(v.open), "high": p(v.high), "low": p(v.low), "close": p(v.close), "last": p(v.last),
            "volume": v.volume.to_string(), "trades": v.day_trades, "vwap": vwap,
            "open_interest": self.open_interest.to_string(),
            "settlement": self.price(v.reference),
            "settlement_time": self.settlement.map(|(_, t)| fmt_time(t)),
            "lower_limit": self.price(v.lower_limit), "upper_limit": self.price(v.upper_limit),
            "limit_locked": v.limit_locked, "delisted": v.delisted,
            "auction_until": v.auction_until.map(fmt_time),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderView {
    pub order_id: u64,
    pub account: u32,
    pub instrument: u32,
    pub client_order_id: Option<String>,
    pub side: Side,
    pub order_type: &'static str,
    pub tif: &'static str,
    pub expire_at: Option<Timestamp>,
    pub price: Option<Price>,
    pub stop_price: Option<Price>,
    pub qty: u64,
    pub leaves: u64,
    pub filled: u64,
    /// new, pending_trigger, working, partially_filled, filled, cancelled
    pub status: String,
    pub cancel_reason: Option<String>,
    pub created: Option<Timestamp>,
    pub updated_seq: u64,
}

#[derive(Clone, Debug)]
pub struct FillView {
    pub trade_id: u64,
    pub seq: u64,
    pub time: Timestamp,
    pub instrument: u32,
    pub order_id: u64,
    pub side: Side,
    pub price: Price,
    pub qty: u64,
    /// maker, taker, auction
    pub liquidity: &'static str,
}

/// Shared state the REST handlers read.
#[derive(Default)]
pub struct MarketData {
    pub instruments: Vec<InstData>,
    pub by_symbol: HashMap<String, u32>,
    pub orders: HashMap<u64, OrderView>,
    pub account_orders: HashMap<u32, BTreeSet<u64>>,
    pub client_ids: HashMap<(u32, String), u64>,
    pub fills: HashMap<u32, VecDeque<FillView>>,
    pub positions: HashMap<(u32, u32), i64>,
    pub fixings: BTreeMap<(String, chrono::NaiveDate), i64>,
    max_trade_id: u64,
}

impl MarketData {
    pub fn instrument(&self, symbol: &str) -> Option<&InstData> {
        self.by_symbol
            .get(symbol)
            .and_then(|i| self.instruments.get(*i as usize))
    }

    pub fn order_json(&self, o: &OrderView) -> Value {
        let inst = self.instruments.get(o.instrument as usize);
        let px = |p: Option<Price>| p.and_then(|p| inst.map(|i| i.price(p)));
        json!({
            "order_id": o.order_id.to_string(),
            "client_order_id": o.client_order_id,
            "account": o.account,
            "instrument": inst.map(|i| i.spec.symbol.clone()),
            "side": o.side.as_str(),
            "type": o.order_type,
            "time_in_force": o.tif,
            "expire_at": o.expire_at.map(fmt_time),
            "price": px(o.price),
            "stop_price": px(o.stop_price),
            "qty": o.qty.to_string(),
            "leaves": o.leaves.to_string(),
            "filled": o.filled.to_string(),
            "status": o.status,
            "cancel_reason": o.cancel_reason,
            "created": o.created.map(fmt_time),
            "seq": o.updated_seq,
        })
    }

    pub fn fill_json(&self, f: &FillView) -> Value {
        let inst = self.instruments.get(f.instrument as usize);
        let cur = inst.map(|i| i.spec.currency).unwrap_or(Currency::Usd);
        // The engine charges the maker fee to resting orders (both sides in an auction).
        let per = inst
            .map(|i| {
                if f.liquidity == "taker" {
                    i.spec.fee_taker_minor
                } else {
                    i.spec.fee_maker_minor
                }
            })
            .unwrap_or(0);
        json!({
            "trade_id": f.trade_id,
            "seq": f.seq,
            "time": fmt_time(f.time),
            "instrument": inst.map(|i| i.spec.symbol.clone()),
            "order_id": f.order_id.to_string(),
            "side": f.side.as_str(),
            "price": inst.map(|i| i.price(f.price)),
            "qty": f.qty.to_string(),
            "liquidity": f.liquidity,
            "fee": fmt_money(cur, per as i128 * f.qty as i128),
            "currency": cur.code(),
        })
    }

    fn add_order(&mut self, o: OrderView) {
        self.account_orders
            .entry(o.account)
            .or_default()
            .insert(o.order_id);
        if let Some(c) = &o.client_order_id {
            self.client_ids.insert((o.account, c.clone()), o.order_id);
        }
        self.orders.insert(o.order_id, o);
    }

    fn remove_order(&mut self, id: u64) {
        if let Some(o) = self.orders.remove(&id) {
            if let Some(s) = self.account_orders.get_mut(&o.account) {
                s.remove(&id);
                if s.is_empty() {
                    self.account_orders.remove(&o.account);
                }
            }
            if let Some(c) = &o.client_order_id {
                if self.client_ids.get(&(o.account, c.clone())) == Some(&id) {
                    self.client_ids.remove(&(o.account, c.clone()));
                }
            }
        }
    }

    fn move_position(&mut self, account: u32, instrument: u32, delta: i64) {
        let e = self.positions.entry((account, instrument)).or_insert(0);
        let before = (*e).max(0) as u64;
        *e += delta;
        let after = (*e).max(0) as u64;
        if *e == 0 {
            self.positions.remove(&(account, instrument));
        }
        if let Some(i) = self.instruments.get_mut(instrument as usize) {
            i.open_interest = i.open_interest + after - before;
        }
    }
}

// ----- subscriptions -------------------------------------------------------------------------

/// A WebSocket client as the feed sees it.
#[derive(Clone)]
pub struct ClientHandle {
    pub id: u64,
    pub tx: mpsc::Sender<Arc<str>>,
    /// Set when the feed cuts the client off; the reason is in `reason`.
    pub cut: Arc<AtomicBool>,
    pub reason: Arc<Mutex<String>>,
    pub wake: Arc<Notify>,
}

impl ClientHandle {
    pub fn new(id: u64) -> (ClientHandle, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        (
            ClientHandle {
                id,
                tx,
                cut: Arc::new(AtomicBool::new(false)),
                reason: Arc::new(Mutex::new(String::new())),
                wake: Arc::new(Notify::new()),
            },
            rx,
        )
    }

    fn cut_off(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock() {
            *r = reason.to_string();
        }
        self.cut.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Queues a message; false (and the client is cut off) when its queue is full.
    pub fn offer(&self, msg: Arc<str>) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.cut_off("slow consumer: more than 4096 messages queued; reconnect and resubscribe (snapshot then updates)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

pub enum Control {
    Subscribe {
        client: ClientHandle,
        channel: String,
        account: Option<u32>,
    },
    Unsubscribe {
        client: u64,
        channel: String,
        account: Option<u32>,
    },
    Gone {
        client: u64,
    },
}

#[derive(Default)]
struct Channel {
    seq: u64,
    subs: Vec<ClientHandle>,
}

/// A parsed channel name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Ticker(u32),
    Book(u32),
    Trades(u32),
    Bars(u32, usize),
    Stats(u32),
    Index(String),
    Orders,
    Fills,
    Positions,
    Balances,
}

impl ChannelKind {
    pub fn is_private(&self) -> bool {
        matches!(
            self,
            ChannelKind::Orders
                | ChannelKind::Fills
                | ChannelKind::Positions
                | ChannelKind::Balances
        )
    }
}

/// The feed's counters for /metrics.
#[derive(Default)]
pub struct FeedStats {
    pub clients: AtomicU64,
    pub subscriptions: AtomicU64,
    pub messages: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub resyncs: AtomicU64,
    pub seq: AtomicU64,
}

/// The handle the rest of the API holds.
pub struct Market {
    pub data: Arc<Mutex<MarketData>>,
    pub control: mpsc::UnboundedSender<Control>,
    pub processed: watch::Receiver<u64>,
    pub flushed: watch::Receiver<u64>,
    pub stats: Arc<FeedStats>,
    pub indexes: Vec<String>,
}

impl Market {
    /// Waits (up to 2 s) until the feed has processed every batch up to `seq`.
    pub async fn wait_for(&self, seq: u64) {
        let mut rx = self.processed.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|s| *s >= seq)).await;
    }

    /// Waits (up to 2 s) until depth, statistics and balances reflect every batch up to `seq`.
    pub async fn wait_flushed(&self, seq: u64) {
        let mut rx = self.flushed.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|s| *s >= seq)).await;
    }

    pub fn parse_channel(&self, name: &str) -> Result<ChannelKind, String> {
        let d = self
            .data
            .lock()
            .map_err(|_| "market data poisoned".to_string())?;
        let inst = |s: &str| {
            d.by_symbol
                .get(s)
                .copied()
                .ok_or_else(|| format!("no instrument {s:?}"))
        };
        let parts: Vec<&str> = name.split(':').collect();
        Ok(match parts.as_slice() {
            ["ticker", s] => ChannelKind::Ticker(inst(s)?),
            ["book", s] => ChannelKind::Book(inst(s)?),
            ["trades", s] => ChannelKind::Trades(inst(s)?),
            ["stats", s] => ChannelKind::Stats(inst(s)?),
            ["bars", s, iv] => ChannelKind::Bars(
                inst(s)?,
                interval_index(iv)
                    .ok_or_else(|| format!("interval {iv:?} is not one of 1m, 5m, 1h, 1d"))?,
            ),
            ["index", id] if self.indexes.iter().any(|x| x == id) => {
                ChannelKind::Index(id.to_string())
            }
            ["index", id] => return Err(format!("no index {id:?}")),
            ["orders"] => ChannelKind::Orders,
            ["fills"] => ChannelKind::Fills,
            ["positions"] => ChannelKind::Positions,
            ["balances"] => ChannelKind::Balances,
            _ => {
                return Err(format!(
                    "unknown channel {name:?}: see /api/v1/openapi.json or docs/API.md"
                ))
            }
        })
    }
}

fn key_of(name: &str, account: Option<u32>) -> String {
    match account {
        Some(a) => format!("{name}#{a}"),
        None => name.to_string(),
    }
}

fn message(kind: &str, channel: &str, seq: u64, data: Value) -> Arc<str> {
    Arc::from(json!({"type": kind, "channel": channel, "seq": seq, "data": data}).to_string())
}

// ----- the snapshot taken inside the sequencer ----------------------------------------------

struct InstSnap {
    spec: InstrumentSpec,
    view: BookView,
}

struct CoreSnapshot {
    instruments: Vec<InstSnap>,
    orders: Vec<OrderView>,
    positions: Vec<(u32, u32, i64)>,
    fixings: BTreeMap<(String, chrono::NaiveDate), i64>,
    rx: broadcast::Receiver<Arc<Batch>>,
    seq: u64,
}

fn view_of(e: &Engine, id: InstrumentId) -> BookView {
    let Some(i) = e.instrument(id) else {
        return BookView::default();
    };
    BookView {
        phase: Some(i.phase),
        auction_until: i.auction_until,
        reference: i.reference_price,
        lower_limit: i.lower_limit,
        upper_limit: i.upper_limit,
        last: i.last_price,
        open: i.day.open,
        high: i.day.high,
        low: i.day.low,
        close: i.day.close,
        volume: i.day.volume,
        turnover: i.day.turnover,
        day_trades: i.day.trades,
        delisted: i.delisted,
        limit_locked: i.limit_locked,
        bids: i.book.depth(Side::Buy, DEPTH_LEVELS),
        asks: i.book.depth(Side::Sell, DEPTH_LEVELS),
    }
}

fn tif_of_tag(t: u16) -> &'static str {
    match t & tag::TIF_MASK {
        tag::TIF_GFD => "gfd",
        tag::TIF_GTD => "gtd",
        _ => "gtc",
    }
}

fn core_snapshot(e: &Engine, h: &ExchangeHandle) -> CoreSnapshot {
    let rx = h.subscribe();
    let seq = h.stats().last_seq.load(Ordering::Relaxed);
    let mut instruments = Vec::new();
    let mut orders = Vec::new();
    for i in e.instruments() {
        let id = i.spec.id;
        instruments.push(InstSnap {
            spec: i.spec.clone(),
            view: view_of(e, id),
        });
        for side in [Side::Buy, Side::Sell] {
            for r in i.book.orders(side) {
                orders.push(OrderView {
                    order_id: r.id.0,
                    account: r.account.0,
                    instrument: id.0,
                    client_order_id: e.client_order_id_of(r.id).map(|c| c.to_string()),
                    side,
                    order_type: "limit",
                    tif: tif_of_tag(r.tag),
                    expire_at: None,
                    price: Some(r.price),
                    stop_price: None,
                    qty: r.leaves.0 + r.filled.0,
                    leaves: r.leaves.0,
                    filled: r.filled.0,
                    status: if r.filled.0 > 0 {
                        "partially_filled"
                    } else {
                        "working"
                    }
                    .into(),
                    cancel_reason: None,
                    created: None,
                    updated_seq: seq,
                });
            }
        }
        for s in i.stops.orders.values() {
            orders.push(OrderView {
                order_id: s.id.0,
                account: s.account.0,
                instrument: id.0,
                client_order_id: s.client_order_id.map(|c| c.to_string()),
                side: s.side,
                order_type: order_type_str(s.order_type),
                tif: tif_str(s.tif),
                expire_at: match s.tif {
                    TimeInForce::Gtd(t) => Some(t),
                    _ => None,
                },
                price: s.price,
                stop_price: Some(s.stop_price),
                qty: s.qty.0,
                leaves: s.qty.0,
                filled: 0,
                status: "pending_trigger".into(),
                cancel_reason: None,
                created: None,
                updated_seq: seq,
            });
        }
    }
    let mut positions = Vec::new();
    for a in e.accounts() {
        for (inst, p) in &a.positions {
            if p.net != 0 {
                positions.push((a.id.0, inst.0, p.net));
            }
        }
    }
    CoreSnapshot {
        instruments,
        orders,
        positions,
        fixings: e.fixings().clone(),
        rx,
        seq,
    }
}

// ----- the feed task -------------------------------------------------------------------------

struct Feed {
    handle: ExchangeHandle,
    data: Arc<Mutex<MarketData>>,
    channels: HashMap<String, Channel>,
    /// client id → channel keys it is subscribed to.
    clients: HashMap<u64, HashSet<String>>,
    dirty_instruments: BTreeSet<u32>,
    dirty_accounts: BTreeSet<u32>,
    /// (instrument, interval) → bar starts changed since the last flush.
    dirty_bars: BTreeMap<(u32, usize), BTreeSet<u64>>,
    stats: Arc<FeedStats>,
    processed: watch::Sender<u64>,
    /// The seq up to which depth, statistics, positions and balances have been read back.
    flushed: watch::Sender<u64>,
    history_path: std::path::PathBuf,
}

/// Starts the feed: snapshot, history backfill, then the loop. Returns once the first
/// snapshot is in place.
pub async fn start(
    handle: ExchangeHandle,
    history_path: std::path::PathBuf,
    indexes: Vec<String>,
) -> Result<Market, String> {
    let data = Arc::new(Mutex::new(MarketData::default()));
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (proc_tx, proc_rx) = watch::channel(0u64);
    let (flush_tx, flush_rx) = watch::channel(0u64);
    let stats = Arc::new(FeedStats::default());
    let mut feed = Feed {
        handle: handle.clone(),
        data: data.clone(),
        channels: HashMap::new(),
        clients: HashMap::new(),
        dirty_instruments: BTreeSet::new(),
        dirty_accounts: BTreeSet::new(),
        dirty_bars: BTreeMap::new(),
        stats: stats.clone(),
        processed: proc_tx,
        flushed: flush_tx,
        history_path,
    };
    let rx = feed.resync(false).await?;
    tokio::spawn(feed.run(rx, ctl_rx));
    Ok(Market {
        data,
        control: ctl_tx,
        processed: proc_rx,
        flushed: flush_rx,
        stats,
        indexes,
    })
}

impl Feed {
    /// Takes a fresh snapshot of the core; returns the batch stream that continues it.
    async fn resync(
        &mut self,
        tell_clients: bool,
    ) -> Result<broadcast::Receiver<Arc<Batch>>, String> {
        let h = self.handle.clone();
        let snap = self
            .handle
            .query(move |e| core_snapshot(e, &h))
            .await
            .map_err(|e| e.to_string())?;
        let fills = load_history(&self.history_path);
        {
            let mut d = self.data.lock().map_err(|_| "market data poisoned")?;
            let old: Vec<InstData> = std::mem::take(&mut d.instruments);
            let mut old_by_id: HashMap<u32, InstData> =
                old.into_iter().map(|i| (i.spec.id.0, i)).collect();
            d.by_symbol.clear();
            for s in snap.instruments {
                let id = s.spec.id.0;
                d.by_symbol.insert(s.spec.symbol.clone(), id);
                let mut inst = old_by_id
                    .remove(&id)
                    .unwrap_or_else(|| InstData::new(s.spec.clone()));
                inst.view = s.view;
                inst.open_interest = 0;
                d.instruments.push(inst);
            }
            d.orders.clear();
            d.account_orders.clear();
            d.client_ids.clear();
            for o in snap.orders {
                d.add_order(o);
            }
            d.positions.clear();
            for (a, i, net) in snap.positions {
                d.move_position(a, i, net);
            }
            d.fixings = snap.fixings;
            // Trades, bars and recent fills from the history store.
            if let Ok((trades, account_fills)) = fills {
                for (inst, t) in trades {
                    if t.trade_id > d.max_trade_id {
                        d.max_trade_id = t.trade_id;
                        if let Some(i) = d.instruments.get_mut(inst as usize) {
                            i.add_trade(t);
                        }
                    }
                }
                for (account, f) in account_fills {
                    let q = d.fills.entry(account).or_default();
                    if q.back().is_none_or(|l| l.trade_id < f.trade_id) {
                        q.push_back(f);
                        while q.len() > FILLS_KEPT {
                            q.pop_front();
                        }
                    }
                }
            }
        }
        self.stats.seq.store(snap.seq, Ordering::Relaxed);
        self.processed.send_replace(snap.seq);
        self.flushed.send_replace(snap.seq);
        if tell_clients {
            self.stats.resyncs.fetch_add(1, Ordering::Relaxed);
            for (key, ch) in self.channels.iter_mut() {
                ch.seq += 1;
                let name = key.split('#').next().unwrap_or(key);
                let msg: Arc<str> = Arc::from(json!({"type": "resync", "channel": name, "seq": ch.seq, "reason": "the market-data feed fell behind the exchange: resubscribe for a fresh snapshot"}).to_string());
                for c in &ch.subs {
                    c.offer(msg.clone());
                }
            }
        }
        Ok(snap.rx)
    }

    async fn run(
        mut self,
        mut rx: broadcast::Receiver<Arc<Batch>>,
        mut ctl: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(FLUSH_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_flush = std::time::Instant::now();
        loop {
            let mut flush_now = false;
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(batch) => {
                        self.on_batch(&batch);
                        // Leading edge: flush at once when the last flush is old enough;
                        // under load the tick conflates to one read per FLUSH_MS.
                        flush_now = last_flush.elapsed() >= Duration::from_millis(FLUSH_MS);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(batches = n, "market-data feed fell behind; resyncing");
                        match self.resync(true).await {
                            Ok(r) => rx = r,
                            Err(e) => { tracing::error!(error = %e, "market-data resync failed"); return; }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                c = ctl.recv() => match c {
                    Some(c) => self.on_control(c).await,
                    None => return,
                },
                _ = tick.tick() => flush_now = true,
            }
            if flush_now && self.is_dirty() {
                let seq = *self.processed.borrow();
                last_flush = std::time::Instant::now();
                match self.flush().await {
                    Ok(()) => {
                        self.flushed.send_replace(seq);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "market-data flush failed");
                        if e == crate::SubmitError::Stopped {
                            return;
                        }
                    }
                }
            }
            if !self.is_dirty() {
                let seq = *self.processed.borrow();
                self.flushed.send_if_modified(|f| {
                    let changed = *f < seq;
                    *f = (*f).max(seq);
                    changed
                });
            }
        }
    }

    fn is_dirty(&self) -> bool {
        !self.dirty_instruments.is_empty()
            || !self.dirty_accounts.is_empty()
            || !self.dirty_bars.is_empty()
    }

    fn has_subs(&self, key: &str) -> bool {
        self.channels.get(key).is_some_and(|c| !c.subs.is_empty())
    }

    /// Sends an update on a channel (when anyone listens).
    fn publish(&mut self, name: &str, account: Option<u32>, data: impl FnOnce() -> Value) {
        let key = key_of(name, account);
        let Some(ch) = self.channels.get_mut(&key) else {
            return;
        };
        if ch.subs.is_empty() {
            return;
        }
        ch.seq += 1;
        let msg = message("update", name, ch.seq, data());
        let mut slow = Vec::new();
        for c in &ch.subs {
            if !c.offer(msg.clone()) {
                // Cut off for being slow, or simply gone (closed before the feed heard).
                slow.push((c.id, c.cut.load(Ordering::Acquire)));
            }
        }
        self.stats
            .messages
            .fetch_add(ch.subs.len() as u64, Ordering::Relaxed);
        for (id, cut) in slow {
            if cut {
                self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
            }
            self.drop_client(id);
        }
    }

    fn drop_client(&mut self, id: u64) {
        if let Some(keys) = self.clients.remove(&id) {
            for k in keys {
                if let Some(ch) = self.channels.get_mut(&k) {
                    ch.subs.retain(|c| c.id != id);
                    self.stats.subscriptions.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn on_batch(&mut self, batch: &Batch) {
        for a in &batch.items {
            self.on_applied(a.seq, a.time, &a.command, &a.outcome.events);
        }
        if let Some(last) = batch.items.last() {
            self.stats.seq.store(last.seq, Ordering::Relaxed);
            self.processed.send_replace(last.seq);
        }
    }

    fn on_applied(&mut self, seq: u64, time: Timestamp, cmd: &Command, events: &[Event]) {
        if let Command::ListInstrument(spec) = cmd {
            if let Ok(mut d) = self.data.lock() {
                if d.instruments.len() == spec.id.0 as usize {
                    d.by_symbol.insert(spec.symbol.clone(), spec.id.0);
                    let mut inst = InstData::new((**spec).clone());
                    inst.view.reference = spec.initial_reference_price;
                    d.instruments.push(inst);
                }
            }
            self.dirty_instruments.insert(spec.id.0);
        }
        let mut touched_orders: Vec<u64> = Vec::new();
        let mut new_fills: Vec<(u32, FillView)> = Vec::new();
        let mut new_trades: Vec<(u32, TradeView)> = Vec::new();
        let mut fixings: Vec<(String, chrono::NaiveDate, i64)> = Vec::new();
        {
            let Ok(mut d) = self.data.lock() else { return };
            for e in events {
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
                        let stop =
                            matches!(order_type, OrderType::StopLimit | OrderType::StopMarket);
                        d.add_order(OrderView {
                            order_id: order_id.0,
                            account: account.0,
                            instrument: instrument.0,
                            client_order_id: client_order_id.map(|c| c.to_string()),
                            side: *side,
                            order_type: order_type_str(*order_type),
                            tif: tif_str(*tif),
                            expire_at: match tif {
                                TimeInForce::Gtd(t) => Some(*t),
                                _ => None,
                            },
                            price: *price,
                            stop_price: *stop_price,
                            qty: qty.0,
                            leaves: qty.0,
                            filled: 0,
                            status: if stop { "pending_trigger" } else { "new" }.into(),
                            cancel_reason: None,
                            created: Some(time),
                            updated_seq: seq,
                        });
                        touched_orders.push(order_id.0);
                        self.dirty_accounts.insert(account.0);
                    }
                    Event::OrderRested {
                        order_id,
                        instrument,
                        leaves,
                        price,
                        ..
                    } => {
                        if let Some(o) = d.orders.get_mut(&order_id.0) {
                            o.leaves = leaves.0;
                            o.price = Some(*price);
                            o.status = if o.filled > 0 {
                                "partially_filled"
                            } else {
                                "working"
                            }
                            .into();
                            o.updated_seq = seq;
                        }
                        touched_orders.push(order_id.0);
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::StopTriggered { order_id, .. } => {
                        if let Some(o) = d.orders.get_mut(&order_id.0) {
                            o.status = "new".into();
                            o.updated_seq = seq;
                        }
                        touched_orders.push(order_id.0);
                    }
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
                    } => {
                        for (oid, leaves) in [(buy_order, buy_leaves), (sell_order, sell_leaves)] {
                            if let Some(o) = d.orders.get_mut(&oid.0) {
                                o.filled += qty.0;
                                o.leaves = leaves.0;
                                o.status = if leaves.0 == 0 {
                                    "filled"
                                } else {
                                    "partially_filled"
                                }
                                .into();
                                o.updated_seq = seq;
                            }
                            touched_orders.push(oid.0);
                        }
                        if *trade_id > d.max_trade_id {
                            d.max_trade_id = *trade_id;
                            let t = TradeView {
                                trade_id: *trade_id,
                                time,
                                price: *price,
                                qty: qty.0,
                                aggressor: *aggressor,
                            };
                            if let Some(i) = d.instruments.get_mut(instrument.0 as usize) {
                                i.add_trade(t.clone());
                                i.view.last = Some(*price);
                            }
                            for (ix, (_, secs)) in INTERVALS.iter().enumerate() {
                                let ns = secs * 1_000_000_000;
                                self.dirty_bars
                                    .entry((instrument.0, ix))
                                    .or_default()
                                    .insert(time.0 / ns * ns);
                            }
                            new_trades.push((instrument.0, t));
                            d.move_position(buy_account.0, instrument.0, qty.0 as i64);
                            d.move_position(sell_account.0, instrument.0, -(qty.0 as i64));
                        }
                        for (acct, oid, side) in [
                            (buy_account, buy_order, Side::Buy),
                            (sell_account, sell_order, Side::Sell),
                        ] {
                            let liquidity = match aggressor {
                                None => "auction",
                                Some(_) if *maker_side == side => "maker",
                                Some(_) => "taker",
                            };
                            new_fills.push((
                                acct.0,
                                FillView {
                                    trade_id: *trade_id,
                                    seq,
                                    time,
                                    instrument: instrument.0,
                                    order_id: oid.0,
                                    side,
                                    price: *price,
                                    qty: qty.0,
                                    liquidity,
                                },
                            ));
                            self.dirty_accounts.insert(acct.0);
                        }
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::FeesCharged { .. } => {}
                    Event::OrderCancelled {
                        order_id,
                        account,
                        instrument,
                        reason,
                        ..
                    } => {
                        if let Some(o) = d.orders.get_mut(&order_id.0) {
                            o.leaves = 0;
                            o.status = "cancelled".into();
                            o.cancel_reason = Some(reason.as_str().to_string());
                            o.updated_seq = seq;
                        }
                        touched_orders.push(order_id.0);
                        self.dirty_accounts.insert(account.0);
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::OrderAmended {
                        order_id,
                        account,
                        instrument,
                        price,
                        stop_price,
                        leaves,
                        ..
                    } => {
                        if let Some(o) = d.orders.get_mut(&order_id.0) {
                            if price.is_some() {
                                o.price = *price;
                            }
                            if stop_price.is_some() {
                                o.stop_price = *stop_price;
                            }
                            o.qty = o.filled + leaves.0;
                            o.leaves = leaves.0;
                            o.updated_seq = seq;
                        }
                        touched_orders.push(order_id.0);
                        self.dirty_accounts.insert(account.0);
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::PhaseChanged { instrument, .. }
                    | Event::AuctionUncrossed { instrument, .. }
                    | Event::CircuitBreakerTripped { instrument, .. } => {
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::Settled {
                        instrument, price, ..
                    } => {
                        if let Some(i) = d.instruments.get_mut(instrument.0 as usize) {
                            i.settlement = Some((*price, time));
                        }
                        self.dirty_instruments.insert(instrument.0);
                    }
                    Event::Expired {
                        instrument,
                        final_price,
                        ..
                    } => {
                        let id = instrument.0;
                        d.positions.retain(|(_, i), _| *i != id);
                        if let Some(i) = d.instruments.get_mut(id as usize) {
                            i.open_interest = 0;
                            i.settlement = Some((*final_price, time));
                        }
                        self.dirty_instruments.insert(id);
                    }
                    Event::CashMoved { account, .. }
                    | Event::VariationMargin { account, .. }
                    | Event::MarginCall { account, .. }
                    | Event::MarginCallMet { account }
                    | Event::LiquidationStarted { account, .. }
                    | Event::LiquidationFinished { account }
                    | Event::DefaultCovered { account, .. } => {
                        self.dirty_accounts.insert(account.0);
                    }
                    Event::FixingRecorded {
                        index,
                        date,
                        value_e6,
                    } => {
                        d.fixings.insert((index.clone(), *date), *value_e6);
                        fixings.push((index.clone(), *date, *value_e6));
                    }
                    Event::ProductParamsChanged {
                        instruments,
                        params,
                        ..
                    } => {
                        // Margins, limits and fees shown with the instruments follow the
                        // operator's change; the band is read back from the core.
                        for id in instruments {
                            if let Some(i) = d.instruments.get_mut(id.0 as usize) {
                                params.apply_to(&mut i.spec);
                            }
                            self.dirty_instruments.insert(id.0);
                        }
                    }
                    Event::InstrumentListed { .. } | Event::AccountCreated { .. } => {}
                }
            }
            for (acct, f) in &new_fills {
                let q = d.fills.entry(*acct).or_default();
                q.push_back(f.clone());
                while q.len() > FILLS_KEPT {
                    q.pop_front();
                }
            }
        }
        // Publish per-event updates.
        touched_orders.dedup();
        let mut seen = HashSet::new();
        for id in touched_orders {
            if !seen.insert(id) {
                continue;
            }
            let (acct, json, done) = {
                let Ok(d) = self.data.lock() else { return };
                let Some(o) = d.orders.get(&id) else { continue };
                (
                    o.account,
                    d.order_json(o),
                    matches!(o.status.as_str(), "filled" | "cancelled"),
                )
            };
            self.publish("orders", Some(acct), || json);
            if done {
                if let Ok(mut d) = self.data.lock() {
                    d.remove_order(id);
                }
            }
        }
        for (inst, t) in new_trades {
            let name = self.symbol(inst).map(|s| format!("trades:{s}"));
            if let Some(name) = name {
                if self.has_subs(&name) {
                    let json =
                        self.data.lock().ok().and_then(|d| {
                            d.instruments.get(inst as usize).map(|i| i.trade_json(&t))
                        });
                    self.publish(&name, None, || json.unwrap_or(Value::Null));
                }
            }
        }
        for (acct, f) in new_fills {
            if self.has_subs(&key_of("fills", Some(acct))) {
                let json = self
                    .data
                    .lock()
                    .map(|d| d.fill_json(&f))
                    .unwrap_or(Value::Null);
                self.publish("fills", Some(acct), || json);
            }
        }
        for (index, date, v) in fixings {
            let name = format!("index:{index}");
            self.publish(&name, None, || fixing_json(&index, date, v));
        }
    }

    fn symbol(&self, inst: u32) -> Option<String> {
        self.data.lock().ok().and_then(|d| {
            d.instruments
                .get(inst as usize)
                .map(|i| i.spec.symbol.clone())
        })
    }

    /// Reads back from the core what changed, and streams the differences.
    async fn flush(&mut self) -> Result<(), crate::SubmitError> {
        let insts: Vec<u32> = std::mem::take(&mut self.dirty_instruments)
            .into_iter()
            .collect();
        let accounts: Vec<u32> = std::mem::take(&mut self.dirty_accounts)
            .into_iter()
            .filter(|a| {
                self.has_subs(&key_of("positions", Some(*a)))
                    || self.has_subs(&key_of("balances", Some(*a)))
            })
            .collect();
        let bars = std::mem::take(&mut self.dirty_bars);
        let (views, acct_views) = if insts.is_empty() && accounts.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let (i2, a2) = (insts.clone(), accounts.clone());
            self.handle
                .query(move |e| {
                    let v: Vec<(u32, BookView)> = i2
                        .iter()
                        .map(|i| (*i, view_of(e, InstrumentId(*i))))
                        .collect();
                    let a: Vec<(u32, Value, Value)> = a2
                        .iter()
                        .map(|a| (*a, positions_json(e, *a), balances_json(e, *a)))
                        .collect();
                    (v, a)
                })
                .await?
        };
        for (id, view) in views {
            let (symbol, old_bids, old_asks, old_ticker, old_stats) = {
                let Ok(d) = self.data.lock() else {
                    return Ok(());
                };
                let Some(i) = d.instruments.get(id as usize) else {
                    continue;
                };
                (
                    i.spec.symbol.clone(),
                    i.view.bids.clone(),
                    i.view.asks.clone(),
                    i.ticker_json(),
                    i.stats_json(),
                )
            };
            let (new_ticker, new_stats, delta) = {
                let Ok(mut d) = self.data.lock() else {
                    return Ok(());
                };
                let Some(i) = d.instruments.get_mut(id as usize) else {
                    continue;
                };
                i.view = view;
                let tick = i.tick;
                let delta = json!({"instrument": symbol, "bids": level_delta(tick, &old_bids, &i.view.bids), "asks": level_delta(tick, &old_asks, &i.view.asks)});
                (i.ticker_json(), i.stats_json(), delta)
            };
            let changed = delta["bids"].as_array().is_some_and(|a| !a.is_empty())
                || delta["asks"].as_array().is_some_and(|a| !a.is_empty());
            if changed {
                self.publish(&format!("book:{symbol}"), None, || delta);
            }
            if new_ticker != old_ticker {
                self.publish(&format!("ticker:{symbol}"), None, || new_ticker);
            }
            if new_stats != old_stats {
                self.publish(&format!("stats:{symbol}"), None, || new_stats);
            }
        }
        for ((inst, ix), starts) in bars {
            let Some(symbol) = self.symbol(inst) else {
                continue;
            };
            let name = format!("bars:{symbol}:{}", INTERVALS[ix].0);
            if !self.has_subs(&name) {
                continue;
            }
            for s in starts {
                let json = self.data.lock().ok().and_then(|d| {
                    d.instruments
                        .get(inst as usize)
                        .and_then(|i| i.bars[ix].get(&s).map(|b| i.bar_json(b, INTERVALS[ix].0)))
                });
                if let Some(json) = json {
                    self.publish(&name, None, || json);
                }
            }
        }
        for (a, pos, bal) in acct_views {
            self.publish("positions", Some(a), || pos);
            self.publish("balances", Some(a), || bal);
        }
        Ok(())
    }

    async fn on_control(&mut self, c: Control) {
        match c {
            Control::Gone { client } => {
                self.drop_client(client);
                self.stats.clients.fetch_sub(1, Ordering::Relaxed);
            }
            Control::Unsubscribe {
                client,
                channel,
                account,
            } => {
                let key = key_of(&channel, account);
                if let Some(ch) = self.channels.get_mut(&key) {
                    let before = ch.subs.len();
                    ch.subs.retain(|c| c.id != client);
                    if ch.subs.len() < before {
                        self.stats.subscriptions.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                if let Some(k) = self.clients.get_mut(&client) {
                    k.remove(&key);
                }
            }
            Control::Subscribe {
                client,
                channel,
                account,
            } => {
                let key = key_of(&channel, account);
                if self
                    .clients
                    .get(&client.id)
                    .is_some_and(|k| k.contains(&key))
                {
                    return;
                }
                let snapshot = match self.snapshot(&channel, account).await {
                    Ok(s) => s,
                    Err(e) => {
                        client.offer(Arc::from(json!({"type": "error", "channel": channel, "code": "INVALID_FIELD", "message": e}).to_string()));
                        return;
                    }
                };
                let ch = self.channels.entry(key.clone()).or_default();
                if client.offer(message("snapshot", &channel, ch.seq, snapshot)) {
                    ch.subs.push(client.clone());
                    self.clients.entry(client.id).or_default().insert(key);
                    self.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    async fn snapshot(&mut self, channel: &str, account: Option<u32>) -> Result<Value, String> {
        let parts: Vec<&str> = channel.split(':').collect();
        if let (["positions"] | ["balances"], Some(a)) = (parts.as_slice(), account) {
            let pos = parts[0] == "positions";
            return self
                .handle
                .query(move |e| {
                    if pos {
                        positions_json(e, a)
                    } else {
                        balances_json(e, a)
                    }
                })
                .await
                .map_err(|e| e.to_string());
        }
        let d = self.data.lock().map_err(|_| "market data poisoned")?;
        let inst = |s: &str| {
            d.instrument(s)
                .ok_or_else(|| format!("no instrument {s:?}"))
        };
        Ok(match (parts.as_slice(), account) {
            (["ticker", s], _) => inst(s)?.ticker_json(),
            (["book", s], _) => inst(s)?.depth_json(DEPTH_LEVELS),
            (["stats", s], _) => inst(s)?.stats_json(),
            (["trades", s], _) => {
                let i = inst(s)?;
                json!({"instrument": s, "trades": i.trades.iter().rev().take(50).rev().map(|t| i.trade_json(t)).collect::<Vec<_>>()})
            }
            (["bars", s, iv], _) => {
                let i = inst(s)?;
                let ix = interval_index(iv).ok_or("bad interval")?;
                json!({"instrument": s, "interval": iv, "bars": i.bars[ix].values().rev().take(100).rev().map(|b| i.bar_json(b, iv)).collect::<Vec<_>>()})
            }
            (["index", id], _) => {
                let latest = d
                    .fixings
                    .range(
                        (id.to_string(), chrono::NaiveDate::MIN)
                            ..=(id.to_string(), chrono::NaiveDate::MAX),
                    )
                    .next_back();
                match latest {
                    Some(((_, date), v)) => fixing_json(id, *date, *v),
                    None => json!({"index": id, "date": null, "value": null}),
                }
            }
            (["orders"], Some(a)) => {
                let ids = d.account_orders.get(&a).cloned().unwrap_or_default();
                json!({"orders": ids.iter().filter_map(|id| d.orders.get(id)).map(|o| d.order_json(o)).collect::<Vec<_>>()})
            }
            (["fills"], Some(a)) => {
                json!({"fills": d.fills.get(&a).map(|q| q.iter().map(|f| d.fill_json(f)).collect::<Vec<_>>()).unwrap_or_default()})
            }
            _ => return Err(format!("unknown channel {channel:?}")),
        })
    }
}

/// Level changes between two depth views: `[price, qty, orders]`, qty "0" for a level gone.
fn level_delta(tick: Decimal, old: &[(Price, Qty, u32)], new: &[(Price, Qty, u32)]) -> Vec<Value> {
    let o: BTreeMap<i64, (u64, u32)> = old.iter().map(|(p, q, c)| (p.0, (q.0, *c))).collect();
    let n: BTreeMap<i64, (u64, u32)> = new.iter().map(|(p, q, c)| (p.0, (q.0, *c))).collect();
    let mut out = Vec::new();
    for (p, v) in &n {
        if o.get(p) != Some(v) {
            out.push(json!([fmt_price(tick, Price(*p)), v.0.to_string(), v.1]));
        }
    }
    for p in o.keys() {
        if !n.contains_key(p) {
            out.push(json!([fmt_price(tick, Price(*p)), "0", 0]));
        }
    }
    out
}

pub fn fixing_json(index: &str, date: chrono::NaiveDate, value_e6: i64) -> Value {
    json!({"index": index, "date": date.to_string(), "value": Decimal::new(value_e6 as i128, 6).normalized().to_string()})
}

/// An account's positions as the API shows them.
pub fn positions_json(e: &Engine, account: u32) -> Value {
    let Some(a) = e.account(AccountId(account)) else {
        return json!({"account": account, "positions": []});
    };
    let mut out = Vec::new();
    for (id, p) in &a.positions {
        let Some(i) = e.instrument(*id) else { continue };
        if p.net == 0 && p.working_buy == 0 && p.working_sell == 0 && p.realised_minor == 0 {
            continue;
        }
        let tick = tick_of(&i.spec);
        let mark = i.mark_price();
        let cur = i.spec.currency;
        let unrealised =
            (p.net as i128 * mark.0 as i128 - p.open_cost) * i.spec.tick_value_minor as i128;
        let vm = (p.net as i128 * mark.0 as i128 - p.basis) * i.spec.tick_value_minor as i128;
        out.push(json!({
            "instrument": i.spec.symbol,
            "net": p.net.to_string(),
            "avg_price": p.avg_price().map(|(n, d)| fmt_avg_price(tick, n, d)),
            "mark_price": fmt_price(tick, mark),
            "unrealised_pnl": fmt_money(cur, unrealised),
            "realised_pnl": fmt_money(cur, p.realised_minor as i128),
            "variation_since_settlement": fmt_money(cur, vm),
            "working_buy": p.working_buy.to_string(),
            "working_sell": p.working_sell.to_string(),
            "bought_today": p.day_bought.to_string(),
            "sold_today": p.day_sold.to_string(),
            "currency": cur.code(),
        }));
    }
    json!({"account": account, "positions": out})
}

/// An account's cash, equity and margin per currency.
pub fn balances_json(e: &Engine, account: u32) -> Value {
    let Some(a) = e.account(AccountId(account)) else {
        return json!({"account": account, "balances": []});
    };
    let acct = AccountId(account);
    let mut out = Vec::new();
    for c in Currency::ALL {
        let cash = a.cash[c.index()] as i128;
        let equity = e.account_equity(acct, c);
        let im = e.account_initial_margin(acct, c);
        let pim = e.account_position_initial_margin(acct, c);
        let mm = e.account_maintenance_margin(acct, c);
        if cash == 0 && equity == 0 && im == 0 {
            continue;
        }
        out.push(json!({
            "currency": c.code(),
            "cash": fmt_money(c, cash),
            "equity": fmt_money(c, equity),
            "initial_margin": fmt_money(c, im),
            "position_initial_margin": fmt_money(c, pim),
            "maintenance_margin": fmt_money(c, mm),
            "available": fmt_money(c, equity - im),
            "margin_call": a.margin_call.filter(|m| m.currency == c).map(|m| json!({"issued_at": fmt_time(m.issued_at), "shortfall": fmt_money(c, m.shortfall as i128)})),
        }));
    }
    json!({"account": account, "role": format!("{:?}", a.role).to_lowercase(), "liquidating": a.liquidating, "balances": out})
}

type HistoryLoad = (Vec<(u32, TradeView)>, Vec<(u32, FillView)>);

/// Recent trades and fills from the history store (trades recorded with a time only).
fn load_history(path: &std::path::Path) -> Result<HistoryLoad, String> {
    if !path.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT trade_id, seq, time_ns, instrument, price, qty, buy_order, buy_account, sell_order, sell_account, aggressor FROM (SELECT * FROM fills WHERE time_ns > 0 ORDER BY trade_id DESC LIMIT 200000) ORDER BY trade_id")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u32,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)? as u64,
                r.get::<_, i64>(6)? as u64,
                r.get::<_, i64>(7)? as u32,
                r.get::<_, i64>(8)? as u64,
                r.get::<_, i64>(9)? as u32,
                r.get::<_, Option<String>>(10)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut trades = Vec::new();
    let mut fills = Vec::new();
    for row in rows {
        let (trade_id, seq, t, inst, price, qty, bo, ba, so, sa, aggr) =
            row.map_err(|e| e.to_string())?;
        let aggressor = match aggr.as_deref() {
            Some("buy") => Some(Side::Buy),
            Some("sell") => Some(Side::Sell),
            _ => None,
        };
        trades.push((
            inst,
            TradeView {
                trade_id,
                time: Timestamp(t),
                price: Price(price),
                qty,
                aggressor,
            },
        ));
        for (acct, oid, side) in [(ba, bo, Side::Buy), (sa, so, Side::Sell)] {
            let liquidity = match aggressor {
                None => "auction",
                Some(a) if a == side => "taker",
                Some(_) => "maker",
            };
            fills.push((
                acct,
                FillView {
                    trade_id,
                    seq,
                    time: Timestamp(t),
                    instrument: inst,
                    order_id: oid,
                    side,
                    price: Price(price),
                    qty,
                    liquidity,
                },
            ));
        }
    }
    Ok((trades, fills))
}
