//! Execution reports of commands that were journaled but whose reports were not stored when
//! the exchange stopped (a crash between the journal's fsync and the session store) reach the
//! client after the restart, exactly once; reports stored before the crash are not sent
//! twice; a request that never reached the journal is rejected.
//!
//! The crash window is made deterministic by routing the exchange's batches from the test
//! (what the gateway's router task does), or not: a batch that is journaled and never routed
//! is a report lost in the window. A second case restores the router's bookkeeping to what
//! it was before a batch whose reports were stored: a crash after the reports and before the
//! transaction that records them as done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokex_engine::codec::encode_command;
use tokex_engine::{Command, NewOrder, Role, StpMode};
use tokex_fix::codec::{self, tag, Frame, Framer, Message};
use tokex_fix::config::{password_hash, FixConfig, SessionConfig};
use tokex_fix::gateway::Gateway;
use tokex_fix::store::{SqliteDb, Store};
use tokex_server::config::ServerConfig;
use tokex_server::sequencer::Batch;
use tokex_server::Exchange;
use tokex_types::decimal::Decimal;
use tokex_types::{AccountId, Currency, Money, Side, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const BUYER: usize = 0;
const SELLER: usize = 1;

fn server_config(dir: &Path) -> ServerConfig {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    ServerConfig {
        data_dir: dir.to_path_buf(),
        products: root.join("config/products.toml"),
        indexes: root.join("config/indexes"),
        model_prices: root.join("data/model-prices/snapshot.json"),
        calendar: Some("24x7".into()),
        history: false,
        // Snapshots newer than what the gateway reported must be passed over.
        snapshot_every_commands: 5,
        ..ServerConfig::default()
    }
}

fn fix_config() -> FixConfig {
    let session = |sender: &str, account| SessionConfig {
        sender_comp_id: sender.into(),
        target_comp_id: "TOKEX".into(),
        account,
        username: None,
        password_sha256: password_hash("pw"),
        cancel_on_disconnect: false,
        heartbeat_secs_min: 1,
        heartbeat_secs_max: 300,
    };
    FixConfig {
        listen: "127.0.0.1:0".into(),
        sessions: vec![session("BUYER", 2), session("SELLER", 3)],
    }
}

struct Market {
    symbol: String,
    price: String,
}

fn setup(ex: &Exchange) -> Market {
    let h = &ex.handle;
    for a in [2u32, 3] {
        for cmd in [
            Command::CreateAccount {
                account: AccountId(a),
                role: Role::Trader,
                stp: StpMode::CancelResting,
            },
            Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(1_000_000_000),
            },
        ] {
            h.submit_blocking(cmd).unwrap().result.unwrap();
        }
    }
    let (symbol, tick, price) = h
        .query_blocking(|e| {
            e.instruments()
                .find(|i| i.phase == tokex_engine::Phase::Continuous && i.spec.product == "TKF")
                .map(|i| {
                    (
                        i.spec.symbol.clone(),
                        i.spec.tick_size.clone(),
                        i.reference_price.0,
                    )
                })
        })
        .unwrap()
        .expect("a TKF instrument trading");
    let tick = Decimal::parse(&tick).unwrap();
    Market {
        symbol,
        price: Decimal::new(price as i128 * tick.mantissa, tick.scale).to_string(),
    }
}

fn order(m: &Market, cl: &str, side: u8, qty: u64) -> Message {
    Message::new("D")
        .with(tag::MSG_SEQ_NUM, 1)
        .with(tag::CL_ORD_ID, cl)
        .with(tag::SYMBOL, &m.symbol)
        .with(tag::SIDE, side)
        .with(tag::ORDER_QTY, qty)
        .with(tag::ORD_TYPE, 2)
        .with(tag::PRICE, &m.price)
        .with(tag::TIME_IN_FORCE, 1)
}

/// Waits for the batches of what was just submitted; `route` them through the gateway as its
/// router task does, or drop them (reports lost in the crash window).
async fn drain(gw: &Gateway, rx: &mut broadcast::Receiver<Arc<Batch>>, route: bool) {
    while let Ok(Ok(b)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        if route {
            gw.on_batch(&b);
        }
    }
}

/// Application messages a session's store holds: (MsgType, ClOrdID, ExecType, ExecID, message).
fn stored(gw: &Gateway, idx: usize) -> Vec<(String, String, String, String, Message)> {
    let slot = gw.slots[idx].lock().unwrap();
    slot.session
        .store
        .sent(1, u64::MAX)
        .unwrap()
        .into_iter()
        .filter(|(_, admin, _)| !admin)
        .map(|(_, _, raw)| {
            let m = codec::parse(&raw).message;
            let g = |t| m.get(t).unwrap_or("").to_string();
            (
                g(tag::MSG_TYPE),
                g(tag::CL_ORD_ID),
                g(tag::EXEC_TYPE),
                g(tag::EXEC_ID),
                m,
            )
        })
        .collect()
}

fn kinds(v: &[(String, String, String, String, Message)]) -> Vec<String> {
    v.iter()
        .map(|(mt, cl, et, _, _)| format!("{mt}:{cl}:{et}"))
        .collect()
}

fn stop(ex: Exchange) {
    ex.handle.shutdown();
    ex.thread.join().unwrap().unwrap();
}

/// Copies the router's bookkeeping aside, or puts the copy back.
fn bookkeeping(db: &Path, save: bool) {
    let c = rusqlite::Connection::open(db).unwrap();
    let sql = if save {
        "DROP TABLE IF EXISTS k_tracked; DROP TABLE IF EXISTS k_pending; DROP TABLE IF EXISTS k_gateway;
         CREATE TABLE k_tracked AS SELECT * FROM tracked; CREATE TABLE k_pending AS SELECT * FROM pending;
         CREATE TABLE k_gateway AS SELECT * FROM gateway;"
    } else {
        "DELETE FROM tracked; INSERT INTO tracked SELECT * FROM k_tracked;
         DELETE FROM pending; INSERT INTO pending SELECT * FROM k_pending;
         DELETE FROM gateway; INSERT INTO gateway SELECT * FROM k_gateway;
         DROP TABLE k_tracked; DROP TABLE k_pending; DROP TABLE k_gateway;"
    };
    c.execute_batch(sql).unwrap();
}

async fn read_messages(stream: &mut tokio::net::TcpStream, framer: &mut Framer) -> Vec<Message> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        framer.push(&buf[..n]);
        while let Some(f) = framer.next_frame() {
            if let Frame::Message(raw) = f {
                out.push(codec::parse(&raw).message);
            }
        }
    }
    out
}

fn client_msg(mt: &str, seq: u64) -> Message {
    Message::new(mt)
        .with(tag::SENDER_COMP_ID, "BUYER")
        .with(tag::TARGET_COMP_ID, "TOKEX")
        .with(tag::MSG_SEQ_NUM, seq)
        .with(tag::SENDING_TIME, "20260101-00:00:00.000")
}

#[test]
fn reports_lost_in_a_crash_arrive_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let db_path = data.join("fix/sessions.sqlite");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fix = fix_config();

    // ---- First run.
    let ex = Exchange::start(&server_config(&data)).unwrap();
    let m = setup(&ex);
    let before_crash = rt.block_on(async {
        let gw = Gateway::new(ex.handle.clone(), &fix, data.clone())
            .await
            .unwrap();
        let mut rx = ex.handle.subscribe();
        // Reported normally: two buy orders rest.
        tokex_fix::app::handle(&gw, BUYER, order(&m, "b1", 1, 2)).await;
        tokex_fix::app::handle(&gw, BUYER, order(&m, "b2", 1, 3)).await;
        drain(&gw, &mut rx, true).await;
        // A trade whose three reports are stored, then a crash before the router records the
        // batch as done: after the restart the catch-up makes them again and must not store
        // them twice.
        bookkeeping(&db_path, true);
        tokex_fix::app::handle(&gw, SELLER, order(&m, "s1", 2, 1)).await;
        drain(&gw, &mut rx, true).await;
        bookkeeping(&db_path, false);
        // Journaled, never reported: a trade filling b1, a cancel of b2.
        tokex_fix::app::handle(&gw, SELLER, order(&m, "s2", 2, 1)).await;
        let cancel = Message::new("F")
            .with(tag::MSG_SEQ_NUM, 3)
            .with(tag::ORIG_CL_ORD_ID, "b2")
            .with(tag::CL_ORD_ID, "b2c")
            .with(tag::SYMBOL, &m.symbol)
            .with(tag::SIDE, 1);
        tokex_fix::app::handle(&gw, BUYER, cancel).await;
        drain(&gw, &mut rx, false).await;
        (stored(&gw, BUYER), stored(&gw, SELLER))
    });
    assert_eq!(kinds(&before_crash.0), ["8:b1:0", "8:b2:0", "8:b1:F"]);
    assert_eq!(kinds(&before_crash.1), ["8:s1:0", "8:s1:F"]);
    // A request registered and never journaled (a crash between the two).
    let lost = NewOrder::limit(2, 1, Side::Buy, 1, 1).with_client_id("b3");
    SqliteDb::open(&db_path)
        .unwrap()
        .insert_pending(
            BUYER,
            "N",
            "b3",
            "",
            &encode_command(Timestamp(0), &Command::NewOrder(lost)),
        )
        .unwrap();
    stop(ex);

    // ---- Restart: the catch-up stores what was missing, once.
    let ex = Exchange::start(&server_config(&data)).unwrap();
    let (buyer, seller, resent) = rt.block_on(async {
        let gw = Gateway::new(ex.handle.clone(), &fix, data.clone())
            .await
            .unwrap();
        let (buyer, seller) = (stored(&gw, BUYER), stored(&gw, SELLER));
        // The client logs on with the numbers it had and asks for what it missed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tokex_fix::gateway::run(gw.clone(), listener));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let logon = client_msg("A", 1)
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, 30)
            .with(tag::PASSWORD, "pw");
        s.write_all(&logon.encode()).await.unwrap();
        let mut framer = Framer::new();
        let ack = read_messages(&mut s, &mut framer).await;
        assert_eq!(ack[0].msg_type(), "A");
        let rr = client_msg("2", 2)
            .with(tag::BEGIN_SEQ_NO, 1)
            .with(tag::END_SEQ_NO, 0);
        s.write_all(&rr.encode()).await.unwrap();
        let resent = read_messages(&mut s, &mut framer).await;
        (buyer, seller, resent)
    });
    stop(ex);

    assert_eq!(
        kinds(&buyer),
        [
            "8:b1:0", "8:b2:0", "8:b1:F", // stored before the crash
            "8:b1:F", "8:b2c:4", // regenerated
            "8:b3:8",  // never journaled: rejected
        ]
    );
    assert_eq!(kinds(&seller), ["8:s1:0", "8:s1:F", "8:s2:0", "8:s2:F"]);
    let mut ids: Vec<&String> = buyer.iter().chain(&seller).map(|x| &x.3).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), buyer.len() + seller.len(), "ExecIDs are unique");
    // The second fill of b1, made after the restart, carries the totals: the FIX state of
    // the order came back as it was at the last recorded batch.
    let fill = &buyer[3].4;
    assert_eq!(fill.get(tag::CUM_QTY), Some("2"));
    assert_eq!(fill.get(tag::LEAVES_QTY), Some("0"));
    assert_eq!(fill.get(tag::ORD_STATUS), Some("2"));
    assert_eq!(buyer[4].4.get(tag::ORIG_CL_ORD_ID), Some("b2"));
    assert!(buyer[5].4.get(tag::TEXT).unwrap().contains("restarted"));
    // And the client receives them: every stored report, resent once.
    let got: Vec<String> = resent
        .iter()
        .filter(|m| m.msg_type() == "8")
        .map(|m| {
            format!(
                "8:{}:{}",
                m.get(tag::CL_ORD_ID).unwrap_or(""),
                m.get(tag::EXEC_TYPE).unwrap_or("")
            )
        })
        .collect();
    assert_eq!(got, kinds(&buyer));

    // ---- A second restart reports nothing again.
    let ex = Exchange::start(&server_config(&data)).unwrap();
    let again = rt.block_on(async {
        let gw = Gateway::new(ex.handle.clone(), &fix, data.clone())
            .await
            .unwrap();
        (stored(&gw, BUYER), stored(&gw, SELLER))
    });
    stop(ex);
    assert_eq!(kinds(&again.0), kinds(&buyer));
    assert_eq!(kinds(&again.1), kinds(&seller));
}
