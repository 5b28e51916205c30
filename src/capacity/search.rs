//! The capacity search (`[load] model = "search"`, `scenarios/capacity.toml`):
//! plateaus whose rates are chosen as the run goes. It steps the rate up by
//! `step` from `start_rate` until a plateau fails — a global latency or
//! error-rate threshold, the target shedding (429/503), or requests the
//! harness could not send on time — then bisects between the last good and
//! the first bad rate for the plateaus left. Each plateau is followed by a
//! one-second pause at rate 0, during which the target drains its queue and
//! the next rate is decided; the run lasts `plateaus × (plateau + 1 s)`
//! whatever is found, never goes above `max_rate` (which a production target's
//! `[production]` caps bound), and stops sending once a search step above
//! `max_rate` would be needed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::results::{PlateauCheck, Stage};

use crate::engine::RunContext;
use crate::outcome::Outcome;
use crate::scenario::{RunPlan, SEARCH_PAUSE, SearchPlan, Threshold};
use crate::schedule::ArrivalSchedule;

/// Seconds at the start of a plateau left out of its judgement.
pub const SETTLE_S: u64 = 1;
/// The start of a step's `reason` when the harness, not the target, was the
/// limit: the plateau measures nothing of the target.
pub const HARNESS_LIMITED: &str = "the harness could not keep up";
/// How long after a second ends its requests are in the metrics (harvested
/// once a second).
const HARVEST: Duration = Duration::from_millis(250);

/// Start the search over `ctx`'s open-ended timetable (the engine runs the
/// plateaus written into it): the first plateau and its pause are written
/// now, before the load starts; the task returned judges each plateau,
/// records it into `steps` (as `summary.json`'s `stages`) and writes the
/// next.
pub fn start(
    ctx: Arc<RunContext>,
    scenario: &RunPlan,
    plan: SearchPlan,
    steps: Arc<Mutex<Vec<Stage>>>,
) -> tokio::task::JoinHandle<()> {
    if let Some(schedule) = ctx.schedule() {
        first_step(schedule, &plan);
    }
    tokio::spawn(drive(ctx, scenario.plateau_thresholds(), plan, steps))
}

/// Write the first plateau (and its pause) into a fresh timetable.
fn first_step(schedule: &ArrivalSchedule, plan: &SearchPlan) {
    schedule.extend(plan.start_rate, plan.plateau);
    schedule.extend(0.0, SEARCH_PAUSE);
}

/// Where the search stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State {
    /// Stepping up; the last rate that held.
    Up {
        /// The last good rate (0 before any).
        good: f64,
    },
    /// Bisecting between a good and a bad rate.
    Bisect {
        /// Highest rate that held.
        good: f64,
        /// Lowest rate that failed.
        bad: f64,
    },
    /// `max_rate` held: nothing more to try.
    Done,
}

/// The next rate after a plateau at `rate` that held (`ok`), and the new
/// state; `None` when the search is over.
pub fn next(plan: &SearchPlan, state: State, rate: f64, ok: bool) -> (State, Option<f64>) {
    let state = match (state, ok) {
        (State::Up { .. }, true) if rate >= plan.max_rate => State::Done,
        (State::Up { .. }, true) => State::Up { good: rate },
        (State::Up { good }, false) => State::Bisect { good, bad: rate },
        (State::Bisect { bad, .. }, true) => State::Bisect { good: rate, bad },
        (State::Bisect { good, .. }, false) => State::Bisect { good, bad: rate },
        (State::Done, _) => State::Done,
    };
    let rate = match state {
        State::Up { good } => Some((good * plan.step).min(plan.max_rate)),
        State::Bisect { good, bad } => Some((good + bad) / 2.0),
        State::Done => None,
    };
    (state, rate)
}

/// Outcome counts of the run so far (from the harvested totals).
fn counts(ctx: &RunContext) -> (u64, u64) {
    let (mut shed, mut dropped) = (0, 0);
    for t in ctx.metrics().totals() {
        shed += t.count(&Outcome::Http5xx(503)) + t.count(&Outcome::Http4xx(429));
        dropped += t.count(&Outcome::Dropped);
    }
    (shed, dropped)
}

/// Run the search over `ctx`'s timetable: each plateau judged by `checks`
/// and recorded into `steps` (as `summary.json`'s `stages`), the next written.
async fn drive(
    ctx: Arc<RunContext>,
    checks: Vec<Threshold>,
    plan: SearchPlan,
    steps: Arc<Mutex<Vec<Stage>>>,
) {
    let Some(schedule) = ctx.schedule() else {
        return;
    };
    let start = loop {
        if let Some(s) = ctx.started() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let slot = plan.plateau + SEARCH_PAUSE;
    let length = plan.plateau.as_secs();
    let mut state = State::Up { good: 0.0 };
    let mut rate = Some(plan.start_rate);
    for k in 0..plan.plateaus {
        let from = slot.as_secs() * k as u64;
        let at = start + slot * k as u32;
        // Shed and dropped requests count from the end of the settling time.
        tokio::time::sleep_until(at + Duration::from_secs(SETTLE_S) + HARVEST).await;
        let before = counts(&ctx);
        // The plateau's last second is harvested a moment after it ends.
        tokio::time::sleep_until(at + plan.plateau + HARVEST).await;
        let Some(r) = rate else {
            continue;
        };
        let (latency, completed, errors) = ctx.metrics().window(from + SETTLE_S, from + length);
        let now = counts(&ctx);
        let (shed, dropped) = (
            now.0.saturating_sub(before.0),
            now.1.saturating_sub(before.1),
        );
        let mut ok = completed > 0;
        let mut reason = (!ok).then(|| "nothing completed".to_owned());
        // More than 0.1% not sent on time: the harness, not the target, was
        // the limit at this rate.
        if dropped as f64 > 0.001 * r * (length - SETTLE_S) as f64 {
            ok = false;
            reason.get_or_insert_with(|| {
                format!("{HARNESS_LIMITED}: {dropped} requests not sent on time (raise max_in_flight, or a bigger machine)")
            });
        }
        let mut results = Vec::new();
        for t in &checks {
            let value = t.plateau_value(&latency, completed, errors);
            let holds = t.holds(value);
            if !holds {
                ok = false;
                reason.get_or_insert_with(|| format!("threshold {}", t.expr));
            }
            results.push(PlateauCheck {
                expr: t.expr.clone(),
                ok: holds,
                value: (value * 1000.0).round() / 1000.0,
            });
        }
        if shed > 0 {
            ok = false;
            reason.get_or_insert_with(|| format!("the target shed {shed} requests (429/503)"));
        }
        let judged = length.saturating_sub(SETTLE_S).max(1);
        steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Stage {
                rate: (r * 10.0).round() / 10.0,
                start_s: from,
                end_s: from + length,
                completed,
                achieved_rate: (completed as f64 / judged as f64 * 10.0).round() / 10.0,
                ok,
                thresholds: results,
                settle_s: Some(SETTLE_S),
                reason: Some(reason),
            });
        let (s, n) = next(&plan, state, r, ok);
        state = s;
        rate = n;
        if k + 1 < plan.plateaus {
            // Nothing more to try: the rest of the run is a pause.
            schedule.extend(rate.unwrap_or(0.0), plan.plateau);
            schedule.extend(0.0, SEARCH_PAUSE);
        }
    }
    schedule.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SearchPlan {
        SearchPlan {
            start_rate: 250.0,
            max_rate: 8000.0,
            step: 2.0,
            plateau: Duration::from_secs(5),
            plateaus: 9,
            max_in_flight: 100,
        }
    }

    /// The rates tried against a target that holds up to `capacity`.
    fn rates(plan: &SearchPlan, capacity: f64) -> Vec<f64> {
        let mut out = Vec::new();
        let (mut state, mut rate) = (State::Up { good: 0.0 }, Some(plan.start_rate));
        for _ in 0..plan.plateaus {
            let Some(r) = rate else { break };
            out.push(r);
            (state, rate) = next(plan, state, r, r <= capacity);
        }
        out
    }

    #[test]
    fn the_search_steps_up_then_bisects_the_knee() {
        assert_eq!(
            rates(&plan(), 5000.0),
            [
                250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 6000.0, 5000.0, 5500.0
            ]
        );
        // A target that fails at the first plateau: bisect below it.
        assert_eq!(rates(&plan(), 100.0)[..3], [250.0, 125.0, 62.5]);
    }

    #[test]
    fn the_search_never_goes_above_max_rate_and_stops_there() {
        let p = SearchPlan {
            max_rate: 3000.0,
            ..plan()
        };
        assert_eq!(rates(&p, 1e9), [250.0, 500.0, 1000.0, 2000.0, 3000.0]);
        assert!(rates(&p, 2500.0).iter().all(|&r| r <= 3000.0));
    }
}
