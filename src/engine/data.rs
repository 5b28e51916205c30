//! The run's synthetic data: what each ticket sends — an affiliation, a
//! retraction of an affiliation the target accepted earlier (the retraction
//! pool), or an invalid case with its set-up — drawn by the scenario's mix and
//! invalid shares from one seeded stream shared by every user.

use std::collections::VecDeque;

use bytes::Bytes;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::Service;
use crate::generator::invalid::{InvalidCase, InvalidGenerator};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};

/// Accepted affiliations kept for retractions.
const POOL: usize = 10_000;

/// One unit of work: a request, or an invalid case with its set-up.
#[derive(Debug)]
pub(super) enum Work {
    Single {
        service: Service,
        body: Bytes,
        /// The affiliation to keep for a later retraction once accepted.
        pool: Option<AcceptedAffiliation>,
    },
    Case(Box<InvalidCase>),
}

impl Work {
    /// The service the work's (probe) request goes to.
    pub(super) fn service(&self) -> Service {
        match self {
            Work::Single { service, .. } => *service,
            Work::Case(c) => c.probe.service,
        }
    }

    /// Requests the work sends when all goes well (set-up included).
    pub(super) fn requests(&self) -> u64 {
        match self {
            Work::Single { .. } => 1,
            Work::Case(c) => c.setup.len() as u64 + 1,
        }
    }
}

/// The synthetic data of a run, shared by every user.
#[derive(Debug)]
pub(super) struct DataSource {
    affiliations: AffiliationGenerator,
    retractions: RetractionGenerator,
    pool: VecDeque<AcceptedAffiliation>,
    rng: ChaCha8Rng,
    retract_share: f64,
    invalid: Vec<(String, f64)>,
}

impl DataSource {
    /// The data of `config`'s generators; the draw between services and
    /// invalid cases is seeded by `seed`; `retract_share` of the valid
    /// reports are retractions, and each (codigo, share) of `invalid` is the
    /// share of tickets that are that invalid case.
    pub(super) fn new(
        config: GeneratorConfig,
        seed: u64,
        retract_share: f64,
        invalid: Vec<(String, f64)>,
    ) -> Result<Self, String> {
        Ok(DataSource {
            affiliations: AffiliationGenerator::new(config.clone()).map_err(|e| e.to_string())?,
            retractions: RetractionGenerator::new(config).map_err(|e| e.to_string())?,
            pool: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x006d_6978),
            retract_share,
            invalid,
        })
    }

    /// The next ticket's work.
    pub(super) fn next(&mut self) -> Result<Work, String> {
        let roll: f64 = self.rng.random();
        let mut acc = 0.0;
        for (codigo, fraction) in &self.invalid {
            acc += fraction;
            if roll < acc {
                let codigo = codigo.clone();
                let mut g = InvalidGenerator::new(&mut self.affiliations, &mut self.retractions);
                return g
                    .case(&codigo)
                    .map(|c| Work::Case(Box::new(c)))
                    .map_err(|e| e.to_string());
            }
        }
        if self.rng.random::<f64>() < self.retract_share {
            // The most recent first: well inside its window, and still held by
            // a target that keeps only its latest records.
            while let Some(a) = self.pool.pop_back() {
                if let Some(r) = self.retractions.retraction(&a) {
                    let body = serde_json::to_vec(&r).map_err(|e| e.to_string())?;
                    return Ok(Work::Single {
                        service: Service::Retracto,
                        body: body.into(),
                        pool: None,
                    });
                }
            }
        }
        let mut body = Vec::with_capacity(1024);
        let drawn = self
            .affiliations
            .next_affiliation_json(&mut body)
            .map_err(|e| e.to_string())?;
        // Kept for a later retraction only when the mix has retractions.
        let pool = (self.retract_share > 0.0).then(|| drawn.accepted(""));
        Ok(Work::Single {
            service: Service::Afiliacion,
            body: body.into(),
            pool,
        })
    }

    /// The target accepted affiliation `a` as transaction `numero`: kept for
    /// a later retraction (the oldest leaves a full pool).
    pub(super) fn accepted(&mut self, mut a: AcceptedAffiliation, numero: &str) {
        if self.retract_share <= 0.0 {
            return;
        }
        a.numero_transaccion = numero.to_owned();
        if self.pool.len() >= POOL {
            self.pool.pop_front();
        }
        self.pool.push_back(a);
    }
}
