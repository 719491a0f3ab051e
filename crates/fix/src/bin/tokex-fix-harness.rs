//! A test harness: the exchange (as `tokex serve` starts it) with the FIX gateway, the
//! accounts of the FIX sessions opened and funded. Used by `interop/run.sh`.
//!
//! `tokex-fix-harness --fix fix.toml --data-dir DIR [--config server.toml] [--calendar 24x7]`
//! Each account gets USD 10,000,000 and CNY 10,000,000. Stops on SIGINT or SIGTERM: Logout to every session, then a snapshot.

use std::path::PathBuf;
use tokex_engine::{Command, Role, StpMode};
use tokex_fix::FixConfig;
use tokex_server::config::ServerConfig;
use tokex_server::Exchange;
use tokex_types::{AccountId, Currency, Money};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let mut config = match arg(&args, "--config") {
        Some(p) => ServerConfig::load(&PathBuf::from(p))?,
        None => ServerConfig::default(),
    };
    if let Some(d) = arg(&args, "--data-dir") {
        config.data_dir = PathBuf::from(d);
    }
    if let Some(c) = arg(&args, "--calendar") {
        config.calendar = Some(c);
    }
    if let Some(f) = arg(&args, "--fix") {
        config.fix = Some(PathBuf::from(f));
    }
    config.history = false;
    let fix_path = config.fix.clone().ok_or("--fix FILE is required")?;
    let fix = FixConfig::load(&fix_path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ex = Exchange::start(&config)?;
    let handle = ex.handle.clone();
    let mut accounts: Vec<u32> = fix.sessions.iter().map(|s| s.account).collect();
    accounts.dedup();
    for id in accounts {
        let exists = handle
            .query_blocking(move |e| e.account(AccountId(id)).is_some())
            .map_err(|e| e.to_string())?;
        if exists {
            continue;
        }
        for cmd in [
            Command::CreateAccount {
                account: AccountId(id),
                role: Role::Trader,
                stp: StpMode::CancelResting,
            },
            Command::Deposit {
                account: AccountId(id),
                currency: Currency::Usd,
                amount: Money(1_000_000_000),
            },
            Command::Deposit {
                account: AccountId(id),
                currency: Currency::Cny,
                amount: Money(1_000_000_000),
            },
        ] {
            handle
                .submit_blocking(cmd)
                .map_err(|e| e.to_string())?
                .result
                .map_err(|r| r.to_string())?;
        }
    }
    // The nearest TKF month and its reference price, for the interop initiator.
    let reference = handle
        .query_blocking(|e| {
            e.instruments()
                .filter(|i| i.spec.product == "TKF" && !i.delisted)
                .map(|i| {
                    (
                        i.spec.symbol.clone(),
                        i.spec.tick_size.clone(),
                        i.reference_price,
                    )
                })
                .next()
        })
        .map_err(|e| e.to_string())?;
    if let Some((symbol, tick, price)) = reference {
        let tick = tokex_types::decimal::Decimal::parse(&tick).map_err(|e| e.to_string())?;
        let p = tokex_types::decimal::Decimal::new(price.0 as i128 * tick.mantissa, tick.scale);
        println!("harness: reference {symbol} {p}");
    }
    println!("harness: exchange started, FIX on {}", fix.listen);
    let data_dir = config.data_dir.clone();
    let h = handle.clone();
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&fix.listen)
            .await
            .map_err(|e| e.to_string())?;
        let gw = tokex_fix::gateway::Gateway::new(h.clone(), &fix, data_dir).await?;
        println!(
            "harness: FIX gateway listening on {}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        let run = tokio::spawn(tokex_fix::gateway::run(gw.clone(), listener));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        gw.logout_all("the exchange is stopping");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        h.shutdown();
        let _ = run.await;
        Ok::<(), String>(())
    });
    let result = ex
        .thread
        .join()
        .map_err(|_| "the sequencer panicked".to_string())?;
    println!("harness: stopped");
    served.and(result)
}
