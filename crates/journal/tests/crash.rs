//! Seeded crash tests on the fault-injecting storage. A failure prints its seed; rerun one
//! with `JOURNAL_SEED=<seed> cargo test -p tokex-journal --test crash`.

use std::path::Path;

use tokex_journal::sim::{SimRng, SimStorage};
use tokex_journal::{
    latest_snapshot, list_segments, write_snapshot, Damage, JournalError, JournalReader,
    JournalWriter, Storage, TornReason, WriterOptions, RECORD_HEADER_BYTES,
};

const DIR: &str = "/journal";

fn seeds(default_count: u64) -> Vec<u64> {
    match std::env::var("JOURNAL_SEED") {
        Ok(s) => vec![s.parse().expect("JOURNAL_SEED is a u64")],
        Err(_) => (0..default_count).collect(),
    }
}

fn random_payload(rng: &mut SimRng, seq: u64) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1 => rng.range(100, 400),
        _ => rng.range(1, 64),
    } as usize;
    let mut p: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    if len >= 8 {
        p[..8].copy_from_slice(&seq.to_le_bytes());
    }
    p
}

type Recovered = (u64, Vec<Vec<u8>>, Option<tokex_journal::TornTail>);

/// Reads the whole journal; returns the first seq present and the payloads.
fn read_all(storage: &SimStorage) -> Result<Recovered, JournalError> {
    read_all_window(storage, tokex_journal::READ_WINDOW_BYTES)
}

fn read_all_window(storage: &SimStorage, window: usize) -> Result<Recovered, JournalError> {
    let dir = Path::new(DIR);
    let first = list_segments(storage, dir)?
        .first()
        .map_or(1, |s| s.first_seq);
    let mut r = JournalReader::open(storage.clone(), dir, first)?;
    r.set_window_bytes(window);
    let mut out = Vec::new();
    let mut expect = first;
    while let Some(rec) = r.next_record()? {
        assert_eq!(rec.seq, expect, "reader yields consecutive seqs");
        expect += 1;
        out.push(rec.payload.to_vec());
    }
    Ok((first, out, r.torn_tail().cloned()))
}

/// Several generations of: open (recovering), append and commit at random, crash at a
/// random fault point, reboot keeping a random prefix of unsynced bytes. After every reboot:
/// every acknowledged command is present and intact, nothing is invented, and the writer
/// continues with the next seq.
fn crash_schedule(seed: u64) {
    let mut rng = SimRng::new(seed);
    let storage = SimStorage::new();
    let dir = Path::new(DIR);
    let opts = WriterOptions {
        segment_size_max_bytes: rng.range(64, 3000),
        first_seq: 1,
    };
    let mut written: Vec<Vec<u8>> = Vec::new(); // payload of seq i + 1
    let mut acked = 0u64;
    let mut prune_floor = 1u64;
    let mut last_torn = None;
    for generation in 0..6 {
        storage.crash_after(rng.below(80));
        let run = (|| -> Result<(), JournalError> {
            let mut w = JournalWriter::open(storage.clone(), dir, opts.clone())?;
            assert_eq!(
                w.next_seq(),
                written.len() as u64 + 1,
                "seed {seed} gen {generation}: writer resumes"
            );
            for _ in 0..rng.range(1, 60) {
                match rng.below(12) {
                    0..=2 => acked = w.commit()?,
                    3 if acked > 2 => {
                        let upto = rng.range(1, acked);
                        prune_floor = prune_floor.max(upto); // a crash may leave it half done
                        w.prune_before(upto)?;
                    }
                    _ => {
                        let seq = w.next_seq();
                        let p = random_payload(&mut rng, seq);
                        assert_eq!(w.append(&p)?, seq);
                        written.push(p);
                    }
                }
            }
            if rng.chance(1, 2) {
                acked = w.commit()?;
            }
            Ok(())
        })();
        if let Err(e) = &run {
            assert!(
                storage.has_crashed(),
                "seed {seed}: only the injected crash may fail: {e}"
            );
        }
        storage.crash_now();
        storage.restart(&mut rng);

        let window = rng.range(1, 300) as usize;
        let (first, records, torn) = read_all_window(&storage, window)
            .unwrap_or_else(|e| panic!("seed {seed} gen {generation}: recovery failed: {e}"));
        assert!(
            first <= prune_floor,
            "seed {seed}: pruned past the requested floor"
        );
        let last = first - 1 + records.len() as u64;
        assert!(
            last >= acked,
            "seed {seed} gen {generation}: acknowledged seq {acked} lost (journal ends at {last})"
        );
        for (i, p) in records.iter().enumerate() {
            let seq = first + i as u64;
            assert_eq!(
                p,
                &written[seq as usize - 1],
                "seed {seed}: seq {seq} differs from what was appended"
            );
        }
        if let Some(t) = &torn {
            assert!(t.bytes > 0);
        }
        last_torn = torn;
        written.truncate(last as usize); // the unacknowledged rest is gone for good
    }
    // Finally the writer continues cleanly and everything reads back.
    let mut w = JournalWriter::open(storage.clone(), dir, opts).unwrap();
    assert_eq!(
        w.open_report().torn_tail,
        last_torn,
        "seed {seed}: the writer cuts the tail the reader saw"
    );
    let seq = w.append(b"after").unwrap();
    assert_eq!(seq, written.len() as u64 + 1);
    w.commit().unwrap();
    let (_, records, torn) = read_all(&storage).unwrap();
    assert!(torn.is_none());
    assert_eq!(records.last().unwrap(), b"after");
}

#[test]
fn crash_at_random_points_loses_no_acknowledged_command() {
    for seed in seeds(400) {
        crash_schedule(seed);
    }
}

/// Builds a journal where every command was acknowledged; returns the storage, the
/// payloads, and each segment's record boundaries `(path, [(start, end, is_marker)])`.
type Layout = Vec<(std::path::PathBuf, Vec<(usize, usize, bool)>)>;

fn acknowledged_journal(seed: u64) -> (SimStorage, Vec<Vec<u8>>, Layout) {
    let mut rng = SimRng::new(seed);
    let storage = SimStorage::new();
    let dir = Path::new(DIR);
    let opts = WriterOptions {
        segment_size_max_bytes: rng.range(100, 600),
        first_seq: 1,
    };
    let mut w = JournalWriter::open(storage.clone(), dir, opts).unwrap();
    let mut written = Vec::new();
    for _ in 0..rng.range(5, 30) {
        let seq = w.next_seq();
        let p = random_payload(&mut rng, seq);
        w.append(&p).unwrap();
        written.push(p);
        if rng.chance(1, 3) {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    let mut layout = Vec::new();
    for seg in list_segments(&storage, dir).unwrap() {
        let bytes = storage.read(&seg.path).unwrap();
        let mut recs = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            recs.push((pos, pos + RECORD_HEADER_BYTES + len, bytes[pos + 1] == 2));
            pos += RECORD_HEADER_BYTES + len;
        }
        layout.push((seg.path, recs));
    }
    (storage, written, layout)
}

/// A bit flipped anywhere in an acknowledged journal is either reported as damage naming the
/// file and the offset of the record that holds it, or (only for the final commit marker)
/// cut as a torn tail with every command still intact. Every byte of every file is tried.
#[test]
fn bit_flips_in_acknowledged_records_are_never_silent() {
    for seed in seeds(12) {
        let (storage, written, layout) = acknowledged_journal(seed);
        let mut rng = SimRng::new(seed ^ 0xF11F);
        let last_file = layout.len() - 1;
        for (fi, (path, recs)) in layout.iter().enumerate() {
            for &(start, end, is_marker) in recs {
                for offset in start..end {
                    let bit = rng.below(8) as u8;
                    storage.flip_bit(path, offset, bit);
                    let final_marker = fi == last_file && end == recs.last().unwrap().1;
                    match read_all_window(&storage, 1 + offset % 97) {
                        Err(JournalError::Damaged {
                            file,
                            offset: at,
                            kind,
                        }) => {
                            assert_eq!(&file, path, "seed {seed}: damage names the file");
                            assert_eq!(
                                at as usize, start,
                                "seed {seed}: flip at {offset} reported at {at} ({kind})"
                            );
                            assert!(
                                !final_marker,
                                "seed {seed}: final marker flip is a torn tail"
                            );
                        }
                        Ok((_, records, torn)) => {
                            assert!(
                                final_marker && is_marker,
                                "seed {seed}: flip at {} byte {offset} was silent",
                                path.display()
                            );
                            assert_eq!(records, written, "seed {seed}: commands intact");
                            let t = torn.expect("reported");
                            assert_eq!((t.offset as usize, t.bytes as usize), (start, end - start));
                        }
                        Err(e) => panic!("seed {seed}: unexpected error {e}"),
                    }
                    storage.flip_bit(path, offset, bit);
                }
            }
        }
        // The writer refuses to open over damage in the last segment, and names the offset.
        let (path, recs) = &layout[last_file];
        if recs.len() >= 2 {
            let (start, _, _) = recs[recs.len() - 2];
            storage.flip_bit(path, start + RECORD_HEADER_BYTES - 1, 0);
            match JournalWriter::open(storage.clone(), Path::new(DIR), WriterOptions::default()) {
                Err(JournalError::Damaged { offset, .. }) => assert_eq!(offset as usize, start),
                Err(e) => panic!("unexpected {e}"),
                Ok(_) => panic!("seed {seed}: writer opened over damage"),
            }
        }
    }
}

#[test]
fn final_marker_flip_is_cut_and_writing_continues() {
    let (storage, written, layout) = acknowledged_journal(7);
    let (path, recs) = layout.last().unwrap();
    let (start, end, _) = *recs.last().unwrap();
    storage.flip_bit(path, start + 3, 1);
    let mut w =
        JournalWriter::open(storage.clone(), Path::new(DIR), WriterOptions::default()).unwrap();
    let t = w.open_report().torn_tail.clone().unwrap();
    assert_eq!(
        (t.offset as usize, t.bytes as usize, t.reason),
        (start, end - start, TornReason::HeaderChecksum)
    );
    assert_eq!(w.next_seq(), written.len() as u64 + 1);
    w.append(b"next").unwrap();
    w.commit().unwrap();
    let (_, records, torn) = read_all(&storage).unwrap();
    assert!(torn.is_none());
    assert_eq!(&records[..written.len()], &written[..]);
}

#[test]
fn damage_in_sealed_segments_and_missing_segments() {
    // A sealed segment cut at a record boundary: its final marker is gone.
    let (storage, _, layout) = acknowledged_journal(3);
    assert!(layout.len() >= 3, "the schedule rolls several segments");
    let (path, recs) = &layout[0];
    let (marker_start, _, is_marker) = *recs.last().unwrap();
    assert!(is_marker);
    storage.truncate(path, marker_start as u64).unwrap();
    match read_all(&storage) {
        Err(JournalError::Damaged { file, offset, kind }) => {
            assert_eq!(
                (&file, offset as usize, kind),
                (path, marker_start, Damage::SealedSegmentUnterminated)
            )
        }
        other => panic!("{other:?}"),
    }
    // Cut inside a record of a sealed segment.
    storage.truncate(path, marker_start as u64 - 1).unwrap();
    assert!(matches!(
        read_all(&storage),
        Err(JournalError::Damaged {
            kind: Damage::TruncatedRecord,
            ..
        })
    ));

    // A middle segment removed: the next one does not continue the sequence.
    let (storage, _, layout) = acknowledged_journal(4);
    storage.remove(&layout[1].0).unwrap();
    match read_all(&storage) {
        Err(JournalError::Damaged {
            file,
            offset: 0,
            kind: Damage::SegmentName { .. },
        }) => {
            assert_eq!(file, layout[2].0)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sequence_gap_is_damage_even_at_the_tail() {
    let (storage, written, layout) = acknowledged_journal(5);
    let (path, _) = layout.last().unwrap();
    let len = storage.durable_len(path).unwrap();
    let mut frame = Vec::new();
    let next = written.len() as u64 + 1;
    tokex_journal::encode_record(
        &mut frame,
        tokex_journal::RecordKind::Command,
        next + 1,
        b"skips one",
    );
    storage.write_at(path, len, &frame);
    match read_all(&storage) {
        Err(JournalError::Damaged {
            offset,
            kind: Damage::SequenceGap { expected, found },
            ..
        }) => {
            assert_eq!((offset as usize, expected, found), (len, next, next + 1))
        }
        other => panic!("{other:?}"),
    }
}

/// Crashing anywhere in `write_snapshot` leaves the previous snapshot as the latest valid
/// one, or the new one complete; never a corrupt one, never a warning for a temp file.
#[test]
fn snapshot_writes_are_atomic_under_crashes() {
    for seed in seeds(200) {
        let mut rng = SimRng::new(seed);
        let storage = SimStorage::new();
        let dir = Path::new("/snap");
        write_snapshot(&storage, dir, 10, b"state at ten").unwrap();
        storage.crash_after(rng.below(6));
        let big: Vec<u8> = (0..rng.range(0, 5000)).map(|i| i as u8).collect();
        let done = write_snapshot(&storage, dir, 20, &big).is_ok();
        storage.crash_now();
        storage.restart(&mut rng);
        let latest = latest_snapshot(&storage, dir).unwrap();
        assert!(
            latest.skipped.is_empty(),
            "seed {seed}: {:?}",
            latest.skipped
        );
        let snap = latest.snapshot.unwrap();
        match snap.seq {
            10 => assert!(!done, "seed {seed}: a completed snapshot was lost"),
            20 => assert_eq!(snap.bytes, big),
            s => panic!("seed {seed}: snapshot {s}"),
        }
    }
}
