//! Writer, reader, snapshots and group commit, on the simulated storage and on a real
//! filesystem (temporary directories), including kill-like damage made by hand.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tokex_journal::sim::SimStorage;
use tokex_journal::{
    encode_record, latest_snapshot, list_segments, write_snapshot, Damage, FsStorage,
    GroupCommitConfig, GroupCommitter, JournalError, JournalReader, JournalWriter, RecordKind,
    Storage, TornReason, WriterOptions, RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX_BYTES,
};

fn payload(seq: u64) -> Vec<u8> {
    let n = (seq % 50) as usize;
    let mut p = seq.to_le_bytes().to_vec();
    p.extend((0..n).map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8)));
    p
}

fn read_from<S: Storage>(
    storage: &S,
    dir: &Path,
    from: u64,
) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    JournalReader::open(storage.clone(), dir, from)?.collect()
}

fn small_segments() -> WriterOptions {
    WriterOptions {
        segment_size_max_bytes: 1024,
        first_seq: 1,
    }
}

#[test]
fn round_trip_across_segments_and_from_any_seq() {
    let storage = SimStorage::new();
    let dir = Path::new("/j");
    let mut w = JournalWriter::open(storage.clone(), dir, small_segments()).unwrap();
    for seq in 1..=300 {
        assert_eq!(w.append(&payload(seq)).unwrap(), seq);
        if seq % 7 == 0 {
            assert_eq!(w.commit().unwrap(), seq);
        }
    }
    assert_eq!(w.commit().unwrap(), 300);
    assert_eq!(w.commit().unwrap(), 300, "an empty commit is a no-op");
    assert!(w.segments().len() > 5);
    for seg in list_segments(&storage, dir).unwrap() {
        assert!(storage.durable_len(&seg.path).unwrap() <= 1024 + 2 * RECORD_HEADER_BYTES);
    }
    for from in [1, 2, 150, 299, 300, 301] {
        let got = read_from(&storage, dir, from).unwrap();
        let want: Vec<_> = (from..=300).map(|s| (s, payload(s))).collect();
        assert_eq!(got, want, "from {from}");
    }
    assert!(matches!(
        read_from(&storage, dir, 302),
        Err(JournalError::BeyondEnd {
            requested: 302,
            next_seq: 301
        })
    ));
    let m = w.metrics().snapshot();
    assert_eq!(m.records, 300);
    assert!(m.fsyncs >= 300 / 7);
    assert_eq!(m.fsync_latency_log2_us.iter().sum::<u64>(), m.fsyncs);

    // Pruning what a snapshot at 150 covers keeps every command from 151 on.
    let removed = w.prune_before(151).unwrap();
    assert!(!removed.is_empty());
    let first = list_segments(&storage, dir).unwrap()[0].first_seq;
    assert!(first <= 151);
    assert!(matches!(
        read_from(&storage, dir, 1),
        Err(JournalError::Pruned { .. })
    ));
    assert_eq!(read_from(&storage, dir, 151).unwrap().len(), 150);
    drop(w);
    let w = JournalWriter::open(storage.clone(), dir, small_segments()).unwrap();
    assert_eq!(w.next_seq(), 301);
}

#[test]
fn empty_journal_and_custom_first_seq() {
    let storage = SimStorage::new();
    let dir = Path::new("/j");
    assert!(read_from(&storage, dir, 1).unwrap().is_empty());
    let opts = WriterOptions {
        first_seq: 1000,
        ..WriterOptions::default()
    };
    let mut w = JournalWriter::open(storage.clone(), dir, opts).unwrap();
    assert_eq!((w.next_seq(), w.durable_seq()), (1000, 999));
    w.append(b"a").unwrap();
    w.commit().unwrap();
    assert_eq!(
        read_from(&storage, dir, 1000).unwrap(),
        vec![(1000, b"a".to_vec())]
    );
    assert!(matches!(
        read_from(&storage, dir, 5),
        Err(JournalError::Pruned {
            first_available: 1000,
            ..
        })
    ));
}

#[test]
fn limits_and_poisoning() {
    let storage = SimStorage::new();
    let dir = Path::new("/j");
    let mut w = JournalWriter::open(storage.clone(), dir, WriterOptions::default()).unwrap();
    let big = vec![0u8; RECORD_PAYLOAD_MAX_BYTES + 1];
    assert!(matches!(
        w.append(&big),
        Err(JournalError::PayloadTooLarge { .. })
    ));
    w.append(b"x").unwrap();
    storage.crash_after(1); // the write succeeds, the fsync fails
    assert!(matches!(
        w.commit(),
        Err(JournalError::Io {
            op: "fdatasync",
            ..
        })
    ));
    assert!(matches!(w.append(b"y"), Err(JournalError::Poisoned)));
    assert!(matches!(w.commit(), Err(JournalError::Poisoned)));
}

/// Hand-made tails on the simulated disk: each kind of torn tail, and damage followed by a
/// valid record.
#[test]
fn torn_tails_are_cut_and_reported_damage_is_not() {
    type Mangle = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Mangle, Option<TornReason>)> = vec![
        (
            "partial header",
            Box::new(|t| t.truncate(RECORD_HEADER_BYTES - 1)),
            Some(TornReason::PartialHeader),
        ),
        (
            "partial payload",
            Box::new(|t| t.truncate(RECORD_HEADER_BYTES + 3)),
            Some(TornReason::PartialPayload),
        ),
        (
            "zeroed payload",
            Box::new(|t| t[RECORD_HEADER_BYTES..].fill(0)),
            Some(TornReason::RecordChecksum),
        ),
        (
            "garbage",
            Box::new(|t| t.iter_mut().for_each(|b| *b = b.wrapping_mul(7) ^ 0x5A)),
            Some(TornReason::HeaderChecksum),
        ),
        (
            "zeros",
            Box::new(|t| t.fill(0)),
            Some(TornReason::HeaderChecksum),
        ),
        (
            "bad payload, marker after",
            Box::new(|t| t[RECORD_HEADER_BYTES + 1] ^= 4),
            None,
        ),
        ("bad header, marker after", Box::new(|t| t[9] ^= 1), None),
    ];
    for (name, mangle, expect) in cases {
        let storage = SimStorage::new();
        let dir = Path::new("/j");
        let mut w = JournalWriter::open(storage.clone(), dir, WriterOptions::default()).unwrap();
        for seq in 1..=10 {
            w.append(&payload(seq)).unwrap();
        }
        w.commit().unwrap();
        drop(w);
        let path = list_segments(&storage, dir).unwrap()[0].path.clone();
        let clean = storage.durable_len(&path).unwrap();
        // The tail: command 11 and its marker, as a commit would write them.
        let mut tail = Vec::new();
        encode_record(&mut tail, RecordKind::Command, 11, &[0xAB; 40]);
        encode_record(&mut tail, RecordKind::Commit, 11, &[]);
        mangle(&mut tail);
        storage.write_at(&path, clean, &tail);

        let reader = JournalReader::open(storage.clone(), dir, 1).unwrap();
        match expect {
            Some(reason) => {
                let mut reader = reader;
                let n = reader.replay(|_| {}).unwrap();
                assert_eq!(n, 10, "{name}");
                let t = reader.torn_tail().unwrap().clone();
                assert_eq!(
                    (t.offset as usize, t.bytes as usize, t.reason),
                    (clean, tail.len(), reason),
                    "{name}"
                );
                let mut w =
                    JournalWriter::open(storage.clone(), dir, WriterOptions::default()).unwrap();
                assert_eq!(w.open_report().torn_tail, Some(t), "{name}");
                assert_eq!(
                    storage.durable_len(&path).unwrap(),
                    clean,
                    "{name}: cut back to the last record"
                );
                assert_eq!(w.append(b"after").unwrap(), 11, "{name}");
                w.commit().unwrap();
                let all = read_from(&storage, dir, 1).unwrap();
                assert_eq!(all.len(), 11);
                assert_eq!(all[10], (11, b"after".to_vec()));
            }
            None => {
                let err = reader.collect::<Result<Vec<_>, _>>().unwrap_err();
                match err {
                    JournalError::Damaged { file, offset, .. } => {
                        assert_eq!((file, offset as usize), (path.clone(), clean), "{name}");
                    }
                    e => panic!("{name}: {e}"),
                }
                assert!(
                    JournalWriter::open(storage.clone(), dir, WriterOptions::default()).is_err(),
                    "{name}"
                );
                assert_eq!(
                    storage.durable_len(&path).unwrap(),
                    clean + tail.len(),
                    "{name}: nothing cut"
                );
            }
        }
    }
}

#[test]
fn snapshots_fall_back_with_a_warning() {
    let storage = SimStorage::new();
    let dir = Path::new("/s");
    assert_eq!(latest_snapshot(&storage, dir).unwrap().snapshot, None);
    write_snapshot(&storage, dir, 5, b"five").unwrap();
    let p9 = write_snapshot(&storage, dir, 9, b"nine!").unwrap();
    let l = latest_snapshot(&storage, dir).unwrap();
    assert_eq!((l.snapshot.unwrap().seq, l.skipped.len()), (9, 0));
    storage.flip_bit(&p9, tokex_journal::SNAPSHOT_HEADER_BYTES + 2, 3);
    let l = latest_snapshot(&storage, dir).unwrap();
    let s = l.snapshot.unwrap();
    assert_eq!((s.seq, s.bytes.as_slice()), (5, b"five".as_slice()));
    assert_eq!(l.skipped.len(), 1);
    assert_eq!(l.skipped[0].path, p9);
    assert!(l.skipped[0].reason.contains("checksum"));
    let removed = tokex_journal::prune_snapshots_before(&storage, dir, 9).unwrap();
    assert_eq!(removed.len(), 1);
    let l = latest_snapshot(&storage, dir).unwrap();
    assert!(
        l.snapshot.is_none() && l.skipped.len() == 1,
        "every snapshot corrupt: none, with the warning"
    );
}

fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(name).tempdir().unwrap()
}

#[test]
fn real_filesystem_kill_like_garbage_and_partial_record() {
    let tmp = temp_dir("tokex-journal-fs");
    let dir = tmp.path().join("journal");
    let opts = WriterOptions {
        segment_size_max_bytes: 4096,
        first_seq: 1,
    };
    let mut w = JournalWriter::open(FsStorage, &dir, opts.clone()).unwrap();
    for seq in 1..=500 {
        w.append(&payload(seq)).unwrap();
        if seq % 50 == 0 {
            w.commit().unwrap();
        }
    }
    drop(w); // a process killed right after a commit
    let segs = list_segments(&FsStorage, &dir).unwrap();
    assert!(segs.len() > 3);
    let last = segs.last().unwrap().path.clone();
    let clean = std::fs::metadata(&last).unwrap().len();

    // 1. Half a record appended, as a kill in the middle of a write leaves it.
    let mut frame = Vec::new();
    encode_record(&mut frame, RecordKind::Command, 501, &[7u8; 100]);
    OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(&frame[..frame.len() / 2])
        .unwrap();
    let mut w = JournalWriter::open(FsStorage, &dir, opts.clone()).unwrap();
    let t = w.open_report().torn_tail.clone().unwrap();
    assert_eq!(
        (t.file.as_path(), t.offset, t.bytes),
        (last.as_path(), clean, frame.len() as u64 / 2)
    );
    assert_eq!(t.reason, TornReason::PartialPayload);
    assert_eq!(std::fs::metadata(&last).unwrap().len(), clean);
    assert_eq!(w.append(b"five hundred and one").unwrap(), 501);
    w.commit().unwrap();
    drop(w);

    // 2. Garbage at the end.
    let garbage: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
    let len = std::fs::metadata(&last).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(&garbage)
        .unwrap();
    let mut r = JournalReader::open(FsStorage, &dir, 1).unwrap();
    assert_eq!(r.replay(|_| {}).unwrap(), 501);
    assert_eq!(r.torn_tail().unwrap().offset, len);
    let w = JournalWriter::open(FsStorage, &dir, opts.clone()).unwrap();
    assert_eq!(w.open_report().torn_tail.as_ref().unwrap().bytes, 300);
    assert_eq!(w.next_seq(), 502);
    drop(w);
    let all = read_from(&FsStorage, &dir, 1).unwrap();
    assert_eq!(all.len(), 501);
    assert!(all[..500].iter().all(|(s, p)| *p == payload(*s)));

    // 3. A flipped bit in an acknowledged record of a sealed segment: start-up stops, naming
    //    the file and the offset of the record.
    let first = &segs[0].path;
    let mut bytes = std::fs::read(first).unwrap();
    let len0 = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let second_record = RECORD_HEADER_BYTES + len0;
    bytes[second_record + RECORD_HEADER_BYTES + 2] ^= 0x10;
    std::fs::write(first, &bytes).unwrap();
    match read_from(&FsStorage, &dir, 1) {
        Err(e @ JournalError::Damaged { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&first.display().to_string())
                    && msg.contains(&format!("offset {second_record}")),
                "{msg}"
            );
            assert!(matches!(
                e,
                JournalError::Damaged {
                    kind: Damage::RecordChecksum { seq: 2 },
                    ..
                }
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn real_filesystem_snapshots() {
    let tmp = temp_dir("tokex-snap-fs");
    let dir = tmp.path();
    write_snapshot(&FsStorage, dir, 3, b"three").unwrap();
    std::fs::write(dir.join("snapshot-00000000000000000004.snap.tmp"), b"half").unwrap();
    std::fs::write(
        dir.join("snapshot-00000000000000000007.snap"),
        b"TXSNAP\x00\x01 short",
    )
    .unwrap();
    let l = latest_snapshot(&FsStorage, dir).unwrap();
    assert_eq!(l.snapshot.unwrap().bytes, b"three");
    assert_eq!(l.skipped.len(), 1);
}

#[test]
fn group_commit_batches_under_load_and_acknowledges_in_order() {
    let tmp = temp_dir("tokex-group");
    let dir = tmp.path().join("j");
    let w = JournalWriter::open(FsStorage, &dir, WriterOptions::default()).unwrap();
    let gc = Arc::new(GroupCommitter::spawn(w, GroupCommitConfig::default()));
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 300;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let gc = gc.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        let body = format!("thread {t} command {i}").into_bytes();
                        let seq = gc.append_durable(body.clone()).unwrap();
                        assert!(gc.durable_seq() >= seq);
                        (seq, body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut sent: Vec<(u64, Vec<u8>)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    sent.sort();
    let m = gc.metrics().snapshot();
    assert_eq!(m.records, THREADS * PER_THREAD);
    assert!(m.fsyncs <= m.records);
    let gc = Arc::into_inner(gc).unwrap();
    let w = gc.shutdown().unwrap();
    assert_eq!(w.next_seq(), THREADS * PER_THREAD + 1);
    assert_eq!(read_from(&FsStorage, &dir, 1).unwrap(), sent);
}

#[test]
fn group_commit_failure_reaches_every_waiter() {
    let storage = SimStorage::new();
    let w =
        JournalWriter::open(storage.clone(), Path::new("/j"), WriterOptions::default()).unwrap();
    let gc = GroupCommitter::spawn(
        w,
        GroupCommitConfig {
            linger: std::time::Duration::from_micros(200),
            ..Default::default()
        },
    );
    assert_eq!(gc.append_durable(b"one".to_vec()).unwrap(), 1);
    storage.crash_now();
    assert!(matches!(
        gc.append_durable(b"two".to_vec()),
        Err(JournalError::CommitterStopped(_))
    ));
    assert!(matches!(
        gc.append(b"three".to_vec()),
        Err(JournalError::CommitterStopped(_))
    ));
    assert!(gc.shutdown().is_err());
}

/// Segments larger than the reader's window, and a record larger than the window: offsets
/// stay exact across window slides, and a torn tail or damage far into a file is judged on
/// the whole file.
#[test]
fn replay_streams_large_segments_through_the_window() {
    use tokex_journal::READ_WINDOW_BYTES;
    let storage = SimStorage::new();
    let dir = Path::new("/big");
    let mut w = JournalWriter::open(storage.clone(), dir, WriterOptions::default()).unwrap();
    let big = vec![0x5Cu8; 2 * READ_WINDOW_BYTES + 17];
    let mut offsets = Vec::new(); // file offset of each command
    let mut at = 0usize;
    for seq in 1..=40_000u64 {
        let p = if seq == 20_000 {
            big.clone()
        } else {
            payload(seq)
        };
        offsets.push(at);
        at += RECORD_HEADER_BYTES + p.len();
        w.append(&p).unwrap();
        if seq % 1000 == 0 {
            w.commit().unwrap();
            at += RECORD_HEADER_BYTES;
        }
    }
    w.commit().unwrap();
    drop(w);
    let path = list_segments(&storage, dir).unwrap()[0].path.clone();
    assert!(at > 3 * READ_WINDOW_BYTES);
    assert_eq!(storage.durable_len(&path).unwrap(), at);

    let check_all = |storage: &SimStorage| {
        let mut r = JournalReader::open(storage.clone(), dir, 1).unwrap();
        let mut seq = 0;
        r.replay(|rec| {
            seq += 1;
            assert_eq!(rec.seq, seq);
            if seq == 20_000 {
                assert_eq!(rec.payload, &big[..]);
            } else {
                assert_eq!(rec.payload, &payload(seq)[..]);
            }
        })
        .unwrap();
        assert_eq!(seq, 40_000);
        r.torn_tail().cloned()
    };
    assert_eq!(check_all(&storage), None);

    // Damage deep in the file, after the big record.
    let victim = offsets[30_000 - 1];
    storage.flip_bit(&path, victim + RECORD_HEADER_BYTES + 1, 2);
    match read_from(&storage, dir, 1) {
        Err(JournalError::Damaged {
            offset,
            kind: Damage::RecordChecksum { seq: 30_000 },
            ..
        }) => {
            assert_eq!(offset as usize, victim)
        }
        other => panic!("{other:?}"),
    }
    storage.flip_bit(&path, victim + RECORD_HEADER_BYTES + 1, 2);

    // Garbage after the end: a torn tail at the exact offset.
    storage.write_at(&path, at, &[0x33; 5000]);
    let t = check_all(&storage).unwrap();
    assert_eq!(
        (t.offset as usize, t.bytes, t.reason),
        (at, 5000, TornReason::HeaderChecksum)
    );
}
