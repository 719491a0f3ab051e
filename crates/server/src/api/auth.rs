//! Request signing, verification, replay rejection and per-key rate limits.
//!
//! A signed request carries three headers:
//!
//! | header | value |
//! |---|---|
//! | `X-TOKEX-KEY` | the API key id |
//! | `X-TOKEX-TIMESTAMP` | milliseconds since the Unix epoch |
//! | `X-TOKEX-SIGNATURE` | hex HMAC-SHA256 of `timestamp + METHOD + path?query + body` |
//!
//! and optionally `X-TOKEX-RECV-WINDOW` (milliseconds, default 5,000, at most 60,000). The HMAC
//! key is SHA-256 of the secret (see [`super::keys`]). The signature is compared in constant
//! time; a signature already accepted within its window is refused as a replay.

use super::errors::*;
use super::keys::{KeyRecord, KeyRole};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

pub const HEADER_KEY: &str = "x-tokex-key";
pub const HEADER_TIMESTAMP: &str = "x-tokex-timestamp";
pub const HEADER_SIGNATURE: &str = "x-tokex-signature";
pub const HEADER_RECV_WINDOW: &str = "x-tokex-recv-window";

pub const RECV_WINDOW_DEFAULT_MS: u64 = 5_000;
pub const RECV_WINDOW_MAX_MS: u64 = 60_000;

type HmacSha256 = Hmac<Sha256>;

/// The text that is signed.
pub fn signing_payload(
    timestamp_ms: u64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(32 + path_and_query.len() + body.len());
    p.extend_from_slice(timestamp_ms.to_string().as_bytes());
    p.extend_from_slice(method.to_ascii_uppercase().as_bytes());
    p.extend_from_slice(path_and_query.as_bytes());
    p.extend_from_slice(body);
    p
}

/// hex(HMAC-SHA256(signing_key, payload)).
pub fn sign(
    signing_key: &[u8],
    timestamp_ms: u64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    let mut mac = HmacSha256::new_from_slice(signing_key).expect("HMAC takes any key length");
    mac.update(&signing_payload(timestamp_ms, method, path_and_query, body));
    hex::encode(mac.finalize().into_bytes())
}

/// Signs with a secret as handed out (the HMAC key is its SHA-256).
pub fn sign_with_secret(
    secret: &str,
    timestamp_ms: u64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    sign(
        &super::keys::signing_key_of(secret),
        timestamp_ms,
        method,
        path_and_query,
        body,
    )
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Who a verified request comes from.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key: String,
    pub account: Option<u32>,
    pub role: KeyRole,
}

impl Principal {
    pub fn is_operator(&self) -> bool {
        self.role == KeyRole::Operator
    }
}

/// Requests per second and burst, per key, by role.
pub fn rate_limit(role: KeyRole) -> (f64, f64) {
    match role {
        KeyRole::Trader => (50.0, 100.0),
        KeyRole::MarketMaker => (200.0, 400.0),
        KeyRole::Operator => (100.0, 200.0),
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Signatures seen, and their expiry queue (ms, signature). A signature is an HMAC under the
/// key's own secret, so its 32 bytes alone identify the request: two keys producing the same
/// one is as likely as guessing a secret. Fixed-size entries keep the check allocation-free.
type ReplayCache = (HashSet<[u8; 32]>, VecDeque<(u64, [u8; 32])>);

/// Replay cache and token buckets.
#[derive(Default)]
pub struct Guard {
    /// Signatures accepted, with their expiry in ms; evicted in expiry order.
    seen: Mutex<ReplayCache>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// The parts of a request that are verified.
pub struct SignedParts<'a> {
    pub key: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub recv_window: Option<&'a str>,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

impl Guard {
    /// Verifies a request and charges its key's rate limit.
    pub fn verify(
        &self,
        keys: &super::keys::KeyStore,
        r: &SignedParts<'_>,
        now: u64,
    ) -> Result<Principal, ApiError> {
        let (Some(key), Some(ts), Some(sig)) = (r.key, r.timestamp, r.signature) else {
            return Err(ApiError::unauthenticated(UNAUTHENTICATED, "sign the request: X-TOKEX-KEY, X-TOKEX-TIMESTAMP and X-TOKEX-SIGNATURE headers are required"));
        };
        let rec: KeyRecord = keys.get(key).ok_or_else(|| {
            ApiError::unauthenticated(INVALID_API_KEY, "unknown or revoked API key")
        })?;
        let window = match r.recv_window {
            None => RECV_WINDOW_DEFAULT_MS,
            Some(w) => w
                .parse::<u64>()
                .ok()
                .filter(|w| (1..=RECV_WINDOW_MAX_MS).contains(w))
                .ok_or_else(|| {
                    ApiError::unauthenticated(
                        TIMESTAMP_OUTSIDE_WINDOW,
                        format!("X-TOKEX-RECV-WINDOW must be 1 to {RECV_WINDOW_MAX_MS} ms"),
                    )
                })?,
        };
        let ts: u64 = ts.parse().map_err(|_| {
            ApiError::unauthenticated(
                TIMESTAMP_OUTSIDE_WINDOW,
                "X-TOKEX-TIMESTAMP must be milliseconds since the Unix epoch",
            )
        })?;
        if ts.abs_diff(now) > window {
            return Err(ApiError::unauthenticated(TIMESTAMP_OUTSIDE_WINDOW, format!("timestamp {ts} is {} ms from the server time {now}; the receive window is {window} ms", ts.abs_diff(now))));
        }
        let given = hex::decode(sig)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or_else(|| {
                ApiError::unauthenticated(INVALID_SIGNATURE, "the signature must be 64 hex digits")
            })?;
        let signing_key = rec
            .signing_key()
            .ok_or_else(|| ApiError::internal("the stored key is malformed"))?;
        let mut mac = HmacSha256::new_from_slice(&signing_key).expect("HMAC takes any key length");
        mac.update(&signing_payload(ts, r.method, r.path_and_query, r.body));
        // Constant-time comparison.
        mac.verify_slice(&given).map_err(|_| ApiError::unauthenticated(INVALID_SIGNATURE, "the signature does not match: sign timestamp + METHOD + path?query + body with HMAC-SHA256 keyed by SHA-256(secret)"))?;
        let given: [u8; 32] = given.try_into().expect("length checked above");
        self.check_replay(given, ts + window, now)?;
        self.charge(&rec.key, rec.role)?;
        Ok(Principal {
            key: rec.key,
            account: rec.account,
            role: rec.role,
        })
    }

    fn check_replay(&self, sig: [u8; 32], expires: u64, now: u64) -> Result<(), ApiError> {
        let mut g = self
            .seen
            .lock()
            .map_err(|_| ApiError::internal("replay cache poisoned"))?;
        let (set, queue) = &mut *g;
        while queue.front().is_some_and(|(t, _)| *t < now) {
            if let Some((_, s)) = queue.pop_front() {
                set.remove(&s);
            }
        }
        if !set.insert(sig) {
            return Err(ApiError::unauthenticated(
                REPLAYED_REQUEST,
                "this signature was already used: sign each request with a fresh timestamp",
            ));
        }
        // Keep the queue ordered by expiry (windows differ per request).
        let pos = queue.partition_point(|(t, _)| *t <= expires);
        queue.insert(pos, (expires, sig));
        Ok(())
    }

    fn charge(&self, key: &str, role: KeyRole) -> Result<(), ApiError> {
        let (rate, burst) = rate_limit(role);
        let mut g = self
            .buckets
            .lock()
            .map_err(|_| ApiError::internal("rate limiter poisoned"))?;
        let now = Instant::now();
        if !g.contains_key(key) {
            g.insert(
                key.to_string(),
                Bucket {
                    tokens: burst,
                    at: now,
                },
            );
        }
        let b = g.get_mut(key).expect("inserted above");
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens < 1.0 {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                RATE_LIMITED,
                format!(
                    "rate limit: {rate} requests per second (burst {burst}) for a {} key",
                    role.as_str()
                ),
            ));
        }
        b.tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // HMAC-SHA256 test vector: key "Jefe", data "what do ya want for nothing?".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn payload_is_concatenation() {
        assert_eq!(
            signing_payload(1700000000000, "post", "/api/v1/orders", b"{}"),
            b"1700000000000POST/api/v1/orders{}".to_vec()
        );
    }
}
