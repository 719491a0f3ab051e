//! `tokex serve`, `tokex demo`, `tokex replay`, `tokex verify`: running the exchange and
//! rebuilding its state from a data directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokex_engine::{Command, Role, StpMode};
use tokex_server::config::ServerConfig;
use tokex_server::{Exchange, ExchangeHandle};
use tokex_sim::{Agent, MarketView, Rng};
use tokex_types::{AccountId, Currency, Money};

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Configuration file (TOML); every option has a default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (journal, snapshots, history database, keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP and WebSocket listen address.
    #[arg(long)]
    listen: Option<String>,
    /// Put every product on this calendar (e.g. `24x7`) instead of its own.
    #[arg(long)]
    calendar: Option<String>,
    /// FIX 4.4 sessions file (TOML, see docs/FIX.md); enables the FIX gateway.
    #[arg(long)]
    fix: Option<PathBuf>,
}

impl ServeArgs {
    fn config(&self, demo: bool) -> Result<ServerConfig, String> {
        let mut c = match &self.config {
            Some(p) => ServerConfig::load(p)?,
            None => ServerConfig::default(),
        };
        if demo {
            c.data_dir = PathBuf::from("tokex-demo-data");
            c.calendar = Some("24x7".into());
        }
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(l) = &self.listen {
            c.listen = l.clone();
        }
        if let Some(cal) = &self.calendar {
            c.calendar = Some(cal.clone());
        }
        if let Some(f) = &self.fix {
            c.fix = Some(f.clone());
        }
        for (what, p) in [
            ("products", &c.products),
            ("index definitions", &c.indexes),
            ("model prices", &c.model_prices),
        ] {
            if !p.exists() {
                return Err(format!(
                    "{what} not found at {}: run tokex from the repository root, or set the path in a --config file",
                    p.display()
                ));
            }
        }
        Ok(c)
    }
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Data directory to rebuild the state from (read only: nothing is changed).
    #[arg(long, default_value = "tokex-data")]
    data_dir: PathBuf,
    /// Stop after this sequence number: the state as it was then, replayed from the journal's
    /// first record (snapshots are not used, so any seq of a running exchange can be checked,
    /// e.g. against `GET /api/v1/admin/state`).
    #[arg(long)]
    to_seq: Option<u64>,
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .try_init();
}

/// Accounts of the demo: the insurance fund, the person trying the demo, the participants.
pub const INSURANCE_FUND: u32 = 1;
pub const DEMO_USER: u32 = 2;
pub const FIRST_PARTICIPANT: u32 = 100;
const MARKET_MAKERS: u32 = 3;

fn run_exchange(config: ServerConfig, demo: bool) -> Result<(), String> {
    init_logs();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ex = Exchange::start(&config)?;
    let handle = ex.handle.clone();
    println!(
        "Tokex {} — data in {}",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display()
    );
    println!("recovered: {}", ex.recovery);
    let stop = Arc::new(AtomicBool::new(false));
    let mut demo_thread = None;
    if !demo {
        if let Some((key, secret)) = tokex_server::api::ensure_first_operator_key(&config)? {
            println!("first start: created the operator key (shown once; only its hash is stored)");
            println!("  TOKEX_API_KEY={key}");
            println!("  TOKEX_API_SECRET={secret}");
        }
    }
    if demo {
        demo_setup(&handle)?;
        let keys = demo_keys(&config)?;
        println!("DEMO keys (a demo prints its keys; a real exchange never does):");
        println!(
            "  trader, account {DEMO_USER}:  TOKEX_API_KEY={}  TOKEX_API_SECRET={}",
            keys[0].0, keys[0].1
        );
        println!(
            "  operator:            TOKEX_API_KEY={}  TOKEX_API_SECRET={}",
            keys[1].0, keys[1].1
        );
        let (h, s) = (handle.clone(), stop.clone());
        demo_thread = Some(
            std::thread::Builder::new()
                .name("participants".into())
                .spawn(move || run_participants(h, s))
                .map_err(|e| e.to_string())?,
        );
        println!("demo: {} simulated participants are trading (accounts {FIRST_PARTICIPANT}+); your account is {DEMO_USER}", demo_agents().len());
    }
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("exchange running: http://{addr}/  (Ctrl-C to stop)");
        let h = handle.clone();
        if let Some(path) = &config.fix {
            let fix = tokex_fix::FixConfig::load(path)?;
            println!(
                "FIX 4.4 gateway on {} ({} sessions; docs/FIX.md)",
                fix.listen,
                fix.sessions.len()
            );
            let (fh, dir) = (handle.clone(), config.data_dir.clone());
            tokio::spawn(async move {
                if let Err(e) = tokex_fix::serve(fh, fix, dir).await {
                    tracing::error!(error = %e, "FIX gateway stopped");
                }
            });
        }
        tokio::select! {
            r = tokex_server::api::serve(h, config.clone(), listener) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = demo_thread {
        let _ = t.join();
    }
    handle.shutdown();
    let result = ex
        .thread
        .join()
        .map_err(|_| "the sequencer panicked".to_string())?;
    println!("stopped; snapshot written");
    served.and(result)
}

/// The demo's keys, made once and kept in the data directory so every run prints the same.
fn demo_keys(config: &ServerConfig) -> Result<Vec<(String, String)>, String> {
    let path = config.data_dir.join("demo-keys.txt");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let keys: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect();
        if keys.len() == 2 {
            return Ok(keys);
        }
    }
    let trader =
        tokex_server::api::create_key(config, DEMO_USER, tokex_server::api::KeyRole::Trader)?;
    let operator = tokex_server::api::create_operator_key(config)?;
    std::fs::write(
        &path,
        format!("{} {}\n{} {}\n", trader.0, trader.1, operator.0, operator.1),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(vec![trader, operator])
}

fn demo_agents() -> Vec<Box<dyn Agent>> {
    tokex_sim::demo_population(FIRST_PARTICIPANT, MARKET_MAKERS)
}

/// Opens and funds the demo's accounts on a fresh exchange (idempotent: existing accounts
/// are left alone).
fn demo_setup(handle: &ExchangeHandle) -> Result<(), String> {
    let agents = demo_agents();
    let mut accounts: Vec<(u32, Role, i64, i64)> = vec![
        (
            INSURANCE_FUND,
            Role::InsuranceFund,
            1_000_000_000,
            5_000_000_000,
        ),
        (DEMO_USER, Role::Trader, 100_000_000, 500_000_000),
    ];
    for (k, a) in agents.iter().enumerate() {
        let role = if (k as u32) < MARKET_MAKERS {
            Role::MarketMaker
        } else {
            Role::Trader
        };
        accounts.push((a.account().0, role, 500_000_000, 3_000_000_000));
    }
    for (id, role, usd, cny) in accounts {
        let exists = handle
            .query_blocking(move |e| e.account(AccountId(id)).is_some())
            .map_err(|e| e.to_string())?;
        if exists {
            continue;
        }
        for cmd in [
            Command::CreateAccount {
                account: AccountId(id),
                role,
                stp: StpMode::CancelResting,
            },
            Command::Deposit {
                account: AccountId(id),
                currency: Currency::Usd,
                amount: Money(usd),
            },
            Command::Deposit {
                account: AccountId(id),
                currency: Currency::Cny,
                amount: Money(cny),
            },
        ] {
            let o = handle.submit_blocking(cmd).map_err(|e| e.to_string())?;
            o.result.map_err(|r| format!("demo setup: {r}"))?;
        }
    }
    Ok(())
}

/// The participants' loop: look, act, learn from rejections, pause.
fn run_participants(handle: ExchangeHandle, stop: Arc<AtomicBool>) {
    let mut agents = demo_agents();
    let accounts: Vec<AccountId> = agents.iter().map(|a| a.account()).collect();
    let mut rng = Rng::new(7);
    while !stop.load(Ordering::Relaxed) {
        let acc = accounts.clone();
        let Ok(view) = handle.query_blocking(move |e| MarketView::from_engine(e, &acc)) else {
            return;
        };
        let mut pending = Vec::new();
        for (k, agent) in agents.iter_mut().enumerate() {
            for cmd in agent.act(&view, &mut rng) {
                match handle.submit_pending(cmd.clone()) {
                    Ok(rx) => pending.push((k, cmd, rx)),
                    Err(_) => break,
                }
            }
        }
        for (k, cmd, rx) in pending {
            if let Ok(outcome) = rx.blocking_recv() {
                if let Err(r) = outcome.result {
                    agents[k].rejected(&cmd, r.code);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(150 + rng.below(100)));
    }
}

pub fn serve(args: ServeArgs) -> Result<(), String> {
    run_exchange(args.config(false)?, false)
}

pub fn demo(args: ServeArgs) -> Result<(), String> {
    run_exchange(args.config(true)?, true)
}

/// Rebuilds the state from the journal and prints the state hash and the invariant check.
pub fn replay(args: ReplayArgs, check: bool) -> Result<(), String> {
    let dir = args.data_dir.join("journal");
    if !dir.exists() {
        return Err(format!("no journal in {}", args.data_dir.display()));
    }
    let engine = match args.to_seq {
        Some(to) => {
            let engine = replay_to(&dir, to)?;
            println!("replayed seq 1 to {to} from the journal (snapshots not used)");
            engine
        }
        None => {
            let (engine, report) = tokex_server::recovery::replay(&dir)?;
            println!("{report}");
            engine
        }
    };
    println!("instruments: {}", engine.instrument_count());
    println!("state hash: {}", engine.state_hash());
    if check {
        engine
            .check_invariants()
            .map_err(|e| format!("invariant broken: {e}"))?;
        println!(
            "invariants: ok (money conserved, positions sum to zero, books uncrossed, limits held)"
        );
    }
    Ok(())
}

/// The core as it was after command `to`: every journaled command from the first one, in
/// order, through the same `apply` the sequencer and recovery use.
fn replay_to(dir: &std::path::Path, to: u64) -> Result<tokex_engine::Engine, String> {
    use tokex_journal::{FsStorage, JournalReader};
    let mut reader = JournalReader::open(FsStorage, dir, 1).map_err(|e| e.to_string())?;
    let mut engine = tokex_engine::Engine::new();
    let mut events = Vec::new();
    let mut last = 0;
    while let Some(rec) = reader.next_record().map_err(|e| e.to_string())? {
        if rec.seq > to {
            break;
        }
        let (time, cmd) = tokex_engine::codec::decode_command(rec.payload)
            .map_err(|e| format!("journal record seq {} does not decode: {e}", rec.seq))?;
        events.clear();
        // A rejected command changes nothing; its rejection is part of the replay.
        let _ = engine.apply_into(time, &cmd, &mut events);
        last = rec.seq;
    }
    if last < to {
        return Err(format!("the journal ends at seq {last}, before seq {to}"));
    }
    Ok(engine)
}
