//! Feeders: an administrator's own affiliations, read from a CSV or JSON
//! Lines file in the contract's field names (`[data] file` of a scenario),
//! instead of the generator's synthetic people.
//!
//! [`Feeder::open`] reads the whole file once before anything is sent: each
//! row, with the fields the harness fills in ([`Fill`]), must pass the
//! contract's field rules — the same check the mock makes
//! (`mss_mock::validate::check_fields`) —, else the file is refused naming
//! its path, the row's line and the field. Nothing a refusal prints quotes a
//! value in full: document numbers and names are personal data ([`mask`]).
//! That pass also builds the sparse index ([`rows::STRIDE`]) that random and
//! shuffled access needs; memory stays at 8 bytes per 64 rows whatever the
//! file's size. [`Feeder::next`] then hands out rows in the order of the
//! [`Strategy`], over this worker's share of them ([`order`]).

mod order;
mod rows;

use std::path::{Path, PathBuf};

use crate::secret::mask;
use mss_contract::{Contract, Service};
use mss_mock::Deviations;
use mss_mock::validate::{Body, check_fields};
use serde_json::{Map, Value};

pub use order::Strategy;
pub use rows::STRIDE;
use rows::{Format, Reader};

/// Why a feeder file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FeederError {
    /// The file cannot be read.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A row breaks the contract's rules, or cannot be read.
    #[error("{}: line {line}, field {field}: {message}", path.display())]
    Row {
        /// The file.
        path: PathBuf,
        /// The row's line (1-based).
        line: u64,
        /// The field, as the contract spells it (`-` when the row as a whole is unreadable).
        field: String,
        /// What is wrong (the value masked).
        message: String,
    },
}

/// A field the harness writes into every row: `value` when the row leaves
/// the field out; a row that writes it must write `value` itself, unless
/// `owned`, when a row may not write it at all.
#[derive(Debug, Clone)]
pub struct Fill {
    /// The field, as the contract spells it.
    pub field: String,
    /// Its value.
    pub value: String,
    /// Whether the harness alone writes it (each report's `numeroRadicado`).
    pub owned: bool,
}

/// What a feeder reads and how.
#[derive(Debug, Clone)]
pub struct FeederConfig {
    /// The file (`.csv`, `.jsonl` or `.ndjson`).
    pub path: PathBuf,
    /// How rows are handed out.
    pub strategy: Strategy,
    /// Seed of `random` and `shuffle`.
    pub seed: u64,
    /// (index, count) of this worker.
    pub worker: (u16, u16),
    /// Fields the harness fills in (checked with each row).
    pub fills: Vec<Fill>,
}

/// An open, checked feeder file and this worker's order over its rows.
pub struct Feeder {
    path: PathBuf,
    reader: Reader,
    /// Byte offset of every [`STRIDE`]th row.
    index: Vec<u64>,
    rows: u64,
    /// The row the reader stands before.
    at: u64,
    order: order::Order,
    strategy: Strategy,
}

impl std::fmt::Debug for Feeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeder")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

impl Feeder {
    /// Open `config.path`, check every row against `contract`'s rules for
    /// affiliations (with `config.fills` filled in) and index it; the first
    /// bad row is the error.
    pub fn open(contract: &Contract, config: FeederConfig) -> Result<Feeder, FeederError> {
        let path = config.path.clone();
        let file_error = |message: String| FeederError::File {
            path: path.clone(),
            message,
        };
        let format = Format::of(&path).ok_or_else(|| {
            file_error("a feeder file ends in .csv, .jsonl or .ndjson".to_owned())
        })?;
        let mut reader = Reader::open(&path, format).map_err(file_error)?;
        let spec = contract.service(Service::Afiliacion);
        if let Some(unknown) = reader.headers().iter().find(|h| spec.field(h).is_none()) {
            return Err(FeederError::Row {
                path,
                line: 1,
                field: unknown.clone(),
                message: format!(
                    "not a field of {} in the contract",
                    Service::Afiliacion.name()
                ),
            });
        }
        let deviations = Deviations::default();
        let mut index = Vec::new();
        let mut rows = 0u64;
        let mut body = Vec::with_capacity(1024);
        loop {
            let record = match reader.next() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err((line, message)) => {
                    return Err(FeederError::Row {
                        path,
                        line,
                        field: "-".to_owned(),
                        message,
                    });
                }
            };
            if rows.is_multiple_of(STRIDE) {
                index.push(record.offset);
            }
            let bad = |field: &str, message: String| FeederError::Row {
                path: path.clone(),
                line: record.line,
                field: field.to_owned(),
                message,
            };
            let mut fields = record.fields;
            fill(&mut fields, &config.fills).map_err(|(f, m)| bad(&f, m))?;
            body.clear();
            serde_json::to_writer(&mut body, &fields).map_err(|e| bad("-", e.to_string()))?;
            let checked = Body::parse(spec, &body)
                .and_then(|b| check_fields(contract, &b, &deviations).map(|_| ()));
            if let Err(rejection) = checked {
                let field = rejection.campo.unwrap_or_else(|| "-".to_owned());
                let shown = fields
                    .get(&field)
                    .and_then(Value::as_str)
                    .map_or_else(String::new, |v| format!(" (value {})", mask(v)));
                return Err(bad(
                    &field,
                    format!(
                        "{} — {}{shown}",
                        contract.codigo_of(rejection.codigo),
                        without_values(&rejection.mensaje)
                    ),
                ));
            }
            rows += 1;
        }
        if rows == 0 {
            return Err(file_error("holds no rows".to_owned()));
        }
        let order = order::Order::new(config.strategy, rows, config.worker, config.seed);
        if order.own() == 0 && config.strategy != Strategy::Queue {
            return Err(file_error(format!(
                "{rows} row(s) cannot be shared among {} workers with strategy {} (worker {} would have none)",
                config.worker.1,
                config.strategy.name(),
                config.worker.0
            )));
        }
        let mut reader = Reader::open(&path, format).map_err(file_error)?;
        if let Some(&first) = index.first() {
            reader.seek(first).map_err(file_error)?;
        }
        Ok(Feeder {
            path,
            reader,
            index,
            rows,
            at: 0,
            order,
            strategy: config.strategy,
        })
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows this worker owns.
    pub fn own(&self) -> u64 {
        self.order.own()
    }

    /// Rows handed out so far.
    pub fn taken(&self) -> u64 {
        self.order.taken()
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next row's fields, with `fills` filled in; `Ok(None)` when the
    /// data has run out (a queue that sent its rows).
    pub fn next(&mut self, fills: &[Fill]) -> Result<Option<Map<String, Value>>, FeederError> {
        let Some(k) = self.order.next() else {
            return Ok(None);
        };
        let io = |message: String| FeederError::File {
            path: self.path.clone(),
            message,
        };
        if k != self.at {
            let block = k / STRIDE;
            let offset = *self
                .index
                .get(block as usize)
                .ok_or_else(|| io(format!("row {k} is past the index")))?;
            self.reader.seek(offset).map_err(io)?;
            self.at = block * STRIDE;
        }
        let mut fields = loop {
            let record = self
                .reader
                .next()
                .map_err(|(_, m)| io(m))?
                .ok_or_else(|| io("the file shrank since it was checked".to_owned()))?;
            self.at += 1;
            if self.at > k {
                break record.fields;
            }
        };
        fill(&mut fields, fills).map_err(|(_, m)| io(m))?;
        Ok(Some(fields))
    }
}

/// Write `fills` into `fields`; `Err((field, message))` when the row writes
/// a field the harness owns, or another value than the harness's.
fn fill(fields: &mut Map<String, Value>, fills: &[Fill]) -> Result<(), (String, String)> {
    for f in fills {
        match fields.get(&f.field) {
            None => {
                fields.insert(f.field.clone(), Value::String(f.value.clone()));
            }
            Some(_) if f.owned => {
                return Err((
                    f.field.clone(),
                    "the harness numbers each report: leave this field out".to_owned(),
                ));
            }
            Some(v) if v.as_str() == Some(f.value.as_str()) => {}
            Some(_) => {
                return Err((
                    f.field.clone(),
                    format!(
                        "the run reports as {}: leave this field out or write that",
                        f.value
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A mock refusal's message with every run of three or more digits but its
/// last three hidden: the mock's messages name fields and codes, and a value
/// they might quote is masked as [`mask`] masks it.
fn without_values(mensaje: &str) -> String {
    let mut out = String::with_capacity(mensaje.len());
    let mut digits = String::new();
    for c in mensaje.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() > 3 {
            out.push_str(&mask(&digits));
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{AffiliationGenerator, GeneratorConfig};

    /// `n` generated affiliations without their radicado, as a file's rows.
    fn rows(n: usize) -> Vec<Map<String, Value>> {
        let config = GeneratorConfig::new(Contract::embedded(), 5, "230301");
        let mut g = AffiliationGenerator::new(config).expect("generator");
        (0..n)
            .map(|_| {
                let Ok(Value::Object(mut row)) =
                    serde_json::to_value(g.next_affiliation().expect("a"))
                else {
                    panic!("an object");
                };
                row.remove("numeroRadicado");
                row
            })
            .collect()
    }

    fn fills() -> Vec<Fill> {
        vec![
            Fill {
                field: "numeroRadicado".into(),
                value: "MSSH53PRA0000000000000".into(),
                owned: true,
            },
            Fill {
                field: "codigoAdministradora".into(),
                value: "230301".into(),
                owned: false,
            },
        ]
    }

    /// The file `rows` as `name` (.csv or .jsonl) in a fresh folder.
    fn write(name: &str, rows: &[Map<String, Value>]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        if name.ends_with(".csv") {
            let spec = Contract::embedded().service(Service::Afiliacion);
            let fields: Vec<&str> = spec
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|f| *f != "numeroRadicado")
                .collect();
            let mut w = csv::Writer::from_path(&path).expect("csv");
            w.write_record(&fields).expect("header");
            for r in rows {
                let cells = fields
                    .iter()
                    .map(|f| r.get(*f).and_then(Value::as_str).unwrap_or(""));
                w.write_record(cells).expect("row");
            }
            w.flush().expect("flush");
        } else {
            let text: String = rows
                .iter()
                .map(|r| format!("{}\n\n", Value::Object(r.clone())))
                .collect();
            std::fs::write(&path, text).expect("write");
        }
        (dir, path)
    }

    fn open(path: &Path, strategy: Strategy, worker: (u16, u16)) -> Result<Feeder, FeederError> {
        let config = FeederConfig {
            path: path.to_owned(),
            strategy,
            seed: 3,
            worker,
            fills: fills(),
        };
        Feeder::open(Contract::embedded(), config)
    }

    fn documento(row: &Map<String, Value>) -> String {
        row["numeroDocumento"]
            .as_str()
            .expect("numeroDocumento")
            .to_owned()
    }

    /// Rows read through the sparse index (a seek to every 64th row, then
    /// rows read past) are the file's rows, in CSV and in JSON Lines.
    #[test]
    fn rows_read_through_the_index_are_the_files_rows() {
        let all = rows(150);
        for name in ["a.csv", "a.jsonl"] {
            let (_dir, path) = write(name, &all);
            // Worker 1 of 3, circular: rows 1, 4, ..., 148, then 1 again — a
            // seek for each, across three blocks of the index.
            let mut f = open(&path, Strategy::Circular, (1, 3)).expect("open");
            assert_eq!((f.rows(), f.own()), (150, 50));
            for k in (1..150).step_by(3).chain([1, 4]) {
                let row = f.next(&fills()).expect("next").expect("a row");
                assert_eq!(documento(&row), documento(&all[k]), "{name}: row {k}");
                assert_eq!(row["numeroRadicado"], "MSSH53PRA0000000000000");
            }
            // A shuffle's pass: every row once, in another order.
            let mut f = open(&path, Strategy::Shuffle, (0, 1)).expect("open");
            let pass: Vec<String> = (0..150)
                .map(|_| documento(&f.next(&fills()).expect("next").expect("row")))
                .collect();
            let mut sorted = pass.clone();
            sorted.sort();
            let mut expected: Vec<String> = all.iter().map(documento).collect();
            assert_ne!(pass, expected, "{name}: shuffled");
            expected.sort();
            assert_eq!(sorted, expected, "{name}: each row once per pass");
        }
    }

    /// A bad row is refused by its line (a CSV's header is line 1; a JSON
    /// Lines file's blank lines count) and field; the harness's own fields
    /// and a file's shape are refused too.
    #[test]
    fn a_bad_row_is_refused_by_line_and_field() {
        let refused = |path: &Path, strategy, worker| {
            open(path, strategy, worker)
                .map(|_| ())
                .expect_err("refused")
                .to_string()
        };
        let mut all = rows(6);
        all[4].insert("numeroDocumento".into(), "12345678901234567890123".into());
        let (_d, csv) = write("bad.csv", &all);
        let e = refused(&csv, Strategy::Queue, (0, 1));
        assert!(e.contains("line 6, field numeroDocumento"), "{e}");
        assert!(
            e.contains("*123)") && !e.contains("12345678901234567890123"),
            "{e}"
        );
        let (_d, jsonl) = write("bad.jsonl", &all);
        let e = refused(&jsonl, Strategy::Queue, (0, 1));
        assert!(e.contains("line 9, field numeroDocumento"), "{e}");
        let mut own = rows(2);
        own[1].insert("numeroRadicado".into(), "X1".into());
        let (_d, p) = write("own.jsonl", &own);
        let e = refused(&p, Strategy::Queue, (0, 1));
        assert!(
            e.contains("line 3, field numeroRadicado: the harness numbers"),
            "{e}"
        );
        let (_d, p) = write("few.jsonl", &rows(2));
        let e = refused(&p, Strategy::Circular, (2, 3));
        assert!(
            e.contains("2 row(s) cannot be shared among 3 workers"),
            "{e}"
        );
        assert!(open(&p, Strategy::Queue, (2, 3)).is_ok_and(|f| f.own() == 0));
        let e = refused(&p.with_extension("txt"), Strategy::Queue, (0, 1));
        assert!(e.contains(".csv, .jsonl or .ndjson"), "{e}");
    }

    #[test]
    fn values_in_a_message_keep_their_last_three_characters() {
        assert_eq!(
            without_values("Campo x inválido: 1234567 ({5,10})"),
            "Campo x inválido: ****567 ({5,10})"
        );
    }
}
