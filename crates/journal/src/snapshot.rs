//! Snapshots: one file per snapshot, written atomically, checked on load.

use std::path::{Path, PathBuf};

use crate::crc32c;
use crate::error::JournalError;
use crate::storage::{Storage, StorageFile};

/// First bytes of a snapshot file (name and format version).
pub const SNAPSHOT_MAGIC_V1: [u8; 8] = *b"TXSNAP\x00\x01";
/// Bytes in a snapshot header.
pub const SNAPSHOT_HEADER_BYTES: usize = 32;

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".snap.tmp";

/// `snapshot-<seq:020>.snap`.
pub fn snapshot_file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{SUFFIX}")
}

fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A snapshot read back: the state after applying every command up to `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: u64,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// A snapshot file passed over because it does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotWarning {
    pub path: PathBuf,
    pub reason: String,
}

/// The newest valid snapshot, and the newer ones skipped on the way (each a warning the
/// caller must log: a corrupt snapshot means a longer replay, and a disk to look at).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatestSnapshot {
    pub snapshot: Option<Snapshot>,
    pub skipped: Vec<SnapshotWarning>,
}

/// Writes the snapshot of the state at `seq` atomically: a temporary file is written and
/// fsynced, renamed to its final name, and the directory fsynced. Returns the final path.
pub fn write_snapshot<S: Storage>(
    storage: &S,
    dir: &Path,
    seq: u64,
    bytes: &[u8],
) -> Result<PathBuf, JournalError> {
    storage
        .create_dir_all(dir)
        .map_err(JournalError::io("create dir", dir))?;
    let path = dir.join(snapshot_file_name(seq));
    let tmp = dir.join(format!("{PREFIX}{seq:020}{TMP_SUFFIX}"));
    let mut file = storage
        .create(&tmp)
        .map_err(JournalError::io("create", &tmp))?;
    file.append(&encode_header(seq, bytes))
        .map_err(JournalError::io("write", &tmp))?;
    file.append(bytes)
        .map_err(JournalError::io("write", &tmp))?;
    file.sync().map_err(JournalError::io("fdatasync", &tmp))?;
    drop(file);
    storage
        .rename(&tmp, &path)
        .map_err(JournalError::io("rename", &tmp))?;
    storage
        .sync_dir(dir)
        .map_err(JournalError::io("sync dir", dir))?;
    Ok(path)
}

fn encode_header(seq: u64, bytes: &[u8]) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut h = [0u8; SNAPSHOT_HEADER_BYTES];
    h[..8].copy_from_slice(&SNAPSHOT_MAGIC_V1);
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h[16..24].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    let crc = crc32c::extend(crc32c::crc32c(&h[..24]), bytes);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a snapshot file's bytes; the payload range on success.
fn verify(file: &[u8], named_seq: u64) -> Result<std::ops::Range<usize>, String> {
    let h = file
        .get(..SNAPSHOT_HEADER_BYTES)
        .ok_or("shorter than a snapshot header")?;
    if h[..8] != SNAPSHOT_MAGIC_V1 {
        return Err("bad magic".into());
    }
    let seq = u64::from_le_bytes(h[8..16].try_into().unwrap());
    let len = u64::from_le_bytes(h[16..24].try_into().unwrap());
    let crc = u32::from_le_bytes(h[24..28].try_into().unwrap());
    if seq != named_seq {
        return Err(format!("header says seq {seq}, the name says {named_seq}"));
    }
    if len != (file.len() - SNAPSHOT_HEADER_BYTES) as u64 {
        return Err(format!(
            "header says {len} payload bytes, the file has {}",
            file.len() - SNAPSHOT_HEADER_BYTES
        ));
    }
    let payload = &file[SNAPSHOT_HEADER_BYTES..];
    if crc32c::extend(crc32c::crc32c(&h[..24]), payload) != crc || h[28..] != [0; 4] {
        return Err("checksum mismatch".into());
    }
    Ok(SNAPSHOT_HEADER_BYTES..file.len())
}

/// The newest snapshot in `dir` that verifies; newer ones that do not are reported in
/// [`LatestSnapshot::skipped`], never silently ignored. Leftover temporary files (a crash
/// during [`write_snapshot`]) are not snapshots and are ignored.
pub fn latest_snapshot<S: Storage>(
    storage: &S,
    dir: &Path,
) -> Result<LatestSnapshot, JournalError> {
    let mut found: Vec<(u64, String)> = match storage.list(dir) {
        Ok(names) => names
            .into_iter()
            .filter_map(|n| Some((parse_snapshot_name(&n)?, n)))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(JournalError::io("list", dir)(e)),
    };
    found.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = LatestSnapshot::default();
    for (seq, name) in found {
        let path = dir.join(name);
        let file = storage
            .read(&path)
            .map_err(JournalError::io("read", &path))?;
        match verify(&file, seq) {
            Ok(range) => {
                out.snapshot = Some(Snapshot {
                    seq,
                    path,
                    bytes: file[range].to_vec(),
                });
                break;
            }
            Err(reason) => out.skipped.push(SnapshotWarning { path, reason }),
        }
    }
    Ok(out)
}

/// Removes every snapshot older than `seq` (keep the newest few: call with the seq of the
/// oldest one to keep). Returns the removed paths.
pub fn prune_snapshots_before<S: Storage>(
    storage: &S,
    dir: &Path,
    seq: u64,
) -> Result<Vec<PathBuf>, JournalError> {
    let names = storage.list(dir).map_err(JournalError::io("list", dir))?;
    let mut removed = Vec::new();
    for name in names {
        if parse_snapshot_name(&name).is_some_and(|s| s < seq) {
            let path = dir.join(name);
            storage
                .remove(&path)
                .map_err(JournalError::io("remove", &path))?;
            removed.push(path);
        }
    }
    if !removed.is_empty() {
        storage
            .sync_dir(dir)
            .map_err(JournalError::io("sync dir", dir))?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_snapshot_name(&snapshot_file_name(12)), Some(12));
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000012.snap.tmp"),
            None
        );
    }
}
