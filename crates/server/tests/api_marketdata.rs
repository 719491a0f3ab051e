//! Market data over the WebSocket: a client that joins half-way through a busy session rebuilds
//! the same order book (snapshot + sequenced depth deltas) as one that watched from the start,
//! and both equal the REST book at the end; no channel ever skips a sequence number.

mod api_support;
use api_support::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

/// One side of a book: price -> (qty, orders).
type Side = BTreeMap<String, (String, u64)>;

/// A WebSocket client rebuilding the book of one instrument from its depth channel, and
/// checking every channel's sequence numbers.
struct Watcher {
    ws: Ws,
    book_ch: String,
    trades_ch: String,
    bids: Side,
    asks: Side,
    trades: Vec<u64>,
    seqs: HashMap<String, u64>,
    messages: usize,
}

fn apply(side: &mut Side, levels: &Value) {
    for l in levels.as_array().expect("levels") {
        let price = l[0].as_str().unwrap().to_string();
        let qty = l[1].as_str().unwrap().to_string();
        if qty == "0" {
            side.remove(&price);
        } else {
            side.insert(price, (qty, l[2].as_u64().unwrap()));
        }
    }
}

fn side_of(levels: &Value) -> Side {
    let mut s = Side::new();
    apply(&mut s, levels);
    s
}

impl Watcher {
    fn connect(s: &Server, sym: &str) -> Watcher {
        let tcp = TcpStream::connect(s.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://{}/api/v1/ws", s.addr), tcp)
            .expect("websocket handshake");
        let mut w = Watcher {
            ws,
            book_ch: format!("book:{sym}"),
            trades_ch: format!("trades:{sym}"),
            bids: Side::new(),
            asks: Side::new(),
            trades: Vec::new(),
            seqs: HashMap::new(),
            messages: 0,
        };
        for ch in [w.book_ch.clone(), w.trades_ch.clone()] {
            w.ws.send(Message::Text(
                json!({"op": "subscribe", "channel": ch}).to_string().into(),
            ))
            .unwrap();
        }
        // Both snapshots.
        while w.seqs.len() < 2 {
            w.read_one();
        }
        w
    }

    /// Reads and applies one message; checks its sequence number.
    fn read_one(&mut self) {
        let m: Value = match self.ws.read().expect("a message") {
            Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => return,
        };
        self.messages += 1;
        let ch = m["channel"].as_str().unwrap_or("").to_string();
        let seq = m["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("every message carries a seq: {m}"));
        match m["type"].as_str() {
            Some("snapshot") => {
                assert!(!self.seqs.contains_key(&ch), "a second snapshot: {m}");
                self.seqs.insert(ch.clone(), seq);
                if ch == self.book_ch {
                    self.bids = side_of(&m["data"]["bids"]);
                    self.asks = side_of(&m["data"]["asks"]);
                } else if ch == self.trades_ch {
                    // Newest first: keep ours oldest first.
                    let mut ids: Vec<u64> = m["data"]["trades"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t["trade_id"].as_u64().unwrap())
                        .collect();
                    ids.sort_unstable();
                    self.trades = ids;
                }
            }
            Some("resync") => panic!("the feed fell behind: {m}"),
            Some("error") => panic!("error: {m}"),
            _ => {
                // Updates, and the session channel's messages: exactly one more each time.
                if let Some(prev) = self.seqs.get(&ch) {
                    assert_eq!(seq, prev + 1, "gap on {ch}: {m}");
                } else {
                    assert_eq!(ch, "session", "an update before its snapshot: {m}");
                }
                self.seqs.insert(ch.clone(), seq);
                if m["type"] == "update" && ch == self.book_ch {
                    apply(&mut self.bids, &m["data"]["bids"]);
                    apply(&mut self.asks, &m["data"]["asks"]);
                } else if m["type"] == "update" && ch == self.trades_ch {
                    let id = m["data"]["trade_id"].as_u64().unwrap();
                    assert!(
                        self.trades.last().is_none_or(|l| *l < id),
                        "trades in order: {m}"
                    );
                    self.trades.push(id);
                }
            }
        }
    }

    /// Reads until the rebuilt book equals `bids`/`asks`, up to 5 s.
    fn settle_on(&mut self, who: &str, bids: &Side, asks: &Side) {
        let end = Instant::now() + Duration::from_secs(5);
        while (&self.bids, &self.asks) != (bids, asks) {
            assert!(
                Instant::now() < end,
                "{who} never reached the REST book:\n{who}: {:?} / {:?}\nREST: {bids:?} / {asks:?}",
                self.bids,
                self.asks
            );
            self.read_one();
        }
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn a_late_joiner_rebuilds_the_same_book_as_an_early_one() {
    let s = Server::start();
    let keys = [
        s.trader(1, "trader", "10000000"),
        s.trader(2, "trader", "10000000"),
        s.trader(3, "trader", "10000000"),
    ];
    let (sym, reference, _, _) = s.tkf();
    let mut a = Watcher::connect(&s, &sym);
    let mut b: Option<Watcher> = None;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Working orders: (key index, order id, side).
    let mut working: Vec<(usize, String, &str)> = Vec::new();
    let (mut places, mut amends, mut cancels, mut crosses) = (0, 0, 0, 0);
    let steps = 120;
    for step in 0..steps {
        if step == steps / 2 {
            // Let the early client drain what it has, then the late one joins.
            a.read_one();
            b = Some(Watcher::connect(&s, &sym));
        }
        let k = rng.below(3) as usize;
        let roll = rng.below(10);
        if roll < 5 || working.len() < 4 {
            // A resting order, 1 to 12 ticks off the reference.
            let side = if rng.below(2) == 0 { "buy" } else { "sell" };
            let off = 1 + rng.below(12) as i64;
            let price = add_ticks(&reference, if side == "buy" { -off } else { off });
            let qty = (1 + rng.below(9)).to_string();
            let r = s.call(
                &keys[k],
                "POST",
                "/api/v1/orders",
                &json!({"instrument": sym, "side": side, "price": price, "qty": qty}).to_string(),
            );
            assert_eq!(r.status, 200, "{}", r.text);
            let id = r.body["order"]["order_id"].as_str().unwrap().to_string();
            working.push((k, id, side));
            places += 1;
        } else if roll < 7 {
            // Amend: a new price, or a smaller or larger quantity.
            let i = rng.below(working.len() as u64) as usize;
            let (k, id, side) = working[i].clone();
            let body = if rng.below(2) == 0 {
                let off = 1 + rng.below(12) as i64;
                json!({"price": add_ticks(&reference, if side == "buy" { -off } else { off })})
            } else {
                json!({"qty": (1 + rng.below(9)).to_string()})
            };
            let r = s.call(
                &keys[k],
                "PATCH",
                &format!("/api/v1/orders/{id}"),
                &body.to_string(),
            );
            // The order may have been filled meanwhile.
            assert!(
                r.status == 200 || r.status == 404 || r.status == 409,
                "{}",
                r.text
            );
            amends += 1;
        } else if roll < 9 {
            let i = rng.below(working.len() as u64) as usize;
            let (k, id, _) = working.swap_remove(i);
            let r = s.call(&keys[k], "DELETE", &format!("/api/v1/orders/{id}"), "");
            assert!(
                r.status == 200 || r.status == 404 || r.status == 409,
                "{}",
                r.text
            );
            cancels += 1;
        } else {
            // A marketable order that trades with the resting ones.
            let side = if rng.below(2) == 0 { "buy" } else { "sell" };
            let r = s.call(
                &keys[k],
                "POST",
                "/api/v1/orders",
                &json!({"instrument": sym, "side": side, "type": "market", "qty": (1 + rng.below(6)).to_string()})
                    .to_string(),
            );
            assert_eq!(r.status, 200, "{}", r.text);
            crosses += 1;
        }
        // Keep the clients reading as the session goes (each step sends them something).
        if step % 10 == 9 {
            a.read_one();
            if let Some(b) = b.as_mut() {
                b.read_one();
            }
        }
    }
    assert!(places > 30 && amends > 10 && cancels > 10 && crosses > 5);

    // The exchange is quiet: the REST book is final.
    let rest = s.get(&format!("/api/v1/instruments/{sym}/book?depth=50"));
    assert_eq!(rest.status, 200, "{}", rest.text);
    let (bids, asks) = (side_of(&rest.body["bids"]), side_of(&rest.body["asks"]));
    assert!(
        !bids.is_empty() && !asks.is_empty() && bids.len() < 50 && asks.len() < 50,
        "{}",
        rest.text
    );
    let trades = s.get(&format!("/api/v1/instruments/{sym}/trades?limit=1000"));
    let mut trade_ids: Vec<u64> = trades.body["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trade_id"].as_u64().unwrap())
        .collect();
    trade_ids.sort_unstable();
    assert!(trade_ids.len() > 3, "{}", trades.text);

    let mut b = b.unwrap();
    a.settle_on("A", &bids, &asks);
    b.settle_on("B", &bids, &asks);
    assert_eq!((&a.bids, &a.asks), (&b.bids, &b.asks));
    // Trades: the early client saw every one, the late one the same tail.
    let end = Instant::now() + Duration::from_secs(5);
    while a.trades.last() != trade_ids.last() || b.trades.last() != trade_ids.last() {
        assert!(Instant::now() < end, "the last trade never arrived");
        if a.trades.last() != trade_ids.last() {
            a.read_one();
        } else {
            b.read_one();
        }
    }
    // The early client saw every trade; the late one's snapshot carried the earlier ones.
    assert_eq!(a.trades, trade_ids);
    assert_eq!(b.trades, trade_ids);
    assert!(a.messages > b.messages);
}
