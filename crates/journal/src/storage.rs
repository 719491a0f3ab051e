//! The narrow file interface the journal uses, and its real-filesystem implementation.
//!
//! Everything the writer, the reader and the snapshot code do to disk goes through
//! [`Storage`], so the same code runs on the real filesystem ([`FsStorage`]) and on the
//! fault-injecting simulation ([`crate::sim::SimStorage`]) that the crash tests use.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// File operations, as few as the journal needs. Paths are absolute or relative to the
/// process; a directory is flat (no nesting is used).
pub trait Storage: Clone + Send + 'static {
    /// A file opened for appending.
    type File: StorageFile;
    /// A file opened for reading.
    type Reader: io::Read;

    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names (not paths) of the files in `dir`, in no particular order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `path` empty (truncating any existing file) and opens it for appending. The
    /// directory entry is durable only after [`Storage::sync_dir`].
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Self::File>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens a file for reading from its start (replay streams segments through a window).
    fn open_read(&self, path: &Path) -> io::Result<Self::Reader>;
    /// Cuts `path` to `len` bytes and makes the new length durable (set_len + fsync).
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames atomically; durable after [`Storage::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file; durable after [`Storage::sync_dir`].
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A file open for appending.
pub trait StorageFile: Send {
    /// Appends all of `bytes` (not yet durable).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable (fdatasync). After an error the file's state is
    /// unknown: callers must not retry (the page cache may have dropped the dirty pages).
    fn sync(&mut self) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Copy, Clone, Debug, Default)]
pub struct FsStorage;

/// A real file.
#[derive(Debug)]
pub struct FsFile(File);

impl StorageFile for FsFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Storage for FsStorage {
    type File = FsFile;
    type Reader = File;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    fn create(&self, path: &Path) -> io::Result<FsFile> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(FsFile(f))
    }

    fn open_append(&self, path: &Path) -> io::Result<FsFile> {
        Ok(FsFile(OpenOptions::new().append(true).open(path)?))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn open_read(&self, path: &Path) -> io::Result<File> {
        File::open(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
