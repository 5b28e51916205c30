//! The `codigo` values the mock answers with. Their HTTP status and meaning live in
//! `contract/errores.csv`; a test checks that each one is there.

pub const OK: &str = "OK";
pub const AUT01: &str = "AUT01";
pub const AUT02: &str = "AUT02";
pub const AUT03: &str = "AUT03";
pub const VAL00: &str = "VAL00";
pub const VAL01: &str = "VAL01";
pub const VAL02: &str = "VAL02";
pub const VAL03: &str = "VAL03";
pub const VAL04: &str = "VAL04";
pub const VAL05: &str = "VAL05";
pub const NEG01: &str = "NEG01";
pub const NEG02: &str = "NEG02";
pub const NEG03: &str = "NEG03";
pub const NEG04: &str = "NEG04";
pub const NEG05: &str = "NEG05";
pub const NEG10: &str = "NEG10";
pub const NEG11: &str = "NEG11";
pub const NEG12: &str = "NEG12";
pub const RUT01: &str = "RUT01";
pub const RUT02: &str = "RUT02";
pub const TAM01: &str = "TAM01";

/// Every code above, for the catalogue check and the stats.
pub const ALL: [&str; 21] = [
    OK, AUT01, AUT02, AUT03, VAL00, VAL01, VAL02, VAL03, VAL04, VAL05, NEG01, NEG02, NEG03, NEG04,
    NEG05, NEG10, NEG11, NEG12, RUT01, RUT02, TAM01,
];

/// Position of `codigo` in [`ALL`].
pub fn index(codigo: &str) -> Option<usize> {
    ALL.iter().position(|c| *c == codigo)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_in_the_catalogue_and_back() {
        let contract = mss_contract::Contract::embedded();
        for code in super::ALL {
            assert!(
                contract.codigo(code).is_some(),
                "{code} missing from errores.csv"
            );
        }
        for entry in &contract.codigos {
            assert!(
                super::index(&entry.codigo).is_some(),
                "{} never emitted",
                entry.codigo
            );
        }
    }
}
