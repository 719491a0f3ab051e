//! Replay: iterate the records of every segment in order, verifying each one.

use std::path::{Path, PathBuf};

use crate::error::{JournalError, TornTail};
use crate::segment::{list_segments, Item, Segment, SegmentScan, Step};
use crate::storage::Storage;

/// One command read back.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
}

/// Reads commands from a sequence number on, across segments, verifying every record (also
/// the ones skipped before `from_seq` in the first segment read) and the sequence.
///
/// The reader never modifies the journal. A torn tail at the end of the last segment ends the
/// iteration and is reported by [`JournalReader::torn_tail`]; [`crate::JournalWriter::open`]
/// truncates it. Damage is an error naming the file and the byte offset.
pub struct JournalReader<S: Storage> {
    storage: S,
    segments: Vec<Segment>,
    /// Index of the next segment to load.
    next_segment: usize,
    segments_read: usize,
    loaded: Option<Loaded>,
    buf: Vec<u8>,
    pos: usize,
    next_seq: u64,
    commands_in_segment: u64,
    ended_with_commit: bool,
    from_seq: u64,
    torn: Option<TornTail>,
    finished: bool,
}

struct Loaded {
    path: PathBuf,
    is_last: bool,
}

impl<S: Storage> JournalReader<S> {
    /// Opens the journal in `dir` for reading the commands with `seq >= from_seq`.
    pub fn open(storage: S, dir: &Path, from_seq: u64) -> Result<Self, JournalError> {
        let segments = list_segments(&storage, dir)?;
        let start = segments.iter().rposition(|s| s.first_seq <= from_seq);
        let (next_segment, next_seq) = match (start, segments.first()) {
            (Some(i), _) => (i, segments[i].first_seq),
            (None, Some(first)) => {
                return Err(JournalError::Pruned {
                    requested: from_seq,
                    first_available: first.first_seq,
                })
            }
            (None, None) => (0, from_seq),
        };
        Ok(JournalReader {
            storage,
            segments,
            next_segment,
            segments_read: 0,
            loaded: None,
            buf: Vec::new(),
            pos: 0,
            next_seq,
            commands_in_segment: 0,
            ended_with_commit: false,
            from_seq,
            torn: None,
            finished: false,
        })
    }

    /// The next command, `None` at the end (clean or torn: see [`JournalReader::torn_tail`]).
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, JournalError> {
        let Some((seq, range)) = self.advance()? else {
            return Ok(None);
        };
        Ok(Some(Record {
            seq,
            payload: &self.buf[range],
        }))
    }

    /// Calls `f` for every remaining command; returns how many.
    pub fn replay(&mut self, mut f: impl FnMut(Record<'_>)) -> Result<u64, JournalError> {
        let mut n = 0;
        while let Some(r) = self.next_record()? {
            f(r);
            n += 1;
        }
        Ok(n)
    }

    /// The torn tail that ended the iteration, if any.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The seq the next command appended to this journal would get (once the iteration ended).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn advance(&mut self) -> Result<Option<(u64, std::ops::Range<usize>)>, JournalError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let Some(loaded) = &self.loaded else {
                self.load_next()?;
                continue;
            };
            let mut scan = SegmentScan {
                path: &loaded.path,
                is_last: loaded.is_last,
                next_seq: self.next_seq,
                commands_in_segment: self.commands_in_segment,
                ended_with_commit: self.ended_with_commit,
            };
            let step = scan.step(&self.buf, self.pos)?;
            self.next_seq = scan.next_seq;
            self.commands_in_segment = scan.commands_in_segment;
            self.ended_with_commit = scan.ended_with_commit;
            match step {
                Step::Item { item, next } => {
                    self.pos = next;
                    if let Item::Command { seq, payload } = item {
                        if seq >= self.from_seq {
                            return Ok(Some((seq, payload)));
                        }
                    }
                }
                Step::End => self.loaded = None,
                Step::Torn(t) => {
                    self.torn = Some(t);
                    self.finish()?;
                }
            }
        }
    }

    fn load_next(&mut self) -> Result<(), JournalError> {
        let Some(seg) = self.segments.get(self.next_segment) else {
            return self.finish();
        };
        // Every segment after the first one read must continue the sequence.
        if self.segments_read > 0 && seg.first_seq != self.next_seq {
            let kind = crate::Damage::SegmentName {
                named: seg.first_seq,
                expected: self.next_seq,
            };
            return Err(JournalError::Damaged {
                file: seg.path.clone(),
                offset: 0,
                kind,
            });
        }
        self.buf = self
            .storage
            .read(&seg.path)
            .map_err(JournalError::io("read", &seg.path))?;
        self.pos = 0;
        self.next_seq = seg.first_seq;
        self.commands_in_segment = 0;
        self.ended_with_commit = false;
        self.next_segment += 1;
        self.segments_read += 1;
        self.loaded = Some(Loaded {
            path: seg.path.clone(),
            is_last: self.next_segment == self.segments.len(),
        });
        Ok(())
    }

    fn finish(&mut self) -> Result<(), JournalError> {
        self.finished = true;
        self.loaded = None;
        if !self.segments.is_empty() && self.from_seq > self.next_seq {
            return Err(JournalError::BeyondEnd {
                requested: self.from_seq,
                next_seq: self.next_seq,
            });
        }
        Ok(())
    }
}

/// Owned records, for convenience (allocates one `Vec` per record; replay should prefer
/// [`JournalReader::next_record`]).
impl<S: Storage> Iterator for JournalReader<S> {
    type Item = Result<(u64, Vec<u8>), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(r)) => Some(Ok((r.seq, r.payload.to_vec()))),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}
