//! Server configuration: TOML, every option with a default.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the journal, snapshots and the history database live.
    pub data_dir: PathBuf,
    /// HTTP/WebSocket listen address.
    pub listen: String,
    /// The FIX sessions file (TOML: listen address, sessions with CompIDs, account and
    /// password hash; see docs/FIX.md); none to run without the FIX gateway.
    pub fix: Option<PathBuf>,
    /// Product definitions.
    pub products: PathBuf,
    /// Index definitions directory.
    pub indexes: PathBuf,
    /// The model-prices snapshot the token indexes are computed from.
    pub model_prices: PathBuf,
    /// Use this calendar for every product instead of the products' own (e.g. `24x7`).
    pub calendar: Option<String>,
    /// Write a snapshot of the core every this many commands.
    pub snapshot_every_commands: u64,
    /// Commands waiting for the sequencer before new ones are refused (HTTP 503).
    pub queue_capacity: usize,
    /// Most commands applied and made durable by one fsync.
    pub batch_commands_max: usize,
    /// Seconds between risk sweeps (liquidation threshold checks).
    pub risk_sweep_secs: u64,
    /// Keep the SQLite history store.
    pub history: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("tokex-data"),
            listen: "127.0.0.1:8080".into(),
            fix: None,
            products: PathBuf::from("config/products.toml"),
            indexes: PathBuf::from("config/indexes"),
            model_prices: PathBuf::from("data/model-prices/snapshot.json"),
            calendar: None,
            snapshot_every_commands: 100_000,
            queue_capacity: 65_536,
            batch_commands_max: 4_096,
            risk_sweep_secs: 10,
            history: true,
        }
    }
}

impl ServerConfig {
    /// Loads a config file; a missing file is an error, a missing key takes its default.
    pub fn load(path: &Path) -> Result<ServerConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn history_path(&self) -> PathBuf {
        self.data_dir.join("history.sqlite")
    }
}
