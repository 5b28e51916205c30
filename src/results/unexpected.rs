//! Answers whose `codigo` the contract does not list: counted per service in
//! `summary.json` (`unexpected_codigos`) and named after the run with a
//! one-line hint saying which contract file to edit.
//!
//! Such an answer is not a lost one (it is well-formed, only unknown), so the
//! engine never retries it; a real ministry that spells its codes otherwise
//! than the inferred contract shows up here once per codigo, not as a storm of
//! retries.

use super::UnexpectedCodigo;
use super::record::UnexpectedCounts;
use crate::domain::{Contract, Service};

/// The hint for an unexpected `codigo` answered with HTTP `status`, naming
/// the `errores.csv` of `contract` (the run's).
pub fn hint(
    contract: &Contract,
    service: Service,
    codigo: &str,
    status: u16,
    count: u64,
) -> String {
    let file = contract.path_of("errores.csv");
    format!(
        "{service}: {count} answer(s) with codigo {codigo:?} (HTTP {status}), which the contract does not list: if the target is right, add the row \"{status},{codigo},<significado>,<fuente>,<rol>\" to {} (rol stored when it means the report was stored) and run again with --contract",
        file.display()
    )
}

/// `service`'s entries of `summary.json`'s `unexpected_codigos`, each with
/// its hint naming `contract`'s file, from the counts of every service.
pub fn codigos(
    contract: &Contract,
    counts: &UnexpectedCounts,
    service: Service,
) -> Vec<UnexpectedCodigo> {
    counts
        .iter()
        .filter(|((s, _, _), _)| *s == service)
        .map(|((s, codigo, status), count)| UnexpectedCodigo {
            codigo: codigo.clone(),
            http_status: *status,
            count: *count,
            hint: hint(contract, *s, codigo, *status, *count),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_contract_file_and_the_status() {
        let h = hint(Contract::embedded(), Service::Afiliacion, "200", 200, 7);
        assert!(h.contains("errores.csv"), "{h}");
        assert!(h.contains("HTTP 200") && h.contains("\"200\""), "{h}");
    }
}
