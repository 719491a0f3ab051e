//! The API client: `tokex order | cancel | book | trades | positions | balances | keys |
//! products`.
//!
//! Every private request is signed (HMAC-SHA256 over timestamp + method + path + body, keyed
//! by SHA-256 of the secret; see docs/API.md). Output is a table, or the server's JSON with
//! `--json` for scripts. The server, key and secret come from flags or the environment:
//! `TOKEX_URL` (default http://127.0.0.1:8080), `TOKEX_API_KEY`, `TOKEX_API_SECRET`.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use tokex_server::api::auth::{
    now_ms, sign_with_secret, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use tokex_server::api::KeyRole;
use tokex_server::config::ServerConfig;

#[derive(clap::Args, Clone)]
pub struct Conn {
    /// Exchange URL.
    #[arg(
        long,
        env = "TOKEX_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// API key id (tkx_...).
    #[arg(long, env = "TOKEX_API_KEY", global = true, hide_env_values = true)]
    key: Option<String>,
    /// API secret (shown once when the key was made).
    #[arg(long, env = "TOKEX_API_SECRET", global = true, hide_env_values = true)]
    secret: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// Sends one HTTP request, signed with `creds` (key, secret) when given, and returns the status
/// and the body text. Shared by the CLI client and the load generators' setup calls.
pub(crate) fn send_signed(
    agent: &ureq::Agent,
    url: &str,
    method: &str,
    path: &str,
    body: String,
    creds: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some((key, secret)) = creds {
        let ts = now_ms();
        req = req
            .header(HEADER_KEY, key)
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(
                HEADER_SIGNATURE,
                sign_with_secret(secret, ts, method, path, body.as_bytes()),
            );
    }
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.into_bytes()).map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}

struct Client {
    conn: Conn,
    agent: ureq::Agent,
}

impl Client {
    fn new(conn: Conn) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client { conn, agent }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        signed: bool,
    ) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let url = format!("{}{}", self.conn.url.trim_end_matches('/'), path);
        let creds = if signed {
            let (Some(key), Some(secret)) = (&self.conn.key, &self.conn.secret) else {
                return Err("this command needs an API key: --key and --secret, or TOKEX_API_KEY and TOKEX_API_SECRET".into());
            };
            Some((key.as_str(), secret.as_str()))
        } else {
            None
        };
        let (status, text) = send_signed(&self.agent, &url, method, path, body, creds)?;
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| json!({"code": "NOT_JSON", "message": text}));
        if status >= 400 {
            return Err(format!(
                "{} ({status}): {}",
                v["code"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            ));
        }
        Ok(v)
    }

    fn get(&self, path: &str, signed: bool) -> Result<Value, String> {
        self.request("GET", path, None, signed)
    }

    /// Prints JSON, or the table `f` makes of it.
    fn show(&self, v: &Value, f: impl FnOnce(&Value) -> Table) {
        if self.conn.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            print!("{}", f(v).render());
        }
    }
}

/// A plain text table: left-aligned text, right-aligned numbers.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    note: Option<String>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            note: None,
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let n = self.head.len();
        let mut w: Vec<usize> = self.head.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let numeric = |s: &str| {
            !s.is_empty()
                && s.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.')
        };
        // A column is right-aligned (header too) when every filled cell in it is a number.
        let right: Vec<bool> = (0..n)
            .map(|i| {
                let mut cells = self
                    .rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .filter(|c| !c.is_empty())
                    .peekable();
                cells.peek().is_some() && cells.all(|c| numeric(c))
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate().take(n) {
                let pad = w[i] - c.chars().count();
                if i > 0 {
                    out.push_str("  ");
                }
                if right[i] {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(c);
                } else {
                    out.push_str(c);
                    if i + 1 < n {
                        out.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(&self.head);
        out.push_str(
            &(w.iter()
                .map(|x| "-".repeat(*x))
                .collect::<Vec<_>>()
                .join("  ")
                + "\n"),
        );
        for r in &self.rows {
            out.push_str(&line(r));
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        if let Some(n) = &self.note {
            out.push_str(n);
            out.push('\n');
        }
        out
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn orders_table(list: &[Value]) -> Table {
    let mut t = Table::new(&[
        "ORDER",
        "CLIENT ID",
        "INSTRUMENT",
        "SIDE",
        "TYPE",
        "TIF",
        "PRICE",
        "QTY",
        "FILLED",
        "LEAVES",
        "STATUS",
    ]);
    for o in list {
        let status = match o["cancel_reason"].as_str() {
            Some(r) => format!("{} ({r})", s(&o["status"])),
            None => s(&o["status"]),
        };
        t.row(vec![
            s(&o["order_id"]),
            s(&o["client_order_id"]),
            s(&o["instrument"]),
            s(&o["side"]),
            s(&o["type"]),
            s(&o["time_in_force"]),
            s(&o["price"]),
            s(&o["qty"]),
            s(&o["filled"]),
            s(&o["leaves"]),
            status,
        ]);
    }
    t
}

// ----- order ----------------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct OrderArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: OrderCommand,
}

#[derive(clap::Args)]
struct PlaceArgs {
    /// Instrument symbol, e.g. TKF-2026-12.
    instrument: String,
    /// Quantity in contracts.
    qty: String,
    /// Limit price (omit for a market order).
    price: Option<String>,
    /// limit, market, stop_limit, stop_market (default: limit with a price, market without).
    #[arg(long = "type")]
    order_type: Option<String>,
    /// Trigger price of a stop order.
    #[arg(long)]
    stop: Option<String>,
    /// gfd, gtc, gtd, ioc, fok (default gtc; ioc for market orders).
    #[arg(long)]
    tif: Option<String>,
    /// Expiry of a gtd order (RFC 3339).
    #[arg(long)]
    expire_at: Option<String>,
    /// Your id for the order (unique per account and day): ask for it by this after a time-out.
    #[arg(long)]
    client_id: Option<String>,
    /// Rejected instead of trading on arrival.
    #[arg(long)]
    post_only: bool,
    /// Iceberg: the quantity shown at a time.
    #[arg(long)]
    display: Option<String>,
    /// IOC: fill at least this much at once or nothing.
    #[arg(long)]
    min_qty: Option<String>,
}

#[derive(clap::Subcommand)]
enum OrderCommand {
    /// Buy: `tokex order buy TKF-2026-12 5 7.650`.
    Buy(PlaceArgs),
    /// Sell: `tokex order sell TKF-2026-12 5 7.700`.
    Sell(PlaceArgs),
    /// Your working orders (or every order with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        instrument: Option<String>,
    },
    /// One order by exchange id, or by client order id with --client-id.
    Show {
        id: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Change a working order's price and/or open quantity.
    Amend {
        id: String,
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        qty: Option<String>,
        #[arg(long)]
        stop: Option<String>,
    },
}

fn place(c: &Client, side: &str, a: PlaceArgs) -> Result<(), String> {
    let mut body = json!({"instrument": a.instrument, "side": side, "qty": a.qty});
    let ty = a.order_type.unwrap_or_else(|| {
        if a.price.is_some() {
            "limit".into()
        } else {
            "market".into()
        }
    });
    body["type"] = json!(ty);
    for (k, v) in [
        ("price", a.price),
        ("stop_price", a.stop),
        ("time_in_force", a.tif),
        ("expire_at", a.expire_at),
        ("client_order_id", a.client_id),
        ("display_qty", a.display),
        ("min_qty", a.min_qty),
    ] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if a.post_only {
        body["post_only"] = json!(true);
    }
    let v = c.request("POST", "/api/v1/orders", Some(&body), true)?;
    c.show(&v, |v| {
        let mut t = orders_table(std::slice::from_ref(&v["order"]));
        let fills: Vec<String> = v["fills"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| {
                        format!(
                            "{} @ {} ({})",
                            s(&f["qty"]),
                            s(&f["price"]),
                            s(&f["liquidity"])
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        t.note = Some(if fills.is_empty() {
            format!("seq {}", v["seq"])
        } else {
            format!("seq {}; filled {}", v["seq"], fills.join(", "))
        });
        t
    });
    Ok(())
}

pub fn order(args: OrderArgs) -> Result<(), String> {
    let c = Client::new(args.conn);
    match args.command {
        OrderCommand::Buy(a) => place(&c, "buy", a),
        OrderCommand::Sell(a) => place(&c, "sell", a),
        OrderCommand::List { all, instrument } => {
            let mut path = format!("/api/v1/orders?status={}", if all { "all" } else { "open" });
            if let Some(i) = instrument {
                path.push_str(&format!("&instrument={i}"));
            }
            let v = c.get(&path, true)?;
            c.show(&v, |v| {
                orders_table(v["orders"].as_array().map(|a| a.as_slice()).unwrap_or(&[]))
            });
            Ok(())
        }
        OrderCommand::Show { id, client_id } => {
            let path = match (id, client_id) {
                (Some(id), None) => format!("/api/v1/orders/{id}"),
                (None, Some(c)) => format!("/api/v1/orders/by-client-id/{c}"),
                _ => return Err("give an order id or --client-id".into()),
            };
            let v = c.get(&path, true)?;
            c.show(&v, |v| orders_table(std::slice::from_ref(v)));
            Ok(())
        }
        OrderCommand::Amend {
            id,
            price,
            qty,
            stop,
        } => {
            let mut body = json!({});
            for (k, v) in [("price", price), ("qty", qty), ("stop_price", stop)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let v = c.request("PATCH", &format!("/api/v1/orders/{id}"), Some(&body), true)?;
            c.show(&v, |v| {
                let mut t = orders_table(std::slice::from_ref(&v["order"]));
                t.note = Some(format!(
                    "seq {}; time priority {}",
                    v["seq"],
                    if v["priority_kept"] == json!(true) {
                        "kept"
                    } else {
                        "lost"
                    }
                ));
                t
            });
            Ok(())
        }
    }
}

// ----- cancel ---------------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct CancelArgs {
    #[command(flatten)]
    conn: Conn,
    /// Exchange order id.
    id: Option<String>,
    /// Cancel by client order id instead.
    #[arg(long)]
    client_id: Option<String>,
    /// Cancel every working order (narrowed by --instrument, --product, --side).
    #[arg(long)]
    all: bool,
    #[arg(long)]
    instrument: Option<String>,
    #[arg(long)]
    product: Option<String>,
    #[arg(long)]
    side: Option<String>,
}

pub fn cancel(a: CancelArgs) -> Result<(), String> {
    let c = Client::new(a.conn.clone());
    if a.all {
        let mut q = Vec::new();
        for (k, v) in [
            ("instrument", &a.instrument),
            ("product", &a.product),
            ("side", &a.side),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={v}"));
            }
        }
        let path = if q.is_empty() {
            "/api/v1/orders".to_string()
        } else {
            format!("/api/v1/orders?{}", q.join("&"))
        };
        let v = c.request("DELETE", &path, None, true)?;
        c.show(&v, |v| {
            let mut t = Table::new(&["CANCELLED ORDER"]);
            for id in v["order_ids"].as_array().into_iter().flatten() {
                t.row(vec![s(id)]);
            }
            t.note = Some(format!("{} cancelled, seq {}", v["cancelled"], v["seq"]));
            t
        });
        return Ok(());
    }
    let path = match (&a.id, &a.client_id) {
        (Some(id), None) => format!("/api/v1/orders/{id}"),
        (None, Some(cl)) => format!("/api/v1/orders/by-client-id/{cl}"),
        _ => return Err("give an order id, --client-id, or --all".into()),
    };
    let v = c.request("DELETE", &path, None, true)?;
    c.show(&v, |v| orders_table(std::slice::from_ref(&v["order"])));
    Ok(())
}

// ----- market data ----------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct BookArgs {
    #[command(flatten)]
    conn: Conn,
    /// Instrument symbol.
    instrument: String,
    /// Levels per side.
    #[arg(long, default_value_t = 10)]
    depth: u32,
}

pub fn book(a: BookArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    let v = c.get(
        &format!(
            "/api/v1/instruments/{}/book?depth={}",
            a.instrument, a.depth
        ),
        false,
    )?;
    c.show(&v, |v| {
        let mut t = Table::new(&[
            "BID ORDERS",
            "BID QTY",
            "BID",
            "ASK",
            "ASK QTY",
            "ASK ORDERS",
        ]);
        let (bids, asks) = (
            v["bids"].as_array().cloned().unwrap_or_default(),
            v["asks"].as_array().cloned().unwrap_or_default(),
        );
        for i in 0..bids.len().max(asks.len()) {
            let b = bids.get(i).cloned().unwrap_or(json!([null, null, null]));
            let a = asks.get(i).cloned().unwrap_or(json!([null, null, null]));
            t.row(vec![
                s(&b[2]),
                s(&b[1]),
                s(&b[0]),
                s(&a[0]),
                s(&a[1]),
                s(&a[2]),
            ]);
        }
        t.note = Some(format!("{} (seq {})", s(&v["instrument"]), v["seq"]));
        t
    });
    Ok(())
}

#[derive(clap::Args)]
pub struct TradesArgs {
    #[command(flatten)]
    conn: Conn,
    /// Instrument symbol (public trades); omit with --mine.
    instrument: Option<String>,
    /// Your own fills instead of the public tape.
    #[arg(long)]
    mine: bool,
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

pub fn trades(a: TradesArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    if a.mine {
        let mut path = format!("/api/v1/fills?limit={}", a.limit);
        if let Some(i) = &a.instrument {
            path.push_str(&format!("&instrument={i}"));
        }
        let v = c.get(&path, true)?;
        c.show(&v, |v| {
            let mut t = Table::new(&[
                "TRADE",
                "TIME",
                "INSTRUMENT",
                "ORDER",
                "SIDE",
                "PRICE",
                "QTY",
                "LIQUIDITY",
                "FEE",
            ]);
            for f in v["fills"].as_array().into_iter().flatten() {
                t.row(vec![
                    s(&f["trade_id"]),
                    s(&f["time"]),
                    s(&f["instrument"]),
                    s(&f["order_id"]),
                    s(&f["side"]),
                    s(&f["price"]),
                    s(&f["qty"]),
                    s(&f["liquidity"]),
                    format!("{} {}", s(&f["fee"]), s(&f["currency"])),
                ]);
            }
            t
        });
        return Ok(());
    }
    let sym = a
        .instrument
        .ok_or("give an instrument symbol (or --mine for your fills)")?;
    let v = c.get(
        &format!("/api/v1/instruments/{sym}/trades?limit={}", a.limit),
        false,
    )?;
    c.show(&v, |v| {
        let mut t = Table::new(&["TRADE", "TIME", "PRICE", "QTY", "AGGRESSOR"]);
        for x in v["trades"].as_array().into_iter().flatten() {
            t.row(vec![
                s(&x["trade_id"]),
                s(&x["time"]),
                s(&x["price"]),
                s(&x["qty"]),
                s(&x["aggressor"]),
            ]);
        }
        t
    });
    Ok(())
}

// ----- account --------------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct AccountArgs {
    #[command(flatten)]
    conn: Conn,
}

pub fn positions(a: AccountArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    let v = c.get("/api/v1/positions", true)?;
    c.show(&v, |v| {
        let mut t = Table::new(&[
            "INSTRUMENT",
            "NET",
            "AVG PRICE",
            "MARK",
            "UNREALISED",
            "REALISED",
            "WORKING BUY",
            "WORKING SELL",
            "CCY",
        ]);
        for p in v["positions"].as_array().into_iter().flatten() {
            t.row(vec![
                s(&p["instrument"]),
                s(&p["net"]),
                s(&p["avg_price"]),
                s(&p["mark_price"]),
                s(&p["unrealised_pnl"]),
                s(&p["realised_pnl"]),
                s(&p["working_buy"]),
                s(&p["working_sell"]),
                s(&p["currency"]),
            ]);
        }
        t.note = Some(format!("account {}", v["account"]));
        t
    });
    Ok(())
}

pub fn balances(a: AccountArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    let v = c.get("/api/v1/balances", true)?;
    c.show(&v, |v| {
        let mut t = Table::new(&[
            "CCY",
            "CASH",
            "EQUITY",
            "INITIAL MARGIN",
            "MAINTENANCE",
            "AVAILABLE",
            "MARGIN CALL",
        ]);
        for b in v["balances"].as_array().into_iter().flatten() {
            let call = if b["margin_call"].is_null() {
                "no".to_string()
            } else {
                format!("short {}", s(&b["margin_call"]["shortfall"]))
            };
            t.row(vec![
                s(&b["currency"]),
                s(&b["cash"]),
                s(&b["equity"]),
                s(&b["initial_margin"]),
                s(&b["maintenance_margin"]),
                s(&b["available"]),
                call,
            ]);
        }
        t.note = Some(format!(
            "account {}{}",
            v["account"],
            if v["liquidating"] == json!(true) {
                " (being liquidated)"
            } else {
                ""
            }
        ));
        t
    });
    Ok(())
}

// ----- keys -----------------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(clap::Subcommand)]
enum KeysCommand {
    /// Make a key. With --data-dir (or --config) it is written straight into the data
    /// directory (works with the server stopped; a running server picks it up); otherwise it
    /// is asked of the server with an operator key.
    Create {
        /// An operator key (not bound to an account).
        #[arg(long)]
        operator: bool,
        /// The account the key trades for.
        #[arg(long)]
        account: Option<u32>,
        /// trader or market_maker (default: the account's role).
        #[arg(long)]
        role: Option<String>,
        #[arg(long, default_value = "")]
        label: String,
        /// Data directory to write the key into (offline).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Server configuration whose data directory to write the key into (offline).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List keys (operator key; secrets are never shown again).
    List,
    /// Revoke a key (operator key).
    Revoke {
        #[arg(value_name = "KEY")]
        id: String,
    },
}

fn print_new_key(c: &Client, v: &Value) {
    if c.conn.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    println!("key:    {}", s(&v["key"]));
    println!("secret: {}", s(&v["secret"]));
    println!(
        "role:   {}{}",
        s(&v["role"]),
        v["account"]
            .as_u64()
            .map(|a| format!(" (account {a})"))
            .unwrap_or_default()
    );
    println!("The secret is shown once and stored only as its SHA-256. Keep it safe:");
    println!(
        "  export TOKEX_API_KEY={} TOKEX_API_SECRET={}",
        s(&v["key"]),
        s(&v["secret"])
    );
}

pub fn keys(a: KeysArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    match a.command {
        KeysCommand::Create {
            operator,
            account,
            role,
            label,
            data_dir,
            config,
        } => {
            let role = role
                .as_deref()
                .map(|r| {
                    KeyRole::parse(r).ok_or_else(|| {
                        format!("role {r:?} is not trader, market_maker or operator")
                    })
                })
                .transpose()?;
            let role = if operator {
                Some(KeyRole::Operator)
            } else {
                role
            };
            if data_dir.is_some() || config.is_some() {
                let mut cfg = match &config {
                    Some(p) => ServerConfig::load(p)?,
                    None => ServerConfig::default(),
                };
                if let Some(d) = data_dir {
                    cfg.data_dir = d;
                }
                let (key, secret) = match (role, account) {
                    (Some(KeyRole::Operator), None) => {
                        tokex_server::api::create_operator_key(&cfg)?
                    }
                    (r, Some(acct)) => {
                        tokex_server::api::create_key(&cfg, acct, r.unwrap_or(KeyRole::Trader))?
                    }
                    (_, None) => return Err("give --operator or --account N".into()),
                };
                print_new_key(
                    &c,
                    &json!({"key": key, "secret": secret, "role": role.unwrap_or(KeyRole::Trader).as_str(), "account": account}),
                );
                return Ok(());
            }
            let mut body = json!({"label": label});
            if let Some(acct) = account {
                body["account"] = json!(acct);
            }
            if let Some(r) = role {
                body["role"] = json!(r.as_str());
            }
            let v = c.request("POST", "/api/v1/admin/keys", Some(&body), true)?;
            print_new_key(&c, &v);
            Ok(())
        }
        KeysCommand::List => {
            let v = c.get("/api/v1/admin/keys", true)?;
            c.show(&v, |v| {
                let mut t = Table::new(&["KEY", "ROLE", "ACCOUNT", "CREATED", "LABEL", "REVOKED"]);
                for k in v["keys"].as_array().into_iter().flatten() {
                    t.row(vec![
                        s(&k["key"]),
                        s(&k["role"]),
                        s(&k["account"]),
                        s(&k["created"]),
                        s(&k["label"]),
                        if k["revoked"] == json!(true) {
                            "yes".into()
                        } else {
                            String::new()
                        },
                    ]);
                }
                t
            });
            Ok(())
        }
        KeysCommand::Revoke { id: key } => {
            let v = c.request("DELETE", &format!("/api/v1/admin/keys/{key}"), None, true)?;
            c.show(&v, |_| {
                let mut t = Table::new(&["KEY", "REVOKED"]);
                t.row(vec![key.clone(), "yes".into()]);
                t
            });
            Ok(())
        }
    }
}

// ----- products (operator) --------------------------------------------------------------------

#[derive(clap::Args)]
pub struct ProductsArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: ProductsCommand,
}

#[derive(clap::Subcommand)]
enum ProductsCommand {
    /// The parameters in force per product (operator key).
    List,
    /// Change a product's parameters while it trades: every listed month at once and the
    /// months listed later (operator key). Percentages and fees as decimals, e.g.
    /// `tokex products set TKF --initial-margin 15 --maintenance-margin 11 --fee-taker 0.60`.
    Set(Box<ProductSet>),
}

#[derive(clap::Args, Default)]
struct ProductSet {
    /// Product root, e.g. TKF.
    #[arg(value_name = "ROOT")]
    root: String,
    /// Daily price limit, % of the reference price.
    #[arg(long)]
    price_limit: Option<String>,
    /// Initial margin, % of notional.
    #[arg(long)]
    initial_margin: Option<String>,
    /// Maintenance margin, % of notional (below the initial margin).
    #[arg(long)]
    maintenance_margin: Option<String>,
    /// Largest order, contracts.
    #[arg(long)]
    order_qty_max: Option<String>,
    /// Position limit across all months, contracts.
    #[arg(long)]
    position_limit_all_months: Option<String>,
    /// Position limit in the expiring month, contracts.
    #[arg(long)]
    position_limit_spot_month: Option<String>,
    /// Maker fee per contract in the product's currency (negative: a rebate).
    #[arg(long, allow_hyphen_values = true)]
    fee_maker: Option<String>,
    /// Taker fee per contract in the product's currency.
    #[arg(long, allow_hyphen_values = true)]
    fee_taker: Option<String>,
    /// Circuit-breaker range in ticks (0: off).
    #[arg(long, allow_hyphen_values = true)]
    velocity_ticks: Option<i64>,
    /// A market order becomes a limit at best ± this many ticks.
    #[arg(long, allow_hyphen_values = true)]
    market_protection_ticks: Option<i64>,
}

impl ProductSet {
    /// The `PATCH /api/v1/admin/products/{root}` body: only the parameters given.
    fn body(&self) -> Result<Value, String> {
        let mut b = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                b.insert(k.to_string(), v);
            }
        };
        put("price_limit_pct", self.price_limit.clone().map(Value::from));
        put(
            "initial_margin_pct",
            self.initial_margin.clone().map(Value::from),
        );
        put(
            "maintenance_margin_pct",
            self.maintenance_margin.clone().map(Value::from),
        );
        put("order_qty_max", self.order_qty_max.clone().map(Value::from));
        put(
            "position_limit_all_months",
            self.position_limit_all_months.clone().map(Value::from),
        );
        put(
            "position_limit_spot_month",
            self.position_limit_spot_month.clone().map(Value::from),
        );
        put("fee_maker", self.fee_maker.clone().map(Value::from));
        put("fee_taker", self.fee_taker.clone().map(Value::from));
        put("velocity_ticks", self.velocity_ticks.map(Value::from));
        put(
            "market_protection_ticks",
            self.market_protection_ticks.map(Value::from),
        );
        if b.is_empty() {
            return Err("give at least one parameter to change (see --help)".into());
        }
        Ok(Value::Object(b))
    }
}

fn products_table<'a>(list: impl Iterator<Item = &'a Value>) -> Table {
    let mut t = Table::new(&[
        "ROOT",
        "LIMIT %",
        "INITIAL %",
        "MAINT %",
        "MAX ORDER",
        "POS ALL",
        "POS SPOT",
        "MAKER",
        "TAKER",
        "VELOCITY",
        "PROTECT",
        "CHANGED",
    ]);
    for p in list {
        let changed: Vec<String> = p["changed_by_operator"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        t.row(vec![
            s(&p["root"]),
            s(&p["price_limit_pct"]),
            s(&p["initial_margin_pct"]),
            s(&p["maintenance_margin_pct"]),
            s(&p["order_qty_max"]),
            s(&p["position_limit_all_months"]),
            s(&p["position_limit_spot_month"]),
            s(&p["fee_maker"]),
            s(&p["fee_taker"]),
            s(&p["velocity_ticks"]),
            s(&p["market_protection_ticks"]),
            changed.join(","),
        ]);
    }
    t
}

pub fn products(a: ProductsArgs) -> Result<(), String> {
    let c = Client::new(a.conn);
    match a.command {
        ProductsCommand::List => {
            let v = c.get("/api/v1/admin/products", true)?;
            c.show(&v, |v| {
                products_table(v["products"].as_array().into_iter().flatten())
            });
        }
        ProductsCommand::Set(p) => {
            let body = p.body()?;
            let v = c.request(
                "PATCH",
                &format!("/api/v1/admin/products/{}", p.root),
                Some(&body),
                true,
            )?;
            c.show(&v, |v| {
                let mut t = products_table(std::iter::once(&v["product"]));
                let months = v["instruments"].as_array().map_or(0, Vec::len);
                t.note = Some(format!(
                    "seq {}: in force for {months} listed month(s) and the months listed later",
                    v["seq"]
                ));
                t
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_set_sends_only_what_is_given() {
        let p = ProductSet {
            root: "TKF".into(),
            initial_margin: Some("15".into()),
            fee_maker: Some("-0.05".into()),
            velocity_ticks: Some(0),
            ..Default::default()
        };
        assert_eq!(
            p.body().unwrap(),
            json!({"initial_margin_pct": "15", "fee_maker": "-0.05", "velocity_ticks": 0})
        );
        let none = ProductSet {
            root: "TKF".into(),
            ..Default::default()
        };
        assert!(none.body().is_err());
    }

    #[test]
    fn tables_align_numbers_right() {
        let mut t = Table::new(&["NAME", "QTY"]);
        t.row(vec!["a".into(), "5".into()]);
        t.row(vec!["long name".into(), "12.5".into()]);
        assert_eq!(
            t.render(),
            "NAME        QTY\n---------  ----\na             5\nlong name  12.5\n"
        );
        assert_eq!(Table::new(&["X"]).render(), "X\n-\n(none)\n");
    }
}
