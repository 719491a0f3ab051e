//! The Tokex shell around the deterministic core: everything that does I/O.
//!
//! ```text
//!  gateways (REST, WebSocket, FIX, simulated participants)
//!        │  ExchangeHandle::submit — bounded queue, "overloaded" when full
//!        ▼
//!  sequencer thread ── scheduler (calendar → commands)
//!        │  stamp seq + time → journal append → core apply → one fsync per batch
//!        ▼
//!  answers released; Batch published (broadcast) → history store (SQLite), market data,
//!  private streams
//! ```
//!
//! Files:
//! - [`config`]: the TOML configuration with defaults.
//! - [`sequencer`]: the thread that owns the core, the journal and snapshots.
//! - [`scheduler`]: the calendar turned into journaled commands.
//! - [`recovery`]: snapshot + journal replay at start-up, `replay`/`verify`.
//! - [`index_feed`]: the index engine's fixings, as the scheduler feeds them in.
//! - [`history`]: the SQLite history store, written off the hot path.

pub mod api;
pub mod config;
pub mod history;
pub mod index_feed;
pub mod recovery;
pub mod scheduler;
pub mod sequencer;
pub mod web;
pub mod web_hedge;

use config::ServerConfig;
use sequencer::{Batch, Request, Sequencer, SequencerStats};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use tokex_engine::{Command, Engine, Outcome};
use tokex_types::product::ProductSet;
use tokio::sync::{broadcast, oneshot};

/// Why a command could not be handed to the sequencer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full: try again later (HTTP 503).
    Overloaded,
    /// The exchange has stopped.
    Stopped,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::Overloaded => f.write_str("the exchange is overloaded: try again"),
            SubmitError::Stopped => f.write_str("the exchange has stopped"),
        }
    }
}

/// How gateways reach the exchange. Cheap to clone.
#[derive(Clone)]
pub struct ExchangeHandle {
    tx: SyncSender<Request>,
    events: broadcast::Sender<Arc<Batch>>,
    stats: Arc<SequencerStats>,
    products: Arc<ProductSet>,
}

impl ExchangeHandle {
    fn send(&self, req: Request) -> Result<(), SubmitError> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(req) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => SubmitError::Overloaded,
                    TrySendError::Disconnected(_) => SubmitError::Stopped,
                })
            }
        }
    }

    /// Submits a command; resolves once it is durable, with its one answer.
    pub async fn submit(&self, cmd: Command) -> Result<Outcome, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Command(cmd, Some(tx)))?;
        rx.await.map_err(|_| SubmitError::Stopped)
    }

    /// [`ExchangeHandle::submit`] for threads outside the async runtime.
    pub fn submit_blocking(&self, cmd: Command) -> Result<Outcome, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Command(cmd, Some(tx)))?;
        rx.blocking_recv().map_err(|_| SubmitError::Stopped)
    }

    /// Submits and returns at once with a receiver for the answer: many commands sent this
    /// way before waiting share one fsync.
    pub fn submit_pending(&self, cmd: Command) -> Result<oneshot::Receiver<Outcome>, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Command(cmd, Some(tx)))?;
        Ok(rx)
    }

    /// Submits without waiting for the answer (it still reaches subscribers).
    pub fn submit_nowait(&self, cmd: Command) -> Result<(), SubmitError> {
        self.send(Request::Command(cmd, None))
    }

    /// Runs a read-only function on the committed state, between batches.
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Query(Box::new(move |e| {
            let _ = tx.send(f(e));
        })))?;
        rx.await.map_err(|_| SubmitError::Stopped)
    }

    /// [`ExchangeHandle::query`] for threads outside the async runtime.
    pub fn query_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Query(Box::new(move |e| {
            let _ = tx.send(f(e));
        })))?;
        rx.blocking_recv().map_err(|_| SubmitError::Stopped)
    }

    /// Every durable batch, in order. A receiver that falls behind by more than the channel
    /// holds gets `Lagged` and must resync from a snapshot.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.events.subscribe()
    }

    pub fn stats(&self) -> &SequencerStats {
        &self.stats
    }

    pub fn products(&self) -> &ProductSet {
        &self.products
    }

    /// Asks the sequencer to write a snapshot and stop.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Request::Shutdown);
    }
}

/// Batches kept for subscribers that are slow to read.
pub const EVENT_CHANNEL_BATCHES: usize = 4_096;

/// A running exchange: the handle and the sequencer thread.
pub struct Exchange {
    pub handle: ExchangeHandle,
    pub thread: std::thread::JoinHandle<Result<(), String>>,
    pub recovery: recovery::RecoveryReport,
    pub history: Option<std::thread::JoinHandle<()>>,
}

/// Loads the products (putting them all on `config.calendar` when set).
pub fn load_products(config: &ServerConfig) -> Result<ProductSet, String> {
    let mut products = ProductSet::load(&config.products)
        .map_err(|e| format!("{}: {e}", config.products.display()))?;
    if let Some(name) = &config.calendar {
        let cal = products
            .calendar(name)
            .cloned()
            .or_else(|| tokex_types::calendar::Calendar::builtin(name))
            .ok_or_else(|| {
                format!(
                    "calendar {name:?} is neither built in nor defined in {}",
                    config.products.display()
                )
            })?;
        products.use_calendar(&cal);
    }
    Ok(products)
}

impl Exchange {
    /// Recovers the state from the data directory and starts the sequencer. An empty data
    /// directory is bootstrapped: index history, listings, phases.
    pub fn start(config: &ServerConfig) -> Result<Exchange, String> {
        Self::start_with_clock(config, Box::new(sequencer::wall_clock))
    }

    pub fn start_with_clock(
        config: &ServerConfig,
        clock: Box<dyn FnMut() -> tokex_types::Timestamp + Send>,
    ) -> Result<Exchange, String> {
        let products = load_products(config)?;
        let dir = config.journal_dir();
        let (engine, writer, recovery) = recovery::recover(&dir)?;
        tracing::info!(%recovery, "recovered");
        let mut clock = clock;
        let now = clock();
        let today = chrono::DateTime::from_timestamp((now.0 / 1_000_000_000) as i64, 0)
            .map(|d| d.date_naive())
            .ok_or("clock out of range")?;
        let feed = index_feed::IndexFeed::load(&config.indexes, &config.model_prices, today)?;
        let scheduler =
            scheduler::Scheduler::new(products.clone(), Some(feed), config.risk_sweep_secs);
        let (events, _) = broadcast::channel(EVENT_CHANNEL_BATCHES);
        let stats = Arc::new(SequencerStats::default());
        let mut seq = Sequencer::new(
            engine,
            writer,
            dir,
            config.snapshot_every_commands,
            config.batch_commands_max,
            Some(scheduler),
            events.clone(),
            stats.clone(),
        );
        seq.clock = clock;
        let history = if config.history {
            Some(history::spawn(
                &config.history_path(),
                &config.journal_dir(),
                events.subscribe(),
            )?)
        } else {
            None
        };
        if seq.engine.instrument_count() == 0 {
            let mut s = seq.scheduler.take().expect("scheduler");
            let cmds = s.bootstrap(&seq.engine, now);
            seq.scheduler = Some(s);
            seq.run_batch(cmds)?;
        }
        let (tx, rx) = sync_channel(config.queue_capacity);
        let handle = ExchangeHandle {
            tx,
            events,
            stats,
            products: Arc::new(products),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || seq.run(rx))
            .map_err(|e| e.to_string())?;
        Ok(Exchange {
            handle,
            thread,
            recovery,
            history,
        })
    }
}
