//! The durable command journal: framed, checksummed records in segment files, group commit,
//! snapshots, and recovery that tells a torn tail from damage.
//!
//! The journal stores opaque payloads with consecutive sequence numbers; what a payload means
//! is the engine's business. Start-up is: [`latest_snapshot`] → [`JournalReader::open`] from
//! the snapshot's `seq + 1` → replay every record (each one verified) → [`JournalWriter::open`]
//! (which truncates a torn tail) → append. A command is acknowledged only after the
//! [`JournalWriter::commit`] (or [`GroupCommitter::wait_durable`]) that covers it returned.
//!
//! # Files
//!
//! | file | what it holds |
//! |---|---|
//! | `crc32c.rs` | CRC32C (Castagnoli): SSE4.2 instruction when present, else slicing-by-8; no dependency |
//! | `format.rs` | the record frame: encode, decode and verify a header, resync scan |
//! | `segment.rs` | segment names and the one-record scanner step that encodes the recovery rules |
//! | `writer.rs` | [`JournalWriter`]: buffer, commit (one write + one fdatasync), roll, prune |
//! | `group.rs` | [`GroupCommitter`]: a commit thread that batches many records per fsync |
//! | `reader.rs` | [`JournalReader`]: replay across segments from a seq, streamed through a 1 MiB window |
//! | `snapshot.rs` | [`write_snapshot`] (temp, fsync, rename, fsync dir) and [`latest_snapshot`] |
//! | `metrics.rs` | [`JournalMetrics`]: fsyncs, records per fsync, fsync latency histogram |
//! | `storage.rs` | the narrow [`Storage`] trait and [`FsStorage`] |
//! | `sim.rs` | [`sim::SimStorage`]: crashes at a chosen fault point, torn writes, bit flips |
//!
//! # On-disk format
//!
//! A journal directory holds segments `journal-<first_seq:020>.log`, where `first_seq` is the
//! seq of the segment's first command. A segment is a sequence of records with no padding;
//! a writer rolls to a new segment before a record that would take the current one past
//! [`SEGMENT_SIZE_DEFAULT_BYTES`] (64 MiB). All integers are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | magic and version, [`RECORD_MAGIC_V1`] = `0xA1` |
//! | 1 | 1 | kind: `1` command, `2` commit marker |
//! | 2 | 2 | reserved, zero |
//! | 4 | 4 | payload length `len` (≤ [`RECORD_PAYLOAD_MAX_BYTES`]; `0` for a marker) |
//! | 8 | 8 | seq |
//! | 16 | 4 | record CRC32C over bytes `0..16` and the payload |
//! | 20 | 4 | header CRC32C over bytes `0..20` |
//! | 24 | `len` | payload |
//!
//! Commands carry consecutive seqs (`+1` each, across segments). Each commit writes its
//! commands followed by one **commit marker** (kind 2, `seq` = the last command it covers,
//! consuming no seq) in a single write, then one fdatasync. A sealed (non-last) segment ends
//! with a marker.
//!
//! Why two checksums: the header CRC makes the *length* trustworthy before it is used, so a
//! bit flip in a length field cannot make a record look like it "runs past the end of the
//! file" and have acknowledged data cut off as a torn tail. The record CRC covers the header
//! fields and the payload (computed once: the CRC of bytes `0..16` is extended by both).
//! CRC32C detects every burst error up to 32 bits and every odd number of flipped bits.
//!
//! Snapshots are `snapshot-<seq:020>.snap`: a 32-byte header (`TXSNAP\0\x01`, seq u64, length
//! u64, CRC32C over header bytes `0..24` and the payload, 4 zero bytes) then the payload.
//!
//! # Recovery rules: torn tail or damage
//!
//! A crash can only tear what was written after the last fsync that returned, and our writer
//! writes only at the end of the last segment. So:
//!
//! 1. In a **sealed segment** (every segment but the last) any record that does not verify,
//!    any short record, a sequence gap, a missing final commit marker, or a segment whose name
//!    does not continue the previous one's sequence is **damage**.
//! 2. In the **last segment**, scanning from its start, let `p` be the offset of the first
//!    record that does not verify. The bytes `p..EOF` are a **torn tail** — truncated by
//!    [`JournalWriter::open`] and reported in [`OpenReport::torn_tail`] (file, offset, bytes
//!    cut, reason), and ending [`JournalReader`]'s iteration with [`JournalReader::torn_tail`]
//!    — exactly when nothing verifiable follows it:
//!    - fewer than 24 bytes remain (partial header); or
//!    - the header verifies and its payload runs past EOF (partial payload); or
//!    - the header does not verify and no verifiable header starts anywhere in `p+1..EOF`; or
//!    - the header verifies, the payload does not, and no verifiable header starts in the
//!      bytes after the record.
//!
//!    Otherwise — a bad record followed by a verifiable one — it is **damage**.
//! 3. A verifiable record with the wrong seq (a gap, a repeat, a step back), a marker for the
//!    wrong seq, or an unknown kind is **damage** wherever it is: a crash cannot produce it.
//!
//! Damage stops start-up with [`JournalError::Damaged`] naming the file and byte offset of the
//! record; nothing is skipped.
//!
//! **Why this tells an acknowledged record from a torn write.** A commit returns only after
//! its marker is durable, so every acknowledged command is followed, in the same segment, by
//! a verifiable marker. If such a command is damaged, the marker after it makes the damage
//! "followed by a verifiable record": it is reported as damage, never cut as a tail. The only
//! record a single flipped bit can turn into a "torn tail" is the final marker itself (or
//! unacknowledged bytes after it), and cutting that marker loses no command: the commands
//! before it still verify and are kept. The crash tests check exactly this, for every byte.
//! The price is 24 bytes per commit, no extra fsync.
//!
//! Commands that are complete but were never acknowledged (a crash between the write and the
//! end of the fsync) are kept, as every journal does: replaying a command whose outcome the
//! client never saw is correct, and the client finds it by its client order id. When their
//! marker was torn off, [`JournalWriter::open`] writes and fsyncs a marker after them before
//! appending anything: from then on they are protected like any acknowledged command, and a
//! segment is never sealed without its final marker.
//!
//! The reader streams each segment through a window ([`READ_WINDOW_BYTES`]); when a record
//! does not verify, it reads the rest of the file before judging, so the rule above is always
//! applied to the whole file. The writer reads the last segment whole when it opens.
//!
//! The opposite error is made safe, not silent: a filesystem that persists pages of one write
//! out of order could leave a hole followed by a valid record; that is reported as damage and
//! stops start-up (a false alarm an operator resolves), never as a silent cut.
//!
//! # Fault injection
//!
//! [`sim::SimStorage`] implements [`Storage`] in memory: it crashes at the n-th write, sync or
//! directory operation, keeps synced bytes plus a seeded prefix of unsynced ones, and flips
//! bits on demand. The crash tests in `tests/crash.rs` run hundreds of seeded schedules; any
//! failure names its seed.

mod crc32c;
mod error;
mod format;
mod group;
mod metrics;
mod reader;
mod segment;
pub mod sim;
mod snapshot;
mod storage;
mod writer;

pub use crc32c::{crc32c, extend as crc32c_extend};
pub use error::{Damage, JournalError, TornReason, TornTail};
pub use format::{
    encode_record, RecordKind, RECORD_HEADER_BYTES, RECORD_MAGIC_V1, RECORD_PAYLOAD_MAX_BYTES,
};
pub use group::{GroupCommitConfig, GroupCommitter};
pub use metrics::{JournalMetrics, MetricsSnapshot, FSYNC_LATENCY_BUCKETS};
pub use reader::{JournalReader, Record, READ_WINDOW_BYTES};
pub use segment::{list_segments, segment_file_name, Segment};
pub use snapshot::{
    latest_snapshot, prune_snapshots_before, snapshot_file_name, write_snapshot, LatestSnapshot,
    Snapshot, SnapshotWarning, SNAPSHOT_HEADER_BYTES, SNAPSHOT_MAGIC_V1,
};
pub use storage::{FsFile, FsStorage, Storage, StorageFile};
pub use writer::{JournalWriter, OpenReport, WriterOptions, SEGMENT_SIZE_DEFAULT_BYTES};
