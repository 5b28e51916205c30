//! Uniqueness within a run: [`RadicadoSpace`] hands out `numeroRadicado`s
//! (`{prefix}{tag}{A|R}{worker:03}{seq:010}`), the identity space gives each
//! person a seeded permutation of `(worker, seq)`, and the document number of
//! a type is written from that identity in a shape the contract's pattern
//! accepts, so no two people share a document.

use mss_contract::{Contract, FieldSpec, Service, TipoDocumento};

use super::GeneratorError;
use super::config::{GeneratorConfig, MAX_WORKER, mix};

/// People per worker and run before the identity space is exhausted: the
/// 9,000,000,000 ten-digit document numbers split evenly over 1,000 slots.
pub const MAX_SEQ: u64 = IDENTITY_LIMIT / (MAX_WORKER as u64 + 1);

/// Unique `numeroRadicado`s of one kind for one worker.
#[derive(Debug, Clone)]
pub struct RadicadoSpace {
    pub(super) head: String,
    next: u64,
}

impl RadicadoSpace {
    pub(super) fn new(config: &GeneratorConfig, kind: char) -> Self {
        RadicadoSpace {
            head: format!(
                "{}{}{kind}{:03}",
                config.radicado_prefix,
                config.tag(),
                config.worker
            ),
            next: 0,
        }
    }

    /// The next radicado.
    pub fn next_radicado(&mut self) -> String {
        let n = self.next_seq();
        format!("{}{n:010}", self.head)
    }

    /// The next sequence number (the radicado is `head` and it in ten digits).
    pub(super) fn next_seq(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }
}

/// Document numbers: a seeded bijection of `worker * MAX_SEQ + seq` onto
/// `0..IDENTITY_LIMIT` (then ten-digit numbers), so people are unique within a
/// run and across its workers, yet look random. Runs with different seeds use
/// different bijections: against one stateful target they may share a person
/// with probability about n²/(2·9·10⁹) for n records each, so reset the mock
/// between long runs.
#[derive(Debug, Clone)]
pub(super) struct IdentitySpace {
    keys: [u64; 4],
    worker: u16,
    next: u64,
}

const IDENTITY_BITS: u32 = 34;
const HALF_BITS: u32 = IDENTITY_BITS / 2;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
/// Values at or above this are walked again (cycle-walking) so that
/// `1_000_000_000 + v` has ten digits.
pub(super) const IDENTITY_LIMIT: u64 = 9_000_000_000;

impl IdentitySpace {
    pub(super) fn new(config: &GeneratorConfig) -> Self {
        let k = mix(config.seed ^ 0x1d);
        IdentitySpace {
            keys: [k, mix(k), mix(k ^ 1), mix(k ^ 2)],
            worker: config.worker,
            next: 0,
        }
    }

    fn permute(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
        for key in self.keys {
            let f = mix(r ^ key) & HALF_MASK;
            (l, r) = (r, l ^ f);
        }
        (l << HALF_BITS) | r
    }

    /// The next person's number in `0..IDENTITY_LIMIT`.
    pub(super) fn next_identity(&mut self) -> Result<u64, GeneratorError> {
        if self.next >= MAX_SEQ {
            return Err(GeneratorError::Exhausted {
                worker: self.worker,
            });
        }
        // x < IDENTITY_LIMIT, and cycle-walking a permutation of 0..2^34 from
        // inside that range stays a bijection on it.
        let x = u64::from(self.worker) * MAX_SEQ + self.next;
        self.next += 1;
        let mut v = self.permute(x);
        while v >= IDENTITY_LIMIT {
            v = self.permute(v);
        }
        Ok(v)
    }
}

/// Check that the generator can write a number of every document type the
/// contract weights above 0 (`tipos_documento.csv`, `peso_generacion`).
pub fn check_document_types(contract: &Contract) -> Result<(), GeneratorError> {
    document_shapes(contract).map(|_| ())
}

/// Per document type of `contract` (by codigo), the shape its numbers are
/// written in (`None` for a type the generator cannot write, allowed only at
/// weight 0); an error when no type may name an employer or a weighted type
/// has no shape.
pub(super) fn document_shapes(
    contract: &Contract,
) -> Result<Vec<(&str, Option<DocumentShape>)>, GeneratorError> {
    if !contract.tipos_documento.iter().any(|t| t.empleador) {
        return Err(GeneratorError::Unsupported(format!(
            "tipos_documento.csv: row {}, column empleador: no document type may name an employer (an employee member needs one); say S for at least one",
            contract.tipos_documento.len() + 1
        )));
    }
    let field = contract
        .service(Service::Afiliacion)
        .field("numeroDocumento");
    let mut shapes = Vec::with_capacity(contract.tipos_documento.len());
    for t in &contract.tipos_documento {
        let shape = DocumentShape::of(t, field);
        if shape.is_none() && t.peso_generacion > 0 {
            return Err(GeneratorError::Unsupported(format!(
                "tipos_documento.csv: row {}, column patron_numero: the generator writes no number of type {} that matches {:?} (and numeroDocumento's rules); give it a pattern that accepts 10 to 15 digits or 2 letters and 10 digits, or weight 0",
                t.row,
                t.codigo,
                t.patron_numero.as_str()
            )));
        }
        shapes.push((t.codigo.as_str(), shape));
    }
    Ok(shapes)
}

/// How the document numbers of one type are written: a shape that the type's
/// pattern and `numeroDocumento`'s rules accept, found once per type by
/// checking the patterns on a sample of identities (both ends of the space,
/// every digit in every place, three letter pairs), so that a record is then
/// written without running a regular expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DocumentShape {
    /// Two letters, then the identity on ten digits.
    Letters,
    /// `base + identity`, in decimal.
    Digits(u64),
}

/// Identities a shape is checked on.
const SAMPLE: [u64; 12] = [
    0,
    IDENTITY_LIMIT - 1,
    1_111_111_111,
    2_222_222_222,
    3_333_333_333,
    4_444_444_444,
    5_555_555_555,
    6_666_666_666,
    7_777_777_777,
    8_888_888_888,
    1_234_567_890,
    987_654_321,
];

impl DocumentShape {
    /// The first shape — two letters and ten digits; then ten, eleven or
    /// fifteen digits — that type `t` and `field` accept for every sampled
    /// identity (and, for the letters, every sampled pair); `None` when none
    /// is. Each shape embeds the identity whole, so two people never share a
    /// number (the letters shape always has its letters: bare, its ten digits
    /// would spell another identity's ten-digit number).
    pub(super) fn of(t: &TipoDocumento, field: Option<&FieldSpec>) -> Option<Self> {
        [
            DocumentShape::Letters,
            DocumentShape::Digits(1_000_000_000),
            DocumentShape::Digits(10_000_000_000),
            DocumentShape::Digits(100_000_000_000_000),
        ]
        .into_iter()
        .find(|shape| {
            SAMPLE.iter().all(|&identity| {
                [*b"AB", *b"ZZ", *b"QX"].iter().all(|&letters| {
                    let n = shape.write(identity, letters);
                    t.patron_numero.is_match(&n) && fits(field, &n)
                })
            })
        })
    }

    /// The number of `identity` in this shape (`letters` only for
    /// [`Letters`](Self::Letters)).
    pub(super) fn write(self, identity: u64, letters: [u8; 2]) -> String {
        match self {
            DocumentShape::Letters => {
                let mut n = String::with_capacity(12);
                n.push(char::from(letters[0]));
                n.push(char::from(letters[1]));
                n.push_str(&format!("{identity:010}"));
                n
            }
            DocumentShape::Digits(base) => (base + identity).to_string(),
        }
    }
}

/// Whether `n` meets `numeroDocumento`'s length and pattern.
fn fits(field: Option<&FieldSpec>, n: &str) -> bool {
    field.is_none_or(|f| {
        let len = n.chars().count();
        f.max_length.is_none_or(|m| len <= m)
            && f.min_length.is_none_or(|m| len >= m)
            && f.pattern.as_ref().is_none_or(|(_, re)| re.is_match(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::AffiliationGenerator;
    use crate::generator::config::tests::config;
    use std::collections::HashSet;

    #[test]
    fn identities_and_radicados_are_unique_across_workers() {
        let mut seen_docs = HashSet::new();
        let mut seen_radicados = HashSet::new();
        for worker in [0, 1, 999] {
            let mut c = config(1);
            c.worker = worker;
            let mut g = AffiliationGenerator::new(c).expect("generator");
            for _ in 0..5000 {
                let a = g.next_affiliation().expect("record");
                assert!(seen_docs.insert((a.tipo_documento.clone(), a.numero_documento.clone())));
                assert!(seen_radicados.insert(a.numero_radicado.clone()));
                assert!(a.numero_radicado.len() <= 30);
            }
        }
    }

    /// Two identities a billion apart: the ten-digit number of one must not be
    /// the other's identity written with ten digits (a 400,000-record run once
    /// had three people sharing a cédula that way, and the mock refused NEG01).
    #[test]
    fn numeric_documents_of_different_people_differ() {
        let cc = Contract::embedded().tipo_documento("CC").expect("CC");
        let field = Contract::embedded()
            .service(Service::Afiliacion)
            .field("numeroDocumento");
        let shape = DocumentShape::of(cc, field).expect("a shape for CC");
        assert_eq!(shape, DocumentShape::Digits(1_000_000_000));
        let a = shape.write(593_104_751, [0; 2]);
        let b = shape.write(1_593_104_751, [0; 2]);
        assert_ne!(a, b);
        assert_eq!(a, "1593104751");
    }

    #[test]
    fn every_worker_slot_stays_inside_the_identity_domain() {
        // The last person of the last worker is still below the limit, so the
        // cycle-walk is a bijection over every (worker, seq) a run can use.
        assert!(u64::from(MAX_WORKER) * MAX_SEQ + (MAX_SEQ - 1) < IDENTITY_LIMIT);
        let mut seen = HashSet::new();
        for worker in [0u16, 11, 536, 537, 998, 999] {
            let mut space = IdentitySpace::new(&config(1));
            space.worker = worker;
            for seq in (0..MAX_SEQ).step_by(997).take(20_000) {
                space.next = seq;
                let v = space.next_identity().expect("identity");
                assert!(v < IDENTITY_LIMIT);
                assert!(seen.insert(v), "worker {worker} seq {seq} repeats");
            }
        }
        let mut last = IdentitySpace::new(&config(1));
        last.next = MAX_SEQ;
        assert!(matches!(
            last.next_identity(),
            Err(GeneratorError::Exhausted { .. })
        ));
    }

    #[test]
    fn permutation_is_a_bijection_on_a_sample() {
        let space = IdentitySpace::new(&config(3));
        let mut seen = HashSet::new();
        for x in 0..100_000u64 {
            assert!(seen.insert(space.permute(x)));
        }
    }
}
