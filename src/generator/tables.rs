//! Sampling tables: those of a contract (municipalities by population, the
//! document mix, the employer's document types), built with the generator from
//! the contract it is given, and those of the data shipped with the binary
//! (the age profile, names by rank), built once; and the small fixed
//! distributions and helpers the drawing uses.
//!
//! A contract's weights are its user's data: weights that cannot be drawn by
//! (their sum overflows) are refused with the file, the row and the column,
//! never a panic.

use std::sync::OnceLock;

use chrono::{Months, NaiveDate};
use mss_contract::Contract;
use rand::RngExt;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use super::{GeneratorError, names};

/// Sampling tables of one contract. Document types are indices into its
/// `tipos_documento`.
pub(super) struct Tables {
    pub municipios: WeightedIndex<u64>,
    pub tipos: Vec<usize>,
    pub tipos_index: WeightedIndex<u32>,
    /// The types without an age limit, for members older than a drawn type allows.
    pub adultos: Vec<usize>,
    pub adultos_index: WeightedIndex<u32>,
    /// The document type of an employer that is a company: the first type
    /// that may name an employer but not a member (`empleador = S`,
    /// `permitido_pensiones = N`: the NIT), else [`employer_person`](Self::employer_person).
    pub employer_company: String,
    /// The document type of an employer that is a person: the first type
    /// that may name both (a cédula), else [`employer_company`](Self::employer_company).
    pub employer_person: String,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tables")
    }
}

/// Sampling tables of the data shipped with the binary.
pub(super) struct Fixed {
    pub ages: WeightedIndex<u32>,
    pub female: WeightedIndex<f64>,
    pub male: WeightedIndex<f64>,
    pub surnames: WeightedIndex<f64>,
}

/// A sampling table over data shipped with the binary. Its tests prove every
/// list non-empty with positive weights, so a failure here is a broken build,
/// not bad input.
fn shipped<X, I>(weights: I, what: &str) -> WeightedIndex<X>
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

fn rank_weights(n: usize) -> WeightedIndex<f64> {
    // Zipf-like: the most common names are much more common.
    shipped((0..n).map(|i| 1.0 / (i as f64 + 8.0)), "name list")
}

/// The tables of the shipped data, built once.
pub(super) fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let n = names::Names::get();
        Fixed {
            // Working-age profile of new affiliations and transfers, ages 18..=75.
            ages: shipped(
                (18..=75u32).map(|age| match age {
                    18..=24 => 100,
                    25..=34 => 130,
                    35..=44 => 110,
                    45..=54 => 70,
                    55..=64 => 30,
                    _ => 10,
                }),
                "age profile",
            ),
            female: rank_weights(n.female.len()),
            male: rank_weights(n.male.len()),
            surnames: rank_weights(n.surnames.len()),
        }
    })
}

/// An integer weight type: the largest sum its sampling table holds.
trait Capacity {
    const MAX: u128;
}

impl Capacity for u32 {
    const MAX: u128 = u32::MAX as u128;
}

impl Capacity for u64 {
    const MAX: u128 = u64::MAX as u128;
}

/// A sampling table over weights a contract file gives, row by row: `rows`
/// are (row, weight) in the file's order, `file` and `column` name them. A
/// sum past what the table holds (`X::MAX`) is refused at the row that
/// crosses it.
fn weighted<X>(
    file: &str,
    column: &str,
    rows: &[(usize, X)],
    what: &str,
) -> Result<WeightedIndex<X>, GeneratorError>
where
    X: Copy
        + Capacity
        + Into<u128>
        + rand::distr::uniform::SampleUniform
        + PartialOrd
        + rand::distr::weighted::Weight,
{
    let max = <X as Capacity>::MAX;
    let mut total: u128 = 0;
    for (row, w) in rows {
        total += (*w).into();
        if total > max {
            return Err(GeneratorError::Unsupported(format!(
                "{file}: row {row}, column {column}: the {what} add up to more than {max} by this row, which the generator cannot draw by; scale them down in proportion"
            )));
        }
    }
    WeightedIndex::new(rows.iter().map(|(_, w)| *w)).map_err(|e| {
        let row = rows.last().map_or(2, |(row, _)| *row);
        GeneratorError::Unsupported(format!(
            "{file}: row {row}, column {column}: the generator cannot draw by the {what}: {e}"
        ))
    })
}

impl Tables {
    /// The tables of `contract`, or the contract file, row and column whose
    /// weights cannot be drawn by.
    pub(super) fn new(contract: &Contract) -> Result<Tables, GeneratorError> {
        // A municipality without a population still weighs 1.
        let poblaciones: Vec<(usize, u64)> = contract
            .municipios
            .iter()
            .enumerate()
            .map(|(i, m)| (i + 2, m.poblacion.max(1)))
            .collect();
        let municipios = weighted("divipola.csv", "poblacion", &poblaciones, "populations")?;
        // The contract's weights (`peso_generacion`); its load checks that
        // the types without an age limit weigh above 0.
        let tipos: Vec<usize> = (0..contract.tipos_documento.len())
            .filter(|&i| {
                let t = &contract.tipos_documento[i];
                t.permitido_pensiones && t.peso_generacion > 0
            })
            .collect();
        let pesos = |of: &[usize]| -> Vec<(usize, u32)> {
            of.iter()
                .map(|&i| {
                    let t = &contract.tipos_documento[i];
                    (t.row, t.peso_generacion)
                })
                .collect()
        };
        let mix = "weights of the document types";
        let tipos_index = weighted(
            "tipos_documento.csv",
            "peso_generacion",
            &pesos(&tipos),
            mix,
        )?;
        let adultos: Vec<usize> = tipos
            .iter()
            .copied()
            .filter(|&i| contract.tipos_documento[i].edad_maxima.is_none())
            .collect();
        let adultos_index = weighted(
            "tipos_documento.csv",
            "peso_generacion",
            &pesos(&adultos),
            mix,
        )?;
        let employer = |member: bool| {
            contract
                .tipos_documento
                .iter()
                .find(|t| t.empleador && t.permitido_pensiones == member)
                .map(|t| t.codigo.clone())
        };
        // `check_document_types` refuses a contract without an employer type.
        let employer_company = employer(false).or(employer(true)).unwrap_or_default();
        let employer_person = employer(true).unwrap_or_else(|| employer_company.clone());
        Ok(Tables {
            employer_company,
            employer_person,
            municipios,
            tipos,
            tipos_index,
            adultos,
            adultos_index,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled contract with `edit` applied to its rows.
    fn contract_with(edit: impl FnOnce(&mut Contract)) -> Contract {
        let mut contract = Contract::clone(Contract::embedded());
        edit(&mut contract);
        contract
    }

    #[test]
    fn the_bundled_contract_draws() {
        let t = Tables::new(Contract::embedded()).expect("tables");
        assert!(!t.tipos.is_empty() && !t.adultos.is_empty());
        assert_eq!(
            (t.employer_company.as_str(), t.employer_person.as_str()),
            ("NI", "CC")
        );
    }

    #[test]
    fn weights_that_overflow_are_refused_naming_file_row_and_column() {
        // Data rows 1 and 2 (file rows 2 and 3) set so that the sum
        // overflows at the second.
        let c = contract_with(|c| {
            c.municipios[..2]
                .iter_mut()
                .for_each(|m| m.poblacion = u64::MAX);
        });
        let e = Tables::new(&c)
            .expect_err("populations overflow")
            .to_string();
        assert!(
            e.starts_with("divipola.csv: row 3, column poblacion: the populations add up"),
            "{e}"
        );
        let c = contract_with(|c| {
            c.tipos_documento[..2]
                .iter_mut()
                .for_each(|t| t.peso_generacion = 4_000_000_000);
        });
        let e = Tables::new(&c).expect_err("weights overflow").to_string();
        assert!(
            e.starts_with("tipos_documento.csv: row 3, column peso_generacion:"),
            "{e}"
        );
        // Populations of 0 weigh 1: every municipality can still be drawn.
        let c = contract_with(|c| c.municipios.iter_mut().for_each(|m| m.poblacion = 0));
        Tables::new(&c).expect("all-zero populations draw uniformly");
    }
}
