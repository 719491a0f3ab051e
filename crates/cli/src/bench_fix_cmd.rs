//! `tokex bench-fix`: a load generator for the FIX 4.4 gateway.
//!
//! It opens `--sessions` FIX sessions, each on its own TCP connection, plus one liquidity
//! session, and sends NewOrderSingle and OrderCancelRequest for `--duration` seconds (or until
//! `--orders` requests are answered). The mix, per session:
//! - post-only limit orders of 1 contract, 20–29 ticks from the reference, that rest;
//! - `--cross-pct` of the new orders are IOC limit orders of 1 contract at the liquidity
//!   session's quote (5 ticks from the reference), so they trade;
//! - once `--resting` orders are working, a cancel of the oldest, so the books stay small.
//!
//! The liquidity session quotes 200 contracts a side and re-quotes a side when it is filled;
//! its own messages are not measured. Crossing orders alternate buy and sell, so no position
//! grows.
//!
//! Without `--rate`, each session keeps `--window` requests outstanding (sent, first
//! ExecutionReport not yet read). With `--rate N`, the sessions together send N requests per
//! second on a fixed schedule, and latency is measured both from the actual send and from each
//! request's intended send time (coordinated omission corrected: a stalled exchange shows up
//! in the figures instead of slowing the generator down).
//!
//! The latency of a request runs from the write of its message to the read of the first
//! ExecutionReport (or reject) with its ClOrdID: the exchange answers once the command is
//! sequenced and journaled (fsync).
//!
//! Two ways to reach an exchange:
//! - without `--fix-addr`, an exchange is started in this process (24x7 calendar, journal
//!   with one fsync per batch in a temporary data directory, or `--data-dir`), with the FIX
//!   gateway on a loopback port and the sessions' accounts opened and funded;
//! - with `--fix-addr`, a running `tokex serve --fix FILE` is used: `--write-sessions FILE`
//!   writes that sessions file, and with an operator key (`--key`, `--secret`) the accounts
//!   are opened and funded over HTTP (`--url`).

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokex_fix::codec::{self, tag, Frame, Framer, Message};
use tokex_fix::config::{password_hash, FixConfig, SessionConfig};
use tokex_types::decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const DURATION_MAX_SECS: u64 = 600;
const SESSIONS_MAX: usize = 1_000;
/// HeartBtInt (108) sent at Logon.
const HEARTBEAT_SECS: u64 = 30;
const LOGON_TIMEOUT: Duration = Duration::from_secs(10);
/// How long answers are awaited after the last request was sent.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Ticks from the reference of the liquidity session's quotes (and of the crossing orders).
const LP_TICKS: i128 = 5;
/// Contracts per quote of the liquidity session (below every product's maximum order size).
const LP_QTY: u64 = 200;
/// Resting orders are this many ticks and up to 9 more from the reference.
const REST_TICKS: i128 = 20;
/// In `--rate` mode, outstanding requests per session beyond which sending waits.
const RATE_OUTSTANDING_MAX: usize = 10_000;
/// Password of the sessions of an exchange started in this process.
const IN_PROCESS_PASSWORD: &str = "bench-fix";
/// USD deposited in each account (whole dollars).
const DEPOSIT_USD: i64 = 100_000_000;

#[derive(clap::Args)]
pub struct BenchFixArgs {
    /// FIX acceptor of a running exchange (host:port). Without it an exchange is started in
    /// this process, journaling with fsync to a temporary data directory.
    #[arg(long)]
    fix_addr: Option<String>,
    /// HTTP URL of that exchange: the instrument's reference price and tick size, and (with
    /// an operator key) opening and funding the sessions' accounts.
    #[arg(long, env = "TOKEX_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Operator API key id (optional, with --fix-addr): opens and funds the accounts.
    #[arg(long, env = "TOKEX_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Operator API secret.
    #[arg(long, env = "TOKEX_API_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Password (554) of the sessions, with --fix-addr or --write-sessions.
    #[arg(long, env = "TOKEX_FIX_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// SenderCompID prefix: the sessions are PREFIX1..PREFIXn, the liquidity session PREFIXLP.
    #[arg(long, default_value = "BENCH")]
    comp_prefix: String,
    /// TargetCompID (the exchange's CompID).
    #[arg(long, default_value = "TOKEX")]
    target_comp_id: String,
    /// Account of the liquidity session; session i trades for this + i.
    #[arg(long, default_value_t = 9_000)]
    first_account: u32,
    /// Write the sessions file for `tokex serve --fix FILE` (for --sessions sessions and the
    /// liquidity session, with the hash of --password) and exit.
    #[arg(long)]
    write_sessions: Option<PathBuf>,
    /// The listen address written into that file.
    #[arg(long, default_value = "127.0.0.1:9878")]
    listen: String,
    /// FIX sessions sending orders (each on its own connection).
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Seconds of load (at most 600).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Order requests per second for all sessions together; without it, as fast as the
    /// window allows.
    #[arg(long)]
    rate: Option<u64>,
    /// Stop after this many order requests (all sessions together), or at --duration.
    #[arg(long)]
    orders: Option<u64>,
    /// Outstanding requests per session; default 8 without --rate, 10,000 with it.
    #[arg(long)]
    window: Option<usize>,
    /// Instrument symbol; default: the first listed TKF month.
    #[arg(long)]
    instrument: Option<String>,
    /// Working orders per session before it cancels its oldest.
    #[arg(long, default_value_t = 8)]
    resting: usize,
    /// Percentage of new orders that cross (IOC at the liquidity session's quote).
    #[arg(long, default_value_t = 25)]
    cross_pct: u64,
    /// Generator threads (the exchange on the same machine needs cores too).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// In-process exchange: journal into this directory (kept) instead of a temporary one.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

// ---------------------------------------------------------------------------------------------
// The wire: one client session's outbound side.

/// Numbers, stamps and writes the client's messages.
struct Wire {
    wr: OwnedWriteHalf,
    sender: String,
    target: String,
    next_seq: u64,
}

impl Wire {
    /// The bytes of `msgs` with the header (CompIDs, MsgSeqNum, SendingTime), numbered from
    /// `next_seq` on.
    fn encode(&mut self, msgs: &[Message]) -> Vec<u8> {
        let now = tokex_fix::session::utc_now();
        let mut out = Vec::with_capacity(msgs.len() * 160);
        for m in msgs {
            let mut full = Message::new(m.msg_type())
                .with(tag::SENDER_COMP_ID, &self.sender)
                .with(tag::TARGET_COMP_ID, &self.target)
                .with(tag::MSG_SEQ_NUM, self.next_seq)
                .with(tag::SENDING_TIME, &now);
            full.fields.extend(
                m.fields
                    .iter()
                    .filter(|(t, _)| *t != tag::MSG_TYPE)
                    .cloned(),
            );
            out.extend_from_slice(&full.encode());
            self.next_seq += 1;
        }
        out
    }

    async fn send(&mut self, msgs: &[Message]) -> Result<(), String> {
        let bytes = self.encode(msgs);
        self.wr.write_all(&bytes).await.map_err(|e| e.to_string())
    }
}

type SharedWire = Arc<tokio::sync::Mutex<Wire>>;

/// A logged-on session: its wire, its read half and what was read past the Logon.
struct Connected {
    wire: SharedWire,
    rd: OwnedReadHalf,
    framer: Framer,
}

/// Connects and logs on (ResetSeqNumFlag=Y, so every run starts at MsgSeqNum 1).
async fn logon(
    addr: &str,
    sender: &str,
    target: &str,
    password: &str,
) -> Result<Connected, String> {
    let stream = tokio::time::timeout(LOGON_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("{addr}: connect timed out"))?
        .map_err(|e| format!("{addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut rd, wr) = stream.into_split();
    let mut wire = Wire {
        wr,
        sender: sender.to_string(),
        target: target.to_string(),
        next_seq: 1,
    };
    let logon = Message::new("A")
        .with(tag::ENCRYPT_METHOD, 0)
        .with(tag::HEART_BT_INT, HEARTBEAT_SECS)
        .with(tag::RESET_SEQ_NUM_FLAG, "Y")
        .with(tag::PASSWORD, password);
    wire.send(&[logon]).await?;
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + LOGON_TIMEOUT;
    loop {
        while let Some(f) = framer.next_frame() {
            let Frame::Message(raw) = f else { continue };
            let m = codec::parse(&raw).message;
            match m.msg_type() {
                "A" => {
                    return Ok(Connected {
                        wire: Arc::new(tokio::sync::Mutex::new(wire)),
                        rd,
                        framer,
                    })
                }
                "5" => {
                    return Err(format!(
                        "session {sender}: logon refused: {}",
                        m.get(tag::TEXT).unwrap_or("(no text)")
                    ))
                }
                _ => {}
            }
        }
        let n = tokio::time::timeout_at(deadline, rd.read(&mut buf))
            .await
            .map_err(|_| format!("session {sender}: no Logon answer within 10 s"))?
            .map_err(|e| format!("session {sender}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "session {sender}: the exchange closed the connection at Logon (unknown CompIDs {sender}/{target}, or the session is already connected)"
            ));
        }
        framer.push(&buf[..n]);
    }
}

/// Reads until the connection ends, timestamping each read; answers TestRequest and Logout,
/// hands every other message to `on_msg` and sends what it returns. Answers why it ended.
async fn read_loop(
    c_rd: OwnedReadHalf,
    mut framer: Framer,
    wire: SharedWire,
    garbled: Arc<AtomicU64>,
    mut on_msg: impl FnMut(&Message, Instant) -> Vec<Message> + Send,
) -> String {
    let mut rd = c_rd;
    let mut buf = vec![0u8; 64 * 1024];
    let mut now = Instant::now();
    loop {
        let mut replies = Vec::new();
        let mut logout = None;
        while let Some(f) = framer.next_frame() {
            let raw = match f {
                Frame::Message(raw) => raw,
                Frame::Garbled(_) => {
                    garbled.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            // The exchange's messages are read as they come: a generator does not judge them.
            let m = codec::parse(&raw).message;
            match m.msg_type() {
                "0" => {}
                "1" => replies.push(
                    Message::new("0").with(tag::TEST_REQ_ID, m.get(tag::TEST_REQ_ID).unwrap_or("")),
                ),
                "5" => logout = Some(m.get(tag::TEXT).unwrap_or("logout").to_string()),
                _ => replies.extend(on_msg(&m, now)),
            }
        }
        if !replies.is_empty() {
            if let Err(e) = wire.lock().await.send(&replies).await {
                return e;
            }
        }
        if let Some(text) = logout {
            return format!("Logout: {text}");
        }
        match rd.read(&mut buf).await {
            Ok(0) => return "connection closed".into(),
            Err(e) => return e.to_string(),
            Ok(n) => {
                now = Instant::now();
                framer.push(&buf[..n]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Rest,
    Cross,
    Cancel,
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::Rest, "new, resting"),
    (Kind::Cross, "new, crossing (IOC)"),
    (Kind::Cancel, "cancel"),
];

impl Kind {
    fn ix(self) -> usize {
        match self {
            Kind::Rest => 0,
            Kind::Cross => 1,
            Kind::Cancel => 2,
        }
    }
}

struct Pending {
    kind: Kind,
    intended: Instant,
    sent: Instant,
    seq: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// What one session measured (and, added up, all of them).
struct Tally {
    sent: [u64; 3],
    answered: [u64; 3],
    /// Latency from the actual send, per kind (µs).
    hist: [Histogram<u64>; 3],
    /// Latency from the intended send time (`--rate` only), all kinds (µs).
    intended: Histogram<u64>,
    rejects: BTreeMap<String, u64>,
    /// Fill reports (ExecType F) of crossing orders.
    fills: u64,
    /// First reports of an unexpected ExecType (e.g. a resting order cancelled at once).
    unexpected: BTreeMap<String, u64>,
    /// Scheduled requests not sent by the end (`--rate` faster than the exchange).
    missed: u64,
    /// Requests with no answer by the end of the drain.
    unanswered: u64,
    first_sent: Option<Instant>,
    last_answer: Option<Instant>,
    errors: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            sent: [0; 3],
            answered: [0; 3],
            hist: [histogram(), histogram(), histogram()],
            intended: histogram(),
            rejects: BTreeMap::new(),
            fills: 0,
            unexpected: BTreeMap::new(),
            missed: 0,
            unanswered: 0,
            first_sent: None,
            last_answer: None,
            errors: Vec::new(),
        }
    }

    fn add(&mut self, o: &Tally) {
        for i in 0..3 {
            self.sent[i] += o.sent[i];
            self.answered[i] += o.answered[i];
            self.hist[i].add(&o.hist[i]).expect("same bounds");
        }
        self.intended.add(&o.intended).expect("same bounds");
        for (k, v) in &o.rejects {
            *self.rejects.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.unexpected {
            *self.unexpected.entry(k.clone()).or_default() += v;
        }
        self.fills += o.fills;
        self.missed += o.missed;
        self.unanswered += o.unanswered;
        self.first_sent = match (self.first_sent, o.first_sent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_answer = self.last_answer.max(o.last_answer);
        self.errors.extend(o.errors.iter().cloned());
    }

    fn answer(&mut self, p: &Pending, now: Instant, rate: bool) {
        let us = |from: Instant| now.saturating_duration_since(from).as_micros().max(1) as u64;
        self.answered[p.kind.ix()] += 1;
        self.hist[p.kind.ix()].saturating_record(us(p.sent));
        if rate {
            self.intended.saturating_record(us(p.intended));
        }
        self.last_answer = self.last_answer.max(Some(now));
    }

    fn reject(&mut self, text: Option<&str>) {
        // The exchange's stable code leads the Text ("PRICE_OUTSIDE_LIMITS: ...").
        let text = text.unwrap_or("(no text)");
        let code = text.split(':').next().unwrap_or(text).trim().to_string();
        *self.rejects.entry(code).or_default() += 1;
    }
}

/// One session's state, shared by its writer and its reader.
struct SessState {
    pending: HashMap<String, Pending>,
    /// Acknowledged resting orders, oldest first: (ClOrdID, Side).
    working: VecDeque<(String, &'static str)>,
    t: Tally,
    mass_cancel_answered: bool,
}

struct Sess {
    st: Mutex<SessState>,
    wake: tokio::sync::Notify,
}

/// The taker sessions' reader: matches first reports to requests.
fn on_taker_message(sess: &Sess, m: &Message, now: Instant, rate: bool) {
    let mut st = sess.st.lock().expect("session state");
    let st = &mut *st;
    let cl = m.get(tag::CL_ORD_ID).unwrap_or("");
    let done = match m.msg_type() {
        "8" => {
            let et = m.get(tag::EXEC_TYPE).unwrap_or("");
            if et == "F" {
                st.t.fills += 1;
            }
            match st.pending.remove(cl) {
                None => None,
                Some(p) => {
                    st.t.answer(&p, now, rate);
                    match (p.kind, et) {
                        (_, "8") => st.t.reject(m.get(tag::TEXT)),
                        (Kind::Rest, "0") => {
                            let side = if m.get(tag::SIDE) == Some("2") {
                                "2"
                            } else {
                                "1"
                            };
                            st.working.push_back((cl.to_string(), side));
                        }
                        (Kind::Cross, "0" | "F" | "4") | (Kind::Cancel, "4") => {}
                        (k, et) => {
                            *st.t
                                .unexpected
                                .entry(format!("{k:?} answered with ExecType {et}"))
                                .or_default() += 1
                        }
                    }
                    Some(())
                }
            }
        }
        "9" => st.pending.remove(cl).map(|p| {
            st.t.answer(&p, now, rate);
            st.t.reject(m.get(tag::TEXT));
        }),
        "3" | "j" => {
            let seq = m.get_u64(tag::REF_SEQ_NUM).unwrap_or(0);
            let key = st
                .pending
                .iter()
                .find(|(_, p)| p.seq == seq)
                .map(|(k, _)| k.clone());
            key.and_then(|k| st.pending.remove(&k)).map(|p| {
                st.t.answer(&p, now, rate);
                let text = format!(
                    "{} (35={})",
                    m.get(tag::TEXT).unwrap_or("session reject"),
                    m.msg_type()
                );
                st.t.reject(Some(&text));
            })
        }
        "r" => {
            st.mass_cancel_answered = true;
            Some(())
        }
        _ => None,
    };
    if done.is_some() {
        sess.wake.notify_one();
    }
}

// ---------------------------------------------------------------------------------------------
// The plan and the generator.

struct Plan {
    addr: String,
    target: String,
    password: String,
    symbol: String,
    /// Resting prices below (bids) and above (asks) the reference, nearest first.
    bids: Vec<String>,
    asks: Vec<String>,
    /// The liquidity session's bid and ask (the crossing orders' prices).
    lp_bid: String,
    lp_ask: String,
    resting: usize,
    cross_pct: u64,
    sessions: usize,
    window: usize,
    /// None: as fast as the window allows; Some(interval between one session's requests).
    interval: Option<Duration>,
    run: String,
    start: Instant,
    end: Instant,
}

/// Makes the next request of a session.
struct Gen {
    id: usize,
    n: u64,
    news: u64,
    rest_buy: bool,
    cross_buy: bool,
}

impl Gen {
    fn next(&mut self, st: &mut SessState, plan: &Plan, ts: &str) -> (Kind, String, Message) {
        self.n += 1;
        let cl = format!("{}-{}-{}", plan.run, self.id, self.n);
        if st.working.len() >= plan.resting {
            let (orig, side) = st.working.pop_front().expect("working");
            let m = Message::new("F")
                .with(tag::ORIG_CL_ORD_ID, orig)
                .with(tag::CL_ORD_ID, &cl)
                .with(tag::SYMBOL, &plan.symbol)
                .with(tag::SIDE, side)
                .with(tag::TRANSACT_TIME, ts);
            return (Kind::Cancel, cl, m);
        }
        self.news += 1;
        // Spread the crossing orders evenly: the count of crossing orders so far steps up.
        let cross = (self.news * plan.cross_pct) / 100 != ((self.news - 1) * plan.cross_pct) / 100;
        let (kind, buy, price) = if cross {
            self.cross_buy = !self.cross_buy;
            let p = if self.cross_buy {
                &plan.lp_ask
            } else {
                &plan.lp_bid
            };
            (Kind::Cross, self.cross_buy, p.clone())
        } else {
            self.rest_buy = !self.rest_buy;
            let levels = if self.rest_buy {
                &plan.bids
            } else {
                &plan.asks
            };
            let p = &levels[(self.news as usize / 2 + self.id) % levels.len()];
            (Kind::Rest, self.rest_buy, p.clone())
        };
        let mut m = Message::new("D")
            .with(tag::CL_ORD_ID, &cl)
            .with(tag::SYMBOL, &plan.symbol)
            .with(tag::SIDE, if buy { "1" } else { "2" })
            .with(tag::TRANSACT_TIME, ts)
            .with(tag::ORDER_QTY, 1)
            .with(tag::ORD_TYPE, 2)
            .with(tag::PRICE, price);
        if kind == Kind::Cross {
            m.push(tag::TIME_IN_FORCE, 3);
        } else {
            m.push(tag::EXEC_INST, 6);
        }
        (kind, cl, m)
    }
}

/// One measured session: sends on its schedule, then drains, cancels what is left (mass
/// cancel) and logs out.
async fn taker(plan: Arc<Plan>, id: usize, quota: Option<u64>, c: Connected) -> Tally {
    let rate = plan.interval.is_some();
    let sess = Arc::new(Sess {
        st: Mutex::new(SessState {
            pending: HashMap::new(),
            working: VecDeque::new(),
            t: Tally::new(),
            mass_cancel_answered: false,
        }),
        wake: tokio::sync::Notify::new(),
    });
    let garbled = Arc::new(AtomicU64::new(0));
    let reader = {
        let (s, w) = (sess.clone(), c.wire.clone());
        tokio::spawn(read_loop(
            c.rd,
            c.framer,
            w,
            garbled.clone(),
            move |m, now| {
                on_taker_message(&s, m, now, rate);
                Vec::new()
            },
        ))
    };
    let wire = c.wire;
    let mut maker = Gen {
        id,
        n: 0,
        news: 0,
        rest_buy: id % 2 == 1,
        cross_buy: id % 2 == 1,
    };
    let mut sent = 0u64;
    let mut error = None;
    // Sessions start staggered across one interval so the schedule is even.
    let offset = plan
        .interval
        .map(|i| i.mul_f64(id as f64 / plan.sessions as f64))
        .unwrap_or_default();
    let slot = |k: u64| -> Instant {
        let i = plan.interval.unwrap_or_default();
        plan.start + offset + Duration::from_nanos((i.as_nanos() as u64).saturating_mul(k))
    };
    let mut scheduled = 0u64;
    tokio::time::sleep_until(plan.start.into()).await;
    loop {
        if Instant::now() >= plan.end || quota.is_some_and(|q| sent >= q) {
            break;
        }
        if rate {
            let due = slot(scheduled);
            if due >= plan.end {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        }
        let outstanding = sess.st.lock().expect("state").pending.len();
        let room = plan.window.saturating_sub(outstanding);
        if room == 0 {
            tokio::select! {
                _ = sess.wake.notified() => {}
                _ = tokio::time::sleep_until(plan.end.into()) => {}
            }
            continue;
        }
        let left = quota.map_or(u64::MAX, |q| q - sent);
        let mut intended = Vec::new();
        if rate {
            // Everything due by now, each with its own intended time.
            let now = Instant::now();
            while (intended.len() as u64) < left && intended.len() < room {
                let due = slot(scheduled);
                if due > now || due >= plan.end {
                    break;
                }
                intended.push(due);
                scheduled += 1;
            }
        } else {
            let now = Instant::now();
            intended.resize(room.min(left.min(usize::MAX as u64) as usize), now);
        }
        if intended.is_empty() {
            continue;
        }
        let ts = tokex_fix::session::utc_now();
        let mut w = wire.lock().await;
        let first_seq = w.next_seq;
        let (msgs, made): (Vec<Message>, Vec<(Kind, String)>) = {
            let mut st = sess.st.lock().expect("state");
            intended
                .iter()
                .map(|_| {
                    let (k, cl, m) = maker.next(&mut st, &plan, &ts);
                    (m, (k, cl))
                })
                .unzip()
        };
        let bytes = w.encode(&msgs);
        let now = Instant::now();
        {
            let mut st = sess.st.lock().expect("state");
            st.t.first_sent.get_or_insert(now);
            for (i, ((kind, cl), due)) in made.into_iter().zip(&intended).enumerate() {
                st.t.sent[kind.ix()] += 1;
                st.pending.insert(
                    cl,
                    Pending {
                        kind,
                        intended: *due,
                        sent: now,
                        seq: first_seq + i as u64,
                    },
                );
            }
        }
        if let Err(e) = w.wr.write_all(&bytes).await {
            error = Some(format!("session {id}: write: {e}"));
            break;
        }
        drop(w);
        sent += intended.len() as u64;
    }
    if rate && quota.is_none_or(|q| sent < q) {
        // Requests still due when the time was up are missed, not sent late.
        let span = plan
            .end
            .saturating_duration_since(plan.start + offset)
            .as_nanos();
        let every = plan.interval.unwrap_or_default().as_nanos().max(1);
        let due = span.div_ceil(every) as u64;
        sess.st.lock().expect("state").t.missed = due.saturating_sub(scheduled);
    }
    // Drain: wait for the answers to what was sent.
    let drain_end = Instant::now() + DRAIN_TIMEOUT;
    loop {
        if sess.st.lock().expect("state").pending.is_empty() || Instant::now() >= drain_end {
            break;
        }
        tokio::select! {
            _ = sess.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if reader.is_finished() {
            break;
        }
    }
    // Leave the book as found: cancel the account's orders, then log out.
    if error.is_none() && !reader.is_finished() {
        let ts = tokex_fix::session::utc_now();
        let q = Message::new("q")
            .with(tag::CL_ORD_ID, format!("{}-{id}-mc", plan.run))
            .with(tag::MASS_CANCEL_REQUEST_TYPE, 7)
            .with(tag::TRANSACT_TIME, &ts);
        if wire.lock().await.send(&[q]).await.is_ok() {
            let until = Instant::now() + Duration::from_secs(5);
            while !sess.st.lock().expect("state").mass_cancel_answered
                && Instant::now() < until
                && !reader.is_finished()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let _ = wire
        .lock()
        .await
        .send(&[Message::new("5").with(tag::TEXT, "bench-fix done")])
        .await;
    let ended = match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(why)) => why,
        _ => "no Logout answer".into(),
    };
    let _ = wire.lock().await.wr.shutdown().await;
    let mut st = sess.st.lock().expect("state");
    st.t.unanswered = st.pending.len() as u64;
    if let Some(e) = error {
        st.t.errors.push(e);
    }
    if !ended.starts_with("Logout") {
        st.t.errors.push(format!("session {id}: {ended}"));
    }
    let g = garbled.load(Ordering::Relaxed);
    if g > 0 {
        st.t.errors
            .push(format!("session {id}: {g} garbled messages"));
    }
    std::mem::replace(&mut st.t, Tally::new())
}

/// What the liquidity session saw.
#[derive(Default)]
struct LpStats {
    fills: AtomicU64,
    quotes: AtomicU64,
    acks: AtomicU64,
    rejects: AtomicU64,
    last_reject: Mutex<Option<String>>,
}

struct Lp {
    wire: SharedWire,
    reader: tokio::task::JoinHandle<String>,
    stats: Arc<LpStats>,
}

/// The liquidity session: a bid and an ask of LP_QTY contracts, each posted again once filled.
async fn start_lp(plan: &Arc<Plan>, c: Connected) -> Result<Lp, String> {
    let stats = Arc::new(LpStats::default());
    let quote = {
        let plan = plan.clone();
        let n = Arc::new(AtomicU64::new(0));
        move |buy: bool| {
            let k = n.fetch_add(1, Ordering::Relaxed);
            Message::new("D")
                .with(tag::CL_ORD_ID, format!("{}-lp-{k}", plan.run))
                .with(tag::SYMBOL, &plan.symbol)
                .with(tag::SIDE, if buy { "1" } else { "2" })
                .with(tag::TRANSACT_TIME, tokex_fix::session::utc_now())
                .with(tag::ORDER_QTY, LP_QTY)
                .with(tag::ORD_TYPE, 2)
                .with(tag::PRICE, if buy { &plan.lp_bid } else { &plan.lp_ask })
                .with(tag::TIME_IN_FORCE, 1)
                .with(tag::EXEC_INST, 6)
        }
    };
    let first = [quote(true), quote(false)];
    let reader = {
        let (s, q) = (stats.clone(), quote.clone());
        tokio::spawn(read_loop(
            c.rd,
            c.framer,
            c.wire.clone(),
            Arc::new(AtomicU64::new(0)),
            move |m, _| {
                if m.msg_type() != "8" {
                    return Vec::new();
                }
                let buy = m.get(tag::SIDE) == Some("1");
                match (m.get(tag::EXEC_TYPE), m.get(tag::ORD_STATUS)) {
                    (Some("0"), _) => {
                        s.acks.fetch_add(1, Ordering::Relaxed);
                        Vec::new()
                    }
                    (Some("F"), Some(st)) => {
                        s.fills.fetch_add(1, Ordering::Relaxed);
                        if st == "2" {
                            s.quotes.fetch_add(1, Ordering::Relaxed);
                            vec![q(buy)]
                        } else {
                            Vec::new()
                        }
                    }
                    (Some("8"), _) => {
                        s.rejects.fetch_add(1, Ordering::Relaxed);
                        *s.last_reject.lock().expect("lp") = m.get(tag::TEXT).map(str::to_string);
                        Vec::new()
                    }
                    _ => Vec::new(),
                }
            },
        ))
    };
    c.wire.lock().await.send(&first).await?;
    let until = Instant::now() + Duration::from_secs(10);
    while stats.acks.load(Ordering::Relaxed) < 2 {
        if stats.rejects.load(Ordering::Relaxed) > 0 {
            return Err(format!(
                "the liquidity session's quote was rejected: {}",
                stats
                    .last_reject
                    .lock()
                    .expect("lp")
                    .clone()
                    .unwrap_or_default()
            ));
        }
        if Instant::now() >= until || reader.is_finished() {
            return Err("the liquidity session's quotes were not acknowledged".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Lp {
        wire: c.wire,
        reader,
        stats,
    })
}

async fn stop_lp(plan: &Plan, lp: Lp) {
    let q = Message::new("q")
        .with(tag::CL_ORD_ID, format!("{}-lp-mc", plan.run))
        .with(tag::MASS_CANCEL_REQUEST_TYPE, 7)
        .with(tag::TRANSACT_TIME, tokex_fix::session::utc_now());
    let _ = lp.wire.lock().await.send(&[q]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = lp
        .wire
        .lock()
        .await
        .send(&[Message::new("5").with(tag::TEXT, "bench-fix done")])
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), lp.reader).await;
}

// ---------------------------------------------------------------------------------------------
// Setup: the sessions file, an exchange in this process, or a running one.

/// The sessions: the liquidity session first, then PREFIX1..PREFIXn.
fn sessions_config(a: &BenchFixArgs, n: usize, listen: &str, password: &str) -> FixConfig {
    let hash = password_hash(password);
    let session = |sender: String, account: u32| SessionConfig {
        sender_comp_id: sender,
        target_comp_id: a.target_comp_id.clone(),
        account,
        username: None,
        password_sha256: hash.clone(),
        cancel_on_disconnect: true,
        heartbeat_secs_min: 1,
        heartbeat_secs_max: 300,
    };
    let mut sessions = vec![session(format!("{}LP", a.comp_prefix), a.first_account)];
    for i in 1..=n {
        sessions.push(session(
            format!("{}{i}", a.comp_prefix),
            a.first_account + i as u32,
        ));
    }
    FixConfig {
        listen: listen.to_string(),
        sessions,
    }
}

fn config_toml(c: &FixConfig) -> String {
    let mut s = format!(
        "# FIX sessions for tokex bench-fix: `tokex serve --fix THIS_FILE`.\nlisten = \"{}\"\n",
        c.listen
    );
    for x in &c.sessions {
        s.push_str(&format!(
            "\n[[sessions]]\nsender_comp_id = \"{}\"\ntarget_comp_id = \"{}\"\naccount = {}\npassword_sha256 = \"{}\"\ncancel_on_disconnect = {}\n",
            x.sender_comp_id, x.target_comp_id, x.account, x.password_sha256, x.cancel_on_disconnect
        ));
    }
    s
}

/// The instrument: symbol, reference price and tick (decimal strings).
struct Market {
    symbol: String,
    reference: Decimal,
    tick: Decimal,
}

impl Market {
    fn price(&self, ticks_away: i128) -> Result<String, String> {
        let n = self.reference.div_exact(self.tick).map_err(|e| {
            format!(
                "reference {} is not on the tick {}: {e:?}",
                self.reference, self.tick
            )
        })?;
        if n + ticks_away <= 0 {
            return Err(format!(
                "reference {} is too low to quote around",
                self.reference
            ));
        }
        Ok(Decimal::times(self.tick, n + ticks_away).to_string())
    }
}

/// An exchange started in this process, with its FIX gateway.
struct InProcess {
    handle: tokex_server::ExchangeHandle,
    thread: std::thread::JoinHandle<Result<(), String>>,
    rt: tokio::runtime::Runtime,
    gateway: Arc<tokex_fix::gateway::Gateway>,
    addr: String,
    data_dir: PathBuf,
    remove: bool,
}

fn start_in_process(a: &BenchFixArgs, fix: &mut FixConfig) -> Result<(InProcess, Market), String> {
    use tokex_engine::{Command, Role, StpMode};
    use tokex_types::{AccountId, Currency, Money};
    let mut config = tokex_server::config::ServerConfig::default();
    for (what, p) in [
        ("products", &config.products),
        ("index definitions", &config.indexes),
        ("model prices", &config.model_prices),
    ] {
        if !p.exists() {
            return Err(format!(
                "{what} not found at {}: run tokex bench-fix from the repository root, or use --fix-addr",
                p.display()
            ));
        }
    }
    let (data_dir, remove) = match &a.data_dir {
        Some(d) => (d.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let d = std::env::temp_dir()
                .join(format!("tokex-bench-fix-{}-{nanos}", std::process::id()));
            (d, true)
        }
    };
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    config.data_dir = data_dir.clone();
    config.calendar = Some("24x7".into());
    config.history = false;
    let ex = tokex_server::Exchange::start(&config)?;
    let handle = ex.handle.clone();
    for s in &fix.sessions {
        let account = AccountId(s.account);
        let exists = handle
            .query_blocking(move |e| e.account(account).is_some())
            .map_err(|e| e.to_string())?;
        if exists {
            continue;
        }
        for cmd in [
            Command::CreateAccount {
                account,
                role: Role::Trader,
                stp: StpMode::CancelResting,
            },
            Command::Deposit {
                account,
                currency: Currency::Usd,
                amount: Money(DEPOSIT_USD * 100),
            },
        ] {
            handle
                .submit_blocking(cmd)
                .map_err(|e| e.to_string())?
                .result
                .map_err(|r| format!("setting up account {}: {r}", s.account))?;
        }
    }
    let wanted = a.instrument.clone();
    let market = handle
        .query_blocking(move |e| {
            e.instruments()
                .filter(|i| !i.delisted)
                .find(|i| match &wanted {
                    Some(s) => &i.spec.symbol == s,
                    None => i.spec.product == "TKF",
                })
                .map(|i| {
                    (
                        i.spec.symbol.clone(),
                        i.spec.tick_size.clone(),
                        i.reference_price,
                    )
                })
        })
        .map_err(|e| e.to_string())?;
    let Some((symbol, tick, price)) = market else {
        return Err(match &a.instrument {
            Some(s) => format!("{s}: no such listed instrument"),
            None => "no TKF instrument is listed".into(),
        });
    };
    let tick = Decimal::parse(&tick).map_err(|e| format!("tick {tick}: {e:?}"))?;
    let reference = Decimal::times(tick, price.0 as i128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("exchange")
        .build()
        .map_err(|e| e.to_string())?;
    let (gateway, addr) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        fix.listen = addr.to_string();
        let gw = tokex_fix::gateway::Gateway::new(handle.clone(), fix, data_dir.clone()).await?;
        tokio::spawn(tokex_fix::gateway::run(gw.clone(), listener));
        Ok::<_, String>((gw, addr.to_string()))
    })?;
    Ok((
        InProcess {
            handle,
            thread: ex.thread,
            rt,
            gateway,
            addr,
            data_dir,
            remove,
        },
        Market {
            symbol,
            reference,
            tick,
        },
    ))
}

impl InProcess {
    fn stop(self) -> Result<(), String> {
        self.gateway.logout_all("the exchange is stopping");
        self.handle.shutdown();
        let r = self
            .thread
            .join()
            .map_err(|_| "the sequencer panicked".to_string())?;
        self.rt.shutdown_timeout(Duration::from_secs(2));
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
        r
    }
}

/// A few HTTP calls to a running exchange (setup only, not measured).
struct Http {
    url: String,
    agent: ureq::Agent,
    operator: Option<(String, String)>,
}

impl Http {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let creds = self
            .operator
            .as_ref()
            .map(|(k, s)| (k.as_str(), s.as_str()));
        let (status, text) =
            crate::client_cmd::send_signed(&self.agent, &url, method, path, body, creds)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!(
                "{method} {path}: {} ({status}): {}",
                v["code"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or(&text)
            ));
        }
        Ok(v)
    }

    /// The exchange's journal counters from its public `/metrics`.
    fn journal(&self) -> Option<Journal> {
        let url = format!("{}/metrics", self.url.trim_end_matches('/'));
        let text = self
            .agent
            .get(&url)
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()?;
        let metric = |name: &str| -> Option<f64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        };
        Some(Journal {
            commands: metric("tokex_commands_total")? as u64,
            fsyncs: metric("tokex_batches_total")? as u64,
            fsync_ns: (metric("tokex_fsync_seconds_total")? * 1e9) as u64,
            fsync_ns_max: (metric("tokex_fsync_seconds_max")? * 1e9) as u64,
        })
    }
}

fn external_setup(a: &BenchFixArgs, fix: &FixConfig) -> Result<(Market, Http), String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut http = Http {
        url: a.url.clone(),
        agent,
        operator: None,
    };
    let symbol = match &a.instrument {
        Some(s) => s.clone(),
        None => http.call("GET", "/api/v1/instruments?product=TKF", None)?["instruments"][0]
            ["symbol"]
            .as_str()
            .ok_or("no TKF instrument is listed: name one with --instrument")?
            .to_string(),
    };
    let inst = http.call("GET", &format!("/api/v1/instruments/{symbol}"), None)?;
    let d = |k: &str| -> Result<Decimal, String> {
        let s = inst[k]
            .as_str()
            .ok_or_else(|| format!("{symbol}: no {k} in {inst}"))?;
        Decimal::parse(s).map_err(|e| format!("{symbol} {k} {s}: {e:?}"))
    };
    let market = Market {
        symbol: symbol.clone(),
        reference: d("reference_price")?,
        tick: d("tick_size")?,
    };
    if let (Some(k), Some(s)) = (&a.key, &a.secret) {
        http.operator = Some((k.clone(), s.clone()));
        let mut opened = 0;
        for x in &fix.sessions {
            match http.call(
                "POST",
                "/api/v1/admin/accounts",
                Some(json!({"account": x.account, "role": "trader"})),
            ) {
                Ok(_) => {
                    http.call(
                        "POST",
                        "/api/v1/admin/deposits",
                        Some(json!({"account": x.account, "currency": "USD",
                            "amount": DEPOSIT_USD.to_string()})),
                    )?;
                    opened += 1;
                }
                Err(e) if e.contains("ACCOUNT_EXISTS") => {}
                Err(e) => return Err(e),
            }
        }
        if opened > 0 {
            eprintln!("bench-fix: opened and funded {opened} accounts");
        }
    }
    Ok((market, http))
}

/// The file system a path lives on (fsync on tmpfs costs nothing: worth saying).
fn filesystem_of(p: &Path) -> Option<String> {
    let p = p.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut it = l.split(' ');
            let (_, mp, fs) = (it.next()?, it.next()?, it.next()?);
            Some((mp.to_string(), fs.to_string()))
        })
        .filter(|(mp, _)| p.starts_with(mp))
        .max_by_key(|(mp, _)| mp.len())
        .map(|(_, fs)| fs)
}

// ---------------------------------------------------------------------------------------------
// Running and reporting.

pub fn run(a: BenchFixArgs) -> Result<(), String> {
    if a.sessions == 0 || a.sessions > SESSIONS_MAX {
        return Err(format!("--sessions must be 1 to {SESSIONS_MAX}"));
    }
    if let Some(path) = &a.write_sessions {
        let password = a
            .password
            .as_deref()
            .ok_or("--write-sessions needs --password (or TOKEX_FIX_PASSWORD)")?;
        let c = sessions_config(&a, a.sessions, &a.listen, password);
        c.validate()?;
        std::fs::write(path, config_toml(&c)).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "bench-fix: wrote {} ({} sessions and the liquidity session {}LP, accounts {}..{})",
            path.display(),
            a.sessions,
            a.comp_prefix,
            a.first_account,
            a.first_account + a.sessions as u32
        );
        return Ok(());
    }
    if a.duration == 0 || a.duration > DURATION_MAX_SECS {
        return Err(format!(
            "--duration must be 1 to {DURATION_MAX_SECS} seconds"
        ));
    }
    if a.rate == Some(0) || a.orders == Some(0) || a.window == Some(0) || a.resting == 0 {
        return Err("--rate, --orders, --window and --resting must be at least 1".into());
    }
    if a.cross_pct > 100 {
        return Err("--cross-pct must be 0 to 100".into());
    }
    let external = a.fix_addr.is_some();
    let password = if external {
        a.password
            .clone()
            .ok_or("--fix-addr needs the sessions' --password (or TOKEX_FIX_PASSWORD)")?
    } else {
        IN_PROCESS_PASSWORD.to_string()
    };
    let mut fix = sessions_config(&a, a.sessions, "127.0.0.1:0", &password);
    let (exchange, market, addr, http) = match &a.fix_addr {
        Some(addr) => {
            let (m, http) = external_setup(&a, &fix)?;
            (None, m, addr.clone(), Some(http))
        }
        None => {
            eprintln!("bench-fix: starting an exchange in this process ...");
            let (ex, m) = start_in_process(&a, &mut fix)?;
            let addr = ex.addr.clone();
            (Some(ex), m, addr, None)
        }
    };
    let probe = || match (&exchange, &http) {
        (Some(e), _) => Some(journal_stats(&e.handle)),
        (None, Some(h)) => h.journal(),
        _ => None,
    };
    let result = measure(&a, &password, &market, &addr, exchange.as_ref(), &probe);
    let stopped = exchange.map(InProcess::stop).unwrap_or(Ok(()));
    let report = result?;
    stopped?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print_table(&report);
    }
    Ok(())
}

fn measure(
    a: &BenchFixArgs,
    password: &str,
    market: &Market,
    addr: &str,
    exchange: Option<&InProcess>,
    journal: &dyn Fn() -> Option<Journal>,
) -> Result<Value, String> {
    let window = a.window.unwrap_or(if a.rate.is_some() {
        RATE_OUTSTANDING_MAX
    } else {
        8
    });
    let prices = |from: i128| -> Result<Vec<String>, String> {
        (from..from + 10).map(|n| market.price(n)).collect()
    };
    let bids = (REST_TICKS..REST_TICKS + 10)
        .map(|n| market.price(-n))
        .collect::<Result<Vec<_>, _>>()?;
    let asks = prices(REST_TICKS)?;
    // ClOrdIDs are unique per account per trading day: a run prefix keeps runs apart.
    let run = {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut s = String::new();
        let mut x = ms;
        while x > 0 {
            let d = (x % 36) as u32;
            s.insert(0, char::from_digit(d, 36).unwrap_or('0'));
            x /= 36;
        }
        format!("b{s}")
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .thread_name("bench-fix")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let journal_before = journal();
    let cpu_before = thread_cpu();
    let mut plan = Plan {
        addr: addr.to_string(),
        target: a.target_comp_id.clone(),
        password: password.to_string(),
        symbol: market.symbol.clone(),
        bids,
        asks,
        lp_bid: market.price(-LP_TICKS)?,
        lp_ask: market.price(LP_TICKS)?,
        resting: a.resting,
        cross_pct: a.cross_pct,
        sessions: a.sessions,
        window,
        interval: a
            .rate
            .map(|r| Duration::from_secs_f64(a.sessions as f64 / r as f64)),
        run,
        start: Instant::now(),
        end: Instant::now(),
    };
    let (total, lp_stats) = rt.block_on(async move {
        // Log everyone on before the clock starts.
        let lp_conn = logon(
            &plan.addr,
            &format!("{}LP", a.comp_prefix),
            &plan.target,
            &plan.password,
        )
        .await?;
        let mut conns = Vec::new();
        for i in 1..=a.sessions {
            conns.push(
                logon(
                    &plan.addr,
                    &format!("{}{i}", a.comp_prefix),
                    &plan.target,
                    &plan.password,
                )
                .await?,
            );
        }
        let start = Instant::now() + Duration::from_millis(300);
        plan.start = start;
        plan.end = start + Duration::from_secs(a.duration);
        let plan = Arc::new(plan);
        let lp = start_lp(&plan, lp_conn).await?;
        eprintln!(
            "bench-fix: {} sessions logged on at {addr}; {} on {} for up to {} s",
            a.sessions,
            match a.rate {
                Some(r) => format!("{r} order requests/s"),
                None => format!("as fast as possible, window {window} per session"),
            },
            plan.symbol,
            a.duration
        );
        let n = a.sessions as u64;
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let quota = a.orders.map(|o| o / n + u64::from((i as u64) < o % n));
                tokio::spawn(taker(plan.clone(), i + 1, quota, c))
            })
            .collect();
        let mut total = Tally::new();
        for t in tasks {
            total.add(&t.await.map_err(|e| e.to_string())?);
        }
        let stats = lp.stats.clone();
        stop_lp(&plan, lp).await;
        Ok::<_, String>((total, stats))
    })?;
    // Before the generator's threads end, or their time is lost.
    let mut cpu = thread_cpu();
    for (k, v) in &cpu_before {
        if let Some(x) = cpu.get_mut(k) {
            *x -= v;
        }
    }
    cpu.retain(|_, v| *v >= 0.005);
    rt.shutdown_timeout(Duration::from_secs(1));
    // Everything the exchange journaled meanwhile (with another client trading, theirs too).
    let journal = match (journal_before, journal()) {
        (Some(b), Some(a)) => {
            let (n, f) = (a.commands - b.commands, (a.fsyncs - b.fsyncs).max(1));
            json!({
                "commands": n,
                "fsyncs": a.fsyncs - b.fsyncs,
                "commands_per_fsync": n as f64 / f as f64,
                "fsync_mean_ms": (a.fsync_ns - b.fsync_ns) as f64 / 1e6 / f as f64,
                "fsync_max_ms_since_start": a.fsync_ns_max as f64 / 1e6,
            })
        }
        _ => Value::Null,
    };
    let elapsed = match (total.first_sent, total.last_answer) {
        (Some(f), Some(l)) => l.saturating_duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    let sent: u64 = total.sent.iter().sum();
    let answered: u64 = total.answered.iter().sum();
    let rejected: u64 = total.rejects.values().sum();
    let lat = |h: &Histogram<u64>| {
        let ms = |v: u64| v as f64 / 1000.0;
        json!({
            "count": h.len(),
            "p50_ms": ms(h.value_at_quantile(0.5)),
            "p90_ms": ms(h.value_at_quantile(0.9)),
            "p99_ms": ms(h.value_at_quantile(0.99)),
            "p99_9_ms": ms(h.value_at_quantile(0.999)),
            "max_ms": ms(h.max()),
        })
    };
    let mut all = histogram();
    for h in &total.hist {
        all.add(h).expect("same bounds");
    }
    let mut by_kind = serde_json::Map::new();
    for (k, name) in KINDS {
        by_kind.insert(name.to_string(), lat(&total.hist[k.ix()]));
    }
    Ok(json!({
        "exchange": match exchange {
            Some(e) => json!({
                "in_process": true,
                "data_dir": e.data_dir.display().to_string(),
                "filesystem": filesystem_of(&e.data_dir),
            }),
            None => json!({"in_process": false, "fix_addr": addr}),
        },
        "journal": journal,
        "instrument": market.symbol,
        "sessions": a.sessions,
        "rate": a.rate,
        "window": window,
        "duration_s": a.duration,
        "elapsed_s": elapsed,
        "sent": sent,
        "answered": answered,
        "accepted": answered - rejected.min(answered),
        "rejected": rejected,
        "unanswered": total.unanswered,
        "missed": total.missed,
        "orders_per_s": if elapsed > 0.0 { answered as f64 / elapsed } else { 0.0 },
        "sent_by_kind": {
            "new, resting": total.sent[0], "new, crossing (IOC)": total.sent[1], "cancel": total.sent[2],
        },
        "fills": total.fills,
        "rejects": total.rejects,
        "unexpected": total.unexpected,
        "errors": total.errors,
        "latency": {
            "all": lat(&all),
            "by_kind": by_kind,
            "from_intended_send": if a.rate.is_some() { lat(&total.intended) } else { Value::Null },
        },
        "cpu_s": cpu,
        "liquidity_session": {
            "fills": lp_stats.fills.load(Ordering::Relaxed),
            "quotes_reposted": lp_stats.quotes.load(Ordering::Relaxed),
            "rejects": lp_stats.rejects.load(Ordering::Relaxed),
        },
    }))
}

/// CPU seconds used by this process's threads, by thread name (Linux; empty elsewhere):
/// where the two shared cores went (generator `bench-fix`; with an in-process exchange its
/// FIX gateway's runtime `exchange`, the `sequencer` and the `journal-commit` thread).
fn thread_cpu() -> BTreeMap<String, f64> {
    // USER_HZ: /proc reports CPU time in 1/100 s on Linux whatever the kernel's own tick.
    const TICKS_PER_SEC: f64 = 100.0;
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let p = e.path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(p.join("comm")),
            std::fs::read_to_string(p.join("stat")),
        ) else {
            continue;
        };
        // After the ")" closing the name come fields 3.. of proc(5): utime is 14, stime 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let name = match comm.trim() {
            "tokex" => "main".to_string(),
            n => n.to_string(),
        };
        *out.entry(name).or_default() += (ticks(11) + ticks(12)) as f64 / TICKS_PER_SEC;
    }
    out
}

/// The sequencer's journal counters.
struct Journal {
    commands: u64,
    /// One per durable batch.
    fsyncs: u64,
    fsync_ns: u64,
    /// The longest fsync since the exchange started.
    fsync_ns_max: u64,
}

fn journal_stats(h: &tokex_server::ExchangeHandle) -> Journal {
    let s = h.stats();
    Journal {
        commands: s.commands.load(Ordering::Relaxed),
        fsyncs: s.batches.load(Ordering::Relaxed),
        fsync_ns: s.fsync_ns_total.load(Ordering::Relaxed),
        fsync_ns_max: s.fsync_ns_max.load(Ordering::Relaxed),
    }
}

fn print_table(r: &Value) {
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let ex = &r["exchange"];
    let target = if ex["in_process"] == true {
        format!(
            "exchange in this process, journal in {} ({}, fsync per batch)",
            ex["data_dir"].as_str().unwrap_or("?"),
            ex["filesystem"].as_str().unwrap_or("file system unknown")
        )
    } else {
        format!("exchange at {}", ex["fix_addr"].as_str().unwrap_or("?"))
    };
    println!(
        "{}: {} FIX sessions (+1 liquidity session), {}; {target}",
        r["instrument"].as_str().unwrap_or("?"),
        u(&r["sessions"]),
        match r["rate"].as_u64() {
            Some(rate) => format!("target {rate} order requests/s"),
            None => format!(
                "as fast as possible, {} outstanding per session",
                u(&r["window"])
            ),
        }
    );
    let k = &r["sent_by_kind"];
    println!(
        "order requests answered in {:.2} s: {} of {} ({:.0}/s): {} resting, {} crossing, {} cancels sent; {} fills; {} rejected, {} unanswered",
        f(&r["elapsed_s"]),
        u(&r["answered"]),
        u(&r["sent"]),
        f(&r["orders_per_s"]),
        u(&k["new, resting"]),
        u(&k["new, crossing (IOC)"]),
        u(&k["cancel"]),
        u(&r["fills"]),
        u(&r["rejected"]),
        u(&r["unanswered"]),
    );
    if u(&r["missed"]) > 0 {
        println!(
            "  NOT SUSTAINED: {} scheduled requests were still unsent when the time was up",
            u(&r["missed"])
        );
    }
    if let Some(m) = r["rejects"].as_object() {
        for (code, n) in m {
            println!("  rejected {code}: {n}");
        }
    }
    if let Some(m) = r["unexpected"].as_object() {
        for (what, n) in m {
            println!("  {what}: {n}");
        }
    }
    if let Some(errs) = r["errors"].as_array() {
        for e in errs.iter().take(5) {
            println!("  error: {}", e.as_str().unwrap_or("?"));
        }
    }
    let j = &r["journal"];
    if j.is_object() {
        println!(
            "journal: {} commands in {} fsyncs ({:.1} per fsync), fsync mean {:.2} ms; longest fsync since the exchange started {:.2} ms",
            u(&j["commands"]),
            u(&j["fsyncs"]),
            f(&j["commands_per_fsync"]),
            f(&j["fsync_mean_ms"]),
            f(&j["fsync_max_ms_since_start"])
        );
    }
    println!("latency to the first ExecutionReport (ms):");
    println!(
        "  {:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    let row = |name: &str, l: &Value| {
        if u(&l["count"]) == 0 {
            return;
        }
        println!(
            "  {:<28} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            name,
            u(&l["count"]),
            f(&l["p50_ms"]),
            f(&l["p90_ms"]),
            f(&l["p99_ms"]),
            f(&l["p99_9_ms"]),
            f(&l["max_ms"])
        );
    };
    let lat = &r["latency"];
    row("all, from the send", &lat["all"]);
    for (_, name) in KINDS {
        row(&format!("  {name}"), &lat["by_kind"][name]);
    }
    if lat["from_intended_send"].is_object() {
        row("all, from the intended send", &lat["from_intended_send"]);
    }
    if let Some(cpu) = r["cpu_s"].as_object().filter(|c| !c.is_empty()) {
        let parts: Vec<String> = cpu
            .iter()
            .map(|(k, v)| format!("{k} {:.1}", f(v)))
            .collect();
        println!(
            "CPU seconds of this process's threads: {}",
            parts.join(", ")
        );
    }
    let lp = &r["liquidity_session"];
    println!(
        "liquidity session: {} fills, {} quotes posted again, {} rejects",
        u(&lp["fills"]),
        u(&lp["quotes_reposted"]),
        u(&lp["rejects"])
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            addr: String::new(),
            target: "TOKEX".into(),
            password: String::new(),
            symbol: "TKF-2026-12".into(),
            bids: vec!["7.980".into()],
            asks: vec!["8.020".into()],
            lp_bid: "7.995".into(),
            lp_ask: "8.005".into(),
            resting: 2,
            cross_pct: 25,
            sessions: 1,
            window: 8,
            interval: None,
            run: "bx".into(),
            start: Instant::now(),
            end: Instant::now(),
        }
    }

    #[test]
    fn requests_are_valid_fix_and_follow_the_mix() {
        let p = plan();
        let mut st = SessState {
            pending: HashMap::new(),
            working: VecDeque::new(),
            t: Tally::new(),
            mass_cancel_answered: false,
        };
        let mut g = Gen {
            id: 1,
            n: 0,
            news: 0,
            rest_buy: false,
            cross_buy: false,
        };
        let mut kinds = Vec::new();
        for _ in 0..8 {
            let (k, cl, m) = g.next(&mut st, &p, "20260101-00:00:00.000");
            // Every request passes the gateway's own dictionary validation.
            let full = Message::new(m.msg_type())
                .with(tag::SENDER_COMP_ID, "BENCH1")
                .with(tag::TARGET_COMP_ID, "TOKEX")
                .with(tag::MSG_SEQ_NUM, 2)
                .with(tag::SENDING_TIME, "20260101-00:00:00.000");
            let mut full = full;
            full.fields.extend(
                m.fields
                    .iter()
                    .filter(|(t, _)| *t != tag::MSG_TYPE)
                    .cloned(),
            );
            assert_eq!(codec::parse(&full.encode()).reject, None, "{m:?}");
            if k == Kind::Rest {
                st.working.push_back((cl, "1"));
            }
            kinds.push(k);
        }
        use Kind::*;
        // 25% of the new orders cross; a cancel once two rest.
        assert_eq!(
            kinds,
            [Rest, Rest, Cancel, Rest, Cancel, Cross, Rest, Cancel]
        );
    }

    #[test]
    fn prices_are_whole_ticks_around_the_reference() {
        let m = Market {
            symbol: "X".into(),
            reference: Decimal::parse("8.000").unwrap(),
            tick: Decimal::parse("0.001").unwrap(),
        };
        assert_eq!(m.price(5).unwrap(), "8.005");
        assert_eq!(m.price(-20).unwrap(), "7.98");
        assert_eq!(m.price(0).unwrap(), "8");
        let off = Market {
            reference: Decimal::parse("8.0005").unwrap(),
            ..m
        };
        assert!(off.price(1).is_err());
    }

    #[test]
    fn written_sessions_file_loads() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: BenchFixArgs,
        }
        let t = T::parse_from(["t", "--sessions", "3"]);
        let c = sessions_config(&t.a, 3, "127.0.0.1:9878", "pw");
        let back = FixConfig::from_toml_str(&config_toml(&c)).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.sessions[0].sender_comp_id, "BENCHLP");
        assert_eq!(back.sessions[3].account, 9_003);
        assert!(back.sessions[1].credentials_ok(None, Some("pw")));
    }
}
