//! The fuzzing entry point, shared by the cargo-fuzz target (`fuzz/`, nightly) and the stable
//! test that replays its corpus (`tests/fuzz_corpus.rs`), so both exercise the same code.

use crate::codec::{self, tag, Frame, Framer, Message, SOH};
use crate::config::{password_hash, SessionConfig};
use crate::orders::{self, InstrumentInfo, Instruments};
use crate::session::{Action, Session, State};
use crate::store::MemStore;
use tokex_types::decimal::Decimal;
use tokex_types::{AccountId, InstrumentId, OrderId};

/// The session the fuzzer logs on to: `CLIENT` → `TOKEX`, account 2, Password (554) `pw`.
pub const FUZZ_SENDER: &str = "CLIENT";
pub const FUZZ_TARGET: &str = "TOKEX";
pub const FUZZ_PASSWORD: &str = "pw";

fn session_config() -> SessionConfig {
    SessionConfig {
        sender_comp_id: FUZZ_SENDER.into(),
        target_comp_id: FUZZ_TARGET.into(),
        account: 2,
        username: None,
        password_sha256: password_hash(FUZZ_PASSWORD),
        cancel_on_disconnect: false,
        heartbeat_secs_min: 1,
        heartbeat_secs_max: 300,
    }
}

fn instruments() -> Instruments {
    let mut ins = Instruments::default();
    for (id, symbol, product, tick) in [
        (1, "TKF-2026-12", "TKF", "0.001"),
        (2, "GPU-2026-12", "GPU", "0.25"),
    ] {
        ins.insert(InstrumentInfo {
            id: InstrumentId(id),
            symbol: symbol.into(),
            product: product.into(),
            tick: Decimal::parse(tick).expect("tick"),
            currency: "USD",
            year: 2026,
            month: 12,
            last_trading_day: chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("date"),
            delisted: false,
        });
    }
    ins
}

fn fixed_time() -> String {
    "20260101-00:00:00.000".into()
}

/// Everything the exchange sends must be a well-framed FIX 4.4 message that its own parser
/// accepts without a reject: a broken outbound message would be garbled for the client.
fn assert_valid_outbound(raw: &[u8]) {
    let mut f = Framer::new();
    f.push(raw);
    match f.next_frame() {
        Some(Frame::Message(m)) if m == raw => {}
        other => panic!(
            "outbound message does not frame ({other:?}): {}",
            codec::printable(raw)
        ),
    }
    let p = codec::parse(raw);
    if let Some(r) = p.reject {
        panic!(
            "outbound message is rejected by our own parser ({r:?}): {}",
            codec::printable(raw)
        );
    }
}

/// Encodes an application message the way the session would send it (header stamped) and
/// checks it.
fn assert_valid_app(m: Message) {
    let mut out = Message::new(m.msg_type())
        .with(tag::SENDER_COMP_ID, FUZZ_TARGET)
        .with(tag::TARGET_COMP_ID, FUZZ_SENDER)
        .with(tag::MSG_SEQ_NUM, 1)
        .with(tag::SENDING_TIME, fixed_time());
    out.fields
        .extend(m.fields.into_iter().filter(|(t, _)| *t != tag::MSG_TYPE));
    assert_valid_outbound(&out.encode());
}

/// A working order the cancel, replace and status messages can refer to (ClOrdID `c1`,
/// OrderID 9).
fn working_order() -> orders::Tracker {
    let mut tr = orders::Tracker::default();
    tr.insert(orders::Tracked {
        order_id: OrderId(9),
        account: AccountId(2),
        instrument: InstrumentId(1),
        session: Some(0),
        cl_ord_id: Some("c1".into()),
        orig_cl_ord_id: None,
        side: tokex_types::Side::Buy,
        ord_type: tokex_engine::OrderType::Limit,
        tif: tokex_engine::TimeInForce::Gtc,
        price: Some(tokex_types::Price(8125)),
        stop_price: None,
        order_qty: 10,
        leaves: 7,
        cum: 3,
        notional: 3 * 8125,
        done: None,
    });
    tr
}

/// An application message as the order-entry layer maps it (the pure part of `app::handle`:
/// everything but submitting to the engine).
fn application(m: &Message, ins: &Instruments, tracker: &orders::Tracker) {
    let account = AccountId(2);
    match m.msg_type() {
        "D" => {
            let report = match ins.by_symbol(m.get(tag::SYMBOL).unwrap_or("")) {
                None => orders::new_order_reject(
                    m,
                    account,
                    orders::GatewayReject {
                        reason: 1,
                        text: "unknown symbol".into(),
                    },
                ),
                Some(i) => match orders::new_order(m, account, i) {
                    Ok(o) => {
                        let t = orders::tracked_from_new(&o, OrderId(1), Some(0));
                        orders::execution_report(&t, Some(i), "1-1", '0')
                    }
                    Err(r) => orders::new_order_reject(m, account, r),
                },
            };
            assert_valid_app(report);
        }
        "F" | "G" | "H" => {
            let t = tracker.find(
                account,
                m.get(tag::ORIG_CL_ORD_ID).or(m.get(tag::CL_ORD_ID)),
                m.get(tag::ORDER_ID),
            );
            if let Some(t) = t {
                let i = ins.get(t.instrument);
                if m.msg_type() == "G" {
                    if let Some(i) = i {
                        let _ = orders::amend(m, t, i);
                    }
                } else {
                    let _ = orders::cancel(t);
                }
                let _ = orders::cl_ord_id(m.get(tag::CL_ORD_ID));
                assert_valid_app(orders::execution_report(t, i, "S-1", 'I'));
            }
        }
        "q" => {
            let _ = orders::mass_cancel(m, account, ins);
        }
        _ => {}
    }
}

/// Feeds `bytes` through everything a FIX connection's input reaches before the engine, as
/// the gateway does it: the [`Framer`] (in chunks whose sizes come from the input, since TCP
/// may cut the stream anywhere), [`codec::parse`] and dictionary validation of every frame,
/// the [`Session`] state machine (Logon with credentials, sequence numbers, gap fill,
/// ResendRequest from an in-memory store, Reject, Logout, timers) for a session logged on
/// with `CLIENT`/`TOKEX`/`pw`, and the order-entry mapping of the application messages (D,
/// F, G, H, q: prices, quantities, timestamps, execution reports).
///
/// Panics when something panics inside, and when the exchange would send a message that
/// does not frame or that its own parser rejects. A parsed message without reject must
/// survive encoding: parsed again, it has the same fields (when the input is UTF-8).
pub fn fuzz_entry(bytes: &[u8]) {
    let ins = instruments();
    let tracker = working_order();
    let mut session = Session::new(session_config(), MemStore::default());
    session.clock = fixed_time;
    let mut framer = Framer::new();
    let mut now_ms = 0u64;
    // Chunk sizes from the input itself (1..=64), so the fuzzer explores the splits too.
    let mut chunk_seed = bytes
        .iter()
        .fold(7u32, |a, &b| a.wrapping_mul(31) ^ b as u32);
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (chunk_seed % 64 + 1) as usize;
        chunk_seed = chunk_seed.wrapping_mul(1_103_515_245).wrapping_add(12_345) >> 1;
        let (part, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        framer.push(part);
        while let Some(frame) = framer.next_frame() {
            let Frame::Message(raw) = frame else {
                continue;
            };
            on_frame(&raw, &mut session, &ins, &tracker, now_ms);
            now_ms += 1_000;
        }
    }
}

fn on_frame(
    raw: &[u8],
    session: &mut Session<MemStore>,
    ins: &Instruments,
    tracker: &orders::Tracker,
    now_ms: u64,
) {
    assert!(
        raw.starts_with(b"8=FIX.4.4\x01") && raw.ends_with(&[SOH]),
        "framer returned {}",
        codec::printable(raw)
    );
    let p = codec::parse(raw);
    if p.reject.is_none() && std::str::from_utf8(raw).is_ok() {
        // Encoding what was parsed and parsing it again gives the same fields (BodyLength and
        // CheckSum aside: they are recomputed).
        let again = codec::parse(&p.message.encode());
        let fields = |m: &Message| -> Vec<(u32, String)> {
            m.fields
                .iter()
                .filter(|(t, _)| *t != tag::BODY_LENGTH && *t != tag::CHECK_SUM)
                .cloned()
                .collect()
        };
        assert_eq!(again.reject, None, "{}", codec::printable(raw));
        assert_eq!(
            fields(&again.message),
            fields(&p.message),
            "a valid message does not survive encoding: {}",
            codec::printable(raw)
        );
    }
    // The gateway: a connection's first message must be a Logon for a configured CompID pair,
    // otherwise it is closed without an answer (here: wait for the next one).
    if matches!(session.state, State::Disconnected) {
        let m = &p.message;
        if m.msg_type() != "A"
            || m.get(tag::SENDER_COMP_ID) != Some(FUZZ_SENDER)
            || m.get(tag::TARGET_COMP_ID) != Some(FUZZ_TARGET)
        {
            return;
        }
        session.connect(now_ms);
    }
    let mut actions = session.on_message(raw, now_ms);
    actions.extend(session.on_timer(now_ms + 500));
    for a in actions {
        match a {
            Action::Send(out) => assert_valid_outbound(&out),
            Action::App(m) => application(&m, ins, tracker),
            Action::LoggedOn => {}
            Action::Disconnect(_) => session.disconnected(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logon() -> Vec<u8> {
        Message::new("A")
            .with(tag::SENDER_COMP_ID, FUZZ_SENDER)
            .with(tag::TARGET_COMP_ID, FUZZ_TARGET)
            .with(tag::MSG_SEQ_NUM, 1)
            .with(tag::SENDING_TIME, fixed_time())
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, 30)
            .with(tag::PASSWORD, FUZZ_PASSWORD)
            .encode()
    }

    #[test]
    fn the_entry_logs_on_and_reaches_the_order_mapping() {
        // A logon then an order must get past the session: the application layer sees it.
        let mut s = Session::new(session_config(), MemStore::default());
        s.clock = fixed_time;
        s.connect(0);
        let a = s.on_message(&logon(), 0);
        assert!(a.contains(&Action::LoggedOn));
        let mut bytes = logon();
        bytes.extend(
            Message::new("D")
                .with(tag::SENDER_COMP_ID, FUZZ_SENDER)
                .with(tag::TARGET_COMP_ID, FUZZ_TARGET)
                .with(tag::MSG_SEQ_NUM, 2)
                .with(tag::SENDING_TIME, fixed_time())
                .with(tag::CL_ORD_ID, "o1")
                .with(tag::SYMBOL, "TKF-2026-12")
                .with(tag::SIDE, 1)
                .with(tag::TRANSACT_TIME, fixed_time())
                .with(tag::ORDER_QTY, 5)
                .with(tag::ORD_TYPE, 2)
                .with(tag::PRICE, "8.125")
                .encode(),
        );
        fuzz_entry(&bytes);
    }

    #[test]
    #[should_panic(expected = "rejected by our own parser")]
    fn an_invalid_outbound_message_is_caught() {
        assert_valid_app(Message::new("8").with(tag::CL_ORD_ID, ""));
    }
}
