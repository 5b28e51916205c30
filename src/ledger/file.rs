//! The ledger's file: whole lines appended through a shared memory map.
//!
//! A line is copied into a `MAP_SHARED` window of the file, that is into the
//! kernel's page cache, so it is there — and survives a SIGKILL of the
//! process — as soon as the copy ends, exactly as after a `write(2)`, but
//! without a system call per line (two `write(2)` calls per report were the
//! largest cost of a run's own, more than building the report). The window
//! (1 MiB) moves forward as lines fill it; its room is reserved on the disk
//! first (`fallocate`), so a full disk is an error of the append that needed
//! the room, not a fault of the process when the page is written back.
//!
//! While a writer holds the file, it ends in zeros up to the window's end;
//! [`Appender::trim`] (at a run's end, after each `cleanup` flush, and when
//! the writer is dropped) cuts them, and a file a killed writer left padded
//! is cut to its last line when it is opened again. Readers skip the zeros
//! ([`super::read`]). One process writes a ledger at a time: the file is locked
//! (`flock`) while it is open, and a second writer is refused.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Mutex, MutexGuard};

use memmap2::{MmapMut, MmapOptions};

/// How much of the file one mapping covers.
const WINDOW: u64 = 1 << 20;

/// A file open for appending whole lines.
#[derive(Debug)]
pub(super) struct Appender {
    file: File,
    at: Mutex<Window>,
}

/// Where the lines end, and the mapping they are copied into.
#[derive(Debug)]
struct Window {
    /// The mapping, from `start`; `None` before the first line and after a trim.
    map: Option<MmapMut>,
    /// The file offset the mapping starts at (a multiple of the page size).
    start: u64,
    /// The file offset the next line goes to.
    end: u64,
}

impl Appender {
    /// Append to `file` (opened for reading and writing), after its last
    /// line: zeros a killed writer left after it are cut. Refused while
    /// another process holds the file.
    pub(super) fn new(file: File) -> io::Result<Appender> {
        lock(&file)?;
        let end = data_end(&file)?;
        if file.metadata()?.len() != end {
            file.set_len(end)?;
        }
        Ok(Appender {
            file,
            at: Mutex::new(Window {
                map: None,
                start: end,
                end,
            }),
        })
    }

    /// Copy `line` (its `\n` included) after the last one, whole: lines of
    /// concurrent callers never interleave.
    pub(super) fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut w = self.window();
        let n = line.len() as u64;
        let fits = w
            .map
            .as_ref()
            .is_some_and(|m| w.end + n <= w.start + m.len() as u64);
        if !fits {
            self.slide(&mut w, n)?;
        }
        let from = (w.end - w.start) as usize;
        let map = w
            .map
            .as_mut()
            .ok_or_else(|| io::Error::other("no mapping"))?;
        map[from..from + line.len()].copy_from_slice(line);
        w.end += n;
        Ok(())
    }

    /// Map a new window from the page of the end, with room for `n` bytes
    /// more, reserved on the disk before anything is copied into it.
    fn slide(&self, w: &mut Window, n: u64) -> io::Result<()> {
        w.map = None;
        let page = page_size();
        let start = w.end - w.end % page;
        let len = WINDOW.max((w.end - start + n).div_ceil(page) * page);
        reserve(&self.file, start + len)?;
        // SAFETY: the mapping covers bytes of a regular file this process
        // holds the `flock` of, and that only this `Appender` writes (behind
        // its mutex); the file is never shortened below the mapping while it
        // is mapped (`trim` drops the mapping first). Another process that
        // ignored the lock and truncated the file could fault the copy; no
        // process of the harness does.
        #[allow(unsafe_code)]
        let map = unsafe {
            MmapOptions::new()
                .offset(start)
                .len(len as usize)
                .map_mut(&self.file)?
        };
        w.map = Some(map);
        w.start = start;
        Ok(())
    }

    /// Cut the file to its last line (the window's zeros go), and put what
    /// was written on the disk when `sync` (`msync`, then `fdatasync`).
    pub(super) fn trim(&self, sync: bool) -> io::Result<()> {
        let mut w = self.window();
        if let Some(map) = w.map.take()
            && sync
        {
            map.flush()?;
        }
        w.start = w.end;
        self.file.set_len(w.end)?;
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        // A panic while copying leaves whole lines before `end`: go on.
        self.at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        // Best effort: a file left padded is cut when it is opened again,
        // and readers skip the zeros.
        let _ = self.trim(false);
    }
}

/// Where the lines of `file` end: its length without the zeros a writer
/// pads it with (see the module's doc).
fn data_end(mut file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let from = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(part)?;
        match part.iter().rposition(|&b| b != 0) {
            Some(i) => return Ok(from + i as u64 + 1),
            None => end = from,
        }
    }
    Ok(0)
}

fn page_size() -> u64 {
    #[cfg(target_os = "linux")]
    {
        rustix::param::page_size() as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        4096
    }
}

/// Hold `file` for this process (released when it is closed).
fn lock(file: &File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{FlockOperation, flock};
        flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
            if e == rustix::io::Errno::WOULDBLOCK {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another process is writing this ledger",
                )
            } else {
                e.into()
            }
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Ok(())
    }
}

/// Make `file` at least `len` long, its blocks allocated (a full disk is an
/// error here, not later); where the file system cannot allocate ahead, the
/// length alone.
fn reserve(file: &File, len: u64) -> io::Result<()> {
    let have = file.metadata()?.len();
    if have >= len {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{FallocateFlags, fallocate};
        match fallocate(file, FallocateFlags::empty(), have, len - have) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::OPNOTSUPP => {}
            Err(e) => return Err(e.into()),
        }
    }
    file.set_len(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open")
    }

    #[test]
    fn lines_cross_windows_whole_and_the_file_ends_at_the_last_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l");
        let a = Appender::new(open(&path)).expect("appender");
        let line = format!("{}\n", "x".repeat(999));
        // 3 MiB of lines: the window slides, a line is never cut.
        let lines = 3 * WINDOW as usize / line.len() + 1;
        for _ in 0..lines {
            a.append(line.as_bytes()).expect("append");
        }
        // While it is held, the file is padded with zeros; readers skip them.
        let len = std::fs::metadata(&path).expect("meta").len();
        assert!(len > (lines * line.len()) as u64, "padded: {len}");
        assert_eq!(
            data_end(&open(&path)).expect("end"),
            (lines * line.len()) as u64
        );
        a.trim(true).expect("trim");
        // After a trim the next line maps again.
        a.append(b"last\n").expect("append after trim");
        drop(a);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.len(), lines * line.len() + 5);
        assert!(text.lines().take(lines).all(|l| l.len() == 999));
        assert!(text.ends_with("\nlast\n"));
    }

    #[test]
    fn a_padded_file_is_cut_to_its_last_line_and_a_second_writer_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l");
        // As a killed writer leaves it: lines, then zeros.
        std::fs::write(&path, [b"one\ntwo\n".as_slice(), &[0u8; 70_000]].concat()).expect("write");
        let a = Appender::new(open(&path)).expect("appender");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), 8);
        let e = Appender::new(open(&path)).expect_err("held");
        assert!(e.to_string().contains("another process"), "{e}");
        a.append(b"three\n").expect("append");
        drop(a);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "one\ntwo\nthree\n"
        );
        // Released with the file: a new writer may append.
        Appender::new(open(&path)).expect("reopened");
    }
}
