//! Crash test of the whole exchange process: a child process runs the exchange and submits
//! orders, printing each acknowledged sequence number; the parent kills it with SIGKILL at
//! an arbitrary moment, rebuilds the state from the data directory, and checks that every
//! acknowledged command survived, the invariants hold, and the exchange starts again on the
//! same directory and keeps going.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use tokex_engine::{Command, NewOrder, Role, StpMode};
use tokex_server::config::ServerConfig;
use tokex_server::Exchange;
use tokex_types::{AccountId, Currency, Money, Side};

fn config(dir: &Path) -> ServerConfig {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    ServerConfig {
        data_dir: dir.to_path_buf(),
        products: root.join("config/products.toml"),
        indexes: root.join("config/indexes"),
        model_prices: root.join("data/model-prices/snapshot.json"),
        calendar: Some("24x7".into()),
        history: false,
        snapshot_every_commands: 150,
        ..ServerConfig::default()
    }
}

/// The child: run the exchange and trade until killed.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var("TOKEX_KILL9_CHILD") else {
        return;
    };
    let ex = Exchange::start(&config(Path::new(&dir))).expect("start");
    let h = ex.handle.clone();
    let inst = h
        .query_blocking(|e| {
            e.instruments()
                .find(|i| i.phase == tokex_engine::Phase::Continuous)
                .map(|i| (i.spec.id.0, i.reference_price.0))
        })
        .unwrap()
        .expect("a trading instrument");
    for a in [1u32, 2] {
        let _ = h.submit_blocking(Command::CreateAccount {
            account: AccountId(a),
            role: Role::Trader,
            stp: StpMode::CancelResting,
        });
        let _ = h.submit_blocking(Command::Deposit {
            account: AccountId(a),
            currency: Currency::Usd,
            amount: Money(1_000_000_000),
        });
    }
    let round = std::env::var("TOKEX_KILL9_ROUND").unwrap_or_default();
    let mut i: u64 = 0;
    loop {
        let side = if i.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = inst.1 + (i % 7) as i64 - 3;
        let cid = format!("r{round}-{i}");
        let order =
            NewOrder::limit(1 + (i % 2) as u32, inst.0, side, price, 1).with_client_id(&cid);
        let o = h.submit_blocking(Command::NewOrder(order)).expect("submit");
        let id = o.events.iter().find_map(|e| match e {
            tokex_engine::Event::OrderAccepted { order_id, .. } => Some(order_id.0),
            _ => None,
        });
        println!("ack {} {} {}", o.seq, cid, id.unwrap_or(0));
        i += 1;
    }
}

/// Runs the child until it has acknowledged `acks_before_kill` orders, then SIGKILLs it.
/// Returns every acknowledgement: (seq, client order id, order id).
fn run_child(dir: &Path, round: usize, acks_before_kill: usize) -> Vec<(u64, String, u64)> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Proc::new(exe)
        .args([
            "kill9_child",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("TOKEX_KILL9_CHILD", dir)
        .env("TOKEX_KILL9_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut acks = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let f: Vec<&str> = rest.split_whitespace().collect();
            acks.push((
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].parse().unwrap(),
            ));
            if acks.len() >= acks_before_kill {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    acks
}

#[test]
fn acknowledged_commands_survive_kill_9() {
    let base = std::env::temp_dir().join(format!("tokex-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut acked: Vec<(u64, String, u64)> = Vec::new();
    // Ten kills at different moments (seeded, so a failure reproduces).
    let mut x: u64 = 0x2545F4914F6CDD1D;
    for round in 0..10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let kill_after = 5 + (x % 120) as usize;
        let acks = run_child(&base, round, kill_after);
        assert!(
            !acks.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        acked.extend(acks);
        // Rebuild from the directory and collect every order the journal accepted.
        let mut accepted: std::collections::BTreeMap<String, u64> = Default::default();
        let mut duplicates = Vec::new();
        let (engine, report) =
            tokex_server::recovery::replay_with(&base.join("journal"), |_, _, _, events| {
                for e in events {
                    if let tokex_engine::Event::OrderAccepted {
                        order_id,
                        client_order_id: Some(c),
                        ..
                    } = e
                    {
                        if accepted.insert(c.to_string(), order_id.0).is_some() {
                            duplicates.push(c.to_string());
                        }
                    }
                }
            })
            .expect("replay after kill -9");
        assert!(
            duplicates.is_empty(),
            "round {round}: orders accepted twice: {duplicates:?}"
        );
        for (seq, cid, id) in &acked {
            assert!(
                report.last_seq >= *seq,
                "round {round}: acknowledged seq {seq} lost, journal ends at {}",
                report.last_seq
            );
            assert_eq!(
                accepted.get(cid),
                Some(id),
                "round {round}: acknowledged order {cid} (#{id}) missing after recovery"
            );
        }
        engine
            .check_invariants()
            .expect("invariants after recovery");
    }
    // The exchange starts on the crashed directory; its live state equals a fresh replay's.
    let ex = Exchange::start(&config(&base)).expect("restart");
    let live = ex.handle.query_blocking(|e| e.state_hash()).unwrap();
    let o = ex.handle.submit_blocking(Command::Tick).unwrap();
    assert!(o.seq > acked.last().unwrap().0);
    let live_after = ex.handle.query_blocking(|e| e.state_hash()).unwrap();
    ex.handle.shutdown();
    ex.thread.join().unwrap().unwrap();
    let (replayed, _) = tokex_server::recovery::replay(&base.join("journal")).unwrap();
    assert_eq!(
        replayed.state_hash(),
        live_after,
        "live state and a fresh replay differ"
    );
    let _ = live;
    let _ = std::fs::remove_dir_all(&base);
}
