//! The runner of the conformance suite: what it runs against ([`Setup`]), its
//! state while it runs ([`Ctx`]), and what it records ([`Outcome`],
//! [`Verdict`]). It runs checks one after the other, aggregate ones last,
//! recording every exchange (secrets redacted) so that a failure prints a
//! reproducer. What each check sends and expects lives in
//! [`super::checks`]; how requests are sent in `exchange.rs`, tokens in
//! `tokens.rs`, valid bodies in `bodies.rs`.

mod bodies;
mod exchange;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mss_contract::{CodigoRespuesta, Contract, Role};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub use exchange::Exchange;
pub(in crate::conform) use exchange::media_type;
pub(in crate::conform) use tokens::lifetime_of;

use super::checks::Check;
use crate::generator::{AffiliationGenerator, RetractionGenerator};
use crate::secret::Secret;
use crate::token::TokenCache;

/// The three values of a token request.
#[derive(Debug, Clone)]
pub struct Creds {
    /// "Usuario de conexión".
    pub username: String,
    /// "Password" (never printed).
    pub password: Secret,
    /// "Llave pública (ClientID)".
    pub client_id: String,
}

/// Key of the credentials for both services of the administrator under test.
pub const OWN: &str = "own";
/// Key of a client_id entitled to ReportarAfiliaciontraslado only.
pub const OWN_AFI: &str = "own-afi";
/// Key of a client_id entitled to ReportarRetractoAfiliacion only.
pub const OWN_RET: &str = "own-ret";

/// What the suite runs against and may do there.
#[derive(Debug)]
pub struct Setup {
    /// `http://127.0.0.1:PORT` or the ministry's base URL.
    pub base_url: String,
    /// Code of the administrator under test.
    pub administradora: String,
    /// Seed of every generated value.
    pub seed: u64,
    /// Credentials by key: [`OWN`], [`OWN_AFI`], [`OWN_RET`], or another
    /// administrator's code (set-ups of NEG03/NEG04, enumeration values this
    /// administrator cannot report).
    pub creds: HashMap<String, Creds>,
    /// The embedded mock, whose clock the expired-token check moves.
    pub mock: Option<mss_mock::Mock>,
    /// Wait out a token's lifetime in real time for the expired-token checks
    /// (`--slow`), instead of moving a mock's clock.
    pub slow: bool,
    /// The target is an mss-mock on loopback whose `/__admin/clock` moves.
    pub admin_clock: bool,
    /// Checks that create records may run.
    pub writes: bool,
    /// "Today" at the target (Bogotá).
    pub as_of: NaiveDate,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The HTTP client (TLS settings of the command line); a plain one when
    /// none is given.
    pub client: Option<reqwest::Client>,
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target behaves as the protocol says.
    Pass,
    /// It does not; why.
    Fail(String),
    /// Not run here; why.
    Skip(String),
}

/// A check with its result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The check.
    pub check: Check,
    /// Its result.
    pub verdict: Verdict,
    /// Requests it sent.
    pub requests: usize,
    /// The request that decided it (the reproducer of a failure).
    pub probe: Option<Exchange>,
    /// For an expired-token check: how old the token was when it was sent.
    pub token_age: Option<TokenAge>,
}

/// How old the token of an expired-token check was when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TokenAge {
    /// Seconds since it was issued, on the target's clock (real time waited,
    /// plus how far the mock's clock was moved).
    pub age_s: f64,
    /// The lifetime its token answer announced (`expires_in`).
    pub lifetime_s: u64,
    /// `waited` (real time, `--slow`) or `clock moved` (a mock's clock).
    pub how: &'static str,
}

/// The suite's state while it runs.
pub struct Ctx<'c> {
    pub(in crate::conform) setup: Setup,
    /// The contract the checks and the generated bodies follow.
    pub(in crate::conform) contract: &'c Arc<Contract>,
    http: reqwest::Client,
    /// One [`TokenCache`] per client key: the same refresh-before-expiry and
    /// renew-once-on-401 as `run`.
    tokens: HashMap<String, TokenCache>,
    /// A token an expired-token check waited out (`--slow`): key, value, when
    /// it was issued and its lifetime; the next such check reuses it.
    pub(in crate::conform) stale: HashMap<String, (String, Instant, u64)>,
    /// How old the token of the running expired-token check was.
    pub(in crate::conform) token_age: Option<TokenAge>,
    secrets: Vec<String>,
    gens: HashMap<String, (AffiliationGenerator, RetractionGenerator)>,
    pub(in crate::conform) rng: ChaCha8Rng,
    /// Every exchange with a report service or /token so far.
    pub(in crate::conform) log: Vec<Exchange>,
    /// The exchanges of the running check.
    current: Vec<Exchange>,
    /// numeroRadicado values the length checks have sent.
    pub(in crate::conform) used_radicados: HashSet<String>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("base_url", &self.setup.base_url)
            .field("administradora", &self.setup.administradora)
            .finish_non_exhaustive()
    }
}

/// A step of a check: `Err` ends the check with that verdict.
pub(in crate::conform) type Step<T> = Result<T, Verdict>;

/// A failed verdict.
pub(in crate::conform) fn fail(why: impl Into<String>) -> Verdict {
    Verdict::Fail(why.into())
}

impl<'c> Ctx<'c> {
    /// A context for `setup`, with `contract` for the checks.
    pub fn new(setup: Setup, contract: &'c Arc<Contract>) -> anyhow::Result<Self> {
        let http = match &setup.client {
            Some(c) => c.clone(),
            None => reqwest::Client::builder()
                .timeout(setup.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        };
        let secrets = setup
            .creds
            .values()
            .map(|c| c.password.expose().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let rng = ChaCha8Rng::seed_from_u64(setup.seed ^ 0xC0F0_2026);
        Ok(Ctx {
            setup,
            contract,
            http,
            tokens: HashMap::new(),
            stale: HashMap::new(),
            token_age: None,
            secrets,
            gens: HashMap::new(),
            rng,
            log: Vec::new(),
            current: Vec::new(),
            used_radicados: HashSet::new(),
        })
    }

    /// Pass when `ex` got the codigo that plays `role` with its HTTP status.
    pub(in crate::conform) fn expect(&self, ex: &Exchange, role: Role) -> Verdict {
        self.expect_code(
            ex,
            Some(self.contract.code(role)),
            self.contract.codigo_of(role),
        )
    }

    /// Pass when `ex` got `codigo` (a codigo of the contract) with its status.
    pub(in crate::conform) fn expect_codigo(&self, ex: &Exchange, codigo: &str) -> Verdict {
        self.expect_code(ex, self.contract.codigo(codigo), codigo)
    }

    fn expect_code(&self, ex: &Exchange, code: Option<&CodigoRespuesta>, codigo: &str) -> Verdict {
        let status = code.map_or(0, |c| c.http_status);
        if ex.status == Some(status) && ex.codigo() == codigo {
            Verdict::Pass
        } else {
            fail(format!("expected {status} {codigo}, got {}", ex.seen()))
        }
    }

    /// Pass when `ex` says the report was stored.
    pub(in crate::conform) fn accepted(&self, ex: &Exchange) -> Verdict {
        self.expect(ex, Role::Stored)
    }

    /// Run one check; the exchanges it made are in `self.current`.
    async fn run_check(&mut self, check: &Check) -> Verdict {
        if check.probe.writes() && !self.setup.writes {
            return Verdict::Skip(
                "creates records at the target; give --allow-writes to run it".to_owned(),
            );
        }
        match self.probe(&check.probe).await {
            Ok(v) | Err(v) => v,
        }
    }

    /// Run `checks` in order (aggregate ones last) and return their outcomes in
    /// catalogue order.
    pub async fn run(&mut self, checks: &[Check]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; checks.len()];
        for (i, check) in checks.iter().enumerate() {
            if check.probe.is_aggregate() {
                continue;
            }
            self.current.clear();
            self.token_age = None;
            let verdict = self.run_check(check).await;
            let probe = self.current.last().cloned();
            out[i] = Some(Outcome {
                check: check.clone(),
                verdict,
                requests: self.current.len(),
                probe,
                token_age: self.token_age.take(),
            });
        }
        for (i, check) in checks.iter().enumerate() {
            if out[i].is_none()
                && let Some((verdict, n, probe)) = self.aggregate(&check.probe)
            {
                out[i] = Some(Outcome {
                    check: check.clone(),
                    verdict,
                    requests: n,
                    probe,
                    token_age: None,
                });
            }
        }
        out.into_iter().flatten().collect()
    }
}
