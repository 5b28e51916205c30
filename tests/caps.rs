//! The production caps name themselves: a report answered 401 whose retry
//! (with a fresh token) the cap refused is `cap_reached:<cap>`, not a
//! credentials failure. A scripted target (wiremock) under a production host
//! name resolved to loopback answers every report 401.

use std::path::Path;

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::Cred;

const TOKEN: &str = r#"{"access_token":"tok-caps","token_type":"Bearer","expires_in":300}"#;

fn scenario(dir: &Path, port: u16) -> std::path::PathBuf {
    ScenarioFile::with_load(
        "caps-401",
        "model = \"closed\"\nusers = 1\nramp = \"0s\"\nthink_time = \"0s\"\nrun_time = \"3s\"",
    )
    .at(&format!("http://ministerio.test:{port}"), "MSS_CAPS")
    .table("[mix]\nReportarAfiliaciontraslado = 1.0\n[http]\nretry_budget = \"100%\"")
    .table("[production]\nmax_rate = 50\nmax_duration = \"3s\"\nmax_requests = 9")
    .write(dir, "scenario.toml")
}

/// Nine requests allowed, every report answered 401 and retried once: four
/// reports and their retries (8), then a fifth whose retry the cap refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_whose_retry_the_cap_refused_names_the_cap() {
    let server = crate::util::token_server(TOKEN).await;
    let expired = r#"{"resultado":"401","codigo":"AUT02","mensaje":"Token vencido"}"#;
    crate::util::answer_json(&server, "/ReportarAfiliaciontraslado", 401, expired).await;
    let port = server.address().port();
    let dir = crate::util::temp_dir("caps-401");
    let file = scenario(&dir, port);
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            run_command(
                &file,
                &out,
                "MSS_CAPS",
                &Cred::new("ap-caps", "ap-caps-client"),
            )
            .args(["--confirm-production", "ministerio.test", "--resolve"])
            .arg(format!("ministerio.test:{port}:127.0.0.1"))
            .output()
            .expect("run mss-harness")
        }
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // No threshold is set: the exit code says nothing here.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let reports = crate::util::received_on(&server, "/ReportarAfiliaciontraslado")
        .await
        .len();
    assert_eq!(reports, 9, "max_requests 9: {stderr}");
    let s = crate::util::summary(&out);
    let errors = &s["services"]["ReportarAfiliaciontraslado"]["errors"];
    assert_eq!(errors["auth_failed"], 4, "{errors}");
    assert_eq!(errors["cap_reached:max_requests"], 1, "{errors}");
    assert_eq!(s["audit"]["production"]["cap_reached"], "max_requests 9");
}
