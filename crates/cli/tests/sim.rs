//! `tokex sim` is deterministic from its seed, and `--compare` runs both designs.

use std::process::Command;

fn sim(extra: &[&str]) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_tokex"))
        .current_dir(root)
        .args(["sim", "--days", "6", "--step-secs", "300", "--json"])
        .args(extra)
        .output()
        .expect("run tokex sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn same_seed_same_market() {
    let a = sim(&["--seed", "3"]);
    let b = sim(&["--seed", "3"]);
    assert_eq!(a, b, "two runs with one seed differ");
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    let r = &v[0];
    assert!(r["commands"].as_u64().unwrap() > 1_000, "{r}");
    let tkf = &r["products"]["TKF"];
    assert!(
        tkf["trades"].as_u64().unwrap() > 0,
        "TKF never traded: {tkf}"
    );
    let c = sim(&["--seed", "4"]);
    assert_ne!(a, c, "a different seed gave the same market");
}

#[test]
fn compare_runs_both_designs() {
    let out = sim(&[
        "--compare",
        "examples/designs/default.toml",
        "examples/designs/tight-limits.toml",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(v[1]["design"]
        .as_str()
        .unwrap()
        .ends_with("tight-limits.toml"));
}
