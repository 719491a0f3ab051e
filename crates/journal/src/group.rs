//! Group commit on a thread of its own.
//!
//! Producers (the sequencer, or gateway threads) call [`GroupCommitter::append`], which
//! assigns the seq at once and queues the payload; the commit thread takes everything queued
//! (up to [`GroupCommitConfig::batch_records_max`]), appends it and commits with one fsync.
//! While an fsync is in flight new records pile up, so under load one fsync covers many
//! records; when idle a record is committed as soon as the thread sees it, after waiting at
//! most [`GroupCommitConfig::linger`] for company (zero by default: never wait).
//! [`GroupCommitter::wait_durable`] returns once a seq is durable, which is when the command
//! may be acknowledged.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::JournalError;
use crate::metrics::JournalMetrics;
use crate::storage::Storage;
use crate::writer::JournalWriter;

/// Group-commit settings (limits with their units in the name).
#[derive(Clone, Debug)]
pub struct GroupCommitConfig {
    /// The most records one fsync covers.
    pub batch_records_max: usize,
    /// How long the commit thread waits for more records when a batch is not full. Zero:
    /// commit as soon as the queue is seen non-empty.
    pub linger: Duration,
    /// Queued records beyond which `append` blocks (back-pressure).
    pub queue_records_max: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        GroupCommitConfig {
            batch_records_max: 4096,
            linger: Duration::ZERO,
            queue_records_max: 65_536,
        }
    }
}

struct State {
    queue: VecDeque<Vec<u8>>,
    next_seq: u64,
    durable_seq: u64,
    failed: Option<String>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when records are queued or shutdown is asked.
    work: Condvar,
    /// Signalled when `durable_seq` moves, queue space frees up, or the thread fails.
    progress: Condvar,
    config: GroupCommitConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A writer driven by a commit thread. See the module doc.
pub struct GroupCommitter<S: Storage> {
    shared: Arc<Shared>,
    metrics: Arc<JournalMetrics>,
    thread: Option<JoinHandle<JournalWriter<S>>>,
}

impl<S: Storage> GroupCommitter<S> {
    /// Starts the commit thread, which owns `writer` until [`GroupCommitter::shutdown`].
    pub fn spawn(writer: JournalWriter<S>, config: GroupCommitConfig) -> Self {
        assert!(config.batch_records_max > 0 && config.queue_records_max > 0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                next_seq: writer.next_seq(),
                durable_seq: writer.durable_seq(),
                failed: None,
                shutdown: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            config,
        });
        let metrics = writer.metrics();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || commit_loop(writer, &thread_shared))
            .expect("spawn journal commit thread");
        GroupCommitter {
            shared,
            metrics,
            thread: Some(thread),
        }
    }

    /// Queues a command and returns its seq (blocks while the queue is full).
    pub fn append(&self, payload: Vec<u8>) -> Result<u64, JournalError> {
        if payload.len() > crate::RECORD_PAYLOAD_MAX_BYTES {
            return Err(JournalError::PayloadTooLarge { len: payload.len() });
        }
        let mut s = self.shared.lock();
        loop {
            if let Some(why) = &s.failed {
                return Err(JournalError::CommitterStopped(why.clone()));
            }
            if s.shutdown {
                return Err(JournalError::CommitterStopped("shut down".into()));
            }
            if s.queue.len() < self.shared.config.queue_records_max {
                break;
            }
            s = self
                .shared
                .progress
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        s.queue.push_back(payload);
        drop(s);
        self.shared.work.notify_one();
        Ok(seq)
    }

    /// Blocks until `seq` is durable.
    pub fn wait_durable(&self, seq: u64) -> Result<(), JournalError> {
        let mut s = self.shared.lock();
        while s.durable_seq < seq {
            if let Some(why) = &s.failed {
                return Err(JournalError::CommitterStopped(why.clone()));
            }
            s = self
                .shared
                .progress
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// [`GroupCommitter::append`] then [`GroupCommitter::wait_durable`].
    pub fn append_durable(&self, payload: Vec<u8>) -> Result<u64, JournalError> {
        let seq = self.append(payload)?;
        self.wait_durable(seq)?;
        Ok(seq)
    }

    /// The last durable seq.
    pub fn durable_seq(&self) -> u64 {
        self.shared.lock().durable_seq
    }

    /// The writer's counters.
    pub fn metrics(&self) -> Arc<JournalMetrics> {
        self.metrics.clone()
    }

    /// Commits everything queued, stops the thread and gives the writer back (or the error
    /// that stopped it).
    pub fn shutdown(mut self) -> Result<JournalWriter<S>, JournalError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<JournalWriter<S>, JournalError> {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        let thread = self.thread.take().expect("stopped once");
        let writer = thread
            .join()
            .map_err(|_| JournalError::CommitterStopped("commit thread panicked".into()))?;
        match self.shared.lock().failed.clone() {
            Some(why) => Err(JournalError::CommitterStopped(why)),
            None => Ok(writer),
        }
    }
}

impl<S: Storage> Drop for GroupCommitter<S> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

fn commit_loop<S: Storage>(mut writer: JournalWriter<S>, shared: &Shared) -> JournalWriter<S> {
    let cfg = &shared.config;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(cfg.batch_records_max);
    loop {
        {
            let mut s = shared.lock();
            while s.queue.is_empty() && !s.shutdown {
                s = shared.work.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            if s.queue.is_empty() {
                return writer; // shutdown with nothing left
            }
            if !cfg.linger.is_zero() {
                let deadline = Instant::now() + cfg.linger;
                while s.queue.len() < cfg.batch_records_max && !s.shutdown {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    s = shared
                        .work
                        .wait_timeout(s, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            let n = s.queue.len().min(cfg.batch_records_max);
            batch.extend(s.queue.drain(..n));
        }
        shared.progress.notify_all(); // queue space
        let result = batch
            .iter()
            .try_for_each(|p| writer.append(p).map(drop))
            .and_then(|()| writer.commit());
        batch.clear();
        let mut s = shared.lock();
        match result {
            Ok(durable) => s.durable_seq = durable,
            Err(e) => {
                s.failed = Some(e.to_string());
                drop(s);
                shared.progress.notify_all();
                return writer;
            }
        }
        drop(s);
        shared.progress.notify_all();
    }
}
