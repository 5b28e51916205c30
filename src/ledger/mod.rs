//! The ledger: what a run (or `cleanup`) sent to a target that keeps what it
//! stores — every target but the embedded mock — one JSON object a line
//! (JSON Lines), so that the AP can reconcile with the ministry and undo what
//! a rehearsal stored (`mss-harness cleanup`, [`cleanup`]).
//!
//! Before a report that may store a record goes out, its **intent** is
//! appended (service, numeroRadicado, administrator, document type and
//! number, the dates a retraction needs); after its answer, its **outcome**
//! (the answer's class, HTTP status, codigo and numeroTransaccion). A report
//! whose answer was lost and that a resend showed stored gets an
//! **unknown_outcome** line. A **header** line opens each run or cleanup that
//! writes to the file: the target's URL, the scenario, the run's id and time.
//! The format is documented in docs/results.md.
//!
//! Why it survives a kill: each line is copied whole into a shared memory
//! map of the file ([`file`]), with no buffer in the process, so a line is in
//! the kernel's page cache — and survives SIGKILL — as soon as the copy ends,
//! and lines of concurrent writers never interleave. A run does not
//! `fdatasync` each line (a disk flush per request would cap the
//! rate at the disk's flushes per second, and only a machine crash, not a
//! killed process, loses unflushed lines); it flushes when the run ends.
//! `cleanup`, a few requests a second at most, flushes every intent before
//! its retraction goes out, so that even a machine crash cannot make it send
//! a retraction twice.
//!
//! The file holds personal data (document numbers): it is created readable by
//! its owner only (mode 0600), and an existing file readable by others is
//! refused.

pub mod book;
pub mod cleanup;
mod file;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Contract, Service};
use crate::outcome::Outcome;

/// The ledger's default file name in a results folder.
pub const FILE_NAME: &str = "ledger.jsonl";

/// The version of the line format written in every header.
pub const FORMAT_VERSION: u32 = 1;

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A run or a cleanup starts writing.
    Header(Header),
    /// A report is about to be sent.
    Intent(Intent),
    /// What the target answered to the latest intent of the same report.
    Outcome(Answer),
    /// A report whose answer was lost was found stored by a resend (the
    /// duplicate rejection).
    UnknownOutcome(Found),
}

/// Who writes what follows, against what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`FORMAT_VERSION`].
    pub format: u32,
    /// `run` or `cleanup`.
    pub command: String,
    /// The target's base URL.
    pub target: String,
    /// The scenario's name.
    pub scenario: String,
    /// The run's id (its results folder's name).
    pub run_id: String,
    /// When it started.
    pub at: DateTime<Utc>,
}

/// A report about to be sent: what a retraction of it, or a reconciliation
/// with the ministry, needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The service's protocol name.
    pub service: String,
    /// `numeroRadicado`.
    pub radicado: String,
    /// `codigoAdministradora`.
    pub administradora: String,
    /// `tipoDocumento`.
    pub tipo_documento: String,
    /// `numeroDocumento` (personal data: the file is its owner's only).
    pub numero_documento: String,
    /// An affiliation's `fechaSolicitud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fecha_solicitud: Option<NaiveDate>,
    /// A retraction's `numeroTransaccionAfiliacion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaccion_afiliacion: Option<String>,
    /// A retraction's `fechaRetracto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fecha_retracto: Option<NaiveDate>,
    /// When it was written, just before the send.
    pub at: DateTime<Utc>,
}

/// What became of one send, as far as the harness can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The contract's success envelope: the target stored it.
    Stored,
    /// An answer in the contract's words that is not success, or an HTTP
    /// error without an envelope: nothing stored.
    Refused,
    /// Never reached the target (DNS, connect, TLS): nothing stored.
    NotSent,
    /// It went out and no trustworthy answer came back (reset, timeout,
    /// truncated or unreadable answer, a codigo the contract does not list,
    /// abandoned by a stop): stored or not, nobody knows.
    Lost,
}

/// The outcome of the latest intent of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The service's protocol name.
    pub service: String,
    /// `numeroRadicado`.
    pub radicado: String,
    /// What became of it.
    pub class: Class,
    /// The HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer's `codigo`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codigo: Option<String>,
    /// The answer's `numeroTransaccion`, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numero_transaccion: Option<String>,
    /// The harness's error class when there was no readable answer
    /// (`reset`, `read_timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the answer came.
    pub at: DateTime<Utc>,
}

/// A report found stored though its answer was lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Found {
    /// The service's protocol name.
    pub service: String,
    /// `numeroRadicado`.
    pub radicado: String,
    /// When the resend told.
    pub at: DateTime<Utc>,
}

/// What went wrong with a ledger file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be opened, written or read.
    #[error("ledger {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An existing file others may read.
    #[error(
        "ledger {path}: readable by others (mode {mode:o}); it holds personal data: `chmod 600` it first"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line that is not a ledger entry.
    #[error("ledger {path}, line {line}: {why}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// A ledger open for appending.
#[derive(Debug)]
pub struct Ledger {
    file: file::Appender,
    path: PathBuf,
    lines: AtomicU64,
}

impl Ledger {
    /// Open `path` for appending (created mode 0600 when absent; refused when
    /// others may read it) and append `header`.
    pub fn open(path: &Path, header: &Header) -> Result<Self, LedgerError> {
        let io = |source| LedgerError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(LedgerError::Exposed {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let ledger = Ledger {
            file: file::Appender::new(file).map_err(io)?,
            path: path.to_owned(),
            lines: AtomicU64::new(0),
        };
        ledger.append(&Entry::Header(header.clone()))?;
        Ok(ledger)
    }

    /// Append `entry` as one line, in one write.
    pub fn append(&self, entry: &Entry) -> Result<(), LedgerError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| LedgerError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        self.file.append(&line).map_err(|source| LedgerError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.lines.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Flush what was written to the disk (`msync`, `fdatasync`), the file
    /// cut to its last line.
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.file.trim(true).map_err(|source| LedgerError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Lines this process appended (its header included).
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The fields of a report body an intent keeps, borrowed from the body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow, default)]
    numero_radicado: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    codigo_administradora: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    tipo_documento: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    numero_documento: std::borrow::Cow<'a, str>,
    #[serde(default)]
    fecha_solicitud: Option<NaiveDate>,
    #[serde(borrow, default)]
    numero_transaccion_afiliacion: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    fecha_retracto: Option<NaiveDate>,
}

impl Intent {
    /// The intent of an affiliation whose fields its sender knows (`at`
    /// is set when it is written).
    pub fn affiliation(
        radicado: &str,
        administradora: &str,
        tipo_documento: &str,
        numero_documento: &str,
        fecha_solicitud: NaiveDate,
    ) -> Intent {
        Intent {
            service: Service::Afiliacion.name().to_owned(),
            radicado: radicado.to_owned(),
            administradora: administradora.to_owned(),
            tipo_documento: tipo_documento.to_owned(),
            numero_documento: numero_documento.to_owned(),
            fecha_solicitud: Some(fecha_solicitud),
            transaccion_afiliacion: None,
            fecha_retracto: None,
            at: Utc::now(),
        }
    }

    /// The intent of a retraction whose fields its sender knows (`at` is
    /// set when it is written).
    pub fn retraction(
        radicado: &str,
        administradora: &str,
        tipo_documento: &str,
        numero_documento: &str,
        transaccion_afiliacion: &str,
        fecha_retracto: NaiveDate,
    ) -> Intent {
        Intent {
            service: Service::Retracto.name().to_owned(),
            radicado: radicado.to_owned(),
            administradora: administradora.to_owned(),
            tipo_documento: tipo_documento.to_owned(),
            numero_documento: numero_documento.to_owned(),
            fecha_solicitud: None,
            transaccion_afiliacion: Some(transaccion_afiliacion.to_owned()),
            fecha_retracto: Some(fecha_retracto),
            at: Utc::now(),
        }
    }

    /// The intent of sending `body` to `service` now (fields the body lacks
    /// or spells wrong are left empty: the target will refuse it).
    pub fn of(service: Service, body: &[u8]) -> Intent {
        let b = serde_json::from_slice::<Body<'_>>(body).unwrap_or_default();
        Intent {
            service: service.name().to_owned(),
            radicado: b.numero_radicado.into_owned(),
            administradora: b.codigo_administradora.into_owned(),
            tipo_documento: b.tipo_documento.into_owned(),
            numero_documento: b.numero_documento.into_owned(),
            fecha_solicitud: b.fecha_solicitud,
            transaccion_afiliacion: b.numero_transaccion_afiliacion.map(|t| t.into_owned()),
            fecha_retracto: b.fecha_retracto,
            at: Utc::now(),
        }
    }
}

/// The envelope of an answer.
#[derive(Deserialize)]
struct Envelope {
    resultado: String,
    codigo: String,
    #[serde(rename = "numeroTransaccion", default)]
    numero_transaccion: Option<String>,
}

impl Answer {
    /// The outcome of sending report `radicado` to `service`: the target's
    /// `(status, body)`, or the harness's class of a send with no answer.
    pub fn of(
        contract: &Contract,
        service: Service,
        radicado: &str,
        answer: Result<(u16, &[u8]), &Outcome>,
    ) -> Answer {
        let mut a = Answer {
            service: service.name().to_owned(),
            radicado: radicado.to_owned(),
            class: Class::Lost,
            status: None,
            codigo: None,
            numero_transaccion: None,
            error: None,
            at: Utc::now(),
        };
        match answer {
            Err(outcome) => {
                a.class = match outcome {
                    Outcome::Dns
                    | Outcome::ConnectRefused
                    | Outcome::ConnectTimeout
                    | Outcome::Tls => Class::NotSent,
                    _ => Class::Lost,
                };
                a.error = Some(outcome.label().into_owned());
            }
            Ok((status, body)) => {
                a.status = Some(status);
                match serde_json::from_slice::<Envelope>(body) {
                    Ok(env) => {
                        a.class = if contract.is_stored(status, &env.resultado, &env.codigo) {
                            a.numero_transaccion = env.numero_transaccion;
                            Class::Stored
                        } else if contract.codigo(&env.codigo).is_some() {
                            Class::Refused
                        } else {
                            // Words the contract cannot read: it is not known
                            // whether the target stored it.
                            Class::Lost
                        };
                        a.codigo = Some(env.codigo);
                    }
                    // A success status without the envelope: unreadable.
                    Err(_) if (200..300).contains(&status) => a.class = Class::Lost,
                    Err(_) => a.class = Class::Refused,
                }
            }
        }
        a
    }
}

/// A ledger as read: its entries, in order, and whether its last line was
/// torn (cut short by a machine crash; left out).
#[derive(Debug, Default)]
pub struct Read {
    /// Every whole line's entry.
    pub entries: Vec<Entry>,
    /// The last line had no end and did not parse.
    pub torn_last_line: bool,
}

/// Read the ledger at `path`; a line that is not an entry is refused by
/// number (but for a torn last line).
pub fn read(path: &Path) -> Result<Read, LedgerError> {
    let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Io {
        path: path.to_owned(),
        source,
    })?;
    // A file its writer still holds, or a killed writer left, ends in zeros.
    let text = text.trim_end_matches('\0');
    let mut read = Read::default();
    let ends_whole = text.is_empty() || text.ends_with('\n');
    let count = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => read.entries.push(e),
            Err(_) if i + 1 == count && !ends_whole => read.torn_last_line = true,
            Err(e) => {
                return Err(LedgerError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    why: e.to_string(),
                });
            }
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT_VERSION,
            command: "run".into(),
            target: "http://127.0.0.1:1".into(),
            scenario: "s".into(),
            run_id: "r".into(),
            at: Utc::now(),
        }
    }

    #[test]
    fn lines_are_appended_whole_owner_only_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let body = br#"{"numeroRadicado":"R1","codigoAdministradora":"230301","tipoDocumento":"CC","numeroDocumento":"1234567890","fechaSolicitud":"2026-12-01"}"#;
        let intent = Intent::of(Service::Afiliacion, body);
        {
            let l = Ledger::open(&path, &header()).expect("open");
            l.append(&Entry::Intent(intent.clone())).expect("append");
            assert_eq!(l.lines(), 2);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // Appending again adds a header; a file others can read is refused.
            Ledger::open(&path, &header()).expect("reopen");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = Ledger::open(&path, &header()).expect_err("exposed");
            assert!(e.to_string().contains("readable by others"), "{e}");
        }
        let read = read(&path).expect("read");
        assert_eq!(read.entries.len(), 3);
        assert_eq!(read.entries[1], Entry::Intent(intent.clone()));
        assert_eq!(intent.numero_documento, "1234567890");
        assert_eq!(intent.fecha_solicitud, NaiveDate::from_ymd_opt(2026, 12, 1));
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_a_bad_one_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let h = serde_json::to_string(&Entry::Header(header())).expect("json");
        std::fs::write(&path, format!("{h}\n{{\"kind\":\"inte")).expect("write");
        let r = read(&path).expect("torn is fine");
        assert!(r.torn_last_line);
        assert_eq!(r.entries.len(), 1);
        // The zeros a killed writer leaves after its last line are skipped.
        std::fs::write(&path, [format!("{h}\n").as_bytes(), &[0u8; 4096]].concat()).expect("write");
        let r = read(&path).expect("padded is fine");
        assert!(!r.torn_last_line);
        assert_eq!(r.entries.len(), 1);
        std::fs::write(&path, format!("{h}\n{{\"kind\":\"nope\"}}\n{h}\n")).expect("write");
        let e = read(&path).expect_err("bad line");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn answers_are_classed_as_the_contract_reads_them() {
        let c = Contract::embedded();
        let of = |status, body: &str| {
            Answer::of(c, Service::Afiliacion, "R", Ok((status, body.as_bytes()))).class
        };
        let ok = c.codigo_of(crate::domain::Role::Stored);
        let dup = c.codigo_of(crate::domain::Role::Duplicate);
        let stored = format!(r#"{{"resultado":"200","codigo":"{ok}","numeroTransaccion":"T1"}}"#);
        assert_eq!(of(200, &stored), Class::Stored);
        let refused = format!(r#"{{"resultado":"ERROR","codigo":"{dup}"}}"#);
        assert_eq!(of(409, &refused), Class::Refused);
        assert_eq!(of(200, "not json"), Class::Lost);
        assert_eq!(of(503, "busy"), Class::Refused);
        assert_eq!(
            of(422, r#"{"resultado":"ERROR","codigo":"ZZZ99"}"#),
            Class::Lost
        );
        let lost = Answer::of(c, Service::Afiliacion, "R", Err(&Outcome::Reset));
        assert_eq!(
            (lost.class, lost.error.as_deref()),
            (Class::Lost, Some("reset"))
        );
        let unsent = Answer::of(c, Service::Afiliacion, "R", Err(&Outcome::ConnectRefused));
        assert_eq!(unsent.class, Class::NotSent);
    }
}
