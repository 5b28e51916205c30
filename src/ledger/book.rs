//! A ledger read back as the fate of each report: its attempts (intents) and
//! their outcomes folded, per service and numeroRadicado, into stored, not
//! stored, or in doubt. A report's attempts go out one after another, so the
//! n-th outcome of a report answers its n-th intent.

use std::collections::HashMap;

use super::{Answer, Class, Entry, Header, Intent};
use crate::domain::Service;

/// What became of a report, all its attempts taken together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// The target stored it; its `numeroTransaccion` when an answer said it
    /// (a report found stored after a lost answer has none).
    Stored(Option<String>),
    /// Every attempt was answered, none stored: the last answer's codigo (or
    /// HTTP status, or error class).
    NotStored(String),
    /// An attempt went out and nobody knows whether the target stored it.
    InDoubt,
}

/// One report of the ledger and its attempts.
#[derive(Debug, Clone)]
pub struct Report {
    /// Its first intent.
    pub intent: Intent,
    intents: usize,
    answers: Vec<Answer>,
    found: bool,
}

impl Report {
    /// What became of it.
    pub fn fate(&self) -> Fate {
        if let Some(a) = self.answers.iter().find(|a| a.class == Class::Stored) {
            return Fate::Stored(a.numero_transaccion.clone());
        }
        if self.found {
            return Fate::Stored(None);
        }
        if self.answers.len() < self.intents || self.answers.iter().any(|a| a.class == Class::Lost)
        {
            return Fate::InDoubt;
        }
        let last = self.answers.last();
        Fate::NotStored(last.map_or_else(String::new, |a| {
            a.codigo
                .clone()
                .or_else(|| a.status.map(|s| format!("HTTP {s}")))
                .or_else(|| a.error.clone())
                .unwrap_or_default()
        }))
    }

    /// Whether the service is `service`.
    pub fn is(&self, service: Service) -> bool {
        self.intent.service == service.name()
    }
}

/// Every report of a ledger, in the order of its first intent, and its headers.
#[derive(Debug, Default)]
pub struct Book {
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The reports.
    pub reports: Vec<Report>,
    index: HashMap<(String, String), usize>,
}

impl Book {
    /// The book of `entries`.
    pub fn of(entries: Vec<Entry>) -> Book {
        let mut book = Book::default();
        for e in entries {
            match e {
                Entry::Header(h) => book.headers.push(h),
                Entry::Intent(i) => {
                    let key = (i.service.clone(), i.radicado.clone());
                    match book.index.get(&key) {
                        Some(&at) => book.reports[at].intents += 1,
                        None => {
                            book.index.insert(key, book.reports.len());
                            book.reports.push(Report {
                                intent: i,
                                intents: 1,
                                answers: Vec::new(),
                                found: false,
                            });
                        }
                    }
                }
                Entry::Outcome(a) => {
                    if let Some(&at) = book.index.get(&(a.service.clone(), a.radicado.clone())) {
                        book.reports[at].answers.push(a);
                    }
                }
                Entry::UnknownOutcome(f) => {
                    if let Some(&at) = book.index.get(&(f.service, f.radicado)) {
                        book.reports[at].found = true;
                    }
                }
            }
        }
        book
    }

    /// The reports of `service`.
    pub fn of_service(&self, service: Service) -> impl Iterator<Item = &Report> {
        self.reports.iter().filter(move |r| r.is(service))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::Found;
    use super::*;

    fn intent(radicado: &str) -> Entry {
        Entry::Intent(Intent::of(
            Service::Afiliacion,
            format!(r#"{{"numeroRadicado":"{radicado}"}}"#).as_bytes(),
        ))
    }

    fn answer(radicado: &str, class: Class, codigo: &str) -> Entry {
        Entry::Outcome(Answer {
            service: Service::Afiliacion.name().into(),
            radicado: radicado.into(),
            class,
            status: Some(200),
            codigo: Some(codigo.into()),
            numero_transaccion: (class == Class::Stored).then(|| format!("T-{radicado}")),
            error: None,
            at: Utc::now(),
        })
    }

    #[test]
    fn attempts_fold_into_a_fate() {
        let found = Entry::UnknownOutcome(Found {
            service: Service::Afiliacion.name().into(),
            radicado: "D".into(),
            at: Utc::now(),
        });
        let book = Book::of(vec![
            intent("A"),
            answer("A", Class::Stored, "OK"),
            intent("B"),
            answer("B", Class::Refused, "NEG02"),
            intent("C"),
            intent("D"),
            answer("D", Class::Lost, ""),
            intent("D"),
            found,
            intent("E"),
            answer("E", Class::Lost, ""),
            intent("E"),
            answer("E", Class::Stored, "OK"),
            intent("F"),
            answer("F", Class::Lost, ""),
        ]);
        let fates: Vec<(String, Fate)> = book
            .of_service(Service::Afiliacion)
            .map(|r| (r.intent.radicado.clone(), r.fate()))
            .collect();
        let expected = [
            ("A", Fate::Stored(Some("T-A".into()))),
            ("B", Fate::NotStored("NEG02".into())),
            ("C", Fate::InDoubt),
            ("D", Fate::Stored(None)),
            ("E", Fate::Stored(Some("T-E".into()))),
            ("F", Fate::InDoubt),
        ];
        let expected: Vec<(String, Fate)> =
            expected.into_iter().map(|(r, f)| (r.into(), f)).collect();
        assert_eq!(fates, expected);
    }
}
