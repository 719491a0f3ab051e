//! A real exchange and API server on loopback for the API tests: a temporary data directory,
//! the repository's products and indexes on the `24x7` calendar, and a frozen clock so the
//! core's state hash moves only when a command really changes something.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::Duration;
use tokex_server::api::auth::{now_ms, sign_with_secret};
use tokex_server::config::ServerConfig;
use tokex_server::Exchange;

pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub config: ServerConfig,
    pub exchange: Exchange,
    pub operator: (String, String),
    pub agent: ureq::Agent,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A request as sent (so a test can send the very same bytes twice).
#[derive(Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

fn repo(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ServerConfig {
            data_dir: dir.path().to_path_buf(),
            products: repo("config/products.toml"),
            indexes: repo("config/indexes"),
            model_prices: repo("data/model-prices/snapshot.json"),
            calendar: Some("24x7".into()),
            risk_sweep_secs: 1_000_000,
            ..ServerConfig::default()
        };
        let t0 = tokex_server::sequencer::wall_clock();
        let exchange =
            Exchange::start_with_clock(&config, Box::new(move || t0)).expect("exchange starts");
        let operator = tokex_server::api::ensure_first_operator_key(&config)
            .expect("key file")
            .expect("first operator key");
        assert!(
            tokex_server::api::ensure_first_operator_key(&config)
                .unwrap()
                .is_none(),
            "only the first start makes a key"
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (h, c) = (exchange.handle.clone(), config.clone());
        rt.spawn(async move {
            if let Err(e) = tokex_server::api::serve(h, c, listener).await {
                eprintln!("serve: {e}");
            }
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let s = Server {
            base: format!("http://{addr}"),
            addr,
            config,
            exchange,
            operator,
            agent,
            rt,
            _dir: dir,
        };
        for _ in 0..200 {
            if s.get("/api/v1/time").status == 200 {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the API did not come up");
    }

    pub fn send(&self, r: &Req) -> Resp {
        let mut b = ureq::http::Request::builder()
            .method(r.method.as_str())
            .uri(format!("{}{}", self.base, r.path));
        for (k, v) in &r.headers {
            b = b.header(k, v);
        }
        if !r.body.is_empty() {
            b = b.header("content-type", "application/json");
        }
        let mut resp = self
            .agent
            .run(b.body(r.body.clone()).unwrap())
            .expect("http");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, body, text }
    }

    /// A signed request (headers computed now).
    pub fn signed(&self, key: &(String, String), method: &str, path: &str, body: &str) -> Req {
        let ts = now_ms();
        let sig = sign_with_secret(&key.1, ts, method, path, body.as_bytes());
        Req {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            headers: vec![
                ("X-TOKEX-KEY".into(), key.0.clone()),
                ("X-TOKEX-TIMESTAMP".into(), ts.to_string()),
                ("X-TOKEX-SIGNATURE".into(), sig),
            ],
        }
    }

    pub fn call(&self, key: &(String, String), method: &str, path: &str, body: &str) -> Resp {
        // Distinct timestamps keep identical requests from looking like replays.
        std::thread::sleep(Duration::from_millis(1));
        self.send(&self.signed(key, method, path, body))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(&Req {
            method: "GET".into(),
            path: path.into(),
            body: Vec::new(),
            headers: Vec::new(),
        })
    }

    pub fn state_hash(&self) -> String {
        self.exchange
            .handle
            .query_blocking(|e| e.state_hash())
            .unwrap()
    }

    /// Opens a trading account with cash and returns its key.
    pub fn trader(&self, account: u32, role: &str, usd: &str) -> (String, String) {
        let op = self.operator.clone();
        let r = self.call(
            &op,
            "POST",
            "/api/v1/admin/accounts",
            &json!({"account": account, "role": role}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let r = self.call(
            &op,
            "POST",
            "/api/v1/admin/deposits",
            &json!({"account": account, "currency": "USD", "amount": usd}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let r = self.call(
            &op,
            "POST",
            "/api/v1/admin/keys",
            &json!({"account": account}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        (
            r.body["key"].as_str().unwrap().to_string(),
            r.body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// The first live TKF month: (symbol, reference price, lower limit, upper limit, tick).
    pub fn tkf(&self) -> (String, String, String, String) {
        let r = self.get("/api/v1/instruments?product=TKF");
        let i = &r.body["instruments"][0];
        let s = |k: &str| i[k].as_str().unwrap().to_string();
        (
            s("symbol"),
            s("reference_price"),
            s("lower_limit"),
            s("upper_limit"),
        )
    }

    /// Waits until `f` holds (polling), up to 5 s.
    pub fn eventually(&self, what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}");
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.exchange.handle.shutdown();
    }
}

/// `price + n ticks` for a decimal price string with 3 decimals (the TK* products).
pub fn add_ticks(price: &str, n: i64) -> String {
    let d = tokex_types::decimal::Decimal::parse(price).unwrap();
    let m = d.rescaled(3).unwrap() + n as i128;
    tokex_types::decimal::Decimal::new(m, 3).to_string()
}
