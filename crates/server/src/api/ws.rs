//! The WebSocket endpoint `/api/v1/ws`.
//!
//! Client → server (JSON text frames):
//! - `{"op": "subscribe", "channel": "book:TKF-2026-12"}` / `{"op": "unsubscribe", ...}`
//! - `{"op": "auth", "key": ..., "timestamp": ms, "signature": hex}` — the signature of
//!   `timestamp + "GET" + "/api/v1/ws"` (empty body), as for REST; needed for the private
//!   channels `orders`, `fills`, `positions`, `balances`. An optional
//!   `"cancel_on_disconnect"` (see below) opts in at the same time.
//! - `{"op": "cancel_on_disconnect", "enabled": true, "instruments": [...], "timeout_secs": n}`
//! - `{"op": "ping"}` → `{"type": "pong"}`
//!
//! Server → client: `snapshot` then `update`s per channel, each with the channel's `seq`;
//! `resync` when the server lost track (subscribe again). Connection-level messages
//! (`heartbeat` every [`HEARTBEAT_SECS`] seconds, `pong`, `authenticated`,
//! `cancel_on_disconnect`, `unsubscribed`, `error`) are on the `session` channel with its own
//! `seq`. A client whose queue fills up is closed with code 4000 and the reason.
//!
//! **Cancel on disconnect.** An authenticated connection may opt in; when it closes for any
//! reason (close frame, TCP reset or FIN, idle timeout, slow-consumer cut-off, write timeout,
//! server error, even a panic of its task) the server submits ordinary `MassCancel` commands
//! for the account through the sequencer, so they are journaled and replay reproduces them.
//! The rule across connections: an order is cancelled when no open opted-in connection of its
//! account *covers* its instrument any more (a connection covers the whole account, or the
//! instruments it listed). With one opted-in connection per account, that is simply "its
//! orders are cancelled when it closes"; with several, the last one to close cancels. The
//! registry is [`CancelOnDisconnect`].

use super::auth::{self, Principal, SignedParts};
use super::errors::*;
use super::market::{ClientHandle, Control};
use super::Shared;
use crate::SubmitError;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokex_engine::{Command, Event, MassCancel};
use tokex_types::{AccountId, InstrumentId};

pub const HEARTBEAT_SECS: u64 = 10;
/// A client that sends nothing (not even a ping) for this long is closed.
pub const IDLE_SECS: u64 = 60;
/// Channels one connection may subscribe to.
pub const SUBSCRIPTIONS_MAX: usize = 200;
/// A write that does not complete in this time closes the connection.
pub const SEND_TIMEOUT_SECS: u64 = 5;
/// Close code for a client cut off for being slow.
pub const CLOSE_SLOW: u16 = 4000;
/// Instruments one cancel-on-disconnect opt-in may list.
pub const COD_INSTRUMENTS_MAX: usize = 100;
/// Queued messages written to the socket with one flush: under load a subscriber gets its
/// updates in a few large writes instead of one system call per message.
const WRITE_BURST: usize = 64;

pub async fn upgrade(State(st): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            // The connection lives on the WebSocket runtime; only the upgrade ran here.
            ws_runtime().spawn(client(st, socket));
        })
}

/// The runtime every WebSocket connection runs on, apart from the one serving REST.
///
/// With a thousand subscribers one book update wakes a thousand connection tasks, each with
/// a socket write to make. On the REST runtime those tasks would queue ahead of the handlers
/// waiting to acknowledge orders, and the order path would slow down with every subscriber.
/// On threads of their own, the operating system shares the CPU between order entry and
/// market data instead; if the writers then fall behind, their queues fill and slow
/// subscribers are cut off (close 4000), which is the intended way for market data to give.
/// Sockets accepted by the REST runtime stay registered with its I/O driver; their tasks are
/// simply polled here.
pub fn ws_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        let threads = std::thread::available_parallelism()
            .map(|n| (n.get() / 2).max(1))
            .unwrap_or(1);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("ws-writer")
            .enable_all()
            .build()
            .expect("the WebSocket runtime starts")
    })
}

fn error(code: &str, message: impl Into<String>) -> Value {
    json!({"type": "error", "code": code, "message": message.into()})
}

/// Stamps a connection-level message (heartbeat, pong, login, errors) with the `session`
/// channel and its sequence number.
fn session(mut v: Value, seq: &mut u64) -> Message {
    *seq += 1;
    v["channel"] = json!("session");
    v["seq"] = json!(*seq);
    Message::Text(v.to_string().into())
}

// ----- cancel on disconnect -----------------------------------------------------------------

/// What an opted-in connection protects: every order of its account, or the account's orders
/// on some instruments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodScope {
    Account,
    Instruments(BTreeSet<u32>),
}

/// What to cancel when a connection leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodPlan {
    /// Every working order of the account.
    Account(u32),
    /// Every working order of the account except on these instruments, which another open
    /// connection still covers.
    AccountExcept(u32, BTreeSet<u32>),
    /// The account's working orders on these instruments.
    Instruments(u32, BTreeSet<u32>),
}

/// The opted-in connections, per account. A connection is in here from its opt-in until it
/// closes, opts out or logs in again.
#[derive(Default)]
pub struct CancelOnDisconnect {
    by_account: Mutex<HashMap<u32, Vec<(u64, CodScope)>>>,
    /// Mass-cancel commands submitted because a connection closed.
    pub submitted: AtomicU64,
    /// Orders those commands cancelled.
    pub cancelled: AtomicU64,
}

impl CancelOnDisconnect {
    /// Registers (or replaces) connection `conn`'s opt-in; returns how many connections of the
    /// account are now opted in.
    pub fn register(&self, conn: u64, account: u32, scope: CodScope) -> usize {
        let mut m = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
        for list in m.values_mut() {
            list.retain(|(c, _)| *c != conn);
        }
        m.retain(|_, l| !l.is_empty());
        let list = m.entry(account).or_default();
        list.push((conn, scope));
        list.len()
    }

    /// Removes `conn`'s opt-in without cancelling anything (the client opted out or logged in
    /// again).
    pub fn unregister(&self, conn: u64) {
        let mut m = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
        for list in m.values_mut() {
            list.retain(|(c, _)| *c != conn);
        }
        m.retain(|_, l| !l.is_empty());
    }

    /// Connections of `account` opted in now.
    pub fn connections(&self, account: u32) -> usize {
        let m = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&account).map_or(0, |l| l.len())
    }

    /// `conn` has closed: removes it and says what is no longer covered by any other opted-in
    /// connection of its account (None: nothing to cancel).
    pub fn leave(&self, conn: u64) -> Option<CodPlan> {
        let mut m = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
        let (account, scope) = m.iter_mut().find_map(|(a, list)| {
            let i = list.iter().position(|(c, _)| *c == conn)?;
            Some((*a, list.remove(i).1))
        })?;
        let rest = m.get(&account).cloned().unwrap_or_default();
        if rest.is_empty() {
            m.remove(&account);
        }
        drop(m);
        if rest.iter().any(|(_, s)| *s == CodScope::Account) {
            return None;
        }
        let covered: BTreeSet<u32> = rest
            .iter()
            .flat_map(|(_, s)| match s {
                CodScope::Instruments(i) => i.iter().copied().collect(),
                CodScope::Account => Vec::new(),
            })
            .collect();
        match scope {
            CodScope::Account if covered.is_empty() => Some(CodPlan::Account(account)),
            CodScope::Account => Some(CodPlan::AccountExcept(account, covered)),
            CodScope::Instruments(mine) => {
                let left: BTreeSet<u32> = mine.difference(&covered).copied().collect();
                (!left.is_empty()).then_some(CodPlan::Instruments(account, left))
            }
        }
    }
}

/// Submits the mass cancels of `plan` through the sequencer (journaled like any command).
/// An overloaded queue is retried until the exchange takes the command or stops: a cancel
/// the trader was promised must not be dropped because the exchange was busy.
async fn cancel_on_disconnect(st: Shared, conn: u64, why: String, plan: CodPlan) {
    let mass = |account: u32, instrument: Option<u32>| MassCancel {
        account: Some(AccountId(account)),
        instrument: instrument.map(InstrumentId),
        product: None,
        side: None,
    };
    let (account, commands) = match &plan {
        CodPlan::Account(a) => (*a, vec![mass(*a, None)]),
        CodPlan::Instruments(a, set) => (*a, set.iter().map(|i| mass(*a, Some(*i))).collect()),
        CodPlan::AccountExcept(a, except) => {
            // The feed knows each working order's instrument; let it see everything durable
            // first so no order acknowledged before the close is missed.
            let target = st.handle.stats().last_seq.load(Ordering::Relaxed);
            st.market.wait_for(target).await;
            let instruments: BTreeSet<u32> = st
                .market
                .data
                .lock()
                .map(|d| {
                    d.account_orders
                        .get(a)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| d.orders.get(id).map(|o| o.instrument))
                        .filter(|i| !except.contains(i))
                        .collect()
                })
                .unwrap_or_default();
            (
                *a,
                instruments.into_iter().map(|i| mass(*a, Some(i))).collect(),
            )
        }
    };
    let mut cancelled = 0usize;
    for m in commands {
        let mut backoff = Duration::from_millis(1);
        loop {
            match st.handle.submit(Command::MassCancel(m.clone())).await {
                Ok(out) => {
                    st.cod.submitted.fetch_add(1, Ordering::Relaxed);
                    match &out.result {
                        Ok(()) => {
                            let n = out
                                .events
                                .iter()
                                .filter(|e| matches!(e, Event::OrderCancelled { .. }))
                                .count();
                            cancelled += n;
                            st.cod.cancelled.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(r) => {
                            tracing::warn!(account, conn, reject = %r, "cancel on disconnect rejected")
                        }
                    }
                    break;
                }
                Err(SubmitError::Overloaded) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
                Err(SubmitError::Stopped) => {
                    tracing::warn!(
                        account,
                        conn,
                        "cancel on disconnect not submitted: the exchange has stopped"
                    );
                    return;
                }
            }
        }
    }
    tracing::info!(account, conn, cancelled, why = %why, "cancel on disconnect");
}

/// Runs when the connection's task ends however it ends (including a panic): tells the feed
/// the client is gone and fires cancel-on-disconnect.
struct Departure {
    st: Shared,
    conn: u64,
    why: String,
}

impl Drop for Departure {
    fn drop(&mut self) {
        let _ = self
            .st
            .market
            .control
            .send(Control::Gone { client: self.conn });
        let Some(plan) = self.st.cod.leave(self.conn) else {
            return;
        };
        let why = std::mem::take(&mut self.why);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(cancel_on_disconnect(self.st.clone(), self.conn, why, plan));
            }
            Err(_) => tracing::error!(
                conn = self.conn,
                ?plan,
                "cancel on disconnect lost: no runtime to submit it"
            ),
        }
    }
}

/// One connection's login state.
struct Conn {
    id: u64,
    principal: Option<Principal>,
    subs: HashSet<String>,
    /// The connection's cancel-on-disconnect scope when opted in.
    cod: Option<CodScope>,
    /// Silence from the client longer than this closes the connection.
    idle_limit: Duration,
}

// ----- the connection ------------------------------------------------------------------------

async fn client(st: Shared, socket: WebSocket) {
    let id = st.next_client.fetch_add(1, Ordering::Relaxed);
    let (handle, mut rx) = ClientHandle::new(id);
    st.market.stats.clients.fetch_add(1, Ordering::Relaxed);
    let mut departure = Departure {
        st: st.clone(),
        conn: id,
        why: "server error".into(),
    };
    let (mut sink, mut stream) = socket.split();
    let mut conn = Conn {
        id,
        principal: None,
        subs: HashSet::new(),
        cod: None,
        idle_limit: Duration::from_secs(IDLE_SECS),
    };
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    heartbeat.tick().await;
    let idle = tokio::time::sleep(conn.idle_limit);
    tokio::pin!(idle);
    let mut session_seq = 0u64;
    let send_timeout = Duration::from_secs(SEND_TIMEOUT_SECS);
    let close_with = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.chars().take(120).collect::<String>().into(),
        }))
    };
    let mut burst: Vec<Message> = Vec::with_capacity(WRITE_BURST);
    loop {
        // Ordered: a cut-off first, then what the client says, then the timers, and only then
        // queued market data, so a busy feed never starves the idle check or the heartbeat.
        tokio::select! {
            biased;
            _ = handle.wake.notified() => {
                if handle.cut.load(Ordering::Acquire) {
                    let reason = handle.reason.lock().map(|r| r.clone()).unwrap_or_default();
                    departure.why = reason.clone();
                    let _ = tokio::time::timeout(send_timeout, sink.send(close_with(CLOSE_SLOW, reason))).await;
                    break;
                }
            }
            m = stream.next() => {
                match m {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(v) = on_text(&st, &handle, &mut conn, t.as_str()) {
                            burst.push(session(v, &mut session_seq));
                        }
                    }
                    Some(Ok(Message::Binary(_))) => burst.push(session(error(INVALID_FIELD, "send JSON text frames"), &mut session_seq)),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) => {
                        departure.why = "closed by the client".into();
                        break;
                    }
                    Some(Err(e)) => {
                        departure.why = format!("connection lost: {e}");
                        break;
                    }
                    None => {
                        departure.why = "connection lost without a close frame".into();
                        break;
                    }
                }
                idle.as_mut().reset(tokio::time::Instant::now() + conn.idle_limit);
            }
            _ = &mut idle => {
                let reason = format!("idle for {} s: send a ping", conn.idle_limit.as_secs());
                departure.why = reason.clone();
                let _ = tokio::time::timeout(send_timeout, sink.send(close_with(1000, reason))).await;
                break;
            }
            _ = heartbeat.tick() => {
                burst.push(session(json!({"type": "heartbeat", "time_ms": auth::now_ms()}), &mut session_seq));
            }
            m = rx.recv() => match m {
                Some(msg) => {
                    if handle.cut.load(Ordering::Acquire) {
                        continue;
                    }
                    burst.push(Message::Text(msg.as_ref().into()));
                    while burst.len() < WRITE_BURST {
                        match rx.try_recv() {
                            Ok(msg) => burst.push(Message::Text(msg.as_ref().into())),
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
        }
        if burst.is_empty() {
            continue;
        }
        let write = async {
            for m in burst.drain(..) {
                sink.feed(m).await?;
            }
            sink.flush().await
        };
        // A client that stops reading stalls the write; the feed then fills its queue and
        // cuts it off, which must end the wait so the close frame with the reason follows the
        // data already buffered.
        let written = tokio::select! {
            r = tokio::time::timeout(send_timeout, write) => Some(r),
            _ = handle.wake.notified() => None,
        };
        match written {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => {
                departure.why = format!("write failed: {e}");
                break;
            }
            Some(Err(_)) => {
                departure.why = format!("a write took more than {SEND_TIMEOUT_SECS} s");
                break;
            }
            None => {
                let reason = handle.reason.lock().map(|r| r.clone()).unwrap_or_default();
                departure.why = reason.clone();
                let _ =
                    tokio::time::timeout(send_timeout, sink.send(close_with(CLOSE_SLOW, reason)))
                        .await;
                break;
            }
        }
    }
    drop(departure);
}

/// A cancel-on-disconnect request: `true`/`false`, or an object with `enabled` (default
/// true), `instruments` (symbols; default the whole account) and `timeout_secs`.
struct CodRequest {
    enabled: bool,
    scope: CodScope,
    timeout_secs: Option<u64>,
}

fn parse_cod(st: &Shared, v: &Value) -> Result<CodRequest, Value> {
    if let Some(b) = v.as_bool() {
        return Ok(CodRequest {
            enabled: b,
            scope: CodScope::Account,
            timeout_secs: None,
        });
    }
    if !v.is_object() {
        return Err(error(
            INVALID_FIELD,
            "cancel_on_disconnect is true, false or {\"enabled\", \"instruments\", \"timeout_secs\"}",
        ));
    }
    let enabled = match v.get("enabled") {
        None => true,
        Some(b) => b
            .as_bool()
            .ok_or_else(|| error(INVALID_FIELD, "`enabled` is true or false"))?,
    };
    let scope = match v.get("instruments") {
        None | Some(Value::Null) => CodScope::Account,
        Some(Value::Array(list)) => {
            if list.is_empty() || list.len() > COD_INSTRUMENTS_MAX {
                return Err(error(INVALID_FIELD, format!("`instruments` lists 1 to {COD_INSTRUMENTS_MAX} symbols; leave it out for every instrument of the account")));
            }
            let d = st
                .market
                .data
                .lock()
                .map_err(|_| error(INTERNAL, "market data poisoned"))?;
            let mut set = BTreeSet::new();
            for s in list {
                let Some(sym) = s.as_str() else {
                    return Err(error(INVALID_FIELD, "`instruments` are symbols (strings)"));
                };
                let Some(i) = d.by_symbol.get(sym) else {
                    return Err(error(
                        tokex_engine::RejectCode::UnknownInstrument.as_str(),
                        format!("no instrument {sym:?}"),
                    ));
                };
                set.insert(*i);
            }
            CodScope::Instruments(set)
        }
        Some(_) => return Err(error(INVALID_FIELD, "`instruments` is a list of symbols")),
    };
    let timeout_secs = match v.get("timeout_secs") {
        None | Some(Value::Null) => None,
        Some(t) => match t.as_u64() {
            Some(n) if (1..=IDLE_SECS).contains(&n) => Some(n),
            _ => {
                return Err(error(
                    INVALID_FIELD,
                    format!("`timeout_secs` is a whole number of seconds from 1 to {IDLE_SECS}"),
                ))
            }
        },
    };
    Ok(CodRequest {
        enabled,
        scope,
        timeout_secs,
    })
}

/// Applies an opt-in or opt-out to the connection; the reply describes the result.
fn apply_cod(st: &Shared, conn: &mut Conn, account: u32, req: CodRequest) -> Value {
    if req.enabled {
        let timeout = req.timeout_secs.unwrap_or(IDLE_SECS);
        let n = st.cod.register(conn.id, account, req.scope.clone());
        conn.idle_limit = Duration::from_secs(timeout);
        let instruments = match &req.scope {
            CodScope::Account => Value::Null,
            CodScope::Instruments(set) => {
                let d = st.market.data.lock();
                json!(set
                    .iter()
                    .map(|i| d
                        .as_ref()
                        .ok()
                        .and_then(|d| d.instruments.get(*i as usize))
                        .map(|x| x.spec.symbol.clone()))
                    .collect::<Vec<_>>())
            }
        };
        conn.cod = Some(req.scope);
        json!({"enabled": true, "account": account, "instruments": instruments,
               "timeout_secs": timeout, "connections": n})
    } else {
        st.cod.unregister(conn.id);
        conn.cod = None;
        conn.idle_limit = Duration::from_secs(IDLE_SECS);
        json!({"enabled": false, "account": account, "connections": st.cod.connections(account)})
    }
}

fn on_text(st: &Shared, handle: &ClientHandle, conn: &mut Conn, t: &str) -> Option<Value> {
    let v: Value = match serde_json::from_str(t) {
        Ok(v) => v,
        Err(e) => return Some(error(MALFORMED_JSON, format!("not JSON: {e}"))),
    };
    let op = v.get("op").and_then(|o| o.as_str()).unwrap_or("");
    match op {
        "ping" => Some(json!({"type": "pong", "time_ms": auth::now_ms()})),
        "auth" => {
            let s = |k: &str| {
                v.get(k).map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
            };
            // Checked before the signature so a bad opt-in changes nothing.
            let cod = match v.get("cancel_on_disconnect") {
                None => None,
                Some(c) => match parse_cod(st, c) {
                    Ok(r) => Some(r),
                    Err(e) => return Some(e),
                },
            };
            let (key, ts, sig, win) = (s("key"), s("timestamp"), s("signature"), s("recv_window"));
            let parts = SignedParts {
                key: key.as_deref(),
                timestamp: ts.as_deref(),
                signature: sig.as_deref(),
                recv_window: win.as_deref(),
                method: "GET",
                path_and_query: "/api/v1/ws",
                body: b"",
            };
            match st.guard.verify(&st.keys, &parts, auth::now_ms()) {
                Ok(p) if p.account.is_some() => {
                    let account = p.account.unwrap_or_default();
                    // A new login ends the previous opt-in (without cancelling anything).
                    if conn.cod.take().is_some() {
                        st.cod.unregister(conn.id);
                        conn.idle_limit = Duration::from_secs(IDLE_SECS);
                    }
                    let mut reply = json!({"type": "authenticated", "account": p.account, "role": p.role.as_str(), "cancel_on_disconnect": false});
                    if let Some(r) = cod.filter(|r| r.enabled) {
                        reply["cancel_on_disconnect"] = apply_cod(st, conn, account, r);
                    }
                    conn.principal = Some(p);
                    Some(reply)
                }
                Ok(_) => Some(error(FORBIDDEN, "this key is not bound to an account: private channels need a trader or market-maker key")),
                Err(e) => Some(error(e.code, e.message)),
            }
        }
        "cancel_on_disconnect" => {
            let Some(account) = conn.principal.as_ref().and_then(|p| p.account) else {
                return Some(error(
                    UNAUTHENTICATED,
                    "cancel on disconnect protects an account's orders: send {\"op\":\"auth\",...} first",
                ));
            };
            let mut req = v.clone();
            if let Some(o) = req.as_object_mut() {
                o.remove("op");
            }
            match parse_cod(st, &req) {
                Ok(r) => {
                    let mut reply = apply_cod(st, conn, account, r);
                    reply["type"] = json!("cancel_on_disconnect");
                    Some(reply)
                }
                Err(e) => Some(e),
            }
        }
        "subscribe" | "unsubscribe" => {
            let Some(channel) = v.get("channel").and_then(|c| c.as_str()) else {
                return Some(error(MISSING_FIELD, "missing field `channel`"));
            };
            let kind = match st.market.parse_channel(channel) {
                Ok(k) => k,
                Err(e) => return Some(error(INVALID_FIELD, e)),
            };
            let account = if kind.is_private() {
                match conn.principal.as_ref().and_then(|p| p.account) {
                    Some(a) => Some(a),
                    None => {
                        return Some(error(
                            UNAUTHENTICATED,
                            format!(
                            "channel {channel:?} is private: send {{\"op\":\"auth\",...}} first"
                        ),
                        ))
                    }
                }
            } else {
                None
            };
            if op == "subscribe" {
                if conn.subs.len() >= SUBSCRIPTIONS_MAX && !conn.subs.contains(channel) {
                    return Some(error(
                        INVALID_FIELD,
                        format!("at most {SUBSCRIPTIONS_MAX} subscriptions per connection"),
                    ));
                }
                conn.subs.insert(channel.to_string());
                let _ = st.market.control.send(Control::Subscribe {
                    client: handle.clone(),
                    channel: channel.to_string(),
                    account,
                });
                None
            } else {
                conn.subs.remove(channel);
                let _ = st.market.control.send(Control::Unsubscribe {
                    client: handle.id,
                    channel: channel.to_string(),
                    account,
                });
                Some(json!({"type": "unsubscribed", "subscription": channel}))
            }
        }
        "" => Some(error(MISSING_FIELD, "missing field `op`")),
        other => Some(error(
            INVALID_FIELD,
            format!(
                "unknown op {other:?}: subscribe, unsubscribe, auth, cancel_on_disconnect, ping"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insts(v: &[u32]) -> CodScope {
        CodScope::Instruments(v.iter().copied().collect())
    }

    #[test]
    fn the_last_connection_covering_an_order_cancels_it() {
        let r = CancelOnDisconnect::default();
        // One connection: its close cancels the account.
        r.register(1, 7, CodScope::Account);
        assert_eq!(r.leave(1), Some(CodPlan::Account(7)));
        assert_eq!(r.leave(1), None, "only once");
        // Two account-wide connections: the second to close cancels.
        r.register(1, 7, CodScope::Account);
        assert_eq!(r.register(2, 7, CodScope::Account), 2);
        assert_eq!(r.leave(1), None);
        assert_eq!(r.leave(2), Some(CodPlan::Account(7)));
        // Another account's connection is no cover.
        r.register(1, 7, CodScope::Account);
        r.register(2, 8, CodScope::Account);
        assert_eq!(r.leave(1), Some(CodPlan::Account(7)));
        assert_eq!(r.leave(2), Some(CodPlan::Account(8)));
        // Mixed scopes: the account-wide one leaves what the instrument one still covers.
        r.register(1, 7, CodScope::Account);
        r.register(2, 7, insts(&[3, 4]));
        r.register(3, 7, insts(&[4, 5]));
        assert_eq!(r.leave(2), None, "covered by the account-wide connection");
        assert_eq!(
            r.leave(1),
            Some(CodPlan::AccountExcept(7, [4, 5].into_iter().collect()))
        );
        assert_eq!(r.leave(3), Some(CodPlan::Instruments(7, [4, 5].into())));
        r.register(2, 7, insts(&[3, 4]));
        r.register(3, 7, insts(&[4, 5]));
        assert_eq!(r.leave(2), Some(CodPlan::Instruments(7, [3].into())));
        assert_eq!(r.leave(3), Some(CodPlan::Instruments(7, [4, 5].into())));
        // Opting out, or registering again elsewhere, leaves nothing behind.
        r.register(1, 7, CodScope::Account);
        r.unregister(1);
        assert_eq!(r.leave(1), None);
        r.register(1, 7, CodScope::Account);
        r.register(1, 8, insts(&[2]));
        assert_eq!(r.connections(7), 0);
        assert_eq!(r.leave(1), Some(CodPlan::Instruments(8, [2].into())));
        assert!(r.by_account.lock().unwrap().is_empty());
    }
}
