//! `tokex-replay-bench`: how fast the exchange rebuilds its state from its journal.
//!
//! Writes the seeded exchange-core stream (the same one `tokex-bench` times against the bare
//! core) as a real journal — list, accounts, deposits, open, then every order, amend and
//! cancel — with the exchange's periodic snapshots beside it, then times the exact start-up
//! path (`tokex_server::recovery::replay`): full replay from the first record (snapshots
//! moved aside), and recovery from the newest snapshot plus the journal after it. Every
//! rebuilt state is checked against the hash of the engine that wrote the journal.
//!
//! ```text
//! cargo run --release -p tokex-bench --bin tokex-replay-bench -- --commands 10000000
//! ```

use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokex_bench::adapters::TokexEngine;
use tokex_bench::harness::median;
use tokex_bench::workload::{self, Config};
use tokex_engine::codec::encode_command;
use tokex_engine::{Command, Engine, Phase, Role, StpMode};
use tokex_journal::{write_snapshot, FsStorage, JournalWriter, WriterOptions};
use tokex_types::{AccountId, Currency, InstrumentId, InstrumentSpec, Money, Timestamp};

#[derive(Parser, Debug)]
#[command(
    name = "tokex-replay-bench",
    about = "Journal replay speed and recovery time of the Tokex exchange process (SPEC §10)."
)]
struct Args {
    /// Commands in the measured stream (the journal also holds the set-up and the prefill).
    #[arg(long, default_value_t = 10_000_000)]
    commands: usize,
    /// Timed rounds of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A snapshot every this many commands, as `snapshot_every_commands` in the server config.
    #[arg(long, default_value_t = 100_000)]
    snapshot_every: u64,
    /// Commands per group commit while writing (one fsync each).
    #[arg(long, default_value_t = 10_000)]
    commit_every: u64,
    /// Where to write the journal (default: a fresh directory under the system temp dir,
    /// removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Cash per account, minor units: far above any margin the stream needs, as in `tokex-bench`.
const CASH_MINOR: i64 = 1_000_000_000_000;

fn main() {
    let args = Args::parse();
    let cfg = Config {
        seed: args.seed,
        commands: args.commands,
        ..Config::default()
    };
    let t = Instant::now();
    let w = workload::generate(&cfg);
    println!(
        "workload: seed {} | {} prefill + {} commands, {} accounts (generated in {:.1} s)",
        cfg.seed,
        w.prefill.len(),
        w.cmds.len(),
        cfg.accounts,
        t.elapsed().as_secs_f64()
    );

    let (dir, remove_after) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("tokex-replay-bench-{}", std::process::id())),
            true,
        ),
    };
    let journal = dir.join("journal");
    let snapshots = dir.join("snapshots-aside");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&journal).expect("create journal dir");

    let mut setup = vec![Command::ListInstrument(Box::new(
        InstrumentSpec::for_tests(0, cfg.reference),
    ))];
    for a in 1..=cfg.accounts {
        setup.push(Command::CreateAccount {
            account: AccountId(a),
            role: Role::Trader,
            stp: StpMode::default(),
        });
        setup.push(Command::Deposit {
            account: AccountId(a),
            currency: Currency::Usd,
            amount: Money(CASH_MINOR),
        });
    }
    setup.push(Command::SetPhase {
        instrument: InstrumentId(0),
        phase: Phase::Continuous,
    });

    // Write the journal, applying every command to a live engine as the sequencer does, with
    // its snapshots; the live engine's final hash is what every replay must reproduce.
    let t = Instant::now();
    let mut writer =
        JournalWriter::open(FsStorage, &journal, WriterOptions::default()).expect("open journal");
    let mut live = Engine::new();
    let mut events = Vec::new();
    let mut seq = 0u64;
    let mut bytes = 0u64;
    let mut snapshots_written = 0u64;
    let stream = setup
        .into_iter()
        .chain(w.prefill.iter().chain(&w.cmds).map(TokexEngine::command));
    for cmd in stream {
        seq += 1;
        let time = Timestamp(1_000 + seq);
        let record = encode_command(time, &cmd);
        bytes += record.len() as u64;
        writer.append(&record).expect("append");
        events.clear();
        let _ = live.apply_into(time, &cmd, &mut events);
        if seq.is_multiple_of(args.commit_every) {
            writer.commit().expect("commit");
        }
        if seq.is_multiple_of(args.snapshot_every) {
            writer.commit().expect("commit");
            write_snapshot(&FsStorage, &journal, seq, &live.snapshot()).expect("snapshot");
            snapshots_written += 1;
        }
    }
    writer.commit().expect("commit");
    drop(writer);
    let expected = live.state_hash();
    let journal_bytes = dir_bytes(&journal);
    println!(
        "journal: {seq} commands, {:.0} MB of records ({:.0} MB on disk with {snapshots_written} snapshots), written in {:.1} s",
        bytes as f64 / 1e6,
        journal_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    println!("state hash: {expected}");
    println!(
        "(the files were just written: the page cache holds them, as after a restart of the process, not of the machine)"
    );

    // Recovery as start-up does it: newest snapshot, then the journal after it.
    let mut recover_ms = Vec::new();
    let mut tail = 0;
    for _ in 0..args.rounds {
        let t = Instant::now();
        let (engine, report) = tokex_server::recovery::replay(&journal).expect("recover");
        recover_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(engine.state_hash(), expected, "recovered state differs");
        tail = report.replayed;
    }

    // Full replay from the first record: the snapshots moved aside.
    std::fs::create_dir_all(&snapshots).expect("create dir");
    for e in std::fs::read_dir(&journal).expect("read dir") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "log") {
            std::fs::rename(&p, snapshots.join(p.file_name().expect("name"))).expect("move");
        }
    }
    let mut replay_s = Vec::new();
    for _ in 0..args.rounds {
        let t = Instant::now();
        let (engine, report) = tokex_server::recovery::replay(&journal).expect("replay");
        replay_s.push(t.elapsed().as_secs_f64());
        assert_eq!(report.replayed, seq, "every command replayed");
        assert_eq!(engine.state_hash(), expected, "replayed state differs");
    }
    let full = median(&replay_s);
    println!();
    println!(
        "full replay:  {seq} commands in {:.2} s (median of {}) = {:.2} M commands/s   [{}]",
        full,
        args.rounds,
        seq as f64 / full / 1e6,
        replay_s
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "recovery:     newest snapshot + {tail} commands after it in {:.0} ms (median of {})   [{}]",
        median(&recover_ms),
        args.rounds,
        recover_ms
            .iter()
            .map(|s| format!("{s:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("state hash:   equal to the live engine's in every round");
    if remove_after {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
