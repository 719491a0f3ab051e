//! The WebSocket API over loopback: snapshot then sequenced updates per channel, private
//! channels behind a signed login and limited to the account, a slow consumer cut off with a
//! reason while the engine carries on, and cancel-on-disconnect: an opted-in connection's
//! account orders are cancelled (by a journaled mass cancel) when it closes in any way, and
//! only when no other opted-in connection of the account still covers them.

mod api_support;
use api_support::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;
type Check<'a> = Box<dyn Fn(&Value) -> bool + 'a>;

fn connect(s: &Server) -> Ws {
    let tcp = TcpStream::connect(s.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (ws, _) = tungstenite::client(format!("ws://{}/api/v1/ws", s.addr), tcp)
        .expect("websocket handshake");
    ws
}

/// A connection whose socket receive buffer is a few KiB (set before connecting, so the
/// kernel does not grow it).
fn connect_small_buffer(s: &Server) -> Ws {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&s.addr.into()).unwrap();
    let tcp: TcpStream = sock.into();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (ws, _) = tungstenite::client(format!("ws://{}/api/v1/ws", s.addr), tcp)
        .expect("websocket handshake");
    ws
}

fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).unwrap();
}

/// The next JSON message (heartbeats skipped).
fn next(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] != "heartbeat" {
                    return v;
                }
            }
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

/// Checks per-channel sequence numbers: snapshot n, then n+1, n+2, ...
#[derive(Default)]
struct Seqs(HashMap<String, u64>);

impl Seqs {
    fn check(&mut self, m: &Value) {
        let ch = m["channel"].as_str().unwrap_or("").to_string();
        let Some(seq) = m["seq"].as_u64() else {
            panic!("every message carries a seq: {m}");
        };
        match m["type"].as_str() {
            Some("snapshot") => {
                self.0.insert(ch, seq);
            }
            Some("update") => {
                let prev = self
                    .0
                    .get(&ch)
                    .copied()
                    .unwrap_or_else(|| panic!("update before snapshot on {ch}"));
                assert_eq!(seq, prev + 1, "gap on {ch}");
                self.0.insert(ch, seq);
            }
            _ => {}
        }
    }
}

/// Reads until `f` matches a message, checking sequence numbers on the way.
fn until(ws: &mut Ws, seqs: &mut Seqs, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let m = next(ws);
        seqs.check(&m);
        if f(&m) {
            return m;
        }
    }
    panic!("no message: {what}");
}

#[test]
fn public_channels_snapshot_then_sequenced_updates() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let k2 = s.trader(2, "trader", "1000000");
    let (sym, reference, _, _) = s.tkf();
    let mut ws = connect(&s);
    let mut seqs = Seqs::default();
    let channels = [
        format!("book:{sym}"),
        format!("ticker:{sym}"),
        format!("trades:{sym}"),
        format!("stats:{sym}"),
        format!("bars:{sym}:1m"),
        "index:TPI-F".to_string(),
    ];
    for ch in &channels {
        send(&mut ws, json!({"op": "subscribe", "channel": ch}));
    }
    for _ in &channels {
        let m = next(&mut ws);
        assert_eq!(m["type"], "snapshot", "{m}");
        seqs.check(&m);
    }
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "book:NOPE-2026-01"}),
    );
    let e = next(&mut ws);
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("INVALID_FIELD")),
        "{e}"
    );
    send(&mut ws, json!({"op": "ping"}));
    assert_eq!(next(&mut ws)["type"], "pong");

    let bid = add_ticks(&reference, -5);
    let r = s.call(
        &k1,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": "buy", "price": bid, "qty": "7"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let m = until(&mut ws, &mut seqs, "the bid in the book", |m| {
        m["channel"] == format!("book:{sym}") && m["type"] == "update"
    });
    assert_eq!(m["data"]["bids"], json!([[bid, "7", 1]]), "{m}");
    until(&mut ws, &mut seqs, "the bid on the ticker", |m| {
        m["channel"] == format!("ticker:{sym}") && m["data"]["bid"] == json!(bid)
    });

    let r = s.call(
        &k2,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": "sell", "type": "market", "qty": "2"}).to_string(),
    );
    assert_eq!(
        (r.status, r.body["order"]["filled"].as_str()),
        (200, Some("2")),
        "{}",
        r.text
    );
    let t = until(&mut ws, &mut seqs, "the trade", |m| {
        m["channel"] == format!("trades:{sym}") && m["type"] == "update"
    });
    assert_eq!(
        (
            t["data"]["price"].as_str(),
            t["data"]["qty"].as_str(),
            t["data"]["aggressor"].as_str()
        ),
        (Some(bid.as_str()), Some("2"), Some("sell")),
        "{t}"
    );
    let book = format!("book:{sym}");
    let bars = format!("bars:{sym}:1m");
    let stats = format!("stats:{sym}");
    let mut pending: Vec<(&str, Check)> = vec![
        (
            "the level reduced",
            Box::new(|m: &Value| {
                m["channel"] == book && m["data"]["bids"] == json!([[bid, "5", 1]])
            }),
        ),
        (
            "the bar",
            Box::new(|m: &Value| m["channel"] == bars && m["data"]["volume"] == "2"),
        ),
        (
            "the statistics",
            Box::new(|m: &Value| {
                m["channel"] == stats
                    && m["data"]["volume"] == "2"
                    && m["data"]["open_interest"] == "2"
            }),
        ),
    ];
    let end = Instant::now() + Duration::from_secs(5);
    while !pending.is_empty() {
        assert!(
            Instant::now() < end,
            "missing: {:?}",
            pending.iter().map(|p| p.0).collect::<Vec<_>>()
        );
        let m = next(&mut ws);
        seqs.check(&m);
        pending.retain(|(_, f)| !f(&m));
    }

    // Unsubscribing stops the channel; a new subscription starts with a snapshot at the
    // channel's current number.
    send(
        &mut ws,
        json!({"op": "unsubscribe", "channel": format!("trades:{sym}")}),
    );
    until(&mut ws, &mut seqs, "the unsubscription", |m| {
        m["type"] == "unsubscribed"
    });
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": format!("trades:{sym}")}),
    );
    let snap = until(&mut ws, &mut seqs, "a fresh snapshot", |m| {
        m["type"] == "snapshot" && m["channel"] == format!("trades:{sym}")
    });
    assert_eq!(snap["data"]["trades"][0]["qty"], "2", "{snap}");
}

fn login(s: &Server, ws: &mut Ws, key: &(String, String)) -> Value {
    let ts = tokex_server::api::auth::now_ms();
    let sig = tokex_server::api::auth::sign_with_secret(&key.1, ts, "GET", "/api/v1/ws", b"");
    let _ = s;
    send(
        ws,
        json!({"op": "auth", "key": key.0, "timestamp": ts, "signature": sig}),
    );
    next(ws)
}

#[test]
fn private_channels_need_a_login_and_show_only_the_account() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let k2 = s.trader(2, "trader", "1000000");
    let (sym, reference, _, _) = s.tkf();
    let mut ws = connect(&s);
    send(&mut ws, json!({"op": "subscribe", "channel": "orders"}));
    assert_eq!(next(&mut ws)["code"], "UNAUTHENTICATED");
    let bad = login(&s, &mut ws, &(k1.0.clone(), k2.1.clone()));
    assert_eq!(bad["code"], "INVALID_SIGNATURE", "{bad}");
    let ok = login(&s, &mut ws, &k1);
    assert_eq!(
        (ok["type"].as_str(), ok["account"].as_u64()),
        (Some("authenticated"), Some(1)),
        "{ok}"
    );
    let mut seqs = Seqs::default();
    for ch in ["orders", "fills", "positions", "balances"] {
        send(&mut ws, json!({"op": "subscribe", "channel": ch}));
        // Messages of channels subscribed earlier (or heartbeats) may arrive first.
        let mut m = next(&mut ws);
        while m["channel"].as_str() != Some(ch) {
            if m["channel"].is_string() && m["seq"].is_u64() {
                seqs.check(&m);
            }
            m = next(&mut ws);
        }
        assert_eq!(
            (m["type"].as_str(), m["channel"].as_str()),
            (Some("snapshot"), Some(ch)),
            "{m}"
        );
        seqs.check(&m);
    }
    // Account 2's order is not account 1's business.
    let r = s.call(
        &k2,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": "sell", "price": add_ticks(&reference, 3), "qty": "4"})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // Account 1 buys into it.
    let r = s.call(&k1, "POST", "/api/v1/orders", &json!({"instrument": sym, "side": "buy", "price": add_ticks(&reference, 3), "qty": "3", "client_order_id": "ws-1"}).to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    let o = until(&mut ws, &mut seqs, "my order", |m| m["channel"] == "orders");
    assert_eq!(
        (
            o["data"]["client_order_id"].as_str(),
            o["data"]["status"].as_str(),
            o["data"]["account"].as_u64()
        ),
        (Some("ws-1"), Some("filled"), Some(1)),
        "{o}"
    );
    let f = until(&mut ws, &mut seqs, "my fill", |m| m["channel"] == "fills");
    assert_eq!(
        (
            f["data"]["qty"].as_str(),
            f["data"]["side"].as_str(),
            f["data"]["liquidity"].as_str()
        ),
        (Some("3"), Some("buy"), Some("taker")),
        "{f}"
    );
    let p = until(&mut ws, &mut seqs, "my position", |m| {
        m["channel"] == "positions" && m["type"] == "update"
    });
    assert_eq!(p["data"]["positions"][0]["net"], "3", "{p}");
    let b = until(&mut ws, &mut seqs, "my balance", |m| {
        m["channel"] == "balances" && m["type"] == "update"
    });
    assert_eq!(
        b["data"]["balances"][0]["cash"], "999998.50",
        "taker fee 0.50 x 3: {b}"
    );
    // Nothing of account 2 came through.
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    while let Ok(m) = ws.read() {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert!(
                v["data"]["account"].as_u64() != Some(2) && v["data"]["orders"].is_null(),
                "account 2 leaked: {v}"
            );
            seqs.check(&v);
        }
    }
}

#[test]
fn a_slow_consumer_is_cut_off_and_the_engine_carries_on() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "100000000");
    let (sym, reference, _, _) = s.tkf();
    let inst = s
        .exchange
        .handle
        .query_blocking(move |e| {
            e.instruments()
                .find(|i| i.spec.symbol == sym)
                .map(|i| i.spec.id.0)
        })
        .unwrap()
        .unwrap();
    let price = tokex_types::decimal::Decimal::parse(&reference)
        .unwrap()
        .rescaled(3)
        .unwrap() as i64;
    // A small receive buffer, so the kernel cannot soak up the flood for this client.
    let mut ws = connect_small_buffer(&s);
    let ok = login_cod(&mut ws, &k1, json!(true));
    assert_eq!(ok["cancel_on_disconnect"]["enabled"], true, "{ok}");
    // A resting order the cut-off must cancel (far above the flood's buys).
    let resting = place(&s, &k1, &sym_of(&s), "sell", &add_ticks(&reference, 5), "1");
    send(&mut ws, json!({"op": "subscribe", "channel": "orders"}));
    assert_eq!(next(&mut ws)["type"], "snapshot");
    // Flood: IOC buys with nothing to fill them, each one an update on the orders channel,
    // while this client reads nothing.
    let before = s
        .exchange
        .handle
        .stats()
        .commands
        .load(std::sync::atomic::Ordering::Relaxed);
    let n = 60_000u64;
    let mut sent = 0;
    while sent < n {
        let o = tokex_engine::NewOrder::limit(1, inst, tokex_types::Side::Buy, price - 100, 1)
            .with_tif(tokex_engine::TimeInForce::Ioc);
        match s
            .exchange
            .handle
            .submit_nowait(tokex_engine::Command::NewOrder(o))
        {
            Ok(()) => sent += 1,
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    s.eventually("the engine to apply every order", || {
        s.exchange
            .handle
            .stats()
            .commands
            .load(std::sync::atomic::Ordering::Relaxed)
            >= before + n
    });
    // The feed streams the updates after the engine applied them; the client still reads
    // nothing until the feed has cut it off (its socket buffers full, its queue full).
    let slow_cut = || {
        s.get("/metrics")
            .text
            .lines()
            .any(|l| l.starts_with("tokex_ws_slow_disconnects_total ") && !l.ends_with(" 0"))
    };
    let end = Instant::now() + Duration::from_secs(30);
    while !slow_cut() {
        assert!(Instant::now() < end, "the client was never cut off");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Now read: whatever was buffered, then the close frame with its reason.
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = 0u64;
    let close = loop {
        match ws.read() {
            Ok(Message::Text(_)) => got += 1,
            Ok(Message::Close(f)) => break f,
            Ok(_) => {}
            Err(e) => panic!("connection ended without a close frame after {got} messages: {e}"),
        }
    };
    let f = close.expect("a close frame with a code");
    assert_eq!(u16::from(f.code), 4000, "{f:?}");
    assert!(f.reason.as_str().contains("slow consumer"), "{f:?}");
    assert!(
        got < n,
        "the client was cut off before everything queued ({got} of {n})"
    );
    // The exchange still answers, and the cut-off cancelled the opted-in account's order.
    assert_eq!(s.call(&k1, "GET", "/api/v1/balances", "").status, 200);
    wait_cancelled(&s, &k1, &resting);
}

// ----- cancel on disconnect ------------------------------------------------------------------

fn sym_of(s: &Server) -> String {
    s.tkf().0
}

/// Logs in with a `cancel_on_disconnect` field; answers the `authenticated` reply.
fn login_cod(ws: &mut Ws, key: &(String, String), cod: Value) -> Value {
    let ts = tokex_server::api::auth::now_ms();
    let sig = tokex_server::api::auth::sign_with_secret(&key.1, ts, "GET", "/api/v1/ws", b"");
    send(
        ws,
        json!({"op": "auth", "key": key.0, "timestamp": ts, "signature": sig, "cancel_on_disconnect": cod}),
    );
    next(ws)
}

/// Places a resting limit order over REST; answers its id.
fn place(
    s: &Server,
    key: &(String, String),
    sym: &str,
    side: &str,
    price: &str,
    qty: &str,
) -> String {
    let r = s.call(
        key,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": side, "price": price, "qty": qty}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["order"]["status"], "working", "{}", r.text);
    r.body["order"]["order_id"].as_str().unwrap().to_string()
}

/// (status, cancel_reason) of an order, as REST shows it.
fn order_state(s: &Server, key: &(String, String), id: &str) -> (String, Value) {
    let r = s.call(key, "GET", &format!("/api/v1/orders/{id}"), "");
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.body["status"].as_str().unwrap_or("").to_string(),
        r.body["cancel_reason"].clone(),
    )
}

fn wait_cancelled(s: &Server, key: &(String, String), id: &str) {
    s.eventually(&format!("order {id} cancelled"), || {
        order_state(s, key, id).0 == "cancelled"
    });
    assert_eq!(
        order_state(s, key, id),
        ("cancelled".to_string(), json!("mass_cancel"))
    );
}

/// Waits long enough for a wrongly fired cancel to show, then checks the order still works.
fn still_working(s: &Server, key: &(String, String), id: &str) {
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(order_state(s, key, id).0, "working", "order {id}");
}

/// A client close: close frame, then the server's reply.
fn close(mut ws: Ws) {
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn cancel_on_disconnect_cancels_the_accounts_orders_when_the_socket_closes() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let k2 = s.trader(2, "trader", "1000000");
    let (sym, reference, _, _) = s.tkf();

    let mut ws1 = connect(&s);
    let ok = login_cod(&mut ws1, &k1, json!(true));
    assert_eq!(
        (
            ok["type"].as_str(),
            ok["cancel_on_disconnect"]["enabled"].as_bool(),
            ok["cancel_on_disconnect"]["account"].as_u64(),
            ok["cancel_on_disconnect"]["instruments"].is_null(),
            ok["cancel_on_disconnect"]["connections"].as_u64(),
        ),
        (Some("authenticated"), Some(true), Some(1), true, Some(1)),
        "{ok}"
    );
    // Account 2 logs in without opting in.
    let mut ws2 = connect(&s);
    let ok2 = login(&s, &mut ws2, &k2);
    assert_eq!(ok2["cancel_on_disconnect"], false, "{ok2}");

    let b1 = place(&s, &k1, &sym, "buy", &add_ticks(&reference, -5), "2");
    let a1 = place(&s, &k1, &sym, "sell", &add_ticks(&reference, 5), "3");
    let b2 = place(&s, &k2, &sym, "buy", &add_ticks(&reference, -6), "4");
    still_working(&s, &k1, &b1);

    close(ws1);
    wait_cancelled(&s, &k1, &b1);
    wait_cancelled(&s, &k1, &a1);
    assert_eq!(order_state(&s, &k2, &b2).0, "working", "not account 1's");

    // Without the opt-in, closing leaves the orders alone.
    close(ws2);
    still_working(&s, &k2, &b2);

    // The cancel went through the journal: a replay of it gives the live state.
    let live = s.state_hash();
    let (replayed, _) = tokex_server::recovery::replay(&s.config.journal_dir()).unwrap();
    assert_eq!(replayed.state_hash(), live);
    let book = s.get(&format!("/api/v1/instruments/{sym}/book"));
    assert_eq!(book.body["asks"], json!([]), "{}", book.text);
}

#[test]
fn cancel_on_disconnect_on_an_abrupt_drop_and_on_a_silent_client() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let (sym, reference, _, _) = s.tkf();

    // Opt in after the login, for one instrument; then the TCP connection just ends (no close
    // frame).
    let mut ws = connect(&s);
    assert_eq!(login(&s, &mut ws, &k1)["type"], "authenticated");
    send(
        &mut ws,
        json!({"op": "cancel_on_disconnect", "enabled": true, "instruments": [sym]}),
    );
    let r = next(&mut ws);
    assert_eq!(
        (
            r["type"].as_str(),
            r["enabled"].as_bool(),
            r["channel"].as_str()
        ),
        (Some("cancel_on_disconnect"), Some(true), Some("session")),
        "{r}"
    );
    assert_eq!(r["instruments"], json!([sym]), "{r}");
    let o1 = place(&s, &k1, &sym, "buy", &add_ticks(&reference, -5), "1");
    still_working(&s, &k1, &o1);
    ws.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
    drop(ws);
    wait_cancelled(&s, &k1, &o1);

    // A client that goes silent (the network vanished without a FIN) is closed after its
    // timeout, and that close cancels too.
    let mut ws = connect(&s);
    let ok = login_cod(&mut ws, &k1, json!({"timeout_secs": 1}));
    assert_eq!(ok["cancel_on_disconnect"]["timeout_secs"], 1, "{ok}");
    let o2 = place(&s, &k1, &sym, "sell", &add_ticks(&reference, 5), "1");
    let t0 = Instant::now();
    let frame = loop {
        match ws.read() {
            Ok(Message::Close(f)) => break f.expect("a close frame with a reason"),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    assert!(frame.reason.as_str().contains("idle for 1 s"), "{frame:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    wait_cancelled(&s, &k1, &o2);
}

#[test]
fn cancel_on_disconnect_waits_for_the_last_connection_covering_the_order() {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let list = s.get("/api/v1/instruments?product=TKF");
    let inst = |i: usize, k: &str| list.body["instruments"][i][k].as_str().unwrap().to_string();
    let (sa, ra) = (inst(0, "symbol"), inst(0, "reference_price"));
    let (sb, rb) = (inst(1, "symbol"), inst(1, "reference_price"));

    // Errors first: no login, an unknown instrument, a bad timeout. None opts in.
    let mut ws = connect(&s);
    send(
        &mut ws,
        json!({"op": "cancel_on_disconnect", "enabled": true}),
    );
    assert_eq!(next(&mut ws)["code"], "UNAUTHENTICATED");
    let bad = login_cod(&mut ws, &k1, json!({"instruments": ["NOPE-2026-01"]}));
    assert_eq!(bad["code"], "UNKNOWN_INSTRUMENT", "{bad}");
    assert_eq!(login(&s, &mut ws, &k1)["type"], "authenticated");
    send(
        &mut ws,
        json!({"op": "cancel_on_disconnect", "timeout_secs": 0}),
    );
    assert_eq!(next(&mut ws)["code"], "INVALID_FIELD");
    // Opting in then out: the close cancels nothing.
    send(&mut ws, json!({"op": "cancel_on_disconnect"}));
    assert_eq!(next(&mut ws)["enabled"], true);
    send(
        &mut ws,
        json!({"op": "cancel_on_disconnect", "enabled": false}),
    );
    let off = next(&mut ws);
    assert_eq!(
        (off["enabled"].as_bool(), off["connections"].as_u64()),
        (Some(false), Some(0)),
        "{off}"
    );
    let oa = place(&s, &k1, &sa, "buy", &add_ticks(&ra, -5), "1");
    let ob = place(&s, &k1, &sb, "buy", &add_ticks(&rb, -5), "1");
    close(ws);
    still_working(&s, &k1, &oa);

    // A: the whole account; B: instrument a only.
    let mut wa = connect(&s);
    assert_eq!(
        login_cod(&mut wa, &k1, json!(true))["cancel_on_disconnect"]["connections"],
        1
    );
    let mut wb = connect(&s);
    let rb_ = login_cod(&mut wb, &k1, json!({"instruments": [sa]}));
    assert_eq!(rb_["cancel_on_disconnect"]["connections"], 2, "{rb_}");
    // B leaves: A still covers everything.
    close(wb);
    still_working(&s, &k1, &oa);
    assert_eq!(order_state(&s, &k1, &ob).0, "working");
    // B again; then A leaves: what B does not cover (instrument b) goes, a stays.
    let mut wb = connect(&s);
    login_cod(&mut wb, &k1, json!({"instruments": [sa]}));
    close(wa);
    wait_cancelled(&s, &k1, &ob);
    still_working(&s, &k1, &oa);
    // The last connection covering a leaves.
    drop(wb);
    wait_cancelled(&s, &k1, &oa);
}
