//! The FIX sessions file (TOML), whose path the server config carries (`fix = "fix.toml"`).
//!
//! ```toml
//! listen = "127.0.0.1:9878"
//!
//! [[sessions]]
//! sender_comp_id = "CLIENT1"        # the client's CompID (its SenderCompID, 49)
//! target_comp_id = "TOKEX"          # ours (the client's TargetCompID, 56)
//! account = 2                       # the exchange account this session trades for
//! username = "client1"              # optional: if set, Username (553) must match
//! password_sha256 = "5e88…"         # hex SHA-256 of the Password (554) sent at Logon
//! cancel_on_disconnect = true       # optional, default false
//! heartbeat_secs_min = 5            # optional bounds on the client's HeartBtInt (108)
//! heartbeat_secs_max = 120
//! ```
//!
//! `printf %s 'the password' | sha256sum` makes a hash.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Most sessions one file may define.
pub const SESSIONS_MAX: usize = 10_000;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FixConfig {
    /// Address the FIX acceptor listens on, e.g. `127.0.0.1:9878`.
    pub listen: String,
    #[serde(default)]
    pub sessions: Vec<SessionConfig>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// The client's CompID: SenderCompID (49) on what it sends.
    pub sender_comp_id: String,
    /// The exchange's CompID for this session: TargetCompID (56) on what the client sends.
    pub target_comp_id: String,
    /// Exchange account the session trades for.
    pub account: u32,
    /// If set, Logon must carry this Username (553).
    #[serde(default)]
    pub username: Option<String>,
    /// Hex SHA-256 of the password the client sends in Password (554).
    pub password_sha256: String,
    /// Cancel the account's working orders when the session disconnects without a Logout
    /// exchange — or with one (any end of the connection counts).
    #[serde(default)]
    pub cancel_on_disconnect: bool,
    #[serde(default = "default_hb_min")]
    pub heartbeat_secs_min: u64,
    #[serde(default = "default_hb_max")]
    pub heartbeat_secs_max: u64,
}

fn default_hb_min() -> u64 {
    1
}
fn default_hb_max() -> u64 {
    300
}

/// Hex SHA-256 of a password, as `password_sha256` holds it.
pub fn password_hash(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares in time independent of where the strings first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl SessionConfig {
    /// Whether a Logon's Username and Password match this session.
    pub fn credentials_ok(&self, username: Option<&str>, password: Option<&str>) -> bool {
        if let Some(u) = &self.username {
            if username != Some(u.as_str()) {
                return false;
            }
        }
        let Some(p) = password else { return false };
        constant_time_eq(
            password_hash(p).as_bytes(),
            self.password_sha256.to_ascii_lowercase().as_bytes(),
        )
    }

    /// A short name for files and logs: `SENDER-TARGET`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.sender_comp_id, self.target_comp_id)
    }
}

impl FixConfig {
    pub fn from_toml_str(s: &str) -> Result<FixConfig, String> {
        let c: FixConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    /// Loads and validates a sessions file.
    pub fn load(path: &Path) -> Result<FixConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.sessions.len() > SESSIONS_MAX {
            return Err(format!("more than {SESSIONS_MAX} sessions"));
        }
        let mut keys = std::collections::BTreeSet::new();
        for (i, s) in self.sessions.iter().enumerate() {
            let at = format!("sessions[{i}]");
            for (name, v) in [
                ("sender_comp_id", &s.sender_comp_id),
                ("target_comp_id", &s.target_comp_id),
            ] {
                if v.is_empty()
                    || v.len() > 64
                    || !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
                {
                    return Err(format!("{at}.{name}: 1 to 64 of A-Z a-z 0-9 _ - ."));
                }
            }
            if s.password_sha256.len() != 64
                || !s.password_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!(
                    "{at}.password_sha256: 64 hex digits (printf %s PASSWORD | sha256sum)"
                ));
            }
            if s.heartbeat_secs_min == 0 || s.heartbeat_secs_min > s.heartbeat_secs_max {
                return Err(format!(
                    "{at}: need 1 <= heartbeat_secs_min <= heartbeat_secs_max"
                ));
            }
            if !keys.insert((s.sender_comp_id.clone(), s.target_comp_id.clone())) {
                return Err(format!("{at}: CompID pair {} defined twice", s.key()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_validates_and_checks_credentials() {
        let hash = password_hash("secret");
        assert_eq!(
            hash,
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
        let text = format!(
            "listen = \"127.0.0.1:0\"\n[[sessions]]\nsender_comp_id = \"C1\"\ntarget_comp_id = \"TOKEX\"\naccount = 2\npassword_sha256 = \"{hash}\"\ncancel_on_disconnect = true\n"
        );
        let c = FixConfig::from_toml_str(&text).unwrap();
        let s = &c.sessions[0];
        assert!(s.cancel_on_disconnect);
        assert!(s.credentials_ok(None, Some("secret")));
        assert!(!s.credentials_ok(None, Some("Secret")));
        assert!(!s.credentials_ok(None, None));
        assert!(FixConfig::from_toml_str(&format!("{text}bogus = 1\n")).is_err());
        assert!(FixConfig::from_toml_str(&text.replace(&hash, "abc")).is_err());
        let twice = format!("{text}{}", &text[text.find("[[sessions]]").unwrap()..]);
        assert!(FixConfig::from_toml_str(&twice)
            .unwrap_err()
            .contains("defined twice"));
    }
}
