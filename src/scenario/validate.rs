//! Validation: a scenario file's values checked, key by key, into a
//! [`RunPlan`]. Every refusal names the file and the dotted key
//! (`load.stages[1].rate`); the checks run in a fixed order, so a file with
//! several mistakes is refused for the same one every time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mss_contract::Contract;

use super::file::{CredentialsSpec, DataSpec, HttpSpec, ProductionSpec, ScenarioFile, TargetSpec};
use super::plan::{
    Caps, CredentialSource, DataPlan, FeederPlan, HttpPlan, LoadModel, Mix, RunPlan, TargetPlan,
    TokenPlan, UrlTarget,
};
use super::threshold::Threshold;
use super::{Bad, ScenarioError};
use super::{DEFAULT_MAX_DURATION, DEFAULT_MAX_RATE};
use crate::domain::Service;
use crate::generator::invalid;

/// Check `file` (read from `path`, which names it in errors) against
/// `contract` and build its plan; the first value that is not acceptable is
/// the error. A file that names no administrator reports for the contract's
/// default one, written into the file the run echoes.
pub fn plan(
    mut file: ScenarioFile,
    path: &Path,
    contract: Arc<Contract>,
) -> Result<RunPlan, ScenarioError> {
    let bad = |key: &str, message: String| ScenarioError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let bad: Bad<'_> = &bad;
    name(&file.name, bad)?;
    // The production caps and the faults' offsets are judged before the
    // load's own checks, on the load as written.
    let load = super::load::model(&file.load);
    let target = target(&file, &load, bad)?;
    if let Some(profile) = &file.target.mock.latency {
        profile.check().map_err(|e| bad("target.mock.latency", e))?;
    }
    faults(&file, &load, bad)?;
    mock_settings(&file.target, &contract, bad)?;
    let target = match (target, &file.credentials) {
        (Some((url, host)), Some(c)) => TargetPlan::Url(UrlTarget {
            url,
            host,
            allowed_hosts: file.target.allowed_hosts.clone(),
            credentials: credentials(c, bad)?,
        }),
        _ => TargetPlan::Mock(file.target.mock.clone()),
    };
    super::load::check(&file.load, bad)?;
    let mix = mix(&file.mix, bad)?;
    let invalid = invalid_shares(&file.invalid, &contract, bad)?;
    let administradora = file
        .data
        .administradora
        .get_or_insert_with(|| contract.default_administradora().codigo.clone())
        .clone();
    crate::generator::GeneratorConfig {
        radicado_prefix: file.data.radicado_prefix.clone(),
        ..crate::generator::GeneratorConfig::new(&contract, file.data.seed, &administradora)
    }
    .validate()
    .map_err(|e| bad("data", e.to_string()))?;
    let http = http(&file.http, bad)?;
    let thresholds = thresholds(&file.thresholds, bad)?;
    Ok(RunPlan {
        name: file.name.clone(),
        description: file.description.clone(),
        target,
        load,
        mix,
        invalid,
        data: DataPlan {
            seed: file.data.seed,
            administradora,
            radicado_prefix: file.data.radicado_prefix.clone(),
            feeder: feeder(&file.data, bad)?,
        },
        token: TokenPlan {
            refresh_margin: file.token.refresh_margin.0,
            refresh_jitter: file.token.refresh_jitter.0,
        },
        http,
        thresholds,
        caps: caps(&file.production),
        worker: (0, 1),
        contract,
        faults: file.faults.clone(),
        file,
    })
}

/// `[data] file`, `strategy` and `share`: a strategy or a share only with a
/// file; a share in (0, 1].
fn feeder(data: &DataSpec, bad: Bad<'_>) -> Result<Option<FeederPlan>, ScenarioError> {
    let Some(path) = &data.file else {
        let given = [
            ("strategy", data.strategy.is_some()),
            ("share", data.share.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, given)| *given) {
            return Err(bad(
                &format!("data.{key}"),
                format!("names no file's {key}: add `file`"),
            ));
        }
        return Ok(None);
    };
    let share = data.share.unwrap_or(1.0);
    if !(share > 0.0 && share <= 1.0) {
        return Err(bad(
            "data.share",
            format!("{share} is not a share in (0, 1] of the affiliations"),
        ));
    }
    Ok(Some(FeederPlan {
        path: path.clone(),
        strategy: data.strategy.unwrap_or_default(),
        share,
    }))
}

fn name(name: &str, bad: Bad<'_>) -> Result<(), ScenarioError> {
    if name.trim().is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(
            "name",
            format!("{name:?} must be letters, digits, '-' or '_'"),
        ));
    }
    Ok(())
}

/// `[target]` with `[credentials]`' presence: the URL and its host, lower-cased
/// (`None`: the embedded mock); a production host's caps are checked here.
fn target(
    file: &ScenarioFile,
    load: &LoadModel,
    bad: Bad<'_>,
) -> Result<Option<(String, String)>, ScenarioError> {
    let t = &file.target;
    if t.url == "mock" {
        if file.credentials.is_some() {
            return Err(bad(
                "credentials",
                "the embedded mock makes its own one-off credentials; remove [credentials]".into(),
            ));
        }
        return Ok(None);
    }
    if !(t.url.starts_with("https://") || t.url.starts_with("http://")) {
        return Err(bad(
            "target.url",
            format!("{:?} must be \"mock\" or an http(s):// base URL", t.url),
        ));
    }
    if t.allowed_hosts.is_empty() {
        return Err(bad(
            "target.allowed_hosts",
            "a URL target needs the hosts it may send to".into(),
        ));
    }
    if file.credentials.is_none() {
        return Err(bad(
            "credentials",
            "a URL target needs [credentials]: a file, or the names of the environment variables"
                .into(),
        ));
    }
    let host =
        url_host(&t.url).ok_or_else(|| bad("target.url", format!("{:?} has no host", t.url)))?;
    if !crate::connect::is_local_host(&host) {
        production_caps(&file.production, load, bad)?;
    }
    let m = &t.mock;
    if m.token_ttl_seconds.is_some()
        || m.latency.is_some()
        || m.max_records.is_some()
        || m.max_fingerprints.is_some()
        || m.capacity.is_some()
    {
        return Err(bad(
            "target.mock",
            "settings of the embedded mock apply only with url = \"mock\"".into(),
        ));
    }
    Ok(Some((t.url.clone(), host)))
}

/// The host of a URL, lower-cased.
fn url_host(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// The caps, defaults filled in.
fn caps(p: &ProductionSpec) -> Caps {
    let max_rate = p.max_rate.unwrap_or(DEFAULT_MAX_RATE);
    let max_duration = p.max_duration.map_or(DEFAULT_MAX_DURATION, |s| s.0);
    Caps {
        max_rate,
        max_duration,
        max_requests: p
            .max_requests
            .unwrap_or((max_rate * max_duration.as_secs_f64()).floor() as u64),
    }
}

/// `[production]` and the load against it.
fn production_caps(
    p: &ProductionSpec,
    load: &LoadModel,
    bad: Bad<'_>,
) -> Result<(), ScenarioError> {
    if p.max_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(bad(
            "production.max_rate",
            "must be a positive number".into(),
        ));
    }
    if p.max_requests == Some(0) {
        return Err(bad("production.max_requests", "must be at least 1".into()));
    }
    let caps = caps(p);
    let (peak, duration, total) = load.outline();
    // What the plan does at `at`, over the cap `cap` that `[production] key`
    // raises.
    let over = |at: &str, plans: String, cap: String, key: &str, tail: &str| {
        Err(bad(
            at,
            format!(
                "{plans}, over the production cap of {cap}; raise [production] {key} explicitly{tail}"
            ),
        ))
    };
    if let Some(peak) = peak
        && peak > caps.max_rate
    {
        let (plans, cap) = (
            format!("peaks at {peak} req/s"),
            format!("{} req/s", caps.max_rate),
        );
        return over(
            "load.stages",
            plans,
            cap,
            "max_rate",
            " if the ministry agreed to it",
        );
    }
    if duration > caps.max_duration {
        let lasts = format!("lasts {}", humantime::format_duration(duration));
        let cap = humantime::format_duration(caps.max_duration).to_string();
        return over("load", lasts, cap, "max_duration", "");
    }
    if let Some(total) = total
        && total > caps.max_requests
    {
        let plans = format!("plans {total} requests");
        return over(
            "load",
            plans,
            caps.max_requests.to_string(),
            "max_requests",
            "",
        );
    }
    Ok(())
}

/// `faults`: well-formed, against a mock on this machine, each before the
/// run's end.
fn faults(file: &ScenarioFile, load: &LoadModel, bad: Bad<'_>) -> Result<(), ScenarioError> {
    if file.faults.is_empty() {
        return Ok(());
    }
    mss_mock::FaultSet::compile(&file.faults).map_err(|e| bad("faults", e))?;
    let local = file.target.url == "mock"
        || url_host(&file.target.url).is_some_and(|h| crate::connect::is_local_host(&h));
    if !local {
        return Err(bad(
            "faults",
            "faults are injected by the mock: the target must be url = \"mock\" or an mss-mock on this machine".into(),
        ));
    }
    let end = load.duration();
    for (i, f) in file.faults.iter().enumerate() {
        let at = f.at.as_deref().map(mss_mock::faults::parse_span);
        if let Some(Ok(at)) = at
            && at >= end
        {
            return Err(bad(
                "faults",
                format!(
                    "faults[{i}] ({}): at {} is not before the run's end ({})",
                    f.kind,
                    humantime::format_duration(at),
                    humantime::format_duration(end)
                ),
            ));
        }
    }
    Ok(())
}

/// `[target.mock]`'s sizes.
fn mock_settings(t: &TargetSpec, contract: &Contract, bad: Bad<'_>) -> Result<(), ScenarioError> {
    if t.mock.max_records == Some(0) {
        return Err(bad("target.mock.max_records", "must be at least 1".into()));
    }
    if t.mock.max_fingerprints.is_some_and(|n| n < 2) {
        return Err(bad(
            "target.mock.max_fingerprints",
            "must be at least 2".into(),
        ));
    }
    if t.mock.token_ttl_seconds == Some(0) {
        return Err(bad(
            "target.mock.token_ttl_seconds",
            "must be at least 1".into(),
        ));
    }
    if let Some(c) = &t.mock.capacity {
        // The embedded mock's own check of its capacity limit, so that a
        // scenario it would refuse at start is refused here, naming the key.
        let mut config = mss_mock::MockConfig::with_clients(Vec::new());
        config.capacity = Some(c.clone());
        if let Err(mss_mock::ConfigError::Invalid { message, .. }) =
            config.check("scenario", contract)
            && message.starts_with("capacity.")
        {
            return Err(bad("target.mock.capacity", message));
        }
    }
    Ok(())
}

/// `[credentials]`: a file, or the names of the variables.
fn credentials(c: &CredentialsSpec, bad: Bad<'_>) -> Result<CredentialSource, ScenarioError> {
    let source = match (&c.file, &c.username_env, &c.password_env) {
        (Some(f), None, None) => CredentialSource::File(f.into()),
        (Some(_), _, _) => {
            return Err(bad(
                "credentials",
                "give either file or the *_env names, not both".into(),
            ));
        }
        (None, Some(u), Some(p)) => CredentialSource::Env {
            username: u.clone(),
            password: p.clone(),
            client_id: c.client_id_env.clone(),
            client_id_afiliacion: c.client_id_afiliacion_env.clone(),
            client_id_retracto: c.client_id_retracto_env.clone(),
        },
        (None, _, _) => {
            return Err(bad(
                "credentials",
                "give file, or username_env and password_env".into(),
            ));
        }
    };
    if c.file.is_none()
        && c.client_id_env.is_none()
        && (c.client_id_afiliacion_env.is_none() || c.client_id_retracto_env.is_none())
    {
        return Err(bad(
            "credentials",
            "give client_id_env, or both client_id_afiliacion_env and client_id_retracto_env"
                .into(),
        ));
    }
    Ok(source)
}

/// `mix`: known services, weights not negative, one above 0.
fn mix(written: &BTreeMap<String, f64>, bad: Bad<'_>) -> Result<Mix, ScenarioError> {
    let mut weights = Vec::new();
    let mut total = 0.0;
    for (name, weight) in written {
        let Some(service) = Service::from_name(name) else {
            return Err(bad(
                &format!("mix.{name}"),
                "unknown service; use ReportarAfiliaciontraslado or ReportarRetractoAfiliacion"
                    .into(),
            ));
        };
        if !(weight.is_finite() && *weight >= 0.0) {
            return Err(bad(
                &format!("mix.{name}"),
                format!("{weight} must be a non-negative weight"),
            ));
        }
        total += weight;
        weights.push((service, *weight));
    }
    if total <= 0.0 {
        return Err(bad(
            "mix",
            "at least one service needs a positive weight".into(),
        ));
    }
    Ok(Mix(weights))
}

/// `invalid`: codigos of the catalogue (as `contract` spells them), fractions
/// adding up to 1 at most.
fn invalid_shares(
    written: &BTreeMap<String, f64>,
    contract: &Contract,
    bad: Bad<'_>,
) -> Result<Vec<(String, f64)>, ScenarioError> {
    let mut total = 0.0;
    for (codigo, fraction) in written {
        invalid::kind(contract, codigo)
            .map_err(|e| bad(&format!("invalid.{codigo}"), e.to_string()))?;
        if !(fraction.is_finite() && (0.0..=1.0).contains(fraction)) {
            return Err(bad(
                &format!("invalid.{codigo}"),
                format!("{fraction} must be a fraction 0–1"),
            ));
        }
        total += fraction;
    }
    if total > 1.0 {
        return Err(bad(
            "invalid",
            format!("the fractions add up to {total}, above 1"),
        ));
    }
    Ok(written.iter().map(|(k, v)| (k.clone(), *v)).collect())
}

fn http(h: &HttpSpec, bad: Bad<'_>) -> Result<HttpPlan, ScenarioError> {
    if h.timeout.0.is_zero() || h.connect_timeout.0.is_zero() {
        return Err(bad("http", "timeouts must be above 0".into()));
    }
    Ok(HttpPlan {
        timeout: h.timeout.0,
        connect_timeout: h.connect_timeout.0,
        retry_budget: h.retry_budget.0,
    })
}

/// `[thresholds]`, each parsed once: a scope is `global` or a service.
fn thresholds(
    written: &BTreeMap<String, Vec<String>>,
    bad: Bad<'_>,
) -> Result<Vec<(Option<Service>, Threshold)>, ScenarioError> {
    let mut out = Vec::new();
    for (scope, exprs) in written {
        let service = Service::from_name(scope);
        if scope != "global" && service.is_none() {
            return Err(bad(
                &format!("thresholds.{scope}"),
                "scope must be global, ReportarAfiliaciontraslado or ReportarRetractoAfiliacion"
                    .into(),
            ));
        }
        for (i, e) in exprs.iter().enumerate() {
            let t = Threshold::parse(e).map_err(|m| bad(&format!("thresholds.{scope}[{i}]"), m))?;
            out.push((service, t));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::domain::Service;
    use crate::scenario::{Caps, CredentialSource, LoadModel, RunPlan, TargetPlan};

    /// The plan of scenario `text` on the bundled contract (`name` names the
    /// file in errors).
    fn plan(name: &str, text: &str) -> RunPlan {
        RunPlan::parse(text, Path::new(name), mss_contract::Contract::embedded()).expect("valid")
    }

    #[test]
    fn a_file_becomes_a_typed_plan_with_its_defaults_filled_in() {
        let plan = plan(
            "typed.toml",
            r#"
name = "typed"
[target]
url = "mock"
[load]
model = "closed"
users = 3
run_time = "10s"
[mix]
ReportarRetractoAfiliacion = 1
[thresholds]
global = ["p99 < 800ms", "error_rate < 1%"]
ReportarAfiliaciontraslado = ["max < 2s"]
"#,
        );
        assert_eq!(
            plan.load,
            LoadModel::Closed {
                users: 3,
                ramp: Duration::ZERO,
                think_time: Duration::ZERO,
                run_time: Duration::from_secs(10),
            }
        );
        assert_eq!(plan.mix.weight(Service::Retracto), 1.0);
        assert_eq!(plan.mix.weight(Service::Afiliacion), 0.0);
        let thresholds: Vec<_> = plan
            .thresholds
            .iter()
            .map(|(scope, t)| (*scope, t.expr.as_str()))
            .collect();
        assert_eq!(
            thresholds,
            [
                (Some(Service::Afiliacion), "max < 2s"),
                (None, "p99 < 800ms"),
                (None, "error_rate < 1%"),
            ]
        );
        assert_eq!(plan.plateau_thresholds().len(), 2);
        assert!(matches!(plan.target, TargetPlan::Mock(_)));
        assert!(!plan.target.is_production());
        assert_eq!(
            plan.caps,
            Caps {
                max_rate: 10.0,
                max_duration: Duration::from_secs(300),
                max_requests: 3000,
            }
        );
        assert_eq!(plan.worker, (0, 1));
        assert_eq!(plan.for_worker((1, 2)).worker, (1, 2));
    }

    #[test]
    fn a_url_target_carries_its_host_and_where_its_credentials_come_from() {
        let plan = plan(
            "url.toml",
            r#"
name = "url"
[target]
url = "https://Ministerio.test:8062/"
allowed_hosts = ["ministerio.test"]
[credentials]
username_env = "U"
password_env = "P"
client_id_env = "C"
[load]
model = "closed"
users = 1
run_time = "10s"
"#,
        );
        assert_eq!(plan.target.host(), Some("ministerio.test"));
        assert!(plan.target.is_production());
        let TargetPlan::Url(url) = &plan.target else {
            panic!("a URL target")
        };
        assert_eq!(
            url.credentials,
            CredentialSource::Env {
                username: "U".into(),
                password: "P".into(),
                client_id: Some("C".into()),
                client_id_afiliacion: None,
                client_id_retracto: None,
            }
        );
    }
}

#[cfg(test)]
mod feeder_tests {
    use std::path::{Path, PathBuf};

    use crate::feeder::Strategy;
    use crate::scenario::RunPlan;

    const HEAD: &str = "name = \"f\"\n[target]\nurl = \"mock\"\n[load]\nmodel = \"open\"\nstages = [{ rate = 1, duration = \"1s\" }]\nmax_in_flight = 1\n[data]\n";

    fn parse(data: &str) -> Result<RunPlan, String> {
        RunPlan::parse(
            &format!("{HEAD}{data}"),
            Path::new("qa/s.toml"),
            mss_contract::Contract::embedded(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_feeder_is_relative_to_the_scenario_and_its_keys_need_a_file() {
        let plan = parse("file = \"rows.csv\"\nstrategy = \"shuffle\"\nshare = 0.5").expect("plan");
        let feeder = plan.data.feeder.expect("a feeder");
        assert_eq!(feeder.path, PathBuf::from("qa/rows.csv"));
        assert_eq!((feeder.strategy, feeder.share), (Strategy::Shuffle, 0.5));
        let plan = parse("file = \"/abs/rows.jsonl\"").expect("plan");
        let feeder = plan.data.feeder.expect("a feeder");
        assert_eq!(feeder.path, PathBuf::from("/abs/rows.jsonl"));
        assert_eq!((feeder.strategy, feeder.share), (Strategy::Queue, 1.0));
        assert!(parse("").expect("plan").data.feeder.is_none());
        for (data, says) in [
            (
                "strategy = \"queue\"",
                "data.strategy: names no file's strategy",
            ),
            ("share = 0.5", "data.share: names no file's share"),
            (
                "file = \"r.csv\"\nshare = 0.0",
                "data.share: 0 is not a share in (0, 1]",
            ),
            (
                "file = \"r.csv\"\nshare = 1.5",
                "data.share: 1.5 is not a share",
            ),
            (
                "file = \"r.csv\"\nstrategy = \"lifo\"",
                "unknown variant `lifo`",
            ),
        ] {
            let e = parse(data).map(|_| ()).expect_err(data);
            assert!(e.contains(says), "{data}: {e}");
        }
    }
}
