//! API keys: `data_dir/api_keys.json`, written atomically (temporary file + rename) with mode
//! 0600.
//!
//! A key is a public id (`tkx_` + 16 hex digits) and a secret (64 hex digits, 256 random bits)
//! shown once, when the key is made. What the file keeps is not the secret but its SHA-256,
//! which is also the HMAC key requests are signed with (clients derive it from the secret the
//! same way). That keeps the secret itself off the disk and out of the logs, and a leaked
//! file cannot reveal a secret a person may have reused elsewhere; it is still enough to sign
//! requests, so the file is as sensitive as the journal and is readable only by its owner.
//! docs/API.md explains the choice.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

pub const KEYS_FILE: &str = "api_keys.json";

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    Trader,
    MarketMaker,
    Operator,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Trader => "trader",
            KeyRole::MarketMaker => "market_maker",
            KeyRole::Operator => "operator",
        }
    }
    pub fn parse(s: &str) -> Option<KeyRole> {
        match s {
            "trader" => Some(KeyRole::Trader),
            "market_maker" => Some(KeyRole::MarketMaker),
            "operator" => Some(KeyRole::Operator),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    pub key: String,
    /// The account the key trades for; `None` for an operator key not bound to an account.
    pub account: Option<u32>,
    pub role: KeyRole,
    /// hex(SHA-256(secret)): the HMAC key.
    pub secret_sha256: String,
    pub created: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub revoked: bool,
}

impl KeyRecord {
    /// The 32-byte HMAC key.
    pub fn signing_key(&self) -> Option<[u8; 32]> {
        let v = hex::decode(&self.secret_sha256).ok()?;
        v.try_into().ok()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct KeysFile {
    keys: Vec<KeyRecord>,
}

/// The HMAC key a secret signs with: SHA-256 of its UTF-8 text.
pub fn signing_key_of(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| format!("random: {e}"))?;
    Ok(hex::encode(buf))
}

pub fn keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_FILE)
}

fn read_file(path: &Path) -> Result<KeysFile, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeysFile::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_file(path: &Path, f: &KeysFile) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(f).map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        file.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        file.sync_all()
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Appends a new key to the file; returns (key, secret). The secret is not stored.
pub fn add_key(
    path: &Path,
    account: Option<u32>,
    role: KeyRole,
    label: &str,
) -> Result<(String, String), String> {
    let mut f = read_file(path)?;
    let key = format!("tkx_{}", random_hex(8)?);
    let secret = random_hex(32)?;
    f.keys.push(KeyRecord {
        key: key.clone(),
        account,
        role,
        secret_sha256: hex::encode(signing_key_of(&secret)),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        label: label.to_string(),
        revoked: false,
    });
    write_file(path, &f)?;
    Ok((key, secret))
}

/// Whether the file holds a live operator key.
pub fn has_operator_key(path: &Path) -> Result<bool, String> {
    Ok(read_file(path)?
        .keys
        .iter()
        .any(|k| k.role == KeyRole::Operator && !k.revoked))
}

/// The keys the server knows, reloaded when the file changes (e.g. `tokex keys create` while
/// the server runs).
pub struct KeyStore {
    path: PathBuf,
    inner: RwLock<(Vec<KeyRecord>, Option<SystemTime>)>,
}

impl KeyStore {
    pub fn open(data_dir: &Path) -> Result<KeyStore, String> {
        let path = keys_path(data_dir);
        let f = read_file(&path)?;
        Ok(KeyStore {
            inner: RwLock::new((f.keys, mtime(&path))),
            path,
        })
    }

    fn force_reload(&self) {
        if let Ok(f) = read_file(&self.path) {
            if let Ok(mut g) = self.inner.write() {
                *g = (f.keys, mtime(&self.path));
            }
        }
    }

    fn reload_if_changed(&self) {
        let m = mtime(&self.path);
        let stale = self.inner.read().map(|g| g.1 != m).unwrap_or(false);
        if stale {
            match read_file(&self.path) {
                Ok(f) => {
                    if let Ok(mut g) = self.inner.write() {
                        *g = (f.keys, m);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "API keys file unreadable; keeping the keys loaded before")
                }
            }
        }
    }

    /// A live key by id (the file is re-read if it changed since it was loaded).
    pub fn get(&self, key: &str) -> Option<KeyRecord> {
        let find = |s: &Self| {
            s.inner
                .read()
                .ok()
                .and_then(|g| g.0.iter().find(|k| k.key == key && !k.revoked).cloned())
        };
        find(self).or_else(|| {
            self.reload_if_changed();
            find(self)
        })
    }

    pub fn list(&self) -> Vec<KeyRecord> {
        self.reload_if_changed();
        self.inner.read().map(|g| g.0.clone()).unwrap_or_default()
    }

    pub fn create(
        &self,
        account: Option<u32>,
        role: KeyRole,
        label: &str,
    ) -> Result<(String, String), String> {
        let out = add_key(&self.path, account, role, label)?;
        self.force_reload();
        Ok(out)
    }

    /// Marks a key revoked; false when there is no such key.
    pub fn revoke(&self, key: &str) -> Result<bool, String> {
        let mut f = read_file(&self.path)?;
        let Some(k) = f.keys.iter_mut().find(|k| k.key == key) else {
            return Ok(false);
        };
        k.revoked = true;
        write_file(&self.path, &f)?;
        self.force_reload();
        Ok(true)
    }
}
