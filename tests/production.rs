//! Against a target that is not this machine: a TLS mock on 127.0.0.1 with a
//! certificate for `ministerio.test` from a throw-away CA, reached through
//! `--resolve ministerio.test:PORT:127.0.0.1`, so that every production guard
//! applies without leaving the machine. The mock's own counters say what
//! arrived.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::scenario_file::ScenarioFile;
use crate::util::Cred;

const USER: &str = "ap-produccion";
const CLIENT: &str = "ap-produccion-ambos";
/// `$USER` of every run here: not this machine's, so that the audit trail is
/// seen to read it.
const OS_USER: &str = "auditora-mss";

struct Ministry {
    mock: mss_mock::Mock,
    addr: SocketAddr,
    ca: PathBuf,
    dir: PathBuf,
}

impl Ministry {
    /// A TLS mock whose only client has `password`.
    async fn start(password: &str) -> Ministry {
        let dir = crate::util::temp_dir("production");
        let (ca_path, tls) = crate::util::ministry_certificates(&dir);
        let cred = Cred {
            password: password.to_owned(),
            ..Cred::new(USER, CLIENT)
        };
        let mock = cred.mock(|_| {});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(
            mock.clone()
                .serve_tls(listener, tls, std::future::pending()),
        );
        Ministry {
            mock,
            addr,
            ca: ca_path,
            dir,
        }
    }

    fn url(&self) -> String {
        format!("https://ministerio.test:{}", self.addr.port())
    }

    fn resolve(&self) -> String {
        format!("ministerio.test:{}:127.0.0.1", self.addr.port())
    }

    /// Every request that reached the mock: token requests and reports.
    fn requests(&self) -> u64 {
        let s = self.mock.stats();
        let mut n = s["token"]["issued"].as_u64().unwrap_or(0)
            + s["token"]["rejected"].as_u64().unwrap_or(0);
        for svc in s["services"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, v)| v)
        {
            n += svc["accepted"].as_u64().unwrap_or(0);
            n += svc["rejected"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, c)| c.as_u64().unwrap_or(0))
                .sum::<u64>();
        }
        n
    }

    fn reports(&self) -> u64 {
        let s = self.mock.stats();
        self.requests()
            - s["token"]["issued"].as_u64().unwrap_or(0)
            - s["token"]["rejected"].as_u64().unwrap_or(0)
    }

    /// A scenario against the ministry with the `[load]` table's `load` and
    /// further tables `extra` (production caps), in a file of its own.
    fn scenario(&self, load: &str, extra: &str) -> PathBuf {
        ScenarioFile::with_load("produccion", load)
            .at(&self.url(), "MSS_T")
            .table("[data]\nradicado_prefix = \"PRUEBAMSS\"")
            .table(extra)
            .write(
                &self.dir,
                &format!("scenario-{:x}.toml", rand::random::<u32>()),
            )
    }

    /// `run SCENARIO` confirmed for the ministry, its CA trusted, its name
    /// resolved to the mock, with `more` arguments.
    fn confirmed_run(&self, scenario: &Path, more: &[&str]) -> Vec<String> {
        let mut a = args(&[
            "run",
            scenario.to_str().expect("utf-8"),
            "--confirm-production",
            "ministerio.test",
            "--ca-cert",
            self.ca.to_str().expect("utf-8"),
            "--resolve",
            &self.resolve(),
        ]);
        a.extend(args(more));
        a
    }
}

async fn harness(args: Vec<String>, password: &str) -> Output {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        crate::util::harness_command()
            .args(&args)
            .env("MSS_T_USER", USER)
            .env("MSS_T_PASSWORD", &password)
            .env("MSS_T_CLIENT", CLIENT)
            // The operating-system user the audit trail names.
            .env("USER", OS_USER)
            .env("MSS_USERNAME", USER)
            .env("MSS_PASSWORD", &password)
            .env("MSS_CLIENT_ID", CLIENT)
            .env_remove("MSS_CLIENT_ID_AFILIACION")
            .env_remove("MSS_CLIENT_ID_RETRACTO")
            .output()
            .expect("run")
    })
    .await
    .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Five users with no think time for `run_time`.
fn closed(run_time: &str) -> String {
    format!(
        "model = \"closed\"\nusers = 5\nramp = \"0s\"\nthink_time = \"0s\"\nrun_time = \"{run_time}\""
    )
}

/// The caps of the closed runs: 20 req/s, 3 s, 40 requests.
const CAPS: &str = "[production]\nmax_rate = 20\nmax_duration = \"3s\"\nmax_requests = 40";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_every_stage_and_names_what_is_wrong() {
    let m = Ministry::start("clave-correcta-1").await;
    let out_dir = m.dir.join("pf");
    let base = |extra: &[&str]| {
        let mut a = args(&["preflight", "--target", &m.url(), "--resolve", &m.resolve()]);
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a.extend(args(&["--out", out_dir.to_str().expect("utf-8")]));
        a
    };
    // No CA: the certificate does not verify, and nothing but the handshake happened.
    let o = harness(base(&[]), "clave-correcta-1").await;
    let t = crate::util::described(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // The certificate is named.
    crate::util::assert_says(&t, &["TLS handshake", "does not verify", "ministerio.test"]);
    assert_eq!(m.requests(), 0, "{t}");
    // --insecure is refused for a host that is not loopback.
    let o = harness(base(&["--insecure"]), "clave-correcta-1").await;
    crate::util::assert_exit(&o, 2, "--insecure");
    // With the CA every stage works.
    let ca = m.ca.to_str().expect("utf-8").to_owned();
    let o = harness(base(&["--ca-cert", &ca]), "clave-correcta-1").await;
    let t = crate::util::described(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for stage in [
        "DNS resolution",
        "TCP connect",
        "TLS handshake",
        "token (POST /token)",
        "clock skew (Date header)",
        "ReportarAfiliaciontraslado",
        "ReportarRetractoAfiliacion",
    ] {
        assert!(
            t.lines()
                .any(|l| l.starts_with(stage) && l.contains(" ok ")),
            "{stage} not ok: {t}"
        );
    }
    assert!(t.contains("verifies") && t.contains("TLS 1."), "{t}");
    assert!(t.contains("expires_in 300 s"), "{t}");
    // Where each call's time went: the token opened the connection (its TLS
    // handshake timed), the service calls reused it.
    let line = |stage: &str| t.lines().find(|l| l.starts_with(stage)).unwrap_or_default();
    crate::util::assert_says(
        line("token (POST /token)"),
        &[
            "opened a connection",
            "TLS handshake",
            "time to first byte",
            "body read",
        ],
    );
    crate::util::assert_says(
        line("ReportarRetractoAfiliacion"),
        &[
            "reused the connection",
            "request written",
            "time to first byte",
        ],
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("preflight.json")).expect("preflight.json"),
    )
    .expect("json");
    assert_eq!(json["ok"], true);
    assert_eq!(json["stages"].as_array().map(Vec::len), Some(7));
    let phases = &json["stages"][3]["data"]["phases"];
    assert!(
        phases["wait_ms"].as_f64().is_some() && phases["tls_ms"].as_f64().is_some(),
        "{phases}"
    );
    // Nothing was stored: both service calls were refused by design.
    assert_eq!(m.mock.stats()["records"]["kept"], 0);
    // A wrong password: the token stage fails, naming the refusal.
    let o = harness(base(&["--ca-cert", &ca]), "clave-equivocada").await;
    let t = crate::util::described(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("preflight FAILED at token") && t.contains("invalid_grant"),
        "{t}"
    );
    assert!(!t.contains("clave-equivocada"), "{t}");
    // A wrong port: the TCP stage fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let o = harness(
        args(&[
            "preflight",
            "--target",
            &format!("https://ministerio.test:{port}"),
            "--resolve",
            &format!("ministerio.test:{port}:127.0.0.1"),
            "--ca-cert",
            &ca,
            "--out",
            out_dir.to_str().expect("utf-8"),
        ]),
        "clave-correcta-1",
    )
    .await;
    let t = crate::util::described(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("preflight FAILED at TCP connect"), "{t}");
    let _ = std::fs::remove_dir_all(&m.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_without_confirmation_allowlist_or_with_dry_run() {
    let m = Ministry::start("clave-2").await;
    let ca = m.ca.to_str().expect("utf-8").to_owned();
    let scenario = m.scenario(&closed("3s"), CAPS);
    let s = scenario.to_str().expect("utf-8").to_owned();
    let out = m.dir.join("out").to_str().expect("utf-8").to_owned();
    let common = |extra: &[&str]| {
        let mut a = args(&[
            "run",
            &s,
            "--out",
            &out,
            "--ca-cert",
            &ca,
            "--resolve",
            &m.resolve(),
        ]);
        a.extend(extra.iter().map(|x| (*x).to_owned()));
        a
    };
    let o = harness(common(&[]), "clave-2").await;
    crate::util::assert_exit(&o, 2, "--confirm-production ministerio.test");
    let o = harness(common(&["--confirm-production", "otro.test"]), "clave-2").await;
    assert_eq!(o.status.code(), Some(2), "{}", crate::util::described(&o));
    let o = harness(common(&["--dry-run"]), "clave-2").await;
    for part in [
        "PRODUCTION host ministerio.test",
        "caps",
        "20 req/s",
        "40 requests",
        "NO: the run needs --confirm-production",
    ] {
        crate::util::assert_exit(&o, 0, part);
    }
    // Confirmed, but the certificate does not verify without the CA: the run
    // stops at its first token request, which never passes the handshake.
    let o = harness(
        args(&[
            "run",
            &s,
            "--out",
            &out,
            "--resolve",
            &m.resolve(),
            "--confirm-production",
            "ministerio.test",
        ]),
        "clave-2",
    )
    .await;
    crate::util::assert_exit(&o, 2, "invalid peer certificate");
    let o = harness(
        common(&["--confirm-production", "ministerio.test", "--insecure"]),
        "clave-2",
    )
    .await;
    crate::util::assert_exit(&o, 2, "--insecure is for the mock on loopback only");
    // Outside allowed_hosts, even confirmed.
    let elsewhere = m.scenario(&closed("3s"), CAPS);
    let text_of = std::fs::read_to_string(&elsewhere).expect("read");
    std::fs::write(
        &elsewhere,
        text_of.replace(
            "allowed_hosts = [\"ministerio.test\"]",
            "allowed_hosts = [\"otro.test\"]",
        ),
    )
    .expect("write");
    let o = harness(m.confirmed_run(&elsewhere, &[]), "clave-2").await;
    crate::util::assert_exit(&o, 2, "allowed_hosts");
    // A plan over the default caps is refused when the file is read.
    let over = m.scenario(
        "model = \"open\"\nstages = [{ rate = 50, duration = \"10s\" }]\nmax_in_flight = 10",
        "",
    );
    let o = harness(m.confirmed_run(&over, &[]), "clave-2").await;
    crate::util::assert_exit(&o, 2, "production cap of 10 req/s");
    assert_eq!(m.requests(), 0, "something reached the ministry");
    let _ = std::fs::remove_dir_all(&m.dir);
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_at_the_server_and_no_output_holds_the_password() {
    let canary = format!("CANARIO-{:016x}", rand::random::<u64>());
    let m = Ministry::start(&canary).await;
    // Five users with no think time would send thousands of requests in 3 s;
    // the caps allow 20 per second and 40 in all.
    let scenario = m.scenario(&closed("3s"), CAPS);
    let results = m.dir.join("results");
    let o = harness(
        m.confirmed_run(&scenario, &["--out", results.to_str().expect("utf-8")]),
        &canary,
    )
    .await;
    let t = crate::util::described(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{t}");
    assert_eq!(m.reports(), 40, "max_requests: {t}");
    // Per second at the server: at most 20 (+1 for a second's boundary).
    let (page, _) = records(&m);
    let mut per_second = std::collections::BTreeMap::<String, u32>::new();
    for r in &page {
        *per_second
            .entry(r["recibido"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert!(per_second.values().all(|n| *n <= 21), "{per_second:?}");
    assert!(
        per_second.len() >= 2,
        "40 at 20/s take two seconds: {per_second:?}"
    );
    assert!(
        page.iter().all(|r| r["numeroRadicado"]
            .as_str()
            .is_some_and(|x| x.starts_with("PRUEBAMSS"))),
        "every record carries the scenario's radicado prefix"
    );
    assert_audit_trail(&m, &results);

    // The duration cap: a faster rate for 2 s, and nothing arrives after it.
    let before = m.reports();
    let short = m.scenario(
        &closed("2s"),
        "[production]\nmax_rate = 50\nmax_duration = \"2s\"\nmax_requests = 100000",
    );
    let results2 = m.dir.join("results2");
    let o = harness(
        m.confirmed_run(&short, &["--out", results2.to_str().expect("utf-8")]),
        &canary,
    )
    .await;
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        crate::util::described(&o)
    );
    let sent = m.reports() - before;
    assert!((60..=101).contains(&sent), "{sent} requests in 2 s at 50/s");

    // The password appears in no byte of any output.
    let mut outputs = vec![
        ("stdout".to_owned(), o.stdout.clone()),
        ("stderr".to_owned(), o.stderr.clone()),
    ];
    outputs.push(("first stdout".into(), t.into_bytes()));
    for f in files_under(&m.dir)
        .into_iter()
        .filter(|f| !f.ends_with("ca.pem"))
    {
        outputs.push((f.display().to_string(), std::fs::read(&f).expect("read")));
    }
    assert!(outputs.len() > 10, "{} outputs", outputs.len());
    for (name, bytes) in &outputs {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&canary),
            "{name} holds the password"
        );
    }
    let _ = std::fs::remove_dir_all(&m.dir);
}

/// The audit trail of the capped run in `results`: who ran it (the `$USER`
/// it was given), on which machine (the kernel's host name), the SHA-256 of
/// the `scenario.toml` it wrote, this harness's version, the target, the caps
/// and the one that stopped the run, and when.
fn assert_audit_trail(m: &Ministry, results: &Path) {
    use sha2::Digest as _;
    let summary = crate::util::summary(results);
    let audit = &summary["audit"];
    assert_eq!(audit["os_user"], OS_USER, "{audit}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    assert_eq!(audit["machine"], host.trim(), "{audit}");
    let toml = std::fs::read(results.join("scenario.toml")).expect("scenario.toml");
    assert_eq!(
        audit["scenario_sha256"],
        hex::encode(sha2::Sha256::digest(&toml)),
        "the digest of {}: {audit}",
        results.join("scenario.toml").display()
    );
    assert_eq!(audit["harness_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(audit["target"], m.url(), "{audit}");
    assert_eq!(
        audit["production"],
        serde_json::json!({
            "max_rate": 20.0,
            "max_duration_s": 3.0,
            "max_requests": 40,
            "requests_admitted": 40,
            "cap_reached": "max_requests 40",
        }),
        "{audit}"
    );
    let time = |k: &str| {
        assert_eq!(audit[k], summary[k], "{k}: {audit}");
        chrono::DateTime::parse_from_rfc3339(audit[k].as_str().expect(k))
            .unwrap_or_else(|e| panic!("{k}: {e}: {audit}"))
    };
    assert!(time("started_at") <= time("ended_at"), "{audit}");
}

fn records(m: &Ministry) -> (Vec<Value>, usize) {
    // The mock's admin API is not served over this TLS listener's name; read
    // the records through the library.
    let stats = m.mock.stats();
    let kept = stats["records"]["kept"].as_u64().unwrap_or(0) as usize;
    let text = m.mock.records_page(0, kept);
    (
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        kept,
    )
}

/// A token endpoint that redirects to another host: the client refuses to
/// follow, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_refused() {
    use axum::response::IntoResponse;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, "http://otro.test:9/token")],
            )
                .into_response()
        }
    });
    let port = crate::util::serve_router(app).await.port();
    let o = harness(
        args(&[
            "preflight",
            "--target",
            &format!("http://127.0.0.1:{port}"),
            "--out",
            crate::util::temp_dir("redirect").to_str().expect("utf-8"),
        ]),
        "clave-3",
    )
    .await;
    let t = crate::util::described(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("redirect to another host (otro.test) refused"),
        "{t}"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "followed nowhere"
    );
}
