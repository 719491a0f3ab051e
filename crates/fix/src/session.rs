//! The FIX session state machine (acceptor side), free of I/O: bytes in, [`Action`]s out.
//! Time is an input (`now_ms`, monotonic milliseconds) so every rule is unit-tested.
//!
//! Rules (FIX 4.4 session protocol):
//! - Logon first; credentials checked (Username 553 if configured, Password 554 against the
//!   SHA-256 in the config); HeartBtInt within the configured bounds; ResetSeqNumFlag (141)
//!   resets both directions to 1 and forgets the stored messages.
//! - MsgSeqNum too high → ResendRequest (from the expected number to infinity); messages past
//!   the gap are dropped until it is filled (the client sends them again, PossDupFlag=Y).
//! - MsgSeqNum too low: with PossDupFlag=Y ignored; without → Logout and disconnect.
//! - ResendRequest → the stored application messages again (PossDupFlag=Y, OrigSendingTime),
//!   administrative ones replaced by SequenceReset-GapFill.
//! - SequenceReset: GapFill moves the expected number forward; Reset mode sets it.
//! - A malformed (but well-framed) message → Reject (35=3) with SessionRejectReason; garbled
//!   frames never reach here (see [`crate::codec`]).
//! - Heartbeat every HeartBtInt of silence; TestRequest after 1.2 × HeartBtInt without input;
//!   disconnect after 2.4 ×.

use crate::codec::{self, reject_reason, tag, Message, SessionReject};
use crate::config::SessionConfig;
use crate::store::{Origin, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Connected, waiting for the client's Logon.
    AwaitingLogon,
    Active,
    /// We sent Logout and wait for the client's.
    LogoutSent,
    Disconnected,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Bytes to write to the connection.
    Send(Vec<u8>),
    /// An application message for the order-entry layer.
    App(Message),
    /// Logon accepted.
    LoggedOn,
    /// Close the connection (after sending what precedes).
    Disconnect(String),
}

/// UTCTimestamp with milliseconds, as FIX writes it.
pub fn utc_now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

pub struct Session<S: Store> {
    pub cfg: SessionConfig,
    pub store: S,
    pub state: State,
    heartbeat_ms: u64,
    last_recv_ms: u64,
    last_sent_ms: u64,
    test_request: Option<String>,
    /// While a gap is being filled: the highest number seen past it.
    resend_until: Option<u64>,
    /// Clock for SendingTime (replaceable in tests).
    pub clock: fn() -> String,
}

fn is_admin(msg_type: &str) -> bool {
    matches!(msg_type, "0" | "1" | "2" | "3" | "4" | "5" | "A")
}

impl<S: Store> Session<S> {
    pub fn new(cfg: SessionConfig, store: S) -> Session<S> {
        Session {
            cfg,
            store,
            state: State::Disconnected,
            heartbeat_ms: 30_000,
            last_recv_ms: 0,
            last_sent_ms: 0,
            test_request: None,
            resend_until: None,
            clock: utc_now,
        }
    }

    /// A new connection claims this session.
    pub fn connect(&mut self, now_ms: u64) {
        self.state = State::AwaitingLogon;
        self.last_recv_ms = now_ms;
        self.last_sent_ms = now_ms;
        self.test_request = None;
        self.resend_until = None;
    }

    pub fn disconnected(&mut self) {
        self.state = State::Disconnected;
    }

    pub fn is_logged_on(&self) -> bool {
        matches!(self.state, State::Active | State::LogoutSent)
    }

    pub fn heartbeat_secs(&self) -> u64 {
        self.heartbeat_ms / 1000
    }

    /// Stamps the header (CompIDs, MsgSeqNum, SendingTime), records the message and returns
    /// its bytes. A message sent while no connection is logged on is still numbered and
    /// stored: the client gets it by ResendRequest after its next Logon.
    pub fn send(&mut self, msg: Message, now_ms: u64) -> Vec<u8> {
        self.send_from(msg, now_ms, None)
    }

    /// [`Session::send`] for a report produced from a journaled command: the store keeps
    /// `origin` with it, so the same report regenerated after a restart is recognised.
    pub fn send_report(&mut self, msg: Message, now_ms: u64, origin: Origin) -> Vec<u8> {
        self.send_from(msg, now_ms, Some(origin))
    }

    fn send_from(&mut self, msg: Message, now_ms: u64, origin: Option<Origin>) -> Vec<u8> {
        let seq = self.store.next_out();
        let mt = msg.msg_type().to_string();
        let mut out = Message::new(&mt)
            .with(tag::SENDER_COMP_ID, &self.cfg.target_comp_id)
            .with(tag::TARGET_COMP_ID, &self.cfg.sender_comp_id)
            .with(tag::MSG_SEQ_NUM, seq)
            .with(tag::SENDING_TIME, (self.clock)());
        out.fields
            .extend(msg.fields.into_iter().filter(|(t, _)| *t != tag::MSG_TYPE));
        let raw = out.encode();
        let recorded = match origin {
            Some(o) => self.store.record_report(seq, &raw, o),
            None => self.store.record_out(seq, is_admin(&mt), &raw),
        };
        if let Err(e) = recorded {
            tracing::error!(session = %self.cfg.key(), "{e}");
        }
        self.last_sent_ms = now_ms;
        raw
    }

    fn logout(&mut self, text: &str, now_ms: u64, out: &mut Vec<Action>) {
        let m = Message::new("5").with(tag::TEXT, text);
        out.push(Action::Send(self.send(m, now_ms)));
        out.push(Action::Disconnect(text.to_string()));
        self.state = State::Disconnected;
    }

    fn reject(&mut self, seq: u64, msg_type: &str, r: &SessionReject, now_ms: u64) -> Action {
        let mut m = Message::new("3").with(tag::REF_SEQ_NUM, seq);
        if let Some(t) = r.ref_tag {
            m.push(tag::REF_TAG_ID, t);
        }
        if !msg_type.is_empty() && crate::dict::MSG_TYPES.binary_search(&msg_type).is_ok() {
            m.push(tag::REF_MSG_TYPE, msg_type);
        }
        m.push(tag::SESSION_REJECT_REASON, r.reason);
        m.push(tag::TEXT, &r.text);
        Action::Send(self.send(m, now_ms))
    }

    fn set_next_in(&mut self, seq: u64) {
        if let Err(e) = self.store.set_next_in(seq) {
            tracing::error!(session = %self.cfg.key(), "{e}");
        }
        if self.resend_until.is_some_and(|u| seq > u) {
            self.resend_until = None;
        }
    }

    /// Handles one well-framed inbound message.
    pub fn on_message(&mut self, raw: &[u8], now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        self.last_recv_ms = now_ms;
        self.test_request = None;
        let parsed = codec::parse(raw);
        let m = parsed.message;
        let mt = m.msg_type().to_string();
        let Some(seq) = m.get_u64(tag::MSG_SEQ_NUM).filter(|&s| s > 0) else {
            if self.state == State::AwaitingLogon {
                out.push(Action::Disconnect("first message without MsgSeqNum".into()));
                self.state = State::Disconnected;
            } else {
                self.logout("MsgSeqNum (34) missing or invalid", now_ms, &mut out);
            }
            return out;
        };
        if self.state == State::AwaitingLogon {
            self.on_logon(&m, seq, parsed.reject.as_ref(), now_ms, &mut out);
            return out;
        }
        if m.get(tag::SENDER_COMP_ID) != Some(&self.cfg.sender_comp_id)
            || m.get(tag::TARGET_COMP_ID) != Some(&self.cfg.target_comp_id)
        {
            let r = SessionReject {
                reason: reject_reason::COMPID_PROBLEM,
                ref_tag: Some(tag::SENDER_COMP_ID),
                text: "CompID problem".into(),
            };
            out.push(self.reject(seq, &mt, &r, now_ms));
            self.logout("CompID problem", now_ms, &mut out);
            return out;
        }
        let expected = self.store.next_in();
        let poss_dup = m.get(tag::POSS_DUP_FLAG) == Some("Y");
        // SequenceReset in Reset mode ignores MsgSeqNum.
        if mt == "4" && m.get(tag::GAP_FILL_FLAG) != Some("Y") && parsed.reject.is_none() {
            let new = m.get_u64(tag::NEW_SEQ_NO).unwrap_or(0);
            if new < expected {
                let r = SessionReject {
                    reason: reject_reason::VALUE_INCORRECT,
                    ref_tag: Some(tag::NEW_SEQ_NO),
                    text: format!("NewSeqNo {new} is below the expected {expected}"),
                };
                out.push(self.reject(seq, &mt, &r, now_ms));
            } else {
                self.set_next_in(new);
            }
            return out;
        }
        if seq < expected {
            if poss_dup {
                tracing::debug!(session = %self.cfg.key(), seq, "possible duplicate ignored");
            } else {
                self.logout(
                    &format!("MsgSeqNum too low, expecting {expected} but received {seq}"),
                    now_ms,
                    &mut out,
                );
            }
            return out;
        }
        if seq > expected {
            // Answer a ResendRequest and a Logout at once; everything else waits for the gap.
            if parsed.reject.is_none() {
                match mt.as_str() {
                    "2" => self.on_resend_request(&m, now_ms, &mut out),
                    "5" => {
                        self.on_logout(now_ms, &mut out);
                        return out;
                    }
                    _ => {}
                }
            }
            if self.resend_until.is_none() {
                let rr = Message::new("2")
                    .with(tag::BEGIN_SEQ_NO, expected)
                    .with(tag::END_SEQ_NO, 0);
                out.push(Action::Send(self.send(rr, now_ms)));
            }
            self.resend_until = Some(self.resend_until.unwrap_or(0).max(seq));
            return out;
        }
        // seq == expected
        if let Some(r) = parsed.reject {
            self.set_next_in(seq + 1);
            out.push(self.reject(seq, &mt, &r, now_ms));
            return out;
        }
        match mt.as_str() {
            "4" => {
                // GapFill
                let new = m.get_u64(tag::NEW_SEQ_NO).unwrap_or(0);
                if new <= seq {
                    self.set_next_in(seq + 1);
                    let r = SessionReject {
                        reason: reject_reason::VALUE_INCORRECT,
                        ref_tag: Some(tag::NEW_SEQ_NO),
                        text: format!("NewSeqNo {new} must be above MsgSeqNum {seq}"),
                    };
                    out.push(self.reject(seq, &mt, &r, now_ms));
                } else {
                    self.set_next_in(new);
                }
                return out;
            }
            _ => self.set_next_in(seq + 1),
        }
        match mt.as_str() {
            "0" => {}
            "1" => {
                let id = m.get(tag::TEST_REQ_ID).unwrap_or("").to_string();
                let hb = Message::new("0").with(tag::TEST_REQ_ID, id);
                out.push(Action::Send(self.send(hb, now_ms)));
            }
            "2" => self.on_resend_request(&m, now_ms, &mut out),
            "3" => {
                tracing::warn!(session = %self.cfg.key(), text = m.get(tag::TEXT).unwrap_or(""), "the client rejected a message");
            }
            "5" => self.on_logout(now_ms, &mut out),
            "A" => self.logout("Logon received while logged on", now_ms, &mut out),
            _ => out.push(Action::App(m)),
        }
        out
    }

    fn on_logout(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        if self.state == State::LogoutSent {
            out.push(Action::Disconnect("logout confirmed".into()));
            self.state = State::Disconnected;
        } else {
            self.logout("logout confirmed", now_ms, out);
        }
    }

    fn on_logon(
        &mut self,
        m: &Message,
        seq: u64,
        reject: Option<&SessionReject>,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        if m.msg_type() != "A" {
            out.push(Action::Disconnect("first message is not a Logon".into()));
            self.state = State::Disconnected;
            return;
        }
        if let Some(r) = reject {
            let text = format!("Logon rejected: {}", r.text);
            self.logout(&text, now_ms, out);
            return;
        }
        if !self
            .cfg
            .credentials_ok(m.get(tag::USERNAME), m.get(tag::PASSWORD))
        {
            self.logout("Logon rejected: invalid username or password", now_ms, out);
            return;
        }
        let hb = m.get_u64(tag::HEART_BT_INT).unwrap_or(0);
        if hb < self.cfg.heartbeat_secs_min || hb > self.cfg.heartbeat_secs_max {
            let text = format!(
                "Logon rejected: HeartBtInt must be {} to {}",
                self.cfg.heartbeat_secs_min, self.cfg.heartbeat_secs_max
            );
            self.logout(&text, now_ms, out);
            return;
        }
        if m.get(tag::ENCRYPT_METHOD) != Some("0") {
            self.logout("Logon rejected: EncryptMethod must be 0", now_ms, out);
            return;
        }
        let reset = m.get(tag::RESET_SEQ_NUM_FLAG) == Some("Y");
        if reset {
            if let Err(e) = self.store.reset() {
                tracing::error!(session = %self.cfg.key(), "{e}");
            }
        }
        let expected = self.store.next_in();
        if seq < expected {
            let text = format!("MsgSeqNum too low, expecting {expected} but received {seq}");
            self.logout(&text, now_ms, out);
            return;
        }
        self.heartbeat_ms = hb * 1000;
        self.state = State::Active;
        let mut ack = Message::new("A")
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, hb);
        if reset {
            ack.push(tag::RESET_SEQ_NUM_FLAG, "Y");
        }
        out.push(Action::Send(self.send(ack, now_ms)));
        out.push(Action::LoggedOn);
        if seq > expected {
            let rr = Message::new("2")
                .with(tag::BEGIN_SEQ_NO, expected)
                .with(tag::END_SEQ_NO, 0);
            out.push(Action::Send(self.send(rr, now_ms)));
            self.resend_until = Some(seq);
        } else {
            self.set_next_in(seq + 1);
        }
    }

    fn gap_fill(&mut self, from: u64, to_next: u64) -> Action {
        let m = Message::new("4")
            .with(tag::SENDER_COMP_ID, &self.cfg.target_comp_id)
            .with(tag::TARGET_COMP_ID, &self.cfg.sender_comp_id)
            .with(tag::MSG_SEQ_NUM, from)
            .with(tag::POSS_DUP_FLAG, "Y")
            .with(tag::SENDING_TIME, (self.clock)())
            .with(tag::GAP_FILL_FLAG, "Y")
            .with(tag::NEW_SEQ_NO, to_next);
        Action::Send(m.encode())
    }

    fn on_resend_request(&mut self, m: &Message, now_ms: u64, out: &mut Vec<Action>) {
        let begin = m.get_u64(tag::BEGIN_SEQ_NO).unwrap_or(1).max(1);
        let last = self.store.next_out().saturating_sub(1);
        let end = match m.get_u64(tag::END_SEQ_NO).unwrap_or(0) {
            0 => last,
            e => e.min(last),
        };
        if begin > end {
            return;
        }
        let stored = match self.store.sent(begin, end) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(session = %self.cfg.key(), "{e}");
                Vec::new()
            }
        };
        let mut gap_from: Option<u64> = None;
        let mut next = begin;
        for (seq, admin, raw) in stored {
            if seq > next {
                gap_from.get_or_insert(next);
            }
            if admin {
                gap_from.get_or_insert(seq);
            } else {
                if let Some(g) = gap_from.take() {
                    out.push(self.gap_fill(g, seq));
                }
                out.push(Action::Send(self.resend_copy(&raw)));
            }
            next = seq + 1;
        }
        if next <= end {
            gap_from.get_or_insert(next);
        }
        if let Some(g) = gap_from {
            out.push(self.gap_fill(g, end + 1));
        }
        self.last_sent_ms = now_ms;
    }

    /// A stored message again: PossDupFlag=Y, OrigSendingTime = its SendingTime, a new
    /// SendingTime, the same MsgSeqNum.
    fn resend_copy(&self, raw: &[u8]) -> Vec<u8> {
        let old = codec::parse(raw).message;
        let mut header = Message::new(old.msg_type());
        let mut body = Vec::new();
        for (t, v) in &old.fields {
            match *t {
                tag::BEGIN_STRING
                | tag::BODY_LENGTH
                | tag::CHECK_SUM
                | tag::MSG_TYPE
                | tag::POSS_DUP_FLAG
                | tag::ORIG_SENDING_TIME => {}
                tag::SENDING_TIME => {
                    header.push(tag::POSS_DUP_FLAG, "Y");
                    header.push(tag::SENDING_TIME, (self.clock)());
                    header.push(tag::ORIG_SENDING_TIME, v);
                }
                t if crate::dict::HEADER_TAGS.binary_search(&t).is_ok() => {
                    header.push(t, v);
                }
                t => body.push((t, v.clone())),
            }
        }
        header.fields.extend(body);
        header.encode()
    }

    /// Timers: heartbeats, test requests, the silence limit.
    pub fn on_timer(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.is_logged_on() {
            return out;
        }
        let hb = self.heartbeat_ms.max(1000);
        let silent = now_ms.saturating_sub(self.last_recv_ms);
        if silent >= hb * 24 / 10 && self.test_request.is_some() {
            out.push(Action::Disconnect("no answer to TestRequest".into()));
            self.state = State::Disconnected;
            return out;
        }
        if silent >= hb * 12 / 10 && self.test_request.is_none() {
            let id = format!("TEST-{now_ms}");
            self.test_request = Some(id.clone());
            let m = Message::new("1").with(tag::TEST_REQ_ID, id);
            out.push(Action::Send(self.send(m, now_ms)));
        } else if now_ms.saturating_sub(self.last_sent_ms) >= hb {
            out.push(Action::Send(self.send(Message::new("0"), now_ms)));
        }
        out
    }

    /// Starts a Logout initiated by the exchange (e.g. shutting down).
    pub fn begin_logout(&mut self, text: &str, now_ms: u64) -> Vec<u8> {
        self.state = State::LogoutSent;
        self.send(Message::new("5").with(tag::TEXT, text), now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::password_hash;
    use crate::store::MemStore;

    fn cfg() -> SessionConfig {
        SessionConfig {
            sender_comp_id: "CLIENT".into(),
            target_comp_id: "TOKEX".into(),
            account: 2,
            username: None,
            password_sha256: password_hash("pw"),
            cancel_on_disconnect: false,
            heartbeat_secs_min: 1,
            heartbeat_secs_max: 60,
        }
    }

    fn client(mt: &str, seq: u64) -> Message {
        Message::new(mt)
            .with(tag::SENDER_COMP_ID, "CLIENT")
            .with(tag::TARGET_COMP_ID, "TOKEX")
            .with(tag::MSG_SEQ_NUM, seq)
            .with(tag::SENDING_TIME, "20260101-00:00:00.000")
    }

    fn logon(seq: u64, pw: &str) -> Vec<u8> {
        client("A", seq)
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, 30)
            .with(tag::PASSWORD, pw)
            .encode()
    }

    fn sent(actions: &[Action]) -> Vec<Message> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(raw) => Some(codec::parse(raw).message),
                _ => None,
            })
            .collect()
    }

    fn logged_on() -> Session<MemStore> {
        let mut s = Session::new(cfg(), MemStore::default());
        s.connect(0);
        let a = s.on_message(&logon(1, "pw"), 0);
        assert!(a.contains(&Action::LoggedOn));
        s
    }

    fn order(seq: u64) -> Message {
        order_dup(seq, false)
    }

    fn order_dup(seq: u64, dup: bool) -> Message {
        let mut m = client("D", seq);
        if dup {
            m.fields.insert(4, (tag::POSS_DUP_FLAG, "Y".into()));
            m.push(tag::ORIG_SENDING_TIME, "20260101-00:00:00.000");
        }
        m.with(tag::CL_ORD_ID, format!("o{seq}"))
            .with(tag::SYMBOL, "TKF-2026-12")
            .with(tag::SIDE, 1)
            .with(tag::TRANSACT_TIME, "20260101-00:00:00")
            .with(tag::ORDER_QTY, 1)
            .with(tag::ORD_TYPE, 2)
            .with(tag::PRICE, "8")
    }

    #[test]
    fn logon_with_bad_credentials_is_refused() {
        let mut s = Session::new(cfg(), MemStore::default());
        s.connect(0);
        let a = s.on_message(&logon(1, "wrong"), 0);
        let m = sent(&a);
        assert_eq!(m[0].msg_type(), "5");
        assert!(m[0]
            .get(tag::TEXT)
            .unwrap()
            .contains("invalid username or password"));
        assert!(matches!(a.last(), Some(Action::Disconnect(_))));
        assert_eq!(s.state, State::Disconnected);
        assert_eq!(
            s.store.next_in(),
            1,
            "a refused logon consumes no inbound number"
        );
    }

    #[test]
    fn logon_and_heartbeat_bounds() {
        let mut s = Session::new(cfg(), MemStore::default());
        s.connect(0);
        let raw = client("A", 1)
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, 600)
            .with(tag::PASSWORD, "pw")
            .encode();
        let m = sent(&s.on_message(&raw, 0));
        assert!(m[0].get(tag::TEXT).unwrap().contains("HeartBtInt"));
        let mut s = logged_on();
        assert_eq!(s.state, State::Active);
        assert_eq!(s.store.next_in(), 2);
        assert_eq!(s.store.next_out(), 2);
        // Application messages reach the application.
        let a = s.on_message(&order(2).encode(), 1);
        assert!(matches!(&a[0], Action::App(m) if m.msg_type() == "D"));
    }

    #[test]
    fn gap_triggers_resend_request_and_is_filled() {
        let mut s = logged_on();
        let a = s.on_message(&order(5).encode(), 1);
        let m = sent(&a);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].msg_type(), "2");
        assert_eq!(m[0].get(tag::BEGIN_SEQ_NO), Some("2"));
        assert_eq!(m[0].get(tag::END_SEQ_NO), Some("0"));
        assert!(
            !a.iter().any(|x| matches!(x, Action::App(_))),
            "past the gap: held back"
        );
        // A second message past the gap does not ask again.
        assert!(sent(&s.on_message(&order(6).encode(), 1)).is_empty());
        // The client resends: 2..3 as a gap fill, 4..6 again with PossDupFlag.
        let mut gf = client("4", 2);
        gf.fields.insert(4, (tag::POSS_DUP_FLAG, "Y".into()));
        let gf = gf.with(tag::GAP_FILL_FLAG, "Y").with(tag::NEW_SEQ_NO, 4);
        assert!(s.on_message(&gf.encode(), 2).is_empty());
        for seq in 4..=6 {
            let a = s.on_message(&order_dup(seq, true).encode(), 2);
            assert!(matches!(&a[0], Action::App(_)), "seq {seq}");
        }
        assert_eq!(s.store.next_in(), 7);
        assert_eq!(s.resend_until, None);
    }

    #[test]
    fn duplicate_with_possdup_is_ignored_without_it_logs_out() {
        let mut s = logged_on();
        s.on_message(&order(2).encode(), 1);
        let a = s.on_message(&order_dup(2, true).encode(), 1);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(s.store.next_in(), 3);
        let a = s.on_message(&order(2).encode(), 1);
        let m = sent(&a);
        assert_eq!(m[0].msg_type(), "5");
        assert!(m[0].get(tag::TEXT).unwrap().contains("too low"));
        assert!(matches!(a.last(), Some(Action::Disconnect(_))));
    }

    #[test]
    fn resend_request_replays_app_messages_and_gap_fills_admin() {
        let mut s = logged_on(); // out: 1 = Logon
        s.send(Message::new("8").with(tag::ORDER_ID, "1"), 0); // 2
        s.send(Message::new("0"), 0); // 3
        s.send(Message::new("0"), 0); // 4
        s.send(Message::new("8").with(tag::ORDER_ID, "2"), 0); // 5
        s.send(Message::new("0"), 0); // 6
        let rr = client("2", 2)
            .with(tag::BEGIN_SEQ_NO, 1)
            .with(tag::END_SEQ_NO, 0);
        let m = sent(&s.on_message(&rr.encode(), 1));
        let summary: Vec<_> = m
            .iter()
            .map(|m| {
                (
                    m.msg_type().to_string(),
                    m.get_u64(tag::MSG_SEQ_NUM).unwrap(),
                    m.get_u64(tag::NEW_SEQ_NO),
                    m.get(tag::POSS_DUP_FLAG) == Some("Y"),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("4".into(), 1, Some(2), true),
                ("8".into(), 2, None, true),
                ("4".into(), 3, Some(5), true),
                ("8".into(), 5, None, true),
                ("4".into(), 6, Some(7), true),
            ]
        );
        assert!(m[1].has(tag::ORIG_SENDING_TIME));
        assert_eq!(s.store.next_out(), 7, "a resend takes no new numbers");
        // Every resent message is well formed.
        for raw in s.on_message(&client("2", 3).with(7, 2).with(16, 2).encode(), 1) {
            if let Action::Send(raw) = raw {
                assert_eq!(codec::parse(&raw).reject, None);
            }
        }
    }

    #[test]
    fn malformed_messages_get_reject_and_consume_the_number() {
        let mut s = logged_on();
        let mut bad = order(2);
        bad.remove(tag::SIDE);
        let m = sent(&s.on_message(&bad.encode(), 1));
        assert_eq!(m[0].msg_type(), "3");
        assert_eq!(m[0].get(tag::REF_SEQ_NUM), Some("2"));
        assert_eq!(m[0].get(tag::REF_TAG_ID), Some("54"));
        assert_eq!(m[0].get(tag::SESSION_REJECT_REASON), Some("1"));
        assert_eq!(s.store.next_in(), 3);
        let m = sent(&s.on_message(&client("ZZ", 3).encode(), 1));
        assert_eq!(m[0].get(tag::SESSION_REJECT_REASON), Some("11"));
        assert_eq!(s.state, State::Active);
    }

    #[test]
    fn test_request_heartbeat_and_timeouts() {
        let mut s = logged_on();
        let tr = client("1", 2).with(tag::TEST_REQ_ID, "abc");
        let m = sent(&s.on_message(&tr.encode(), 0));
        assert_eq!(m[0].msg_type(), "0");
        assert_eq!(m[0].get(tag::TEST_REQ_ID), Some("abc"));
        let m = sent(&s.on_timer(30_000));
        assert_eq!(
            m[0].msg_type(),
            "0",
            "heartbeat after HeartBtInt of our silence"
        );
        let m = sent(&s.on_timer(36_000));
        assert_eq!(
            m[0].msg_type(),
            "1",
            "test request after 1.2 × HeartBtInt of theirs"
        );
        let a = s.on_timer(72_000);
        assert!(matches!(a.last(), Some(Action::Disconnect(_))));
    }

    #[test]
    fn reset_seq_num_flag_resets_both_ways() {
        let mut s = logged_on();
        s.on_message(&order(2).encode(), 1);
        s.send(Message::new("8"), 1);
        s.connect(2);
        let raw = client("A", 1)
            .with(tag::ENCRYPT_METHOD, 0)
            .with(tag::HEART_BT_INT, 30)
            .with(tag::RESET_SEQ_NUM_FLAG, "Y")
            .with(tag::PASSWORD, "pw")
            .encode();
        let m = sent(&s.on_message(&raw, 2));
        assert_eq!(m[0].get(tag::RESET_SEQ_NUM_FLAG), Some("Y"));
        assert_eq!(m[0].get(tag::MSG_SEQ_NUM), Some("1"));
        assert_eq!(s.store.next_in(), 2);
    }

    #[test]
    fn logon_with_higher_seq_asks_for_resend() {
        let mut s = Session::new(cfg(), MemStore::default());
        s.connect(0);
        let m = sent(&s.on_message(&logon(4, "pw"), 0));
        assert_eq!(m[0].msg_type(), "A");
        assert_eq!(m[1].msg_type(), "2");
        assert_eq!(m[1].get(tag::BEGIN_SEQ_NO), Some("1"));
    }
}
