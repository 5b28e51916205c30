//! Scenario files for the tests, built from their parts: the tables every
//! test scenario has (a name, `[target]`, `[load]`) written once, and what a
//! test adds (faults, a mock latency, credentials, further tables) said where
//! the test is. The text reads back with `RunPlan::parse` like a file a user
//! writes (see scenarios/README.md for the format).

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mss_harness::scenario::{ContractChoice, RunPlan};

use crate::util::Cred;

/// A scenario file's text, built table by table.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    name: String,
    /// Top-level keys (`description`, `faults`), before the first table.
    top: Vec<String>,
    /// The `[target]` table's keys and its subtables (`[target.mock]`), then
    /// `[credentials]` when the target is a URL.
    target: Vec<String>,
    /// The `[load]` table's body.
    load: String,
    /// Further tables, verbatim, in order.
    tables: Vec<String>,
}

impl ScenarioFile {
    /// `name` against the embedded mock (`url = "mock"`), open model: one
    /// stage of `rate` req/s for `duration`, at most `max_in_flight` requests
    /// in flight.
    pub fn open(name: &str, rate: u32, duration: &str, max_in_flight: u32) -> Self {
        Self::with_load(
            name,
            &format!(
                "model = \"open\"\nstages = [{{ rate = {rate}, duration = \"{duration}\" }}]\nmax_in_flight = {max_in_flight}"
            ),
        )
    }

    /// `name` against the embedded mock with the `[load]` table's `body`
    /// written out (a closed model, several stages).
    pub fn with_load(name: &str, body: &str) -> Self {
        ScenarioFile {
            name: name.to_owned(),
            top: Vec::new(),
            target: vec!["url = \"mock\"".to_owned()],
            load: body.trim().to_owned(),
            tables: Vec::new(),
        }
    }

    /// The target is `url` (its host in `allowed_hosts`), with the
    /// credentials read from the variables `{prefix}_USER`,
    /// `{prefix}_PASSWORD` and `{prefix}_CLIENT` (see [`credentials_env`]).
    pub fn at(mut self, url: &str, prefix: &str) -> Self {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([':', '/']).next())
            .unwrap_or_else(|| panic!("{url:?} is not a URL"));
        self.target = vec![
            format!("url = \"{url}\""),
            format!("allowed_hosts = [\"{host}\"]"),
            format!(
                "[credentials]\nusername_env = \"{prefix}_USER\"\npassword_env = \"{prefix}_PASSWORD\"\nclient_id_env = \"{prefix}_CLIENT\""
            ),
        ];
        self
    }

    /// A key of the `[target]` table (`traceparent = true`).
    pub fn target_key(mut self, line: &str) -> Self {
        self.target.insert(1, line.to_owned());
        self
    }

    /// A top-level line (`faults = [...]`, `description = "..."`).
    pub fn top(mut self, line: &str) -> Self {
        self.top.push(line.to_owned());
        self
    }

    /// The embedded mock answers every report in `ms` milliseconds.
    pub fn mock_latency_ms(self, ms: u32) -> Self {
        self.mock(&format!(
            "latency = {{ distribution = \"fixed\", ms = {ms} }}"
        ))
    }

    /// Keys of the embedded mock's `[target.mock]` table.
    pub fn mock(mut self, keys: &str) -> Self {
        self.target.push(format!("[target.mock]\n{}", keys.trim()));
        self
    }

    /// A further table (or several), verbatim.
    pub fn table(mut self, text: &str) -> Self {
        self.tables.push(text.trim().to_owned());
        self
    }

    /// Write the file as `dir/file`; its path.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.to_string())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// The file parsed as the harness reads it, with the bundled contract.
    pub fn plan(&self) -> RunPlan {
        self.plan_with(mss_contract::Contract::embedded())
    }

    /// The file parsed as the harness reads it, with the contract `contract`
    /// chooses (`ContractChoice::Given` for `run --contract DIR`).
    pub fn plan_with(&self, contract: impl Into<ContractChoice>) -> RunPlan {
        RunPlan::parse(
            &self.to_string(),
            Path::new(&format!("{}.toml", self.name)),
            contract,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl fmt::Display for ScenarioFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "name = \"{}\"", self.name)?;
        for line in &self.top {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "[target]")?;
        for line in &self.target {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "[load]\n{}", self.load)?;
        for table in &self.tables {
            writeln!(f, "{table}")?;
        }
        Ok(())
    }
}

/// Set the variables a scenario built with [`ScenarioFile::at`]`(url,
/// prefix)` reads its credentials from.
pub fn credentials_env<'a>(command: &'a mut Command, prefix: &str, cred: &Cred) -> &'a mut Command {
    command
        .env(format!("{prefix}_USER"), &cred.username)
        .env(format!("{prefix}_PASSWORD"), &cred.password)
        .env(format!("{prefix}_CLIENT"), &cred.client_id)
}

/// `mss-harness run FILE --out OUT`, with the credentials of `cred` in the
/// variables a scenario built with [`ScenarioFile::at`]`(url, prefix)` reads.
pub fn run_command(file: &Path, out: &Path, prefix: &str, cred: &Cred) -> Command {
    let mut command = crate::util::harness_command();
    credentials_env(&mut command, prefix, cred)
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out);
    command
}
