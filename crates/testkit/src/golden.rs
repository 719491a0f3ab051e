//! Golden replays: a text command log in, a transcript out (every command, its answer, its
//! events, and the final state hash), compared with a checked-in file.

use crate::script::{format_command, format_event, parse_script, ParseError};
use tokex_engine::Engine;

/// Runs a command log through a fresh engine and renders the transcript:
///
/// ```text
/// > t=1000 new acct=1 inst=0 buy limit 1001 x5 gtc
/// ok
///   accepted #1 acct=1 inst=0 buy limit 1001 x5 gtc
///   rested #1 inst=0 buy 1001 visible=5 leaves=5
/// > ...
/// rejected PRICE_OUTSIDE_LIMITS
/// hash <sha-256 of the final state>
/// ```
pub fn transcript(text: &str) -> Result<String, ParseError> {
    let lines = parse_script(text)?;
    let mut engine = Engine::new();
    let mut out = String::new();
    for (seq, l) in lines.iter().enumerate() {
        let o = engine.apply(seq as u64 + 1, l.time, &l.command);
        out += &format!("> t={} {}\n", l.time.0, format_command(&l.command));
        match &o.result {
            Ok(()) => out += "ok\n",
            Err(r) => out += &format!("rejected {}\n", r.code.as_str()),
        }
        for e in &o.events {
            out += &format!("  {}\n", format_event(e));
        }
        if let Err(e) = engine.check_invariants() {
            out += &format!("INVARIANT BROKEN: {e}\n");
        }
    }
    out += &format!("hash {}\n", engine.state_hash());
    Ok(out)
}
