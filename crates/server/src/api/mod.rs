//! The public API: REST (JSON, decimal strings), WebSocket market data and private streams,
//! signed requests, operator endpoints, Prometheus metrics and the OpenAPI document.
//! docs/API.md is the reference for users.
//!
//! Files:
//! - [`routes`]: the router and the REST handlers.
//! - [`auth`]: HMAC-SHA256 request signing, receive window, replay rejection, rate limits.
//! - [`keys`]: the API key file (secrets stored as their SHA-256, never logged).
//! - [`errors`]: `{code, message}` errors and the code table.
//! - [`convert`]: decimal strings ⇄ ticks, contracts and minor units.
//! - [`market`]: the market-data feed built from the batch stream (book, trades, bars,
//!   statistics, private streams), never on the engine's path.
//! - [`ws`]: the WebSocket endpoint.
//! - [`history_read`]: order and fill history from the SQLite history store.
//! - [`indexes`]: index levels, fixings and their audit records.
//! - [`openapi`]: the OpenAPI 3 document.

pub mod auth;
pub mod convert;
pub mod errors;
pub mod history_read;
pub mod indexes;
pub mod keys;
pub mod market;
pub mod openapi;
pub mod routes;
pub mod ws;

use crate::config::ServerConfig;
use crate::ExchangeHandle;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use keys::KeyRole;

/// Largest request body accepted, bytes.
pub const BODY_MAX_BYTES: usize = 64 * 1024;

/// Everything a handler needs.
pub struct ApiState {
    pub handle: ExchangeHandle,
    pub config: ServerConfig,
    pub keys: keys::KeyStore,
    pub guard: auth::Guard,
    pub market: market::Market,
    pub indexes: indexes::Indexes,
    /// WebSocket connections opted in to cancel-on-disconnect.
    pub cod: ws::CancelOnDisconnect,
    pub next_client: AtomicU64,
    pub http_requests: AtomicU64,
    pub http_errors: AtomicU64,
}

pub type Shared = Arc<ApiState>;

/// Builds the API state: opens the key file and starts the market-data feed.
pub async fn state(handle: ExchangeHandle, config: ServerConfig) -> Result<Shared, String> {
    let keys = keys::KeyStore::open(&config.data_dir)?;
    let indexes = indexes::Indexes::load(&config);
    let market = market::start(handle.clone(), config.history_path(), indexes.ids()).await?;
    Ok(Arc::new(ApiState {
        handle,
        config,
        keys,
        guard: auth::Guard::default(),
        market,
        indexes,
        cod: ws::CancelOnDisconnect::default(),
        next_client: AtomicU64::new(1),
        http_requests: AtomicU64::new(0),
        http_errors: AtomicU64::new(0),
    }))
}

/// Serves the API on `listener` until the exchange stops.
pub async fn serve(
    handle: ExchangeHandle,
    config: ServerConfig,
    listener: tokio::net::TcpListener,
) -> Result<(), String> {
    let st = state(handle.clone(), config).await?;
    let app = routes::router(st);
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "API listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if handle.query(|_| ()).await == Err(crate::SubmitError::Stopped) {
                break;
            }
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// Makes a new operator key (not bound to an account); returns (key, secret). The secret is
/// not stored: print it once.
pub fn create_operator_key(config: &ServerConfig) -> Result<(String, String), String> {
    keys::add_key(
        &keys::keys_path(&config.data_dir),
        None,
        KeyRole::Operator,
        "operator",
    )
}

/// On first start: makes the first operator key when the data directory has none. Returns
/// the (key, secret) only when it made one.
pub fn ensure_first_operator_key(
    config: &ServerConfig,
) -> Result<Option<(String, String)>, String> {
    if keys::has_operator_key(&keys::keys_path(&config.data_dir))? {
        return Ok(None);
    }
    create_operator_key(config).map(Some)
}

/// Makes a key for `account` with `role` (the account itself is created with
/// `Command::CreateAccount` or `POST /api/v1/admin/accounts`).
pub fn create_key(
    config: &ServerConfig,
    account: u32,
    role: KeyRole,
) -> Result<(String, String), String> {
    keys::add_key(&keys::keys_path(&config.data_dir), Some(account), role, "")
}
