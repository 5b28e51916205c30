//! The progress line a run prints on stderr while it runs: the last
//! second's requests, p99, errors and requests in flight; after the load, what
//! the run is still doing.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::RunContext;

/// Print the progress line on stderr once a second (every 5 s when stderr is
/// not a terminal) until aborted; the load lasts `total`.
pub async fn progress(ctx: Arc<RunContext>, total: Duration) {
    let tty = std::io::stderr().is_terminal();
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let elapsed = started.elapsed().as_secs();
        if !tty && !elapsed.is_multiple_of(5) {
            continue;
        }
        let (mut done, mut errors, mut p99) = (0, 0, 0);
        for i in ctx.metrics().last_second() {
            done += i.completed;
            errors += i.errors;
            p99 = p99.max(i.p99_us);
        }
        let line = progress_line(
            elapsed,
            total.as_secs(),
            (done, p99, errors),
            ctx.in_flight(),
            ctx.lost_reports(),
        );
        if tty {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// The progress line at `elapsed` seconds of a load of `total` seconds: during
/// the load, the last second's requests, p99 (µs) and errors and the requests
/// in flight; after it, what the run is still doing — resending the reports
/// whose answers were lost, or waiting for the requests in flight.
fn progress_line(
    elapsed: u64,
    total: u64,
    (done, p99, errors): (u64, u64, u64),
    in_flight: usize,
    lost: usize,
) -> String {
    if elapsed <= total {
        return format!(
            "[{elapsed:>4}/{total:>4} s] {done:>6} req/s  p99 {:>8.1} ms  errors {errors:>4}  in flight {in_flight:>5}",
            p99 as f64 / 1000.0,
        );
    }
    let after = elapsed - total;
    let phase = match (lost, in_flight) {
        (0, 0) => "writing the results".to_owned(),
        (0, n) => format!("waiting for {n} requests in flight"),
        (1, _) => "resending 1 lost report".to_owned(),
        (n, _) => format!("resending {n} lost reports"),
    };
    // Padded to cover the longer load line when it is redrawn in place.
    format!("[load of {total} s done, +{after:>3} s] {phase:<50}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_names_what_follows_the_load() {
        let during = progress_line(12, 30, (50, 21_500, 0), 3, 0);
        assert!(during.starts_with("[  12/  30 s]"), "{during}");
        assert!(during.contains("p99     21.5 ms"), "{during}");
        let resending = progress_line(50, 30, (0, 0, 0), 2, 12);
        assert!(
            resending.starts_with("[load of 30 s done, + 20 s] resending 12 lost reports"),
            "{resending}"
        );
        assert!(!resending.contains("/  30 s]"), "{resending}");
        let one = progress_line(31, 30, (0, 0, 0), 0, 1);
        assert!(one.contains("resending 1 lost report "), "{one}");
        let waiting = progress_line(33, 30, (0, 0, 0), 4, 0);
        assert!(
            waiting.contains("waiting for 4 requests in flight"),
            "{waiting}"
        );
    }
}
