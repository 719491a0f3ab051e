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

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};
use tokex_server::api::auth::{
    now_ms, sign_with_secret, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

/// Requests per second one market-maker key may send (the server's limit is 200, burst 400).
const PER_KEY_RATE: u64 = 150;
const DURATION_MAX_SECS: u64 = 600;
const CLIENTS_MAX: usize = 4096;

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

async fn client(id: usize, plan: std::sync::Arc<Plan>, keys: Vec<(String, String)>) -> Tally {
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
                "client_order_id": format!("bl{id}-{seq}")});
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
    let authority = authority_of(&a.url)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run_async(a, authority, (key, secret)))
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
    eprintln!(
        "bench-load: set up in {:.1} s; {} clients on {symbol} for {} s, {}",
        t_setup.elapsed().as_secs_f64(),
        a.clients,
        a.duration,
        match a.rate {
            Some(r) => format!("{r} order requests/s"),
            None => "as fast as possible".into(),
        }
    );

    let start = Instant::now() + Duration::from_millis(500);
    let plan = std::sync::Arc::new(Plan {
        authority: authority.clone(),
        symbol: symbol.clone(),
        bids,
        asks,
        resting: a.resting,
        clients: a.clients,
        interval: a
            .rate
            .map(|r| Duration::from_secs_f64(a.clients as f64 / r as f64)),
        start,
        end: start + Duration::from_secs(a.duration),
    });
    let tasks: Vec<_> = client_keys
        .into_iter()
        .enumerate()
        .map(|(i, ks)| tokio::spawn(client(i, plan.clone(), ks)))
        .collect();
    let mut total = Tally {
        hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        places: 0,
        cancels: 0,
        rejects: BTreeMap::new(),
        errors: 0,
        missed: 0,
        last_error: None,
    };
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
    let acked = total.places + total.cancels;
    let rejected: u64 = total.rejects.values().sum();
    let ms = |q: f64| total.hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{symbol}: {} clients, {} keys, {} s, {}",
        a.clients,
        a.clients * keys_per_client,
        a.duration,
        match a.rate {
            Some(r) => format!("target {r} order requests/s (latency from the intended send time)"),
            None => "as fast as possible".into(),
        }
    );
    println!(
        "order requests acknowledged in {secs:.2} s: {acked} ({:.0}/s): {} placed, {} cancelled; {rejected} rejected, {} transport errors",
        acked as f64 / secs,
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
        ms(0.5),
        ms(0.99),
        ms(0.999),
        total.hist.max() as f64 / 1000.0,
        total.hist.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
