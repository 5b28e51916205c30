//! The run's synthetic data: what each ticket sends — an affiliation, a
//! retraction of an affiliation the target accepted earlier (the retraction
//! pool), or an invalid case with its set-up — drawn by the scenario's mix and
//! invalid shares from one seeded stream shared by every user. With a feeder
//! (`[data] file`), its share of the affiliations comes from the file's rows
//! instead ([`crate::feeder`]); a queue that has sent its rows ends the data.

use std::collections::VecDeque;

use bytes::Bytes;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::Service;
use crate::feeder::{Feeder, FeederConfig, Fill, Strategy};
use crate::generator::invalid::{InvalidCase, InvalidGenerator};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, Afiliacion, CODIGO_ADMINISTRADORA, GeneratorConfig,
    NUMERO_RADICADO, RetractionGenerator,
};
use crate::ledger::Intent;
use crate::scenario::RunPlan;

/// The fields the harness writes into a feeder's row: `generator`'s next
/// radicado, and its administrator.
pub(super) fn fills(generator: &mut AffiliationGenerator) -> Vec<Fill> {
    let administradora = generator.administradora().codigo.clone();
    vec![
        Fill {
            field: NUMERO_RADICADO.to_owned(),
            value: generator.next_radicado(),
            owned: true,
        },
        Fill {
            field: CODIGO_ADMINISTRADORA.to_owned(),
            value: administradora,
            owned: false,
        },
    ]
}

/// A feeder opened and checked before the run contacts its target (so that
/// a bad file is refused with nothing sent, not even a token request), for
/// [`super::prepare`] to take; shared by the clones of the run's options.
#[derive(Debug, Clone, Default)]
pub struct CheckedFeeder(std::sync::Arc<std::sync::Mutex<Option<Feeder>>>);

impl CheckedFeeder {
    /// Open and check `plan`'s feeder for `worker`, if it names one.
    pub fn check(&self, plan: &RunPlan, worker: (u16, u16)) -> Result<(), String> {
        let feeder = open_feeder(plan, worker)?;
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = feeder;
        Ok(())
    }

    /// A line of the dry run: the file, its rows, and this worker's share.
    pub fn describe(&self) -> Option<String> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(|f| {
            format!(
                "  feeder      {}: {} rows checked, strategy {}, {} of them this worker's",
                f.path().display(),
                f.rows(),
                f.strategy().name(),
                f.own()
            )
        })
    }

    /// The checked feeder, once.
    pub(super) fn take(&self) -> Option<Feeder> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// The generator settings of `plan` for `worker`.
pub(super) fn generator_config(plan: &RunPlan, worker: (u16, u16)) -> GeneratorConfig {
    let mut config =
        GeneratorConfig::new(&plan.contract, plan.data.seed, &plan.data.administradora);
    config.radicado_prefix = plan.data.radicado_prefix.clone();
    config.worker = worker.0;
    config
}

/// `plan`'s feeder, opened and checked whole for `worker` (`None` without one).
pub(super) fn open_feeder(plan: &RunPlan, worker: (u16, u16)) -> Result<Option<Feeder>, String> {
    let Some(f) = &plan.data.feeder else {
        return Ok(None);
    };
    let mut generator =
        AffiliationGenerator::new(generator_config(plan, worker)).map_err(|e| e.to_string())?;
    Feeder::open(
        &plan.contract,
        FeederConfig {
            path: f.path.clone(),
            strategy: f.strategy,
            seed: plan.data.seed,
            worker,
            fills: fills(&mut generator),
        },
    )
    .map(Some)
    .map_err(|e| format!("data.file: {e}"))
}

/// Why [`DataSource::draw`] has no work.
enum Drawn {
    /// The feeder's queue has sent its rows.
    Exhausted,
    /// A data error (the run ends with it).
    Failed(String),
}

/// A serde error's message without any value it may quote.
trait ClassifyField {
    fn classify_field(&self) -> String;
}

impl ClassifyField for serde_json::Error {
    fn classify_field(&self) -> String {
        let text = self.to_string();
        // "unknown field `x`, expected one of ..." names fields only; any
        // other message may quote a value and is reduced to its category.
        if text.starts_with("unknown field") || text.starts_with("missing field") {
            text.split(", expected")
                .next()
                .unwrap_or_default()
                .to_owned()
        } else {
            "a value the generator's affiliation cannot hold".to_owned()
        }
    }
}

/// Accepted affiliations kept for retractions.
const POOL: usize = 10_000;

/// One unit of work: a request, or an invalid case with its set-up.
#[derive(Debug)]
pub(super) enum Work {
    Single {
        service: Service,
        body: Bytes,
        /// Its ledger intent, when the run keeps a ledger.
        intent: Option<Box<Intent>>,
        /// The affiliation to keep for a later retraction once accepted.
        pool: Option<AcceptedAffiliation>,
        /// Whether it is a feeder's row (given back when not sent).
        fed: bool,
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

/// What a feeder has sent, for the run's record.
#[derive(Debug, Clone, PartialEq)]
pub struct FeederState {
    /// The file.
    pub file: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Rows in the file.
    pub rows: u64,
    /// Rows this worker owns.
    pub own: u64,
    /// Rows handed out (sent, or about to be).
    pub taken: u64,
    /// Whether the data ran out (a queue sent every row it owns).
    pub exhausted: bool,
}

/// A run's feeder and the share of the affiliations it supplies.
#[derive(Debug)]
struct FeederSource {
    feeder: Feeder,
    share: f64,
    exhausted: bool,
    /// Rows handed out but not sent (taken too late, or refused by a cap):
    /// handed out again first.
    returned: Vec<Work>,
}

/// The data of a run, shared by every user.
#[derive(Debug)]
pub(super) struct DataSource {
    affiliations: AffiliationGenerator,
    retractions: RetractionGenerator,
    pool: VecDeque<AcceptedAffiliation>,
    rng: ChaCha8Rng,
    retract_share: f64,
    invalid: Vec<(String, f64)>,
    feeder: Option<FeederSource>,
    /// Whether each report's ledger intent is drawn with it (the run keeps
    /// a ledger).
    intents: bool,
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
            feeder: None,
            intents: false,
        })
    }

    /// The same source taking `share` of its affiliations from `feeder`.
    pub(super) fn with_feeder(mut self, feeder: Feeder, share: f64) -> Self {
        self.feeder = Some(FeederSource {
            feeder,
            share,
            exhausted: false,
            returned: Vec::new(),
        });
        self
    }

    /// From now on, each report's ledger intent is drawn with it.
    pub(super) fn keep_intents(&mut self) {
        self.intents = true;
    }

    /// The fields the harness writes into a feeder's row: the next
    /// radicado, and the run's administrator.
    fn fills(&mut self) -> Vec<Fill> {
        fills(&mut self.affiliations)
    }

    /// What the feeder has sent, if the run has one.
    pub(super) fn feeder_state(&self) -> Option<FeederState> {
        self.feeder.as_ref().map(|f| FeederState {
            file: f.feeder.path().display().to_string(),
            strategy: f.feeder.strategy(),
            rows: f.feeder.rows(),
            own: f.feeder.own(),
            taken: f.feeder.taken() - f.returned.len() as u64,
            exhausted: f.exhausted,
        })
    }

    /// The service of the next ticket no user took (recorded as dropped):
    /// drawn as [`next`](Self::next) draws it, but no feeder row is used up.
    pub(super) fn next_untaken(&mut self) -> Service {
        if self.feeder.is_some() {
            return Service::Afiliacion;
        }
        self.next()
            .ok()
            .flatten()
            .map_or(Service::Afiliacion, |w| w.service())
    }

    /// The next ticket's work; `Ok(None)` when the data has run out (a
    /// feeder's queue sent its rows).
    pub(super) fn next(&mut self) -> Result<Option<Work>, String> {
        if let Some(work) = self.feeder.as_mut().and_then(|f| f.returned.pop()) {
            return Ok(Some(work));
        }
        if self.feeder.as_ref().is_some_and(|f| f.exhausted) {
            return Ok(None);
        }
        self.draw().map(Some).or_else(|e| match e {
            Drawn::Exhausted => {
                if let Some(f) = &mut self.feeder {
                    f.exhausted = true;
                }
                Ok(None)
            }
            Drawn::Failed(e) => Err(e),
        })
    }

    /// The next ticket's work, or why there is none.
    fn draw(&mut self) -> Result<Work, Drawn> {
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
                    .map_err(|e| Drawn::Failed(e.to_string()));
            }
        }
        if self.rng.random::<f64>() < self.retract_share {
            // The most recent first: well inside its window, and still held by
            // a target that keeps only its latest records.
            while let Some(a) = self.pool.pop_back() {
                if let Some(r) = self.retractions.retraction(&a) {
                    let body = serde_json::to_vec(&r).map_err(|e| Drawn::Failed(e.to_string()))?;
                    let intent = self.intents.then(|| {
                        Box::new(Intent::retraction(
                            &r.numero_radicado,
                            &r.codigo_administradora,
                            &r.tipo_documento,
                            &r.numero_documento,
                            &r.numero_transaccion_afiliacion,
                            r.fecha_retracto,
                        ))
                    });
                    return Ok(Work::Single {
                        service: Service::Retracto,
                        body: body.into(),
                        intent,
                        pool: None,
                        fed: false,
                    });
                }
            }
        }
        if let Some(share) = self.feeder.as_ref().map(|f| f.share)
            && (share >= 1.0 || self.rng.random::<f64>() < share)
        {
            return self.feeder_row();
        }
        let mut body = Vec::with_capacity(1024);
        let drawn = self
            .affiliations
            .next_affiliation_json(&mut body)
            .map_err(|e| Drawn::Failed(e.to_string()))?;
        let radicado = &drawn.numero_radicado;
        Ok(self.affiliation(body, radicado, || drawn.accepted(""), false))
    }

    /// An affiliation's work: with its ledger intent when the run keeps a
    /// ledger, and kept for a later retraction only when the mix has
    /// retractions (`accepted`, what both need, is drawn only then).
    fn affiliation(
        &self,
        body: Vec<u8>,
        radicado: &str,
        accepted: impl FnOnce() -> AcceptedAffiliation,
        fed: bool,
    ) -> Work {
        let accepted = (self.intents || self.retract_share > 0.0).then(accepted);
        let intent = accepted.as_ref().filter(|_| self.intents).map(|a| {
            Box::new(Intent::affiliation(
                radicado,
                &a.codigo_administradora,
                &a.tipo_documento,
                &a.numero_documento,
                a.fecha_solicitud,
            ))
        });
        Work::Single {
            service: Service::Afiliacion,
            body: body.into(),
            intent,
            pool: accepted.filter(|_| self.retract_share > 0.0),
            fed,
        }
    }

    /// The feeder's next row as an affiliation.
    fn feeder_row(&mut self) -> Result<Work, Drawn> {
        let fills = self.fills();
        let Some(f) = &mut self.feeder else {
            return Err(Drawn::Exhausted);
        };
        let row = f
            .feeder
            .next(&fills)
            .map_err(|e| Drawn::Failed(e.to_string()))?
            .ok_or(Drawn::Exhausted)?;
        // Checked against the contract when the feeder was opened: a row the
        // generator's type cannot hold is a contract with other fields. The
        // error names the field only (serde's messages here quote no value).
        let afiliacion: Afiliacion = serde_json::from_value(serde_json::Value::Object(row))
            .map_err(|e| Drawn::Failed(format!("a feeder row: {}", e.classify_field())))?;
        let body = serde_json::to_vec(&afiliacion).map_err(|e| Drawn::Failed(e.to_string()))?;
        let accepted = || AcceptedAffiliation::of(&afiliacion, "");
        Ok(self.affiliation(body, &afiliacion.numero_radicado, accepted, true))
    }

    /// `work` was not sent: a feeder's row is handed out again (no row of
    /// a queue is skipped); other work is forgotten.
    pub(super) fn give_back(&mut self, work: Work) {
        if let (Work::Single { fed: true, .. }, Some(f)) = (&work, &mut self.feeder) {
            f.returned.push(work);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Contract;

    #[test]
    fn a_drawn_intent_is_the_one_its_body_reads() {
        let contract = std::sync::Arc::new(Contract::embedded().clone());
        let admin = contract.administradoras[0].codigo.clone();
        let config = GeneratorConfig::new(&contract, 7, &admin);
        let mut data = DataSource::new(config, 7, 0.5, Vec::new()).expect("data");
        let Ok(Some(Work::Single { intent: None, .. })) = data.next() else {
            panic!("no intent before the ledger is kept");
        };
        data.keep_intents();
        let mut seen = [0; 2];
        for _ in 0..200 {
            let Ok(Some(Work::Single {
                service,
                body,
                intent: Some(intent),
                pool,
                ..
            })) = data.next()
            else {
                panic!("a report with its intent");
            };
            let read = Intent::of(service, &body);
            let drawn = Intent {
                at: read.at,
                ..*intent
            };
            assert_eq!(drawn, read, "{service:?}");
            seen[crate::engine::service_index(service)] += 1;
            if let Some(a) = pool {
                data.accepted(a, "T1");
            }
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
    }
}
