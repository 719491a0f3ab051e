//! Crash test of the exchange process through its public interface.
//!
//! `tokex serve` runs as a separate process on a temporary data directory (24x7 calendar,
//! history store on, an ephemeral port). Two clients, one per account, place and cancel
//! crossing orders over signed HTTP and record every answer they get: each acknowledged
//! order (exchange id, client order id, quantity filled at the time), each acknowledged
//! cancel, each rejection and each fill they were told about. The server is killed with
//! SIGKILL at seeded random moments while the clients are mid-flight, at least ten times,
//! and restarted on the same directory. After every restart, over HTTP only:
//!
//! - a request that got no answer (in doubt) is sent again with the same client order id:
//!   the server must either accept it (the first copy was never durable) or refuse it as
//!   `DUPLICATE_CLIENT_ORDER_ID` (the first copy survived, and is then found by client id);
//! - every account's order history holds exactly the orders the client knows of: each
//!   acknowledged order with its id and client id, no client id twice, nothing rejected,
//!   nothing unknown; acknowledged cancels are cancelled; fills never shrink;
//! - a sample of orders is found by exchange id and by client order id;
//! - every fill the client was told about is in the account's fills, with its order, price
//!   and quantity; the positions equal the fills' sum and the two accounts' positions net to
//!   zero;
//! - the live state hash (`GET /api/v1/admin/state`) equals `tokex verify --to-seq` of the
//!   journal at the same sequence number, with every invariant holding.
//!
//! While the server is down, `tokex verify` checks the invariants of the crashed directory.
//! The seed comes from `TOKEX_CRASH_SEED` (printed; a failure reproduces with it).

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokex_server::api::auth::{
    now_ms, sign_with_secret, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// Kills while the clients trade; the final check adds one more.
const KILLS: usize = 12;
const ACCOUNTS: [u32; 2] = [10, 11];
const SEED_DEFAULT: u64 = 20_261_204;

/// xorshift64*: small, seeded, good enough to pick moments and orders.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ----- the server process ---------------------------------------------------------------------

struct Server {
    child: Arc<Mutex<Child>>,
    url: String,
    /// The operator key `serve` prints on its first start.
    operator: Option<Key>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokex"))
            .current_dir(ROOT)
            .args(["serve", "--calendar", "24x7", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn tokex serve");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = mpsc::channel();
        // Keeps reading until the process dies, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let child = Arc::new(Mutex::new(child));
        let (mut key, mut secret, mut url) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(90);
        while url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let line = line.trim();
                    if let Some(k) = line.strip_prefix("TOKEX_API_KEY=") {
                        key = Some(k.to_string());
                    } else if let Some(s) = line.strip_prefix("TOKEX_API_SECRET=") {
                        secret = Some(s.to_string());
                    } else if let Some(rest) = line.strip_prefix("exchange running: ") {
                        let u = rest.split_whitespace().next().unwrap_or("");
                        url = Some(u.trim_end_matches('/').to_string());
                    }
                }
                Err(_) => {
                    let _ = child.lock().unwrap().kill();
                    panic!(
                        "tokex serve did not start (see {})",
                        dir.join("server.log").display()
                    );
                }
            }
        }
        Server {
            child,
            url: url.unwrap(),
            operator: key.zip(secret).map(|(key, secret)| Key { key, secret }),
        }
    }

    /// SIGKILL; returns false if the process had already exited on its own.
    fn kill(child: &Mutex<Child>) -> bool {
        let mut c = child.lock().unwrap();
        let alive = matches!(c.try_wait(), Ok(None));
        let _ = c.kill();
        let _ = c.wait();
        alive
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        Server::kill(&self.child);
    }
}

/// `tokex verify --data-dir dir [--to-seq n]`: (state hash, last line) after checking that
/// every invariant holds.
fn verify(dir: &Path, to_seq: Option<u64>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokex"));
    cmd.current_dir(ROOT)
        .arg("verify")
        .arg("--data-dir")
        .arg(dir);
    if let Some(s) = to_seq {
        cmd.args(["--to-seq", &s.to_string()]);
    }
    let out = cmd.output().expect("run tokex verify");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "tokex verify failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("invariants: ok"), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("state hash: "))
        .unwrap_or_else(|| panic!("no state hash in {text}"))
        .trim()
        .to_string()
}

// ----- the signed HTTP client -----------------------------------------------------------------

#[derive(Clone)]
struct Key {
    key: String,
    secret: String,
}

/// What a request got back.
enum Reply {
    Ok(Value),
    /// An answer, but an error: (status, code).
    Refused(u16, String),
    /// No answer at all (the server died): the request is in doubt.
    Down(String),
}

#[derive(Clone)]
struct Api {
    agent: ureq::Agent,
    url: String,
}

impl Api {
    fn new(url: &str) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Api {
            agent,
            url: url.to_string(),
        }
    }

    fn call(&self, key: &Key, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        loop {
            let ts = now_ms();
            let sig = sign_with_secret(&key.secret, ts, method, path, body.as_bytes());
            let req = ureq::http::Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.url))
                .header(HEADER_KEY, &key.key)
                .header(HEADER_TIMESTAMP, ts.to_string())
                .header(HEADER_SIGNATURE, sig)
                .header("content-type", "application/json")
                .body(body.clone().into_bytes())
                .expect("request");
            let mut resp = match self.agent.run(req) {
                Ok(r) => r,
                Err(e) => return Reply::Down(e.to_string()),
            };
            let status = resp.status().as_u16();
            let text = match resp.body_mut().read_to_string() {
                Ok(t) => t,
                Err(e) => return Reply::Down(e.to_string()),
            };
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let code = v["code"].as_str().unwrap_or("").to_string();
            // Refused before reaching the sequencer: nothing happened, try again.
            if status == 429 || code == "OVERLOADED" {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            if status >= 400 {
                return Reply::Refused(status, format!("{code}: {}", v["message"]));
            }
            return Reply::Ok(v);
        }
    }

    /// A call that must succeed (no kill is pending).
    fn ok(&self, key: &Key, method: &str, path: &str, body: Option<&Value>) -> Value {
        match self.call(key, method, path, body) {
            Reply::Ok(v) => v,
            Reply::Refused(s, e) => panic!("{method} {path}: {s} {e}"),
            Reply::Down(e) => panic!("{method} {path}: no answer: {e}"),
        }
    }
}

// ----- what a client knows ----------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Acked {
    order_id: u64,
    filled: u64,
}

#[derive(Clone, Debug, PartialEq)]
struct SeenFill {
    order_id: u64,
    price: String,
    qty: u64,
}

/// One account's record of every answer it got.
struct Ledger {
    account: u32,
    key: Key,
    /// Client order id → the acknowledged order.
    acked: BTreeMap<String, Acked>,
    /// Client order ids whose cancel was acknowledged.
    cancelled: BTreeSet<String>,
    /// Client order ids the exchange refused.
    rejected: BTreeSet<String>,
    /// Trade id → the fill the client was told about.
    fills: BTreeMap<u64, SeenFill>,
    /// Orders believed working, by client order id (cancel candidates).
    open: Vec<String>,
    /// A new order sent without an answer: its request body.
    in_doubt: Option<Value>,
    next_clid: u64,
    rng: Rng,
    /// Acknowledged since the last check (looked up one by one).
    fresh: Vec<String>,
    /// Requests per outcome, for the report.
    requests: u64,
    in_doubt_kept: u64,
    in_doubt_lost: u64,
}

fn num(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {v}")),
        Value::Number(n) => n.as_u64().unwrap_or_else(|| panic!("not a u64: {v}")),
        _ => panic!("not a number: {v}"),
    }
}

/// The instrument the clients trade: its symbol and prices as integers at the tick's scale.
struct Market {
    symbol: String,
    scale: usize,
    reference: i64,
    tick: i64,
}

fn units(s: &str, scale: usize) -> i64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    assert!(f.len() <= scale, "{s} has more decimals than {scale}");
    format!("{i}{f:0<scale$}").parse().expect("decimal")
}

impl Market {
    fn price(&self, u: i64) -> String {
        let p = 10i64.pow(self.scale as u32);
        format!("{}.{:0w$}", u / p, u % p, w = self.scale)
    }
}

impl Ledger {
    fn record_order(&mut self, clid: &str, v: &Value) {
        let o = &v["order"];
        let id = num(&o["order_id"]);
        assert_eq!(o["client_order_id"], json!(clid), "{v}");
        self.acked.insert(
            clid.to_string(),
            Acked {
                order_id: id,
                filled: num(&o["filled"]),
            },
        );
        self.fresh.push(clid.to_string());
        if matches!(
            o["status"].as_str(),
            Some("working" | "partially_filled" | "new")
        ) {
            self.open.push(clid.to_string());
        }
        for f in v["fills"].as_array().expect("fills") {
            let seen = SeenFill {
                order_id: id,
                price: f["price"].as_str().expect("price").to_string(),
                qty: num(&f["qty"]),
            };
            assert!(self.fills.insert(num(&f["trade_id"]), seen).is_none());
        }
    }

    /// One action: a new order (most of the time) or a cancel. False once the server is gone.
    fn act(&mut self, api: &Api, m: &Market, round: usize) -> bool {
        self.requests += 1;
        if !self.open.is_empty() && self.rng.below(100) < 20 {
            // Mostly recent orders: older ones have usually been filled meanwhile.
            let n = self.open.len();
            let k = n - 1 - self.rng.below(n.min(4) as u64) as usize;
            let clid = self.open.remove(k);
            let path = format!("/api/v1/orders/by-client-id/{clid}");
            return match api.call(&self.key, "DELETE", &path, None) {
                Reply::Ok(v) => {
                    assert_eq!(v["order"]["status"], "cancelled", "{v}");
                    self.cancelled.insert(clid);
                    true
                }
                // Filled (or cancelled by self-match prevention) in the meantime.
                Reply::Refused(404, _) => true,
                Reply::Refused(s, e) => panic!("cancel {clid}: {s} {e}"),
                Reply::Down(_) => false,
            };
        }
        let clid = format!("a{}-r{round}-{}", self.account, self.next_clid);
        self.next_clid += 1;
        let side = if self.rng.below(2) == 0 {
            "buy"
        } else {
            "sell"
        };
        let offset = self.rng.below(7) as i64 - 3;
        let body = json!({
            "instrument": m.symbol,
            "side": side,
            "price": m.price(m.reference + offset * m.tick),
            "qty": (1 + self.rng.below(3)).to_string(),
            "client_order_id": clid,
        });
        self.place(api, &clid, body)
    }

    fn place(&mut self, api: &Api, clid: &str, body: Value) -> bool {
        match api.call(&self.key, "POST", "/api/v1/orders", Some(&body)) {
            Reply::Ok(v) => {
                self.record_order(clid, &v);
                true
            }
            Reply::Refused(_, e) => {
                eprintln!("order {clid} refused: {e}");
                self.rejected.insert(clid.to_string());
                true
            }
            Reply::Down(_) => {
                self.in_doubt = Some(body);
                false
            }
        }
    }

    /// After a restart: the order sent without an answer is sent again with the same client
    /// order id. Exactly one copy may exist afterwards.
    fn resolve_in_doubt(&mut self, api: &Api) {
        let Some(body) = self.in_doubt.take() else {
            return;
        };
        let clid = body["client_order_id"].as_str().unwrap().to_string();
        match api.call(&self.key, "POST", "/api/v1/orders", Some(&body)) {
            Reply::Ok(v) => {
                self.in_doubt_lost += 1;
                self.record_order(&clid, &v);
            }
            Reply::Refused(_, e) if e.starts_with("DUPLICATE_CLIENT_ORDER_ID") => {
                // The first copy was durable: the client learns of it by its client id.
                self.in_doubt_kept += 1;
                let o = api.ok(
                    &self.key,
                    "GET",
                    &format!("/api/v1/orders/by-client-id/{clid}"),
                    None,
                );
                let wrapped = json!({"order": o, "fills": []});
                self.record_order(&clid, &wrapped);
            }
            Reply::Refused(s, e) => {
                eprintln!("in-doubt order {clid} refused on resend: {s} {e}");
                self.rejected.insert(clid);
            }
            Reply::Down(e) => panic!("resend of {clid}: no answer from a live server: {e}"),
        }
    }

    /// Everything the client knows, checked against what the restarted server says.
    fn check(&mut self, api: &Api, m: &Market, when: &str) -> i64 {
        // The whole order history, newest first, a page at a time.
        let mut orders: Vec<Value> = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut path = "/api/v1/orders?status=all&limit=1000".to_string();
            if let Some(b) = before {
                path.push_str(&format!("&before={b}"));
            }
            let page = api.ok(&self.key, "GET", &path, None)["orders"]
                .as_array()
                .expect("orders")
                .clone();
            if page.is_empty() {
                break;
            }
            before = Some(page.iter().map(|o| num(&o["order_id"])).min().unwrap());
            orders.extend(page);
        }
        let mut by_clid: BTreeMap<String, &Value> = BTreeMap::new();
        for o in &orders {
            let c = o["client_order_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{when}: order without client id: {o}"))
                .to_string();
            assert!(
                by_clid.insert(c.clone(), o).is_none(),
                "{when}: account {}: client order id {c} appears twice",
                self.account
            );
        }
        for (c, a) in &self.acked {
            let o = by_clid.get(c).unwrap_or_else(|| {
                panic!(
                    "{when}: account {}: acknowledged order {c} (#{}) is missing",
                    self.account, a.order_id
                )
            });
            assert_eq!(num(&o["order_id"]), a.order_id, "{when}: {c}: {o}");
            assert!(
                num(&o["filled"]) >= a.filled,
                "{when}: {c}: filled went back from {}: {o}",
                a.filled
            );
        }
        for c in &self.cancelled {
            assert_eq!(
                by_clid[c.as_str()]["status"],
                "cancelled",
                "{when}: acknowledged cancel of {c} lost"
            );
        }
        for c in &self.rejected {
            assert!(!by_clid.contains_key(c), "{when}: refused order {c} exists");
        }
        let unknown: Vec<&String> = by_clid
            .keys()
            .filter(|c| !self.acked.contains_key(*c))
            .collect();
        assert!(
            unknown.is_empty(),
            "{when}: account {}: orders the client was never told of: {unknown:?}",
            self.account
        );
        // One by one: the orders acknowledged since the last check and a sample of older ones.
        let mut sample: Vec<String> = std::mem::take(&mut self.fresh);
        let all: Vec<&String> = self.acked.keys().collect();
        for _ in 0..10.min(all.len()) {
            sample.push(all[self.rng.below(all.len() as u64) as usize].clone());
        }
        for c in sample.iter().take(60) {
            let a = &self.acked[c];
            let by_id = api.ok(
                &self.key,
                "GET",
                &format!("/api/v1/orders/{}", a.order_id),
                None,
            );
            assert_eq!(by_id["client_order_id"], json!(c), "{when}: {by_id}");
            let by_c = api.ok(
                &self.key,
                "GET",
                &format!("/api/v1/orders/by-client-id/{c}"),
                None,
            );
            assert_eq!(num(&by_c["order_id"]), a.order_id, "{when}: {by_c}");
        }
        // Fills.
        let mut fills: BTreeMap<u64, Value> = BTreeMap::new();
        let mut before: Option<u64> = None;
        loop {
            let mut path = "/api/v1/fills?limit=1000".to_string();
            if let Some(b) = before {
                path.push_str(&format!("&before={b}"));
            }
            let page = api.ok(&self.key, "GET", &path, None)["fills"]
                .as_array()
                .expect("fills")
                .clone();
            if page.is_empty() {
                break;
            }
            before = Some(page.iter().map(|f| num(&f["trade_id"])).min().unwrap());
            for f in page {
                fills.insert(num(&f["trade_id"]), f);
            }
        }
        let ids: BTreeSet<u64> = self.acked.values().map(|a| a.order_id).collect();
        let mut net: i64 = 0;
        for (t, f) in &fills {
            assert!(
                ids.contains(&num(&f["order_id"])),
                "{when}: fill {t} of an order the client does not know: {f}"
            );
            let q = num(&f["qty"]) as i64;
            net += if f["side"] == "buy" { q } else { -q };
        }
        for (t, s) in &self.fills {
            let f = fills.get(t).unwrap_or_else(|| {
                panic!(
                    "{when}: account {}: fill {t} the client saw is missing",
                    self.account
                )
            });
            let got = SeenFill {
                order_id: num(&f["order_id"]),
                price: f["price"].as_str().unwrap_or("").to_string(),
                qty: num(&f["qty"]),
            };
            assert_eq!(&got, s, "{when}: fill {t}");
        }
        let pos = api.ok(&self.key, "GET", "/api/v1/positions", None);
        let held: i64 = pos["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .filter(|p| p["instrument"] == json!(m.symbol))
            .map(|p| p["net"].as_str().unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(
            held, net,
            "{when}: account {}: position differs from the fills",
            self.account
        );
        net
    }
}

// ----- the test -------------------------------------------------------------------------------

fn setup(api: &Api, operator: &Key) -> (Market, Vec<Ledger>, Rng) {
    let seed = std::env::var("TOKEX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED_DEFAULT);
    println!("crash_http: seed {seed} (set TOKEX_CRASH_SEED to change it)");
    let mut ledgers = Vec::new();
    for (k, a) in ACCOUNTS.into_iter().enumerate() {
        api.ok(
            operator,
            "POST",
            "/api/v1/admin/accounts",
            Some(&json!({"account": a, "role": "market_maker"})),
        );
        api.ok(
            operator,
            "POST",
            "/api/v1/admin/deposits",
            Some(&json!({"account": a, "currency": "USD", "amount": "10000000"})),
        );
        let v = api.ok(
            operator,
            "POST",
            "/api/v1/admin/keys",
            Some(&json!({"account": a})),
        );
        let key = Key {
            key: v["key"].as_str().unwrap().to_string(),
            secret: v["secret"].as_str().unwrap().to_string(),
        };
        ledgers.push(Ledger {
            account: a,
            key,
            acked: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            rejected: BTreeSet::new(),
            fills: BTreeMap::new(),
            open: Vec::new(),
            in_doubt: None,
            next_clid: 0,
            rng: Rng::new(seed ^ ((k as u64 + 1) << 32)),
            fresh: Vec::new(),
            requests: 0,
            in_doubt_kept: 0,
            in_doubt_lost: 0,
        });
    }
    // A continuously trading USD month, the latest listed (far from its expiry).
    let resp = api
        .agent
        .get(format!("{}/api/v1/instruments", api.url))
        .call();
    let v: Value = serde_json::from_str(&resp.unwrap().body_mut().read_to_string().unwrap())
        .expect("instruments");
    let inst = v["instruments"]
        .as_array()
        .expect("instruments")
        .iter()
        .filter(|i| i["phase"] == "continuous" && i["currency"] == "USD")
        .max_by_key(|i| i["last_trading_day"].as_str().unwrap_or("").to_string())
        .expect("a continuously trading USD instrument")
        .clone();
    let tick = inst["tick_size"].as_str().unwrap();
    let scale = tick.split_once('.').map_or(0, |(_, f)| f.len());
    let m = Market {
        symbol: inst["symbol"].as_str().unwrap().to_string(),
        scale,
        reference: units(inst["reference_price"].as_str().unwrap(), scale),
        tick: units(tick, scale),
    };
    println!(
        "crash_http: trading {} around {}",
        m.symbol,
        m.price(m.reference)
    );
    (m, ledgers, Rng::new(seed))
}

/// The live state: (seq, state hash), read together.
fn live_state(api: &Api, operator: &Key) -> (u64, String) {
    let st = api.ok(operator, "GET", "/api/v1/admin/state", None);
    let hash = st["state_hash"].as_str().expect("state_hash").to_string();
    (num(&st["seq"]), hash)
}

/// Trades from both accounts until the server is killed; returns the ledgers.
fn trade_until_killed(
    url: &str,
    m: &Arc<Market>,
    ledgers: Vec<Ledger>,
    round: usize,
    killed: &Arc<AtomicBool>,
) -> Vec<Ledger> {
    let handles: Vec<_> = ledgers
        .into_iter()
        .map(|mut l| {
            let api = Api::new(url);
            let (m, killed) = (m.clone(), killed.clone());
            std::thread::spawn(move || {
                let t0 = Instant::now();
                while l.act(&api, &m, round) {
                    assert!(
                        t0.elapsed() < Duration::from_secs(60),
                        "the server was never killed"
                    );
                }
                // No answer: only because of the kill, never on its own.
                let t = Instant::now();
                while !killed.load(Ordering::SeqCst) {
                    assert!(
                        t.elapsed() < Duration::from_secs(5),
                        "round {round}: the server stopped answering before it was killed"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                l
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

#[test]
fn acknowledged_orders_and_fills_survive_kill_9_over_http() {
    let t0 = Instant::now();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tokex-crash-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    println!("crash_http: data in {}", dir.display());

    let mut server = Server::start(&dir);
    let operator = server
        .operator
        .clone()
        .expect("serve prints the operator key on its first start");
    let api = Api::new(&server.url);
    let (m, mut ledgers, mut rng) = setup(&api, &operator);
    let m = Arc::new(m);
    let mut kill_delays = Vec::new();
    for round in 0..=KILLS {
        let when = format!("after {round} kills");
        let api = Api::new(&server.url);
        for l in ledgers.iter_mut() {
            l.resolve_in_doubt(&api);
        }
        let net: i64 = ledgers.iter_mut().map(|l| l.check(&api, &m, &when)).sum();
        assert_eq!(net, 0, "{when}: the two accounts' positions do not net out");
        let (seq, live) = live_state(&api, &operator);
        if round == KILLS {
            // The last kill comes between requests; the journal then holds the state just
            // read (and perhaps commands the scheduler added after it).
            assert!(Server::kill(&server.child), "the server exited on its own");
        }
        // A fresh replay of the journal to the same seq gives the same state (while the
        // server runs, the replay only reads what is already durable).
        assert_eq!(
            live,
            verify(&dir, Some(seq)),
            "{when}: the live state at seq {seq} differs from a fresh replay"
        );
        if round == KILLS {
            verify(&dir, None);
            println!("crash_http: final state at seq {seq}: {live}");
            break;
        }
        // Kill at a seeded moment while both clients are mid-flight.
        let delay = Duration::from_millis(150 + rng.below(900));
        kill_delays.push(delay.as_millis());
        let killed = Arc::new(AtomicBool::new(false));
        let killer = {
            let (child, killed) = (server.child.clone(), killed.clone());
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                killed.store(true, Ordering::SeqCst);
                Server::kill(&child)
            })
        };
        ledgers = trade_until_killed(&server.url, &m, ledgers, round, &killed);
        assert!(
            killer.join().unwrap(),
            "round {round}: the server exited before it was killed"
        );
        // The crashed directory, as it is, satisfies every invariant.
        verify(&dir, None);
        server = Server::start(&dir);
        assert!(server.operator.is_none(), "a second operator key was made");
    }
    drop(server);
    let acked: usize = ledgers.iter().map(|l| l.acked.len()).sum();
    let fills: usize = ledgers.iter().map(|l| l.fills.len()).sum();
    let cancels: usize = ledgers.iter().map(|l| l.cancelled.len()).sum();
    let requests: u64 = ledgers.iter().map(|l| l.requests).sum();
    let kept: u64 = ledgers.iter().map(|l| l.in_doubt_kept).sum();
    let lost: u64 = ledgers.iter().map(|l| l.in_doubt_lost).sum();
    println!(
        "crash_http: {} kills (delays ms {kill_delays:?}), {requests} requests, {acked} orders acknowledged, \
         {cancels} cancels, {fills} fills seen; in doubt at a kill: {kept} had been made durable, {lost} had not; {:.1} s",
        KILLS + 1,
        t0.elapsed().as_secs_f64()
    );
    assert!(fills > 0, "no fills: the accounts never crossed");
    let _ = std::fs::remove_dir_all(&dir);
}
