//! A team's first files (`mss-harness init`): a scenario with every key
//! present (those that do not apply to the target commented out, defaults
//! shown), a credentials-file template readable by its owner only (mode 600),
//! a `.gitignore` that keeps run outputs and the credentials out of git — and
//! the next three commands to run.
//!
//! Nothing is overwritten: when any of the files exists, none is written and
//! the error names them.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::Contract;
use crate::generator::invalid::CATALOGUE;
use crate::scenario::{BUILT_IN, DEFAULT_MAX_DURATION, DEFAULT_MAX_RATE};
use crate::usage::UsageError;

/// The files `init` writes, in `dir`.
pub const FILES: [&str; 3] = ["scenario.toml", "credentials.toml", ".gitignore"];

/// What `init` wrote.
#[derive(Debug)]
pub struct Written {
    /// The files, in [`FILES`] order.
    pub files: Vec<PathBuf>,
    /// What to print: the files, the note on the credentials, the next commands.
    pub message: String,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::anyhow!(UsageError(message.into()))
}

/// The host of a URL target; an error naming `--target` otherwise.
fn target_host(target: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(target).map_err(|e| {
        usage(format!(
            "--target {target:?}: {e}; give `mock` or a base URL such as https://miseguridadsocial.gov.co:8062"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage(format!(
            "--target {target:?}: the scheme must be https (or http for a mock on this machine)"
        )));
    }
    url.host_str()
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| usage(format!("--target {target:?} has no host")))
}

/// Write the files into `dir` for `target` (`mock` or a base URL), the
/// scenario naming `contract`'s codigos; refused (a [`UsageError`], exit 2)
/// when one of them exists or the target is not `mock` nor a URL.
pub fn write(dir: &Path, target: &str, contract: &Contract) -> anyhow::Result<Written> {
    let target = target.trim_end_matches('/');
    let host = if target == "mock" {
        None
    } else {
        Some(target_host(target)?)
    };
    let files: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    let existing: Vec<String> = files
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(usage(format!(
            "{} already exist{}: init overwrites nothing (move them away, or init another folder)",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" }
        )));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let credentials = files[1].display().to_string();
    let scenario = scenario_text(contract, target, host.as_deref(), &credentials);
    create(&files[0], &scenario, 0o644)?;
    create(&files[1], CREDENTIALS, 0o600)?;
    create(&files[2], GITIGNORE, 0o644)?;

    let shown = |i: usize| files[i].display().to_string();
    let mut m = String::new();
    let _ = writeln!(
        m,
        "wrote {}, {} (mode 600), {}",
        shown(0),
        shown(1),
        shown(2)
    );
    let _ = writeln!(
        m,
        "\n{}: a template. Put the ministry's \"Usuario de conexión\", password and client_id in it,\n\
         and keep it where only you can read it and no repository holds it (e.g. ~/.config/mss-harness/,\n\
         then set [credentials] file to that path); mss-harness refuses it unless its mode is 600.\n\
         In CI keep the values in the CI's secret store and use [credentials] *_env instead.",
        shown(1)
    );
    let _ = writeln!(m, "\nnext:");
    match &host {
        None => {
            let _ = writeln!(
                m,
                "  mss-harness preflight --target https://<ministry host> --credentials {}   \
                 # once you have the ministry's URL (the embedded mock needs no check)",
                shown(1)
            );
            let _ = writeln!(m, "  mss-harness run {} --dry-run", shown(0));
            let _ = writeln!(m, "  mss-harness run {}", shown(0));
        }
        Some(h) => {
            let confirm = if crate::connect::is_local_host(h) {
                String::new()
            } else {
                format!(" --confirm-production {h}")
            };
            let _ = writeln!(
                m,
                "  mss-harness preflight --target {target} --credentials {}",
                shown(1)
            );
            let _ = writeln!(m, "  mss-harness run {} --dry-run", shown(0));
            let _ = writeln!(m, "  mss-harness run {}{confirm}", shown(0));
        }
    }
    Ok(Written { files, message: m })
}

/// Create `path` with `text`, readable as `mode` says; never over an existing file.
fn create(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => usage(format!(
            "{} already exists: init overwrites nothing",
            path.display()
        )),
        _ => anyhow::anyhow!("cannot create {}: {e}", path.display()),
    })?;
    // The process's umask may have narrowed the mode: set it as asked.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    }
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The credentials-file template (`crate::credentials::from_file` reads it,
/// and refuses it while it holds the placeholders).
pub const CREDENTIALS: &str = r#"# mss-harness credentials for the ministry's services (Mi Seguridad Social).
#
# Where to keep this file: where only you can read it (mode 600: mss-harness
# refuses it otherwise) and outside every repository, for instance
# ~/.config/mss-harness/credentials.toml; point the scenario's
# [credentials] file at it. Never commit it (init's .gitignore lists it).
# In CI, keep the values in the CI's secret store and name the environment
# variables in [credentials] (username_env, password_env, client_id_env).
#
# Replace every value below (mss-harness refuses the placeholders).

# "Usuario de conexión".
username = "REPLACE-usuario-de-conexion"
# "Password".
password = "REPLACE-password"
# The client_id of both services...
client_id = "REPLACE-client-id"
# ...or, when the ministry issued one per service, these two instead:
# client_id_afiliacion = "REPLACE-client-id-afiliacion"
# client_id_retracto = "REPLACE-client-id-retracto"
"#;

/// The `.gitignore` init writes.
pub const GITIGNORE: &str = "# mss-harness: run outputs and credentials stay out of git.
# Results folders (results/<utc>-<scenario>/, preflight-*), but the baselines
# a regression check compares with (results/baseline/<scenario>/).
results/*
!results/baseline/
# The credentials file (keep it outside the repository altogether).
credentials.toml
";

/// The scenario, every key present: those of `target` set, the others
/// commented out; defaults shown.
fn scenario_text(
    contract: &Contract,
    target: &str,
    host: Option<&str>,
    credentials: &str,
) -> String {
    let mock = host.is_none();
    let production = host.is_some_and(|h| !crate::connect::is_local_host(h));
    // `# ` before a line that does not apply to this target.
    let on = |applies: bool| if applies { "" } else { "# " };
    let shipped = BUILT_IN.map(|(n, _)| n).join(", ");
    let codigos = CATALOGUE.map(|k| k.codigo(contract)).join(", ");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# A load scenario for mss-harness, written by `mss-harness init`. Every key is
# here: the ones this target uses are set, the others commented out; a
# commented value is the default. Key by key: scenarios/README.md of the
# mss-harness repository. Shipped scenarios to start from instead: {shipped}.
"
    );
    let _ = writeln!(
        s,
        "# Short name (letters, digits, - and _): names the results folder.
name = \"{}\"
# What the scenario is for.
description = \"{}\"
",
        if mock {
            "first-run"
        } else {
            "ministry-first-run"
        },
        if mock {
            "first run against the embedded mock Ministry"
        } else {
            "first, gentle run against the ministry (agreed with it beforehand)"
        }
    );
    let _ = writeln!(
        s,
        "# Faults the mock injects (mock or an mss-mock on this machine only; they must
# come before the first [table]), e.g.
# faults = [{{ at = \"10s\", duration = \"5s\", kind = \"stall\" }}]
# faults = []
"
    );
    let _ = writeln!(
        s,
        "[target]
# \"mock\" (the embedded mock Ministry, started by the run) or a base URL.
url = \"{target}\"
# Hosts a run may send to; required for a URL target.
{}allowed_hosts = [{}]
# Whether report requests carry a W3C traceparent header (trace ids the
# reports list with the slowest requests): on against the mock and this
# machine, off against any other host unless set here (agree it with the
# ministry first).
# traceparent = {}
",
        on(!mock),
        host.map(|h| format!("\"{h}\"")).unwrap_or_default(),
        !production
    );
    let m = on(mock);
    let _ = writeln!(
        s,
        "# Settings of the embedded mock (only with url = \"mock\").
{m}[target.mock]
# Lifetime of the mock's tokens, seconds.
# token_ttl_seconds = 300
# Accepted records the mock keeps in full.
# max_records = 1000000
# Duplicate fingerprints the mock keeps.
# max_fingerprints = 10000000
# Latency profile (none by default): none, fixed, uniform or lognormal.
{m}latency = {{ distribution = \"lognormal\", median_ms = 20, sigma = 0.5, cap_ms = 500 }}
# A capacity limit (none by default): at most max_concurrent served at once,
# queue more waiting, the rest shed with shed_status and Retry-After.
# capacity = {{ max_concurrent = 100, queue = 1000, queue_timeout_ms = 500, shed_status = 503, retry_after_s = 1 }}
"
    );
    let c = on(!mock);
    let _ = writeln!(
        s,
        "# Credentials of a URL target (refused with the embedded mock, which makes its
# own): a credentials file readable only by its owner (mode 600), a path from
# the folder mss-harness runs in...
{c}[credentials]
{c}file = \"{credentials}\"
# ...or, instead of file, the names of environment variables (never the values):
# username_env = \"MSS_USERNAME\"
# password_env = \"MSS_PASSWORD\"
# client_id_env = \"MSS_CLIENT_ID\"
# client_id_afiliacion_env = \"MSS_CLIENT_ID_AFILIACION\"
# client_id_retracto_env = \"MSS_CLIENT_ID_RETRACTO\"
"
    );
    let (rate, duration) = if production { (2, "60s") } else { (50, "20s") };
    let _ = writeln!(
        s,
        "[load]
# \"open\" (arrivals at a rate) or \"closed\" (users that send, wait and think).
model = \"open\"
# Open: each stage ramps from the previous rate to `rate` (req/s) over `duration`.
stages = [{{ rate = {rate}, duration = \"{duration}\" }}]
# Open: the rate the first stage starts from (default: the first stage's rate).
# start_rate = {rate}
# Open: requests in flight at most; one that cannot start on time is `dropped`.
max_in_flight = 200
# Closed model instead (with model = \"closed\", and without the open keys):
# users = 10
# ramp = \"0s\"
# think_time = \"0s\"
# run_time = \"60s\"
# Capacity search instead (with model = \"search\", start_rate and
# max_in_flight, and without stages): plateaus whose rates it picks as it goes.
#   max_rate = 8000
#   step = 2
#   plateau = \"5s\"
#   plateaus = 10
"
    );
    let _ = writeln!(
        s,
        "# Relative weights of the services (retractions refer to affiliations
# accepted earlier in the run).
[mix]
ReportarAfiliaciontraslado = 9
ReportarRetractoAfiliacion = 1
"
    );
    let _ = writeln!(
        s,
        "# Share of deliberately invalid records per codigo (none by default): each
# must be refused with its codigo (counted rejected_as_expected), else it is
# an error check_failed:<codigo>. Codigos: {codigos}.
[invalid]
{}VAL01 = 0.01
{}NEG01 = 0.01
",
        on(mock),
        on(mock)
    );
    let _ = writeln!(
        s,
        "[data]
# Seed of the synthetic data.
# seed = 1
# The reporting administrator (contract/administradoras.csv).
# administradora = \"230301\"
# Prefix of every numeroRadicado (at most 12 of A-Z a-z 0-9 -).
# radicado_prefix = \"MSSH\"
# A feeder: your own affiliations from a CSV or JSON Lines file in the
# contract's field names (relative to this file; no numeroRadicado column:
# the harness numbers each report), checked whole before anything is sent.
# file = \"afiliados.csv\"
# How rows are handed out: queue (each row once, then the sending stops),
# circular, random or shuffle (seeded by seed; split among --worker processes).
# strategy = \"queue\"
# Share of the affiliations taken from the file, the rest generated.
# share = 1.0

[token]
# Refresh the token this long before it expires, plus a random part.
# refresh_margin = \"30s\"
# refresh_jitter = \"10s\"

[http]
# One request, from sending to the end of the answer; establishing a connection.
# timeout = \"30s\"
# connect_timeout = \"5s\"
# What retries of lost answers may add to the first sends of any 10 s window.
# retry_budget = \"10%\"

# The contract folder: an edited copy of contract/ (the ministry's technical
# annex), relative to this file. Default: the contract bundled in mss-harness.
# [contract]
# dir = \"contract-anexo\"
"
    );
    let _ = writeln!(
        s,
        "# Caps of a run against any host but this machine; raise them only here,
# and only as agreed with the ministry.
[production]
# max_rate = {DEFAULT_MAX_RATE}
# max_duration = \"{}\"
# max_requests = {}
",
        humantime::format_duration(DEFAULT_MAX_DURATION),
        (DEFAULT_MAX_RATE * DEFAULT_MAX_DURATION.as_secs_f64()) as u64
    );
    let _ = writeln!(
        s,
        "# Pass/fail (none by default): scope global or a service name; METRIC OP VALUE
# with p50 p90 p95 p99 p999 max mean (from the intended send time), error_rate,
# drop_rate (%), throughput (stored req/s).
[thresholds]
global = [\"p99 < 500ms\", \"error_rate < 1%\"]
# ReportarAfiliaciontraslado = [\"p95 < 200ms\"]
# ReportarRetractoAfiliacion = [\"p95 < 200ms\"]"
    );
    s
}
