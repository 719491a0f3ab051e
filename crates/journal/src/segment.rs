//! Segment files: names, listing, and the one-record step of the scanner that encodes the
//! recovery rules (torn tail or damage).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Damage, JournalError, TornReason, TornTail};
use crate::format::{
    decode_header, find_verifiable_header, RecordKind, RECORD_HEADER_BYTES,
    RECORD_PAYLOAD_MAX_BYTES,
};
use crate::storage::Storage;

const PREFIX: &str = "journal-";
const SUFFIX: &str = ".log";

/// `journal-<first_seq:020>.log`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{PREFIX}{first_seq:020}{SUFFIX}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub first_seq: u64,
    pub path: PathBuf,
}

/// The segments of `dir`, oldest first. Other files are ignored.
pub fn list_segments<S: Storage>(storage: &S, dir: &Path) -> Result<Vec<Segment>, JournalError> {
    let names = storage.list(dir).map_err(JournalError::io("list", dir))?;
    let mut segs: Vec<Segment> = names
        .iter()
        .filter_map(|n| {
            Some(Segment {
                first_seq: parse_segment_name(n)?,
                path: dir.join(n),
            })
        })
        .collect();
    segs.sort_by_key(|s| s.first_seq);
    Ok(segs)
}

/// One decoded item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Command { seq: u64, payload: Range<usize> },
    Commit { seq: u64 },
}

/// The outcome of one scanner step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Item {
        item: Item,
        next: usize,
    },
    End,
    Torn(TornTail),
    /// The window ends inside this record: it needs `bytes` from `pos` (only when not
    /// `at_eof`).
    NeedMore {
        bytes: usize,
    },
    /// The record does not verify and deciding torn or damaged needs the rest of the file
    /// (only when not `at_eof`).
    NeedAll,
}

/// Scanner position inside one segment's bytes, seen through a window `buf` that starts at
/// file offset `base` and, if `at_eof`, ends at the end of the file.
pub struct SegmentScan<'a> {
    pub path: &'a Path,
    pub is_last: bool,
    pub base: u64,
    pub at_eof: bool,
    /// The seq the next command must carry.
    pub next_seq: u64,
    /// Commands seen in this segment since its start (a commit marker needs one before it).
    pub commands_in_segment: u64,
    /// Whether the last item was a commit marker.
    pub ended_with_commit: bool,
}

impl SegmentScan<'_> {
    fn damage(&self, offset: usize, kind: Damage) -> JournalError {
        JournalError::Damaged {
            file: self.path.to_owned(),
            offset: self.base + offset as u64,
            kind,
        }
    }

    fn torn(&self, buf: &[u8], offset: usize, reason: TornReason) -> Step {
        Step::Torn(TornTail {
            file: self.path.to_owned(),
            offset: self.base + offset as u64,
            bytes: (buf.len() - offset) as u64,
            reason,
        })
    }

    /// Decodes the record at `pos`, applying the recovery rules of the crate doc, and
    /// advances the sequence state.
    pub fn step(&mut self, buf: &[u8], pos: usize) -> Result<Step, JournalError> {
        let step = self.classify(buf, pos)?;
        match &step {
            Step::Item {
                item: Item::Command { .. },
                ..
            } => {
                self.next_seq += 1;
                self.commands_in_segment += 1;
                self.ended_with_commit = false;
            }
            Step::Item {
                item: Item::Commit { .. },
                ..
            } => self.ended_with_commit = true,
            Step::End if !self.is_last && !self.ended_with_commit => {
                return Err(self.damage(pos, Damage::SealedSegmentUnterminated));
            }
            _ => {}
        }
        Ok(step)
    }

    #[inline]
    fn classify(&self, buf: &[u8], pos: usize) -> Result<Step, JournalError> {
        let rest = &buf[pos..];
        if rest.len() < RECORD_HEADER_BYTES && !self.at_eof {
            return Ok(Step::NeedMore {
                bytes: RECORD_HEADER_BYTES,
            });
        }
        if rest.is_empty() {
            return Ok(Step::End);
        }
        if rest.len() < RECORD_HEADER_BYTES {
            return if self.is_last {
                Ok(self.torn(buf, pos, TornReason::PartialHeader))
            } else {
                Err(self.damage(pos, Damage::TruncatedRecord))
            };
        }
        let Some(h) = decode_header(rest) else {
            return if !self.at_eof {
                Ok(Step::NeedAll)
            } else if self.is_last && find_verifiable_header(buf, pos + 1).is_none() {
                Ok(self.torn(buf, pos, TornReason::HeaderChecksum))
            } else {
                Err(self.damage(pos, Damage::HeaderChecksum))
            };
        };
        let kind = h.kind();
        let len = h.payload_len as usize;
        let sane = h.reserved == 0
            && len <= RECORD_PAYLOAD_MAX_BYTES
            && (kind == Some(RecordKind::Command)
                || (kind == Some(RecordKind::Commit) && len == 0));
        if !sane {
            let kind = Damage::Unsupported {
                kind: h.kind_byte,
                reserved: h.reserved,
                len: h.payload_len,
            };
            return Err(self.damage(pos, kind));
        }
        let start = pos + RECORD_HEADER_BYTES;
        let end = start + len;
        if end > buf.len() {
            return if !self.at_eof {
                Ok(Step::NeedMore { bytes: end - pos })
            } else if self.is_last {
                Ok(self.torn(buf, pos, TornReason::PartialPayload))
            } else {
                Err(self.damage(pos, Damage::TruncatedRecord))
            };
        }
        if !h.payload_matches(&buf[start..end]) {
            return if !self.at_eof {
                Ok(Step::NeedAll)
            } else if self.is_last && find_verifiable_header(buf, end).is_none() {
                Ok(self.torn(buf, pos, TornReason::RecordChecksum))
            } else {
                Err(self.damage(pos, Damage::RecordChecksum { seq: h.seq }))
            };
        }
        let item = if kind == Some(RecordKind::Command) {
            if h.seq != self.next_seq {
                return Err(self.damage(
                    pos,
                    Damage::SequenceGap {
                        expected: self.next_seq,
                        found: h.seq,
                    },
                ));
            }
            Item::Command {
                seq: h.seq,
                payload: start..end,
            }
        } else {
            let last = self.next_seq.wrapping_sub(1);
            if self.commands_in_segment == 0 || h.seq != last {
                return Err(self.damage(
                    pos,
                    Damage::CommitMismatch {
                        expected: last,
                        found: h.seq,
                    },
                ));
            }
            Item::Commit { seq: h.seq }
        };
        Ok(Step::Item { item, next: end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(7), "journal-00000000000000000007.log");
        assert_eq!(
            parse_segment_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_name("journal-7.log"), None);
        assert_eq!(
            parse_segment_name("journal-00000000000000000007.log.tmp"),
            None
        );
        assert_eq!(
            parse_segment_name("snapshot-00000000000000000007.snap"),
            None
        );
    }
}
