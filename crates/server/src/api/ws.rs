//! The WebSocket endpoint `/api/v1/ws`.
//!
//! Client → server (JSON text frames):
//! - `{"op": "subscribe", "channel": "book:TKF-2026-12"}` / `{"op": "unsubscribe", ...}`
//! - `{"op": "auth", "key": ..., "timestamp": ms, "signature": hex}` — the signature of
//!   `timestamp + "GET" + "/api/v1/ws"` (empty body), as for REST; needed for the private
//!   channels `orders`, `fills`, `positions`, `balances`.
//! - `{"op": "ping"}` → `{"type": "pong"}`
//!
//! Server → client: `snapshot` then `update`s per channel, each with the channel's `seq`;
//! `resync` when the server lost track (subscribe again). Connection-level messages
//! (`heartbeat` every [`HEARTBEAT_SECS`] seconds, `pong`, `authenticated`, `unsubscribed`,
//! `error`) are on the `session` channel with its own `seq`. A client whose queue fills
//! up is closed with code 4000 and the reason.

use super::auth::{self, Principal, SignedParts};
use super::errors::*;
use super::market::{ClientHandle, Control};
use super::Shared;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub const HEARTBEAT_SECS: u64 = 10;
/// A client that sends nothing (not even a pong) for this long is closed.
pub const IDLE_SECS: u64 = 60;
/// Channels one connection may subscribe to.
pub const SUBSCRIPTIONS_MAX: usize = 200;
/// A write that does not complete in this time closes the connection.
pub const SEND_TIMEOUT_SECS: u64 = 5;
/// Close code for a client cut off for being slow.
pub const CLOSE_SLOW: u16 = 4000;

pub async fn upgrade(State(st): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| client(st, socket))
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

async fn client(st: Shared, socket: WebSocket) {
    let id = st.next_client.fetch_add(1, Ordering::Relaxed);
    let (handle, mut rx) = ClientHandle::new(id);
    st.market.stats.clients.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let mut principal: Option<Principal> = None;
    let mut subs: HashSet<String> = HashSet::new();
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    heartbeat.tick().await;
    let mut session_seq = 0u64;
    let mut last_heard = Instant::now();
    let send_timeout = Duration::from_secs(SEND_TIMEOUT_SECS);
    let close_with = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.chars().take(120).collect::<String>().into(),
        }))
    };
    loop {
        let out: Option<Message> = tokio::select! {
            biased;
            _ = handle.wake.notified() => {
                if handle.cut.load(Ordering::Acquire) {
                    let reason = handle.reason.lock().map(|r| r.clone()).unwrap_or_default();
                    let _ = tokio::time::timeout(send_timeout, sink.send(close_with(CLOSE_SLOW, reason))).await;
                    break;
                }
                None
            }
            m = stream.next() => {
                last_heard = Instant::now();
                match m {
                    Some(Ok(Message::Text(t))) => on_text(&st, &handle, &mut principal, &mut subs, t.as_str()).map(|v| session(v, &mut session_seq)),
                    Some(Ok(Message::Binary(_))) => Some(session(error(INVALID_FIELD, "send JSON text frames"), &mut session_seq)),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                }
            }
            m = rx.recv() => match m {
                Some(msg) if !handle.cut.load(Ordering::Acquire) => Some(Message::Text(msg.as_ref().into())),
                Some(_) => continue,
                None => break,
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > Duration::from_secs(IDLE_SECS) {
                    let _ = tokio::time::timeout(send_timeout, sink.send(close_with(1000, format!("idle for {IDLE_SECS} s: send a ping")))).await;
                    break;
                }
                Some(session(json!({"type": "heartbeat", "time_ms": auth::now_ms()}), &mut session_seq))
            }
        };
        if let Some(m) = out {
            match tokio::time::timeout(send_timeout, sink.send(m)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    }
    let _ = st.market.control.send(Control::Gone { client: id });
}

fn on_text(
    st: &Shared,
    handle: &ClientHandle,
    principal: &mut Option<Principal>,
    subs: &mut HashSet<String>,
    t: &str,
) -> Option<Value> {
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
                    let reply = json!({"type": "authenticated", "account": p.account, "role": p.role.as_str()});
                    *principal = Some(p);
                    Some(reply)
                }
                Ok(_) => Some(error(FORBIDDEN, "this key is not bound to an account: private channels need a trader or market-maker key")),
                Err(e) => Some(error(e.code, e.message)),
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
                match principal.as_ref().and_then(|p| p.account) {
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
                if subs.len() >= SUBSCRIPTIONS_MAX && !subs.contains(channel) {
                    return Some(error(
                        INVALID_FIELD,
                        format!("at most {SUBSCRIPTIONS_MAX} subscriptions per connection"),
                    ));
                }
                subs.insert(channel.to_string());
                let _ = st.market.control.send(Control::Subscribe {
                    client: handle.clone(),
                    channel: channel.to_string(),
                    account,
                });
                None
            } else {
                subs.remove(channel);
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
            format!("unknown op {other:?}: subscribe, unsubscribe, auth, ping"),
        )),
    }
}
