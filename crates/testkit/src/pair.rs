//! The engine and the reference model side by side.

use crate::model::{trading_events, Model, Quirks};
use crate::script::{format_command, format_event};
use tokex_engine::{Command, Engine, Event, Outcome, RejectCode};
use tokex_types::Timestamp;

/// Runs every command through both the engine and the model and checks, after each one:
/// the same answer (reject code) and the same trading events; the engine's invariants; that
/// a rejected command left the state hash unchanged (when its time did not move the clock);
/// and, every `restore_every` commands, that snapshot → restore gives the same hash — the
/// restored engine then carries on in place of the original.
pub struct Pair {
    pub engine: Engine,
    pub model: Model,
    /// 0 disables the snapshot round trip.
    pub restore_every: usize,
    seq: u64,
    /// The commands so far, in the text format, for failure reports.
    pub log: Vec<String>,
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

impl Pair {
    pub fn new() -> Pair {
        Pair::with_quirks(Quirks::default())
    }

    pub fn with_quirks(quirks: Quirks) -> Pair {
        Pair {
            engine: Engine::new(),
            model: Model::with_quirks(quirks),
            restore_every: 0,
            seq: 0,
            log: Vec::new(),
        }
    }

    /// The command log so far, ready to paste into a `.cmds` file.
    pub fn script(&self) -> String {
        self.log.join("\n")
    }

    /// Applies one command to both; `Err` describes the first disagreement or broken check.
    pub fn step(&mut self, time: Timestamp, cmd: &Command) -> Result<Outcome, String> {
        self.seq += 1;
        self.log
            .push(format!("t={} {}", time.0, format_command(cmd)));
        let clock_moves = time > self.engine.now();
        let before = (!clock_moves).then(|| self.engine.state_hash());
        let got = self.engine.apply(self.seq, time, cmd);
        let fail = |what: String, log: &[String]| -> String {
            format!(
                "{what}\n--- commands (last one failed) ---\n{}",
                log.join("\n")
            )
        };
        if let Some((want, want_events)) = self.model.apply(time, cmd) {
            let got_code = got.result.as_ref().map(|_| ()).map_err(|r| r.code);
            let got_events = trading_events(&got.events);
            if got_code != want || got_events != want_events {
                return Err(fail(
                    format!(
                        "engine and model disagree\n engine: {}\n{}\n model:  {}\n{}",
                        code_str(got_code),
                        events_str(&got_events),
                        code_str(want),
                        events_str(&want_events)
                    ),
                    &self.log,
                ));
            }
        } else if let Err(r) = &got.result {
            return Err(fail(format!("set-up command rejected: {r}"), &self.log));
        }
        if let Err(e) = self.engine.check_invariants() {
            return Err(fail(format!("invariant broken: {e}"), &self.log));
        }
        if let (Err(r), Some(h)) = (&got.result, before) {
            if self.engine.state_hash() != h {
                return Err(fail(
                    format!(
                        "rejected command ({}) changed the state hash",
                        r.code.as_str()
                    ),
                    &self.log,
                ));
            }
        }
        if self.restore_every > 0 && self.seq.is_multiple_of(self.restore_every as u64) {
            let h = self.engine.state_hash();
            let restored = Engine::restore(&self.engine.snapshot())
                .map_err(|e| fail(format!("restore failed: {e}"), &self.log))?;
            if restored.state_hash() != h {
                return Err(fail(
                    "snapshot → restore changed the hash".into(),
                    &self.log,
                ));
            }
            self.engine = restored;
        }
        Ok(got)
    }

    /// [`Pair::step`] that panics on a disagreement (for hand-written tests).
    pub fn must(&mut self, time: u64, cmd: Command) -> Outcome {
        match self.step(Timestamp(time), &cmd) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }
}

fn code_str(r: Result<(), RejectCode>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(c) => format!("rejected {}", c.as_str()),
    }
}

fn events_str(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| format!("   {}", format_event(e)))
        .collect::<Vec<_>>()
        .join("\n")
}
