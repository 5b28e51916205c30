//! Two different contracts in one process, side by side: the bundled one and
//! an edited copy that spells the success codigo, a regime and a novelty its
//! own way. Each generator writes its own contract's spellings, each mock
//! accepts its own contract's bodies and refuses the other's, and two runs,
//! one per contract, go at once — nothing of a contract is process-wide.

use std::path::PathBuf;
use std::sync::Arc;

use mss_contract::{Contract, Role, Service};
use mss_harness::scenario::{ContractChoice, RunPlan};
use mss_harness::session::run_scenario;
use serde_json::Value;

use crate::scenario_file::ScenarioFile;
use crate::util::{TestMock, copy_contract, edit_file};

/// The bundled spellings the edited copy renames, and their new spelling.
const RENAMED: [(&str, &str); 3] = [
    ("RAIS", "RAI"),
    ("TRASLADO_REGIMEN", "TRASLADO_DE_REGIMEN"),
    ("OK", "ACEPTADO"),
];

/// A copy of contract/ with [`RENAMED`] applied: the regime in
/// `openapi.json` and `administradoras.csv`, the novelty in `openapi.json`,
/// the success codigo in `errores.csv` only (`sync_code_lists` states it in
/// the document's `x-codigos`).
fn edited_contract() -> Arc<Contract> {
    let dir = copy_contract("two-contracts");
    edit_file(&dir, "openapi.json", |t| {
        t.replace("\"RAIS\"", "\"RAI\"")
            .replace("\"TRASLADO_REGIMEN\"", "\"TRASLADO_DE_REGIMEN\"")
    });
    edit_file(&dir, "administradoras.csv", |t| t.replace(",RAIS", ",RAI"));
    edit_file(&dir, "errores.csv", |t| {
        t.replace("\n200,OK,", "\n200,ACEPTADO,")
    });
    Contract::sync_code_lists(&dir).expect("sync-contract");
    Arc::new(Contract::from_dir(&dir).expect("the edited contract loads"))
}

/// `n` affiliations of administrator 230301 (RAIS) generated with the
/// contract `mock` serves (seed 5), dated on the mock's today.
fn bodies(mock: &TestMock, n: usize) -> Vec<Value> {
    let (mut g, _) = mock.generators(5, "230301");
    (0..n)
        .map(|_| serde_json::to_value(g.next_affiliation().expect("affiliation")).expect("json"))
        .collect()
}

#[tokio::test]
async fn each_mock_accepts_its_own_contracts_bodies_and_refuses_the_others() {
    let bundled = Arc::clone(Contract::embedded());
    let edited = edited_contract();
    assert_eq!(edited.codigo_of(Role::Stored), "ACEPTADO");
    assert_eq!(bundled.codigo_of(Role::Stored), "OK");
    let contracts = [("bundled", &bundled), ("edited", &edited)];
    let mocks = contracts.map(|(_, c)| TestMock::with_contract(c, |_| {}));
    // The bodies of both generators, drawn in turn: same seed, same
    // administrator, their own spellings.
    let drawn = [bodies(&mocks[0], 40), bodies(&mocks[1], 40)];
    for (body_b, body_e) in drawn[0].iter().zip(&drawn[1]) {
        assert_eq!(body_b["regimenDestino"], "RAIS", "{body_b}");
        assert_eq!(body_e["regimenDestino"], "RAI", "{body_e}");
        assert_eq!(body_b["numeroDocumento"], body_e["numeroDocumento"]);
    }
    let novedades = |bodies: &[Value]| -> Vec<String> {
        bodies
            .iter()
            .map(|b| b["tipoNovedad"].as_str().expect("tipoNovedad").to_owned())
            .collect()
    };
    assert!(novedades(&drawn[0]).iter().any(|n| n == "TRASLADO_REGIMEN"));
    assert!(
        novedades(&drawn[1])
            .iter()
            .any(|n| n == "TRASLADO_DE_REGIMEN")
    );
    for (from, _) in RENAMED {
        assert!(
            drawn[1]
                .iter()
                .all(|b| !b.to_string().contains(&format!("\"{from}\""))),
            "an edited body kept the bundled {from}"
        );
    }

    for (m, mock) in mocks.iter().enumerate() {
        let served = mock.mock.contract();
        let token = mock.token(mock.cred("230301")).await;
        for (g, (name, generated_with)) in contracts.iter().enumerate() {
            for body in &drawn[g] {
                let (status, answer) = mock.post(&token, Service::Afiliacion, body).await;
                let codigo = answer["codigo"].as_str().unwrap_or_default();
                let resultado = answer["resultado"].as_str().unwrap_or_default();
                if m == g {
                    // Accepted, with the success envelope of its own contract.
                    assert!(
                        served.is_stored(status.as_u16(), resultado, codigo),
                        "mock {m} refused a {name} body: {answer} for {body}"
                    );
                    assert!(generated_with.is_stored(status.as_u16(), resultado, codigo));
                } else {
                    // The other contract's regime is not a value of this one's
                    // regimenDestino: a bad field, as this mock spells it.
                    assert_eq!(
                        codigo,
                        served.codigo_of(Role::BadField),
                        "mock {m} on a {name} body: {answer}"
                    );
                    let mensaje = answer["mensaje"].as_str().unwrap_or_default();
                    assert!(
                        ["regimenDestino", "tipoNovedad"]
                            .iter()
                            .any(|f| mensaje.contains(f)),
                        "{answer}"
                    );
                }
            }
        }
    }
}

/// A short open run of `contract` against its own embedded mock.
fn plan(contract: &Arc<Contract>, name: &str) -> RunPlan {
    ScenarioFile::open(name, 20, "2s", 20)
        .table("[invalid]\nVAL02 = 0.1")
        .plan_with(ContractChoice::Given(Arc::clone(contract)))
}

fn results(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("two-contracts-{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_with_different_contracts_go_at_once() {
    let bundled = Arc::clone(Contract::embedded());
    let edited = edited_contract();
    let (a, b) = tokio::join!(
        run_scenario(plan(&bundled, "bundled"), Some(results("bundled"))),
        run_scenario(plan(&edited, "edited"), Some(results("edited"))),
    );
    for (name, outcome) in [("bundled", a), ("edited", b)] {
        let outcome = outcome.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let s = &outcome.summary;
        assert_eq!(outcome.exit, 0, "{name}: {s:#}");
        // Every answer classed by the run's own contract: stored reports are
        // `ok` (the edited mock answers ACEPTADO), the VAL02 cases are
        // refused as expected, nothing is an unexpected codigo.
        for service in Service::ALL {
            let errors = s["services"][service.name()]["errors"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(
                errors.keys().all(|k| k == "dropped"),
                "{name} {service}: {errors:?}"
            );
        }
        assert_eq!(s["reconciliation"]["ok"], true, "{name}: {s:#}");
        let echoed = std::fs::read_to_string(outcome.dir.join("scenario.toml")).expect("echo");
        assert!(echoed.contains("administradora = \"230301\""), "{echoed}");
    }
}

/// A flag's default that comes from the contract (the administrator reported
/// for) is the default of the contract the command was given: the flags are
/// parsed first, the contract read after, the default filled in then.
#[test]
fn the_default_administrator_is_the_given_contracts() {
    let dir = copy_contract("default-admin");
    edit_file(&dir, "administradoras.csv", |text| {
        let moved = text
            .replace("230301,Porvenir,RAIS,S", "230301,Porvenir,RAIS,N")
            .replace("231001,Colfondos,RAIS,N", "231001,Colfondos,RAIS,S");
        assert_ne!(moved, text);
        moved
    });
    let edited = Arc::new(Contract::from_dir(&dir).expect("loads"));
    let args = [
        "mss-harness",
        "payload",
        "--count",
        "3",
        "--as-of",
        "2026-11-25",
    ];
    let Ok(mss_harness::cli::Cli {
        command: mss_harness::cli::Command::Payload(payload),
    }) = <mss_harness::cli::Cli as clap::Parser>::try_parse_from(args)
    else {
        panic!("payload flags parse");
    };
    for (contract, admin) in [(Contract::embedded(), "230301"), (&edited, "231001")] {
        let mut out = Vec::new();
        mss_harness::cmd::payload::run(&payload, contract, &mut out).expect("payload");
        let lines = String::from_utf8(out).expect("utf-8");
        assert_eq!(lines.lines().count(), 3);
        for line in lines.lines() {
            let body: Value = serde_json::from_str(line).expect("json");
            assert_eq!(body["codigoAdministradora"], admin, "{line}");
        }
    }
}
