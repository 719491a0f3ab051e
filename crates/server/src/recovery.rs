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
    let mut reader = JournalReader::open(FsStorage, dir, from).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut failure: Option<String> = None;
    reader
        .replay(|rec| {
            if failure.is_some() {
                return;
            }
            match decode_command(rec.payload) {
                Ok((time, cmd)) => {
                    events.clear();
                    let _ = engine.apply_into(time, &cmd, &mut events);
                    each(rec.seq, time, &cmd, &events);
                    report.replayed += 1;
                    report.last_seq = rec.seq;
                }
                Err(e) => {
                    failure = Some(format!(
                        "journal record seq {} does not decode: {e}",
                        rec.seq
                    ))
                }
            }
        })
        .map_err(|e| e.to_string())?;
    if let Some(f) = failure {
        return Err(f);
    }
    report.torn_tail = reader.torn_tail().cloned();
    report.elapsed_ms = t0.elapsed().as_millis();
    Ok((engine, report))
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
