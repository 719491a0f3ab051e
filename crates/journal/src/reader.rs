//! Replay: iterate the records of every segment in order, verifying each one.

use std::io::Read;
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
    loaded: Option<Loaded<S::Reader>>,
    buf: Vec<u8>,
    pos: usize,
    next_seq: u64,
    commands_in_segment: u64,
    ended_with_commit: bool,
    from_seq: u64,
    torn: Option<TornTail>,
    finished: bool,
    window_bytes: usize,
}

/// Bytes read from a segment at a time. Replay streams each segment through this window
/// (grown for a larger record), so memory stays small and the bytes stay in cache between the
/// copy from the kernel and the checksum.
pub const READ_WINDOW_BYTES: usize = 1 << 20;

struct Loaded<R> {
    path: PathBuf,
    is_last: bool,
    file: R,
    /// File offset of `buf[0]`.
    base: u64,
    at_eof: bool,
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
            window_bytes: READ_WINDOW_BYTES,
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

    /// Sets the read window (default [`READ_WINDOW_BYTES`]); tests use tiny windows to push
    /// every record across a window boundary.
    pub fn set_window_bytes(&mut self, bytes: usize) {
        self.window_bytes = bytes.max(1);
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
                base: loaded.base,
                at_eof: loaded.at_eof,
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
                Step::NeedMore { bytes } => self.fill(bytes)?,
                Step::NeedAll => self.fill(usize::MAX)?,
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
        let file = self
            .storage
            .open_read(&seg.path)
            .map_err(JournalError::io("open", &seg.path))?;
        self.buf.clear();
        self.pos = 0;
        self.next_seq = seg.first_seq;
        self.commands_in_segment = 0;
        self.ended_with_commit = false;
        self.next_segment += 1;
        self.segments_read += 1;
        self.loaded = Some(Loaded {
            path: seg.path.clone(),
            is_last: self.next_segment == self.segments.len(),
            file,
            base: 0,
            at_eof: false,
        });
        Ok(())
    }

    /// Slides the window to start at `pos` and reads until it holds `want` bytes from there
    /// (at least a window's worth) or the file ends.
    fn fill(&mut self, want: usize) -> Result<(), JournalError> {
        let loaded = self.loaded.as_mut().expect("a segment is loaded");
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            loaded.base += self.pos as u64;
            self.pos = 0;
        }
        let target = want.max(self.window_bytes);
        if self.buf.len() < target {
            let ask = (target - self.buf.len()) as u64;
            let got = (&mut loaded.file)
                .take(ask)
                .read_to_end(&mut self.buf)
                .map_err(JournalError::io("read", &loaded.path))?;
            if (got as u64) < ask {
                loaded.at_eof = true;
            }
        }
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
