//! The conformance suite: every check passes against the mock; every check is
//! proven able to fail by the mock deviation that breaks exactly its rule, and
//! no other check fails then; the checks follow the contract files; no secret
//! reaches any output.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use mss_contract::Contract;
use mss_harness::conform::{self, Probe, Report, Setup, Verdict, catalogue};

/// The suite's set-up against `mock` served at `base` with `creds` (the
/// default administrator's, 230301), the mock attached for its counts.
fn setup(
    base: String,
    creds: HashMap<String, conform::Creds>,
    mock: &mss_mock::Mock,
    seed: u64,
) -> Setup {
    Setup {
        base_url: base,
        administradora: "230301".into(),
        seed,
        creds,
        mock: Some(mock.clone()),
        slow: false,
        admin_clock: false,
        writes: true,
        as_of: mock.clock().today(),
        timeout: Duration::from_secs(10),
        client: None,
    }
}

async fn suite(deviations: &[String], only: &[String], seed: u64) -> Report {
    let (mock, base, creds) = conform::embedded_mock(Contract::embedded(), "230301", deviations)
        .await
        .expect("embedded mock");
    let setup = setup(base, creds, &mock, seed);
    let contract = Contract::embedded();
    let checks = conform::select(catalogue(contract), only).expect("select");
    conform::run_suite(setup, contract, &checks, "mock")
        .await
        .expect("suite")
}

fn failed(report: &Report) -> BTreeSet<String> {
    report
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
        .map(|o| o.check.id.clone())
        .collect()
}

/// Whether the request that decided check `id` carried `field` of `chars`
/// characters.
fn carries(report: &Report, id: &str, field: &str, chars: usize) -> bool {
    report
        .get(id)
        .and_then(|o| o.probe.as_ref())
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
        .and_then(|b| {
            b.get(field)
                .and_then(|v| v.as_str())
                .map(|v| v.chars().count() == chars)
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn every_check_passes_against_the_mock() {
    let report = suite(&[], &[], 1).await;
    let (passed, failed_n, skipped) = report.totals();
    let mut text = Vec::new();
    conform::print_table(&report, &mut text).expect("table");
    let text = String::from_utf8_lossy(&text);
    assert_eq!(failed_n, 0, "{text}");
    assert_eq!(skipped, 0, "{text}");
    assert!(passed >= 60, "{passed} checks");
}

/// Each deviation of the mock is caught by the check with its id, and only by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_deviation_is_caught_by_its_check_and_only_by_it() {
    let checks = catalogue(Contract::embedded());
    let known: BTreeSet<String> = mss_mock::deviate::catalogue(Contract::embedded())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut problems = Vec::new();
    // The boundary pairs have deviations of their own (see
    // `boundary_pairs_fail_on_their_off_by_one_deviations`).
    for check in checks.iter().filter(|c| !matches!(c.probe, Probe::Bnd(_))) {
        assert!(
            known.contains(&check.id),
            "check {} has no deviation in the mock",
            check.id
        );
        let report = suite(std::slice::from_ref(&check.id), &[], 1).await;
        let mut failed = failed(&report);
        if let Probe::Len {
            field, chars, at, ..
        } = &check.probe
            && at.accepted()
        {
            // A server whose limit is off by one refuses every report that
            // carries the field at that length, not only the probe's: such a
            // failure is related when the failing request carried it.
            failed.retain(|id| *id == check.id || !carries(&report, id, field, *chars));
        }
        if let Probe::Rul(rule) = &check.probe {
            // A rule switched off lets the refused side of its boundary pairs
            // through too.
            let pairs = format!("BND-{}-", Contract::embedded().codigo_of(rule.role()));
            let refused_side = |id: &String| {
                id.starts_with(&pairs)
                    && checks
                        .iter()
                        .any(|c| c.id == *id && matches!(c.probe, Probe::Bnd(b) if !b.accepted))
            };
            failed.retain(|id| *id == check.id || !refused_side(id));
        }
        let expected = BTreeSet::from([check.id.clone()]);
        if failed != expected {
            problems.push(format!(
                "--deviate {}: failed {:?}",
                check.id,
                failed.iter().collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} deviations misbehave:\n{}",
        problems.len(),
        checks.len(),
        problems.join("\n")
    );
}

/// Each `BND-` deviation of the mock moves one boundary by one unit (a year, a
/// day, a business day) or counts the retraction window the wrong way; the
/// boundary checks it must break, and only those of all the `BND-` checks.
const OFF_BY_ONE: &[(&str, &[&str])] = &[
    (
        "BND-NEG02-EARLY",
        &[
            "BND-NEG02-F-BEFORE",
            "BND-NEG02-M-BEFORE",
            "BND-NEG02-29FEB-BEFORE",
        ],
    ),
    (
        "BND-NEG02-LATE",
        &["BND-NEG02-F-ON", "BND-NEG02-M-ON", "BND-NEG02-29FEB-ON"],
    ),
    ("BND-NEG02-29FEB", &["BND-NEG02-29FEB-BEFORE"]),
    ("BND-NEG03-EARLY", &["BND-NEG03-INSIDE"]),
    ("BND-NEG03-LATE", &["BND-NEG03-OUTSIDE"]),
    ("BND-NEG04-EARLY", &["BND-NEG04-INSIDE"]),
    ("BND-NEG04-LATE", &["BND-NEG04-OUTSIDE"]),
    (
        "BND-NEG11-SHORT",
        &[
            "BND-NEG11-WEEKEND-LAST",
            "BND-NEG11-FESTIVO-LAST",
            "BND-NEG11-8DIC-LAST",
        ],
    ),
    (
        "BND-NEG11-LONG",
        &[
            "BND-NEG11-WEEKEND-NEXT",
            "BND-NEG11-FESTIVO-NEXT",
            "BND-NEG11-8DIC-NEXT",
        ],
    ),
    (
        "BND-NEG11-CALENDAR",
        &[
            "BND-NEG11-WEEKEND-LAST",
            "BND-NEG11-FESTIVO-LAST",
            "BND-NEG11-8DIC-LAST",
        ],
    ),
    (
        "BND-NEG11-NO-HOLIDAYS",
        &["BND-NEG11-FESTIVO-LAST", "BND-NEG11-8DIC-LAST"],
    ),
    ("BND-EDAD-EARLY", &["BND-EDAD-BEFORE"]),
    ("BND-EDAD-LATE", &["BND-EDAD-ON"]),
];

/// Every boundary pair passes against the mock and fails exactly where an
/// off-by-one deviation moves its boundary; every boundary check is broken by
/// some deviation and every `BND-` deviation is exercised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boundary_pairs_fail_on_their_off_by_one_deviations() {
    let only = ["BND-".to_owned()];
    let bnd: BTreeSet<String> = catalogue(Contract::embedded())
        .into_iter()
        .filter(|c| matches!(c.probe, Probe::Bnd(_)))
        .map(|c| c.id)
        .collect();
    assert!(bnd.len() >= 18, "{bnd:?}");
    let deviations: BTreeSet<String> = mss_mock::deviate::catalogue(Contract::embedded())
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| id.starts_with("BND-"))
        .collect();
    let tested: BTreeSet<String> = OFF_BY_ONE.iter().map(|(d, _)| (*d).to_owned()).collect();
    assert_eq!(deviations, tested, "every BND- deviation has a row here");
    let broken: BTreeSet<String> = OFF_BY_ONE
        .iter()
        .flat_map(|(_, ids)| ids.iter().map(|id| (*id).to_owned()))
        .collect();
    assert_eq!(broken, bnd, "every boundary check is broken by a deviation");

    let clean = suite(&[], &only, 1).await;
    assert_eq!(clean.outcomes.len(), bnd.len());
    assert!(failed(&clean).is_empty(), "{:?}", failed(&clean));
    assert_eq!(clean.totals().2, 0, "none skipped");
    let mut problems = Vec::new();
    for (deviation, expected) in OFF_BY_ONE {
        let report = suite(&[(*deviation).to_owned()], &only, 1).await;
        let got = failed(&report);
        let want: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        for id in &got {
            let detail = match &report.get(id).map(|o| &o.verdict) {
                Some(Verdict::Fail(d)) => d.clone(),
                _ => String::new(),
            };
            println!("--deviate {deviation}: {id} fails: {detail}");
        }
        if got != want {
            problems.push(format!(
                "--deviate {deviation}: failed {got:?}, expected {want:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `--slow` against a mock whose tokens live 10 s, reached as a URL (no clock
/// to move): the expired-token checks wait the token out for real and get
/// AUT02, and every check after them passes with tokens the cache renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_waits_out_a_ten_second_token_and_keeps_working() {
    let (mock, base, creds) = conform::embedded_mock_with(Contract::embedded(), "230301", |c| {
        c.token_ttl_seconds = 10;
    })
    .await
    .expect("mock");
    let setup = Setup {
        mock: None,
        slow: true,
        ..setup(base, creds, &mock, 1)
    };
    let contract = Contract::embedded();
    let checks = catalogue(contract);
    let started = std::time::Instant::now();
    let report = conform::run_suite(setup, contract, &checks, "mss-mock, 10 s tokens")
        .await
        .expect("suite");
    let wall = started.elapsed();
    let mut text = Vec::new();
    conform::print_table(&report, &mut text).expect("table");
    let text = String::from_utf8_lossy(&text);
    let (passed, failed_n, skipped) = report.totals();
    assert_eq!((failed_n, skipped), (0, 0), "{text}");
    assert_eq!(passed, checks.len());
    // One wait serves both expired-token checks (same client).
    assert!(wall < Duration::from_secs(40), "{wall:?}");

    let dir = crate::util::temp_dir("conform-slow");
    conform::write_outputs(&report, &dir).expect("write");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("conformance.json")).expect("read"))
            .expect("json");
    let with_age: Vec<&serde_json::Value> = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c.get("token_age_s").is_some())
        .collect();
    let ids: Vec<&str> = with_age.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["AUTH-AFI-004", "AUTH-RET-004"]);
    for c in with_age {
        assert_eq!(c["result"], "pass", "{c}");
        assert_eq!(c["token_lifetime_s"], 10, "{c}");
        assert_eq!(c["token_expired_by"], "waited", "{c}");
        let age = c["token_age_s"].as_f64().expect("age");
        assert!(age > 10.0, "{c}");
    }
    // The mock answered AUT02 to those two requests only: no other request
    // carried an expired token, though every token the suite started with
    // had expired by then.
    let stats = mock.stats();
    let aut02: u64 = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"]
        .iter()
        .map(|s| {
            stats["services"][s]["rejected"]["AUT02"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(aut02, 2, "{stats:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A target that revokes every token once, mid-suite: the next request with
/// the cached token gets 401, the suite renews its token once and sends it
/// again, and every check still passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_renewed_once_and_the_suite_goes_on() {
    let (mock, base, creds) = conform::embedded_mock_with(Contract::embedded(), "230301", |c| {
        c.faults = vec![mss_mock::faults::FaultSpec {
            kind: "revoke_tokens".into(),
            // Fires once, at the first retraction (AUTH-RET-001, sent
            // without a token); the next check using the cached token is
            // AUTH-RET-007, which must get 403 AUT03, not 401.
            route: Some("ReportarRetractoAfiliacion".into()),
            ..Default::default()
        }];
    })
    .await
    .expect("mock");
    let setup = setup(base, creds, &mock, 1);
    let contract = Contract::embedded();
    let checks = catalogue(contract);
    let report = conform::run_suite(setup, contract, &checks, "mock revoking tokens")
        .await
        .expect("suite");
    let mut text = Vec::new();
    conform::print_table(&report, &mut text).expect("table");
    let text = String::from_utf8_lossy(&text);
    assert_eq!(report.totals(), (checks.len(), 0, 0), "{text}");
    let injected = mock.faults().injected();
    assert_eq!(injected["revoke_tokens"], 1, "{injected:?}");
}

/// The probe of every check, with the values the target handed back
/// (numeroTransaccion) taken out.
fn requests(report: &Report) -> Vec<(String, String)> {
    report
        .outcomes
        .iter()
        .map(|o| {
            let body = o.probe.as_ref().map_or(String::new(), |e| {
                match serde_json::from_str::<serde_json::Value>(&e.body) {
                    Ok(mut v) => {
                        if let Some(m) = v.as_object_mut() {
                            m.remove("numeroTransaccionAfiliacion");
                        }
                        format!("{} {} {v}", e.method, e.path)
                    }
                    Err(_) => format!("{} {} {}", e.method, e.path, e.body),
                }
            });
            (o.check.id.clone(), body)
        })
        .collect()
}

#[tokio::test]
async fn the_same_seed_sends_the_same_requests() {
    let only = [
        "AUTH-".to_owned(),
        "LEN-".into(),
        "RUL-".into(),
        "REQ-".into(),
        "DUP-".into(),
    ];
    let a = requests(&suite(&[], &only, 7).await);
    let b = requests(&suite(&[], &only, 7).await);
    let c = requests(&suite(&[], &only, 8).await);
    assert!(a.len() > 50);
    assert_eq!(a, b, "seed 7 twice");
    let differ = a.iter().zip(&c).filter(|(x, y)| x != y).count();
    assert!(
        differ > a.len() / 2,
        "seed 8 differs in only {differ} probes"
    );
}

/// The sorted check ids of the built-in contract, one a line.
const SNAPSHOT: &str = "tests/data/conform-checks.txt";
/// Set to 1 to rewrite [`SNAPSHOT`] from the catalogue (then review the diff).
const UPDATE_SNAPSHOT: &str = "MSS_UPDATE_SNAPSHOT";

/// The catalogue is pinned: a check lost or added shows as a diff of
/// tests/data/conform-checks.txt (rewrite it with MSS_UPDATE_SNAPSHOT=1), and
/// every "N checks" in the README is that file's count.
#[test]
fn the_catalogue_matches_its_snapshot_and_the_readme() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ids: Vec<String> = catalogue(Contract::embedded())
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    let current = ids.join("\n") + "\n";
    let path = root.join(SNAPSHOT);
    if std::env::var(UPDATE_SNAPSHOT).is_ok_and(|v| v == "1") {
        std::fs::write(&path, &current).expect("write snapshot");
        eprintln!("rewrote {SNAPSHOT}: {} checks", ids.len());
    }
    let pinned = std::fs::read_to_string(&path).expect("snapshot");
    let pinned: Vec<&str> = pinned.lines().filter(|l| !l.trim().is_empty()).collect();
    let lost: Vec<&&str> = pinned
        .iter()
        .filter(|id| ids.binary_search(&(**id).to_owned()).is_err())
        .collect();
    let added: Vec<&String> = ids
        .iter()
        .filter(|id| !pinned.contains(&id.as_str()))
        .collect();
    assert!(
        lost.is_empty() && added.is_empty() && pinned.len() == ids.len(),
        "the catalogue differs from {SNAPSHOT}: lost {lost:?}, added {added:?}; \
         if that is intended, run `{UPDATE_SNAPSHOT}=1 cargo test --test tests \
         conform::the_catalogue` and fix the count in README.md"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let words: Vec<&str> = readme.split_whitespace().collect();
    let counts: Vec<usize> = words
        .windows(2)
        .filter(|w| w[1].trim_end_matches([',', '.', ';', ':', ')']) == "checks")
        .filter_map(|w| w[0].parse().ok())
        .collect();
    assert!(!counts.is_empty(), "README.md names no count of checks");
    assert!(
        counts.iter().all(|n| *n == pinned.len()),
        "README.md says {counts:?} checks, {SNAPSHOT} has {}",
        pinned.len()
    );
}

#[test]
fn the_checks_follow_the_contract_files() {
    let before: Vec<String> = catalogue(Contract::embedded())
        .into_iter()
        .map(|c| c.id)
        .collect();
    let dir = crate::util::copy_contract("contract");
    let path = dir.join("openapi.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let props = "/components/schemas/ReportarAfiliaciontrasladoRequest/properties";
    // Remove one value of an enumeration and widen one length.
    let sexo = doc
        .pointer_mut(&format!("{props}/autorizacionManejoDatos/enum"))
        .expect("enum");
    *sexo = serde_json::json!(["S"]);
    *doc.pointer_mut(&format!("{props}/primerApellido/maxLength"))
        .expect("maxLength") = 25.into();
    // And add a field.
    doc.pointer_mut(props)
        .and_then(|p| p.as_object_mut())
        .expect("properties")
        .insert(
            "codigoPostal".into(),
            serde_json::json!({"type": "string", "minLength": 4, "maxLength": 6, "pattern": "^[0-9]{4,6}$"}),
        );
    std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).expect("write");

    let changed = Contract::from_dir(&dir).expect("edited contract loads");
    let after = catalogue(&changed);
    let ids: Vec<&str> = after.iter().map(|c| c.id.as_str()).collect();
    let gone: Vec<&String> = before
        .iter()
        .filter(|id| !ids.contains(&id.as_str()))
        .collect();
    assert_eq!(gone, ["ENUM-AFI-autorizacionManejoDatos-N"], "checks gone");
    let new: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !before.iter().any(|b| b == id))
        .collect();
    assert_eq!(
        new,
        [
            "LEN-AFI-codigoPostal-MIN-1",
            "LEN-AFI-codigoPostal-MIN",
            "LEN-AFI-codigoPostal-MAX",
            "LEN-AFI-codigoPostal-MAX+1"
        ]
    );
    let max = after
        .iter()
        .find(|c| c.id == "LEN-AFI-primerApellido-MAX+1")
        .expect("MAX+1");
    assert!(
        matches!(max.probe, Probe::Len { chars: 26, .. }),
        "{:?}",
        max.probe
    );

    // The command line reads the same folder.
    let out = crate::util::harness(&[
        "conform",
        "--list",
        "--contract",
        dir.to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    crate::util::succeeded(&out);
    assert!(text.contains("ENUM-AFI-autorizacionManejoDatos-S"));
    assert!(!text.contains("ENUM-AFI-autorizacionManejoDatos-N"));
    assert!(
        text.contains(&format!("{} checks", before.len() + 3)),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A contract that spells two business-rule codigos otherwise (an annex's
/// codes): the checks expect the new spelling, their `RUL-`/`BND-` ids and
/// titles follow it, and every other id stays as it was.
#[test]
fn a_renamed_codigo_renames_the_checks_of_its_rule() {
    let dir = crate::util::copy_contract("contract");
    let renames = [("NEG01", "DUP77"), ("NEG02", "EDA88")];
    for name in ["errores.csv", "openapi.json"] {
        let path = dir.join(name);
        let mut text = std::fs::read_to_string(&path).expect("read");
        for (from, to) in renames {
            text = text.replace(from, to);
        }
        std::fs::write(&path, text).expect("write");
    }
    let changed = Contract::from_dir(&dir).expect("renamed contract loads");
    let before: Vec<String> = catalogue(Contract::embedded())
        .into_iter()
        .map(|c| c.id)
        .collect();
    let after = catalogue(&changed);
    let renamed = |id: &str| {
        renames
            .iter()
            .fold(id.to_owned(), |id, (from, to)| id.replace(from, to))
    };
    let expected: Vec<String> = before.iter().map(|id| renamed(id)).collect();
    let ids: Vec<String> = after.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, expected);
    assert!(ids.contains(&"RUL-DUP77".to_owned()) && ids.contains(&"BND-EDA88-F-ON".to_owned()));
    let title = |id: &str| {
        after
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.title.clone())
            .unwrap_or_default()
    };
    assert!(
        title("RUL-DUP77").ends_with("gets 409 DUP77"),
        "{}",
        title("RUL-DUP77")
    );
    assert!(
        title("DUP-001").ends_with("gets 409 DUP77"),
        "{}",
        title("DUP-001")
    );
    assert!(
        title("BND-EDA88-M-ON").ends_with("gets 422 EDA88"),
        "{}",
        title("BND-EDA88-M-ON")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Against a URL (a mock on 127.0.0.1 that deviates, so that failures print
/// their reproducers), the password given in MSS_PASSWORD appears in no byte
/// of stdout, stderr, conformance.json or junit.xml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_holds_the_password() {
    let canary = format!("CANARIO-{:016x}", rand::random::<u64>());
    let cred = crate::util::Cred {
        password: canary.clone(),
        ..crate::util::Cred::new("conform-canario", "conform-canario-ambos")
    };
    let mock = cred.mock(|config| {
        config.deviate = [
            "TOK-001",
            "TOK-008",
            "AUTH-AFI-001",
            "REQ-AFI-sexo",
            "SCH-001",
        ]
        .map(String::from)
        .to_vec();
    });
    let addr = format!("127.0.0.1:{}", crate::util::serve(&mock).await);
    let dir = crate::util::temp_dir("conform-canary");
    let out_dir = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mss-harness"))
            .args(["conform", "--allow-writes", "--target"])
            .arg(format!("http://{addr}"))
            .arg("--out")
            .arg(&out_dir)
            .env("MSS_USERNAME", "conform-canario")
            .env("MSS_PASSWORD", &canary)
            .env("MSS_CLIENT_ID", "conform-canario-ambos")
            .env_remove("MSS_CLIENT_ID_AFILIACION")
            .env_remove("MSS_CLIENT_ID_RETRACTO")
            .output()
            .map(|o| (o, canary))
    })
    .await
    .expect("join")
    .expect("run");
    let (out, canary) = out;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in [
        "TOK-001",
        "TOK-008",
        "AUTH-AFI-001",
        "REQ-AFI-sexo",
        "SCH-001",
    ] {
        assert!(
            stdout.contains(&format!("✗ {id}")),
            "{id} did not fail:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("password=%3Credacted%3E") || stdout.contains("password=<redacted>"),
        "{stdout}"
    );
    let mut outputs = vec![
        ("stdout".to_owned(), out.stdout.clone()),
        ("stderr".to_owned(), out.stderr.clone()),
    ];
    for f in ["conformance.json", "junit.xml"] {
        outputs.push((f.to_owned(), std::fs::read(dir.join(f)).expect(f)));
    }
    for (name, bytes) in &outputs {
        let hay = String::from_utf8_lossy(bytes);
        assert!(!hay.contains(&canary), "{name} holds the password");
    }
    crate::run::assert_valid_junit(&dir.join("junit.xml"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_and_unreachable_targets_exit_2_naming_them() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mss-harness"))
            .arg("conform")
            .args(args)
            .env("MSS_USERNAME", "u")
            .env("MSS_PASSWORD", "p")
            .env("MSS_CLIENT_ID", "c")
            .output()
            .expect("run")
    };
    let out = run(&["--only", "NOPE-999", "--list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--only NOPE-999"));
    let out = run(&["--target", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1/token: no answer"));
    let out = run(&["--target", "ftp://127.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--administradora", "999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("999999"));
}

/// `mss-harness conform --only P… --out DIR`, which must exit 0.
pub fn run_only(dir: &std::path::Path, prefixes: &[&str]) {
    let mut args = vec!["conform"];
    for p in prefixes {
        args.extend(["--only", p]);
    }
    args.extend(["--out", dir.to_str().expect("utf-8")]);
    crate::util::succeeded(&crate::util::harness(&args));
}

#[test]
fn a_run_writes_its_outputs_and_exits_0() {
    let dir = crate::util::temp_dir("conform-out");
    run_only(&dir, &["TOK-", "RUL-NEG12"]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("conformance.json")).expect("json"))
            .expect("parse");
    assert_eq!(json["totals"]["checks"], 11);
    assert_eq!(json["totals"]["passed"], 11);
    crate::run::assert_valid_junit(&dir.join("junit.xml"));
    let _ = std::fs::remove_dir_all(&dir);
}
