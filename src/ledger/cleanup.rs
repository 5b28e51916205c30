//! `mss-harness cleanup LEDGER`: retract what a rehearsal stored. Every
//! affiliation the ledger shows stored (answered OK, or found stored after a
//! lost answer) and not yet retracted is retracted — if today (Bogotá) is
//! still inside its retraction window (the contract's business days) —
//! against the scenario's target, through the same guards, credentials,
//! token service and production caps as `run` ([`crate::target::url`],
//! [`Limiter`]).
//!
//! Resumable, never twice: each retraction's intent is appended to the same
//! ledger and flushed to disk before it is sent, and its outcome after. A
//! later cleanup reads them back: a retraction stored, or refused as already
//! done, is done; one whose answer was lost is **in doubt** and never sent
//! again (the ministry can tell); one the target refused (nothing stored) is
//! tried again. The retraction's numeroRadicado is derived from the
//! affiliation's, so the target itself would refuse a second one as a
//! duplicate.
//!
//! What it prints masks document numbers (last three digits).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::book::{Book, Fate};
use super::{Answer, Class, Entry, Header, Intent, Ledger};
use crate::connect::ConnectArgs;
use crate::domain::{Contract, Role, Service};
use crate::engine::Limiter;
use crate::generator::Retracto;
use crate::outcome::Outcome;
use crate::scenario::{RunPlan, TargetPlan};
use crate::secret::mask;
use crate::token::TokenCache;
use crate::usage::usage;

/// What `cleanup` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The ledger a run wrote.
    pub ledger: PathBuf,
    /// List what would be retracted; send nothing.
    pub dry_run: bool,
    /// `--confirm-production HOST`.
    pub confirm_production: Option<String>,
    /// TLS and address overrides.
    pub connect: ConnectArgs,
    /// The day taken as today (the retraction's `fechaRetracto`).
    pub today: NaiveDate,
}

/// What became of one stored affiliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// To be retracted (a dry run stops here).
    Pending,
    /// Retracted now: the retraction's numeroTransaccion.
    Retracted(String),
    /// Retracted before (by the run, or an earlier cleanup).
    AlreadyRetracted,
    /// Its window closed on this day: to take up with the ministry.
    OutsideWindow(NaiveDate),
    /// Whether it (or its retraction) was stored is not known: why.
    InDoubt(String),
    /// The target refused the retraction, or it could not be sent: why.
    Failed(String),
}

/// A stored affiliation and what cleanup made of it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The affiliation's intent (its fields).
    pub intent: Intent,
    /// Its numeroTransaccion, when known.
    pub numero_transaccion: Option<String>,
    /// What became of it.
    pub state: State,
}

/// The outcome of a cleanup.
#[derive(Debug)]
pub struct Cleanup {
    /// The target.
    pub target: String,
    /// The day taken as today.
    pub today: NaiveDate,
    /// Whether nothing was sent on purpose.
    pub dry_run: bool,
    /// Every affiliation the ledger shows stored or in doubt.
    pub items: Vec<Item>,
    /// Affiliations the target refused (nothing to undo).
    pub not_stored: usize,
    /// A stop signal ended the sending early.
    pub interrupted: Option<crate::interrupt::Signal>,
}

/// The retraction's numeroRadicado for the affiliation `radicado` of
/// `administradora`: the same on every cleanup (FNV-1a, 64 bits, in hex).
fn retraction_radicado(administradora: &str, radicado: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in administradora.bytes().chain([b'/']).chain(radicado.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}CL{h:016X}", crate::generator::DEFAULT_PREFIX)
}

/// What the ledger's `book` leaves to do on `today`: every stored
/// affiliation with its state (`Pending` for those to retract now), and how
/// many the target refused.
pub fn plan(book: &Book, contract: &Contract, today: NaiveDate) -> (Vec<Item>, usize) {
    let done = [
        contract.codigo_of(Role::AlreadyRetracted),
        contract.codigo_of(Role::Duplicate),
    ];
    let mut items = Vec::new();
    let mut not_stored = 0;
    for r in book.of_service(Service::Afiliacion) {
        let (numero, state) = match r.fate() {
            Fate::NotStored(_) => {
                not_stored += 1;
                continue;
            }
            Fate::InDoubt => (
                None,
                State::InDoubt("its answer was lost and no resend settled it".into()),
            ),
            Fate::Stored(None) => (
                None,
                State::InDoubt("stored, but its numeroTransaccion was lost with its answer".into()),
            ),
            Fate::Stored(Some(n)) => {
                let retractions: Vec<Fate> = book
                    .of_service(Service::Retracto)
                    .filter(|x| x.intent.transaccion_afiliacion.as_deref() == Some(n.as_str()))
                    .map(|x| x.fate())
                    .collect();
                let state = if retractions.iter().any(|f| match f {
                    Fate::Stored(_) => true,
                    Fate::NotStored(c) => done.contains(&c.as_str()),
                    Fate::InDoubt => false,
                }) {
                    State::AlreadyRetracted
                } else if retractions.contains(&Fate::InDoubt) {
                    State::InDoubt("a retraction went out and its answer was lost".into())
                } else {
                    match r.intent.fecha_solicitud {
                        None => State::Failed("the ledger has no fechaSolicitud".into()),
                        Some(f) if crate::domain::retraction_in_window(f, today) => State::Pending,
                        Some(f) => State::OutsideWindow(crate::domain::retraction_window(f).1),
                    }
                };
                (Some(n), state)
            }
        };
        items.push(Item {
            intent: r.intent.clone(),
            numero_transaccion: numero,
            state,
        });
    }
    (items, not_stored)
}

/// Read the ledger, check it against `plan`'s target, and retract what is
/// left (or, with `dry_run`, list it). Errors are usage errors; nothing was
/// sent then.
pub async fn run(plan: &RunPlan, options: &Options) -> anyhow::Result<Cleanup> {
    let read = super::read(&options.ledger).map_err(|e| usage(e.to_string()))?;
    if read.torn_last_line {
        eprintln!(
            "cleanup: the ledger's last line was cut short (a crash while writing it); left out"
        );
    }
    let book = Book::of(read.entries);
    let target = ledger_target(&book, &options.ledger)?;
    let TargetPlan::Url(url) = &plan.target else {
        return Err(usage(format!(
            "the scenario's target is the embedded mock; the ledger's is {target}: give the scenario the run used"
        )));
    };
    let base = url.url.trim_end_matches('/');
    if base != target {
        return Err(usage(format!(
            "the ledger was written against {target}, the scenario's target is {base}: give the scenario the run used"
        )));
    }
    let (mut items, not_stored) = self::plan(&book, &plan.contract, options.today);
    let mut cleanup = Cleanup {
        target: target.clone(),
        today: options.today,
        dry_run: options.dry_run,
        items: Vec::new(),
        not_stored,
        interrupted: None,
    };
    if options.dry_run || !items.iter().any(|i| i.state == State::Pending) {
        cleanup.items = items;
        return Ok(cleanup);
    }
    let policy = crate::target::policy(plan);
    let ready = crate::target::url::prepare(
        plan,
        url,
        &options.connect,
        options.confirm_production.as_deref(),
        policy,
    )
    .await?;
    let header = Header {
        format: super::FORMAT_VERSION,
        command: "cleanup".into(),
        target: target.clone(),
        scenario: plan.name.clone(),
        run_id: format!("cleanup-{}", Utc::now().format("%Y%m%dT%H%M%SZ")),
        at: Utc::now(),
    };
    let ledger = Ledger::open(&options.ledger, &header).map_err(|e| usage(e.to_string()))?;
    let sender = Sender {
        http: ready.http,
        url: reqwest::Url::parse(&format!("{base}{}", Service::Retracto.path()))
            .map_err(|e| usage(format!("target.url {base:?}: {e}")))?,
        cache: Arc::clone(&ready.target.tokens[1]),
        contract: Arc::clone(&plan.contract),
        timeout: plan.http.timeout,
        ledger,
    };
    let limiter = ready.target.caps.map(Limiter::new);
    let start = tokio::time::Instant::now();
    let signal = crate::interrupt::subscribe();
    for item in items.iter_mut().filter(|i| i.state == State::Pending) {
        if let Some(s) = *signal.borrow() {
            cleanup.interrupted = Some(s);
            break;
        }
        if let Some(l) = &limiter
            && !l.admit(start, 1).await
        {
            let cap = l.reached().unwrap_or("a production cap").to_owned();
            item.state = State::Failed(format!("not sent: {cap} reached"));
            continue;
        }
        item.state = sender.retract(item, options.today).await?;
    }
    cleanup.items = items;
    Ok(cleanup)
}

/// The one target the ledger's headers name.
fn ledger_target(book: &Book, path: &Path) -> anyhow::Result<String> {
    let mut targets: Vec<&str> = book.headers.iter().map(|h| h.target.as_str()).collect();
    targets.dedup();
    match targets.as_slice() {
        [] => Err(usage(format!(
            "{}: no header line: not a ledger mss-harness wrote",
            path.display()
        ))),
        [one] => Ok((*one).to_owned()),
        many => Err(usage(format!(
            "{}: written against several targets ({}): clean up one target at a time",
            path.display(),
            many.join(", ")
        ))),
    }
}

/// What sends the retractions.
struct Sender {
    http: reqwest::Client,
    url: reqwest::Url,
    cache: Arc<TokenCache>,
    contract: Arc<Contract>,
    timeout: std::time::Duration,
    ledger: Ledger,
}

impl Sender {
    /// Retract `item` dated `today`: its intent written and flushed, sent
    /// (once more with a fresh token after a 401), its outcome written.
    async fn retract(&self, item: &Item, today: NaiveDate) -> anyhow::Result<State> {
        let a = &item.intent;
        let retracto = Retracto {
            numero_radicado: retraction_radicado(&a.administradora, &a.radicado),
            codigo_administradora: a.administradora.clone(),
            tipo_documento: a.tipo_documento.clone(),
            numero_documento: a.numero_documento.clone(),
            numero_transaccion_afiliacion: item.numero_transaccion.clone().unwrap_or_default(),
            fecha_retracto: today,
            observacion: None,
        };
        let body = serde_json::to_vec(&retracto)?;
        let ledger_error = |e: super::LedgerError| usage(e.to_string());
        for attempt in 0..2 {
            let token = match self.cache.get().await {
                Ok(t) => t,
                Err(e) => return Ok(State::Failed(format!("not sent: token: {e}"))),
            };
            self.ledger
                .append(&Entry::Intent(Intent::of(Service::Retracto, &body)))
                .and_then(|()| self.ledger.sync())
                .map_err(ledger_error)?;
            let sent = self
                .http
                .post(self.url.clone())
                .header(AUTHORIZATION, token.bearer.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone())
                .timeout(self.timeout)
                .send()
                .await;
            let answer = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    r.bytes()
                        .await
                        .map(|b| (status, b))
                        .map_err(|e| Outcome::of_transport(&e))
                }
                Err(e) => Err(Outcome::of_transport(&e)),
            };
            let outcome = Answer::of(
                &self.contract,
                Service::Retracto,
                &retracto.numero_radicado,
                match &answer {
                    Ok((s, b)) => Ok((*s, b.as_ref())),
                    Err(o) => Err(o),
                },
            );
            self.ledger
                .append(&Entry::Outcome(outcome.clone()))
                .map_err(ledger_error)?;
            if outcome.status == Some(401) && attempt == 0 {
                self.cache.invalidate(token.generation);
                continue;
            }
            return Ok(self.state_of(outcome));
        }
        Ok(State::Failed(
            "refused twice as unauthorised (HTTP 401)".into(),
        ))
    }

    /// What an answer to a retraction makes of its affiliation.
    fn state_of(&self, a: Answer) -> State {
        let done = [
            self.contract.codigo_of(Role::AlreadyRetracted),
            self.contract.codigo_of(Role::Duplicate),
        ];
        let why = || {
            a.codigo
                .clone()
                .or_else(|| a.status.map(|s| format!("HTTP {s}")))
                .or_else(|| a.error.clone())
                .unwrap_or_default()
        };
        match a.class {
            Class::Stored => State::Retracted(a.numero_transaccion.clone().unwrap_or_default()),
            Class::Refused if a.codigo.as_deref().is_some_and(|c| done.contains(&c)) => {
                State::AlreadyRetracted
            }
            Class::Refused => State::Failed(format!("refused: {}", why())),
            Class::NotSent => State::Failed(format!("not sent: {}", why())),
            Class::Lost => State::InDoubt(format!("its answer was lost ({})", why())),
        }
    }
}

/// The report's headings, in its order.
const HEADINGS: [&str; 7] = [
    "to retract",
    "not sent (stopped)",
    "retracted",
    "already retracted",
    "outside the window (take up with the ministry)",
    "in doubt (take up with the ministry)",
    "failed",
];

impl State {
    /// Its heading in the report (one of [`HEADINGS`]).
    fn heading(&self, dry_run: bool) -> &'static str {
        match self {
            State::Pending if dry_run => HEADINGS[0],
            State::Pending => HEADINGS[1],
            State::Retracted(_) => HEADINGS[2],
            State::AlreadyRetracted => HEADINGS[3],
            State::OutsideWindow(_) => HEADINGS[4],
            State::InDoubt(_) => HEADINGS[5],
            State::Failed(_) => HEADINGS[6],
        }
    }
}

impl Cleanup {
    /// The exit code: 0 when every stored affiliation is retracted (or, dry,
    /// can be), 1 when some are left (outside the window, in doubt, failed),
    /// 130/143 when a signal stopped it.
    pub fn exit_code(&self) -> u8 {
        if let Some(s) = self.interrupted {
            return s.exit_code();
        }
        let left = self.items.iter().any(|i| {
            matches!(
                i.state,
                State::OutsideWindow(_) | State::InDoubt(_) | State::Failed(_)
            )
        });
        u8::from(left)
    }

    /// The report printed: counts, then one line per affiliation (document
    /// numbers masked).
    pub fn text(&self) -> String {
        let mut t = String::new();
        let verb = if self.dry_run {
            "dry run: nothing sent"
        } else {
            "sent"
        };
        let _ = writeln!(
            t,
            "cleanup against {} as of {} ({verb})",
            self.target, self.today
        );
        for (k, heading) in HEADINGS.into_iter().enumerate() {
            let n = self
                .items
                .iter()
                .filter(|i| i.state.heading(self.dry_run) == heading)
                .count();
            // The first two only when they apply.
            if n > 0 || k >= 2 {
                let _ = writeln!(t, "  {heading}: {n}");
            }
        }
        let _ = writeln!(
            t,
            "  refused by the target (nothing stored): {}",
            self.not_stored
        );
        for i in &self.items {
            let a = &i.intent;
            let what = match &i.state {
                State::Retracted(n) => format!("retracted (numeroTransaccion {n})"),
                State::OutsideWindow(d) => format!("outside the window (closed {d})"),
                State::InDoubt(why) => format!("in doubt: {why}"),
                State::Failed(why) => format!("failed: {why}"),
                other => other.heading(self.dry_run).to_owned(),
            };
            let fecha = a
                .fecha_solicitud
                .map_or_else(|| "?".to_owned(), |d| d.to_string());
            let _ = writeln!(
                t,
                "  {} {} {} fechaSolicitud {fecha}: {what}",
                a.radicado,
                a.tipo_documento,
                mask(&a.numero_documento)
            );
        }
        if let Some(s) = self.interrupted {
            let _ = writeln!(
                t,
                "stopped by {}: run cleanup again to go on (nothing is sent twice)",
                s.name()
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Answer, Class, Entry, Intent};
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn affiliation(radicado: &str, fecha: &str, class: Class, numero: &str) -> Vec<Entry> {
        let body = format!(
            r#"{{"numeroRadicado":"{radicado}","codigoAdministradora":"230301","tipoDocumento":"CC","numeroDocumento":"1000000123","fechaSolicitud":"{fecha}"}}"#
        );
        let intent = Intent::of(Service::Afiliacion, body.as_bytes());
        let mut a = Answer::of(
            Contract::embedded(),
            Service::Afiliacion,
            radicado,
            Err(&Outcome::Reset),
        );
        a.class = class;
        a.numero_transaccion = Some(numero.into());
        vec![Entry::Intent(intent), Entry::Outcome(a)]
    }

    fn retraction(of: &str, class: Class) -> Vec<Entry> {
        let body = format!(
            r#"{{"numeroRadicado":"X{of}","numeroTransaccionAfiliacion":"{of}","fechaRetracto":"2026-12-07"}}"#
        );
        let intent = Intent::of(Service::Retracto, body.as_bytes());
        let mut a = Answer::of(
            Contract::embedded(),
            Service::Retracto,
            &format!("X{of}"),
            Err(&Outcome::Reset),
        );
        a.class = class;
        vec![Entry::Intent(intent), Entry::Outcome(a)]
    }

    #[test]
    fn each_stored_affiliation_gets_one_state() {
        // 2026-12-07 is a Monday: a request of 2026-12-01 (Tuesday) may be
        // retracted until its fifth business day, 2026-12-09 (the 8th is a
        // holiday in Colombia); one of 2026-11-20 may not.
        let entries: Vec<Entry> = [
            affiliation("A", "2026-12-01", Class::Stored, "T-A"),
            affiliation("B", "2026-11-20", Class::Stored, "T-B"),
            affiliation("C", "2026-12-01", Class::Stored, "T-C"),
            retraction("T-C", Class::Stored),
            affiliation("D", "2026-12-01", Class::Stored, "T-D"),
            retraction("T-D", Class::Lost),
            affiliation("E", "2026-12-01", Class::Refused, ""),
            affiliation("F", "2026-12-01", Class::Lost, ""),
            affiliation("G", "2026-12-01", Class::Stored, "T-G"),
            retraction("T-G", Class::Refused),
        ]
        .concat();
        let (items, not_stored) = plan(&Book::of(entries), Contract::embedded(), d("2026-12-07"));
        let states: Vec<(&str, &State)> = items
            .iter()
            .map(|i| (i.intent.radicado.as_str(), &i.state))
            .collect();
        assert_eq!(not_stored, 1);
        let lost = State::InDoubt("a retraction went out and its answer was lost".into());
        let unknown = State::InDoubt("its answer was lost and no resend settled it".into());
        let closed = State::OutsideWindow(crate::domain::retraction_window(d("2026-11-20")).1);
        assert_eq!(
            states,
            [
                ("A", &State::Pending),
                ("B", &closed),
                ("C", &State::AlreadyRetracted),
                ("D", &lost),
                ("F", &unknown),
                ("G", &State::Pending),
            ]
        );
    }

    #[test]
    fn the_retraction_radicado_is_stable_and_valid() {
        let r = retraction_radicado("230301", "MSSHABCDA0000000000001");
        assert_eq!(r, retraction_radicado("230301", "MSSHABCDA0000000000001"));
        assert_ne!(r, retraction_radicado("230301", "MSSHABCDA0000000000002"));
        assert!(r.len() <= 30 && r.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
