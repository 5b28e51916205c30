//! [`RetractionGenerator`]: valid `ReportarRetractoAfiliacion` bodies for
//! affiliations the target accepted, dated inside the retraction window and
//! not after the day taken as today.

use chrono::{Days, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::GeneratorError;
use super::config::GeneratorConfig;
use super::identity::RadicadoSpace;
use super::records::{AcceptedAffiliation, Retracto};
use crate::domain;

/// Remarks a member's retraction may carry.
const OBSERVACIONES: [&str; 5] = [
    "Retracto solicitado por el afiliado dentro del término legal",
    "El afiliado manifiesta su voluntad de permanecer en su administradora actual",
    "Desistimiento de la solicitud de traslado",
    "Retracto radicado en oficina",
    "Retracto recibido por canal virtual",
];

/// Builds valid `ReportarRetractoAfiliacion` bodies for affiliations the target
/// accepted.
#[derive(Debug)]
pub struct RetractionGenerator {
    config: GeneratorConfig,
    rng: ChaCha8Rng,
    radicados: RadicadoSpace,
}

impl RetractionGenerator {
    /// A generator for `config`'s seed and worker.
    pub fn new(config: GeneratorConfig) -> Result<Self, GeneratorError> {
        config.check()?;
        Ok(RetractionGenerator {
            rng: config.rng(0xB),
            radicados: RadicadoSpace::new(&config, 'R'),
            config,
        })
    }

    /// A retraction of `accepted`, dated within its window and not after
    /// `as_of`; `None` when the window has closed (or not opened) by then.
    pub fn retraction(&mut self, accepted: &AcceptedAffiliation) -> Option<Retracto> {
        let (first, last) = domain::retraction_window(accepted.fecha_solicitud);
        let last = last.min(self.config.as_of);
        if last < first {
            return None;
        }
        let span = (last - first).num_days().max(0) as u64;
        let fecha_retracto = first + Days::new(self.rng.random_range(0..=span));
        let observacion = self
            .rng
            .random_bool(0.4)
            .then(|| OBSERVACIONES[self.rng.random_range(0..OBSERVACIONES.len())].to_owned());
        Some(self.retraction_dated(accepted, fecha_retracto, observacion))
    }

    /// A retraction of `accepted` dated `fecha_retracto`, whatever the window.
    pub fn retraction_dated(
        &mut self,
        accepted: &AcceptedAffiliation,
        fecha_retracto: NaiveDate,
        observacion: Option<String>,
    ) -> Retracto {
        Retracto {
            numero_radicado: self.radicados.next_radicado(),
            codigo_administradora: accepted.codigo_administradora.clone(),
            tipo_documento: accepted.tipo_documento.clone(),
            numero_documento: accepted.numero_documento.clone(),
            numero_transaccion_afiliacion: accepted.numero_transaccion.clone(),
            fecha_retracto,
            observacion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::AffiliationGenerator;
    use crate::generator::config::tests::config;

    #[test]
    fn retractions_fall_in_the_window() {
        let mut g = AffiliationGenerator::new(config(2)).expect("generator");
        let mut r = RetractionGenerator::new(config(2)).expect("generator");
        for i in 0..500 {
            let a = g.next_affiliation().expect("record");
            let accepted = AcceptedAffiliation::of(&a, &format!("T{i}"));
            let ret = r.retraction(&accepted).expect("window open");
            assert!(domain::retraction_in_window(
                a.fecha_solicitud,
                ret.fecha_retracto
            ));
            assert!(ret.fecha_retracto <= r.config.as_of);
            assert_ne!(ret.numero_radicado, a.numero_radicado);
        }
    }
}
