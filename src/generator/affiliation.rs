//! [`AffiliationGenerator`]: valid `ReportarAfiliaciontraslado` bodies. It
//! draws the novelty from a mix that fits the administrator's regime, a new
//! person (age, sex, document), the request date, and every other field, into
//! a [`Draft`] that becomes either an [`Afiliacion`] or, on the load engine's
//! path, its JSON written straight into a buffer.

use std::sync::Arc;

use chrono::{Datelike, Days, Months, NaiveDate};
use mss_contract::{Administradora, Contract, Regimen};
use rand::RngExt;
use rand::distr::Distribution;
use rand_chacha::ChaCha8Rng;

use super::config::GeneratorConfig;
use super::draft::{Digits, Draft, Telefono};
use super::identity::{DocumentShape, IdentitySpace, RadicadoSpace, document_shapes};
use super::records::{Afiliacion, DrawnAffiliation, Persona};
use super::tables::{EMAIL_DOMAINS, Tables, fixed, weighted_pick, years_before};
use super::{GeneratorError, names};
use crate::domain::{Novedad, Sexo, SiNo, calendar, rules};

/// Builds valid `ReportarAfiliaciontraslado` bodies.
#[derive(Debug)]
pub struct AffiliationGenerator {
    config: GeneratorConfig,
    /// The reporting administrator's index in the contract.
    own: usize,
    /// The contract's sampling tables.
    tables: Tables,
    pub(super) rng: ChaCha8Rng,
    radicados: RadicadoSpace,
    identities: IdentitySpace,
    /// Per document type of the contract (in its order), the shape its
    /// numbers are written in.
    shapes: Vec<Option<DocumentShape>>,
}

impl AffiliationGenerator {
    /// A generator for `config`'s contract, administrator, seed and worker.
    pub fn new(config: GeneratorConfig) -> Result<Self, GeneratorError> {
        let own = config.check()?;
        let shapes = document_shapes(&config.contract)?
            .into_iter()
            .map(|(_, shape)| shape)
            .collect();
        let tables = Tables::new(&config.contract)?;
        Ok(AffiliationGenerator {
            shapes,
            tables,
            rng: config.rng(0xA),
            radicados: RadicadoSpace::new(&config, 'A'),
            identities: IdentitySpace::new(&config),
            own,
            config,
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The contract its records follow.
    pub fn contract(&self) -> &Arc<Contract> {
        &self.config.contract
    }

    /// The reporting administrator.
    pub fn administradora(&self) -> &Administradora {
        &self.config.contract.administradoras[self.own]
    }

    /// The next valid affiliation, with a novelty drawn from the mix that fits the
    /// administrator's regime.
    pub fn next_affiliation(&mut self) -> Result<Afiliacion, GeneratorError> {
        let novedad = self.draw_novedad();
        self.affiliation(novedad)
    }

    fn draw_novedad(&mut self) -> Novedad {
        let roll = self.rng.random_range(0..100u32);
        match self.administradora().regimen {
            // An AFP receives new members, members of other AFPs and of Colpensiones.
            Regimen::Rais => match roll {
                0..50 => Novedad::Afiliacion,
                50..85 => Novedad::TrasladoAdministradora,
                _ => Novedad::TrasladoRegimen,
            },
            // Colpensiones receives new members and members of the AFPs.
            Regimen::Rpm => match roll {
                0..60 => Novedad::Afiliacion,
                _ => Novedad::TrasladoRegimen,
            },
        }
    }

    /// `fechaSolicitud`: today most often, else up to three business days back,
    /// so that retractions of it are still possible.
    fn draw_fecha_solicitud(&mut self) -> NaiveDate {
        let back = match self.rng.random_range(0..10u32) {
            0..7 => 0,
            n => n - 6,
        };
        let as_of = self.config.as_of;
        if back == 0 {
            as_of
        } else {
            calendar::sub_business_days(as_of, back)
        }
    }

    /// A new person aged 18–75 on `fecha`, younger than `max_age` when given.
    pub fn persona(
        &mut self,
        fecha: NaiveDate,
        max_age: Option<u32>,
    ) -> Result<Persona, GeneratorError> {
        self.persona_with(fecha, |_| max_age)
    }

    /// A new person who may still change regime on `fecha`: younger than 47
    /// (women) or 52 (men).
    pub fn persona_for_regime_transfer(
        &mut self,
        fecha: NaiveDate,
    ) -> Result<Persona, GeneratorError> {
        self.persona_with(fecha, |sexo| Some(sexo.regime_transfer_age_limit()))
    }

    fn persona_with(
        &mut self,
        fecha: NaiveDate,
        max_age: impl FnOnce(Sexo) -> Option<u32>,
    ) -> Result<Persona, GeneratorError> {
        let t = &self.tables;
        let identity = self.identities.next_identity()?;
        let sexo = if self.rng.random_bool(0.5) {
            Sexo::F
        } else {
            Sexo::M
        };
        let mut age = 18 + fixed().ages.sample(&mut self.rng) as u32;
        if let Some(max) = max_age(sexo)
            && age >= max
        {
            age = self.rng.random_range(18..max.max(19));
        }
        // Born between `age` and `age + 1` years before `fecha`.
        let latest = years_before(fecha, age);
        let fecha_nacimiento = latest - Days::new(self.rng.random_range(0..360));
        let tipos = &self.config.contract.tipos_documento;
        let mut tipo = t.tipos[t.tipos_index.sample(&mut self.rng)];
        if tipos[tipo].edad_maxima.is_some_and(|max| age > max) {
            tipo = t.adultos[t.adultos_index.sample(&mut self.rng)];
        }
        let numero_documento = self.document(tipo, identity)?;
        Ok(Persona {
            tipo_documento: self.config.contract.tipos_documento[tipo].codigo.clone(),
            numero_documento,
            sexo,
            fecha_nacimiento,
        })
    }

    /// The number of a document of the contract's type `tipo` (its index)
    /// for `identity`, matching the type's pattern in the contract and the
    /// `numeroDocumento` field.
    fn document(&mut self, tipo: usize, identity: u64) -> Result<String, GeneratorError> {
        const LETTERS: &[u8; 26] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let shape = self.shapes.get(tipo).copied().flatten();
        shape
            .map(|shape| {
                // Two letters, drawn only when the type takes an alphanumeric number.
                let letters = if shape == DocumentShape::Letters {
                    [
                        LETTERS[self.rng.random_range(0..26)],
                        LETTERS[self.rng.random_range(0..26)],
                    ]
                } else {
                    [0; 2]
                };
                shape.write(identity, letters)
            })
            .ok_or_else(|| {
                let t = &self.config.contract.tipos_documento[tipo];
                GeneratorError::Unsupported(format!(
                    "tipos_documento.csv: row {}: no number of type {} fits its pattern",
                    t.row, t.codigo
                ))
            })
    }

    /// A valid affiliation of a new person with the given novelty.
    pub fn affiliation(&mut self, novedad: Novedad) -> Result<Afiliacion, GeneratorError> {
        let fecha = self.draw_fecha_solicitud();
        let persona = if novedad == Novedad::TrasladoRegimen {
            self.persona_for_regime_transfer(fecha)?
        } else {
            self.persona(fecha, None)?
        };
        Ok(self.affiliation_of(&persona, novedad, fecha))
    }

    /// A valid affiliation of `persona` with `novedad` requested on `fecha`,
    /// reported by the generator's administrator.
    pub fn affiliation_of(
        &mut self,
        persona: &Persona,
        novedad: Novedad,
        fecha: NaiveDate,
    ) -> Afiliacion {
        let contract = Arc::clone(&self.config.contract);
        self.affiliation_by(&contract.administradoras[self.own], persona, novedad, fecha)
    }

    /// As [`affiliation_of`](Self::affiliation_of), reported by `admin` (used by
    /// invalid variants whose set-up needs another administrator).
    pub fn affiliation_by(
        &mut self,
        admin: &Administradora,
        persona: &Persona,
        novedad: Novedad,
        fecha: NaiveDate,
    ) -> Afiliacion {
        self.draft(admin, persona, novedad, fecha).to_afiliacion()
    }

    /// The next `numeroRadicado` of this generator's space (a feeder's row
    /// takes one).
    pub fn next_radicado(&mut self) -> String {
        self.radicados.next_radicado()
    }

    /// The next valid affiliation, as [`next_affiliation`](Self::next_affiliation)
    /// would draw it, written as JSON into `out` (cleared first) without
    /// building an [`Afiliacion`]: byte for byte what `serde_json::to_vec` of
    /// that affiliation gives, at a fraction of the allocations. The load
    /// engine's path.
    pub fn next_affiliation_json(
        &mut self,
        out: &mut Vec<u8>,
    ) -> Result<DrawnAffiliation, GeneratorError> {
        let novedad = self.draw_novedad();
        let fecha = self.draw_fecha_solicitud();
        let persona = if novedad == Novedad::TrasladoRegimen {
            self.persona_for_regime_transfer(fecha)?
        } else {
            self.persona(fecha, None)?
        };
        let contract = Arc::clone(&self.config.contract);
        let admin = &contract.administradoras[self.own];
        out.clear();
        let draft = self.draft(admin, &persona, novedad, fecha);
        let numero_radicado = draft.radicado();
        draft.write_json(out);
        Ok(DrawnAffiliation {
            numero_radicado,
            codigo_administradora: admin.codigo.clone(),
            persona,
            fecha_solicitud: fecha,
        })
    }

    /// Draw everything of an affiliation but its owned strings.
    fn draft<'a>(
        &'a mut self,
        admin: &'a Administradora,
        persona: &'a Persona,
        novedad: Novedad,
        fecha: NaiveDate,
    ) -> Draft<'a> {
        let contract: &'a Contract = &self.config.contract;
        let t = &self.tables;
        let f = fixed();
        let n = names::Names::get();
        let given = match persona.sexo {
            Sexo::F => (&n.female, &f.female),
            Sexo::M => (&n.male, &f.male),
        };
        let primer_nombre: &'static str = given.0[given.1.sample(&mut self.rng)];
        let segundo_nombre = self
            .rng
            .random_bool(0.55)
            .then(|| given.0[given.1.sample(&mut self.rng)])
            .filter(|s| *s != primer_nombre);
        let primer_apellido: &'static str = n.surnames[f.surnames.sample(&mut self.rng)];
        let segundo_apellido = self
            .rng
            .random_bool(0.92)
            .then(|| n.surnames[f.surnames.sample(&mut self.rng)]);
        let municipio = &contract.municipios[t.municipios.sample(&mut self.rng)];
        let origen = match novedad {
            Novedad::Afiliacion => None,
            Novedad::TrasladoRegimen => Some(pick_admin(
                &mut self.rng,
                contract,
                admin.regimen.other(),
                admin,
            )),
            Novedad::TrasladoAdministradora => {
                Some(pick_admin(&mut self.rng, contract, Regimen::Rais, admin))
            }
        };
        let dependiente = self.rng.random_bool(0.75);
        let empleador = dependiente.then(|| {
            // A company (a NIT) most often, else a person.
            let (tipo, nit) = if self.rng.random_bool(0.85) {
                (
                    t.employer_company.as_str(),
                    self.rng.random_range(800_000_000u64..=901_999_999),
                )
            } else {
                (
                    t.employer_person.as_str(),
                    self.rng.random_range(10_000_000u64..=1_199_999_999),
                )
            };
            let mut digits = Digits::new();
            let dv = rules::nit_check_digit(digits.of(nit));
            (tipo, nit, dv)
        });
        let fecha_efectividad = self.rng.random_bool(0.5).then(|| {
            let first = fecha.with_day(1).unwrap_or(fecha);
            first.checked_add_months(Months::new(1)).unwrap_or(fecha)
        });
        let correo = self.rng.random_bool(0.55).then(|| {
            let domain = EMAIL_DOMAINS[weighted_pick(&mut self.rng, &EMAIL_DOMAINS)].0;
            let suffix = self
                .rng
                .random_bool(0.6)
                .then(|| self.rng.random_range(1..100u32));
            (suffix, domain)
        });
        let telefono = self.rng.random_bool(0.7).then(|| {
            if self.rng.random_bool(0.85) {
                Telefono::Movil(
                    self.rng.random_range(0..25u32),
                    self.rng.random_range(0..10_000_000u32),
                )
            } else {
                // Fixed lines: 60 + area code + 7 digits (10 digits since 2021).
                Telefono::Fijo(
                    self.rng.random_range(1..9u32),
                    self.rng.random_range(2_000_000..10_000_000u32),
                )
            }
        });
        Draft {
            radicado: self.radicados.next_seq(),
            radicado_head: &self.radicados.head,
            admin,
            novedad,
            persona,
            primer_apellido,
            segundo_apellido,
            primer_nombre,
            segundo_nombre,
            origen,
            fecha,
            fecha_efectividad,
            municipio,
            empleador,
            autorizacion: {
                let yes = self.rng.random_bool(0.97);
                let e = contract.enumerations();
                e.spelling(SiNo::of(yes || !e.offers(SiNo::No)))
            },
            enumerations: contract.enumerations(),
            correo,
            telefono,
        }
    }
}

/// An administrator of `contract` of `regimen` other than `not`. The contract
/// always has Colpensiones and four AFPs; should an edited contract lack a
/// second administrator of a regime, `not` itself (the record then fails
/// VAL04 or NEG05, which the tests of the contract would show).
fn pick_admin<'c>(
    rng: &mut ChaCha8Rng,
    contract: &'c Contract,
    regimen: Regimen,
    not: &'c Administradora,
) -> &'c Administradora {
    let candidates = || {
        contract
            .administradoras
            .iter()
            .filter(move |a| a.regimen == regimen && a.codigo != not.codigo)
    };
    match candidates().count() {
        0 => not,
        n => candidates().nth(rng.random_range(0..n)).unwrap_or(not),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain;
    use crate::generator::AcceptedAffiliation;
    use crate::generator::config::tests::config;
    use crate::generator::identity::IDENTITY_LIMIT;
    use std::collections::HashSet;

    #[test]
    fn the_json_fast_path_writes_what_serde_writes() {
        // Every administrator (both regimes, every novelty), several seeds and
        // workers: the engine's writer and serde_json agree byte for byte, and
        // both generators stay in step.
        let mut buf = Vec::new();
        for admin in ["230301", "230201", "231001", "230901", "25-14"] {
            for seed in [1, 7, 1234] {
                let mut c = GeneratorConfig::new(Contract::embedded(), seed, admin);
                c.as_of = NaiveDate::from_ymd_opt(2026, 2, 27).expect("date");
                c.worker = (seed % 3) as u16;
                let mut by_struct = AffiliationGenerator::new(c.clone()).expect("generator");
                let mut by_writer = AffiliationGenerator::new(c).expect("generator");
                for _ in 0..3_000 {
                    let a = by_struct.next_affiliation().expect("affiliation");
                    let drawn = by_writer.next_affiliation_json(&mut buf).expect("json");
                    let want = serde_json::to_vec(&a).expect("serialize");
                    assert_eq!(
                        String::from_utf8_lossy(&buf),
                        String::from_utf8_lossy(&want),
                        "administrator {admin} seed {seed}"
                    );
                    assert_eq!(drawn.accepted("T1"), AcceptedAffiliation::of(&a, "T1"));
                }
            }
        }
    }

    #[test]
    fn same_seed_same_records_other_seed_other_records() {
        let take = |seed| {
            let mut g = AffiliationGenerator::new(config(seed)).expect("generator");
            (0..50)
                .map(|_| g.next_affiliation().expect("record"))
                .collect::<Vec<_>>()
        };
        assert_eq!(take(7), take(7));
        assert_ne!(take(7), take(8));
    }

    #[test]
    fn document_numbers_match_their_type_in_the_contract() {
        let contract = Contract::embedded();
        let mut g = AffiliationGenerator::new(config(4)).expect("generator");
        for (i, t) in contract.tipos_documento.iter().enumerate() {
            if t.peso_generacion == 0 {
                continue;
            }
            for identity in [0, 1, 123_456_789, IDENTITY_LIMIT - 1] {
                let numero = g.document(i, identity).expect("document");
                assert!(t.patron_numero.is_match(&numero), "{} {numero}", t.codigo);
            }
        }
    }

    #[test]
    fn records_obey_the_rules() {
        let mut g = AffiliationGenerator::new(config(11)).expect("generator");
        let e = Contract::embedded().enumerations();
        let mut novedades = HashSet::new();
        for _ in 0..5000 {
            let a = g.next_affiliation().expect("record");
            let novedad = e.parse::<Novedad>(&a.tipo_novedad).expect("tipoNovedad");
            novedades.insert(novedad);
            let age = rules::age_on(a.fecha_nacimiento, a.fecha_solicitud);
            assert!((18..=75).contains(&age), "age {age}");
            assert!(a.fecha_solicitud <= g.config().as_of);
            if novedad == Novedad::TrasladoRegimen {
                let sexo = e.parse::<Sexo>(&a.sexo).expect("sexo");
                assert!(domain::may_transfer_regime(
                    sexo,
                    a.fecha_nacimiento,
                    a.fecha_solicitud
                ));
                assert_eq!(a.asesoria_doble.as_deref(), Some("S"));
                assert_eq!(a.codigo_administradora_origen.as_deref(), Some("25-14"));
            }
            if let (Some(nit), Some(dv)) = (&a.numero_documento_empleador, &a.digito_verificacion) {
                assert_eq!(
                    rules::nit_check_digit(nit).map(|d| d.to_string()).as_ref(),
                    Some(dv)
                );
            }
        }
        assert_eq!(novedades.len(), 3);
    }

    #[test]
    fn colpensiones_reports_no_administrator_switch() {
        let mut c = config(5);
        c.administradora = "25-14".into();
        let mut g = AffiliationGenerator::new(c).expect("generator");
        for _ in 0..500 {
            let a = g.next_affiliation().expect("record");
            assert_ne!(a.tipo_novedad, "TRASLADO_ADMINISTRADORA");
            assert_eq!(a.regimen_destino, "RPM");
        }
    }
}
