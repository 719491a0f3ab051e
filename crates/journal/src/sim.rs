//! A simulated, fault-injecting [`Storage`] for deterministic crash tests (in the spirit of
//! redb's `FuzzerBackend` and TigerBeetle's simulated storage).
//!
//! The model:
//!
//! - Files are inodes with a byte vector and a *synced length*: appends extend the vector,
//!   [`StorageFile::sync`] makes everything appended durable, [`Storage::truncate`] cuts and is
//!   durable at once (it fsyncs). So the durable content is always a prefix of the visible one.
//! - Directory entries (create, rename, remove) go into a pending log that
//!   [`Storage::sync_dir`] makes durable. Metadata is ordered, as in a journaling filesystem:
//!   a crash keeps a random *prefix* of the pending log.
//! - [`SimStorage::crash_after`] arms a crash at the n-th mutating operation (append, sync,
//!   create, truncate, rename, remove, sync_dir — the *fault points*): that operation and every
//!   later one fail with an error, as if the process had died there.
//! - [`SimStorage::restart`] then computes the state a reboot would find: each file keeps its
//!   synced bytes plus an arbitrary prefix of its unsynced bytes (a torn write), and the
//!   directory keeps a prefix of its unsynced entries. Every choice comes from a seed.
//! - [`SimStorage::flip_bit`] damages one persisted byte (bit rot, a misdirected write).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::{Storage, StorageFile};

/// A small deterministic generator (SplitMix64), enough for tests and the simulation.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

#[derive(Clone, Debug)]
enum MetaOp {
    Link(PathBuf, usize),
    Unlink(PathBuf),
    /// Atomic, as rename is on a journaling filesystem.
    Rename(PathBuf, PathBuf, usize),
}

impl MetaOp {
    fn apply(self, names: &mut BTreeMap<PathBuf, usize>) {
        match self {
            MetaOp::Link(p, i) => {
                names.insert(p, i);
            }
            MetaOp::Unlink(p) => {
                names.remove(&p);
            }
            MetaOp::Rename(from, to, i) => {
                names.remove(&from);
                names.insert(to, i);
            }
        }
    }
}

#[derive(Default, Debug)]
struct Inode {
    data: Vec<u8>,
    synced_len: usize,
}

#[derive(Default, Debug)]
struct State {
    inodes: Vec<Inode>,
    /// Directory entries as the running process sees them.
    names: BTreeMap<PathBuf, usize>,
    /// Directory entries as they are on disk.
    durable_names: BTreeMap<PathBuf, usize>,
    pending: Vec<MetaOp>,
    crash_countdown: Option<u64>,
    crashed: bool,
    fault_points: u64,
}

impl State {
    /// Counts a fault point; errors if the process has "died".
    fn fault_point(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(crash_error());
        }
        self.fault_points += 1;
        if let Some(n) = self.crash_countdown.as_mut() {
            if *n == 0 {
                self.crashed = true;
                return Err(crash_error());
            }
            *n -= 1;
        }
        Ok(())
    }

    fn alive(&self) -> io::Result<()> {
        if self.crashed {
            Err(crash_error())
        } else {
            Ok(())
        }
    }

    fn inode_of(&self, path: &Path) -> io::Result<usize> {
        self.names.get(path).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        })
    }
}

fn crash_error() -> io::Error {
    io::Error::other("simulated crash")
}

/// Shared handle to one simulated disk; clones see the same disk.
#[derive(Clone, Debug, Default)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

/// A simulated file handle (an inode number).
#[derive(Debug)]
pub struct SimFile {
    state: Arc<Mutex<State>>,
    inode: usize,
}

impl SimStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a crash: the `n`-th fault point from now (0 = the next one) fails, and so does
    /// everything after it until [`SimStorage::restart`].
    pub fn crash_after(&self, n: u64) {
        self.lock().crash_countdown = Some(n);
    }

    /// Crashes now: every later operation fails until [`SimStorage::restart`].
    pub fn crash_now(&self) {
        self.lock().crashed = true;
    }

    /// Whether the armed crash has happened.
    pub fn has_crashed(&self) -> bool {
        self.lock().crashed
    }

    /// Fault points counted so far (to size a crash schedule).
    pub fn fault_points(&self) -> u64 {
        self.lock().fault_points
    }

    /// Reboots: keeps what a crash at this instant would leave on disk (synced bytes plus a
    /// seeded random prefix of unsynced bytes per file; a prefix of the unsynced directory
    /// operations), disarms the crash and lets operations run again.
    pub fn restart(&self, rng: &mut SimRng) {
        let mut s = self.lock();
        let keep_ops = rng.range(0, s.pending.len() as u64) as usize;
        let ops: Vec<MetaOp> = s.pending.drain(..).take(keep_ops).collect();
        for op in ops {
            op.apply(&mut s.durable_names);
        }
        for inode in &mut s.inodes {
            let unsynced = inode.data.len() - inode.synced_len;
            let keep = inode.synced_len + rng.range(0, unsynced as u64) as usize;
            inode.data.truncate(keep);
            inode.synced_len = keep;
        }
        s.names = s.durable_names.clone();
        s.crash_countdown = None;
        s.crashed = false;
    }

    /// Flips bit `bit` (0..8) of byte `offset` of `path`, on disk (the byte must be durable).
    pub fn flip_bit(&self, path: &Path, offset: usize, bit: u8) {
        let mut s = self.lock();
        let i = s.inode_of(path).expect("flip_bit: no such file");
        let inode = &mut s.inodes[i];
        assert!(
            offset < inode.synced_len,
            "flip_bit: byte {offset} is not durable"
        );
        inode.data[offset] ^= 1 << (bit % 8);
    }

    /// Overwrites or extends `path` with `bytes` at `offset`, durably (a test's hand-made
    /// damage or garbage).
    pub fn write_at(&self, path: &Path, offset: usize, bytes: &[u8]) {
        let mut s = self.lock();
        let i = s.inode_of(path).expect("write_at: no such file");
        let inode = &mut s.inodes[i];
        if inode.data.len() < offset + bytes.len() {
            inode.data.resize(offset + bytes.len(), 0);
        }
        inode.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        inode.synced_len = inode.synced_len.max(offset + bytes.len());
    }

    /// The durable length of `path`, if it exists.
    pub fn durable_len(&self, path: &Path) -> Option<usize> {
        let s = self.lock();
        s.names.get(path).map(|&i| s.inodes[i].synced_len)
    }
}

impl StorageFile for SimFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.fault_point()?;
        s.inodes[self.inode].data.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.fault_point()?;
        let inode = &mut s.inodes[self.inode];
        inode.synced_len = inode.data.len();
        Ok(())
    }
}

impl Storage for SimStorage {
    type File = SimFile;
    type Reader = io::Cursor<Vec<u8>>;

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        self.lock().alive()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        s.alive()?;
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn create(&self, path: &Path) -> io::Result<SimFile> {
        let mut s = self.lock();
        s.fault_point()?;
        let inode = s.inodes.len();
        s.inodes.push(Inode::default());
        s.names.insert(path.to_owned(), inode);
        s.pending.push(MetaOp::Link(path.to_owned(), inode));
        Ok(SimFile {
            state: self.state.clone(),
            inode,
        })
    }

    fn open_append(&self, path: &Path) -> io::Result<SimFile> {
        let s = self.lock();
        s.alive()?;
        let inode = s.inode_of(path)?;
        Ok(SimFile {
            state: self.state.clone(),
            inode,
        })
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.lock();
        s.alive()?;
        Ok(s.inodes[s.inode_of(path)?].data.clone())
    }

    fn open_read(&self, path: &Path) -> io::Result<io::Cursor<Vec<u8>>> {
        self.read(path).map(io::Cursor::new)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut s = self.lock();
        s.fault_point()?;
        let i = s.inode_of(path)?;
        let inode = &mut s.inodes[i];
        inode.data.resize(len as usize, 0);
        inode.synced_len = inode.data.len();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.fault_point()?;
        let i = s.inode_of(from)?;
        s.names.remove(from);
        s.names.insert(to.to_owned(), i);
        s.pending
            .push(MetaOp::Rename(from.to_owned(), to.to_owned(), i));
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.fault_point()?;
        s.inode_of(path)?;
        s.names.remove(path);
        s.pending.push(MetaOp::Unlink(path.to_owned()));
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.fault_point()?;
        let ops: Vec<MetaOp> = s.pending.drain(..).collect();
        for op in ops {
            op.apply(&mut s.durable_names);
        }
        Ok(())
    }
}
