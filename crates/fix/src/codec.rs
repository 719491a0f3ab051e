//! FIX tag=value framing: encoding with BodyLength and CheckSum, and a framer that cuts a byte
//! stream into messages, discarding garbled ones (bad BeginString, BodyLength or CheckSum) as
//! the FIX standard says: a garbled message is ignored, its sequence number is not consumed,
//! and the gap it leaves is repaired by a later ResendRequest.
//!
//! [`validate`] then checks a well-framed message against the dictionary and answers with the
//! SessionRejectReason (373) the standard asks for.

use crate::dict;

pub const SOH: u8 = 0x01;
pub const BEGIN_STRING: &str = "FIX.4.4";
/// Largest message accepted, in bytes; a BodyLength above it is garbled.
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// Most fields one message may carry.
pub const FIELDS_PER_MESSAGE_MAX: usize = 1_000;

/// Tag numbers the gateway reads or writes.
pub mod tag {
    pub const ACCOUNT: u32 = 1;
    pub const AVG_PX: u32 = 6;
    pub const BEGIN_SEQ_NO: u32 = 7;
    pub const BEGIN_STRING: u32 = 8;
    pub const BODY_LENGTH: u32 = 9;
    pub const CHECK_SUM: u32 = 10;
    pub const CL_ORD_ID: u32 = 11;
    pub const CUM_QTY: u32 = 14;
    pub const CURRENCY: u32 = 15;
    pub const END_SEQ_NO: u32 = 16;
    pub const EXEC_ID: u32 = 17;
    pub const EXEC_INST: u32 = 18;
    pub const SECURITY_ID_SOURCE: u32 = 22;
    pub const LAST_PX: u32 = 31;
    pub const LAST_QTY: u32 = 32;
    pub const MSG_SEQ_NUM: u32 = 34;
    pub const MSG_TYPE: u32 = 35;
    pub const NEW_SEQ_NO: u32 = 36;
    pub const ORDER_ID: u32 = 37;
    pub const ORDER_QTY: u32 = 38;
    pub const ORD_STATUS: u32 = 39;
    pub const ORD_TYPE: u32 = 40;
    pub const ORIG_CL_ORD_ID: u32 = 41;
    pub const POSS_DUP_FLAG: u32 = 43;
    pub const PRICE: u32 = 44;
    pub const REF_SEQ_NUM: u32 = 45;
    pub const SECURITY_ID: u32 = 48;
    pub const SENDER_COMP_ID: u32 = 49;
    pub const SENDING_TIME: u32 = 52;
    pub const SIDE: u32 = 54;
    pub const SYMBOL: u32 = 55;
    pub const TARGET_COMP_ID: u32 = 56;
    pub const TEXT: u32 = 58;
    pub const TIME_IN_FORCE: u32 = 59;
    pub const TRANSACT_TIME: u32 = 60;
    pub const EXPIRE_DATE: u32 = 432;
    pub const EXPIRE_TIME: u32 = 126;
    pub const POSS_RESEND: u32 = 97;
    pub const ENCRYPT_METHOD: u32 = 98;
    pub const STOP_PX: u32 = 99;
    pub const CXL_REJ_REASON: u32 = 102;
    pub const ORD_REJ_REASON: u32 = 103;
    pub const HEART_BT_INT: u32 = 108;
    pub const MIN_QTY: u32 = 110;
    pub const MAX_FLOOR: u32 = 111;
    pub const TEST_REQ_ID: u32 = 112;
    pub const ORIG_SENDING_TIME: u32 = 122;
    pub const GAP_FILL_FLAG: u32 = 123;
    pub const RESET_SEQ_NUM_FLAG: u32 = 141;
    pub const NO_RELATED_SYM: u32 = 146;
    pub const EXEC_TYPE: u32 = 150;
    pub const LEAVES_QTY: u32 = 151;
    pub const SECURITY_TYPE: u32 = 167;
    pub const MATURITY_MONTH_YEAR: u32 = 200;
    pub const CONTRACT_MULTIPLIER: u32 = 231;
    pub const SECURITY_REQ_ID: u32 = 320;
    pub const SECURITY_RESPONSE_ID: u32 = 322;
    pub const REF_TAG_ID: u32 = 371;
    pub const REF_MSG_TYPE: u32 = 372;
    pub const SESSION_REJECT_REASON: u32 = 373;
    pub const BUSINESS_REJECT_REF_ID: u32 = 379;
    pub const BUSINESS_REJECT_REASON: u32 = 380;
    pub const TOT_NO_RELATED_SYM: u32 = 393;
    pub const CXL_REJ_RESPONSE_TO: u32 = 434;
    pub const PRODUCT: u32 = 460;
    pub const CFI_CODE: u32 = 461;
    pub const MATURITY_DATE: u32 = 541;
    pub const MASS_CANCEL_REQUEST_TYPE: u32 = 530;
    pub const MASS_CANCEL_RESPONSE: u32 = 531;
    pub const MASS_CANCEL_REJECT_REASON: u32 = 532;
    pub const TOTAL_AFFECTED_ORDERS: u32 = 533;
    pub const USERNAME: u32 = 553;
    pub const PASSWORD: u32 = 554;
    pub const SECURITY_LIST_REQUEST_TYPE: u32 = 559;
    pub const SECURITY_REQUEST_RESULT: u32 = 560;
    pub const SECURITY_DESC: u32 = 107;
    pub const LAST_FRAGMENT: u32 = 893;
    pub const UNDERLYING_SYMBOL: u32 = 311;
    pub const NO_UNDERLYINGS: u32 = 711;
}

/// A FIX message: its fields in wire order (header, body, trailer).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    pub fields: Vec<(u32, String)>,
}

impl Message {
    /// A message of `msg_type` with no other field yet (the header is added when sent).
    pub fn new(msg_type: &str) -> Message {
        Message {
            fields: vec![(tag::MSG_TYPE, msg_type.to_string())],
        }
    }

    pub fn msg_type(&self) -> &str {
        self.get(tag::MSG_TYPE).unwrap_or("")
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_u64(&self, tag: u32) -> Option<u64> {
        self.get(tag).and_then(|v| v.parse().ok())
    }

    pub fn has(&self, tag: u32) -> bool {
        self.fields.iter().any(|(t, _)| *t == tag)
    }

    pub fn push(&mut self, tag: u32, value: impl ToString) -> &mut Message {
        self.fields.push((tag, value.to_string()));
        self
    }

    /// Builder form of [`Message::push`].
    pub fn with(mut self, tag: u32, value: impl ToString) -> Message {
        self.push(tag, value);
        self
    }

    /// Replaces the first value of `tag`, or appends it.
    pub fn set(&mut self, tag: u32, value: impl ToString) {
        match self.fields.iter_mut().find(|(t, _)| *t == tag) {
            Some(f) => f.1 = value.to_string(),
            None => self.fields.push((tag, value.to_string())),
        }
    }

    pub fn remove(&mut self, tag: u32) {
        self.fields.retain(|(t, _)| *t != tag);
    }

    /// Encodes the message: BeginString, BodyLength, MsgType first, then the other fields in
    /// order (8, 9 and 10 in `fields` are ignored), then CheckSum.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(256);
        let put = |t: u32, v: &str, out: &mut Vec<u8>| {
            out.extend_from_slice(t.to_string().as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(SOH);
        };
        put(tag::MSG_TYPE, self.msg_type(), &mut body);
        for (t, v) in &self.fields {
            if !matches!(
                *t,
                tag::BEGIN_STRING | tag::BODY_LENGTH | tag::CHECK_SUM | tag::MSG_TYPE
            ) {
                put(*t, v, &mut body);
            }
        }
        let mut out = Vec::with_capacity(body.len() + 32);
        put(tag::BEGIN_STRING, BEGIN_STRING, &mut out);
        put(tag::BODY_LENGTH, &body.len().to_string(), &mut out);
        out.extend_from_slice(&body);
        let sum = checksum(&out);
        put(tag::CHECK_SUM, &format!("{sum:03}"), &mut out);
        out
    }
}

/// Sum of the bytes modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

/// Renders a message with `|` for SOH, for logs and tests.
pub fn printable(raw: &[u8]) -> String {
    raw.iter()
        .map(|&b| if b == SOH { '|' } else { b as char })
        .collect()
}

/// Why a chunk of input was discarded without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Garbled {
    /// Bytes before a `8=FIX` start.
    Junk(usize),
    BadBeginString,
    BadBodyLength,
    BadCheckSum {
        declared: String,
        computed: u8,
    },
}

impl std::fmt::Display for Garbled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Garbled::Junk(n) => write!(f, "{n} bytes outside any message"),
            Garbled::BadBeginString => f.write_str("BeginString (8) is not FIX.4.4 or not first"),
            Garbled::BadBodyLength => f.write_str("BodyLength (9) missing, malformed or wrong"),
            Garbled::BadCheckSum { declared, computed } => {
                write!(f, "CheckSum (10) is {declared}, computed {computed:03}")
            }
        }
    }
}

/// What the framer found at the front of its buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A well-framed message (raw bytes, including header and trailer).
    Message(Vec<u8>),
    /// Discarded input.
    Garbled(Garbled),
}

/// Cuts a byte stream into messages.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
}

const START: &[u8] = b"8=FIX";

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops `n` bytes from the front.
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
    }

    /// Skips to the next message start after position 0 (or keeps a possible partial start).
    fn resync(&mut self) {
        match find(&self.buf, START, 1) {
            Some(p) => self.consume(p),
            None => {
                // Keep a tail that could be the beginning of "8=FIX".
                let keep = (1..START.len())
                    .rev()
                    .find(|&k| k <= self.buf.len() && self.buf.ends_with(&START[..k]))
                    .unwrap_or(0);
                let n = self.buf.len() - keep;
                self.consume(n);
            }
        }
    }

    /// The next frame, or `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.buf.is_empty() {
            return None;
        }
        if !self.buf.starts_with(START) {
            if START.starts_with(&self.buf[..self.buf.len().min(START.len())])
                && self.buf.len() < START.len()
            {
                return None;
            }
            let before = self.buf.len();
            self.resync();
            return Some(Frame::Garbled(Garbled::Junk(before - self.buf.len())));
        }
        // 8=FIX.4.4<SOH>
        let Some(soh1) = self.buf.iter().position(|&b| b == SOH) else {
            if self.buf.len() > 32 {
                self.resync();
                return Some(Frame::Garbled(Garbled::BadBeginString));
            }
            return None;
        };
        if &self.buf[2..soh1] != BEGIN_STRING.as_bytes() {
            self.resync();
            return Some(Frame::Garbled(Garbled::BadBeginString));
        }
        // 9=<len><SOH>
        let rest = &self.buf[soh1 + 1..];
        let Some(soh2) = rest.iter().position(|&b| b == SOH) else {
            if rest.len() > 12 {
                self.resync();
                return Some(Frame::Garbled(Garbled::BadBodyLength));
            }
            return None;
        };
        let len_field = &rest[..soh2];
        let len = len_field
            .strip_prefix(b"9=")
            .filter(|d| !d.is_empty() && d.len() <= 6 && d.iter().all(u8::is_ascii_digit))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok())
            .filter(|&n| n <= MESSAGE_BYTES_MAX);
        let Some(len) = len else {
            self.resync();
            return Some(Frame::Garbled(Garbled::BadBodyLength));
        };
        let body_start = soh1 + 1 + soh2 + 1;
        let body_end = body_start + len;
        let trailer_end = body_end + 7; // "10=NNN<SOH>"
                                        // A complete trailer found before the declared end proves the length wrong.
        let early = find(&self.buf, b"\x0110=", body_start.saturating_sub(1))
            .filter(|&p| p + 1 < body_end && p + 8 <= self.buf.len() && self.buf[p + 7] == SOH);
        if let Some(p) = early {
            self.consume(p + 8);
            return Some(Frame::Garbled(Garbled::BadBodyLength));
        }
        if self.buf.len() < trailer_end {
            return None;
        }
        let trailer = &self.buf[body_end..trailer_end];
        let ok_shape = self.buf[body_end - 1] == SOH
            && trailer.starts_with(b"10=")
            && trailer[3..6].iter().all(u8::is_ascii_digit)
            && trailer[6] == SOH;
        if !ok_shape {
            // The length is wrong: drop through the next trailer if there is one.
            match find(&self.buf, b"\x0110=", body_start.saturating_sub(1)) {
                Some(p) if p + 8 <= self.buf.len() => self.consume(p + 8),
                _ => self.resync(),
            }
            return Some(Frame::Garbled(Garbled::BadBodyLength));
        }
        let declared = std::str::from_utf8(&trailer[3..6])
            .unwrap_or("")
            .to_string();
        let computed = checksum(&self.buf[..body_end]);
        if declared.parse::<u16>().ok() != Some(computed as u16) {
            self.consume(trailer_end);
            return Some(Frame::Garbled(Garbled::BadCheckSum { declared, computed }));
        }
        let raw: Vec<u8> = self.buf[..trailer_end].to_vec();
        self.consume(trailer_end);
        Some(Frame::Message(raw))
    }
}

/// A session-level rejection of a well-framed message (answered with Reject, 35=3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionReject {
    /// SessionRejectReason (373).
    pub reason: u32,
    /// RefTagID (371), when one tag is at fault.
    pub ref_tag: Option<u32>,
    pub text: String,
}

pub mod reject_reason {
    pub const INVALID_TAG_NUMBER: u32 = 0;
    pub const REQUIRED_TAG_MISSING: u32 = 1;
    pub const TAG_NOT_DEFINED_FOR_MSG_TYPE: u32 = 2;
    pub const TAG_WITHOUT_VALUE: u32 = 4;
    pub const VALUE_INCORRECT: u32 = 5;
    pub const INCORRECT_DATA_FORMAT: u32 = 6;
    pub const COMPID_PROBLEM: u32 = 9;
    pub const SENDING_TIME_ACCURACY: u32 = 10;
    pub const INVALID_MSG_TYPE: u32 = 11;
    pub const TAG_APPEARS_MORE_THAN_ONCE: u32 = 13;
    pub const TAG_OUT_OF_ORDER: u32 = 14;
    pub const OTHER: u32 = 99;
}

fn sr(reason: u32, ref_tag: Option<u32>, text: impl Into<String>) -> SessionReject {
    SessionReject {
        reason,
        ref_tag,
        text: text.into(),
    }
}

/// A parsed message, or the reason it must be rejected. The MsgSeqNum (when readable) and
/// MsgType are returned with a rejection so the session can consume the number and refer to
/// the message.
#[derive(Debug)]
pub struct Parsed {
    pub message: Message,
    pub reject: Option<SessionReject>,
}

/// Splits a framed message into fields and checks it against the dictionary.
pub fn parse(raw: &[u8]) -> Parsed {
    let mut fields = Vec::new();
    let mut reject = None;
    let body = raw.strip_suffix(&[SOH]).unwrap_or(raw);
    for part in body.split(|&b| b == SOH) {
        if fields.len() >= FIELDS_PER_MESSAGE_MAX {
            reject.get_or_insert(sr(reject_reason::OTHER, None, "too many fields"));
            break;
        }
        let Some(eq) = part.iter().position(|&b| b == b'=') else {
            reject.get_or_insert(sr(
                reject_reason::INVALID_TAG_NUMBER,
                None,
                "field without '='",
            ));
            continue;
        };
        let (t, v) = (&part[..eq], &part[eq + 1..]);
        let tag = std::str::from_utf8(t)
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|&n| n > 0);
        let Some(tag) = tag else {
            reject.get_or_insert(sr(
                reject_reason::INVALID_TAG_NUMBER,
                None,
                format!("invalid tag number {:?}", String::from_utf8_lossy(t)),
            ));
            continue;
        };
        if v.is_empty() {
            reject.get_or_insert(sr(
                reject_reason::TAG_WITHOUT_VALUE,
                Some(tag),
                format!("tag {tag} has no value"),
            ));
        }
        fields.push((tag, String::from_utf8_lossy(v).into_owned()));
    }
    let message = Message { fields };
    let reject = reject.or_else(|| check(&message).err());
    Parsed { message, reject }
}

fn check(m: &Message) -> Result<(), SessionReject> {
    use reject_reason as r;
    let f = &m.fields;
    if f.len() < 4 || f[2].0 != tag::MSG_TYPE {
        return Err(sr(
            r::TAG_OUT_OF_ORDER,
            Some(tag::MSG_TYPE),
            "MsgType (35) must be the third field",
        ));
    }
    // Duplicates outside repeating groups.
    let groups = dict::group_tags(m.msg_type()).unwrap_or(dict::GROUP_TAGS);
    let mut seen = std::collections::BTreeSet::new();
    for (t, _) in f {
        if !seen.insert(*t) && groups.binary_search(t).is_err() {
            return Err(sr(
                r::TAG_APPEARS_MORE_THAN_ONCE,
                Some(*t),
                format!("tag {t} appears more than once"),
            ));
        }
    }
    // Header fields after the body, body fields in the header.
    let mut in_body = false;
    for (t, _) in &f[..f.len() - 1] {
        let header = dict::HEADER_TAGS.binary_search(t).is_ok();
        if !header {
            in_body = true;
        } else if in_body {
            return Err(sr(
                r::TAG_OUT_OF_ORDER,
                Some(*t),
                format!("header tag {t} after the body"),
            ));
        }
    }
    for (t, v) in f {
        if *t < 5000 && dict::TAGS.binary_search(t).is_err() {
            return Err(sr(
                r::INVALID_TAG_NUMBER,
                Some(*t),
                format!("tag {t} is not defined in FIX 4.4"),
            ));
        }
        if dict::INT_TAGS.binary_search(t).is_ok() && v.parse::<i64>().is_err() {
            return Err(sr(
                r::INCORRECT_DATA_FORMAT,
                Some(*t),
                format!("tag {t} must be an integer, got {v:?}"),
            ));
        }
    }
    let mt = m.msg_type();
    if dict::MSG_TYPES.binary_search(&mt).is_err() {
        return Err(sr(
            r::INVALID_MSG_TYPE,
            Some(tag::MSG_TYPE),
            format!("MsgType {mt:?} is not defined"),
        ));
    }
    for t in [
        tag::SENDER_COMP_ID,
        tag::TARGET_COMP_ID,
        tag::MSG_SEQ_NUM,
        tag::SENDING_TIME,
    ] {
        if !m.has(t) {
            return Err(sr(
                r::REQUIRED_TAG_MISSING,
                Some(t),
                format!("required tag {t} missing"),
            ));
        }
    }
    if let Some(body) = dict::body_tags(mt) {
        for (t, _) in f {
            if *t < 5000
                && dict::HEADER_TAGS.binary_search(t).is_err()
                && body.binary_search(t).is_err()
            {
                return Err(sr(
                    r::TAG_NOT_DEFINED_FOR_MSG_TYPE,
                    Some(*t),
                    format!("tag {t} is not defined for MsgType {mt}"),
                ));
            }
        }
    }
    for t in dict::required(mt) {
        if !m.has(*t) {
            return Err(sr(
                r::REQUIRED_TAG_MISSING,
                Some(*t),
                format!("required tag {t} missing"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Vec<u8> {
        s.replace('|', "\x01").into_bytes()
    }

    fn sample() -> Message {
        Message::new("D")
            .with(tag::SENDER_COMP_ID, "CLIENT")
            .with(tag::TARGET_COMP_ID, "TOKEX")
            .with(tag::MSG_SEQ_NUM, 2)
            .with(tag::SENDING_TIME, "20260101-00:00:00.000")
            .with(tag::CL_ORD_ID, "a1")
            .with(tag::SYMBOL, "TKF-2026-12")
            .with(tag::SIDE, 1)
            .with(tag::TRANSACT_TIME, "20260101-00:00:00.000")
            .with(tag::ORDER_QTY, 5)
            .with(tag::ORD_TYPE, 2)
            .with(tag::PRICE, "8.123")
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let raw = m.encode();
        let mut fr = Framer::new();
        fr.push(&raw);
        let Some(Frame::Message(got)) = fr.next_frame() else {
            panic!("no frame")
        };
        assert_eq!(got, raw);
        let p = parse(&got);
        assert_eq!(p.reject, None);
        let body: Vec<_> = p
            .message
            .fields
            .iter()
            .filter(|(t, _)| ![8, 9, 10].contains(t))
            .cloned()
            .collect();
        assert_eq!(body, m.fields);
        assert_eq!(fr.buffered(), 0);
    }

    #[test]
    fn body_length_and_checksum_are_computed() {
        let raw = Message::new("0")
            .with(49, "A")
            .with(56, "B")
            .with(34, 1)
            .with(52, "20260101-00:00:00")
            .encode();
        let s = printable(&raw);
        // The body is everything after "9=NN|" up to "10=".
        let body_start = s.find("35=").unwrap();
        let body_end = s.find("10=").unwrap();
        assert!(s.starts_with(&format!("8=FIX.4.4|9={}|", body_end - body_start)));
        let sum = checksum(&raw[..body_end]);
        assert!(s.ends_with(&format!("10={sum:03}|")));
        // The classic example: sum of "8=FIX.4.4|9=5|35=0|" bytes.
        let known = wire("8=FIX.4.4|9=5|35=0|");
        assert_eq!(
            checksum(&known) as u32,
            known.iter().map(|&b| b as u32).sum::<u32>() % 256
        );
    }

    #[test]
    fn split_input_waits_for_more() {
        let raw = sample().encode();
        let mut fr = Framer::new();
        for chunk in raw.chunks(7) {
            assert!(fr.buffered() < raw.len());
            if let Some(f) = fr.next_frame() {
                panic!("early frame {f:?}");
            }
            fr.push(chunk);
        }
        assert_eq!(fr.next_frame(), Some(Frame::Message(raw)));
    }

    #[test]
    fn bad_checksum_is_discarded_and_next_message_still_framed() {
        let good = sample().encode();
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 2] = if bad[n - 2] == b'9' { b'0' } else { b'9' };
        let mut fr = Framer::new();
        fr.push(&bad);
        fr.push(&good);
        assert!(matches!(
            fr.next_frame(),
            Some(Frame::Garbled(Garbled::BadCheckSum { .. }))
        ));
        assert_eq!(fr.next_frame(), Some(Frame::Message(good)));
        assert_eq!(fr.next_frame(), None);
    }

    #[test]
    fn wrong_body_length_is_discarded_both_ways() {
        let good = sample().encode();
        let s = String::from_utf8(good.clone()).unwrap();
        let len: usize = s[12..s[12..].find('\x01').unwrap() + 12].parse().unwrap();
        for wrong in [len - 3, len + 3, len + 500] {
            let bad = s.replacen(&format!("9={len}\x01"), &format!("9={wrong}\x01"), 1);
            let mut fr = Framer::new();
            fr.push(bad.as_bytes());
            fr.push(&good);
            assert_eq!(
                fr.next_frame(),
                Some(Frame::Garbled(Garbled::BadBodyLength)),
                "length {wrong}"
            );
            assert_eq!(
                fr.next_frame(),
                Some(Frame::Message(good.clone())),
                "length {wrong}"
            );
        }
        let mut fr = Framer::new();
        fr.push(&wire("8=FIX.4.4|9=x1|35=0|10=000|"));
        fr.push(&good);
        assert_eq!(
            fr.next_frame(),
            Some(Frame::Garbled(Garbled::BadBodyLength))
        );
        assert_eq!(fr.next_frame(), Some(Frame::Message(good)));
    }

    #[test]
    fn junk_and_wrong_begin_string() {
        let good = sample().encode();
        let mut fr = Framer::new();
        fr.push(b"hello\r\n");
        fr.push(&wire("8=FIX.4.2|9=5|35=0|10=000|"));
        fr.push(&good);
        assert_eq!(fr.next_frame(), Some(Frame::Garbled(Garbled::Junk(7))));
        assert_eq!(
            fr.next_frame(),
            Some(Frame::Garbled(Garbled::BadBeginString))
        );
        assert_eq!(fr.next_frame(), Some(Frame::Message(good)));
    }

    fn reject_of(m: &Message) -> Option<(u32, Option<u32>)> {
        parse(&m.encode()).reject.map(|r| (r.reason, r.ref_tag))
    }

    #[test]
    fn validation_answers_with_the_standard_reasons() {
        use reject_reason as r;
        let mut m = sample();
        m.fields.retain(|(t, _)| *t != tag::SIDE);
        assert_eq!(reject_of(&m), Some((r::REQUIRED_TAG_MISSING, Some(54))));
        let m = sample().with(tag::SIDE, 2);
        assert_eq!(
            reject_of(&m),
            Some((r::TAG_APPEARS_MORE_THAN_ONCE, Some(54)))
        );
        let mut m = sample();
        m.fields[0].1 = "ZZ".into();
        assert_eq!(reject_of(&m), Some((r::INVALID_MSG_TYPE, Some(35))));
        let m = sample().with(4999, "x");
        assert_eq!(reject_of(&m), Some((r::INVALID_TAG_NUMBER, Some(4999))));
        let m = sample().with(5001, "custom tags are allowed");
        assert_eq!(reject_of(&m), None);
        let m = sample().with(tag::HEART_BT_INT, 30);
        assert_eq!(
            reject_of(&m),
            Some((r::TAG_NOT_DEFINED_FOR_MSG_TYPE, Some(108)))
        );
        let mut m = sample();
        m.set(tag::MSG_SEQ_NUM, "two");
        assert_eq!(reject_of(&m), Some((r::INCORRECT_DATA_FORMAT, Some(34))));
        let raw = wire("8=FIX.4.4|9=21|35=0|49=A|56=B|x=1|");
        let mut raw2 = raw.clone();
        let sum = checksum(&raw2);
        raw2.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        assert_eq!(parse(&raw2).reject.unwrap().reason, r::INVALID_TAG_NUMBER);
        let raw = wire("8=FIX.4.4|9=22|35=0|49=A|56=B|34=|");
        let mut raw2 = raw.clone();
        let sum = checksum(&raw2);
        raw2.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        assert_eq!(parse(&raw2).reject.unwrap().reason, r::TAG_WITHOUT_VALUE);
    }
}
