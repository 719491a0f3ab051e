//! Commit counters: plain atomics, readable from any thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Buckets of the fsync latency histogram: bucket `i` counts fsyncs that took less than
/// `2^i` µs (the last bucket also takes everything slower).
pub const FSYNC_LATENCY_BUCKETS: usize = 24;

/// Counters of one writer, shared with whoever holds an `Arc` to them.
#[derive(Debug, Default)]
pub struct JournalMetrics {
    fsyncs: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    fsync_nanos_total: AtomicU64,
    fsync_nanos_max: AtomicU64,
    batch_records_max: AtomicU64,
    fsync_latency_log2_us: [AtomicU64; FSYNC_LATENCY_BUCKETS],
}

/// A copy of the counters at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// fsyncs of segment data (each makes one batch of records durable).
    pub fsyncs: u64,
    /// Records made durable.
    pub records: u64,
    /// Bytes made durable (frames included).
    pub bytes: u64,
    pub fsync_nanos_total: u64,
    pub fsync_nanos_max: u64,
    /// The largest number of records one fsync made durable.
    pub batch_records_max: u64,
    /// See [`FSYNC_LATENCY_BUCKETS`].
    pub fsync_latency_log2_us: [u64; FSYNC_LATENCY_BUCKETS],
}

impl MetricsSnapshot {
    /// Mean records per fsync (0 before the first fsync).
    pub fn records_per_fsync(&self) -> f64 {
        if self.fsyncs == 0 {
            0.0
        } else {
            self.records as f64 / self.fsyncs as f64
        }
    }

    /// Mean fsync latency.
    pub fn fsync_mean(&self) -> Duration {
        Duration::from_nanos(self.fsync_nanos_total.checked_div(self.fsyncs).unwrap_or(0))
    }
}

impl JournalMetrics {
    pub(crate) fn record_fsync(&self, records: u64, bytes: u64, took: Duration) {
        let nanos = took.as_nanos().min(u64::MAX as u128) as u64;
        self.fsyncs.fetch_add(1, Relaxed);
        self.records.fetch_add(records, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        self.fsync_nanos_total.fetch_add(nanos, Relaxed);
        self.fsync_nanos_max.fetch_max(nanos, Relaxed);
        self.batch_records_max.fetch_max(records, Relaxed);
        let micros = nanos / 1_000;
        let bucket = (u64::BITS - micros.leading_zeros()) as usize;
        self.fsync_latency_log2_us[bucket.min(FSYNC_LATENCY_BUCKETS - 1)].fetch_add(1, Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            fsyncs: self.fsyncs.load(Relaxed),
            records: self.records.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            fsync_nanos_total: self.fsync_nanos_total.load(Relaxed),
            fsync_nanos_max: self.fsync_nanos_max.load(Relaxed),
            batch_records_max: self.batch_records_max.load(Relaxed),
            fsync_latency_log2_us: std::array::from_fn(|i| {
                self.fsync_latency_log2_us[i].load(Relaxed)
            }),
        }
    }
}
