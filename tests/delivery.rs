//! A run passes only if it delivered its plan, and says what held it back:
//! a target that answers every request in 1 s, an open plan of 200 req/s for
//! 10 s, and 20 or 500 requests allowed in flight.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn scenario(dir: &Path, max_in_flight: u32) -> std::path::PathBuf {
    scenario_of(dir, 1000, 200, 10, max_in_flight)
}

/// An open plan of `rate` req/s for `seconds` against the embedded mock
/// answering in `latency_ms`, `max_in_flight` senders.
fn scenario_of(
    dir: &Path,
    latency_ms: u32,
    rate: u32,
    seconds: u32,
    max_in_flight: u32,
) -> std::path::PathBuf {
    let file = dir.join(format!("slow-{max_in_flight}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"name = "slow-target"
[target]
url = "mock"
[target.mock]
latency = {{ distribution = "fixed", ms = {latency_ms} }}
[load]
model = "open"
stages = [{{ rate = {rate}, duration = "{seconds}s" }}]
max_in_flight = {max_in_flight}
[thresholds]
global = ["p99 < 3s", "error_rate < 1%"]
"#
        ),
    )
    .expect("scenario");
    file
}

fn run(file: &Path, out: &Path) -> (Option<i32>, String, String, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run mss-harness");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        summary,
    )
}

/// 20 senders and 1-s answers send about 20 req/s of the 200 planned: the
/// run fails on delivery though both thresholds hold, and names the target.
#[test]
fn a_plan_the_target_held_back_fails_and_names_the_target() {
    let dir = crate::util::temp_dir("delivery-target");
    let (code, stdout, stderr, s) = run(&scenario(&dir, 20), &dir.join("out"));
    let d = &s["delivery"];
    println!("{stdout}{d:#}");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    for t in s["thresholds"].as_array().expect("thresholds") {
        assert_eq!(t["ok"], true, "the thresholds hold: {t}");
    }
    assert_eq!(d["planned"], 2000, "{d:#}");
    let sent = d["sent"].as_u64().expect("sent");
    assert!((180..=260).contains(&sent), "{sent} sent: {d:#}");
    assert_eq!(d["ok"], false);
    let verdict = d["verdict"].as_str().expect("verdict");
    assert!(
        verdict.starts_with(&format!(
            "plan not delivered: {sent} of 2,000 planned requests sent ("
        )),
        "{verdict}"
    );
    let b = &d["bound_by"];
    assert_eq!(b["limit"], "target", "{b:#}");
    let e = &b["evidence"];
    assert_eq!(e["in_flight_cap"], 20);
    let needed = e["needed_in_flight"].as_f64().expect("needed");
    assert!((190.0..=240.0).contains(&needed), "Little's law: {e:#}");
    assert!(
        b["explanation"]
            .as_str()
            .is_some_and(|x| x.contains("Little's law") && x.contains("the cap was 20")),
        "{b:#}"
    );
    // The printed verdict says it first, before the thresholds.
    let first = stdout
        .lines()
        .find(|l| l.trim_start().starts_with('['))
        .expect("a verdict line");
    assert!(first.contains("[FAIL] plan not delivered"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "latency percentiles over {sent} sent of 2,000 planned"
        )),
        "{stdout}"
    );
    // The reports say it too: first, in the same words, with what held the
    // run back; their latency headings say what the percentiles cover.
    let out = dir.join("out");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.starts_with("# mss-harness: `slow-target` — ❌ failed"),
        "{md}"
    );
    let delivery = md.find("## Delivery").expect("a delivery section");
    assert!(
        delivery < md.find("## Latency").expect("latency")
            && delivery < md.find("## Thresholds").expect("thresholds"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(
        html.contains(r#"<span class="verdict fail">FAILED</span>"#),
        "the header"
    );
    let section = html
        .find(r#"<section id="delivery">"#)
        .expect("a delivery section");
    assert!(section < html.find("<h2>Thresholds</h2>").expect("thresholds"));
    // Each fact as report.md and as report.html say it: the verdict, what
    // held the run back, the explanation, the latency heading, the delivery
    // per stage (the table's row, the chart).
    for (in_md, in_html) in [
        (format!("❌ **{verdict}**"), format!("<b>{verdict}</b>")),
        (
            "**bound_by: `target`**".to_owned(),
            "bound_by: <code>target</code>".to_owned(),
        ),
        (
            "the cap was 20.".to_owned(),
            "Little&#x27;s law: 200 req&#x2f;s".to_owned(),
        ),
        (
            format!("## Latency over {sent} sent of 2,000 planned requests (ms"),
            format!("over {sent} sent of 2,000 planned requests"),
        ),
        (
            "| 1 | 200 | 0–10 s | 2,000 |".to_owned(),
            "Delivery per second: planned against sent".to_owned(),
        ),
    ] {
        assert!(md.contains(&in_md), "report.md lacks {in_md}:\n{md}");
        assert!(html.contains(&in_html), "report.html lacks {in_html}");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains(&format!(r#"<failure type="delivery" message="{verdict}">"#)),
        "{junit}"
    );
    crate::run::assert_valid_junit(&out.join("junit.xml"));
}

/// 500 senders hold 200 req/s of 1-s answers (about 200 in flight): every
/// request of the plan goes out and the run passes. Run alone in a release
/// build (CI's `--ignored` pass): a debug build among tests running in
/// parallel on two cores can stall longer than the 100 ms a ticket may
/// wait, and the run then rightly fails, naming the harness.
#[test]
#[ignore = "release build, one at a time: .ci/run's --ignored pass"]
fn the_same_plan_with_room_in_flight_is_delivered_and_passes() {
    let dir = crate::util::temp_dir("delivery-room");
    let (code, stdout, stderr, s) = run(&scenario(&dir, 500), &dir.join("out"));
    let d = &s["delivery"];
    assert_eq!(code, Some(0), "{stdout}{stderr}{d:#}");
    assert_eq!(d["planned"], 2000, "{d:#}");
    assert_eq!(d["sent"], 2000, "{d:#}");
    assert_eq!(d["ok"], true);
    assert!(d["bound_by"].is_null());
    assert_eq!(
        d["verdict"],
        "plan delivered: 2,000 of 2,000 planned requests sent (100.0%)"
    );
}

/// A plan beyond what the harness can send from one core: the harness on
/// core 0 (`taskset`) asked for 100,000 req/s against an `mss-harness mock`
/// answering at once on core 1. The harness's one worker thread runs at a
/// full core and its requests leave late (the in-flight cap may fill too,
/// with answers the busy harness reads late): the run fails on delivery and
/// names the harness, not the target. Release build, a
/// machine with two cores or more (CI's `--ignored` pass).
#[test]
#[ignore = "release build, two cores: .ci/run's --ignored pass"]
fn a_plan_beyond_one_core_is_named_harness_bound() {
    let dir = crate::util::temp_dir("delivery-harness");
    let cred = crate::util::Cred::new("ap-delivery", "ap-delivery-client");
    let config = dir.join("mock.toml");
    std::fs::write(
        &config,
        format!(
            "[[clients]]\nusername = \"{}\"\npassword = \"{}\"\nclient_id = \"{}\"\nadministradora = \"{}\"\n",
            cred.username, cred.password, cred.client_id, cred.administradora
        ),
    )
    .expect("mock config");
    // taskset from util-linux.
    let (mut mock, url) = crate::util::spawn_mock(
        Command::new("taskset")
            .args(["-c", "1"])
            .arg(env!("CARGO_BIN_EXE_mss-harness"))
            .args(["mock", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config),
    );
    let file = crate::scenario_file::ScenarioFile::open("beyond-one-core", 100_000, "4s", 1000)
        .at(&url, "MSS_DL")
        .write(&dir, "beyond.toml");
    let out = dir.join("out");
    let mut run = Command::new("taskset");
    run.args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out);
    let o = crate::scenario_file::credentials_env(&mut run, "MSS_DL", &cred)
        .output()
        .expect("run on core 0");
    let _ = mock.kill();
    let _ = mock.wait();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    let d = &s["delivery"];
    println!("{stdout}{d:#}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(d["ok"], false, "{d:#}");
    assert_eq!(d["bound_by"]["limit"], "harness", "{d:#}");
    let e = &d["bound_by"]["evidence"];
    // At a full core the harness's own work is named; on a machine where
    // other processes share core 0 it is the harness not getting the CPU:
    // either way the harness, never the target.
    let words = d["bound_by"]["explanation"].as_str().expect("explanation");
    assert!(words.starts_with("held back by the harness"), "{d:#}");
    assert!(e["busiest_worker_max_pct"].as_f64().is_some(), "{e:#}");
}

/// The delivery section of a report as headless Chromium draws it: a plan
/// the target held back (100 req/s of 500-ms answers, 5 in flight, 4 s)
/// shows first among the verdicts, in the words the table prints, with
/// `bound_by` and Little's law, its stage and services, and the per-second
/// chart drawn (an SVG of real size with its lines); every latency heading
/// says what it covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: run by .ci/run (cargo test -- --ignored)"]
async fn a_headless_chromium_draws_the_delivery_section_first() {
    let dir = crate::util::temp_dir("delivery-chromium");
    let out = dir.join("out");
    let (code, stdout, stderr, s) = run(&scenario_of(&dir, 500, 100, 4, 5), &out);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let d = &s["delivery"];
    let verdict = d["verdict"].as_str().expect("verdict").to_owned();
    let sent = d["sent"].as_u64().expect("sent");
    assert!(verdict.starts_with("plan not delivered"), "{d:#}");
    let browser = crate::live::Browser::start(&dir).await;
    browser.open_file(&out.join("report.html")).await;
    let seen = browser
        .run(
            "const d = document.getElementById('delivery'); \
            const sections = [...document.querySelectorAll('main > section')]; \
            const titled = (t) => sections.findIndex((x) => (x.querySelector('h2') || {}).textContent === t); \
            const chart = d.querySelector('#delivery-chart svg'); \
            const box = chart ? chart.getBoundingClientRect() : {width: 0, height: 0}; \
            const text = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.trim()); \
            return { \
              delivery_at: sections.indexOf(d), \
              thresholds_at: titled('Thresholds'), \
              badge: d.querySelector('h2 .badge').textContent, \
              verdict: d.querySelector('#delivery-verdict').textContent.trim(), \
              bound_by: d.querySelector('#bound-by').innerText, \
              stages: [...d.querySelectorAll('#delivery-stages tr')].slice(1).map((r) => [...r.cells].map((c) => c.textContent.trim())), \
              services: d.querySelectorAll('#delivery-services tr').length - 1, \
              chart: [box.width, box.height], \
              lines: Object.fromEntries(['#969696', '#1F77B4', '#D62728', '#9467BD'].map((c) => [c, \
                [...(chart ? chart.querySelectorAll(`polyline[stroke='${c}']`) : [])] \
                  .map((p) => p.getBBox()).map((b) => [b.width, b.y + b.height / 2])])), \
              chart_text: chart ? chart.textContent : '', \
              coverage: text('.coverage'), \
              slowest: [...document.querySelectorAll('#slowest tr')].slice(1).map((r) => [...r.cells].map((c) => c.textContent.trim())), \
            };",
        )
        .await;
    println!("{seen:#}");
    let at = |k: &str| seen[k].as_i64().unwrap_or(-1);
    assert!(
        at("delivery_at") >= 0 && at("delivery_at") < at("thresholds_at"),
        "the delivery section comes before the thresholds: {seen:#}"
    );
    assert_eq!(seen["badge"], "FAIL");
    assert_eq!(seen["verdict"], verdict.as_str());
    let bound_by = seen["bound_by"].as_str().unwrap_or_default();
    assert!(
        bound_by.contains("bound_by: target")
            && bound_by.contains("Little's law: 100 req/s")
            && bound_by.contains("the cap was 5."),
        "{bound_by}"
    );
    let stage = &seen["stages"][0];
    assert_eq!(stage[3], "400", "planned: {seen:#}");
    assert_eq!(stage[7], "NOT delivered", "{seen:#}");
    assert!(
        seen["services"].as_i64().is_some_and(|n| n >= 1),
        "{seen:#}"
    );
    let (w, h) = (
        seen["chart"][0].as_f64().unwrap_or(0.0),
        seen["chart"][1].as_f64().unwrap_or(0.0),
    );
    assert!(w > 500.0 && h > 300.0, "the chart's size: {seen:#}");
    // The lines drawn across the run's seconds (the widest of each colour;
    // the legend's samples are short): planned (grey) high, sent on time
    // (blue) far below it, dropped (red), the in-flight peak (purple).
    let widest = |color: &str| -> (f64, f64) {
        seen["lines"][color]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| Some((b[0].as_f64()?, b[1].as_f64()?)))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
    };
    let (planned, sent_line) = (widest("#969696"), widest("#1F77B4"));
    for color in ["#969696", "#1F77B4", "#D62728", "#9467BD"] {
        assert!(
            widest(color).0 > 400.0,
            "{color} not drawn across: {seen:#}"
        );
    }
    assert!(
        sent_line.1 > planned.1 + 100.0,
        "sent is drawn far below planned (SVG y grows downwards): {seen:#}"
    );
    let chart_text = seen["chart_text"].as_str().unwrap_or_default();
    for label in [
        "planned",
        "sent on time",
        "held back from second",
        "in-flight cap (5)",
    ] {
        assert!(
            chart_text.contains(label),
            "{label} not drawn: {chart_text}"
        );
    }
    let coverage = seen["coverage"].as_array().expect("coverage");
    let phrase = format!("over {sent} sent of 400 planned requests");
    // The KPIs, the latency table, each service's latency chart and the
    // distribution.
    assert!(coverage.len() >= 4, "{seen:#}");
    assert!(
        coverage
            .iter()
            .all(|c| c.as_str().is_some_and(|c| c.contains(&phrase))),
        "{seen:#}"
    );
    // The slowest requests, as summary.json lists them: service, trace id,
    // time sent, latency, class, radicado.
    let listed: Vec<Vec<String>> = s["services"]
        .as_object()
        .expect("services")
        .iter()
        .flat_map(|(name, v)| {
            v["slowest"].as_array().into_iter().flatten().map(move |e| {
                let text = |k: &str| e[k].as_str().expect(k).to_owned();
                vec![
                    name.clone(),
                    text("trace_id"),
                    text("sent_at"),
                    text("class"),
                    text("radicado"),
                ]
            })
        })
        .collect();
    let shown: Vec<Vec<String>> = seen["slowest"]
        .as_array()
        .expect("the slowest table")
        .iter()
        .map(|r| {
            [0, 1, 2, 4, 5]
                .iter()
                .map(|&i| r[i].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    assert!(!listed.is_empty(), "{:#}", s["services"]);
    assert_eq!(shown, listed, "{seen:#}");
    phases_table_is_the_summarys(&browser, &s).await;
    let png = browser
        .call(reqwest::Method::GET, "/screenshot", Value::Null)
        .await;
    assert!(png.as_str().is_some_and(|p| p.len() > 1000), "a screenshot");
    let _ = browser.call(reqwest::Method::DELETE, "", Value::Null).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The report's "Where the time went" section as headless Chromium draws it
/// is `summary.json`'s `phases`: a row per service (both report services and
/// the token service) and phase an exchange went through, its count and
/// percentiles; the exchanges, openings and reuses per service; the stacked
/// bars drawn.
async fn phases_table_is_the_summarys(browser: &crate::live::Browser, s: &Value) {
    let phases = s["phases"].as_object().unwrap_or_else(|| {
        panic!("summary.json has no phases: every exchange is timed by phase\n{s:#}")
    });
    let seen = browser
        .run(
            "const rows = (sel) => [...document.querySelectorAll(sel + ' tr')].slice(1) \
               .map((r) => [r.dataset.service, r.dataset.phase || '', ...[...r.cells].map((c) => c.textContent.trim())]); \
             const chart = document.querySelector('#phases svg'); \
             const box = chart ? chart.getBoundingClientRect() : {width: 0, height: 0}; \
             return {phases: rows('#phases-table'), connections: rows('#phases-connections'), \
                     chart: [box.width, box.height], chart_text: chart ? chart.textContent : ''};",
        )
        .await;
    let ms = |v: &Value| format!("{:.3}", v.as_f64().unwrap_or(f64::NAN));
    let mut expected = Vec::new();
    for (service, p) in phases {
        for phase in ["dns", "connect", "tls", "send", "wait", "receive"] {
            let st = &p[phase];
            if st.is_null() {
                continue;
            }
            // service, phase, count, then mean, p50, p90, p99, max (the
            // share, column 3, is the report's own arithmetic).
            expected.push(vec![
                service.clone(),
                phase.to_owned(),
                st["count"].to_string(),
                ms(&st["mean_ms"]),
                ms(&st["p50_ms"]),
                ms(&st["p90_ms"]),
                ms(&st["p99_ms"]),
                ms(&st["max_ms"]),
            ]);
        }
    }
    let mut shown: Vec<Vec<String>> = seen["phases"]
        .as_array()
        .expect("the phases table")
        .iter()
        .map(|r| {
            let c = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
            vec![c(0), c(1), c(4), c(6), c(7), c(8), c(9), c(10)]
        })
        .collect();
    shown.sort();
    expected.sort();
    assert_eq!(shown, expected, "{seen:#}");
    assert!(shown.iter().any(|r| r[0] == "token"), "{seen:#}");
    for (service, p) in phases {
        let row = seen["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r[0] == service.as_str())
            .unwrap_or_else(|| panic!("{service} not in the connections table: {seen:#}"));
        for (cell, key) in [(3, "exchanges"), (4, "opened"), (5, "reused")] {
            assert_eq!(row[cell], p[key].to_string(), "{service} {key}: {seen:#}");
        }
    }
    let (w, h) = (
        seen["chart"][0].as_f64().unwrap_or(0.0),
        seen["chart"][1].as_f64().unwrap_or(0.0),
    );
    assert!(w > 500.0 && h > 150.0, "the bars' size: {seen:#}");
    let chart_text = seen["chart_text"].as_str().unwrap_or_default();
    assert!(
        chart_text.contains("wait (time to first byte)"),
        "{chart_text}"
    );
}
