//! The ministry's first-week informe ("INFORMES INICIALES DE ASEGURAMIENTO EN
//! PRODUCCION"): from results folders and production request logs, for one
//! administrator and one period, the four sections the protocol asks for —
//! services invoked, records sent per service per hour and per day, response
//! times per service, and incidents by type and service.
//!
//! Logs are read as a stream: memory depends on the length of the period (one
//! counter per service and hour) and on the kinds of incident, never on the
//! number of lines. Times are Colombian (UTC−5, no daylight saving time).
//!
//! Log format (one request per line), JSON Lines (`.jsonl`, `.ndjson`,
//! `.json`) or CSV with a header (`.csv`), fields:
//! `timestamp` (RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` in Colombian time),
//! `service` (`ReportarAfiliaciontraslado`, `ReportarRetractoAfiliacion` or
//! `token`), `http_status` (empty or 0: no answer), `codigo` (the envelope's,
//! may be empty), `latency_ms`, `radicado` (may be empty).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{
    DateTime, Duration as ChronoDuration, FixedOffset, NaiveDate, NaiveDateTime, Timelike,
};
use hdrhistogram::Histogram;
use serde::Deserialize;

use crate::domain::{Contract, Role};

pub mod render;

/// The services an informe counts, in its order.
pub const SERVICES: [&str; 3] = [
    "ReportarAfiliaciontraslado",
    "ReportarRetractoAfiliacion",
    "token",
];

/// Colombian time: UTC−5 all year.
pub fn colombia() -> FixedOffset {
    FixedOffset::west_opt(5 * 3600).unwrap_or_else(|| unreachable!("-5 h is a valid offset"))
}

/// A kind of incident, in the informe's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Incident {
    /// No answer: connection refused or reset, time-out, DNS, TLS.
    SinRespuesta,
    /// HTTP 401: the token was refused.
    Autenticacion,
    /// HTTP 5xx.
    Servidor,
    /// A 3xx answer: the service redirected the report.
    Redireccion,
    /// A 4xx answer without a `codigo` of the catalogue.
    Http4xx,
    /// A rejection with a `codigo` of `contract/errores.csv`.
    Rechazo(String),
}

impl Incident {
    /// The incident of an answer, if it is one (`contract` says which codigo
    /// is the success).
    pub fn of(contract: &Contract, status: Option<u16>, codigo: Option<&str>) -> Option<Incident> {
        match status {
            None | Some(0) => Some(Incident::SinRespuesta),
            Some(200..=299) => None,
            Some(401) => Some(Incident::Autenticacion),
            Some(500..=599) => Some(Incident::Servidor),
            Some(300..=399) => Some(Incident::Redireccion),
            Some(_) => {
                match codigo.filter(|c| !c.is_empty() && *c != contract.codigo_of(Role::Stored)) {
                    Some(c) => Some(Incident::Rechazo(c.to_owned())),
                    None => Some(Incident::Http4xx),
                }
            }
        }
    }

    /// The incident of an error class of a results folder, if it is one
    /// (`dropped`, `interrupted` and the harness's own checks are not).
    pub fn of_class(class: &str) -> Option<Incident> {
        let (kind, arg) = class.split_once(':').unwrap_or((class, ""));
        match kind {
            "business" => Some(Incident::Rechazo(arg.to_owned())),
            "http_5xx" => Some(Incident::Servidor),
            "http_3xx" => Some(Incident::Redireccion),
            "http_4xx" => Some(Incident::Http4xx),
            "auth_failed" => Some(Incident::Autenticacion),
            "dns" | "connect_refused" | "connect_timeout" | "tls" | "reset" | "read_timeout"
            | "truncated" | "token_unavailable" | "unknown_outcome" => Some(Incident::SinRespuesta),
            _ => None,
        }
    }

    /// Its name in the informe (a rejection's meaning is `contract`'s).
    pub fn nombre(&self, contract: &Contract) -> String {
        match self {
            Incident::SinRespuesta => "Sin respuesta (conexión, tiempo de espera)".into(),
            Incident::Autenticacion => "Token rechazado (HTTP 401)".into(),
            Incident::Servidor => "Error del servidor (HTTP 5xx)".into(),
            Incident::Redireccion => "Redirección no seguida (HTTP 3xx)".into(),
            Incident::Http4xx => "Solicitud rechazada sin código (HTTP 4xx)".into(),
            Incident::Rechazo(c) => {
                let significado = contract
                    .codigo(c)
                    .map(|x| x.significado.clone())
                    .unwrap_or_else(|| "código fuera del catálogo".into());
                format!("Rechazo {c}: {significado}")
            }
        }
    }
}

/// Count, first and last occurrence of one incident of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentStats {
    /// Occurrences.
    pub count: u64,
    /// First (Colombian time).
    pub first: NaiveDateTime,
    /// Last.
    pub last: NaiveDateTime,
}

/// Everything the informe says about one service.
#[derive(Debug, Clone)]
pub struct ServiceStats {
    /// Requests (records sent).
    pub requests: u64,
    /// Response times, µs.
    pub latency: Histogram<u64>,
    /// Per hour of the period: hour index from the first day's 00:00.
    pub per_hour: Vec<u64>,
    /// Incidents.
    pub incidents: BTreeMap<Incident, IncidentStats>,
}

/// The informe's numbers, built incrementally.
#[derive(Debug, Clone)]
pub struct Informe {
    /// The contract whose codigos the incidents are classed and named by.
    pub contract: Arc<Contract>,
    /// First day (inclusive).
    pub desde: NaiveDate,
    /// Last day (inclusive).
    pub hasta: NaiveDate,
    /// Per service, in [`SERVICES`] order.
    pub services: BTreeMap<String, ServiceStats>,
    /// Lines outside the period, skipped.
    pub outside: u64,
    /// Lines that could not be read, skipped (with the first few reasons).
    pub bad: u64,
    /// The first reasons, `file:line: what`.
    pub bad_examples: Vec<String>,
    /// The inputs read.
    pub inputs: Vec<String>,
}

/// A line of a JSON Lines log.
#[derive(Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    service: Cow<'a, str>,
    #[serde(default)]
    http_status: Option<u16>,
    #[serde(default, borrow)]
    codigo: Option<Cow<'a, str>>,
    #[serde(default)]
    latency_ms: Option<f64>,
}

/// Parse a log timestamp into Colombian local time.
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&colombia()).naive_local());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

impl Informe {
    /// An empty informe of `desde..=hasta`, classing answers by `contract`.
    pub fn new(
        contract: Arc<Contract>,
        desde: NaiveDate,
        hasta: NaiveDate,
    ) -> anyhow::Result<Self> {
        if hasta < desde {
            anyhow::bail!("--hasta {hasta} is before --desde {desde}");
        }
        let days = (hasta - desde).num_days() + 1;
        if days > 366 {
            anyhow::bail!("the period {desde} to {hasta} is longer than a year");
        }
        let hours = days as usize * 24;
        let services = SERVICES
            .iter()
            .map(|s| {
                (
                    (*s).to_owned(),
                    ServiceStats {
                        requests: 0,
                        latency: crate::hdr::histogram(),
                        per_hour: vec![0; hours],
                        incidents: BTreeMap::new(),
                    },
                )
            })
            .collect();
        Ok(Informe {
            contract,
            desde,
            hasta,
            services,
            outside: 0,
            bad: 0,
            bad_examples: Vec::new(),
            inputs: Vec::new(),
        })
    }

    /// The hour index of `t` in the period, if it is in it.
    fn hour_of(&self, t: NaiveDateTime) -> Option<usize> {
        let day = t.date();
        if day < self.desde || day > self.hasta {
            return None;
        }
        Some((day - self.desde).num_days() as usize * 24 + t.hour() as usize)
    }

    fn bad_line(&mut self, at: String) {
        self.bad += 1;
        if self.bad_examples.len() < 10 {
            self.bad_examples.push(at);
        }
    }

    /// Count one request of a log.
    pub fn add(
        &mut self,
        t: NaiveDateTime,
        service: &str,
        status: Option<u16>,
        codigo: Option<&str>,
        latency_ms: Option<f64>,
    ) -> Result<(), String> {
        let Some(hour) = self.hour_of(t) else {
            self.outside += 1;
            return Ok(());
        };
        let Some(s) = self.services.get_mut(service) else {
            return Err(format!(
                "unknown service {service:?} (ReportarAfiliaciontraslado, ReportarRetractoAfiliacion or token)"
            ));
        };
        s.requests += 1;
        s.per_hour[hour] += 1;
        if let Some(ms) = latency_ms {
            if !ms.is_finite() || ms < 0.0 {
                return Err(format!("latency_ms {ms} is not a duration"));
            }
            crate::hdr::record(&mut s.latency, (ms * 1000.0).round().max(1.0) as u64);
        }
        if let Some(kind) = Incident::of(&self.contract, status, codigo) {
            note_incident(&mut s.incidents, kind, 1, t, t);
        }
        Ok(())
    }

    /// Read one input: a results folder or a log file.
    pub fn read(&mut self, path: &Path) -> anyhow::Result<()> {
        self.inputs.push(path.display().to_string());
        if path.is_dir() {
            return self.read_results(path);
        }
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".csv") {
            self.read_csv(path)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
            self.read_jsonl(path)
        } else {
            anyhow::bail!(
                "{}: not a results folder, and not a log ending in .jsonl, .ndjson, .json or .csv",
                path.display()
            )
        }
    }

    fn read_jsonl(&mut self, path: &Path) -> anyhow::Result<()> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut line = String::new();
        let mut n = 0u64;
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .with_context(|| format!("{}: line {}", path.display(), n + 1))?;
            if read == 0 {
                break;
            }
            n += 1;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let result = serde_json::from_str::<JsonLine<'_>>(text)
                .map_err(|e| e.to_string())
                .and_then(|l| {
                    let t = parse_time(&l.timestamp).ok_or_else(|| {
                        format!("timestamp {:?} is not a date and time", l.timestamp)
                    })?;
                    let (service, status, codigo, latency) =
                        (l.service.to_string(), l.http_status, l.codigo, l.latency_ms);
                    self.add(t, &service, status, codigo.as_deref(), latency)
                });
            if let Err(e) = result {
                self.bad_line(format!("{}:{n}: {e}", path.display()));
            }
        }
        Ok(())
    }

    fn read_csv(&mut self, path: &Path) -> anyhow::Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let headers = reader
            .byte_headers()
            .with_context(|| format!("{}: no header line", path.display()))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h == name.as_bytes());
        let (Some(ts), Some(sv)) = (col("timestamp"), col("service")) else {
            anyhow::bail!(
                "{}: the header needs timestamp and service (and http_status, codigo, latency_ms, radicado)",
                path.display()
            );
        };
        let (st, cd, lt) = (col("http_status"), col("codigo"), col("latency_ms"));
        let mut record = csv::ByteRecord::new();
        let mut n = 1u64;
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    n += 1;
                    self.bad_line(format!("{}:{n}: {e}", path.display()));
                    continue;
                }
            }
            n += 1;
            let field = |i: Option<usize>| -> &str {
                i.and_then(|i| record.get(i))
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .unwrap_or("")
            };
            let result = (|| -> Result<(), String> {
                let t = parse_time(field(Some(ts))).ok_or_else(|| {
                    format!("timestamp {:?} is not a date and time", field(Some(ts)))
                })?;
                let status = match field(st) {
                    "" => None,
                    s => Some(
                        s.parse::<u16>()
                            .map_err(|_| format!("http_status {s:?} is not a status"))?,
                    ),
                };
                let latency = match field(lt) {
                    "" => None,
                    s => Some(
                        s.parse::<f64>()
                            .map_err(|_| format!("latency_ms {s:?} is not a number"))?,
                    ),
                };
                let codigo = Some(field(cd)).filter(|c| !c.is_empty());
                let service = field(Some(sv)).to_owned();
                self.add(t, &service, status, codigo, latency)
            })();
            if let Err(e) = result {
                self.bad_line(format!("{}:{n}: {e}", path.display()));
            }
        }
        Ok(())
    }

    /// A results folder: counts from `timeseries.csv`, response times from
    /// `latency.hlog`, incidents from `errors.csv` (their first and last
    /// occurrence are the first and last second with errors of that service).
    fn read_results(&mut self, dir: &Path) -> anyhow::Result<()> {
        let summary = crate::results::read_summary(dir)?;
        let started = DateTime::parse_from_rfc3339(&summary.started_at)
            .map(|t| t.with_timezone(&colombia()).naive_local())
            .with_context(|| {
                format!(
                    "{}: key `started_at`: {:?} is not an RFC 3339 time",
                    dir.join("summary.json").display(),
                    summary.started_at
                )
            })?;
        let at = |second: f64| started + ChronoDuration::milliseconds((second * 1000.0) as i64);
        // Counts and error seconds per service.
        let mut error_span: BTreeMap<String, (NaiveDateTime, NaiveDateTime)> = BTreeMap::new();
        for row in crate::results::read_timeseries(dir)? {
            // Every request of the second, sent or dropped, as the summary's
            // `requests` counts them.
            let (second, service, sent, errors) =
                (row.second, row.service.as_str(), row.requests(), row.errors);
            let t = at(second as f64);
            match self.hour_of(t) {
                None => self.outside += sent,
                Some(hour) => {
                    if let Some(s) = self.services.get_mut(service) {
                        s.requests += sent;
                        s.per_hour[hour] += sent;
                    }
                    if errors > 0 {
                        let span = error_span.entry(service.to_owned()).or_insert((t, t));
                        span.1 = t;
                    }
                }
            }
        }
        let log = dir.join("latency.hlog");
        let text = std::fs::read(&log).with_context(|| format!("cannot read {}", log.display()))?;
        for (tag, start, h) in crate::hlog::read(&text, &log)? {
            if self.hour_of(at(start)).is_none() {
                continue;
            }
            if let Some(s) = self.services.get_mut(&tag) {
                let _ = s.latency.add(&h);
            }
        }
        if dir.join("errors.csv").is_file() {
            for row in crate::results::read_errors(dir)? {
                let (service, class, count) = (row.service.as_str(), row.class.as_str(), row.count);
                let (Some(kind), Some((first, last)), Some(s)) = (
                    Incident::of_class(class),
                    error_span.get(service).copied(),
                    self.services.get_mut(service),
                ) else {
                    continue;
                };
                note_incident(&mut s.incidents, kind, count, first, last);
            }
        }
        // Token requests of the run.
        for e in &summary.token.events {
            let t = at(e.at_s);
            let Some(hour) = self.hour_of(t) else {
                continue;
            };
            if let Some(s) = self.services.get_mut("token") {
                s.requests += 1;
                s.per_hour[hour] += 1;
                if !e.ok {
                    note_incident(&mut s.incidents, Incident::SinRespuesta, 1, t, t);
                }
            }
        }
        Ok(())
    }

    /// Requests of `service` per day of the period.
    pub fn per_day(&self, service: &str) -> Vec<(NaiveDate, u64)> {
        let Some(s) = self.services.get(service) else {
            return Vec::new();
        };
        s.per_hour
            .chunks(24)
            .enumerate()
            .map(|(d, hours)| {
                (
                    self.desde + ChronoDuration::days(d as i64),
                    hours.iter().sum(),
                )
            })
            .collect()
    }

    /// Requests of `service` per hour of the day (00–23) over the period.
    pub fn per_hour_of_day(&self, service: &str) -> [u64; 24] {
        let mut out = [0u64; 24];
        if let Some(s) = self.services.get(service) {
            for (i, n) in s.per_hour.iter().enumerate() {
                out[i % 24] += n;
            }
        }
        out
    }

    /// The busiest clock hour of `service`: (its start, requests).
    pub fn peak_hour(&self, service: &str) -> Option<(NaiveDateTime, u64)> {
        let s = self.services.get(service)?;
        let (i, n) = s
            .per_hour
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
        (*n > 0).then(|| {
            let day = self.desde + ChronoDuration::days(i as i64 / 24);
            (
                day.and_hms_opt((i % 24) as u32, 0, 0).unwrap_or_default(),
                *n,
            )
        })
    }
}

fn note_incident(
    map: &mut BTreeMap<Incident, IncidentStats>,
    kind: Incident,
    count: u64,
    first: NaiveDateTime,
    last: NaiveDateTime,
) {
    match map.get_mut(&kind) {
        Some(s) => {
            s.count += count;
            s.first = s.first.min(first);
            s.last = s.last.max(last);
        }
        None => {
            map.insert(kind, IncidentStats { count, first, last });
        }
    }
}

/// Flags of `informe`.
#[derive(Debug, Clone, clap::Args)]
pub struct InformeArgs {
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// First day of the period, YYYY-MM-DD (Colombian time).
    #[arg(long)]
    pub desde: NaiveDate,
    /// Last day of the period, inclusive.
    #[arg(long)]
    pub hasta: NaiveDate,
    /// The reporting administrator's code (contract/administradoras.csv)
    /// [default: the contract's default administrator, `por_defecto`].
    #[arg(long)]
    pub administradora: Option<String>,
    /// Folder for informe.md and informe.html.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Fail (exit 2) on the first line that cannot be read instead of
    /// counting it and going on.
    #[arg(long)]
    pub strict: bool,
    /// Results folders and request logs (.jsonl, .ndjson, .json, .csv).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Build the informe of `args` with `contract` and write it; the paths
/// written.
pub fn run(args: &InformeArgs, contract: Arc<Contract>) -> anyhow::Result<Vec<PathBuf>> {
    let admin = match &args.administradora {
        Some(code) => contract.administradora(code).ok_or_else(|| {
            anyhow::anyhow!("--administradora {code}: not in contract/administradoras.csv")
        })?,
        None => contract.default_administradora(),
    }
    .clone();
    let mut informe = Informe::new(contract, args.desde, args.hasta)?;
    for input in &args.inputs {
        informe.read(input)?;
        if args.strict && informe.bad > 0 {
            anyhow::bail!(
                "{} (--strict)",
                informe.bad_examples.first().cloned().unwrap_or_default()
            );
        }
    }
    for e in &informe.bad_examples {
        eprintln!("informe: skipped {e}");
    }
    if informe.bad > informe.bad_examples.len() as u64 {
        eprintln!("informe: skipped {} unreadable lines in all", informe.bad);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let md = args.out.join("informe.md");
    let html = args.out.join("informe.html");
    std::fs::write(&md, render::markdown(&informe, &admin))
        .with_context(|| format!("cannot write {}", md.display()))?;
    std::fs::write(&html, render::html(&informe, &admin)?)
        .with_context(|| format!("cannot write {}", html.display()))?;
    Ok(vec![md, html])
}
