//! The production caps name themselves: a report answered 401 whose retry
//! (with a fresh token) the cap refused is `cap_reached:<cap>`, not a
//! credentials failure. A scripted target (wiremock) under a production host
//! name resolved to loopback answers every report 401.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = r#"{"access_token":"tok-caps","token_type":"Bearer","expires_in":300}"#;

fn scenario(dir: &Path, port: u16) -> std::path::PathBuf {
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "caps-401"
[target]
url = "http://ministerio.test:{port}"
allowed_hosts = ["ministerio.test"]
[credentials]
username_env = "MSS_CAPS_USER"
password_env = "MSS_CAPS_PASSWORD"
client_id_env = "MSS_CAPS_CLIENT"
[load]
model = "closed"
users = 1
ramp = "0s"
think_time = "0s"
run_time = "3s"
[mix]
ReportarAfiliaciontraslado = 1.0
[http]
retry_budget = "100%"
[production]
max_rate = 50
max_duration = "3s"
max_requests = 9
"#
        ),
    )
    .expect("scenario");
    file
}

/// Nine requests allowed, every report answered 401 and retried once: four
/// reports and their retries (8), then a fifth whose retry the cap refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_whose_retry_the_cap_refused_names_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(TOKEN, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"resultado":"401","codigo":"AUT02","mensaje":"Token vencido"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let port = server.address().port();
    let dir = crate::util::temp_dir("caps-401");
    let file = scenario(&dir, port);
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_mss-harness"))
                .arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&out)
                .args(["--confirm-production", "ministerio.test", "--resolve"])
                .arg(format!("ministerio.test:{port}:127.0.0.1"))
                .env("MSS_CAPS_USER", "ap-caps")
                .env("MSS_CAPS_PASSWORD", crate::util::throwaway_password())
                .env("MSS_CAPS_CLIENT", "ap-caps-client")
                .output()
                .expect("run mss-harness")
        }
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // No threshold is set: the exit code says nothing here.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let reports = server
        .received_requests()
        .await
        .expect("recording on")
        .iter()
        .filter(|r| r.url.path() == "/ReportarAfiliaciontraslado")
        .count();
    assert_eq!(reports, 9, "max_requests 9: {stderr}");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    let errors = &s["services"]["ReportarAfiliaciontraslado"]["errors"];
    assert_eq!(errors["auth_failed"], 4, "{errors}");
    assert_eq!(errors["cap_reached:max_requests"], 1, "{errors}");
    assert_eq!(s["audit"]["production"]["cap_reached"], "max_requests 9");
}
