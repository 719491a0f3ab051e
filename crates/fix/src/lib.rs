//! The Tokex FIX 4.4 order-entry gateway (acceptor).
//!
//! ```text
//!  TCP ─ Framer (codec) ─ Session (state machine, store) ─ app (D F G H q x → commands)
//!                                     ▲                              │ ExchangeHandle::submit
//!  ExecutionReports ◄── gateway router ◄── subscribe(): every durable Batch
//! ```
//!
//! Files:
//! - [`codec`]: tag=value encoding, BodyLength and CheckSum, a framer that discards garbled
//!   input, dictionary validation with SessionRejectReason.
//! - [`dict`]: tables generated from QuickFIX's FIX44.xml (`tools/gen_dict.py`).
//! - [`config`]: the sessions file (CompIDs, account, password hash, cancel-on-disconnect).
//! - [`store`]: sequence numbers and sent messages in SQLite under `data_dir/fix/`.
//! - [`session`]: the session protocol as a pure state machine (time is an input).
//! - [`orders`]: FIX ↔ engine mapping (prices exact to the tick) and per-order state.
//! - [`app`]: application messages of a logged-on session.
//! - [`gateway`]: connections, the router from exchange events to reports, cancel on
//!   disconnect.
//! - [`fuzz`]: [`fuzz_entry`], what the cargo-fuzz target in `fuzz/` and the corpus test run.
//!
//! Authentication: each session in the config is bound to one account and a password; the
//! Logon must carry the configured CompIDs and Password (554), and Username (553) if one is
//! configured. See `docs/FIX.md`.

pub mod app;
pub mod codec;
pub mod config;
pub mod dict;
pub mod fuzz;
pub mod gateway;
pub mod orders;
pub mod session;
pub mod store;

pub use config::{FixConfig, SessionConfig};
pub use fuzz::fuzz_entry;

use std::path::PathBuf;

/// Binds `config.listen` and runs the FIX gateway until the exchange stops. Sequence numbers,
/// sent messages and working-order names are kept under `data_dir/fix/`.
pub async fn serve(
    handle: tokex_server::ExchangeHandle,
    config: FixConfig,
    data_dir: PathBuf,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("FIX listen on {}: {e}", config.listen))?;
    serve_on(handle, config, data_dir, listener).await
}

/// [`serve`] on a listener the caller bound (tests bind port 0).
pub async fn serve_on(
    handle: tokex_server::ExchangeHandle,
    config: FixConfig,
    data_dir: PathBuf,
    listener: tokio::net::TcpListener,
) -> Result<(), String> {
    let gw = gateway::Gateway::new(handle, &config, data_dir).await?;
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), sessions = config.sessions.len(), "FIX gateway listening");
    gateway::run(gw, listener).await
}
