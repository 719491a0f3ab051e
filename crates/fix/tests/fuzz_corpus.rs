//! Every input of the fuzzer's seed corpus (`fuzz/corpus/fix_parser/*.fix`) and every input
//! that once crashed it (`fuzz/regressions/fix_parser/`) through the fuzz target's entry
//! function, on stable: CI runs the corpus without a nightly toolchain.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    v.sort();
    v
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn run_all(paths: &[PathBuf]) {
    for p in paths {
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let r = std::panic::catch_unwind(|| tokex_fix::fuzz_entry(&bytes));
        assert!(r.is_ok(), "{} panics", p.display());
    }
}

/// The committed seeds (the fuzzer adds its own finds to the same directory, unnamed).
fn seeds() -> Vec<PathBuf> {
    files(&root().join("corpus/fix_parser"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "fix"))
        .collect()
}

#[test]
fn seed_corpus_runs_clean() {
    let seeds = seeds();
    assert!(seeds.len() >= 30, "seed corpus has {} files", seeds.len());
    run_all(&seeds);
}

#[test]
fn crash_regressions_run_clean() {
    run_all(&files(&root().join("regressions/fix_parser")));
}

/// Each input also cut at every length: a connection may drop anywhere.
#[test]
fn seed_prefixes_run_clean() {
    for p in seeds() {
        let bytes = std::fs::read(&p).expect("read");
        for cut in (0..bytes.len()).step_by(7) {
            tokex_fix::fuzz_entry(&bytes[..cut]);
        }
    }
}
