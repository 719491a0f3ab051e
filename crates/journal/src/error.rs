//! Errors and recovery reports.

use std::io;
use std::path::PathBuf;

/// Why start-up (or a read) must stop.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system error.
    #[error("journal I/O error: {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record that was (or may have been) acknowledged does not verify. Nothing is dropped:
    /// an operator must look at the file.
    #[error("journal damaged: {} at byte offset {offset}: {kind}", file.display())]
    Damaged {
        file: PathBuf,
        offset: u64,
        kind: Damage,
    },
    /// An earlier write or fsync failed; the writer refuses to go on (after a failed fsync the
    /// kernel may have dropped the dirty pages, so a retry could report success falsely).
    #[error("journal writer stopped after an earlier I/O failure")]
    Poisoned,
    /// Reading was asked to start before the oldest record still kept.
    #[error("cannot read from seq {requested}: records before seq {first_available} were pruned")]
    Pruned {
        requested: u64,
        first_available: u64,
    },
    /// Reading was asked to start after the end of the journal (a snapshot newer than the
    /// journal: acknowledged records are missing).
    #[error("cannot read from seq {requested}: the journal ends before it (next seq {next_seq})")]
    BeyondEnd { requested: u64, next_seq: u64 },
    /// A payload over [`crate::RECORD_PAYLOAD_MAX_BYTES`].
    #[error("payload of {len} bytes is over the limit of {max} bytes", max = crate::RECORD_PAYLOAD_MAX_BYTES)]
    PayloadTooLarge { len: usize },
    /// The group committer's writer failed; the reason as first reported.
    #[error("group committer stopped: {0}")]
    CommitterStopped(String),
}

impl JournalError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> JournalError {
        let path = path.into();
        move |source| JournalError::Io { op, path, source }
    }
}

/// What is wrong at a damaged offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    #[error(
        "record header fails its checksum (and a valid record follows, so this is not a torn tail)"
    )]
    HeaderChecksum,
    #[error("record seq {seq} fails its checksum (and a valid record follows, so this is not a torn tail)")]
    RecordChecksum { seq: u64 },
    #[error("record cut short in a sealed segment")]
    TruncatedRecord,
    #[error("sequence gap: expected seq {expected}, found {found}")]
    SequenceGap { expected: u64, found: u64 },
    #[error("commit marker for seq {found} where the last command is seq {expected}")]
    CommitMismatch { expected: u64, found: u64 },
    #[error("unsupported record (kind {kind}, reserved {reserved}, payload {len} bytes)")]
    Unsupported { kind: u8, reserved: u16, len: u32 },
    #[error("sealed segment does not end with a commit marker")]
    SealedSegmentUnterminated,
    #[error("segment named for seq {named} but the journal continues at seq {expected}")]
    SegmentName { named: u64, expected: u64 },
}

/// Why a tail was judged torn.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TornReason {
    /// Fewer bytes than a header remain.
    PartialHeader,
    /// A valid header whose payload runs past the end of the file.
    PartialPayload,
    /// A header failing its checksum with no valid header anywhere after it.
    HeaderChecksum,
    /// The last complete record fails its checksum with no valid header after it.
    RecordChecksum,
}

/// A torn tail found at the end of the last segment: the bytes from `offset` to the end of
/// `file` are an unacknowledged, partially persisted write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    pub bytes: u64,
    pub reason: TornReason,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "torn tail in {}: {} bytes from byte offset {} ({:?})",
            self.file.display(),
            self.bytes,
            self.offset,
            self.reason
        )
    }
}
