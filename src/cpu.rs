//! The harness's own CPU, read once a second from the kernel's per-thread
//! accounting (`/proc/self/task/*/stat` on Linux): how much of a core its
//! threads used, and how busy the busiest and the idlest of its Tokio worker
//! threads were. It is the evidence that names the harness as what held a run
//! back — a sender at a full core sends late, and the latencies it measures
//! are then partly its own.
//!
//! The embedded mock answers from a thread of its own (named `mss-mock`); its
//! time is the target's, not the harness's, and is left out.

use std::collections::HashMap;
use std::time::Instant;

/// The thread an embedded mock serves from ([`crate::target`]), left out.
const MOCK_THREAD: &str = "mss-mock";
/// The name `run`'s runtime gives its worker threads (src/session/), then
/// the names Tokio gives its worker threads by default (older and newer
/// releases), for a runtime built elsewhere.
pub const WORKER_THREAD: &str = "mss-worker";
const WORKER_THREADS: [&str; 3] = [WORKER_THREAD, "tokio-runtime-worker", "tokio-rt-worker"];

/// Whether the kernel's name of a thread, `comm`, is `name`: the kernel keeps
/// only the first 15 bytes of a name (`tokio-runtime-w`).
fn named(comm: &str, name: &str) -> bool {
    comm == &name[..name.len().min(15)]
}

/// One second's use of the CPU by the harness.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuSecond {
    /// Every harness thread's CPU time over the wall time, in percent of one
    /// core (200 on two busy cores).
    pub process_pct: f64,
    /// The busiest Tokio worker thread, percent of a core.
    pub busiest_worker_pct: f64,
    /// The idlest Tokio worker thread, percent of a core: near 100 when every
    /// worker is busy.
    pub idlest_worker_pct: f64,
}

/// Reads the harness's threads' CPU time and turns two readings into a
/// [`CpuSecond`].
#[derive(Debug)]
pub struct CpuMeter {
    ticks_per_second: f64,
    last: Option<(Instant, HashMap<u32, Thread>)>,
}

/// One thread's accumulated CPU time.
#[derive(Debug, Clone)]
struct Thread {
    name: String,
    ticks: u64,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    /// A meter; its first [`sample`](Self::sample) only takes a reading.
    pub fn new() -> Self {
        CpuMeter {
            ticks_per_second: ticks_per_second(),
            last: None,
        }
    }

    /// The CPU used since the last call (`None` on the first call, or where
    /// the kernel's accounting cannot be read).
    pub fn sample(&mut self) -> Option<CpuSecond> {
        let now = Instant::now();
        let threads = read_threads()?;
        let previous = self.last.replace((now, threads));
        let (then, before) = previous?;
        let (_, after) = self.last.as_ref()?;
        usage(
            &before,
            after,
            now.duration_since(then).as_secs_f64(),
            self.ticks_per_second,
        )
    }
}

/// The CPU that the harness's threads used between two readings `wall`
/// seconds apart.
fn usage(
    before: &HashMap<u32, Thread>,
    after: &HashMap<u32, Thread>,
    wall: f64,
    ticks_per_second: f64,
) -> Option<CpuSecond> {
    if wall <= 0.0 {
        return None;
    }
    let pct = |ticks: u64| ticks as f64 / ticks_per_second / wall * 100.0;
    let mut process = 0u64;
    let mut workers: Vec<f64> = Vec::new();
    for (tid, t) in after {
        if named(&t.name, MOCK_THREAD) {
            continue;
        }
        // A thread born since the last reading counts from zero.
        let used = t
            .ticks
            .saturating_sub(before.get(tid).map_or(0, |b| b.ticks));
        process += used;
        if WORKER_THREADS.iter().any(|w| named(&t.name, w)) {
            workers.push(pct(used));
        }
    }
    Some(CpuSecond {
        process_pct: pct(process),
        busiest_worker_pct: workers.iter().copied().fold(0.0, f64::max),
        idlest_worker_pct: workers.iter().copied().reduce(f64::min).unwrap_or(0.0),
    })
}

#[cfg(target_os = "linux")]
fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

#[cfg(not(target_os = "linux"))]
fn ticks_per_second() -> f64 {
    100.0
}

/// Every thread of this process: its name and CPU ticks (user + system).
#[cfg(target_os = "linux")]
fn read_threads() -> Option<HashMap<u32, Thread>> {
    let mut out = HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(t) = parse_stat(&stat) {
            out.insert(tid, t);
        }
    }
    Some(out)
}

#[cfg(not(target_os = "linux"))]
fn read_threads() -> Option<HashMap<u32, Thread>> {
    None
}

/// A `stat` line: `tid (comm) state ppid ... utime stime ...`; the name may
/// hold spaces and parentheses, so the fields are counted from its last `)`.
fn parse_stat(line: &str) -> Option<Thread> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?.to_owned();
    let mut fields = line.get(close + 1..)?.split_whitespace();
    // After the name: state is field 3 of proc(5); utime and stime are 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Thread {
        name,
        ticks: utime + stime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_ticks() {
        let line = "4242 (tokio-runtime-worker) S 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0 4 0 99";
        let t = parse_stat(line).expect("parsed");
        assert_eq!(t.name, "tokio-runtime-worker");
        assert_eq!(t.ticks, 150);
        let odd = "7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 5 6 0 0 20 0 1 0 99";
        let t = parse_stat(odd).expect("parsed");
        assert_eq!((t.name.as_str(), t.ticks), ("a (b) c", 11));
        assert!(parse_stat("garbage").is_none());
    }

    fn thread(name: &str, ticks: u64) -> Thread {
        Thread {
            name: name.to_owned(),
            ticks,
        }
    }

    #[test]
    fn the_mocks_thread_is_left_out_and_every_worker_is_weighed() {
        let before = HashMap::from([
            (1, thread("mss-harness", 100)),
            (2, thread("tokio-runtime-w", 1_000)),
            (3, thread("tokio-runtime-w", 1_000)),
            (4, thread(MOCK_THREAD, 5_000)),
        ]);
        let after = HashMap::from([
            (1, thread("mss-harness", 110)),
            (2, thread("mss-worker", 1_098)),
            (3, thread("tokio-runtime-w", 1_040)),
            (4, thread(MOCK_THREAD, 5_100)),
            // Born between the readings.
            (5, thread("tokio-rt-worker", 2)),
        ]);
        let u = usage(&before, &after, 1.0, 100.0).expect("usage");
        assert!((u.process_pct - 150.0).abs() < 1e-9, "{u:?}");
        assert!((u.busiest_worker_pct - 98.0).abs() < 1e-9, "{u:?}");
        assert!((u.idlest_worker_pct - 2.0).abs() < 1e-9, "{u:?}");
        assert!(usage(&before, &after, 0.0, 100.0).is_none());
    }

    /// The kernel's accounting read here agrees with the thread's own CPU
    /// clock, whatever share of a core the thread gets on a loaded machine.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_threads_ticks_agree_with_its_own_cpu_clock() {
        use rustix::time::{ClockId, clock_gettime};
        use std::sync::mpsc;
        const NAME: &str = "cpu-meter-test";
        let cpu_seconds = || {
            let t = clock_gettime(ClockId::ThreadCPUTime);
            t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
        };
        let (to_spinner, from_test) = mpsc::channel::<()>();
        let (to_test, from_spinner) = mpsc::channel::<(f64, f64)>();
        let spinner = std::thread::Builder::new()
            .name(NAME.to_owned())
            .spawn(move || {
                // Named now (a thread is named once it runs): idle until the
                // test has read /proc, then spin for 300 ms of CPU, reading
                // the clock before and after.
                let _ = to_test.send((0.0, 0.0));
                let _ = from_test.recv();
                let before = cpu_seconds();
                let mut x = 0u64;
                while cpu_seconds() - before < 0.3 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                let _ = to_test.send((before, cpu_seconds()));
                // Idle until the test has read /proc again.
                let _ = from_test.recv();
            })
            .expect("thread");
        let ticks = |threads: &HashMap<u32, Thread>| {
            threads
                .values()
                .find(|t| t.name == NAME)
                .map(|t| t.ticks as f64 / ticks_per_second())
                .expect("the spinner in /proc/self/task")
        };
        from_spinner.recv().expect("named");
        let before = ticks(&read_threads().expect("read"));
        to_spinner.send(()).expect("go");
        let (start, end) = from_spinner.recv().expect("spun");
        let after = ticks(&read_threads().expect("read"));
        to_spinner.send(()).expect("done");
        spinner.join().expect("join");
        // Clock ticks are 10 ms; both readings may round by one.
        let read = after - before;
        let own = end - start;
        assert!(
            (read - own).abs() <= 0.03,
            "/proc {read:.3} s, own clock {own:.3} s"
        );
    }
}
