//! Journal benchmarks: group-commit append throughput and replay throughput.
//!
//! `cargo bench -p tokex-journal --bench journal`

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::sync::Arc;
use std::time::Instant;

use tokex_journal::{
    FsStorage, GroupCommitConfig, GroupCommitter, JournalReader, JournalWriter, WriterOptions,
};

const PAYLOAD_BYTES: usize = 64;
const BATCH_RECORDS: u64 = 1_000;
const REPLAY_RECORDS: u64 = 1_000_000;

fn payload(i: u64) -> [u8; PAYLOAD_BYTES] {
    let mut p = [0u8; PAYLOAD_BYTES];
    for (k, chunk) in p.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k as u64).to_le_bytes());
    }
    p
}

fn bench_dir(name: &str) -> tempfile::TempDir {
    // Under target/ rather than /tmp, which may be a RAM disk where fsync costs nothing.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/journal-bench");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(base)
        .unwrap()
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_append");
    g.throughput(Throughput::Elements(BATCH_RECORDS));
    g.measurement_time(Duration::from_secs(10));
    let dir = bench_dir("append");
    let mut w = JournalWriter::open(FsStorage, dir.path(), WriterOptions::default()).unwrap();
    let mut i = 0u64;
    g.bench_function("64B_x1000_per_fdatasync", |b| {
        b.iter(|| {
            for _ in 0..BATCH_RECORDS {
                i += 1;
                w.append(&payload(i)).unwrap();
            }
            w.commit().unwrap()
        })
    });
    let m = w.metrics().snapshot();
    eprintln!(
        "append: {} fsyncs, {:.0} records/fsync, mean fsync {:?}, max {:?}",
        m.fsyncs,
        m.records_per_fsync(),
        m.fsync_mean(),
        Duration::from_nanos(m.fsync_nanos_max)
    );
    g.finish();
}

fn replay(c: &mut Criterion) {
    let dir = bench_dir("replay");
    {
        let mut w = JournalWriter::open(FsStorage, dir.path(), WriterOptions::default()).unwrap();
        for i in 1..=REPLAY_RECORDS {
            w.append(&payload(i)).unwrap();
            if i % BATCH_RECORDS == 0 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
    }
    let mut g = c.benchmark_group("journal_replay");
    g.throughput(Throughput::Elements(REPLAY_RECORDS));
    g.sample_size(20);
    g.bench_function("64B_read_and_verify_1M", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut r = JournalReader::open(FsStorage, dir.path(), 1).unwrap();
                let mut sum = 0u64;
                let n = r
                    .replay(|rec| sum = sum.wrapping_add(rec.payload[0] as u64))
                    .unwrap();
                assert_eq!(n, REPLAY_RECORDS);
                sum
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The commit thread under load: two producer threads each queue records and wait for the
/// last one; batches form by themselves while each fdatasync is in flight.
fn group_committer(c: &mut Criterion) {
    const PRODUCERS: u64 = 2;
    const PER_PRODUCER: u64 = 20_000;
    let mut g = c.benchmark_group("journal_group_commit");
    g.throughput(Throughput::Elements(PRODUCERS * PER_PRODUCER));
    g.sample_size(10);
    let dir = bench_dir("group");
    let w = JournalWriter::open(FsStorage, dir.path(), WriterOptions::default()).unwrap();
    let gc = Arc::new(GroupCommitter::spawn(w, GroupCommitConfig::default()));
    g.bench_function("64B_2_producers_40k", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let threads: Vec<_> = (0..PRODUCERS)
                    .map(|_| {
                        let gc = gc.clone();
                        std::thread::spawn(move || {
                            let mut last = 0;
                            for i in 0..PER_PRODUCER {
                                last = gc.append(payload(i).to_vec()).unwrap();
                            }
                            gc.wait_durable(last).unwrap();
                        })
                    })
                    .collect();
                threads.into_iter().for_each(|t| t.join().unwrap());
            }
            start.elapsed()
        })
    });
    let m = gc.metrics().snapshot();
    eprintln!(
        "group commit: {} fsyncs, {:.0} records/fsync (max {}), mean fsync {:?}",
        m.fsyncs,
        m.records_per_fsync(),
        m.batch_records_max,
        m.fsync_mean()
    );
    g.finish();
}

criterion_group!(benches, append, replay, group_committer);
criterion_main!(benches);
