//! `tokex bench-fix` against an exchange it starts in its own process: every order request
//! is answered, none rejected, the crossing orders trade, and the journal was written with
//! fsync. No timing is asserted (the figures are benchmarks, see BENCHMARKS.md).

use std::process::Command;

#[test]
fn in_process_run_answers_every_order() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_tokex"))
        .current_dir(root)
        .args([
            "bench-fix",
            "--sessions",
            "3",
            "--orders",
            "300",
            "--duration",
            "60",
            "--json",
        ])
        .output()
        .expect("run tokex bench-fix");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(r["sent"], 300, "{r}");
    assert_eq!(r["answered"], 300, "{r}");
    assert_eq!(r["rejected"], 0, "{r}");
    assert_eq!(r["unanswered"], 0, "{r}");
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r}");
    assert_eq!(r["latency"]["all"]["count"], 300, "{r}");
    let kinds = &r["sent_by_kind"];
    for k in ["new, resting", "new, crossing (IOC)", "cancel"] {
        assert!(kinds[k].as_u64().unwrap() > 0, "no {k} sent: {r}");
    }
    // Each crossing order meets the liquidity session's quote.
    assert_eq!(r["fills"], kinds["new, crossing (IOC)"], "{r}");
    assert_eq!(r["liquidity_session"]["fills"], r["fills"], "{r}");
    let j = &r["journal"];
    assert_eq!(r["exchange"]["in_process"], true, "{r}");
    assert!(j["commands"].as_u64().unwrap() >= 300, "{r}");
    assert!(j["fsyncs"].as_u64().unwrap() > 0, "{r}");
}
