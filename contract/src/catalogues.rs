//! The code lists as `openapi.json` states them, kept equal to the CSV files,
//! and the rules a schema cannot state (`x-reglas`).
//!
//! `openapi.json` carries the catalogues so that a tool reading only the
//! OpenAPI document (Schemathesis, a generated client, a Prism mock) knows what
//! the mock accepts: `tipoDocumento` and `tipoDocumentoEmpleador` as
//! enumerations of `tipos_documento.csv` (with an `anyOf` of one branch per
//! document type giving `numeroDocumento` the type's pattern),
//! `codigoAdministradora` and `codigoAdministradoraOrigen` of
//! `administradoras.csv`, `codigoDepartamento` of `divipola.csv` with an
//! `anyOf` of one branch per department listing its municipalities; and the
//! `x-codigos` of every response of the two report services, the codigos of
//! `errores.csv` with that status whose role concerns the service
//! ([`crate::Role::services`]; a codigo without a role concerns both). The CSV
//! files stay the one source: [`check`] compares each of those with what the
//! CSV files say, and loading a contract whose document differs from its CSV
//! files fails, naming the difference and printing what the document should
//! hold; [`sync`] writes it (`mss-harness sync-contract DIR`).
//!
//! The enumerations of code-list fields stay out of [`crate::FieldSpec`]'s
//! `enumeration`: a value outside them is refused with the code list's own
//! codigo (`VAL03`, `VAL04`, `VAL05`), not as a malformed field.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::files::json_pointer;
use crate::{CodigoRespuesta, Contract, ContractError, Service, TipoDocumento};

/// A rule of the protocol that a JSON Schema cannot state (a date window, an
/// age, the regime of an administrator, the token's administrator,
/// duplicates, state), as `x-reglas` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Regla {
    /// The `codigo` of the envelope (the `error` of a token response) that
    /// refuses a request breaking it.
    pub codigo: String,
    /// The HTTP status of that answer.
    pub status: u16,
    /// The `operationId`s it applies to.
    pub operaciones: Vec<String>,
    /// The fields whose name the answer's `mensaje` carries, when the codigo
    /// alone does not tell the rule (`VAL02`).
    #[serde(default)]
    pub campos: Vec<String>,
    /// The rule, in one sentence.
    pub regla: String,
    /// Where it comes from: a law, a clause of the protocol, a contract file.
    pub fuente: String,
}

/// `x-reglas` of the contract's OpenAPI document, checked: each codigo is in
/// `errores.csv` with the same status, or is a token error of the document.
pub(crate) fn parse_reglas(contract: &Contract) -> Result<Vec<Regla>, ContractError> {
    let err = |message: String| ContractError::Invalid {
        file: "openapi.json".to_owned(),
        message: format!("x-reglas: {message}"),
    };
    let list = contract
        .openapi
        .get("x-reglas")
        .ok_or_else(|| err("missing".to_owned()))?;
    let reglas: Vec<Regla> =
        serde_json::from_value(list.clone()).map_err(|e| err(format!("{e}")))?;
    let token_errors = contract
        .openapi
        .pointer("/components/schemas/TokenError/properties/error/enum")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let operations: Vec<&str> = [
        "token",
        Service::Afiliacion.name(),
        Service::Retracto.name(),
    ]
    .into_iter()
    .collect();
    for (i, r) in reglas.iter().enumerate() {
        let at = |m: String| err(format!("[{i}] {}: {m}", r.codigo));
        if r.regla.trim().is_empty() || r.fuente.trim().is_empty() {
            return Err(at("needs `regla` and `fuente`".to_owned()));
        }
        for op in &r.operaciones {
            if !operations.contains(&op.as_str()) {
                return Err(at(format!("unknown operation {op}")));
            }
        }
        match contract.codigos.iter().find(|c| c.codigo == r.codigo) {
            Some(c) if c.http_status != r.status => {
                return Err(at(format!(
                    "status {} but errores.csv says {}",
                    r.status, c.http_status
                )));
            }
            Some(_) => {}
            None if token_errors.contains(&Value::from(r.codigo.as_str())) => {}
            None => {
                return Err(at(
                    "neither in errores.csv nor a token error of the document".to_owned(),
                ));
            }
        }
    }
    Ok(reglas)
}

/// Every place where `openapi.json` repeats a code list, with what the CSV
/// files say it must hold: (JSON pointer, expected value).
pub fn expected(contract: &Contract) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let tipos = |which: fn(&TipoDocumento) -> bool| -> Vec<&str> {
        contract
            .tipos_documento
            .iter()
            .filter(|t| which(t))
            .map(|t| t.codigo.as_str())
            .collect()
    };
    let afiliado = tipos(|t| t.permitido_pensiones);
    let empleador = tipos(|t| t.empleador);
    let administradoras: Vec<&str> = contract
        .administradoras
        .iter()
        .map(|a| a.codigo.as_str())
        .collect();
    let mut departamentos: Vec<(&str, Vec<&str>)> = Vec::new();
    for m in &contract.municipios {
        match departamentos
            .iter_mut()
            .find(|(d, _)| *d == m.codigo_departamento)
        {
            Some((_, list)) => list.push(&m.codigo_municipio),
            None => departamentos.push((&m.codigo_departamento, vec![&m.codigo_municipio])),
        }
    }
    // One `anyOf` per code list (not one `if`/`then` per value): generators
    // such as Schemathesis's handle a choice among branches, not the product
    // of dozens of conditions.
    let numero = json!({
        "x-code-list": "tipos_documento",
        "anyOf": contract
            .tipos_documento
            .iter()
            .filter(|t| t.permitido_pensiones)
            .map(|t| json!({"properties": {
                "tipoDocumento": {"const": t.codigo},
                "numeroDocumento": {"pattern": t.patron_numero.as_str()}
            }}))
            .collect::<Vec<_>>()
    });
    let divipola = json!({
        "x-code-list": "divipola",
        "anyOf": departamentos
            .iter()
            .map(|(d, m)| json!({"properties": {
                "codigoDepartamento": {"const": d},
                "codigoMunicipio": {"enum": m}
            }}))
            .collect::<Vec<_>>()
    });
    for service in [Service::Afiliacion, Service::Retracto] {
        let schema = format!("/components/schemas/{}", service.schema_name());
        let prop = |field: &str| format!("{schema}/properties/{field}/enum");
        out.push((prop("tipoDocumento"), json!(afiliado)));
        out.push((prop("codigoAdministradora"), json!(administradoras)));
        let mut branches = vec![numero.clone()];
        if service == Service::Afiliacion {
            out.push((prop("tipoDocumentoEmpleador"), json!(empleador)));
            out.push((prop("codigoAdministradoraOrigen"), json!(administradoras)));
            let codes: Vec<&str> = departamentos.iter().map(|(d, _)| *d).collect();
            out.push((prop("codigoDepartamento"), json!(codes)));
            branches.push(divipola.clone());
        }
        out.push((
            format!("{schema}/allOf (x-code-list)"),
            Value::Array(branches),
        ));
    }
    for service in Service::ALL {
        out.extend(x_codigos(contract, service));
    }
    out
}

/// Whether an answer of `service` may carry `codigo` (its role concerns the
/// service; a codigo without a role concerns both).
fn concerns(codigo: &CodigoRespuesta, service: Service) -> bool {
    codigo.rol.is_none_or(|r| r.services().contains(&service))
}

/// The `x-codigos` of each response of `service` that lists codigos, and of
/// each status a codigo of the service is answered with: the codigos of
/// `errores.csv` with that status that concern the service, in the file's order.
fn x_codigos(contract: &Contract, service: Service) -> Vec<(String, Value)> {
    let responses = json_pointer(&["paths", service.path(), "post", "responses"]);
    let mut statuses: Vec<String> = contract
        .openapi
        .pointer(&responses)
        .and_then(Value::as_object)
        .map(|r| {
            r.iter()
                .filter(|(_, response)| response.get("x-codigos").is_some())
                .map(|(status, _)| status.clone())
                .collect()
        })
        .unwrap_or_default();
    for c in contract.codigos.iter().filter(|c| concerns(c, service)) {
        let status = c.http_status.to_string();
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    statuses
        .into_iter()
        .map(|status| {
            let listed: Vec<&str> = contract
                .codigos
                .iter()
                .filter(|c| concerns(c, service) && c.http_status.to_string() == status)
                .map(|c| c.codigo.as_str())
                .collect();
            let at = json_pointer(&[
                "paths",
                service.path(),
                "post",
                "responses",
                &status,
                "x-codigos",
            ]);
            (at, json!(listed))
        })
        .collect()
}

/// `description` with the list it ends with (`... Códigos: A, B.`) replaced
/// by `codigos`; `None` when it ends with no such list.
fn described(description: &str, codigos: &Value) -> Option<String> {
    const LIST: &str = "Códigos: ";
    let at = description.rfind(LIST)?;
    let names: Vec<&str> = codigos
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    Some(format!("{}{LIST}{}.", &description[..at], names.join(", ")))
}

/// Write into `doc` what the CSV files say each code list must hold (the
/// inverse of [`check`]): every enumeration set, and in each request schema's
/// `allOf` the `x-code-list` branches replaced. Returns the pointers changed.
pub fn sync(doc: &mut Value, contract: &Contract) -> Vec<String> {
    let mut changed = Vec::new();
    for (pointer, want) in expected(contract) {
        match pointer.strip_suffix("/allOf (x-code-list)") {
            Some(schema) => {
                let Some(Value::Object(schema_obj)) = doc.pointer_mut(schema) else {
                    continue;
                };
                let all_of = schema_obj
                    .entry("allOf")
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = all_of else {
                    continue;
                };
                let before = items.clone();
                items.retain(|i| i.get("x-code-list").is_none());
                if let Value::Array(branches) = want {
                    items.extend(branches);
                }
                if *items != before {
                    changed.push(pointer);
                }
            }
            None => {
                let Some((parent, key)) = pointer.rsplit_once('/') else {
                    continue;
                };
                let Some(Value::Object(obj)) = doc.pointer_mut(parent) else {
                    continue;
                };
                if obj.get(key) == Some(&want) {
                    continue;
                }
                // A response's description repeats its codigos in prose.
                if key == "x-codigos"
                    && let Some(text) = obj
                        .get("description")
                        .and_then(Value::as_str)
                        .and_then(|d| described(d, &want))
                {
                    obj.insert("description".to_owned(), text.into());
                    changed.push(format!("{parent}/description"));
                }
                obj.insert(key.to_owned(), want);
                changed.push(pointer);
            }
        }
    }
    changed
}

/// The differences between `openapi.json` and the CSV files, one line each,
/// with the value the document should hold; empty when they agree.
pub fn check(contract: &Contract) -> Vec<String> {
    let doc = &contract.openapi;
    let mut differences = Vec::new();
    for (pointer, want) in expected(contract) {
        let found = match pointer.strip_suffix("/allOf (x-code-list)") {
            // The branches generated from a code list: the `allOf` items that
            // carry `x-code-list`, in order.
            Some(schema) => Some(Value::Array(
                doc.pointer(&format!("{schema}/allOf"))
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter(|i| i.get("x-code-list").is_some())
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            None => doc.pointer(&pointer).cloned(),
        };
        if found.as_ref() != Some(&want) {
            differences.push(format!(
                "{pointer}: the CSV files say {want}, the document has {}",
                found.map_or_else(|| "nothing".to_owned(), |v| v.to_string())
            ));
        }
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_states_the_csv_files() {
        let c = Contract::load_embedded().expect("embedded");
        assert_eq!(check(&c), Vec::<String>::new());
        let afiliacion = &c.openapi["components"]["schemas"]["ReportarAfiliaciontrasladoRequest"];
        assert_eq!(
            afiliacion["properties"]["tipoDocumentoEmpleador"]["enum"],
            json!(["CC", "CE", "NI"])
        );
        // The 3 conditions, then one choice per code list: 8 document types,
        // one branch per department.
        let all_of = afiliacion["allOf"].as_array().expect("allOf");
        assert_eq!(all_of.len(), 3 + 2);
        let departamentos = c
            .municipios
            .iter()
            .map(|m| &m.codigo_departamento)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        assert_eq!(all_of[3]["anyOf"].as_array().map(Vec::len), Some(8));
        assert_eq!(
            all_of[4]["anyOf"].as_array().map(Vec::len),
            Some(departamentos)
        );
    }

    /// A contract folder: the embedded files, `edit` applied to `openapi.json`.
    fn folder_with(edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mss-contract-catalogues-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        for name in [
            "administradoras.csv",
            "tipos_documento.csv",
            "divipola.csv",
            "errores.csv",
        ] {
            std::fs::copy(crate::source_dir().join(name), dir.join(name)).expect("copy");
        }
        let mut doc: Value = serde_json::from_str(
            &std::fs::read_to_string(crate::source_dir().join("openapi.json")).expect("read"),
        )
        .expect("json");
        edit(&mut doc);
        std::fs::write(dir.join("openapi.json"), doc.to_string()).expect("write");
        dir
    }

    /// An edit of the document, and what the error must name.
    type Drift = (&'static str, fn(&mut Value));

    /// The embedded files in a folder, with the success codigo `OK` renamed
    /// `200` in `errores.csv` only.
    fn folder_with_success_renamed() -> std::path::PathBuf {
        let dir = folder_with(|_| {});
        let path = dir.join("errores.csv");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("\n200,OK,"), "{text}");
        std::fs::write(&path, text.replace("\n200,OK,", "\n200,200,")).expect("write");
        dir
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        assert_eq!(
            json_pointer(&["paths", "/Reportar~X", "post"]),
            "/paths/~1Reportar~0X/post"
        );
        let doc = json!({"paths": {"/a~b": {"post": 1}}});
        assert_eq!(
            doc.pointer(&json_pointer(&["paths", "/a~b", "post"])),
            Some(&json!(1))
        );
    }

    #[test]
    fn renaming_the_success_codigo_is_one_edit_and_a_sync() {
        let dir = folder_with_success_renamed();
        // Refused until synced: the error's pointer is one a JSON tool can
        // follow (RFC 6901), and it says which command mends it.
        let err = Contract::from_dir(&dir)
            .expect_err("stale x-codigos")
            .to_string();
        let pointer = "/paths/~1ReportarAfiliaciontraslado/post/responses/200/x-codigos";
        assert!(err.contains(&format!("{pointer}: codigo \"OK\"")), "{err}");
        assert!(err.contains("sync-contract"), "{err}");
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("openapi.json")).expect("read"))
                .expect("json");
        assert_eq!(doc.pointer(pointer), Some(&json!(["OK"])));

        let changed = Contract::sync_code_lists(&dir).expect("sync");
        for service in Service::ALL {
            let at = json_pointer(&["paths", service.path(), "post", "responses", "200"]);
            assert!(changed.contains(&format!("{at}/x-codigos")), "{changed:?}");
            assert!(
                changed.contains(&format!("{at}/description")),
                "{changed:?}"
            );
        }
        // Only the success responses changed.
        assert_eq!(changed.len(), 4, "{changed:?}");
        let c = Contract::from_dir(&dir).expect("loads once synced");
        assert_eq!(c.codigo_of(crate::Role::Stored), "200");
        assert_eq!(c.openapi.pointer(pointer), Some(&json!(["200"])));
        assert_eq!(
            c.openapi
                .pointer(&pointer.replace("/x-codigos", "/description"))
                .and_then(Value::as_str),
            Some("Reporte aceptado; numeroTransaccion identifica la transacción. Códigos: 200.")
        );
        // A second sync has nothing to do.
        assert_eq!(
            Contract::sync_code_lists(&dir).expect("sync"),
            Vec::<String>::new()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_response_that_lists_too_few_codigos_does_not_load() {
        let dir = folder_with(|d| {
            d["paths"]["/ReportarRetractoAfiliacion"]["post"]["responses"]["422"]["x-codigos"] =
                json!(["NEG10"]);
        });
        let err = Contract::from_dir(&dir)
            .expect_err("NEG11 missing")
            .to_string();
        assert!(
            err.contains(
                "/paths/~1ReportarRetractoAfiliacion/post/responses/422/x-codigos: the CSV files say [\"NEG10\",\"NEG11\"]"
            ),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_document_that_drifts_from_the_csv_files_does_not_load() {
        let cases: [Drift; 4] = [
            ("tipoDocumento/enum", |d| {
                d["components"]["schemas"]["ReportarRetractoAfiliacionRequest"]["properties"]
                    ["tipoDocumento"]["enum"]
                    .as_array_mut()
                    .expect("enum")
                    .push("RC".into())
            }),
            ("codigoAdministradoraOrigen/enum", |d| {
                d["components"]["schemas"]["ReportarAfiliaciontrasladoRequest"]["properties"]
                    ["codigoAdministradoraOrigen"]
                    .as_object_mut()
                    .expect("field")
                    .remove("enum");
            }),
            ("allOf (x-code-list)", |d| {
                d["components"]["schemas"]["ReportarAfiliaciontrasladoRequest"]["allOf"][4]["then"]
                    ["properties"]["numeroDocumento"]["pattern"] = "^[0-9]+$".into()
            }),
            ("allOf (x-code-list)", |d| {
                d["components"]["schemas"]["ReportarAfiliaciontrasladoRequest"]["allOf"]
                    .as_array_mut()
                    .expect("allOf")
                    .pop();
            }),
        ];
        for (needle, edit) in cases {
            let dir = folder_with(edit);
            let err = Contract::from_dir(&dir).expect_err(needle).to_string();
            assert!(err.contains(needle), "{needle}: {err}");
            let _ = std::fs::remove_dir_all(&dir);
        }
        // The unchanged files load.
        let dir = folder_with(|_| {});
        Contract::from_dir(&dir).expect("unchanged");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn x_reglas_lists_the_rules_with_codes_of_the_contract() {
        let c = Contract::load_embedded().expect("embedded");
        let r = c.reglas();
        let codes: std::collections::BTreeSet<&str> = r.iter().map(|r| r.codigo.as_str()).collect();
        for codigo in [
            "invalid_client",
            "invalid_grant",
            "VAL02",
            "VAL04",
            "AUT03",
            "NEG01",
            "NEG02",
            "NEG03",
            "NEG04",
            "NEG05",
            "NEG10",
            "NEG11",
            "NEG12",
        ] {
            assert!(codes.contains(codigo), "{codigo} missing from x-reglas");
        }
        // A status that errores.csv contradicts, and an unknown codigo: refused.
        for (i, field, value, needle) in [
            (2, "status", json!(422), "errores.csv says 400"),
            (3, "codigo", json!("VAL99"), "neither in errores.csv"),
            (4, "operaciones", json!(["Reportar"]), "unknown operation"),
        ] {
            let dir = folder_with(|d| d["x-reglas"][i][field] = value);
            let err = Contract::from_dir(&dir).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
