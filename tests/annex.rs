//! A ministry annex changes files, not code: a copy of contract/ edited the
//! way an annex would (another success codigo and mensaje, a narrower DIVIPOLA
//! list, a longer primerApellido, one more document type with its pattern and
//! weight) drives the mock, `run`, `conform` and `payload` with no code change;
//! an inconsistent copy is refused with exit 2 and one line naming file, row
//! and column. What `openapi.json` repeats of the CSV files (the code lists,
//! the responses' `x-codigos`) is written by `sync-contract`: the success
//! codigo is renamed in `errores.csv` alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mss_contract::{Contract, Service};
use serde_json::Value;

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::{Cred, copy_contract, described as text, edit_file as edit};

/// The three municipalities the edited DIVIPOLA list keeps.
const KEPT: [&str; 3] = ["08001", "05001", "76001"];
/// The document type the annex adds.
const NEW_TYPE: &str = "DA";

/// The bundled contract, changed as an annex would change it.
fn annex() -> PathBuf {
    let dir = copy_contract("edited");
    let ok = Contract::embedded()
        .code(mss_contract::Role::Stored)
        .codigo
        .clone();
    edit(&dir, "errores.csv", |t| {
        t.lines()
            .map(|l| {
                if l.split(',').nth(1) == Some(ok.as_str()) {
                    "200,200,Registro almacenado por el Ministerio,anexo técnico,stored".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    edit(&dir, "openapi.json", |t| {
        let mut v: Value = serde_json::from_str(&t).expect("json");
        let max = v
            .pointer_mut("/components/schemas/ReportarAfiliaciontrasladoRequest/properties/primerApellido/maxLength")
            .expect("maxLength");
        *max = (max.as_u64().expect("number") + 10).into();
        serde_json::to_string_pretty(&v).expect("json")
    });
    edit(&dir, "divipola.csv", |t| {
        let mut lines = t.lines();
        let header = lines.next().expect("header").to_owned();
        let kept: Vec<String> = lines
            .filter(|l| {
                let c: Vec<&str> = l.split(',').collect();
                KEPT.contains(&format!("{}{}", c[0], c[2]).as_str())
            })
            .map(str::to_owned)
            .collect();
        assert_eq!(kept.len(), 3);
        format!("{header}\n{}\n", kept.join("\n"))
    });
    edit(&dir, "tipos_documento.csv", |t| {
        format!(
            "{t}{NEW_TYPE},Documento de prueba del anexo,\"^[A-Z]{{2}}[0-9]{{10}}$\",S,N,anexo técnico,3000,\n"
        )
    });
    // openapi.json repeats the code lists: until they are rewritten from the
    // CSV files the folder is refused, naming the difference and the command.
    let out = harness(&["payload", "--count", "1"], &dir);
    crate::util::assert_exit(&out, 2, "sync-contract");
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("sync-contract")
        .arg(&dir)
        .output()
        .expect("mss-harness sync-contract");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("/tipoDocumento/enum"), "{said}");
    assert!(said.contains("/codigoDepartamento/enum"), "{said}");
    // The renamed success codigo, stated where each service's 200 lists it.
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("openapi.json")).expect("openapi.json"),
    )
    .expect("json");
    for s in Service::ALL {
        let pointer = format!("/paths/~1{}/post/responses/200/x-codigos", s.name());
        assert!(said.contains(&pointer), "{said}");
        assert_eq!(doc.pointer(&pointer), Some(&serde_json::json!(["200"])));
    }
    dir
}

fn harness(args: &[&str], contract: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(args)
        .arg("--contract")
        .arg(contract)
        .output()
        .expect("run mss-harness")
}

/// The run in `results` has no error class but `dropped` (a ticket every
/// sender was too busy to take: the machine's load, not the contract) and
/// its reconciliation holds; its summary.
fn assert_clean_and_reconciled(results: &Path) -> Value {
    let summary = crate::util::summary(results);
    for s in Service::ALL {
        let errors = summary["services"][s.name()]["errors"]
            .as_object()
            .expect("errors");
        assert!(
            errors.keys().all(|k| k == "dropped"),
            "{}: {errors:?}",
            s.name()
        );
    }
    assert_eq!(
        summary["reconciliation"]["ok"], true,
        "{:#}",
        summary["reconciliation"]
    );
    summary
}

#[test]
fn an_edited_annex_drives_every_command_without_a_code_change() {
    let dir = annex();

    // payload: only the 3 municipalities, and the new document type.
    let out = harness(&["payload", "--count", "2000"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let mut municipios = std::collections::BTreeSet::new();
    let mut new_type = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        municipios.insert(format!(
            "{}{}",
            v["codigoDepartamento"].as_str().expect("dep"),
            v["codigoMunicipio"].as_str().expect("mun")
        ));
        if v["tipoDocumento"] == NEW_TYPE {
            new_type += 1;
        }
    }
    assert!(
        municipios.iter().all(|m| KEPT.contains(&m.as_str())),
        "{municipios:?}"
    );
    assert!(new_type > 0, "no {NEW_TYPE} in 2000 bodies");

    // run smoke against the embedded mock with the same contract: exit 0, no
    // error class, reconciliation exact.
    let results = dir.join("run");
    let out = harness(
        &["run", "smoke", "--out", results.to_str().expect("utf-8")],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_clean_and_reconciled(&results);

    // conform against the embedded mock with that contract: every check passes.
    let conform_dir = dir.join("conform");
    let out = harness(
        &["conform", "--out", conform_dir.to_str().expect("utf-8")],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Every VAL02 case the edited contract yields is still rejected with VAL02
/// by a mock serving that contract (the over-long values follow maxLength).
#[tokio::test]
async fn val02_cases_follow_the_edited_lengths() {
    let dir = annex();
    let contract = std::sync::Arc::new(Contract::from_dir(&dir).expect("edited contract loads"));
    let val02 = contract.codigo_of(mss_contract::Role::BadField).to_owned();
    let out = harness(&["payload", "--invalid", &val02, "--count", "120"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let mock = crate::util::TestMock::with_contract(&contract, |_| {});
    let token = mock.token(mock.cred("230301")).await;
    let mut primer_apellido = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let case: Value = serde_json::from_str(line).expect("case");
        let body = &case["prueba"]["cuerpo"];
        if body["primerApellido"]
            .as_str()
            .is_some_and(|a| a.chars().count() == 31)
        {
            primer_apellido += 1;
        }
        let (status, answer) = mock.post(&token, Service::Afiliacion, body).await;
        assert_eq!(status.as_u16(), 400, "{answer}");
        assert_eq!(answer["codigo"], val02.as_str(), "{answer} for {body}");
    }
    assert!(
        primer_apellido > 0,
        "no case was 1 over the edited maxLength (30)"
    );
}

/// An inconsistent contract folder is refused by every command: exit 2, one
/// line naming the file, the row and the column.
#[test]
fn an_inconsistent_contract_is_refused_with_file_row_and_column() {
    let dir = copy_contract("broken");
    edit(&dir, "tipos_documento.csv", |t| {
        t.replacen("\"^[1-9][0-9]{2,9}$\"", "\"^[1-9][0-9]{2,9$\"", 1)
    });
    for args in [
        &["payload", "--count", "1"][..],
        &["run", "smoke", "--dry-run"][..],
        &["conform", "--list"][..],
        &["mock", "--list-deviations"][..],
    ] {
        let out = harness(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("tipos_documento.csv: row 2, column patron_numero"),
            "{args:?}: {err}"
        );
    }
    // A codigo used by openapi.json but not listed in errores.csv; a weight
    // column that sums to nothing.
    let dir = copy_contract("unlisted");
    // The last NEG02 of the document is in an answer's `x-codigos` (the first
    // is in `x-reglas`, whose own check would name it first).
    edit(&dir, "openapi.json", |t| {
        let at = t.rfind("\"NEG02\"").expect("NEG02 in openapi.json");
        format!("{}\"NEG99\"{}", &t[..at], &t[at + "\"NEG02\"".len()..])
    });
    let out = harness(&["payload", "--count", "1"], &dir);
    crate::util::assert_exit(&out, 2, "\"NEG99\" is not listed in errores.csv");
    let dir = copy_contract("weights");
    edit(&dir, "tipos_documento.csv", |t| {
        t.lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    l.to_owned()
                } else {
                    let mut c: Vec<&str> = l.rsplitn(3, ',').collect();
                    c[1] = "0";
                    c.reverse();
                    c.join(",")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let out = harness(&["payload", "--count", "1"], &dir);
    crate::util::assert_exit(&out, 2, "column peso_generacion");
    // Weights the generator cannot draw by (their sum overflows): refused
    // with the file, the row where the sum overflows and the column, by the
    // commands that generate; the mock, which draws nothing, serves them.
    for (file, column, value) in [
        ("divipola.csv", "poblacion", u64::MAX.to_string()),
        (
            "tipos_documento.csv",
            "peso_generacion",
            "4000000000".to_owned(),
        ),
    ] {
        let dir = copy_contract(&format!("overflow-{column}"));
        edit(&dir, file, |t| set_two_rows(&t, column, &value));
        for args in [
            &["payload", "--count", "1"][..],
            &["run", "smoke", "--dry-run"][..],
        ] {
            let out = harness(args, &dir);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.contains(&format!("{file}: row 3, column {column}:")),
                "{args:?}: {err}"
            );
        }
        let out = harness(&["mock", "--list-deviations"], &dir);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
}

/// CSV `text` with `column` of its first two rows (file rows 2 and 3) set
/// to `value`.
fn set_two_rows(text: &str, column: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines[0]
        .split(',')
        .position(|c| c == column)
        .expect("column");
    for line in &mut lines[1..3] {
        let record = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes())
            .records()
            .next()
            .expect("row")
            .expect("csv");
        let mut cells: Vec<&str> = record.iter().collect();
        cells[at] = value;
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&cells).expect("write");
        *line = String::from_utf8(w.into_inner().expect("csv"))
            .expect("utf-8")
            .trim_end()
            .to_owned();
    }
    lines.join("\n") + "\n"
}

/// `mss-mock --contract` (here `mss-harness mock`, the same server and flags)
/// and `run --contract` against it, with VAL02 cases in the mix: exit 0, no
/// error class, every VAL02 case rejected with VAL02, reconciliation exact.
#[test]
fn a_mock_and_a_run_on_the_edited_contract_agree() {
    let dir = annex();
    let (mut mock, url) = crate::util::spawn_mock(
        Command::new(env!("CARGO_BIN_EXE_mss-harness"))
            .args(["mock", "--listen", "127.0.0.1:0", "--contract"])
            .arg(&dir)
            .stdout(std::process::Stdio::null()),
    );
    let file = ScenarioFile::open("annex-against-mock", 30, "5s", 50)
        .at(&url, "ANNEX")
        .table("[invalid]\nVAL02 = 0.2")
        .write(&dir, "against-mock.toml");
    let results = dir.join("against-mock");
    // The demo configuration's client of the default administrator.
    let demo = Cred {
        password: "solo-para-el-mock".to_owned(),
        ..Cred::new("porvenir-demo", "porvenir-ambos")
    };
    let out = run_command(&file, &results, "ANNEX", &demo)
        .arg("--contract")
        .arg(&dir)
        .output()
        .expect("run");
    // conform against that mock, with the same contract: every check that
    // runs passes (another seed: the run's radicados are stored already; the
    // checks that need one client_id per service skip with the demo client).
    let conform_dir = dir.join("conform-against-mock");
    let conform = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args([
            "conform",
            "--allow-writes",
            "--seed",
            "97",
            "--target",
            &url,
            "--out",
        ])
        .arg(&conform_dir)
        .arg("--contract")
        .arg(&dir)
        .env("MSS_USERNAME", "porvenir-demo")
        .env("MSS_PASSWORD", "solo-para-el-mock")
        .env("MSS_CLIENT_ID", "porvenir-ambos")
        .output()
        .expect("conform");
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(conform.status.code(), Some(0), "{}", text(&conform));
    let report: Value = serde_json::from_slice(
        &std::fs::read(conform_dir.join("conformance.json")).expect("conformance.json"),
    )
    .expect("json");
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["result"] == "fail")
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let summary = assert_clean_and_reconciled(&results);
    assert_eq!(summary["reconciliation"]["checked"], true);
}

/// An annex that spells the enumerations its own way (`tipoNovedad`,
/// `tipoAfiliado`, `regimenDestino`, `sexo`, `autorizacionManejoDatos`:
/// `openapi.json`'s `enum` and `x-roles`, the regimes of
/// `administradoras.csv`) changes the bodies with no code change.
#[test]
fn an_annex_renames_the_enumeration_values() {
    let dir = copy_contract("enumerations");
    let renamed = [
        ("TRASLADO_REGIMEN", "TRASLADO_DE_REGIMEN"),
        ("DEPENDIENTE", "DEP"),
        ("RAIS", "RAI"),
        ("F", "FEM"),
        ("N", "NO"),
    ];
    edit(&dir, "openapi.json", |mut t| {
        for (from, to) in renamed {
            t = t.replace(&format!("\"{from}\""), &format!("\"{to}\""));
        }
        let mut v: Value = serde_json::from_str(&t).expect("json");
        for field in ["sexo", "autorizacionManejoDatos"] {
            let max = v
                .pointer_mut(&format!(
                    "/components/schemas/ReportarAfiliaciontrasladoRequest/properties/{field}/maxLength"
                ))
                .expect("maxLength");
            *max = 3.into();
        }
        serde_json::to_string_pretty(&v).expect("json")
    });
    edit(&dir, "administradoras.csv", |t| t.replace(",RAIS", ",RAI"));
    let out = harness(&["payload", "--count", "500"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let mut seen = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        for field in [
            "tipoNovedad",
            "tipoAfiliado",
            "regimenDestino",
            "sexo",
            "autorizacionManejoDatos",
        ] {
            let value = v[field].as_str().expect("field").to_owned();
            for (from, _) in renamed {
                assert_ne!(value, from, "{field} kept the bundled spelling: {line}");
            }
            seen.insert(value);
        }
    }
    for (_, to) in renamed {
        assert!(seen.contains(to), "no {to} in 500 bodies: {seen:?}");
    }
}

/// Enumerations that disagree are refused: a role whose value is not in the
/// field's `enum`, a regime of `administradoras.csv` that `regimenDestino`
/// does not list — exit 2, one line naming file and key.
#[test]
fn inconsistent_enumerations_are_refused_naming_file_and_key() {
    let dir = copy_contract("bad-roles");
    edit(&dir, "openapi.json", |t| {
        t.replacen(
            "\"regime_transfer\": \"TRASLADO_REGIMEN\"",
            "\"regime_transfer\": \"TRASLADO\"",
            1,
        )
    });
    let out = harness(&["payload", "--count", "1"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("openapi.json")
            && err.contains("/properties/tipoNovedad/x-roles/regime_transfer")
            && err.contains("\"TRASLADO\" is not a value"),
        "{err}"
    );
    let dir = copy_contract("bad-regime");
    edit(&dir, "administradoras.csv", |t| {
        t.replacen(",RAIS", ",AHORRO", 1)
    });
    let out = harness(&["payload", "--count", "1"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("administradoras.csv: row") && err.contains("column regimen"),
        "{err}"
    );
}
