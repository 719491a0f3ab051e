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
    let mut i: u64 = 0;
    loop {
        let side = if i.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = inst.1 + (i % 7) as i64 - 3;
        let o = h
            .submit_blocking(Command::NewOrder(NewOrder::limit(
                1 + (i % 2) as u32,
                inst.0,
                side,
                price,
                1,
            )))
            .expect("submit");
        println!("ack {}", o.seq);
        i += 1;
    }
}

fn run_child(dir: &Path, acks_before_kill: usize) -> u64 {
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
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut last_ack = 0;
    let mut n = 0;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("ack ") {
            last_ack = seq.trim().parse().unwrap();
            n += 1;
            if n >= acks_before_kill {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    last_ack
}

#[test]
fn acknowledged_commands_survive_kill_9() {
    let base = std::env::temp_dir().join(format!("tokex-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut acked = 0;
    for (round, kill_after) in [40usize, 173, 311].into_iter().enumerate() {
        let last = run_child(&base, kill_after);
        assert!(
            last > acked,
            "round {round}: the child acknowledged nothing new"
        );
        acked = last;
        let (engine, report) =
            tokex_server::recovery::replay(&base.join("journal")).expect("replay after kill -9");
        assert!(
            report.last_seq >= acked,
            "round {round}: acknowledged seq {acked} lost, journal ends at {}",
            report.last_seq
        );
        engine
            .check_invariants()
            .expect("invariants after recovery");
        // Replaying twice gives the same state.
        let (again, _) = tokex_server::recovery::replay(&base.join("journal")).unwrap();
        assert_eq!(engine.state_hash(), again.state_hash());
    }
    // The exchange starts on the crashed directory and keeps trading.
    let ex = Exchange::start(&config(&base)).expect("restart");
    let o = ex.handle.submit_blocking(Command::Tick).unwrap();
    assert!(o.seq > acked);
    ex.handle.shutdown();
    ex.thread.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&base);
}
