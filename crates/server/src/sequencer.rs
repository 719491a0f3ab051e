//! The sequencer: one thread that owns the core.
//!
//! Gateways hand it requests through a bounded queue. It takes a batch, stamps each command
//! with the next sequence number and the time, appends it to the journal and applies it to
//! the core; then one fsync makes the whole batch durable, and only then are the answers
//! released and the events published (exchange-core's rule: nobody hears of a result that a
//! crash could take back). Queries are answered between batches, from the committed state.

use crate::scheduler::Scheduler;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokex_engine::codec::encode_command;
use tokex_engine::{Command, Engine, Outcome};
use tokex_journal::{write_snapshot, FsStorage, JournalWriter};
use tokex_types::Timestamp;
use tokio::sync::{broadcast, oneshot};

/// One applied command, as published to subscribers.
#[derive(Debug)]
pub struct Applied {
    pub seq: u64,
    pub time: Timestamp,
    pub command: Command,
    pub outcome: Outcome,
}

/// The commands made durable by one fsync, in sequence order.
#[derive(Debug, Default)]
pub struct Batch {
    pub items: Vec<Applied>,
}

pub type QueryFn = Box<dyn FnOnce(&Engine) + Send>;

pub enum Request {
    Command(Command, Option<oneshot::Sender<Outcome>>),
    Query(QueryFn),
    Shutdown,
}

/// Counters the metrics endpoint reads.
#[derive(Default)]
pub struct SequencerStats {
    pub commands: AtomicU64,
    pub rejects: AtomicU64,
    pub batches: AtomicU64,
    pub fsync_ns_total: AtomicU64,
    pub fsync_ns_max: AtomicU64,
    pub last_seq: AtomicU64,
    pub queue_depth: AtomicU64,
    pub rejects_by_code: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

pub struct Sequencer {
    pub engine: Engine,
    pub journal: JournalWriter<FsStorage>,
    pub snapshot_dir: PathBuf,
    pub snapshot_every: u64,
    pub batch_max: usize,
    pub scheduler: Option<Scheduler>,
    pub events: broadcast::Sender<Arc<Batch>>,
    pub stats: Arc<SequencerStats>,
    pub clock: Box<dyn FnMut() -> Timestamp + Send>,
    last_snapshot_seq: u64,
}

/// Wall-clock time in nanoseconds since the epoch (the shell's clock; the core never reads it).
pub fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    Timestamp(d.as_nanos() as u64)
}

impl Sequencer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        journal: JournalWriter<FsStorage>,
        snapshot_dir: PathBuf,
        snapshot_every: u64,
        batch_max: usize,
        scheduler: Option<Scheduler>,
        events: broadcast::Sender<Arc<Batch>>,
        stats: Arc<SequencerStats>,
    ) -> Sequencer {
        let last_snapshot_seq = journal.durable_seq();
        // The recovered state is durable up to here; without this, readers of `last_seq`
        // would see 0 after a restart until the first new batch.
        stats
            .last_seq
            .store(journal.durable_seq(), Ordering::Relaxed);
        Sequencer {
            engine,
            journal,
            snapshot_dir,
            snapshot_every,
            batch_max,
            scheduler,
            events,
            stats,
            clock: Box::new(wall_clock),
            last_snapshot_seq,
        }
    }

    fn now(&mut self) -> Timestamp {
        (self.clock)().max(self.engine.now())
    }

    /// Applies and journals one command (not yet durable).
    fn apply(&mut self, time: Timestamp, cmd: Command, batch: &mut Batch) -> Result<(), String> {
        let payload = encode_command(time, &cmd);
        let seq = self
            .journal
            .append(&payload)
            .map_err(|e| format!("journal append: {e}"))?;
        let outcome = self.engine.apply(seq, time, &cmd);
        self.stats.commands.fetch_add(1, Ordering::Relaxed);
        if let Err(r) = &outcome.result {
            self.stats.rejects.fetch_add(1, Ordering::Relaxed);
            *self
                .stats
                .rejects_by_code
                .lock()
                .expect("stats")
                .entry(r.code.as_str())
                .or_default() += 1;
        }
        batch.items.push(Applied {
            seq,
            time,
            command: cmd,
            outcome,
        });
        Ok(())
    }

    /// Commands the calendar and the core's timers have made due by `now`.
    fn scheduled(&mut self, now: Timestamp, batch: &mut Batch) -> Result<(), String> {
        if let Some(mut s) = self.scheduler.take() {
            let from = self.engine.now();
            let due = s.due(&self.engine, from, now);
            self.scheduler = Some(s);
            for (t, cmd) in due {
                let t = t.max(self.engine.now());
                self.apply(t, cmd, batch)?;
            }
        }
        if self.engine.next_deadline().is_some_and(|d| d <= now) {
            self.apply(now, Command::Tick, batch)?;
        }
        Ok(())
    }

    /// Applies `cmds` at `now` as one durable batch (used for start-up work).
    pub fn run_batch(&mut self, cmds: Vec<Command>) -> Result<(), String> {
        let now = self.now();
        let mut batch = Batch::default();
        for c in cmds {
            self.apply(now, c, &mut batch)?;
        }
        self.commit(batch, Vec::new())
    }

    fn commit(
        &mut self,
        batch: Batch,
        replies: Vec<(usize, oneshot::Sender<Outcome>)>,
    ) -> Result<(), String> {
        if batch.items.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        self.journal
            .commit()
            .map_err(|e| format!("journal commit: {e}"))?;
        let ns = t0.elapsed().as_nanos() as u64;
        self.stats.fsync_ns_total.fetch_add(ns, Ordering::Relaxed);
        self.stats.fsync_ns_max.fetch_max(ns, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_seq
            .store(self.journal.durable_seq(), Ordering::Relaxed);
        // Durable: answers may go out now.
        for (i, tx) in replies {
            let _ = tx.send(batch.items[i].outcome.clone());
        }
        let _ = self.events.send(Arc::new(batch));
        let seq = self.journal.durable_seq();
        if self.snapshot_every > 0 && seq >= self.last_snapshot_seq + self.snapshot_every {
            self.snapshot()?;
        }
        Ok(())
    }

    pub fn snapshot(&mut self) -> Result<(), String> {
        let seq = self.journal.durable_seq();
        write_snapshot(&FsStorage, &self.snapshot_dir, seq, &self.engine.snapshot())
            .map_err(|e| format!("snapshot: {e}"))?;
        self.last_snapshot_seq = seq;
        tracing::info!(seq, "snapshot written");
        Ok(())
    }

    /// The loop. Returns when asked to shut down or when the journal fails (the exchange must
    /// not trade on without durability).
    pub fn run(mut self, rx: Receiver<Request>) -> Result<(), String> {
        let idle = Duration::from_millis(20);
        loop {
            let first = match rx.recv_timeout(idle) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let now = self.now();
            let mut batch = Batch::default();
            let mut replies = Vec::new();
            let mut queries: Vec<QueryFn> = Vec::new();
            let mut shutdown = false;
            self.scheduled(now, &mut batch)?;
            let mut next = first;
            while let Some(req) = next.take() {
                self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                match req {
                    Request::Command(cmd, reply) => {
                        self.apply(now, cmd, &mut batch)?;
                        if let Some(tx) = reply {
                            replies.push((batch.items.len() - 1, tx));
                        }
                    }
                    Request::Query(f) => queries.push(f),
                    Request::Shutdown => shutdown = true,
                }
                if batch.items.len() >= self.batch_max || shutdown {
                    break;
                }
                next = rx.try_recv().ok();
            }
            self.commit(batch, replies)?;
            for q in queries {
                q(&self.engine);
            }
            if shutdown {
                self.snapshot()?;
                return Ok(());
            }
        }
    }
}
