//! Start-up: the newest valid snapshot, then every journaled command after it, replayed
//! through the same deterministic core. A torn tail is truncated and reported; damage to an
//! acknowledged record stops start-up with the file and offset (from the journal).

use std::path::Path;
use tokex_engine::codec::decode_command;
use tokex_engine::Engine;
use tokex_journal::{
    latest_snapshot, FsStorage, JournalReader, JournalWriter, TornTail, WriterOptions,
};

#[derive(Debug, Default, Clone)]
pub struct RecoveryReport {
    pub snapshot_seq: Option<u64>,
    pub skipped_snapshots: Vec<String>,
    pub replayed: u64,
    pub last_seq: u64,
    pub torn_tail: Option<TornTail>,
    pub elapsed_ms: u128,
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.snapshot_seq {
            Some(s) => write!(f, "snapshot at seq {s}, ")?,
            None => write!(f, "no snapshot, ")?,
        }
        write!(
            f,
            "{} commands replayed, last seq {}, {} ms",
            self.replayed, self.last_seq, self.elapsed_ms
        )?;
        for s in &self.skipped_snapshots {
            write!(f, "; skipped snapshot: {s}")?;
        }
        if let Some(t) = &self.torn_tail {
            write!(f, "; torn tail truncated: {t}")?;
        }
        Ok(())
    }
}

/// Rebuilds the core from a journal directory without changing anything on disk.
pub fn replay(dir: &Path) -> Result<(Engine, RecoveryReport), String> {
    replay_with(dir, |_, _, _, _| {})
}

/// Like [`replay`], calling `each(seq, time, command, events)` for every replayed command.
/// Rejects are not passed on (a rejected command has no events), so their messages are not
/// formatted during the replay.
pub fn replay_with(
    dir: &Path,
    mut each: impl FnMut(u64, tokex_types::Timestamp, &tokex_engine::Command, &[tokex_engine::Event]),
) -> Result<(Engine, RecoveryReport), String> {
    let t0 = std::time::Instant::now();
    let mut report = RecoveryReport::default();
    if !dir.exists() {
        report.elapsed_ms = t0.elapsed().as_millis();
        return Ok((Engine::new(), report));
    }
    let latest = latest_snapshot(&FsStorage, dir).map_err(|e| e.to_string())?;
    for w in &latest.skipped {
        tracing::warn!(path = %w.path.display(), reason = %w.reason, "snapshot skipped");
        report
            .skipped_snapshots
            .push(format!("{}: {}", w.path.display(), w.reason));
    }
    let (mut engine, from) = match latest.snapshot {
        Some(s) => {
            let e = Engine::restore(&s.bytes)
                .map_err(|e| format!("snapshot {}: {e}", s.path.display()))?;
            report.snapshot_seq = Some(s.seq);
            (e, s.seq + 1)
        }
        None => (Engine::new(), 1),
    };
    report.last_seq = from - 1;
    // Replay discards every answer: skip formatting reject messages (state is the same).
    engine.set_reject_messages(false);
    let reader = JournalReader::open(FsStorage, dir, from).map_err(|e| e.to_string())?;
    let (replayed, last_seq, torn_tail) = apply_journal(reader, &mut engine, &mut each)?;
    report.replayed = replayed;
    if replayed > 0 {
        report.last_seq = last_seq;
    }
    engine.set_reject_messages(true);
    report.torn_tail = torn_tail;
    report.elapsed_ms = t0.elapsed().as_millis();
    Ok((engine, report))
}

/// Commands decoded per batch handed from the reading thread to the applying one.
const REPLAY_BATCH: usize = 2048;
/// Batches in flight between the two threads (bounds the memory replay uses).
const REPLAY_BATCHES_IN_FLIGHT: usize = 4;

type Decoded = Vec<(u64, tokex_types::Timestamp, tokex_engine::Command)>;

/// Replays every record of `reader` into `engine`, in journal order.
///
/// Reading, checksum verification and decoding run on a second thread, a batch ahead of the
/// thread applying commands to the core: they are about a third of the work and the core is
/// single-threaded by design, so recovery uses the machine's second core for them. Order is
/// kept (one channel, one producer); a damaged or undecodable record stops the reader, and the
/// applier, having applied everything before it, returns the error.
/// Returns (commands applied, last seq applied, torn tail).
fn apply_journal(
    mut reader: JournalReader<FsStorage>,
    engine: &mut Engine,
    each: &mut impl FnMut(u64, tokex_types::Timestamp, &tokex_engine::Command, &[tokex_engine::Event]),
) -> Result<(u64, u64, Option<TornTail>), String> {
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<Result<Decoded, String>>(REPLAY_BATCHES_IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Decoded>(REPLAY_BATCHES_IN_FLIGHT + 2);
    std::thread::scope(|scope| {
        let producer = std::thread::Builder::new()
            .name("journal-reader".into())
            .spawn_scoped(scope, move || -> Option<TornTail> {
                let mut batch: Decoded = Vec::with_capacity(REPLAY_BATCH);
                loop {
                    let record = match reader.next_record() {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        Err(e) => {
                            let _ = full_tx.send(Err(e.to_string()));
                            return None;
                        }
                    };
                    match decode_command(record.payload) {
                        Ok((time, cmd)) => batch.push((record.seq, time, cmd)),
                        Err(e) => {
                            let seq = record.seq;
                            if !batch.is_empty() {
                                let _ = full_tx.send(Ok(batch));
                            }
                            let _ = full_tx.send(Err(format!(
                                "journal record seq {seq} does not decode: {e}"
                            )));
                            return None;
                        }
                    }
                    if batch.len() == REPLAY_BATCH {
                        if full_tx.send(Ok(batch)).is_err() {
                            return None;
                        }
                        batch = empty_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(REPLAY_BATCH));
                    }
                }
                if !batch.is_empty() {
                    let _ = full_tx.send(Ok(batch));
                }
                reader.torn_tail().cloned()
            })
            .map_err(|e| format!("start the journal reader: {e}"))?;
        let mut events = Vec::new();
        let mut replayed = 0u64;
        let mut last_seq = 0u64;
        let mut failure = None;
        for msg in full_rx.iter() {
            match msg {
                Ok(mut batch) => {
                    // Applied in place: a command is a hundred-odd bytes, not worth moving.
                    for (seq, time, cmd) in &batch {
                        events.clear();
                        let _ = engine.apply_into(*time, cmd, &mut events);
                        each(*seq, *time, cmd, &events);
                        replayed += 1;
                        last_seq = *seq;
                    }
                    batch.clear();
                    let _ = empty_tx.try_send(batch);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(full_rx);
        let torn = producer
            .join()
            .map_err(|_| "journal reader panicked".to_string())?;
        match failure {
            Some(e) => Err(e),
            None => Ok((replayed, last_seq, torn)),
        }
    })
}

/// Recovers the core and opens the journal for appending (truncating a torn tail).
pub fn recover(dir: &Path) -> Result<(Engine, JournalWriter<FsStorage>, RecoveryReport), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (engine, report) = replay(dir)?;
    let writer = JournalWriter::open(
        FsStorage,
        dir,
        WriterOptions {
            first_seq: report.last_seq + 1,
            ..WriterOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(t) = &writer.open_report().torn_tail {
        tracing::warn!(?t, "torn journal tail truncated");
    }
    if writer.next_seq() != report.last_seq + 1 {
        return Err(format!(
            "journal continues at seq {} but replay ended at {}",
            writer.next_seq(),
            report.last_seq
        ));
    }
    Ok((engine, writer, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokex_engine::codec::encode_command;
    use tokex_engine::{Command, NewOrder, Role, StpMode};
    use tokex_types::{AccountId, Currency, InstrumentSpec, Money, Side, Timestamp};

    /// A journal of a listing, two funded accounts and `orders` crossing orders (more than
    /// several replay batches), in small segments; returns the live engine it describes.
    fn write_journal(dir: &Path, orders: u64) -> Engine {
        let mut commands = vec![Command::ListInstrument(Box::new(
            InstrumentSpec::for_tests(0, 10_000),
        ))];
        for a in [1, 2] {
            commands.push(Command::CreateAccount {
                account: AccountId(a),
                role: Role::Trader,
                stp: StpMode::CancelResting,
            });
            commands.push(Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(1_000_000_000_000),
            });
        }
        commands.push(Command::SetPhase {
            instrument: tokex_types::InstrumentId(0),
            phase: tokex_engine::Phase::Continuous,
        });
        for i in 0..orders {
            let (account, side) = if i % 2 == 0 {
                (1, Side::Buy)
            } else {
                (2, Side::Sell)
            };
            let price = 10_000 + (i % 7) as i64 - 3;
            commands.push(Command::NewOrder(NewOrder::limit(
                account,
                0,
                side,
                price,
                1 + i % 3,
            )));
        }
        let mut writer = JournalWriter::open(
            FsStorage,
            dir,
            WriterOptions {
                segment_size_max_bytes: 64 * 1024,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        let mut live = Engine::new();
        let mut events = Vec::new();
        for (n, c) in commands.iter().enumerate() {
            let time = Timestamp(1_000 + n as u64);
            writer.append(&encode_command(time, c)).unwrap();
            events.clear();
            let _ = live.apply_into(time, c, &mut events);
            if n % 100 == 99 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        live
    }

    #[test]
    fn replay_across_batches_and_segments_rebuilds_the_live_state() {
        let dir = tempfile::tempdir().unwrap();
        let live = write_journal(dir.path(), 3 * REPLAY_BATCH as u64 + 17);
        let mut seen = 0u64;
        let mut last = 0u64;
        let (replayed, report) = replay_with(dir.path(), |seq, _, _, _| {
            assert_eq!(seq, last + 1, "commands arrive in journal order");
            last = seq;
            seen += 1;
        })
        .unwrap();
        assert_eq!(report.replayed, seen);
        assert_eq!(report.last_seq, seen);
        assert_eq!(replayed.state_hash(), live.state_hash());
        assert!(report.torn_tail.is_none());
    }

    #[test]
    fn a_flipped_byte_in_a_complete_record_stops_replay_naming_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        write_journal(dir.path(), 2_000);
        let first = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .min()
            .unwrap();
        let mut bytes = std::fs::read(&first).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&first, bytes).unwrap();
        let err = replay(dir.path()).err().expect("damage must stop replay");
        let name = first.file_name().unwrap().to_string_lossy().to_string();
        assert!(err.contains(&name), "{err}");
        assert!(err.contains("offset"), "{err}");
    }

    #[test]
    fn a_torn_last_record_is_reported_and_the_rest_replays() {
        let dir = tempfile::tempdir().unwrap();
        let live = write_journal(dir.path(), 500);
        let last = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .max()
            .unwrap();
        // Half a record more at the end: an append that never completed.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&last)
            .unwrap();
        std::io::Write::write_all(&mut f, &[0x20, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let (replayed, report) = replay(dir.path()).unwrap();
        assert!(report.torn_tail.is_some(), "{report}");
        assert_eq!(replayed.state_hash(), live.state_hash());
    }
}
