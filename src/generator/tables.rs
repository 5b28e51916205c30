//! Sampling tables built once from the contract and the name lists
//! (municipalities by population, the document mix, the age profile, names by
//! rank), and the small fixed distributions and helpers the drawing uses.

use std::sync::OnceLock;

use chrono::{Months, NaiveDate};
use mss_contract::{Contract, TipoDocumento};
use rand::RngExt;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use super::names;

/// Sampling tables built once from the contract and the name lists.
pub(super) struct Tables {
    pub municipios: WeightedIndex<u64>,
    pub tipos: Vec<&'static TipoDocumento>,
    pub tipos_index: WeightedIndex<u32>,
    /// The types without an age limit, for members older than a drawn type allows.
    pub adultos: Vec<&'static TipoDocumento>,
    pub adultos_index: WeightedIndex<u32>,
    pub ages: WeightedIndex<u32>,
    pub female: WeightedIndex<f64>,
    pub male: WeightedIndex<f64>,
    pub surnames: WeightedIndex<f64>,
    /// The document type of an employer that is a company: the first type
    /// that may name an employer but not a member (`empleador = S`,
    /// `permitido_pensiones = N`: the NIT), else [`employer_person`](Self::employer_person).
    pub employer_company: &'static str,
    /// The document type of an employer that is a person: the first type
    /// that may name both (a cédula), else [`employer_company`](Self::employer_company).
    pub employer_person: &'static str,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tables")
    }
}

fn rank_weights(n: usize) -> WeightedIndex<f64> {
    // Zipf-like: the most common names are much more common.
    weighted((0..n).map(|i| 1.0 / (i as f64 + 8.0)), "name list")
}

/// A sampling table over embedded data. The data ships with the binary and its
/// tests prove every list non-empty with positive weights, so a failure here is
/// a broken build, not bad input.
fn weighted<X, I>(weights: I, what: &str) -> WeightedIndex<X>
where
    I: IntoIterator,
    I::Item: rand::distr::uniform::SampleBorrow<X>,
    X: rand::distr::uniform::SampleUniform + PartialOrd + rand::distr::weighted::Weight,
{
    match WeightedIndex::new(weights) {
        Ok(w) => w,
        Err(e) => panic!("embedded {what} has no usable weights: {e}"),
    }
}

pub(super) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let contract = Contract::current();
        let municipios = weighted(
            contract.municipios.iter().map(|m| m.poblacion.max(1)),
            "DIVIPOLA",
        );
        // The contract's weights (`peso_generacion`); its load checks that
        // the types without an age limit weigh above 0.
        let tipos: Vec<&'static TipoDocumento> = contract
            .tipos_documento
            .iter()
            .filter(|t| t.permitido_pensiones && t.peso_generacion > 0)
            .collect();
        let tipos_index = weighted(tipos.iter().map(|t| t.peso_generacion), "document mix");
        let adultos: Vec<&'static TipoDocumento> = tipos
            .iter()
            .copied()
            .filter(|t| t.edad_maxima.is_none())
            .collect();
        let adultos_index = weighted(adultos.iter().map(|t| t.peso_generacion), "document mix");
        // Working-age profile of new affiliations and transfers, ages 18..=75.
        let ages = weighted(
            (18..=75u32).map(|age| match age {
                18..=24 => 100,
                25..=34 => 130,
                35..=44 => 110,
                45..=54 => 70,
                55..=64 => 30,
                _ => 10,
            }),
            "age profile",
        );
        let n = names::Names::get();
        let employer = |member: bool| {
            contract
                .tipos_documento
                .iter()
                .find(|t| t.empleador && t.permitido_pensiones == member)
                .map(|t| t.codigo.as_str())
        };
        // `check_document_types` refuses a contract without an employer type.
        let employer_company = employer(false).or(employer(true)).unwrap_or_default();
        let employer_person = employer(true).unwrap_or(employer_company);
        Tables {
            employer_company,
            employer_person,
            municipios,
            tipos,
            tipos_index,
            adultos,
            adultos_index,
            ages,
            female: rank_weights(n.female.len()),
            male: rank_weights(n.male.len()),
            surnames: rank_weights(n.surnames.len()),
        }
    })
}

/// Email domains and their shares.
pub(super) const EMAIL_DOMAINS: [(&str, u32); 6] = [
    ("gmail.com", 50),
    ("hotmail.com", 22),
    ("outlook.com", 10),
    ("yahoo.com", 8),
    ("yahoo.es", 5),
    ("une.net.co", 5),
];

/// Upper-case Spanish letters to ASCII lower case, for e-mail addresses.
pub(super) fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'Á' | 'á' => Some('a'),
            'É' | 'é' => Some('e'),
            'Í' | 'í' => Some('i'),
            'Ó' | 'ó' => Some('o'),
            'Ú' | 'ú' | 'Ü' | 'ü' => Some('u'),
            'Ñ' | 'ñ' => Some('n'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// `date` moved back by `years`, 29 February becoming 28 February.
pub(super) fn years_before(date: NaiveDate, years: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(12 * years))
        .unwrap_or(NaiveDate::MIN)
}

pub(super) fn weighted_pick<T>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> usize {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (i, (_, w)) in items.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    items.len().saturating_sub(1)
}
