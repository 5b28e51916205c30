//! One user's turn ([`RunContext::iteration`]): in the open model the next
//! ticket of the schedule, slept until due (`dropped` when taken too late);
//! in the closed model a send and a think time. Its work — a report, or an
//! invalid case with its set-up — goes through the production caps and is
//! sent; what no user took is `dropped` after the load.

use std::time::Duration;

use goose::prelude::GooseUser;
use tokio::time::Instant;

use super::data::Work;
use super::send::{Expect, Report};
use super::stop::Phase;
use super::{LATE_TOLERANCE, RunContext, service_index};
use crate::domain::Service;
use crate::generator::invalid::{InvalidCase, PENDING_TRANSACTION};
use crate::metrics::Timing;
use crate::outcome::Outcome;
use crate::token::TokenCache;

impl RunContext {
    /// The run's clock: started by the first call.
    fn begin(&self) -> Instant {
        *self.start.get_or_init(|| {
            let now = Instant::now();
            self.metrics.start_at(now);
            now
        })
    }

    /// Wait for a ticket's due time `due`, waking within microseconds of it
    /// (a request measured from its intended time must leave then, not at the
    /// timer wheel's next millisecond); false when the run is interrupted first.
    async fn wait_until(&self, due: Instant) -> bool {
        if Instant::now() >= due {
            // Through Tokio's timer even when already due (its cooperative budget).
            return self.stop.sleep_until(due).await;
        }
        self.stop
            .unless_interrupted(self.timers.sleep_until(due))
            .await
            .is_some()
    }

    /// Wait for the production caps' slot of `n` more requests (at once
    /// against a target without caps): `Some(true)` when admitted,
    /// `Some(false)` when a cap forbids them — the run is capped from then
    /// on —, `None` when the run is interrupted first.
    pub(super) async fn admit(&self, n: u64) -> Option<bool> {
        let (Some(limiter), Some(start)) = (&self.limiter, self.started()) else {
            return Some(true);
        };
        let admitted = self.stop.unless_interrupted(limiter.admit(start, n)).await;
        if admitted == Some(false) {
            self.stop.cap();
        }
        admitted
    }

    /// One Goose transaction: one ticket (open) or one round (closed), sent
    /// by `user` (through Goose's request metrics with `run --goose-report`).
    pub async fn iteration(&self, user: &mut GooseUser) {
        let shard = user.weighted_users_index;
        let start = self.begin();
        let end = start + self.duration;
        match self.stop.phase() {
            Phase::Running => {}
            Phase::Interrupted | Phase::Abandoned => {
                self.stop.idle_until_exit().await;
                return;
            }
            // Nothing more is sent: idle until the planned end.
            Phase::Capped | Phase::Failed | Phase::Resending | Phase::Finished => {
                self.stop.sleep_until(end).await;
                return;
            }
        }
        let due = match &self.schedule {
            // A capacity search writes its timetable as it goes: a ticket
            // beyond what is written waits for it.
            Some(schedule) => match self
                .stop
                .unless_interrupted(schedule.next_ticket_waiting())
                .await
            {
                Some(Some(ticket)) => {
                    let due = start + ticket.due;
                    if !self.wait_until(due).await {
                        return;
                    }
                    due
                }
                Some(None) => {
                    self.stop.sleep_until(end).await;
                    return;
                }
                None => return,
            },
            None => {
                if Instant::now() >= end {
                    self.stop
                        .sleep_until(Instant::now() + Duration::from_millis(50))
                        .await;
                    return;
                }
                Instant::now()
            }
        };
        let work = {
            let mut data = self
                .data
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            data.next()
        };
        let work = match work {
            Ok(Some(w)) => w,
            // The feeder's rows ran out: nothing more is sent, and the rest
            // of the plan is left undelivered (the run's record says why).
            Ok(None) => {
                self.stop.cap();
                return;
            }
            Err(e) => {
                self.stop.fail(format!("data: {e}"));
                return;
            }
        };
        if self.admit(work.requests()).await != Some(true) {
            self.give_back(work);
            return;
        }
        let second = self.second_of(due);
        if self.schedule.is_some() && Instant::now() > due + LATE_TOLERANCE {
            self.metrics
                .record(shard, work.service(), Outcome::Dropped, Timing::default());
            self.delivery.dropped(second, work.service());
            self.give_back(work);
            return;
        }
        self.delivery.sent(second, work.service());
        match work {
            Work::Single {
                service,
                body,
                pool,
                intent,
                ..
            } => {
                let report = Report {
                    service,
                    body,
                    expect: &Expect::Accepted,
                    intent: intent.as_deref(),
                };
                let (outcome, numero) = self.send_as(user, &self.own, report, due).await;
                if let (Outcome::Ok, Some(a), Some(n)) = (&outcome, pool, numero) {
                    self.data
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .accepted(a, &n);
                }
            }
            // Boxed: a rare path kept out of every iteration's future.
            Work::Case(case) => Box::pin(self.run_case(user, *case, due)).await,
        }
        if self.schedule.is_none() && !self.think_time.is_zero() {
            self.stop
                .sleep_until(Instant::now() + self.think_time)
                .await;
        }
    }

    /// `work` taken but not sent: a feeder's row goes back to be sent later.
    fn give_back(&self, work: Work) {
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .give_back(work);
    }

    /// An invalid case: its set-up (each step must be accepted), then its
    /// probe, which must be rejected as the case expects.
    async fn run_case(&self, user: &mut GooseUser, case: InvalidCase, due: Instant) {
        let mut answers: Vec<Option<String>> = Vec::new();
        for step in &case.setup {
            let mut body = step.body.clone();
            if let Some(i) = step.transaction_from {
                body["numeroTransaccionAfiliacion"] = answers
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| PENDING_TRANSACTION.to_owned())
                    .into();
            }
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let report = Report::read(step.service, bytes.into(), &Expect::Accepted);
            let (outcome, numero) = self
                .send_as(user, &step.sender, report, Instant::now())
                .await;
            if !outcome.is_ok() {
                // The set-up failed: the probe would prove nothing.
                return;
            }
            answers.push(numero);
        }
        let mut body = case.probe.body.clone();
        if let Some(i) = case.probe.transaction_from {
            body["numeroTransaccionAfiliacion"] =
                answers.get(i).cloned().flatten().unwrap_or_default().into();
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let expect = Expect::Rejected {
            codigo: case.codigo,
            status: case.http_status,
        };
        let due = if case.setup.is_empty() {
            due
        } else {
            Instant::now()
        };
        let report = Report::read(case.probe.service, bytes.into(), &expect);
        self.send_as(user, &case.probe.sender, report, due).await;
    }

    /// The token client of administrator `sender` for `service` (the run's
    /// own when it is the scenario's administrator); `None` when the run has
    /// none for it.
    pub(super) fn client_of(&self, sender: &str, service: Service) -> Option<&TokenCache> {
        if sender == self.own {
            Some(&self.tokens[service_index(service)])
        } else {
            self.others.get(sender).map(std::sync::Arc::as_ref)
        }
    }

    /// After the load: the schedule's tickets no sender took (every one was
    /// still busy — a hanging target — when the run ended) are `dropped`, each
    /// under the service its work would have gone to; not after a stop or a
    /// production cap or a feeder's rows running out, which end the sending
    /// on purpose.
    pub fn drop_untaken(&self) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        let mut data = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.stop.interrupted()
            || self.limiter.as_ref().is_some_and(|l| l.reached().is_some())
            || data.feeder_state().is_some_and(|f| f.exhausted)
        {
            return;
        }
        for due in schedule.untaken_dues() {
            let service = data.next_untaken();
            self.metrics
                .record(0, service, Outcome::Dropped, Timing::default());
            self.delivery.dropped(due.as_secs(), service);
        }
    }
}
