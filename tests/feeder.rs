//! Issue 34's feeders: a file of the AP's own affiliations sent row by row —
//! each row exactly once across 1 and 3 worker processes (queue), a bad row
//! refused by its line and field before anything is sent, and no output of a
//! feeder run holding a full document number of the file.

use std::path::{Path, PathBuf};
use std::process::Output;

use mss_contract::{Contract, Service};
use mss_harness::generator::{AffiliationGenerator, GeneratorConfig, NUMERO_RADICADO};
use serde_json::{Map, Value};

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::{Cred, described, printed};

/// `n` valid affiliations of distinct people (the generator's, seeded), as a
/// feeder row holds them: without `numeroRadicado`.
fn rows(n: usize, seed: u64) -> Vec<Map<String, Value>> {
    let config = GeneratorConfig::new(Contract::embedded(), seed, "230301");
    let mut generator = AffiliationGenerator::new(config).expect("generator");
    (0..n)
        .map(|_| {
            let a = generator.next_affiliation().expect("affiliation");
            let Value::Object(mut row) = serde_json::to_value(a).expect("json") else {
                panic!("an affiliation is an object");
            };
            row.remove(NUMERO_RADICADO);
            row
        })
        .collect()
}

fn write_jsonl(path: &Path, rows: &[Map<String, Value>]) {
    let text: String = rows
        .iter()
        .map(|r| format!("{}\n", Value::Object(r.clone())))
        .collect();
    std::fs::write(path, text).expect("write the feeder");
}

/// `rows` as CSV: a header of every field the contract lists (but the
/// radicado), in its order; an empty cell for a field a row leaves out.
fn write_csv(path: &Path, rows: &[Map<String, Value>]) {
    let spec = Contract::embedded().service(Service::Afiliacion);
    let fields: Vec<&str> = spec
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|f| *f != NUMERO_RADICADO)
        .collect();
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(&fields).expect("header");
    for row in rows {
        w.write_record(
            fields
                .iter()
                .map(|f| row.get(*f).and_then(Value::as_str).unwrap_or("")),
        )
        .expect("row");
    }
    w.flush().expect("flush");
}

fn documents(rows: &[Map<String, Value>]) -> Vec<String> {
    let mut d: Vec<String> = rows
        .iter()
        .map(|r| {
            r["numeroDocumento"]
                .as_str()
                .expect("numeroDocumento")
                .to_owned()
        })
        .collect();
    d.sort();
    d
}

/// The document numbers of the affiliations `mock` stored, sorted.
fn stored_documents(mock: &mss_mock::Mock) -> Vec<String> {
    let mut d: Vec<String> = mock
        .records_page(0, 100_000)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("record"))
        .filter(|r| r["servicio"] == Service::Afiliacion.name())
        .map(|r| r["numeroDocumento"].as_str().expect("documento").to_owned())
        .collect();
    d.sort();
    d
}

/// A scenario sending only affiliations from `feeder` to `port`, at `rate`
/// req/s for `duration`.
fn scenario(port: u16, rate: u32, duration: &str, data: &str) -> ScenarioFile {
    ScenarioFile::open("feeder", rate, duration, 50)
        .at(&format!("http://127.0.0.1:{port}"), "MSS_F")
        .table(&format!(
            "[mix]\nReportarAfiliaciontraslado = 1\n[data]\n{data}"
        ))
}

/// Run `file` as each of `workers` processes at once; their outputs.
fn run_workers(file: &Path, dir: &Path, workers: u16, cred: &Cred) -> Vec<(PathBuf, Output)> {
    let start = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
    let children: Vec<_> = (0..workers)
        .map(|i| {
            let out = dir.join(format!("w{i}"));
            let mut c = run_command(file, &out, "MSS_F", cred);
            if workers > 1 {
                c.args(["--worker", &format!("{i}/{workers}"), "--start-at", &start]);
            }
            (
                out,
                c.stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn"),
            )
        })
        .collect();
    children
        .into_iter()
        .map(|(out, c)| (out, c.wait_with_output().expect("wait")))
        .collect()
}

/// A mock serving one client (`cred`'s) on 127.0.0.1, and its port.
async fn served() -> (Cred, mss_mock::Mock, u16) {
    let cred = Cred::new("feeder-user", "feeder-client");
    let mock = cred.mock(|_| {});
    let port = crate::util::serve(&mock).await;
    (cred, mock, port)
}

/// Every row of a queue is stored exactly once, by one process and by three
/// workers against one mock; the plan outlasts the rows, so each run says
/// its data ran out and counts the rest of the plan as undelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_sends_every_row_exactly_once_by_one_and_by_three_workers() {
    let (cred, mock, port) = served().await;
    let dir = crate::util::temp_dir("feeder-queue");
    let rows = rows(300, 11);
    write_jsonl(&dir.join("afiliados.jsonl"), &rows);
    let file = scenario(
        port,
        150,
        "3s",
        "file = \"afiliados.jsonl\"\nstrategy = \"queue\"",
    )
    .write(&dir, "feeder.toml");
    for workers in [1u16, 3] {
        mock.reset();
        let runs = {
            let (file, dir, cred) = (file.clone(), dir.join(format!("x{workers}")), cred.clone());
            tokio::task::spawn_blocking(move || run_workers(&file, &dir, workers, &cred))
                .await
                .expect("join")
        };
        let mut sent = 0;
        for (out, o) in &runs {
            // The plan (400 tickets) outlasts the rows: not delivered.
            assert_eq!(o.status.code(), Some(1), "{}", described(o));
            assert!(
                printed(o).contains("the feeder's data ran out"),
                "{}",
                described(o)
            );
            let s = crate::util::summary(out);
            let f = &s["audit"]["feeder"];
            assert_eq!(f["rows"], 300, "{f}");
            assert_eq!(f["exhausted"], true, "{f}");
            sent += f["rows_sent"].as_u64().expect("rows_sent");
            let d = &s["delivery"];
            assert!(d["unsent"].as_u64().expect("unsent") > 0, "{d}");
            assert_eq!(d["ok"], false, "{d}");
            // Tickets a loaded machine took too late (dropped) may outnumber
            // the unsent ones and be named first; otherwise the data is.
            if d["dropped"].as_u64() < d["unsent"].as_u64() {
                let why = d["bound_by"]["explanation"].as_str().expect("explanation");
                assert!(why.contains("the feeder's data ran out"), "{why}");
            }
        }
        assert_eq!(sent, 300, "{workers} worker(s): rows handed out");
        assert_eq!(
            stored_documents(&mock),
            documents(&rows),
            "{workers} worker(s): the mock stored each row exactly once"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CSV file whose line 7 breaks the contract is refused naming the file,
/// line 7 and the field, exit 2, the number masked; the mock saw nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_on_line_7_is_refused_by_line_and_field_before_anything_is_sent() {
    let (cred, mock, port) = served().await;
    let dir = crate::util::temp_dir("feeder-bad");
    let mut rows = rows(8, 12);
    // Line 1 is the header: the sixth row stands on line 7.
    let bad = "12345678901234567890123";
    rows[5].insert("numeroDocumento".into(), bad.into());
    write_csv(&dir.join("afiliados.csv"), &rows);
    let file = scenario(port, 20, "2s", "file = \"afiliados.csv\"").write(&dir, "bad.toml");
    let o = {
        let (file, out) = (file.clone(), dir.join("out"));
        tokio::task::spawn_blocking(move || {
            run_command(&file, &out, "MSS_F", &cred)
                .output()
                .expect("run")
        })
        .await
        .expect("join")
    };
    assert_eq!(o.status.code(), Some(2), "{}", described(&o));
    let text = printed(&o);
    crate::util::assert_says(
        &text,
        &[
            "afiliados.csv",
            "line 7",
            "field numeroDocumento",
            "*****123",
        ],
    );
    assert!(!text.contains(bad), "the full number printed: {text}");
    let stats = mock.stats();
    assert_eq!(stats["token"]["issued"], 0, "{stats}");
    for service in Service::ALL {
        let s = &stats["services"][service.name()];
        assert_eq!(s["accepted"], 0, "{stats}");
        assert_eq!(s["rejected"], serde_json::json!({}), "{stats}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file a feeder run writes, and what it prints, is searched for each
/// document number of the feeder: a refused file (its bad number masked),
/// then a run against the embedded mock whose rows repeat (a shuffle over
/// fewer rows than tickets: the repeats are refused as duplicates), one row
/// refused for its date, retractions of the accepted rows, and Goose's report.
#[test]
fn no_output_of_a_feeder_run_holds_a_full_document_number() {
    let dir = crate::util::temp_dir("feeder-pii");
    let mut rows = rows(40, 13);
    // Passes the field rules; the mock refuses it (a request in the future).
    rows[3].insert("fechaSolicitud".into(), "2099-01-02".into());
    write_jsonl(&dir.join("afiliados.jsonl"), &rows);
    let mut bad_rows = rows.clone();
    bad_rows[1].insert("numeroDocumento".into(), "98765432109876543210999".into());
    write_jsonl(&dir.join("malos.jsonl"), &bad_rows);
    let mut numbers = documents(&rows);
    numbers.push("98765432109876543210999".into());
    let refused = ScenarioFile::open("feeder-bad", 20, "2s", 20)
        .table("[data]\nfile = \"malos.jsonl\"")
        .write(&dir, "bad.toml");
    let good = ScenarioFile::open("feeder-pii", 40, "2s", 20)
        .table("[data]\nfile = \"afiliados.jsonl\"\nstrategy = \"shuffle\"")
        .write(&dir, "good.toml");
    let out = dir.join("out");
    let o1 = crate::util::writing_to("run", &refused, &dir.join("refused"), &[]);
    assert_eq!(o1.status.code(), Some(2), "{}", described(&o1));
    assert!(
        printed(&o1).contains("line 2, field numeroDocumento"),
        "{}",
        described(&o1)
    );
    let o2 = crate::util::writing_to("run", &good, &out, &["--goose-report"]);
    assert!(
        matches!(o2.status.code(), Some(0 | 1)),
        "{}",
        described(&o2)
    );
    let s = crate::util::summary(&out);
    let errors = &s["services"]["ReportarAfiliaciontraslado"]["errors"];
    assert!(
        errors.as_object().is_some_and(|e| e.len() >= 2),
        "refusals of a repeat and of a date: {errors}"
    );
    assert!(
        s["services"]["ReportarRetractoAfiliacion"]["requests"].as_u64() > Some(0),
        "retractions of feeder rows: {s}"
    );
    let mut texts = vec![("output".to_owned(), printed(&o1) + &printed(&o2))];
    let mut folders = vec![out];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                texts.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into(),
                ));
            }
        }
    }
    assert!(
        texts.len() > 8,
        "{:?}",
        texts.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (name, text) in &texts {
        for n in &numbers {
            assert!(
                !text.contains(n.as_str()),
                "{name} holds the document number {n}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
