//! The run's ledger ([`crate::ledger`]), written from the engine: the intent
//! of every valid report before it goes out (each attempt and each resend),
//! its outcome when its answer comes, and `unknown_outcome` when a resend
//! shows that a report whose answer was lost had been stored. Only a run
//! against a target other than the embedded mock keeps a ledger.

use super::RunContext;
use super::send::Expect;
use crate::domain::Service;
use crate::ledger::{Answer, Entry, Found, Intent, Ledger};
use crate::outcome::Outcome;

/// A report written to the ledger as about to be sent: its service and
/// numeroRadicado (`None`: the run keeps no ledger, or the request is not a
/// valid report).
pub(super) type Noted = Option<(Service, String)>;

/// The ledger could not be written: the report must not be sent.
#[derive(Debug)]
pub(super) struct Unwritten;

impl RunContext {
    /// Keep `ledger` from now on (once; false when the run already keeps one).
    pub fn keep_ledger(&self, ledger: Ledger) -> bool {
        let kept = self.ledger.set(ledger).is_ok();
        if kept {
            self.data
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .keep_intents();
        }
        kept
    }

    /// The run's ledger, when it keeps one.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.ledger.get()
    }

    /// Before `body` goes to `service`: its intent (`drawn` with it, else
    /// read from it), when the run keeps a ledger and the request is a valid
    /// report (one that may store a record). A ledger that cannot be written
    /// fails the run, and the report is not sent.
    pub(super) fn ledger_intent(
        &self,
        service: Service,
        body: &[u8],
        expect: &Expect,
        drawn: Option<&Intent>,
    ) -> Result<Noted, Unwritten> {
        let (Some(ledger), Expect::Accepted) = (self.ledger.get(), expect) else {
            return Ok(None);
        };
        let intent = match drawn {
            Some(i) => Intent {
                at: chrono::Utc::now(),
                ..i.clone()
            },
            None => Intent::of(service, body),
        };
        let radicado = intent.radicado.clone();
        match ledger.append(&Entry::Intent(intent)) {
            Ok(()) => Ok(Some((service, radicado))),
            Err(e) => {
                self.stop.fail(e.to_string());
                Err(Unwritten)
            }
        }
    }

    /// The answer (or the class of a send without one) of a `noted` report.
    pub(super) fn ledger_answer(
        &self,
        noted: Noted,
        answer: &Result<crate::transport::Answer, Outcome>,
    ) {
        let (Some(ledger), Some((service, radicado))) = (self.ledger.get(), noted) else {
            return;
        };
        let answer = match answer {
            Ok(a) => Ok((a.status.as_u16(), a.body.as_ref())),
            Err(o) => Err(o),
        };
        let a = Answer::of(&self.contract, service, &radicado, answer);
        if let Err(e) = ledger.append(&Entry::Outcome(a)) {
            self.stop.fail(e.to_string());
        }
    }

    /// A report of `service` whose answer was lost was found stored.
    pub(super) fn ledger_found(&self, service: Service, radicado: &str) {
        let Some(ledger) = self.ledger.get() else {
            return;
        };
        let found = Found {
            service: service.name().to_owned(),
            radicado: radicado.to_owned(),
            at: chrono::Utc::now(),
        };
        if let Err(e) = ledger.append(&Entry::UnknownOutcome(found)) {
            self.stop.fail(e.to_string());
        }
    }
}
