//! The mock's state: accepted records, people, and duplicate fingerprints.
//!
//! Compact by design so that a long run cannot exhaust memory: a record is a
//! fixed-size struct (no per-record heap allocation) kept in chunks, people and
//! duplicates are 64-bit fingerprints. `max_records` bounds the records kept in
//! full (the oldest chunk is dropped first, with the people it set), and
//! `max_fingerprints` bounds the duplicate fingerprints (two generations; the
//! older is forgotten when the newer fills up). People and fingerprints are
//! sharded tables (`sharded`), so that no request pays for rehashing them all.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use chrono::NaiveDate;
use mss_contract::rules;
use rustc_hash::FxHasher;

use crate::deviate::Deviations;
use crate::sharded::{Fingerprints, ShardedMap};
use crate::validate::{Affiliation, Novedad, Rejection, Retraction, novedad_byte, novedad_of_byte};
use mss_contract::Role;

/// A string of at most `N` bytes stored inline.
#[derive(Clone, Copy)]
pub struct Inline<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> Inline<N> {
    fn new(s: &str) -> Self {
        let mut bytes = [0u8; N];
        let mut len = s.len().min(N);
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        bytes[..len].copy_from_slice(&s.as_bytes()[..len]);
        Inline {
            bytes,
            len: len as u8,
        }
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

/// Which service a record came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ReportarAfiliaciontraslado`.
    Afiliacion,
    /// `ReportarRetractoAfiliacion`.
    Retracto,
}

const NO_ADMIN: u8 = u8::MAX;
const NO_RECORD: u64 = u64::MAX;
/// Longest chain of reports about one person walked when a retraction is not of
/// the latest one.
const MAX_CHAIN: usize = 1024;
const UNKNOWN_DATE: i32 = i32::MIN;

/// What the mock knows of a person before an affiliation changed it.
#[derive(Clone, Copy)]
struct PersonState {
    regime_since: i32,
    admin_since: i32,
    admin: u8,
}

const NOBODY: PersonState = PersonState {
    regime_since: UNKNOWN_DATE,
    admin_since: UNKNOWN_DATE,
    admin: NO_ADMIN,
};

/// A person's current state and the record that set it.
#[derive(Clone, Copy)]
struct Person {
    record: u64,
    state: PersonState,
}

/// One accepted report.
#[derive(Clone, Copy)]
pub struct Record {
    /// Affiliation: the person's fingerprint. Retraction: the affiliation's index.
    link: u64,
    /// Affiliation: the person's state before it.
    prev: PersonState,
    /// Affiliation: the record that set that state ([`NO_RECORD`] if none).
    prev_record: u64,
    /// `fechaSolicitud` or `fechaRetracto`, days since 0001-01-01.
    fecha: i32,
    /// Mock-clock Unix seconds when it was accepted.
    pub received: u32,
    /// `numeroRadicado`.
    pub radicado: Inline<30>,
    /// `numeroDocumento`.
    pub documento: Inline<16>,
    /// Service.
    pub kind: Kind,
    /// Index in the contract's document types.
    pub tipo_documento: u8,
    /// Index in the contract's administrators.
    pub administradora: u8,
    novedad: u8,
    /// Affiliation that has been retracted.
    pub retracted: bool,
}

impl Record {
    /// The novelty of an affiliation.
    pub fn novedad(&self) -> Novedad {
        novedad_of_byte(self.novedad)
    }

    /// `fechaSolicitud` (affiliation) or `fechaRetracto` (retraction).
    pub fn fecha(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.fecha).unwrap_or_default()
    }

    /// For a retraction, the index of the affiliation it retracted.
    pub fn retracted_affiliation(&self) -> Option<u64> {
        (self.kind == Kind::Retracto).then_some(self.link)
    }
}

fn days(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d)
}

fn from_days(n: i32) -> Option<NaiveDate> {
    (n != UNKNOWN_DATE)
        .then(|| NaiveDate::from_num_days_from_ce_opt(n))
        .flatten()
}

fn fingerprint(parts: impl Hash) -> u64 {
    let mut h = FxHasher::default();
    parts.hash(&mut h);
    // FxHash is weak in the low bits for short keys; mix like splitmix64.
    let mut z = h.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn person_fp(tipo: u8, numero: &str) -> u64 {
    fingerprint((1u8, tipo, numero))
}

fn radicado_fp(admin: u8, radicado: &str) -> u64 {
    fingerprint((2u8, admin, radicado))
}

fn event_fp(person: u64, novedad: u8, fecha: i32) -> u64 {
    fingerprint((3u8, person, novedad, fecha))
}

/// Records in fixed-size chunks: no reallocation of old records, eviction by chunk.
struct Records {
    chunks: VecDeque<Vec<Record>>,
    chunk_size: usize,
    /// Absolute index of the first retained record.
    first: u64,
    len: usize,
}

impl Records {
    fn new(max: usize) -> Self {
        Records {
            chunks: VecDeque::new(),
            chunk_size: max.clamp(1, 4096),
            first: 0,
            len: 0,
        }
    }

    fn next_index(&self) -> u64 {
        self.first + self.len as u64
    }

    fn push(&mut self, r: Record) -> u64 {
        let index = self.next_index();
        match self.chunks.back_mut() {
            Some(chunk) if chunk.len() < self.chunk_size => chunk.push(r),
            _ => {
                let mut chunk = Vec::with_capacity(self.chunk_size);
                chunk.push(r);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
        index
    }

    fn locate(&self, index: u64) -> Option<(usize, usize)> {
        let offset = usize::try_from(index.checked_sub(self.first)?).ok()?;
        (offset < self.len).then_some((offset / self.chunk_size, offset % self.chunk_size))
    }

    fn get(&self, index: u64) -> Option<&Record> {
        let (c, i) = self.locate(index)?;
        self.chunks.get(c)?.get(i)
    }

    fn get_mut(&mut self, index: u64) -> Option<&mut Record> {
        let (c, i) = self.locate(index)?;
        self.chunks.get_mut(c)?.get_mut(i)
    }

    fn pop_front_chunk(&mut self) -> Option<(u64, Vec<Record>)> {
        let chunk = self.chunks.pop_front()?;
        let first = self.first;
        self.first += chunk.len() as u64;
        self.len -= chunk.len();
        Some((first, chunk))
    }

    fn clear(&mut self) {
        self.first = self.next_index();
        self.chunks.clear();
        self.len = 0;
    }
}

/// The mock's mutable state. Callers hold it behind one lock.
pub struct Store {
    records: Records,
    max_records: usize,
    persons: ShardedMap<Person>,
    radicados: Fingerprints,
    events: Fingerprints,
    max_fingerprints: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("records", &self.records.len)
            .field("persons", &self.persons.len())
            .field("radicados", &self.radicados.len())
            .finish()
    }
}

impl Store {
    /// An empty store with the given bounds.
    pub fn new(max_records: usize, max_fingerprints: usize) -> Self {
        Store {
            records: Records::new(max_records),
            max_records,
            persons: ShardedMap::new(),
            radicados: Fingerprints::new(max_fingerprints),
            events: Fingerprints::new(max_fingerprints),
            max_fingerprints,
        }
    }

    /// Forget everything but keep numbering, so transaction numbers never repeat.
    pub fn reset(&mut self) {
        self.records.clear();
        self.persons = ShardedMap::new();
        self.radicados = Fingerprints::new(self.max_fingerprints);
        self.events = Fingerprints::new(self.max_fingerprints);
    }

    /// Number of records kept in full.
    pub fn len(&self) -> usize {
        self.records.len
    }

    /// Absolute index of the first record kept.
    pub fn first_index(&self) -> u64 {
        self.records.first
    }

    /// The record with absolute index `index`, if still kept.
    pub fn get(&self, index: u64) -> Option<&Record> {
        self.records.get(index)
    }

    fn push(&mut self, record: Record) -> u64 {
        while self.records.len >= self.max_records {
            let Some((first, chunk)) = self.records.pop_front_chunk() else {
                break;
            };
            for (i, r) in chunk.iter().enumerate() {
                if r.kind == Kind::Afiliacion
                    && let Some(p) = self.persons.get(&r.link)
                    && p.record == first + i as u64
                {
                    self.persons.remove(&r.link);
                }
            }
        }
        self.records.push(record)
    }

    /// Apply the stateful rules to an affiliation and keep it; returns its index.
    pub fn affiliation(
        &mut self,
        a: &Affiliation<'_>,
        received: u32,
        dev: &Deviations,
    ) -> Result<u64, Rejection> {
        let radicado = radicado_fp(a.filing.administradora, a.filing.radicado);
        let person = person_fp(a.filing.tipo_documento, a.filing.numero_documento);
        let fecha = days(a.fecha_solicitud);
        let event = event_fp(person, novedad_byte(a.novedad), fecha);
        let (same_radicado, same_event) = (
            self.radicados.contains(radicado),
            self.events.contains(event),
        );
        let waived = !dev.is_empty()
            && match (same_radicado, same_event) {
                (true, true) => dev.has("RUL-NEG01"),
                (true, false) => dev.has("DUP-001"),
                (false, true) => dev.has("DUP-002"),
                (false, false) => false,
            };
        if same_radicado && !waived {
            return Err(Rejection::new(
                Role::Duplicate,
                format!(
                    "Reporte duplicado: numeroRadicado {} ya fue recibido",
                    a.filing.radicado
                ),
            ));
        }
        if same_event && !waived {
            return Err(Rejection::new(
                Role::Duplicate,
                format!(
                    "Reporte duplicado: la misma persona, novedad {} y fecha {} ya fue recibida",
                    a.tipo_novedad, a.fecha_solicitud
                ),
            ));
        }
        let (prev, prev_record) = self
            .persons
            .get(&person)
            .map_or((NOBODY, NO_RECORD), |p| (p.state, p.record));
        let known = prev.admin != NO_ADMIN && !dev.has("RUL-NEG05");
        let next = match a.novedad {
            Novedad::Afiliacion => {
                if known {
                    return Err(Rejection::new(
                        Role::SameAdministrator,
                        "La persona ya está afiliada; corresponde reportar un traslado",
                    ));
                }
                PersonState {
                    regime_since: fecha,
                    admin_since: fecha,
                    admin: a.filing.administradora,
                }
            }
            Novedad::TrasladoRegimen | Novedad::TrasladoAdministradora => {
                if known && Some(prev.admin) != a.origen {
                    return Err(Rejection::new(
                        Role::SameAdministrator,
                        "codigoAdministradoraOrigen no es la administradora actual de la persona",
                    ));
                }
                // The wait a transfer must have done since the person chose
                // the regime (or joined the administrator): the day it counts
                // from (days since the epoch), the first day it is over, the
                // deviations that move (BND-) or waive (RUL-) it.
                let regime = a.novedad == Novedad::TrasladoRegimen;
                let (role, since, earliest, bnd, rul): (_, _, fn(NaiveDate) -> NaiveDate, _, _) =
                    if regime {
                        let earliest = rules::earliest_regime_transfer;
                        (
                            Role::RegimeWindow,
                            prev.regime_since,
                            earliest,
                            "BND-NEG03",
                            "RUL-NEG03",
                        )
                    } else {
                        let earliest = rules::earliest_administrator_switch;
                        (
                            Role::AdministratorWindow,
                            prev.admin_since,
                            earliest,
                            "BND-NEG04",
                            "RUL-NEG04",
                        )
                    };
                if let Some(since) = from_days(since).filter(|&since| {
                    a.fecha_solicitud < shifted(earliest(since), dev.shift(bnd)) && !dev.has(rul)
                }) {
                    let mensaje = if regime {
                        format!(
                            "Traslado de régimen antes de {} años desde la última selección ({since})",
                            rules::YEARS_BETWEEN_REGIME_TRANSFERS
                        )
                    } else {
                        format!(
                            "Traslado de administradora antes de {} meses desde la vinculación ({since})",
                            rules::MONTHS_BEFORE_ADMINISTRATOR_SWITCH
                        )
                    };
                    return Err(Rejection::new(role, mensaje));
                }
                PersonState {
                    // A regime transfer is a new choice of regime too.
                    regime_since: if regime { fecha } else { prev.regime_since },
                    admin_since: fecha,
                    admin: a.filing.administradora,
                }
            }
        };
        let index = self.push(Record {
            link: person,
            prev,
            prev_record,
            fecha,
            received,
            radicado: Inline::new(a.filing.radicado),
            documento: Inline::new(a.filing.numero_documento),
            kind: Kind::Afiliacion,
            tipo_documento: a.filing.tipo_documento,
            administradora: a.filing.administradora,
            novedad: novedad_byte(a.novedad),
            retracted: false,
        });
        self.radicados.insert(radicado);
        self.events.insert(event);
        self.persons.insert(
            person,
            Person {
                record: index,
                state: next,
            },
        );
        Ok(index)
    }

    /// Apply the stateful rules to a retraction of the affiliation with index
    /// `affiliation` (None when its transaction number is not one of ours) and
    /// keep it; returns its index.
    pub fn retraction(
        &mut self,
        r: &Retraction<'_>,
        affiliation: Option<u64>,
        received: u32,
        dev: &Deviations,
    ) -> Result<u64, Rejection> {
        let radicado = radicado_fp(r.filing.administradora, r.filing.radicado);
        if self.radicados.contains(radicado) {
            return Err(Rejection::new(
                Role::Duplicate,
                format!(
                    "Reporte duplicado: numeroRadicado {} ya fue recibido",
                    r.filing.radicado
                ),
            ));
        }
        let unknown = || {
            if dev.has("RUL-NEG10") {
                return Rejection::new(Role::AlreadyRetracted, "La afiliación ya fue retractada");
            }
            Rejection::new(
                Role::UnknownAffiliation,
                format!(
                    "No existe una afiliación {} de esta administradora para {}",
                    r.transaccion, r.filing.numero_documento
                ),
            )
        };
        let index = affiliation.ok_or_else(unknown)?;
        let aff = *self.records.get(index).ok_or_else(unknown)?;
        if aff.kind != Kind::Afiliacion
            || aff.administradora != r.filing.administradora
            || aff.tipo_documento != r.filing.tipo_documento
            || aff.documento.as_str() != r.filing.numero_documento
        {
            return Err(unknown());
        }
        if aff.retracted && dev.has("RUL-NEG12") {
            return Err(Rejection::new(
                Role::UnknownAffiliation,
                "Afiliación desconocida",
            ));
        }
        if aff.retracted {
            return Err(Rejection::new(
                Role::AlreadyRetracted,
                format!("La afiliación {} ya fue retractada", r.transaccion),
            ));
        }
        let solicitud = aff.fecha();
        let deadline = dev.retraction_deadline(solicitud);
        if (r.fecha_retracto < solicitud || r.fecha_retracto > deadline) && !dev.has("RUL-NEG11") {
            return Err(Rejection::new(
                Role::RetractionLate,
                format!(
                    "Retracto por fuera del plazo: fechaSolicitud {solicitud}, plazo hasta {deadline} ({} días hábiles)",
                    rules::RETRACTION_BUSINESS_DAYS
                ),
            ));
        }
        if let Some(rec) = self.records.get_mut(index) {
            rec.retracted = true;
        }
        self.undo(index, &aff);
        self.events
            .remove(event_fp(aff.link, aff.novedad, aff.fecha));
        let own = self.push(Record {
            link: index,
            prev: NOBODY,
            prev_record: NO_RECORD,
            fecha: days(r.fecha_retracto),
            received,
            radicado: Inline::new(r.filing.radicado),
            documento: Inline::new(r.filing.numero_documento),
            kind: Kind::Retracto,
            tipo_documento: r.filing.tipo_documento,
            administradora: r.filing.administradora,
            novedad: 0,
            retracted: false,
        });
        self.radicados.insert(radicado);
        Ok(own)
    }
}

impl Store {
    /// Take back the effect of affiliation `index` on its person: the person
    /// returns to the state before it when it was the latest report about them;
    /// otherwise the next report in the chain is re-linked past it, so that
    /// retracting that one later also skips the retracted one.
    fn undo(&mut self, index: u64, aff: &Record) {
        let Some(person) = self.persons.get(&aff.link).copied() else {
            return;
        };
        if person.record == index {
            let kept = aff.prev_record != NO_RECORD && self.records.get(aff.prev_record).is_some();
            if aff.prev.admin == NO_ADMIN || !kept {
                self.persons.remove(&aff.link);
            } else {
                self.persons.insert(
                    aff.link,
                    Person {
                        record: aff.prev_record,
                        state: aff.prev,
                    },
                );
            }
            return;
        }
        let mut current = person.record;
        for _ in 0..MAX_CHAIN {
            let Some(record) = self.records.get_mut(current) else {
                return;
            };
            if record.prev_record == index {
                record.prev = aff.prev;
                record.prev_record = aff.prev_record;
                return;
            }
            current = record.prev_record;
        }
    }
}

/// `date` moved by `days` (a `BND-` deviation's shift of a boundary).
fn shifted(date: NaiveDate, days: i32) -> NaiveDate {
    date.checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Filing;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn aff<'a>(radicado: &'a str, doc: &'a str) -> Affiliation<'a> {
        joining(radicado, doc, 2, "2024-03-22")
    }

    /// Report `radicado` by administrator `admin` about the person `doc`.
    fn filing<'a>(radicado: &'a str, doc: &'a str, admin: u8) -> Filing<'a> {
        Filing {
            radicado,
            administradora: admin,
            tipo_documento: 0,
            numero_documento: doc,
        }
    }

    /// A report of `novedad` about the person `doc` by administrator `admin`
    /// (leaving `origen`), on `fecha`.
    fn report<'a>(
        radicado: &'a str,
        doc: &'a str,
        novedad: Novedad,
        admin: u8,
        origen: Option<u8>,
        fecha: &str,
    ) -> Affiliation<'a> {
        Affiliation {
            filing: filing(radicado, doc, admin),
            novedad,
            tipo_novedad: mss_contract::Contract::embedded()
                .enumerations()
                .spelling(novedad),
            fecha_solicitud: d(fecha),
            origen,
        }
    }

    /// A first affiliation.
    fn joining<'a>(radicado: &'a str, doc: &'a str, admin: u8, fecha: &str) -> Affiliation<'a> {
        report(radicado, doc, Novedad::Afiliacion, admin, None, fecha)
    }

    #[test]
    fn records_are_small() {
        assert!(
            std::mem::size_of::<Record>() <= 96,
            "{}",
            std::mem::size_of::<Record>()
        );
    }

    fn transfer<'a>(
        radicado: &'a str,
        doc: &'a str,
        novedad: Novedad,
        admin: u8,
        origen: u8,
        fecha: &str,
    ) -> Affiliation<'a> {
        report(radicado, doc, novedad, admin, Some(origen), fecha)
    }

    fn retract<'a>(radicado: &'a str, doc: &'a str, admin: u8, fecha: &str) -> Retraction<'a> {
        Retraction {
            filing: filing(radicado, doc, admin),
            transaccion: "",
            fecha_retracto: d(fecha),
        }
    }

    #[test]
    fn retracting_every_report_about_a_person_in_any_order_forgets_them() {
        // Contract order: 0 Colpensiones (RPM), 1 Protección, 2 Porvenir (RAIS).
        for order in [[0usize, 1], [1, 0]] {
            let mut store = Store::new(1000, 1000);
            let a = store
                .affiliation(
                    &transfer(
                        "A",
                        "123456",
                        Novedad::TrasladoAdministradora,
                        1,
                        2,
                        "2024-03-21",
                    ),
                    0,
                    &Deviations::default(),
                )
                .expect("first transfer");
            let b = store
                .affiliation(
                    &transfer("B", "123456", Novedad::TrasladoRegimen, 0, 1, "2024-03-22"),
                    0,
                    &Deviations::default(),
                )
                .expect("second transfer");
            let reports = [(a, 1u8, "RA"), (b, 0u8, "RB")];
            for i in order {
                let (index, admin, radicado) = reports[i];
                store
                    .retraction(
                        &retract(radicado, "123456", admin, "2024-03-26"),
                        Some(index),
                        0,
                        &Deviations::default(),
                    )
                    .expect("retraction");
            }
            assert!(store.persons.is_empty(), "order {order:?}");
            let fresh = joining("C", "123456", 2, "2024-03-27");
            store
                .affiliation(&fresh, 0, &Deviations::default())
                .expect("a fresh affiliation is accepted");
        }
    }

    #[test]
    fn retracting_the_latest_report_restores_the_one_before() {
        let mut store = Store::new(1000, 1000);
        let a = joining("A", "55", 1, "2023-01-10");
        store
            .affiliation(&a, 0, &Deviations::default())
            .expect("affiliation");
        let b = store
            .affiliation(
                &transfer(
                    "B",
                    "55",
                    Novedad::TrasladoAdministradora,
                    2,
                    1,
                    "2024-03-22",
                ),
                0,
                &Deviations::default(),
            )
            .expect("switch");
        store
            .retraction(
                &retract("RB", "55", 2, "2024-03-26"),
                Some(b),
                0,
                &Deviations::default(),
            )
            .expect("retraction");
        // Back with Protección (1): a switch from Porvenir (2) names the wrong origin.
        let wrong = store.affiliation(
            &transfer(
                "C",
                "55",
                Novedad::TrasladoAdministradora,
                3,
                2,
                "2024-03-27",
            ),
            0,
            &Deviations::default(),
        );
        assert_eq!(wrong.map_err(|e| e.codigo), Err(Role::SameAdministrator));
        store
            .affiliation(
                &transfer(
                    "D",
                    "55",
                    Novedad::TrasladoAdministradora,
                    3,
                    1,
                    "2024-03-27",
                ),
                0,
                &Deviations::default(),
            )
            .expect("switch from the restored administrator");
    }

    #[test]
    fn retention_cap_bounds_records_but_duplicates_are_still_found() {
        let mut store = Store::new(1000, 1_000_000);
        let names: Vec<(String, String)> = (0..5000)
            .map(|i| (format!("R{i}"), format!("{}", 10_000_000 + i)))
            .collect();
        for (r, doc) in &names {
            store
                .affiliation(&aff(r, doc), 0, &Deviations::default())
                .expect("accepted");
        }
        assert!(store.len() <= 1000 && store.len() > 0, "{}", store.len());
        assert!(store.persons.len() <= 1000, "{}", store.persons.len());
        let again = store.affiliation(&aff("R0", "99999999"), 0, &Deviations::default());
        assert_eq!(again.map_err(|e| e.codigo), Err(Role::Duplicate));
        assert!(store.get(0).is_none());
        assert!(store.get(4999).is_some());
    }

    #[test]
    fn fingerprints_stay_bounded() {
        let mut f = Fingerprints::new(100);
        for i in 0..10_000u64 {
            f.insert(i);
        }
        assert!(f.len() <= 100);
        assert!(f.contains(9_999));
        assert!(!f.contains(0));
    }
}
