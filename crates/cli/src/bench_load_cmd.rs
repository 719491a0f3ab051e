//! `tokex bench-load`: a load generator for a running exchange (`tokex serve` or `tokex demo`).
//!
//! It starts nothing itself. With an operator key it opens `--accounts` funded market-maker
//! accounts and their API keys, then runs `--clients` concurrent signed clients (tokio tasks,
//! one keep-alive HTTP/1.1 connection each) placing post-only limit orders on one instrument
//! and cancelling the oldest once `--resting` are working, for `--duration` seconds. Without
//! `--rate` every client sends its next request as soon as the previous one is answered; with
//! `--rate N` the clients together send N order requests per second on a fixed schedule and the
//! latency is measured from each request's intended send time, so a stalled server shows up in
//! the figures instead of slowing the generator down (no coordinated omission).
//!
//! An order request is a place or a cancel; its latency runs until the whole answer (the
//! exchange's acknowledgement, after the command is sequenced and journaled) has been read.
//!
//! With `--ws-subscribers N` it also opens N WebSocket subscribers to the instrument's public
//! channels (`--ws-channels`, default `book,trades`) before the load starts and reads them
//! until it ends: messages per subscriber, sequence gaps, resyncs, and subscribers cut off
//! (with the server's close code and reason). `--rounds R` runs R rounds of two phases each —
//! no subscribers, then N — alternating on the same accounts, and prints the medians and the
//! ratios: the question is whether subscribers slow the order path.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokex_server::api::auth::{
    now_ms, sign_with_secret, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use tokio_tungstenite::tungstenite::Message;

/// Requests per second one market-maker key may send (the server's limit is 200, burst 400).
const PER_KEY_RATE: u64 = 150;
const DURATION_MAX_SECS: u64 = 600;
const CLIENTS_MAX: usize = 4096;
const SUBSCRIBERS_MAX: usize = 20_000;
const ROUNDS_MAX: usize = 20;
/// WebSocket handshakes in flight at once while the subscribers connect.
const CONNECTING_MAX: usize = 64;
/// Subscribers ping this often (the server closes a connection silent for 60 s).
const PING_SECS: u64 = 20;

#[derive(clap::Args)]
pub struct BenchLoadArgs {
    /// Exchange URL (http only).
    #[arg(long, env = "TOKEX_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Operator API key id: the generator opens its accounts and keys with it.
    #[arg(long, env = "TOKEX_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Operator API secret.
    #[arg(long, env = "TOKEX_API_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Market-maker accounts to open and fund.
    #[arg(long, default_value_t = 16)]
    accounts: usize,
    /// Concurrent clients (each with its own connection).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// API keys per client, used in turn (the server limits each key to 200 requests/s);
    /// default: enough for --rate, or 4 without it.
    #[arg(long)]
    keys_per_client: Option<usize>,
    /// Seconds of load (at most 600).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Order requests per second for all clients together; without it, as fast as possible.
    #[arg(long)]
    rate: Option<u64>,
    /// Instrument symbol; default: the first listed TKF month.
    #[arg(long)]
    instrument: Option<String>,
    /// Working orders per client before it cancels its oldest.
    #[arg(long, default_value_t = 8)]
    resting: usize,
    /// Generator threads (the exchange on the same machine needs cores too).
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// WebSocket subscribers to the instrument's public channels during the load.
    #[arg(long, default_value_t = 0)]
    ws_subscribers: usize,
    /// Channels each subscriber follows, comma-separated: book, trades, ticker, stats, bars
    /// (1-minute bars).
    #[arg(long, default_value = "book,trades")]
    ws_channels: String,
    /// Rounds of two phases each, without subscribers then with --ws-subscribers, alternating;
    /// prints medians and ratios. Without it: one phase with --ws-subscribers.
    #[arg(long)]
    rounds: Option<usize>,
    /// Process id of the exchange when it runs on this machine (Linux): each phase then
    /// reports the CPU time of its sequencer thread and of the whole process.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    authority: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(authority: &str) -> Result<Conn, String> {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            authority: authority.to_string(),
            sender,
        })
    }

    /// Sends a request, signed with `key` when given; answers (status, body).
    async fn send(
        &mut self,
        key: Option<&(String, String)>,
        method: &str,
        path: &str,
        body: String,
    ) -> Result<(u16, Bytes), String> {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority);
        if let Some((k, secret)) = key {
            let ts = now_ms();
            b = b
                .header(HEADER_KEY, k)
                .header(HEADER_TIMESTAMP, ts.to_string())
                .header(
                    HEADER_SIGNATURE,
                    sign_with_secret(secret, ts, method, path, body.as_bytes()),
                );
        }
        if !body.is_empty() {
            b = b.header("content-type", "application/json");
        }
        let req = b
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    }

    /// A setup request: retried while rate limited (or when the same request was signed in the
    /// same millisecond), an error unless 200.
    async fn setup(
        &mut self,
        key: Option<&(String, String)>,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        loop {
            let (status, bytes) = self.send(key, method, path, body.clone()).await?;
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            match status {
                200 => return Ok(v),
                429 => tokio::time::sleep(Duration::from_millis(50)).await,
                401 if v["code"] == "REPLAYED_REQUEST" => {
                    tokio::time::sleep(Duration::from_millis(2)).await
                }
                _ => {
                    return Err(format!(
                        "{method} {path}: {} ({status}): {}",
                        v["code"].as_str().unwrap_or("?"),
                        v["message"].as_str().unwrap_or("")
                    ))
                }
            }
        }
    }
}

/// What one client measured.
struct Tally {
    hist: Histogram<u64>,
    places: u64,
    cancels: u64,
    rejects: BTreeMap<String, u64>,
    errors: u64,
    /// Scheduled requests not sent by the end (a server slower than the target rate).
    missed: u64,
    last_error: Option<String>,
}

struct Plan {
    /// Phase number, in client order ids so phases never reuse one.
    phase: usize,
    authority: String,
    symbol: String,
    /// Prices below (bids) and above (asks) the reference, nearest first.
    bids: Vec<String>,
    asks: Vec<String>,
    resting: usize,
    clients: usize,
    /// None: as fast as possible; Some(interval between one client's requests).
    interval: Option<Duration>,
    start: Instant,
    end: Instant,
}

async fn client(id: usize, plan: Arc<Plan>, keys: Vec<(String, String)>) -> Tally {
    let mut t = Tally {
        hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        places: 0,
        cancels: 0,
        rejects: BTreeMap::new(),
        errors: 0,
        missed: 0,
        last_error: None,
    };
    // Connected before the start, so the first requests do not pay for the handshakes.
    let mut conn: Option<Conn> = Conn::open(&plan.authority).await.ok();
    let mut working: VecDeque<String> = VecDeque::new();
    let (mut n, mut seq) = (0u64, 0u64);
    // Clients start staggered across one interval so the schedule is even.
    let offset = plan
        .interval
        .map(|i| i.mul_f64(id as f64 / plan.clients as f64))
        .unwrap_or_default();
    tokio::time::sleep_until(plan.start.into()).await;
    loop {
        let intended = match plan.interval {
            Some(i) => plan.start + offset + i * n as u32,
            None => Instant::now(),
        };
        // Requests still due when the time is up are counted as missed, not sent late.
        if intended >= plan.end || Instant::now() >= plan.end {
            if let Some(i) = plan.interval {
                let due = plan.end.saturating_duration_since(plan.start + offset);
                let scheduled = due.as_nanos().div_ceil(i.as_nanos().max(1)) as u64;
                t.missed = scheduled.saturating_sub(n);
            }
            break;
        }
        if plan.interval.is_some() {
            tokio::time::sleep_until(intended.into()).await;
        }
        n += 1;
        let key = &keys[n as usize % keys.len()];
        let cancel = working.len() >= plan.resting;
        let (method, path, body) = if cancel {
            let id = working.pop_front().unwrap_or_default();
            ("DELETE", format!("/api/v1/orders/{id}"), String::new())
        } else {
            seq += 1;
            let buy = seq % 2 == 0;
            let levels = if buy { &plan.bids } else { &plan.asks };
            let price = &levels[(seq as usize / 2 + id) % levels.len()];
            let body = json!({"instrument": plan.symbol, "side": if buy { "buy" } else { "sell" },
                "price": price, "qty": "1", "post_only": true,
                "client_order_id": format!("bl{}-{id}-{seq}", plan.phase)});
            ("POST", "/api/v1/orders".to_string(), body.to_string())
        };
        if conn.is_none() {
            match Conn::open(&plan.authority).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    t.errors += 1;
                    t.last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        let sent = Instant::now();
        let res = c.send(Some(key), method, &path, body).await;
        let done = Instant::now();
        match res {
            Err(e) => {
                t.errors += 1;
                t.last_error = Some(e);
                conn = None;
            }
            Ok((status, bytes)) => {
                let from = if plan.interval.is_some() {
                    intended
                } else {
                    sent
                };
                let us = done.duration_since(from).as_micros().max(1) as u64;
                t.hist.saturating_record(us);
                if status == 200 {
                    if cancel {
                        t.cancels += 1;
                    } else {
                        t.places += 1;
                        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let o = &v["order"];
                        if matches!(
                            o["status"].as_str(),
                            Some("new" | "working" | "partially_filled")
                        ) {
                            if let Some(id) = o["order_id"].as_str() {
                                working.push_back(id.to_string());
                            }
                        }
                    }
                } else {
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    let code = v["code"].as_str().unwrap_or("?").to_string();
                    *t.rejects.entry(format!("{code} ({status})")).or_default() += 1;
                }
            }
        }
    }
    // Leave the book as found.
    if let Some(c) = conn.as_mut() {
        for id in working {
            let _ = c
                .send(
                    Some(&keys[0]),
                    "DELETE",
                    &format!("/api/v1/orders/{id}"),
                    String::new(),
                )
                .await;
        }
    }
    t
}

fn authority_of(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: bench-load speaks plain http (run it on the exchange's host)")
    })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// `price + n ticks`, with the tick's decimals.
fn add_ticks(price: &str, tick: &str, n: i64) -> Result<String, String> {
    use tokex_types::decimal::Decimal;
    let p = Decimal::parse(price).map_err(|e| format!("price {price}: {e:?}"))?;
    let t = Decimal::parse(tick).map_err(|e| format!("tick {tick}: {e:?}"))?;
    let scale = t.scale.max(p.scale);
    let (Some(pm), Some(tm)) = (p.rescaled(scale), t.rescaled(scale)) else {
        return Err(format!("{price} + {n} x {tick}: out of range"));
    };
    Ok(Decimal::new(pm + tm * n as i128, scale).to_string())
}

// ----- WebSocket subscribers ---------------------------------------------------------------

/// What one subscriber saw.
#[derive(Default)]
struct SubTally {
    connected: bool,
    messages: u64,
    updates: u64,
    /// Updates whose `seq` was not the channel's previous one plus one.
    gaps: u64,
    resyncs: u64,
    /// The server's close frame (code, reason), when it closed the connection first.
    closed_by_server: Option<(u16, String)>,
    /// A transport error or an unexpected end.
    error: Option<String>,
}

/// The envelope of a server message: enough to check sequence numbers without building a
/// JSON tree per message.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    channel: Option<std::borrow::Cow<'a, str>>,
    seq: Option<u64>,
}

/// Connects, subscribes to `channels`, waits for their snapshots, reports ready, then reads
/// until `stop` turns true or the server closes the connection.
async fn subscriber(
    authority: Arc<String>,
    channels: Arc<Vec<String>>,
    connecting: Arc<tokio::sync::Semaphore>,
    ready: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> SubTally {
    let mut t = SubTally::default();
    let ws = {
        let _permit = connecting.acquire().await;
        let tcp = match tokio::net::TcpStream::connect(authority.as_str()).await {
            Ok(s) => s,
            Err(e) => {
                t.error = Some(format!("connect: {e}"));
                ready.fetch_add(1, Ordering::Relaxed);
                return t;
            }
        };
        let _ = tcp.set_nodelay(true);
        match tokio_tungstenite::client_async(format!("ws://{authority}/api/v1/ws"), tcp).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                t.error = Some(format!("handshake: {e}"));
                ready.fetch_add(1, Ordering::Relaxed);
                return t;
            }
        }
    };
    t.connected = true;
    let (mut tx, mut rx) = ws.split();
    for c in channels.iter() {
        let m = json!({"op": "subscribe", "channel": c}).to_string();
        if let Err(e) = tx.send(Message::Text(m.into())).await {
            t.error = Some(format!("subscribe: {e}"));
            ready.fetch_add(1, Ordering::Relaxed);
            return t;
        }
    }
    // Last seq per subscribed channel (None until its snapshot).
    let mut seqs: Vec<Option<u64>> = vec![None; channels.len()];
    let mut is_ready = false;
    let mut ping = tokio::time::interval(Duration::from_secs(PING_SECS));
    ping.tick().await;
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            _ = ping.tick() => {
                let _ = tx.send(Message::Text(r#"{"op":"ping"}"#.into())).await;
            }
            m = rx.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    t.messages += 1;
                    let Ok(h) = serde_json::from_str::<Head>(text.as_str()) else { continue };
                    let Some(ix) = h.channel.as_deref().and_then(|c| channels.iter().position(|x| x == c)) else {
                        continue;
                    };
                    match (h.kind, h.seq) {
                        ("snapshot", Some(s)) => seqs[ix] = Some(s),
                        ("update", Some(s)) => {
                            t.updates += 1;
                            if seqs[ix].is_some_and(|p| s != p + 1) {
                                t.gaps += 1;
                            }
                            seqs[ix] = Some(s);
                        }
                        ("resync", s) => {
                            t.resyncs += 1;
                            seqs[ix] = s;
                        }
                        _ => {}
                    }
                    if !is_ready && seqs.iter().all(|s| s.is_some()) {
                        is_ready = true;
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    t.closed_by_server = Some(f.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new())));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    t.error = Some(e.to_string());
                    break;
                }
                None => {
                    t.error = Some("connection ended without a close frame".into());
                    break;
                }
            }
        }
    }
    if !is_ready {
        ready.fetch_add(1, Ordering::Relaxed);
    }
    t
}

/// Raises the soft limit on open files to `need` if it is lower (up to the hard limit).
/// Answers a line to print when it could not.
fn raise_fd_limit(need: u64) -> Option<String> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Some(format!(
            "bench-load: could not read the open-files limit; {need} descriptors are needed"
        ));
    }
    if r.rlim_cur >= need as libc::rlim_t {
        return None;
    }
    let want = (need as libc::rlim_t).min(r.rlim_max);
    let old = r.rlim_cur;
    r.rlim_cur = want;
    // SAFETY: as above.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0;
    if ok && want >= need as libc::rlim_t {
        eprintln!("bench-load: raised the open-files limit from {old} to {want}");
        None
    } else {
        Some(format!(
            "bench-load: WARNING: the open-files limit is {} (hard limit {}), {need} are needed: some subscribers will fail to connect (raise it with `ulimit -n`)",
            if ok { want } else { old },
            r.rlim_max
        ))
    }
}

// ----- phases --------------------------------------------------------------------------------

/// What the accounts and keys, opened once, let every phase do.
struct Setup {
    authority: String,
    symbol: String,
    bids: Vec<String>,
    asks: Vec<String>,
    client_keys: Vec<Vec<(String, String)>>,
    keys_per_client: usize,
    channels: Vec<String>,
}

/// One phase's figures.
struct PhaseResult {
    subscribers: usize,
    secs: f64,
    total: Tally,
    subs: Vec<SubTally>,
    /// Server counters over the phase: (slow disconnects, feed resyncs, WS messages sent,
    /// commands sequenced).
    server: Option<(u64, u64, u64, u64)>,
    /// CPU seconds over the phase: (sequencer thread, whole exchange process).
    cpu: Option<(f64, f64)>,
    /// CPU seconds of this generator over the phase (Linux).
    own_cpu: Option<f64>,
}

impl PhaseResult {
    fn acked(&self) -> u64 {
        self.total.places + self.total.cancels
    }
    fn rate(&self) -> f64 {
        self.acked() as f64 / self.secs
    }
    fn ms(&self, q: f64) -> f64 {
        self.total.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// CPU seconds of the exchange's sequencer thread and of its whole process, from /proc.
fn server_cpu(pid: u32) -> Option<(f64, f64)> {
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks = |stat: &str| -> Option<(String, u64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
        let t = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some((name, t))
    };
    let (_, total) = ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let mut seq = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        if let Some((name, t)) = std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| ticks(&s))
        {
            if name == "sequencer" {
                seq += t;
            }
        }
    }
    Some((seq as f64 / hz, total as f64 / hz))
}

/// A few counters of the exchange's `/metrics`: (slow disconnects, feed resyncs, WebSocket
/// messages, commands).
async fn server_counters(authority: &str) -> Option<(u64, u64, u64, u64)> {
    let mut c = Conn::open(authority).await.ok()?;
    let (status, body) = c.send(None, "GET", "/metrics", String::new()).await.ok()?;
    if status != 200 {
        return None;
    }
    let text = String::from_utf8_lossy(&body);
    let get = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|v| v as u64)
    };
    Some((
        get("tokex_ws_slow_disconnects_total")?,
        get("tokex_feed_resyncs_total")?,
        get("tokex_ws_messages_total")?,
        get("tokex_commands_total")?,
    ))
}

fn new_tally() -> Tally {
    Tally {
        hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        places: 0,
        cancels: 0,
        rejects: BTreeMap::new(),
        errors: 0,
        missed: 0,
        last_error: None,
    }
}

async fn phase(
    a: &BenchLoadArgs,
    s: &Setup,
    number: usize,
    subscribers: usize,
) -> Result<PhaseResult, String> {
    let before = server_counters(&s.authority).await;
    let cpu_before = a.server_pid.and_then(server_cpu);
    let own_before = server_cpu(std::process::id()).map(|c| c.1);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut sub_tasks = Vec::new();
    if subscribers > 0 {
        let t0 = Instant::now();
        let ready = Arc::new(AtomicUsize::new(0));
        let connecting = Arc::new(tokio::sync::Semaphore::new(CONNECTING_MAX));
        let authority = Arc::new(s.authority.clone());
        let channels = Arc::new(s.channels.clone());
        for _ in 0..subscribers {
            sub_tasks.push(tokio::spawn(subscriber(
                authority.clone(),
                channels.clone(),
                connecting.clone(),
                ready.clone(),
                stop_rx.clone(),
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready.load(Ordering::Relaxed) < subscribers && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "bench-load: {} of {subscribers} subscribers ready in {:.1} s",
            ready.load(Ordering::Relaxed),
            t0.elapsed().as_secs_f64()
        );
    }
    let start = Instant::now() + Duration::from_millis(500);
    let plan = Arc::new(Plan {
        phase: number,
        authority: s.authority.clone(),
        symbol: s.symbol.clone(),
        bids: s.bids.clone(),
        asks: s.asks.clone(),
        resting: a.resting,
        clients: a.clients,
        interval: a
            .rate
            .map(|r| Duration::from_secs_f64(a.clients as f64 / r as f64)),
        start,
        end: start + Duration::from_secs(a.duration),
    });
    let tasks: Vec<_> = s
        .client_keys
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, ks)| tokio::spawn(client(i, plan.clone(), ks)))
        .collect();
    let mut total = new_tally();
    for t in tasks {
        let t = t.await.map_err(|e| e.to_string())?;
        total.hist.add(&t.hist).map_err(|e| e.to_string())?;
        total.places += t.places;
        total.cancels += t.cancels;
        total.errors += t.errors;
        total.missed += t.missed;
        for (k, v) in t.rejects {
            *total.rejects.entry(k).or_default() += v;
        }
        if t.last_error.is_some() {
            total.last_error = t.last_error;
        }
    }
    // Until the last answer (at most one request per client after the end).
    let secs = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut subs = Vec::new();
    for t in sub_tasks {
        subs.push(t.await.map_err(|e| e.to_string())?);
    }
    let cpu_after = a.server_pid.and_then(server_cpu);
    let own_cpu = server_cpu(std::process::id())
        .map(|c| c.1)
        .zip(own_before)
        .map(|(a, b)| a - b);
    let after = server_counters(&s.authority).await;
    let server = match (before, after) {
        (Some(b), Some(a)) => Some((a.0 - b.0, a.1 - b.1, a.2 - b.2, a.3 - b.3)),
        _ => None,
    };
    let cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => Some((a.0 - b.0, a.1 - b.1)),
        _ => None,
    };
    Ok(PhaseResult {
        subscribers,
        secs,
        total,
        subs,
        server,
        cpu,
        own_cpu,
    })
}

fn print_phase(a: &BenchLoadArgs, s: &Setup, r: &PhaseResult) {
    let total = &r.total;
    let rejected: u64 = total.rejects.values().sum();
    println!(
        "{}: {} clients, {} keys, {} s, {}, {} WebSocket subscribers",
        s.symbol,
        a.clients,
        a.clients * s.keys_per_client,
        a.duration,
        match a.rate {
            Some(r) => format!("target {r} order requests/s (latency from the intended send time)"),
            None => "as fast as possible".into(),
        },
        r.subscribers
    );
    println!(
        "order requests acknowledged in {:.2} s: {} ({:.0}/s): {} placed, {} cancelled; {rejected} rejected, {} transport errors",
        r.secs,
        r.acked(),
        r.rate(),
        total.places,
        total.cancels,
        total.errors
    );
    if total.missed > 0 {
        println!(
            "  NOT SUSTAINED: {} scheduled requests were still unsent when the time was up",
            total.missed
        );
    }
    for (code, n) in &total.rejects {
        println!("  rejected {code}: {n}");
    }
    if let Some(e) = &total.last_error {
        println!("  last transport error: {e}");
    }
    println!(
        "order-to-ack latency (ms): p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  ({} samples)",
        r.ms(0.5),
        r.ms(0.99),
        r.ms(0.999),
        total.hist.max() as f64 / 1000.0,
        total.hist.len()
    );
    if r.subscribers > 0 {
        let subs = &r.subs;
        let connected = subs.iter().filter(|t| t.connected).count();
        let mut per: Vec<u64> = subs
            .iter()
            .filter(|t| t.connected)
            .map(|t| t.messages)
            .collect();
        per.sort_unstable();
        let pick = |q: f64| {
            per.get(((per.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        let messages: u64 = per.iter().sum();
        let updates: u64 = subs.iter().map(|t| t.updates).sum();
        let gaps: u64 = subs.iter().map(|t| t.gaps).sum();
        let resyncs: u64 = subs.iter().map(|t| t.resyncs).sum();
        println!(
            "WebSocket: {connected} of {} subscribers connected to {}; {messages} messages ({:.0}/s), {updates} updates",
            r.subscribers,
            s.channels.join(", "),
            messages as f64 / r.secs,
        );
        println!(
            "  messages per subscriber: min {}  median {}  max {}",
            pick(0.0),
            pick(0.5),
            pick(1.0)
        );
        println!("  sequence gaps: {gaps}; resyncs: {resyncs}");
        let mut closes: BTreeMap<String, usize> = BTreeMap::new();
        for t in subs {
            if let Some((code, reason)) = &t.closed_by_server {
                *closes.entry(format!("{code} {reason}")).or_default() += 1;
            } else if let Some(e) = &t.error {
                *closes.entry(format!("error: {e}")).or_default() += 1;
            }
        }
        let slow = subs
            .iter()
            .filter(|t| t.closed_by_server.as_ref().is_some_and(|c| c.0 == 4000))
            .count();
        println!(
            "  disconnected as slow (close 4000): {slow}; ended otherwise before the end: {}",
            closes.values().sum::<usize>() - slow
        );
        for (why, n) in &closes {
            println!("    {n} x {why}");
        }
    }
    if let Some((slow, resyncs, sent, commands)) = r.server {
        println!(
            "exchange counters over the phase: {commands} commands sequenced ({:.0}/s), {sent} WebSocket messages queued, {slow} slow-consumer disconnects, {resyncs} feed resyncs",
            commands as f64 / r.secs
        );
        if let Some((seq, total)) = r.cpu {
            println!(
                "exchange CPU over the phase: sequencer thread {seq:.2} s ({:.1} us per command), whole process {total:.2} s ({:.0}% of one core)",
                seq * 1e6 / commands.max(1) as f64,
                total * 100.0 / r.secs
            );
        }
    }
    if let Some(c) = r.own_cpu {
        println!(
            "generator CPU over the phase: {c:.2} s ({:.0}% of one core)",
            c * 100.0 / r.secs
        );
    }
}

/// A summary row: its name and how to read it from a phase.
type Metric<'a> = (&'a str, &'a dyn Fn(&PhaseResult) -> f64);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn run(a: BenchLoadArgs) -> Result<(), String> {
    let (Some(key), Some(secret)) = (a.key.clone(), a.secret.clone()) else {
        return Err("bench-load needs an operator key: --key and --secret, or TOKEX_API_KEY and TOKEX_API_SECRET".into());
    };
    if a.duration == 0 || a.duration > DURATION_MAX_SECS {
        return Err(format!(
            "--duration must be 1 to {DURATION_MAX_SECS} seconds"
        ));
    }
    if a.clients == 0 || a.clients > CLIENTS_MAX || a.accounts == 0 || a.resting == 0 {
        return Err(format!(
            "--clients must be 1 to {CLIENTS_MAX}; --accounts and --resting at least 1"
        ));
    }
    if a.rate == Some(0) {
        return Err("--rate must be at least 1 (leave it out for as fast as possible)".into());
    }
    if a.ws_subscribers > SUBSCRIBERS_MAX {
        return Err(format!("--ws-subscribers must be 0 to {SUBSCRIBERS_MAX}"));
    }
    if let Some(r) = a.rounds {
        if r == 0 || r > ROUNDS_MAX || a.ws_subscribers == 0 {
            return Err(format!(
                "--rounds must be 1 to {ROUNDS_MAX}, with --ws-subscribers at least 1"
            ));
        }
    }
    channel_kinds(&a.ws_channels)?;
    let authority = authority_of(&a.url)?;
    if a.ws_subscribers > 0 {
        // Subscribers, load clients, and a margin for the runtime and set-up connections.
        if let Some(w) = raise_fd_limit((a.ws_subscribers + a.clients + 64) as u64) {
            println!("{w}");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run_async(a, authority, (key, secret)))
}

/// The channel kinds of `--ws-channels`, checked.
fn channel_kinds(list: &str) -> Result<Vec<&str>, String> {
    let kinds: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if kinds.is_empty() {
        return Err("--ws-channels names at least one of book, trades, ticker, stats, bars".into());
    }
    for k in &kinds {
        if !matches!(*k, "book" | "trades" | "ticker" | "stats" | "bars") {
            return Err(format!(
                "--ws-channels: {k:?} is not one of book, trades, ticker, stats, bars"
            ));
        }
    }
    Ok(kinds)
}

async fn run_async(
    a: BenchLoadArgs,
    authority: String,
    operator: (String, String),
) -> Result<(), String> {
    let mut op = Conn::open(&authority).await?;
    let who = op
        .setup(Some(&operator), "GET", "/api/v1/account", Value::Null)
        .await?;
    if who["role"] != "operator" {
        return Err(format!(
            "the key is a {} key: bench-load needs an operator key",
            who["role"].as_str().unwrap_or("?")
        ));
    }
    // The instrument and its prices.
    let list = op
        .setup(None, "GET", "/api/v1/instruments?product=TKF", Value::Null)
        .await?;
    let symbol = match &a.instrument {
        Some(s) => s.clone(),
        None => list["instruments"][0]["symbol"]
            .as_str()
            .ok_or("no TKF instrument is listed: name one with --instrument")?
            .to_string(),
    };
    let inst = op
        .setup(
            None,
            "GET",
            &format!("/api/v1/instruments/{symbol}"),
            Value::Null,
        )
        .await?;
    let s = |k: &str| inst[k].as_str().map(str::to_string);
    let (Some(reference), Some(tick)) = (s("reference_price"), s("tick_size")) else {
        return Err(format!("{symbol}: no reference price or tick size: {inst}"));
    };
    // Ten levels each side, 20 to 29 ticks away: resting, clear of the touch.
    let bids = (20..30)
        .map(|n| add_ticks(&reference, &tick, -n))
        .collect::<Result<Vec<_>, _>>()?;
    let asks = (20..30)
        .map(|n| add_ticks(&reference, &tick, n))
        .collect::<Result<Vec<_>, _>>()?;
    let channels: Vec<String> = channel_kinds(&a.ws_channels)?
        .into_iter()
        .map(|k| match k {
            "bars" => format!("bars:{symbol}:1m"),
            k => format!("{k}:{symbol}"),
        })
        .collect();

    let keys_per_client = a.keys_per_client.unwrap_or(match a.rate {
        Some(r) => (r.div_ceil(a.clients as u64 * PER_KEY_RATE)).max(1) as usize,
        None => 4,
    });
    let accounts = a.accounts.min(a.clients);
    let t_setup = Instant::now();
    eprintln!(
        "bench-load: opening {accounts} market-maker accounts and {} keys on {authority} ...",
        a.clients * keys_per_client
    );
    let mut account_ids = Vec::new();
    for _ in 0..accounts {
        let v = op
            .setup(
                Some(&operator),
                "POST",
                "/api/v1/admin/accounts",
                json!({"role": "market_maker"}),
            )
            .await?;
        let id = v["account"]
            .as_u64()
            .ok_or_else(|| format!("no account id in {v}"))?;
        op.setup(
            Some(&operator),
            "POST",
            "/api/v1/admin/deposits",
            json!({"account": id, "currency": "USD", "amount": "1000000000"}),
        )
        .await?;
        account_ids.push(id);
    }
    let mut client_keys = Vec::new();
    for c in 0..a.clients {
        let acct = account_ids[c % accounts];
        let mut ks = Vec::new();
        for _ in 0..keys_per_client {
            let v = op
                .setup(
                    Some(&operator),
                    "POST",
                    "/api/v1/admin/keys",
                    json!({"account": acct, "label": format!("bench-load {c}")}),
                )
                .await?;
            let (Some(k), Some(s)) = (v["key"].as_str(), v["secret"].as_str()) else {
                return Err(format!("no key in {v}"));
            };
            ks.push((k.to_string(), s.to_string()));
        }
        client_keys.push(ks);
    }
    drop(op);
    let setup = Setup {
        authority,
        symbol,
        bids,
        asks,
        client_keys,
        keys_per_client,
        channels,
    };
    // The phases: one, or rounds of (none, N) alternating.
    let plan: Vec<usize> = match a.rounds {
        None => vec![a.ws_subscribers],
        Some(r) => (0..r).flat_map(|_| [0, a.ws_subscribers]).collect(),
    };
    eprintln!(
        "bench-load: set up in {:.1} s; {} clients on {} for {} s, {}; {} phase(s) with {:?} WebSocket subscribers",
        t_setup.elapsed().as_secs_f64(),
        a.clients,
        setup.symbol,
        a.duration,
        match a.rate {
            Some(r) => format!("{r} order requests/s"),
            None => "as fast as possible".into(),
        },
        plan.len(),
        plan
    );
    let mut results = Vec::new();
    for (i, n) in plan.iter().enumerate() {
        if i > 0 {
            // Let the previous phase's connections close and the exchange settle.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if plan.len() > 1 {
            println!("--- phase {} of {}", i + 1, plan.len());
        }
        let r = phase(&a, &setup, i, *n).await?;
        print_phase(&a, &setup, &r);
        results.push(r);
    }
    if plan.len() > 1 {
        let n = a.ws_subscribers;
        let pick = |subs: usize, f: &dyn Fn(&PhaseResult) -> f64| {
            median(
                results
                    .iter()
                    .filter(|r| r.subscribers == subs)
                    .map(f)
                    .collect(),
            )
        };
        println!(
            "--- medians of {} rounds: 0 vs {n} WebSocket subscribers",
            plan.len() / 2
        );
        let mut rows: Vec<Metric> = vec![
            ("acknowledged order requests/s", &|r| r.rate()),
            ("p50 order-to-ack latency (ms)", &|r| r.ms(0.5)),
            ("p99 order-to-ack latency (ms)", &|r| r.ms(0.99)),
            ("p99.9 order-to-ack latency (ms)", &|r| r.ms(0.999)),
        ];
        if a.server_pid.is_some() {
            rows.push((
                "sequencer CPU per command (us)",
                &|r| match (r.cpu, r.server) {
                    (Some(c), Some(s)) => c.0 * 1e6 / s.3.max(1) as f64,
                    _ => f64::NAN,
                },
            ));
            rows.push(("exchange process CPU (% of a core)", &|r| {
                r.cpu.map_or(f64::NAN, |c| c.1 * 100.0 / r.secs)
            }));
        }
        if results.iter().all(|r| r.own_cpu.is_some()) {
            rows.push(("generator CPU (% of a core)", &|r| {
                r.own_cpu.map_or(f64::NAN, |c| c * 100.0 / r.secs)
            }));
        }
        for (name, f) in rows {
            let (x0, x1) = (pick(0, f), pick(n, f));
            println!(
                "{name:36} {x0:>12.3} {x1:>12.3}   ratio {:.3}",
                if x0 > 0.0 { x1 / x0 } else { f64::NAN }
            );
        }
        let per: Vec<f64> = results
            .iter()
            .filter(|r| r.subscribers == n)
            .map(|r| {
                let c = r.subs.iter().filter(|t| t.connected).count().max(1);
                r.subs.iter().map(|t| t.messages).sum::<u64>() as f64 / c as f64
            })
            .collect();
        let gaps: u64 = results
            .iter()
            .flat_map(|r| r.subs.iter().map(|t| t.gaps))
            .sum();
        let slow: usize = results
            .iter()
            .flat_map(|r| r.subs.iter())
            .filter(|t| t.closed_by_server.as_ref().is_some_and(|c| c.0 == 4000))
            .count();
        println!(
            "messages per subscriber (mean per phase, median of phases): {:.0}; sequence gaps in all phases: {gaps}; slow disconnects in all phases: {slow}",
            median(per)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_medians() {
        assert_eq!(channel_kinds("book, trades").unwrap(), ["book", "trades"]);
        assert!(channel_kinds("book,orders").is_err());
        assert!(channel_kinds(",").is_err());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn ticks_and_urls() {
        assert_eq!(add_ticks("7.650", "0.005", -2).unwrap(), "7.640");
        assert_eq!(add_ticks("7.65", "0.001", 3).unwrap(), "7.653");
        assert_eq!(
            authority_of("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(authority_of("http://localhost").unwrap(), "localhost:80");
        assert!(authority_of("https://x").is_err());
    }
}
