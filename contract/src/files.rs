//! Reading and checking each contract file: the rows of the CSV files as
//! serde types, the checks of `tipos_documento.csv` and `errores.csv`, and the
//! `x-codigos` of `openapi.json` against `errores.csv`. An inconsistent file is
//! refused with one line naming file, row and column.

use serde::Deserialize;

use crate::{CodigoRespuesta, ContractError, Role, TipoDocumento};
use regex::Regex;

/// Parse `tipos_documento.csv`: patterns that compile, S/N flags, integer
/// weights (0 for a type not allowed for pensions) whose sum over the allowed
/// types is above 0.
pub(crate) fn tipos_documento(file: &str, text: &str) -> Result<Vec<TipoDocumento>, ContractError> {
    let rows = read_csv::<TipoDocumentoRow>(file, text)?;
    let mut tipos = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let row = i + 2;
        let patron_numero = Regex::new(&r.patron_numero).map_err(|e| {
            cell(
                file,
                row,
                "patron_numero",
                format!("bad pattern {:?}: {}", r.patron_numero, one_line(&e)),
            )
        })?;
        let permitido_pensiones = yes_no(file, row, "permitido_pensiones", &r.permitido_pensiones)?;
        let empleador = yes_no(file, row, "empleador", &r.empleador)?;
        let peso_generacion = match r.peso_generacion.trim() {
            "" => 0,
            w => w.parse::<u32>().map_err(|_| {
                cell(
                    file,
                    row,
                    "peso_generacion",
                    format!("{w:?} is not a non-negative integer"),
                )
            })?,
        };
        if peso_generacion > 0 && !permitido_pensiones {
            return Err(cell(
                file,
                row,
                "peso_generacion",
                format!(
                    "{} is not allowed for pensions: its weight must be 0",
                    r.codigo
                ),
            ));
        }
        let edad_maxima = match r.edad_maxima.trim() {
            "" => None,
            a => Some(
                a.parse::<u32>()
                    .map_err(|_| cell(file, row, "edad_maxima", format!("{a:?} is not an age")))?,
            ),
        };
        if tipos.iter().any(|t: &TipoDocumento| t.codigo == r.codigo) {
            return Err(cell(
                file,
                row,
                "codigo",
                format!("{} is listed twice", r.codigo),
            ));
        }
        tipos.push(TipoDocumento {
            codigo: r.codigo,
            significado: r.significado,
            patron_numero,
            permitido_pensiones,
            empleador,
            peso_generacion,
            edad_maxima,
            row,
        });
    }
    let adult: u64 = tipos
        .iter()
        .filter(|t| t.edad_maxima.is_none())
        .map(|t| u64::from(t.peso_generacion))
        .sum();
    if adult == 0 {
        return Err(cell(
            file,
            tipos.len() + 1,
            "peso_generacion",
            "the weights of the types without edad_maxima sum to 0: the generator could draw none"
                .to_owned(),
        ));
    }
    Ok(tipos)
}

/// An `S`/`N` column of row `row`.
fn yes_no(file: &str, row: usize, column: &str, value: &str) -> Result<bool, ContractError> {
    match value {
        "S" => Ok(true),
        "N" => Ok(false),
        other => Err(cell(
            file,
            row,
            column,
            format!("expected S or N, found {other:?}"),
        )),
    }
}

/// An error's text on one line (a regex syntax error spans several).
pub(crate) fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// Parse `errores.csv`: every codigo once, a known role at most once per
/// role and every role present, a plausible HTTP status (2xx for `stored`).
pub(crate) fn codigos(
    file: &str,
    text: &str,
) -> Result<(Vec<CodigoRespuesta>, [usize; Role::ALL.len()]), ContractError> {
    let rows = read_csv::<CodigoRow>(file, text)?;
    let mut roles = [usize::MAX; Role::ALL.len()];
    let mut codigos = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let row = i + 2;
        if r.codigo.trim().is_empty() || r.codigo.trim() != r.codigo {
            return Err(cell(
                file,
                row,
                "codigo",
                format!("bad codigo {:?}", r.codigo),
            ));
        }
        if !(100..=599).contains(&r.http_status) {
            return Err(cell(
                file,
                row,
                "http_status",
                format!("{} is not an HTTP status", r.http_status),
            ));
        }
        if codigos
            .iter()
            .any(|c: &CodigoRespuesta| c.codigo == r.codigo)
        {
            return Err(cell(
                file,
                row,
                "codigo",
                format!("{} is listed twice", r.codigo),
            ));
        }
        let rol = match r.rol.trim() {
            "" => None,
            key => {
                let role = Role::from_key(key).ok_or_else(|| {
                    cell(
                        file,
                        row,
                        "rol",
                        format!(
                            "unknown role {key:?}; one of {}",
                            Role::ALL.map(Role::key).join(", ")
                        ),
                    )
                })?;
                if roles[role.index()] != usize::MAX {
                    return Err(cell(
                        file,
                        row,
                        "rol",
                        format!("role {key} is already played by another codigo"),
                    ));
                }
                if role == Role::Stored && !(200..300).contains(&r.http_status) {
                    return Err(cell(
                        file,
                        row,
                        "http_status",
                        "the stored codigo must have a 2xx status".to_owned(),
                    ));
                }
                roles[role.index()] = i;
                Some(role)
            }
        };
        codigos.push(CodigoRespuesta {
            http_status: r.http_status,
            codigo: r.codigo,
            significado: r.significado,
            fuente: r.fuente,
            rol,
        });
    }
    if let Some(missing) = Role::ALL
        .into_iter()
        .find(|r| roles[r.index()] == usize::MAX)
    {
        return Err(cell(
            file,
            codigos.len() + 2,
            "rol",
            format!("no codigo plays role {missing}; add a row (or a rol to an existing one)"),
        ));
    }
    Ok((codigos, roles))
}

/// A JSON pointer (RFC 6901) to the value reached by `tokens` from the
/// document's root: each token with `~` written `~0` and `/` written `~1`
/// (`/paths/~1ReportarAfiliaciontraslado/...`).
pub(crate) fn json_pointer<S: AsRef<str>>(tokens: &[S]) -> String {
    let mut out = String::new();
    for t in tokens {
        out.push('/');
        out.push_str(&t.as_ref().replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// What `mss-harness sync-contract` does, for the errors it mends.
pub(crate) const SYNC_HINT: &str =
    "`mss-harness sync-contract DIR` rewrites x-codigos from errores.csv";

/// Every `x-codigos` of `openapi.json` is listed in `errores.csv` with the
/// status it is documented under.
pub(crate) fn check_x_codigos(
    openapi: &serde_json::Value,
    codigos: &[CodigoRespuesta],
) -> Result<(), ContractError> {
    let Some(paths) = openapi.get("paths").and_then(serde_json::Value::as_object) else {
        return Ok(());
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let Some(responses) = op.get("responses").and_then(serde_json::Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                let Some(list) = response.get("x-codigos") else {
                    continue;
                };
                let at = json_pointer(&["paths", path, method, "responses", status, "x-codigos"]);
                let list = list.as_array().ok_or_else(|| {
                    invalid("openapi.json", format!("{at}: must be a list of strings"))
                })?;
                for codigo in list {
                    let codigo = codigo.as_str().ok_or_else(|| {
                        invalid("openapi.json", format!("{at}: must be a list of strings"))
                    })?;
                    let Some(entry) = codigos.iter().find(|c| c.codigo == codigo) else {
                        return Err(invalid(
                            "openapi.json",
                            format!(
                                "{at}: codigo {codigo:?} is not listed in errores.csv ({SYNC_HINT})"
                            ),
                        ));
                    };
                    if entry.http_status.to_string() != *status {
                        return Err(invalid(
                            "openapi.json",
                            format!(
                                "{at}: codigo {codigo:?} has status {} in errores.csv ({SYNC_HINT})",
                                entry.http_status
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub(crate) struct AdministradoraRow {
    pub(crate) codigo: String,
    pub(crate) nombre: String,
    pub(crate) regimen: String,
    #[serde(default)]
    pub(crate) por_defecto: String,
}

#[derive(Deserialize)]
pub(crate) struct TipoDocumentoRow {
    pub(crate) codigo: String,
    pub(crate) significado: String,
    pub(crate) patron_numero: String,
    pub(crate) permitido_pensiones: String,
    #[serde(default)]
    pub(crate) peso_generacion: String,
    #[serde(default)]
    pub(crate) edad_maxima: String,
    pub(crate) empleador: String,
}

#[derive(Deserialize)]
pub(crate) struct MunicipioRow {
    pub(crate) codigo_departamento: String,
    pub(crate) nombre_departamento: String,
    pub(crate) codigo_municipio: String,
    pub(crate) nombre_municipio: String,
    pub(crate) capital: String,
    pub(crate) poblacion: u64,
}

#[derive(Deserialize)]
pub(crate) struct CodigoRow {
    pub(crate) http_status: u16,
    pub(crate) codigo: String,
    pub(crate) significado: String,
    pub(crate) fuente: String,
    #[serde(default)]
    pub(crate) rol: String,
}

pub(crate) fn read_csv<T: for<'de> Deserialize<'de>>(
    file: &str,
    text: &str,
) -> Result<Vec<T>, ContractError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|source| ContractError::Csv {
            file: file.to_owned(),
            source,
        })
}

pub(crate) fn cell(file: &str, row: usize, column: &str, message: String) -> ContractError {
    ContractError::Cell {
        file: file.to_owned(),
        row,
        column: column.to_owned(),
        message,
    }
}

pub(crate) fn invalid(file: &str, message: String) -> ContractError {
    ContractError::Invalid {
        file: file.to_owned(),
        message,
    }
}

pub(crate) fn flag(file: &str, what: &str, value: &str) -> Result<bool, ContractError> {
    match value {
        "S" => Ok(true),
        "N" => Ok(false),
        other => Err(invalid(
            file,
            format!("{what}: expected S or N, found {other:?}"),
        )),
    }
}
