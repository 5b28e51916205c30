//! Shared helpers: an in-process mock with throw-away credentials, calls to
//! it through the router (`tower::ServiceExt::oneshot`) or over a socket, a
//! run's target made of it; the harness binary run to its end or in the
//! background, what it printed, and the summary it wrote.

#![allow(dead_code, missing_debug_implementations)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use mss_contract::{Contract, Service};
use mss_harness::engine::Target;
use mss_harness::generator::invalid::{InvalidCase, PENDING_TRANSACTION};
use mss_harness::generator::{AffiliationGenerator, GeneratorConfig, RetractionGenerator};
use mss_harness::scenario::RunPlan;
use mss_harness::secret::Secret;
use mss_harness::session::{OnStart, RunOptions, RunOutcome, run_prepared};
use mss_harness::token::{Credentials, TokenCache, TokenPolicy};
use mss_mock::{App, ClientConfig, Mock, MockConfig};
use serde_json::Value;
use tower::ServiceExt;

/// The keys of the scenario format as the key table of scenarios/README.md
/// names them, in its order (a table as `[name]`).
pub fn documented_scenario_keys() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/README.md");
    let readme = std::fs::read_to_string(path).expect("scenarios/README.md");
    readme
        .lines()
        .skip_while(|l| !l.starts_with("## Keys"))
        .filter(|l| l.starts_with("| "))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|k| k != "key")
        .collect()
}

/// A fresh folder under the system's temporary directory, unique to this
/// process and call: `mss-{name}-{pid}-{random}`.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mss-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A copy of contract/'s files (its CSV files and `openapi.json`) in a fresh
/// folder, to edit as an annex would.
pub fn copy_contract(name: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    for entry in std::fs::read_dir(mss_contract::source_dir()).expect("contract dir") {
        let path = entry.expect("entry").path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("csv" | "json")
        ) {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    dir
}

/// Rewrite `dir/file` with `f` of its text.
pub fn edit_file(dir: &std::path::Path, file: &str, f: impl FnOnce(String) -> String) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, f(text)).expect("write");
}

/// A scripted peer (wiremock) on 127.0.0.1 whose `POST /token` answers 200
/// with `token` (a token response's JSON); the test mounts the services'
/// answers.
pub async fn token_server(token: &str) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    answer_json(&server, "/token", 200, token).await;
    server
}

/// Have `server` answer every `POST path` with `status` and the JSON `body`.
pub async fn answer_json(server: &wiremock::MockServer, path: &str, status: u16, body: &str) {
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(path))
        .respond_with(
            wiremock::ResponseTemplate::new(status).set_body_raw(body, "application/json"),
        )
        .mount(server)
        .await;
}

/// The requests `server` received on `path`, in order.
pub async fn received_on(server: &wiremock::MockServer, path: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.url.path() == path)
        .collect()
}

/// A credential the test mock accepts (generated per test, never written down).
#[derive(Debug, Clone)]
pub struct Cred {
    pub username: String,
    pub password: String,
    pub client_id: String,
    pub administradora: String,
}

/// A random password: tests hold no secret in their source.
pub fn throwaway_password() -> String {
    format!("pw-{:016x}", rand::random::<u64>())
}

impl Cred {
    /// `username` and `client_id` of the default administrator (230301),
    /// with a throw-away password.
    pub fn new(username: &str, client_id: &str) -> Self {
        Cred {
            username: username.to_owned(),
            password: throwaway_password(),
            client_id: client_id.to_owned(),
            administradora: "230301".to_owned(),
        }
    }

    /// A mock configuration whose only client is this one (both services).
    pub fn mock_config(&self) -> MockConfig {
        MockConfig::with_clients(vec![ClientConfig {
            username: self.username.clone(),
            password: self.password.clone(),
            client_id: self.client_id.clone(),
            administradora: self.administradora.clone(),
            services: None,
        }])
    }

    /// A mock of the bundled contract whose only client is this one, its
    /// configuration adjusted.
    pub fn mock(&self, adjust: impl FnOnce(&mut MockConfig)) -> Mock {
        let mut config = self.mock_config();
        adjust(&mut config);
        Mock::new(config, Arc::clone(Contract::embedded())).expect("mock")
    }
}

/// Serve `mock` on 127.0.0.1 (port 0) in a background task; its port.
pub async fn serve(mock: &Mock) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(mock.clone().serve(listener));
    port
}

/// Serve `app` on 127.0.0.1 (port 0) in a background task; its address.
pub async fn serve_router(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The `mss-harness` binary built with these tests, as a command to add
/// arguments to.
pub fn harness_command() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_mss-harness"))
}

/// Run `mss-harness ARGS` to its end.
pub fn harness(args: &[&str]) -> std::process::Output {
    harness_command()
        .args(args)
        .output()
        .expect("run mss-harness")
}

/// Run `mss-harness COMMAND INPUT --out OUT EXTRA...` (a command that writes
/// a results folder) to its end.
pub fn writing_to(
    command: &str,
    input: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        command,
        input.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    harness(&args)
}

/// Assert that `o` refused an --out folder holding an earlier run: exit 2,
/// saying `why` and naming --overwrite.
pub fn assert_refused_without_overwrite(o: &std::process::Output, why: &str) {
    assert_exit(o, 2, why);
    assert_exit(o, 2, "--overwrite");
}

/// Assert that `text` says every one of `needles`.
pub fn assert_says(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

/// What a process printed: its standard output, then its standard error.
pub fn printed(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A process's exit code and what it printed, for an assertion's message.
pub fn described(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Assert that `o` exited with `code` and printed `needle` (on either
/// stream).
pub fn assert_exit(o: &std::process::Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", described(o));
    assert!(
        printed(o).contains(needle),
        "{needle:?} not printed: {}",
        described(o)
    );
}

/// Assert that `o` exited 0; what it printed.
pub fn succeeded(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", described(o));
    printed(o)
}

/// `dir/summary.json`, parsed.
pub fn summary(dir: &std::path::Path) -> Value {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An in-process mock with one client per administrator (both services) and,
/// for Protección, one client per service sharing user and password.
pub struct TestMock {
    pub mock: Mock,
    pub app: App,
    pub creds: Vec<Cred>,
}

impl TestMock {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut MockConfig)) -> Self {
        Self::with_contract(Contract::embedded(), adjust)
    }

    /// A mock serving `contract` (e.g. an edited copy of contract/).
    pub fn with_contract(contract: &Arc<Contract>, adjust: impl FnOnce(&mut MockConfig)) -> Self {
        let mut clients = Vec::new();
        let mut creds = Vec::new();
        for a in &contract.administradoras {
            let password = throwaway_password();
            let cred = Cred {
                username: format!("user-{}", a.codigo),
                password: password.clone(),
                client_id: format!("both-{}", a.codigo),
                administradora: a.codigo.clone(),
            };
            clients.push(ClientConfig {
                username: cred.username.clone(),
                password: cred.password.clone(),
                client_id: cred.client_id.clone(),
                administradora: a.codigo.clone(),
                services: None,
            });
            creds.push(cred.clone());
            for s in Service::ALL {
                let id = format!("{}-{}", s.name(), a.codigo);
                clients.push(ClientConfig {
                    client_id: id.clone(),
                    services: Some(vec![s.name().to_owned()]),
                    ..clients[clients.len() - 1].clone()
                });
                creds.push(Cred {
                    client_id: id,
                    ..cred.clone()
                });
            }
        }
        let mut config = MockConfig::with_clients(clients);
        adjust(&mut config);
        let mock = Mock::new(config, Arc::clone(contract)).expect("mock config");
        let app = mock.app();
        TestMock { mock, app, creds }
    }

    /// A fresh mock, a token of `administradora`'s client of both services
    /// and that administrator's generators seeded with `seed`: where most
    /// calls to the mock start.
    pub async fn session(
        administradora: &str,
        seed: u64,
    ) -> (Self, String, AffiliationGenerator, RetractionGenerator) {
        let t = TestMock::new();
        let token = t.token(t.cred(administradora)).await;
        let (affiliations, retractions) = t.generators(seed, administradora);
        (t, token, affiliations, retractions)
    }

    /// A fresh mock served on 127.0.0.1, and its base URL.
    pub async fn served() -> (Self, String) {
        let t = TestMock::new();
        let base = t.serve().await;
        (t, base)
    }

    /// Serve the mock on 127.0.0.1 (port 0) in a background task; its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(self.mock.clone().serve(listener));
        format!("http://{addr}")
    }

    /// Run `plan` against this mock served at `base`, writing its results
    /// into `dir` (the mock's own counts reconcile the run); `on_start` is
    /// called as the load starts.
    pub async fn run(
        &self,
        base: &str,
        plan: RunPlan,
        dir: &std::path::Path,
        on_start: Option<OnStart>,
    ) -> RunOutcome {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let policy = TokenPolicy {
            margin: plan.token.refresh_margin,
            jitter: plan.token.refresh_jitter,
            ..TokenPolicy::default()
        };
        let target = self.target(base, &http, &plan.data.administradora, policy);
        run_prepared(
            plan,
            Some(dir.to_owned()),
            http,
            target,
            Some(self.mock.clone()),
            base,
            on_start,
            &RunOptions::default(),
        )
        .await
        .expect("run")
    }

    /// The mock served at `base` as a run's target: a token cache (with
    /// `policy`) for `administradora`'s client of both services, and one for
    /// every other administrator (the invalid cases that need another
    /// sender).
    pub fn target(
        &self,
        base: &str,
        http: &reqwest::Client,
        administradora: &str,
        policy: TokenPolicy,
    ) -> Target {
        let cache = |admin: &str| {
            let c = self.cred(admin);
            let endpoint = mss_harness::transport::Endpoint::new(
                base,
                &mss_harness::connect::ConnectArgs::default(),
                std::time::Duration::from_secs(5),
            )
            .expect("endpoint");
            let cache = TokenCache::new(
                http.clone(),
                format!("{base}/token"),
                Credentials {
                    username: c.username.clone(),
                    password: Secret::new(c.password.clone()),
                    client_id: c.client_id.clone(),
                },
                policy,
            );
            Arc::new(cache.over(endpoint).expect("token URL"))
        };
        let own = cache(administradora);
        let others: HashMap<String, Arc<TokenCache>> = self
            .mock
            .contract()
            .administradoras
            .iter()
            .filter(|a| a.codigo != administradora)
            .map(|a| (a.codigo.clone(), cache(&a.codigo)))
            .collect();
        Target {
            base_url: base.to_owned(),
            tokens: [own.clone(), own],
            others,
            caps: None,
            connect: mss_harness::connect::ConnectArgs::default(),
        }
    }

    /// The client with both services for `administradora`.
    pub fn cred(&self, administradora: &str) -> &Cred {
        self.creds
            .iter()
            .find(|c| c.administradora == administradora && c.client_id.starts_with("both-"))
            .expect("credential")
    }

    /// The client entitled only to `service`, for `administradora`.
    pub fn cred_for(&self, administradora: &str, service: Service) -> &Cred {
        self.creds
            .iter()
            .find(|c| c.administradora == administradora && c.client_id.starts_with(service.name()))
            .expect("credential")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.into()).expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes.to_vec())
    }

    /// Assert that `method path` with `body` (and no headers) is refused
    /// with 400.
    pub async fn assert_bad_request(&self, method: Method, path: &str, body: &str) {
        let (status, _, answer) = self.call(method, path, &[], body.to_owned()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            String::from_utf8_lossy(&answer)
        );
    }

    pub async fn token_request(&self, form: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .call(
                Method::POST,
                "/token",
                &[("content-type", "application/x-www-form-urlencoded")],
                form.to_owned(),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn token(&self, cred: &Cred) -> String {
        let form = form(&[
            ("grant_type", "password"),
            ("username", &cred.username),
            ("password", &cred.password),
            ("client_id", &cred.client_id),
        ]);
        let (status, body) = self.token_request(&form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn post(&self, token: &str, service: Service, body: &Value) -> (StatusCode, Value) {
        let auth = format!("Bearer {token}");
        let (status, _, bytes) = self
            .call(
                Method::POST,
                service.path(),
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                serde_json::to_vec(body).expect("json"),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).expect("envelope is JSON"),
        )
    }

    /// [`post`](Self::post) a generated record (an affiliation, a
    /// retraction) as its JSON.
    pub async fn post_record(
        &self,
        token: &str,
        service: Service,
        record: &impl serde::Serialize,
    ) -> (StatusCode, Value) {
        let body = serde_json::to_value(record).expect("json");
        self.post(token, service, &body).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: &str) -> Value {
        let (status, _, bytes) = self
            .call(
                method,
                path,
                &[("content-type", "application/json")],
                body.to_owned(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).expect("admin JSON")
    }

    pub fn today(&self) -> NaiveDate {
        self.mock.clock().today()
    }

    pub fn generators(
        &self,
        seed: u64,
        administradora: &str,
    ) -> (AffiliationGenerator, RetractionGenerator) {
        // The generators follow the mock's contract.
        let mut config = GeneratorConfig::new(self.mock.contract(), seed, administradora);
        config.as_of = self.today();
        (
            AffiliationGenerator::new(config.clone()).expect("generator"),
            RetractionGenerator::new(config).expect("generator"),
        )
    }

    /// Run an invalid case: every set-up step must be accepted, then the probe's
    /// answer is returned.
    pub async fn run_case(&self, case: &InvalidCase) -> (StatusCode, Value) {
        let mut answers: Vec<Value> = Vec::new();
        let mut tokens = std::collections::HashMap::new();
        for step in case.setup.iter().chain(std::iter::once(&case.probe)) {
            let sender = step.sender.clone();
            if !tokens.contains_key(&sender) {
                let t = self.token(self.cred(&sender)).await;
                tokens.insert(sender.clone(), t);
            }
            let mut body = step.body.clone();
            if let Some(i) = step.transaction_from {
                assert_eq!(body["numeroTransaccionAfiliacion"], PENDING_TRANSACTION);
                body["numeroTransaccionAfiliacion"] = answers[i]["numeroTransaccion"].clone();
            }
            let (status, answer) = self.post(&tokens[&sender], step.service, &body).await;
            if answers.len() < case.setup.len() {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "set-up step {} of {}: {answer}",
                    answers.len(),
                    case.codigo
                );
                answers.push(answer);
            } else {
                return (status, answer);
            }
        }
        unreachable!("the probe returns")
    }
}

/// `application/x-www-form-urlencoded` from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Assert `body` is the protocol's envelope with `codigo` and a status matching.
pub fn assert_envelope(status: StatusCode, body: &Value, codigo: &str) {
    assert_eq!(body["codigo"], codigo, "{status} {body}");
    assert_eq!(body["resultado"], status.as_str(), "{body}");
    assert!(
        body["mensaje"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["numeroTransaccion"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let expected = Contract::embedded()
        .codigo(codigo)
        .expect("codigo in catalogue");
    assert_eq!(status.as_u16(), expected.http_status, "{codigo}: {body}");
}

/// A JSON Schema validator for component `name` of `contract/openapi.json`, read
/// from the file itself.
pub fn schema_validator(name: &str) -> jsonschema::Validator {
    let path = mss_contract::source_dir().join("openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("openapi.json"))
        .expect("openapi.json is JSON");
    let schema = doc
        .pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
        .clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("valid JSON Schema")
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// The program `name` of the Python venv the tests use (`$MSS_VENV`, by
/// default `/opt/mss-venv`; scripts/ci-tools.sh installs it); `what` says
/// which package, for the message when it is missing.
pub fn venv_tool(name: &str, what: &str) -> std::path::PathBuf {
    let venv = std::env::var_os("MSS_VENV").unwrap_or_else(|| "/opt/mss-venv".into());
    let bin = std::path::Path::new(&venv).join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: {what} is needed (scripts/ci-tools.sh installs it; MSS_VENV names the venv)",
        bin.display()
    );
    bin
}

/// Whether transparent huge pages are allowed for process `pid` (the
/// `THP_enabled` line of its /proc status, Linux 5.0 on).
pub fn thp_enabled(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled line in /proc/{pid}/status:\n{status}"));
    line.split_whitespace().nth(1) == Some("1")
}

/// The numbers of the array `value[key]` (what a script run in a browser
/// returned), in order.
pub fn numbers(value: &Value, key: &str) -> Vec<f64> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array {key:?} in {value}"))
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

/// Assert that `text`, the file `name` (`report.md`, ...), contains each of
/// `needles`.
pub fn assert_contains_all<S: AsRef<str>>(
    name: &str,
    text: &str,
    needles: impl IntoIterator<Item = S>,
) {
    for needle in needles {
        let needle = needle.as_ref();
        assert!(text.contains(needle), "{name} lacks {needle}:\n{text}");
    }
}

/// Start `command`, the harness's `mock --listen 127.0.0.1:0 …` (or a
/// wrapper of it such as `taskset`), and read the banner, its first line on
/// standard error: the process and the base URL the banner names,
/// `http://127.0.0.1:PORT`. Standard error is read no further.
pub fn spawn_mock(command: &mut std::process::Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut banner = String::new();
    std::io::BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut banner)
        .expect("banner");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_owned();
    (child, url)
}

/// A process a test started, killed (and reaped) when dropped so that a
/// failed assertion leaves nothing running; its standard output and error
/// are written to `dir/stdout.txt` and `dir/stderr.txt`.
pub struct Background {
    pub child: std::process::Child,
    pub dir: std::path::PathBuf,
}

impl Background {
    /// Spawn `command` (no standard input) logging into `dir`.
    pub fn spawn(command: &mut std::process::Command, dir: &std::path::Path) -> Self {
        let log = |n: &str| std::fs::File::create(dir.join(n)).expect("log file");
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(log("stdout.txt"))
            .stderr(log("stderr.txt"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        Background {
            child,
            dir: dir.to_owned(),
        }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout.txt")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    /// Send signal `name` (`TERM`, `INT`) to the process.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the process to exit, at most `limit`: its status, and how
    /// long the wait took.
    pub async fn exit(
        &mut self,
        limit: std::time::Duration,
    ) -> (std::process::ExitStatus, std::time::Duration) {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "still running after {limit:?}\nstderr: {}",
                self.stderr()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throw-away CA (its PEM written to `dir`/ca.pem, the path returned) and
/// the TLS server configuration of a certificate for `ministerio.test` it
/// signed.
pub fn ministry_certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mss-harness throw-away test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["ministerio.test".to_owned()]).expect("params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ministerio.test");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");
    let tls = mss_mock::tls_config(leaf.pem().as_bytes(), leaf_key.serialize_pem().as_bytes())
        .expect("TLS config");
    (ca_path, tls)
}
