//! Scenarios: what a load run does, declared as data (TOML), and the plan a
//! run follows.
//!
//! [`RunPlan::load`] and [`RunPlan::parse`] read a file ([`file`]: serde's
//! mirror of every table and key, unknown keys and wrong types refused) and
//! validate it ([`validate`], the load model in `load`: values out of range
//! refused) into a [`RunPlan`] ([`plan`]): the typed load model, the mix, the
//! thresholds ([`threshold`]) parsed once, the caps, the target; the shipped
//! scenarios are in [`builtin`]. Every error names the file and the key;
//! every key is documented in `scenarios/README.md`. Nothing here touches the
//! network. The plan holds the contract it was validated with
//! ([`ContractChoice`]: the one the command line gives, else the folder the
//! file's `[contract] dir` names, else the bundled one), and the run follows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mss_contract::Contract;

pub mod builtin;
pub mod file;
mod load;
pub mod plan;
pub mod threshold;
pub mod validate;

pub use builtin::BUILT_IN;
pub use file::{MockSpec, ScenarioFile, Span, Stage};
pub use plan::{
    Caps, CredentialSource, DEFAULT_MAX_DURATION, DEFAULT_MAX_RATE, DataPlan, FeederPlan, HttpPlan,
    LoadModel, Mix, RunPlan, SEARCH_PAUSE, SearchPlan, TargetPlan, TokenPlan, UrlTarget,
};
pub use threshold::{Metric, Op, Threshold};

/// Why a scenario file was refused. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Neither a file nor the name of a shipped scenario.
    #[error(
        "{name}: no such file, and not a shipped scenario (shipped: {})",
        BUILT_IN.map(|(n, _)| n).join(", ")
    )]
    Unknown {
        /// What was asked for.
        name: String,
    },
    /// Not valid TOML, an unknown key, or a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and what.
        message: String,
    },
    /// A key whose value is well-formed but not acceptable.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`load.stages[1].rate`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A refusal of the key given, with what is wrong: how the checks of
/// [`validate`] and [`load`] name the key they refuse.
type Bad<'a> = &'a dyn Fn(&str, String) -> ScenarioError;

/// Which contract a scenario is planned with.
#[derive(Debug, Clone)]
pub enum ContractChoice {
    /// This one, whatever the file's `[contract] dir` says (`run --contract
    /// DIR`).
    Given(Arc<Contract>),
    /// The folder the file's `[contract] dir` names (read then), else this
    /// one (the bundled contract).
    Default(Arc<Contract>),
}

impl From<&Arc<Contract>> for ContractChoice {
    /// The file's `[contract] dir`, else `contract`.
    fn from(contract: &Arc<Contract>) -> Self {
        ContractChoice::Default(Arc::clone(contract))
    }
}

impl RunPlan {
    /// Read a scenario: a path to a TOML file, or the name of a built-in one,
    /// planned with the contract `contract` chooses.
    pub fn load(
        name_or_path: &str,
        contract: impl Into<ContractChoice>,
    ) -> Result<RunPlan, ScenarioError> {
        if let Some(text) = builtin::text(name_or_path) {
            return Self::parse(
                text,
                Path::new(&format!("scenarios/{name_or_path}.toml")),
                contract,
            );
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ScenarioError::Unknown {
                    name: name_or_path.to_owned(),
                }
            } else {
                ScenarioError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::parse(&text, path, contract)
    }

    /// Parse and validate scenario text, planned with the contract
    /// `contract` chooses; `path` names it in errors.
    pub fn parse(
        text: &str,
        path: &Path,
        contract: impl Into<ContractChoice>,
    ) -> Result<RunPlan, ScenarioError> {
        let mut file = file::read(text, path)?;
        // Relative to the scenario's folder.
        let mut dir = file.contract.dir.take().map(|dir| match path.parent() {
            Some(parent) if dir.is_relative() => parent.join(dir),
            _ => dir,
        });
        let contract = match (contract.into(), &dir) {
            (ContractChoice::Given(c), None) | (ContractChoice::Default(c), None) => c,
            (ContractChoice::Given(c), Some(_)) => {
                // The file the run echoes names the folder the run follows.
                dir = c.dir().map(Path::to_owned);
                c
            }
            (ContractChoice::Default(_), Some(dir)) => {
                Arc::new(Contract::from_dir(dir).map_err(|e| ScenarioError::Invalid {
                    path: path.to_owned(),
                    key: "contract.dir".to_owned(),
                    message: format!("{}: {e}", dir.display()),
                })?)
            }
        };
        file.contract.dir = dir;
        if let (Some(feeder), Some(parent)) = (&mut file.data.file, path.parent())
            && feeder.is_relative()
        {
            *feeder = parent.join(&*feeder);
        }
        validate::plan(file, path, contract)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(replace: &str, by: &str) -> Result<RunPlan, ScenarioError> {
        let (_, smoke) = BUILT_IN[0];
        assert!(smoke.contains(replace), "{replace}");
        RunPlan::parse(
            &smoke.replacen(replace, by, 1),
            Path::new("s.toml"),
            Contract::embedded(),
        )
    }

    #[test]
    fn the_plan_holds_the_contract_it_was_given_or_its_files_folder() {
        let (_, smoke) = BUILT_IN[0];
        assert!(smoke.contains("administradora = \"230301\"\n"));
        let bundled = Contract::embedded();
        // No [contract]: the contract given either way, its default
        // administrator written into the file the run echoes.
        for choice in [
            ContractChoice::Default(Arc::clone(bundled)),
            ContractChoice::Given(Arc::clone(bundled)),
        ] {
            let plan = RunPlan::parse(
                &smoke.replace("administradora = \"230301\"\n", ""),
                Path::new("s.toml"),
                choice,
            )
            .expect("smoke");
            assert!(Arc::ptr_eq(&plan.contract, bundled));
            assert_eq!(plan.data.administradora, "230301");
            assert_eq!(plan.file().data.administradora.as_deref(), Some("230301"));
        }
        // A [contract] dir: read by default (here a folder that is not one),
        // overridden by a contract given.
        let text = format!("{smoke}\n[contract]\ndir = \"no-such-annex\"\n");
        let err = RunPlan::parse(&text, Path::new("qa/s.toml"), bundled)
            .expect_err("no such folder")
            .to_string();
        assert!(
            err.starts_with("qa/s.toml: contract.dir: qa/no-such-annex: cannot read"),
            "{err}"
        );
        let given = Arc::new(Contract::from_dir(&mss_contract::source_dir()).expect("contract/"));
        let plan = RunPlan::parse(
            &text,
            Path::new("qa/s.toml"),
            ContractChoice::Given(Arc::clone(&given)),
        )
        .expect("the given contract wins");
        assert!(Arc::ptr_eq(&plan.contract, &given));
        assert_eq!(plan.file().contract.dir.as_deref(), given.dir());
    }

    #[test]
    fn a_capacity_the_embedded_mock_would_refuse_is_refused_naming_the_key() {
        // Found by tests/fuzz/scenario.rs once it applied the settings with the
        // run's own code: `shed_status = 0` passed the scenario's checks and
        // then stopped the embedded mock at start.
        let block = "[target.mock]\ncapacity = { max_concurrent = 4, shed_status = 0 }";
        let err = with("[target.mock]", block)
            .expect_err("shed_status 0")
            .to_string();
        assert!(
            err.contains("target.mock.capacity") && err.contains("shed_status"),
            "{err}"
        );
        let fine = "[target.mock]\ncapacity = { max_concurrent = 4, shed_status = 429 }";
        with("[target.mock]", fine).expect("a capacity the mock takes");
    }

    #[test]
    fn durations_longer_than_a_year_are_refused() {
        // Found by tests/fuzz.rs: each of these once overflowed a sum of
        // durations (the stages' total, ramp + run time) and panicked, in
        // `parse` itself for a production target.
        let huge = "\"18446744073709551615s\"";
        let cases = [
            (
                "duration = \"20s\"",
                format!("duration = {huge}"),
                "load.stages",
            ),
            (
                "[thresholds]",
                format!("[production]\nmax_duration = {huge}\n[thresholds]"),
                "production.max_duration",
            ),
            (
                "[thresholds]",
                format!("[token]\nrefresh_margin = {huge}\n[thresholds]"),
                "token.refresh_margin",
            ),
        ];
        for (replace, by, key) in cases {
            let err = with(replace, &by).expect_err(key).to_string();
            assert!(
                err.contains(key) && err.contains("longer than a year"),
                "{err}"
            );
        }
        let production = "name = \"p\"\n[target]\nurl = \"https://ministerio.test\"\n\
            allowed_hosts = [\"ministerio.test\"]\n[credentials]\nfile = \"c.toml\"\n\
            [load]\nmodel = \"open\"\nmax_in_flight = 1\nstages = [\
            { rate = 1, duration = \"1s\" }, { rate = 1, duration = \"18446744073709551615s\" }]\n";
        let err = RunPlan::parse(production, Path::new("p.toml"), Contract::embedded())
            .expect_err("too long");
        assert!(err.to_string().contains("longer than a year"), "{err}");
        let closed = "name = \"c\"\n[target]\nurl = \"mock\"\n[load]\nmodel = \"closed\"\n\
            users = 1\nramp = \"1s\"\nrun_time = \"18446744073709551615s\"\n";
        let err = RunPlan::parse(closed, Path::new("c.toml"), Contract::embedded())
            .expect_err("too long");
        assert!(err.to_string().contains("load.run_time"), "{err}");
        // A year is still a duration.
        let year = with("duration = \"20s\"", "duration = \"366days\"").expect("a year");
        assert_eq!(year.duration(), Span::MAX);
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let cases = [
            ("[load]", "bogus = 1\n[load]", "bogus"),
            (
                "max_in_flight = ",
                "max_in_flight = \"many\" #",
                "max_in_flight",
            ),
            ("{ rate = 50", "{ rate = -5", "load.stages[0].rate"),
            ("\"p99 < ", "\"p99 is ", "thresholds.global[0]"),
            ("seed = ", "seed = \"x\" #", "seed"),
            (
                "administradora = \"230301\"",
                "administradora = \"999\"",
                "data",
            ),
        ];
        for (replace, by, needle) in cases {
            let err = with(replace, by).expect_err(needle).to_string();
            assert!(err.starts_with("s.toml"), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
