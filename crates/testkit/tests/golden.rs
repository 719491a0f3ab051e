//! Golden replays: every `golden/*.cmds` command log runs through the engine, and the
//! transcript (each command, its answer and events, the final state hash) must equal the
//! checked-in `*.expected` file. `UPDATE_GOLDEN=1 cargo test -p tokex-testkit --test golden`
//! rewrites the expected files; review the diff before committing it.

use std::path::Path;
use tokex_testkit::golden::transcript;

#[test]
fn golden_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cmds"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no golden logs in {}", dir.display());
    let mut failed = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read log");
        let got = transcript(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected = path.with_extension("expected");
        if update {
            std::fs::write(&expected, &got).expect("write expected");
            continue;
        }
        let want = std::fs::read_to_string(&expected).unwrap_or_default();
        if got != want {
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            failed.push(format!(
                "{}: differs from line {} (got {:?}, want {:?}); run with UPDATE_GOLDEN=1 to accept",
                path.display(),
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn the_text_format_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "cmds") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for l in tokex_testkit::script::parse_script(&text).unwrap() {
            let line = tokex_testkit::script::format_command(&l.command);
            let again = tokex_testkit::script::parse_line(&line).unwrap().unwrap().1;
            assert_eq!(again, l.command, "{line}");
        }
    }
}
