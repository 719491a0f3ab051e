//! `tokex`: the one binary. Each subcommand lives in its own module and calls into the library
//! crates; this file only parses the command line and dispatches.

use clap::{Parser, Subcommand};

mod bench_fix_cmd;
mod bench_load_cmd;
mod client_cmd;
mod hedge_cmd;
mod index_cmd;
mod serve_cmd;
mod sim_cmd;

#[derive(Parser)]
#[command(
    name = "tokex",
    version,
    about = "Tokex: an exchange for cash-settled futures on the price of AI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the exchange: sequencer, journal, scheduler, history store, API, web screen.
    Serve(serve_cmd::ServeArgs),
    /// Run the exchange with simulated participants on a 24x7 calendar, in ./tokex-demo-data.
    Demo(serve_cmd::ServeArgs),
    /// Rebuild the state from a data directory's journal and print its state hash.
    Replay(serve_cmd::ReplayArgs),
    /// Like replay, and check every invariant of the rebuilt state.
    Verify(serve_cmd::ReplayArgs),
    /// The market simulator: agents trading the real core through sessions, settlements and
    /// expiries; compare two contract designs with --compare a.toml b.toml.
    Sim(sim_cmd::SimArgs),
    /// Token price and GPU compute indexes: import, compute, show, verify, explain, methodology.
    Index(index_cmd::IndexArgs),
    /// Hedge planner for token buyers: a forecast or usage exports to a strip of futures,
    /// scenarios, basis risk and a backtest on the real history.
    Hedge(hedge_cmd::HedgeArgs),
    /// Place, list, show and amend orders (signed API client).
    Order(client_cmd::OrderArgs),
    /// Cancel an order by id or client id, or mass cancel with --all.
    Cancel(client_cmd::CancelArgs),
    /// An instrument's order book.
    Book(client_cmd::BookArgs),
    /// Recent trades of an instrument, or your fills with --mine.
    Trades(client_cmd::TradesArgs),
    /// Your positions.
    Positions(client_cmd::AccountArgs),
    /// Your cash, equity and margin.
    Balances(client_cmd::AccountArgs),
    /// API keys: create (online, or offline into a data directory), list, revoke.
    Keys(client_cmd::KeysArgs),
    /// Product parameters in force; change margins, limits and fees while trading (operator).
    Products(client_cmd::ProductsArgs),
    /// Load generator: signed clients placing and cancelling orders on a running exchange.
    BenchLoad(bench_load_cmd::BenchLoadArgs),
    /// FIX load generator: sessions sending orders and cancels; orders/s and latency to the
    /// first ExecutionReport, against a running exchange or one started in this process.
    BenchFix(bench_fix_cmd::BenchFixArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Demo(args) => serve_cmd::demo(args),
        Command::Replay(args) => serve_cmd::replay(args, false),
        Command::Verify(args) => serve_cmd::replay(args, true),
        Command::Sim(args) => sim_cmd::run_cmd(args),
        Command::Index(args) => index_cmd::run(args),
        Command::Hedge(args) => hedge_cmd::run(args),
        Command::Order(args) => client_cmd::order(args),
        Command::Cancel(args) => client_cmd::cancel(args),
        Command::Book(args) => client_cmd::book(args),
        Command::Trades(args) => client_cmd::trades(args),
        Command::Positions(args) => client_cmd::positions(args),
        Command::Balances(args) => client_cmd::balances(args),
        Command::Keys(args) => client_cmd::keys(args),
        Command::Products(args) => client_cmd::products(args),
        Command::BenchLoad(args) => bench_load_cmd::run(args),
        Command::BenchFix(args) => bench_fix_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
