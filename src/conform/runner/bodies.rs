//! Valid bodies for the checks to send or change: affiliations drawn from the
//! generator of any administrator whose credentials the suite has,
//! retractions (of an affiliation accepted first, or of one that does not
//! exist), and set-ups that must be accepted before a probe
//! ([`Ctx::run_case`]).

use chrono::NaiveDate;
use mss_contract::Service;
use rand::RngExt;
use serde_json::Value;

use super::{Ctx, Step, Verdict, fail};
use crate::domain::Novedad;
use crate::generator::invalid::PENDING_TRANSACTION;
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};

impl Ctx<'_> {
    /// "Today" at the target.
    pub(in crate::conform) fn as_of(&self) -> NaiveDate {
        self.setup.as_of
    }

    /// Code of the administrator under test.
    pub(in crate::conform) fn administradora(&self) -> &str {
        &self.setup.administradora
    }

    pub(in crate::conform) fn generators(
        &mut self,
        admin: &str,
    ) -> Step<&mut (AffiliationGenerator, RetractionGenerator)> {
        if !self.gens.contains_key(admin) {
            let mut config = GeneratorConfig::new(self.contract, self.setup.seed, admin);
            config.as_of = self.setup.as_of;
            let a = AffiliationGenerator::new(config.clone())
                .map_err(|e| fail(format!("generator: {e}")))?;
            let r =
                RetractionGenerator::new(config).map_err(|e| fail(format!("generator: {e}")))?;
            self.gens.insert(admin.to_owned(), (a, r));
        }
        self.gens
            .get_mut(admin)
            .ok_or_else(|| fail("generator missing"))
    }

    /// A valid affiliation of `admin` that carries `field` (equal to `value`
    /// when given).
    pub(in crate::conform) fn draw(
        &mut self,
        admin: &str,
        field: Option<&str>,
        value: Option<&str>,
    ) -> Step<Option<Value>> {
        let (g, _) = self.generators(admin)?;
        for _ in 0..400 {
            let a = g
                .next_affiliation()
                .map_err(|e| fail(format!("generator: {e}")))?;
            let v = serde_json::to_value(&a).map_err(|e| fail(e.to_string()))?;
            let ok = match field {
                None => true,
                Some(f) => v
                    .get(f)
                    .and_then(Value::as_str)
                    .is_some_and(|x| value.is_none_or(|want| want == x)),
            };
            if ok {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// A valid affiliation carrying `field` = `value`, from the administrator
    /// under test or, when it cannot report one, from another administrator
    /// whose credentials we have: (client key, body).
    pub(in crate::conform) fn draw_somewhere(
        &mut self,
        field: &str,
        value: Option<&str>,
    ) -> Step<Option<(String, Value)>> {
        let own = self.setup.administradora.clone();
        if let Some(v) = self.draw(&own, Some(field), value)? {
            return Ok(Some((self.key_for(Service::Afiliacion).to_owned(), v)));
        }
        let others: Vec<String> = self
            .contract
            .administradoras
            .iter()
            .map(|a| a.codigo.clone())
            .filter(|c| *c != own && self.setup.creds.contains_key(c))
            .collect();
        for other in others {
            if let Some(v) = self.draw(&other, Some(field), value)? {
                return Ok(Some((other, v)));
            }
        }
        Ok(None)
    }

    /// A valid affiliation of the administrator under test.
    pub(in crate::conform) fn own_body(&mut self) -> Step<Value> {
        let own = self.setup.administradora.clone();
        self.draw(&own, None, None)?
            .ok_or_else(|| fail("the generator draws no affiliation"))
    }

    /// A numeroRadicado not sent yet.
    pub(in crate::conform) fn fresh_radicado(&mut self) -> Step<String> {
        let v = self.own_body()?;
        Ok(v["numeroRadicado"].as_str().unwrap_or_default().to_owned())
    }

    /// Send `body` as an affiliation that must be accepted; its numeroTransaccion.
    pub(in crate::conform) async fn affiliate(&mut self, key: &str, body: &Value) -> Step<String> {
        let ex = self.post_as(Service::Afiliacion, key, body).await?;
        if ex.status != Some(200) {
            return Err(fail(format!(
                "set-up affiliation refused: {} (a valid report must be accepted)",
                ex.seen()
            )));
        }
        ex.field("numeroTransaccion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail("set-up affiliation accepted without numeroTransaccion"))
    }

    /// A valid retraction body: of an affiliation accepted first when `real`
    /// (after `shape` changed it), else of a transaction that does not exist.
    pub(in crate::conform) async fn retraction(
        &mut self,
        real: bool,
        shape: impl FnOnce(&mut Value),
    ) -> Step<Value> {
        let own = self.setup.administradora.clone();
        let as_of = self.setup.as_of;
        let (g, _) = self.generators(&own)?;
        let persona = g
            .persona(as_of, None)
            .map_err(|e| fail(format!("generator: {e}")))?;
        let a = g.affiliation_of(&persona, Novedad::Afiliacion, as_of);
        let mut aff = serde_json::to_value(&a).map_err(|e| fail(e.to_string()))?;
        shape(&mut aff);
        let numero = if real {
            let key = self.key_for(Service::Afiliacion);
            self.affiliate(key, &aff).await?
        } else {
            format!("NOEXISTE{:09}", self.rng.random_range(0..1_000_000_000u64))
        };
        let accepted = AcceptedAffiliation {
            numero_transaccion: numero,
            codigo_administradora: own.clone(),
            tipo_documento: aff["tipoDocumento"].as_str().unwrap_or_default().to_owned(),
            numero_documento: aff["numeroDocumento"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            fecha_solicitud: as_of,
        };
        let (_, r) = self.generators(&own)?;
        let ret = r.retraction_dated(&accepted, as_of, Some("Retracto de prueba".to_owned()));
        serde_json::to_value(&ret).map_err(|e| fail(e.to_string()))
    }

    /// A valid body for `service` that carries `field` (for a retraction: of a
    /// transaction that does not exist).
    pub(in crate::conform) async fn body_with(
        &mut self,
        service: Service,
        field: &str,
    ) -> Step<(String, Value)> {
        match service {
            Service::Afiliacion => {
                let own = self.setup.administradora.clone();
                match self.draw(&own, Some(field), None)? {
                    Some(v) => Ok((self.key_for(service).to_owned(), v)),
                    None => Err(Verdict::Skip(format!(
                        "administrator {own} reports no affiliation with {field}"
                    ))),
                }
            }
            Service::Retracto => Ok((
                self.key_for(service).to_owned(),
                self.retraction(false, |_| {}).await?,
            )),
        }
    }

    /// A valid body for `service` (for a retraction: of a transaction that
    /// does not exist), with the key of the client that sends it.
    pub(in crate::conform) async fn body_with_any(
        &mut self,
        service: Service,
    ) -> Step<(String, Value)> {
        match service {
            Service::Afiliacion => Ok((self.key_for(service).to_owned(), self.own_body()?)),
            Service::Retracto => Ok((
                self.key_for(service).to_owned(),
                self.retraction(false, |_| {}).await?,
            )),
        }
    }

    /// Send `setup` (each step must be accepted), then `probe`, which must get
    /// `codigo` (be accepted when `None`) with a `mensaje` naming `names`.
    pub(in crate::conform) async fn run_case(
        &mut self,
        setup: &[crate::generator::invalid::Step],
        probe: &crate::generator::invalid::Step,
        codigo: Option<&str>,
        names: Option<&str>,
    ) -> Step<Verdict> {
        let own = self.setup.administradora.clone();
        let mut answers: Vec<Value> = Vec::new();
        let last = setup.len();
        for (i, step) in setup.iter().chain(std::iter::once(probe)).enumerate() {
            let sender = if step.sender == own {
                self.key_for(step.service).to_owned()
            } else {
                step.sender.clone()
            };
            let mut body = step.body.clone();
            if let Some(from) = step.transaction_from {
                if body["numeroTransaccionAfiliacion"] != PENDING_TRANSACTION {
                    return Err(fail("set-up without a pending transaction"));
                }
                body["numeroTransaccionAfiliacion"] = answers
                    .get(from)
                    .map_or(Value::Null, |a| a["numeroTransaccion"].clone());
            }
            let ex = self.post_as(step.service, &sender, &body).await?;
            if i < last {
                if ex.status != Some(200) {
                    return Ok(fail(format!(
                        "set-up step {} refused: {} (a valid report must be accepted)",
                        i + 1,
                        ex.seen()
                    )));
                }
                answers.push(ex.json.clone().unwrap_or(Value::Null));
            } else {
                let verdict = match codigo {
                    Some(c) => self.expect_codigo(&ex, c),
                    None => self.accepted(&ex),
                };
                if let (Verdict::Pass, Some(field)) = (&verdict, names)
                    && !ex.mensaje_names(field)
                {
                    return Ok(fail(format!(
                        "the refusal does not name {field}: {}",
                        ex.seen()
                    )));
                }
                return Ok(verdict);
            }
        }
        Err(fail("the case has no probe"))
    }
}
