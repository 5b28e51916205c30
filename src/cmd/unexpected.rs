//! Answers whose `codigo` the contract does not list: counted per service in
//! `summary.json` and named after the run with a one-line hint saying which
//! contract file to edit.
//!
//! Such an answer is not a lost one (it is well-formed, only unknown), so the
//! engine never retries it; a real ministry that spells its codes otherwise
//! than the inferred contract shows up here once per codigo, not as a storm of
//! retries.

use serde_json::{Value, json};

use crate::domain::{Contract, Service};
use crate::engine::RunContext;

/// The hint for an unexpected `codigo` answered with HTTP `status`.
pub fn hint(service: Service, codigo: &str, status: u16, count: u64) -> String {
    let file = Contract::path_of("errores.csv");
    format!(
        "{service}: {count} answer(s) with codigo {codigo:?} (HTTP {status}), which the contract does not list: if the target is right, add the row \"{status},{codigo},<significado>,<fuente>,<rol>\" to {} (rol stored when it means the report was stored) and run again with --contract",
        file.display()
    )
}

/// Add `retries` and `unexpected_codigos` to each service of `services`
/// (the `services` object of `summary.json`).
pub fn annotate(services: &mut serde_json::Map<String, Value>, ctx: &RunContext) {
    let (sent, refused) = ctx.retries();
    let unexpected = ctx.unexpected();
    for (i, service) in Service::ALL.into_iter().enumerate() {
        let Some(entry) = services.get_mut(service.name()) else {
            continue;
        };
        entry["retries"] = json!({"sent": sent[i], "refused_by_budget": refused[i]});
        let list: Vec<Value> = unexpected
            .iter()
            .filter(|((s, _, _), _)| *s == service)
            .map(|((s, codigo, status), count)| {
                json!({
                    "codigo": codigo,
                    "http_status": status,
                    "count": count,
                    "hint": hint(*s, codigo, *status, *count),
                })
            })
            .collect();
        entry["unexpected_codigos"] = list.into();
    }
}

/// The hint lines of a summary, one per service and unexpected codigo.
pub fn hints(summary: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(services) = summary["services"].as_object() {
        for s in services.values() {
            for u in s["unexpected_codigos"].as_array().into_iter().flatten() {
                if let Some(h) = u["hint"].as_str() {
                    lines.push(format!("mss-harness: hint: {h}"));
                }
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_contract_file_and_the_status() {
        let h = hint(Service::Afiliacion, "200", 200, 7);
        assert!(h.contains("errores.csv"), "{h}");
        assert!(h.contains("HTTP 200") && h.contains("\"200\""), "{h}");
        let summary = json!({"services": {"X": {"unexpected_codigos": [{"hint": h}]}}});
        assert_eq!(hints(&summary).len(), 1);
    }
}
