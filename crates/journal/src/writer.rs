//! Appending with group commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{JournalError, TornTail};
use crate::format::{encode_record, RecordKind, RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX_BYTES};
use crate::metrics::JournalMetrics;
use crate::segment::{list_segments, segment_file_name, Segment, SegmentScan, Step};
use crate::storage::{Storage, StorageFile};

/// Size at which a segment is rolled: the next record that would not fit opens a new one.
pub const SEGMENT_SIZE_DEFAULT_BYTES: u64 = 64 * 1024 * 1024;

/// Writer settings.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Roll to a new segment before a record that would take the current one past this size
    /// (a record larger than this gets a segment of its own).
    pub segment_size_max_bytes: u64,
    /// The seq of the first command of an empty journal.
    pub first_seq: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            segment_size_max_bytes: SEGMENT_SIZE_DEFAULT_BYTES,
            first_seq: 1,
        }
    }
}

/// What opening for writing found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The torn tail cut off the last segment, if there was one.
    pub torn_tail: Option<TornTail>,
    /// Segments present after opening.
    pub segments: usize,
    /// The seq the next appended command gets.
    pub next_seq: u64,
}

/// Appends commands to the journal. `append` only buffers; [`JournalWriter::commit`] writes
/// every buffered record and a commit marker in one write, then one fdatasync, and returns
/// when they are durable. One writer per directory (nothing locks the directory: the shell
/// must run a single sequencer).
pub struct JournalWriter<S: Storage> {
    storage: S,
    dir: PathBuf,
    options: WriterOptions,
    segments: Vec<Segment>,
    file: S::File,
    /// Bytes already written to the current segment.
    segment_len: u64,
    /// Framed records not yet written.
    buf: Vec<u8>,
    buffered_records: u64,
    next_seq: u64,
    durable_seq: u64,
    poisoned: bool,
    metrics: Arc<JournalMetrics>,
    report: OpenReport,
}

impl<S: Storage> JournalWriter<S> {
    /// Opens (or creates) the journal in `dir` for appending: verifies the last segment,
    /// truncates a torn tail (see [`OpenReport::torn_tail`]) and refuses to start on damage.
    /// The older segments are verified by replay ([`crate::JournalReader`]), which start-up
    /// runs before opening the writer.
    pub fn open(storage: S, dir: &Path, options: WriterOptions) -> Result<Self, JournalError> {
        storage
            .create_dir_all(dir)
            .map_err(JournalError::io("create dir", dir))?;
        let mut segments = list_segments(&storage, dir)?;
        let mut torn_tail = None;
        let mut unmarked = false;
        let (next_seq, mut segment_len) = match segments.last() {
            None => {
                let seg = Segment {
                    first_seq: options.first_seq,
                    path: dir.join(segment_file_name(options.first_seq)),
                };
                storage
                    .create(&seg.path)
                    .map_err(JournalError::io("create", &seg.path))?;
                storage
                    .sync_dir(dir)
                    .map_err(JournalError::io("sync dir", dir))?;
                segments.push(seg);
                (options.first_seq, 0)
            }
            Some(last) => {
                let (next_seq, valid_len, torn, ends_unmarked) = scan_last_segment(&storage, last)?;
                unmarked = ends_unmarked;
                if let Some(t) = &torn {
                    storage
                        .truncate(&last.path, valid_len)
                        .map_err(JournalError::io("truncate", &last.path))?;
                    torn_tail = Some(t.clone());
                }
                (next_seq, valid_len)
            }
        };
        let path = &segments.last().expect("at least one segment").path;
        let mut file = storage
            .open_append(path)
            .map_err(JournalError::io("open", path))?;
        if unmarked {
            // Complete commands whose commit marker was torn off: they will be replayed, so
            // they are committed now, and a marker after them keeps damage to them detectable
            // (and keeps a sealed segment ending with a marker).
            let mut marker = Vec::with_capacity(RECORD_HEADER_BYTES);
            encode_record(&mut marker, RecordKind::Commit, next_seq - 1, &[]);
            file.append(&marker)
                .map_err(JournalError::io("write", path))?;
            file.sync().map_err(JournalError::io("fdatasync", path))?;
            segment_len += marker.len() as u64;
        }
        let report = OpenReport {
            torn_tail,
            segments: segments.len(),
            next_seq,
        };
        Ok(JournalWriter {
            storage,
            dir: dir.to_owned(),
            options,
            segments,
            file,
            segment_len,
            buf: Vec::with_capacity(1 << 16),
            buffered_records: 0,
            next_seq,
            durable_seq: next_seq - 1,
            poisoned: false,
            metrics: Arc::default(),
            report,
        })
    }

    /// What [`JournalWriter::open`] found.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Buffers one command and returns its seq. Not durable until [`JournalWriter::commit`].
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if payload.len() > RECORD_PAYLOAD_MAX_BYTES {
            return Err(JournalError::PayloadTooLarge { len: payload.len() });
        }
        let used = self.segment_len + self.buf.len() as u64;
        let needed = (RECORD_HEADER_BYTES * 2 + payload.len()) as u64; // record + its commit marker
        if used > 0 && used + needed > self.options.segment_size_max_bytes {
            self.guard(Self::roll)?;
        }
        let seq = self.next_seq;
        encode_record(&mut self.buf, RecordKind::Command, seq, payload);
        self.buffered_records += 1;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Writes every buffered command plus a commit marker, fdatasyncs once, and returns the
    /// last durable seq. After an error the writer is poisoned: nothing more is accepted.
    pub fn commit(&mut self) -> Result<u64, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        self.guard(Self::flush_and_sync)?;
        Ok(self.durable_seq)
    }

    /// The last seq known durable (`first_seq - 1` if none).
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// The seq the next [`JournalWriter::append`] returns.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Records appended but not yet committed.
    pub fn buffered_records(&self) -> u64 {
        self.buffered_records
    }

    /// The shared counters.
    pub fn metrics(&self) -> Arc<JournalMetrics> {
        self.metrics.clone()
    }

    /// The segment files, oldest first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Removes the segments all of whose commands have `seq < seq` (those a snapshot at
    /// `seq - 1` covers), oldest first, then syncs the directory. Never removes the segment
    /// being written. Returns the removed paths.
    pub fn prune_before(&mut self, seq: u64) -> Result<Vec<PathBuf>, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let n = self
            .segments
            .windows(2)
            .take_while(|w| w[1].first_seq <= seq)
            .count();
        let removed: Vec<PathBuf> = self.segments.drain(..n).map(|s| s.path).collect();
        for path in &removed {
            if let Err(e) = self.storage.remove(path) {
                self.poisoned = true;
                return Err(JournalError::io("remove", path)(e));
            }
        }
        if !removed.is_empty() {
            self.guard(|w| {
                w.storage
                    .sync_dir(&w.dir)
                    .map_err(JournalError::io("sync dir", &w.dir))
            })?;
        }
        Ok(removed)
    }

    fn guard(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        let r = f(self);
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    fn flush_and_sync(&mut self) -> Result<(), JournalError> {
        if self.buffered_records == 0 {
            return Ok(());
        }
        let last = self.next_seq - 1;
        encode_record(&mut self.buf, RecordKind::Commit, last, &[]);
        let path = &self.segments.last().expect("a current segment").path;
        self.file
            .append(&self.buf)
            .map_err(JournalError::io("write", path))?;
        let started = Instant::now();
        self.file
            .sync()
            .map_err(JournalError::io("fdatasync", path))?;
        self.metrics.record_fsync(
            self.buffered_records,
            self.buf.len() as u64,
            started.elapsed(),
        );
        self.segment_len += self.buf.len() as u64;
        self.buf.clear();
        self.buffered_records = 0;
        self.durable_seq = last;
        Ok(())
    }

    /// Seals the current segment (its records and marker durable) and starts the next one,
    /// whose directory entry is durable before any record goes into it.
    fn roll(&mut self) -> Result<(), JournalError> {
        self.flush_and_sync()?;
        let seg = Segment {
            first_seq: self.next_seq,
            path: self.dir.join(segment_file_name(self.next_seq)),
        };
        self.file = self
            .storage
            .create(&seg.path)
            .map_err(JournalError::io("create", &seg.path))?;
        self.storage
            .sync_dir(&self.dir)
            .map_err(JournalError::io("sync dir", &self.dir))?;
        self.segments.push(seg);
        self.segment_len = 0;
        Ok(())
    }
}

/// The next seq, the length of the valid prefix, the torn tail, and whether the valid prefix
/// ends with commands that no commit marker follows.
type LastSegment = (u64, u64, Option<TornTail>, bool);

/// Scans the last segment.
fn scan_last_segment<S: Storage>(storage: &S, seg: &Segment) -> Result<LastSegment, JournalError> {
    let buf = storage
        .read(&seg.path)
        .map_err(JournalError::io("read", &seg.path))?;
    let mut scan = SegmentScan {
        path: &seg.path,
        is_last: true,
        base: 0,
        at_eof: true,
        next_seq: seg.first_seq,
        commands_in_segment: 0,
        ended_with_commit: false,
    };
    let mut pos = 0;
    loop {
        let step = scan.step(&buf, pos)?;
        let unmarked = scan.commands_in_segment > 0 && !scan.ended_with_commit;
        match step {
            Step::Item { next, .. } => pos = next,
            Step::End => return Ok((scan.next_seq, pos as u64, None, unmarked)),
            Step::Torn(t) => return Ok((scan.next_seq, pos as u64, Some(t), unmarked)),
            Step::NeedMore { .. } | Step::NeedAll => unreachable!("the whole file is in memory"),
        }
    }
}
