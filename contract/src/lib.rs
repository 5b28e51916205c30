//! The MSPS protocol as data: the one machine-readable home of the contract.
//!
//! The files beside this crate (`openapi.json`, `administradoras.csv`,
//! `tipos_documento.csv`, `divipola.csv`, `errores.csv`) are the contract; this
//! crate embeds them at compile time and parses them into typed tables. Nothing
//! else in the workspace keeps a copy of a code list, a field length or an
//! enumeration: the mock, the generator and the conformance suite read them from
//! here, so that replacing the inferred parts with the ministry's technical annex
//! is a change of data, not of code.
//!
//! It also holds what both sides need to agree on that is law rather than
//! validation: the rule limits ([`rules`]) and the Colombian business-day
//! calendar ([`calendar`]).

pub mod calendar;
pub mod catalogues;
pub mod codes;
pub mod enumerations;
mod files;
pub mod rules;
mod spec;

use files::{
    AdministradoraRow, MunicipioRow, check_x_codigos, codigos, flag, invalid, read_csv,
    tipos_documento,
};
pub(crate) use files::{cell, one_line};

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use regex::Regex;

pub use catalogues::Regla;
pub use codes::Role;
pub use enumerations::{Enumerated, Enumerations, Novedad, SiNo, TipoAfiliado};
pub use spec::{CodeList, Condition, FieldSpec, Format, ServiceSpec};

/// The embedded contract files, by name.
const EMBEDDED: [(&str, &str); 5] = [
    ("openapi.json", include_str!("../openapi.json")),
    (
        "administradoras.csv",
        include_str!("../administradoras.csv"),
    ),
    (
        "tipos_documento.csv",
        include_str!("../tipos_documento.csv"),
    ),
    ("divipola.csv", include_str!("../divipola.csv")),
    ("errores.csv", include_str!("../errores.csv")),
];

/// Path of the contract folder in the source tree (for tests and tools that
/// validate against the files themselves).
pub fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What went wrong loading a contract file.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A file could not be read.
    #[error("cannot read contract file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV row could not be parsed.
    #[error("{file}: {source}")]
    Csv {
        /// The file name.
        file: String,
        /// The cause, with its line.
        source: csv::Error,
    },
    /// A cell of a CSV file is wrong.
    #[error("{file}: row {row}, column {column}: {message}")]
    Cell {
        /// The file name.
        file: String,
        /// The row, counting the header as row 1 (the line of a one-line row).
        row: usize,
        /// The column's name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A value is present but wrong.
    #[error("{file}: {message}")]
    Invalid {
        /// The file name.
        file: String,
        /// What is wrong and where.
        message: String,
    },
}

/// The two pension regimes; mutually exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regimen {
    /// Régimen de Prima Media (Colpensiones).
    Rpm,
    /// Régimen de Ahorro Individual con Solidaridad (the AFPs).
    Rais,
}

/// Its spelling (`regimenDestino`) is the contract's:
/// [`Enumerations::spelling`].
impl Regimen {
    /// The other regime.
    pub fn other(self) -> Self {
        match self {
            Self::Rpm => Self::Rais,
            Self::Rais => Self::Rpm,
        }
    }
}

/// A pension administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administradora {
    /// Its code, e.g. `230301`.
    pub codigo: String,
    /// Its name, e.g. `Porvenir`.
    pub nombre: String,
    /// Its regime.
    pub regimen: Regimen,
    /// Whether it is the administrator commands report for when none is
    /// named (`por_defecto`; exactly one row says `S`).
    pub por_defecto: bool,
}

/// An identity document type.
#[derive(Debug, Clone)]
pub struct TipoDocumento {
    /// Two-letter code, e.g. `CC`.
    pub codigo: String,
    /// What it is.
    pub significado: String,
    /// Pattern a document number of this type must match.
    pub patron_numero: Regex,
    /// Whether pension members may be reported with it.
    pub permitido_pensiones: bool,
    /// Its share of the generator's synthetic members (`peso_generacion`; 0:
    /// never drawn). The weights of the types allowed for pensions sum above 0.
    pub peso_generacion: u32,
    /// The oldest age at which a member may hold it (`edad_maxima`; e.g. the
    /// tarjeta de identidad), when it has one.
    pub edad_maxima: Option<u32>,
    /// Its row in `tipos_documento.csv` (the header is row 1).
    pub row: usize,
    /// Whether an employer may be named with it (`tipoDocumentoEmpleador`).
    pub empleador: bool,
}

/// A municipality of the DIVIPOLA subset the contract ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipio {
    /// Department code, 2 digits.
    pub codigo_departamento: String,
    /// Department name.
    pub nombre_departamento: String,
    /// Municipality code within the department, 3 digits.
    pub codigo_municipio: String,
    /// Municipality name.
    pub nombre_municipio: String,
    /// Whether it is the department's capital.
    pub capital: bool,
    /// Approximate population, used as a sampling weight.
    pub poblacion: u64,
}

impl Municipio {
    /// The 5-digit DIVIPOLA code.
    pub fn divipola(&self) -> String {
        format!("{}{}", self.codigo_departamento, self.codigo_municipio)
    }
}

/// One entry of the response-code catalogue (`errores.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodigoRespuesta {
    /// HTTP status that goes with it.
    pub http_status: u16,
    /// The `codigo` of the envelope, e.g. `NEG11`.
    pub codigo: String,
    /// What it means.
    pub significado: String,
    /// Where it comes from (`inferido` for everything the mock invents).
    pub fuente: String,
    /// What it means to the harness and the mock (`rol`), when it has a role.
    pub rol: Option<Role>,
}

/// The two report services of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// `ReportarAfiliaciontraslado`.
    Afiliacion,
    /// `ReportarRetractoAfiliacion`.
    Retracto,
}

impl Service {
    /// Both services.
    pub const ALL: [Service; 2] = [Service::Afiliacion, Service::Retracto];

    /// The protocol's name of the service, which is also its path.
    pub fn name(self) -> &'static str {
        match self {
            Self::Afiliacion => "ReportarAfiliaciontraslado",
            Self::Retracto => "ReportarRetractoAfiliacion",
        }
    }

    /// The path, as the protocol spells it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Afiliacion => "/ReportarAfiliaciontraslado",
            Self::Retracto => "/ReportarRetractoAfiliacion",
        }
    }

    /// The name of its request schema in `openapi.json`.
    pub fn schema_name(self) -> &'static str {
        match self {
            Self::Afiliacion => "ReportarAfiliaciontrasladoRequest",
            Self::Retracto => "ReportarRetractoAfiliacionRequest",
        }
    }

    /// The service whose name matches `name`, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The whole contract, parsed. A value: a command reads it once (the
/// bundled one, [`embedded`](Self::embedded), or a folder,
/// [`from_dir`](Self::from_dir)) and hands it to what it runs; two contracts
/// may live side by side in one process.
#[derive(Clone)]
pub struct Contract {
    /// Administrators (`administradoras.csv`).
    pub administradoras: Vec<Administradora>,
    /// Document types (`tipos_documento.csv`).
    pub tipos_documento: Vec<TipoDocumento>,
    /// DIVIPOLA subset (`divipola.csv`).
    pub municipios: Vec<Municipio>,
    /// Response codes (`errores.csv`).
    pub codigos: Vec<CodigoRespuesta>,
    /// The OpenAPI document itself.
    pub openapi: serde_json::Value,
    afiliacion: ServiceSpec,
    retracto: ServiceSpec,
    municipio_index: HashMap<u32, usize>,
    roles: [usize; Role::ALL.len()],
    reglas: Vec<Regla>,
    enumerations: Enumerations,
    /// The folder it was read from; `None`: the contract compiled in.
    dir: Option<PathBuf>,
}

/// Where it came from and what it holds, not every row.
impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contract")
            .field("dir", &self.dir)
            .field("administradoras", &self.administradoras.len())
            .field("tipos_documento", &self.tipos_documento.len())
            .field("municipios", &self.municipios.len())
            .field("codigos", &self.codigos.len())
            .finish_non_exhaustive()
    }
}

/// A reader of the contract files in `dir`.
fn read_from(dir: &Path) -> impl FnMut(&str) -> Result<String, ContractError> + '_ {
    move |name| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| ContractError::Io { path, source })
    }
}

/// The 5-digit DIVIPOLA code as a number, when both parts are all digits of the
/// right length.
fn divipola_key(departamento: &str, municipio: &str) -> Option<u32> {
    if departamento.len() != 2 || municipio.len() != 3 {
        return None;
    }
    departamento
        .bytes()
        .chain(municipio.bytes())
        .try_fold(0u32, |acc, b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
}

impl Contract {
    /// The contract compiled into this binary, parsed once and shared: what a
    /// command's entry point (or a test) hands down when no `--contract DIR`
    /// names another. Library code never reaches for it: it is given a
    /// contract.
    ///
    /// The embedded files are checked by this crate's tests; a failure here means
    /// the build shipped a broken contract, which is a bug, so it panics.
    pub fn embedded() -> &'static Arc<Contract> {
        static CONTRACT: OnceLock<Arc<Contract>> = OnceLock::new();
        CONTRACT.get_or_init(|| match Self::load_embedded() {
            Ok(contract) => Arc::new(contract),
            Err(e) => panic!("the embedded contract is invalid: {e}"),
        })
    }

    /// Parse the contract compiled into this binary.
    pub fn load_embedded() -> Result<Contract, ContractError> {
        Self::parse(
            |name| {
                EMBEDDED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, text)| (*text).to_owned())
                    .ok_or_else(|| invalid(name, "not embedded".to_owned()))
            },
            true,
        )
    }

    /// Load a contract from a folder holding the same files (e.g. one edited from
    /// the ministry's technical annex).
    pub fn from_dir(dir: &Path) -> Result<Contract, ContractError> {
        let mut contract = Self::parse(read_from(dir), true)?;
        contract.dir = Some(dir.to_owned());
        Ok(contract)
    }

    /// Rewrite the code lists that `dir/openapi.json` repeats (enumerations,
    /// the `x-code-list` branches and the responses' `x-codigos`,
    /// [`catalogues`]) from the folder's CSV files, after an annex changed a
    /// CSV file. Returns the JSON pointers that changed; the folder then
    /// loads with [`from_dir`](Self::from_dir).
    pub fn sync_code_lists(dir: &Path) -> Result<Vec<String>, ContractError> {
        let contract = Self::parse(read_from(dir), false)?;
        let mut doc = contract.openapi.clone();
        let changed = catalogues::sync(&mut doc, &contract);
        if !changed.is_empty() {
            let path = dir.join("openapi.json");
            let mut text = serde_json::to_string_pretty(&doc)
                .map_err(|e| invalid("openapi.json", e.to_string()))?;
            text.push('\n');
            std::fs::write(&path, text).map_err(|source| ContractError::Io { path, source })?;
        }
        Self::from_dir(dir)?;
        Ok(changed)
    }

    fn parse(
        mut read: impl FnMut(&str) -> Result<String, ContractError>,
        check_code_lists: bool,
    ) -> Result<Contract, ContractError> {
        let file = "administradoras.csv";
        // The regimes are spelled as `openapi.json`'s `regimenDestino`: read
        // below, once that file is parsed.
        let administradora_rows = read_csv::<AdministradoraRow>(file, &read(file)?)?;
        if administradora_rows
            .iter()
            .filter(|r| r.por_defecto.trim() == "S")
            .count()
            != 1
        {
            return Err(cell(
                file,
                administradora_rows.len() + 1,
                "por_defecto",
                "exactly one administrator must say S (the default one)".to_owned(),
            ));
        }

        let file = "tipos_documento.csv";
        let tipos_documento = tipos_documento(file, &read(file)?)?;

        let file = "divipola.csv";
        let municipios = read_csv::<MunicipioRow>(file, &read(file)?)?
            .into_iter()
            .map(|r| {
                let code = format!("{}{}", r.codigo_departamento, r.codigo_municipio);
                if r.codigo_departamento.len() != 2
                    || r.codigo_municipio.len() != 3
                    || !code.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid(file, format!("bad DIVIPOLA code {code:?}")));
                }
                Ok(Municipio {
                    capital: flag(file, &code, &r.capital)?,
                    codigo_departamento: r.codigo_departamento,
                    nombre_departamento: r.nombre_departamento,
                    codigo_municipio: r.codigo_municipio,
                    nombre_municipio: r.nombre_municipio,
                    poblacion: r.poblacion,
                })
            })
            .collect::<Result<Vec<_>, ContractError>>()?;
        if municipios.is_empty() {
            return Err(cell(
                file,
                2,
                "codigo_municipio",
                "no municipality is listed".to_owned(),
            ));
        }
        let mut municipio_index = HashMap::with_capacity(municipios.len());
        for (i, m) in municipios.iter().enumerate() {
            let key = divipola_key(&m.codigo_departamento, &m.codigo_municipio)
                .ok_or_else(|| invalid(file, format!("bad DIVIPOLA code {}", m.divipola())))?;
            if municipio_index.insert(key, i).is_some() {
                return Err(invalid(file, format!("duplicate code {}", m.divipola())));
            }
        }

        let file = "errores.csv";
        let (codigos, roles) = codigos(file, &read(file)?)?;

        let file = "openapi.json";
        let openapi: serde_json::Value = serde_json::from_str(&read(file)?)
            .map_err(|e| invalid(file, format!("not valid JSON: {e}")))?;
        let afiliacion = ServiceSpec::from_openapi(&openapi, Service::Afiliacion)?;
        let retracto = ServiceSpec::from_openapi(&openapi, Service::Retracto)?;
        // What `sync_code_lists` rewrites is checked only when loading.
        if check_code_lists {
            check_x_codigos(&openapi, &codigos)?;
        }
        let enumerations = Enumerations::from_openapi(&openapi, &afiliacion)?;
        enumerations::check_conditions(&afiliacion)?;
        enumerations::check_conditions(&retracto)?;
        let administradoras = administradora_rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let regimen = enumerations.parse::<Regimen>(&r.regimen).ok_or_else(|| {
                    cell(
                        "administradoras.csv",
                        i + 2,
                        "regimen",
                        format!(
                            "{}: unknown regime {:?}; openapi.json's regimenDestino spells them {}",
                            r.codigo,
                            r.regimen,
                            <Regimen as Enumerated>::spellings(&enumerations).join(", ")
                        ),
                    )
                })?;
                Ok(Administradora {
                    por_defecto: r.por_defecto.trim() == "S",
                    codigo: r.codigo,
                    nombre: r.nombre,
                    regimen,
                })
            })
            .collect::<Result<Vec<_>, ContractError>>()?;

        let mut contract = Contract {
            administradoras,
            tipos_documento,
            municipios,
            codigos,
            openapi,
            afiliacion,
            retracto,
            municipio_index,
            roles,
            reglas: Vec::new(),
            enumerations,
            dir: None,
        };
        let differences = catalogues::check(&contract);
        if check_code_lists && !differences.is_empty() {
            return Err(invalid(
                file,
                format!(
                    "the code lists differ from the CSV files (`mss-harness sync-contract DIR` rewrites them from the CSV files):\n{}",
                    differences.join("\n")
                ),
            ));
        }
        contract.reglas = catalogues::parse_reglas(&contract)?;
        Ok(contract)
    }

    /// The spelling of the protocol's enumeration values ([`enumerations`]).
    pub fn enumerations(&self) -> &Enumerations {
        &self.enumerations
    }

    /// The rules no schema states (`x-reglas` of `openapi.json`).
    pub fn reglas(&self) -> &[Regla] {
        &self.reglas
    }

    /// The folder this contract was read from ([`from_dir`](Self::from_dir));
    /// `None` for the contract compiled in.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where a user edits this contract's file `name`: in the folder it was
    /// read from, else (the contract compiled in) in the repository's
    /// `contract/`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(name),
            None => Path::new("contract").join(name),
        }
    }

    /// The entry of `errores.csv` that plays `role`.
    pub fn code(&self, role: Role) -> &CodigoRespuesta {
        &self.codigos[self.roles[role.index()]]
    }

    /// The `codigo` that plays `role`.
    pub fn codigo_of(&self, role: Role) -> &str {
        &self.code(role).codigo
    }

    /// The role `codigo` plays, when the contract lists it with one.
    pub fn role_of(&self, codigo: &str) -> Option<Role> {
        self.codigo(codigo).and_then(|c| c.rol)
    }

    /// Whether an envelope with `resultado` and `codigo`, answered with HTTP
    /// `status`, says the report was stored: the codigo plays
    /// [`Role::Stored`] and both statuses are its `http_status`.
    pub fn is_stored(&self, status: u16, resultado: &str, codigo: &str) -> bool {
        let ok = self.code(Role::Stored);
        ok.codigo == codigo && ok.http_status == status && resultado == ok.http_status.to_string()
    }

    /// The administrator commands report for when none is named.
    pub fn default_administradora(&self) -> &Administradora {
        // The load checks that exactly one row is the default.
        self.administradoras
            .iter()
            .find(|a| a.por_defecto)
            .unwrap_or(&self.administradoras[0])
    }

    /// The administrator with this code.
    pub fn administradora(&self, codigo: &str) -> Option<&Administradora> {
        self.administradoras.iter().find(|a| a.codigo == codigo)
    }

    /// The document type with this code (allowed for pensions or not).
    pub fn tipo_documento(&self, codigo: &str) -> Option<&TipoDocumento> {
        self.tipos_documento.iter().find(|t| t.codigo == codigo)
    }

    /// The municipality with this department and municipality code.
    pub fn municipio(&self, departamento: &str, municipio: &str) -> Option<&Municipio> {
        let key = divipola_key(departamento, municipio)?;
        self.municipio_index.get(&key).map(|&i| &self.municipios[i])
    }

    /// The response-code entry for `codigo`.
    pub fn codigo(&self, codigo: &str) -> Option<&CodigoRespuesta> {
        self.codigos.iter().find(|c| c.codigo == codigo)
    }

    /// The request specification of a service, read from the OpenAPI document.
    pub fn service(&self, service: Service) -> &ServiceSpec {
        match service {
            Service::Afiliacion => &self.afiliacion,
            Service::Retracto => &self.retracto,
        }
    }

    /// The JSON Schema of a component of the OpenAPI document, e.g.
    /// `ReportarAfiliaciontrasladoRequest`.
    pub fn schema(&self, name: &str) -> Option<&serde_json::Value> {
        self.openapi.pointer(&format!("/components/schemas/{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_contract_parses_and_is_consistent() {
        let c = Contract::load_embedded().expect("embedded contract");
        assert_eq!(c.administradoras.len(), 5);
        assert_eq!(
            c.administradora("25-14").map(|a| a.regimen),
            Some(Regimen::Rpm)
        );
        assert_eq!(
            c.administradora("230301").map(|a| a.regimen),
            Some(Regimen::Rais)
        );
        let allowed: Vec<_> = c
            .tipos_documento
            .iter()
            .filter(|t| t.permitido_pensiones)
            .map(|t| t.codigo.as_str())
            .collect();
        assert_eq!(allowed, ["CC", "CE", "TI", "PA", "CD", "SC", "PE", "PT"]);
        // Every department has its capital, and Bogotá is there.
        let capitals = c.municipios.iter().filter(|m| m.capital).count();
        // 32 departments; Cundinamarca's capital is Bogotá, its own district.
        assert!(capitals >= 32, "{capitals} capitals");
        assert!(c.municipio("11", "001").is_some());
        assert!(c.municipios.len() >= 63);
        // Every codigo the OpenAPI document names is in the catalogue.
        let text = c.openapi.to_string();
        for codigo in &c.codigos {
            assert!(
                codigo.codigo == "OK"
                    || text.contains(&format!("\"{}\"", codigo.codigo))
                    || codigo.fuente.contains("mock"),
                "{} is in errores.csv but not in openapi.json",
                codigo.codigo
            );
        }
        for code in [
            "AUT01", "AUT02", "AUT03", "VAL00", "VAL05", "NEG01", "NEG12",
        ] {
            assert!(c.codigo(code).is_some(), "{code}");
        }
    }

    #[test]
    fn every_department_has_a_capital() {
        let c = Contract::embedded();
        let mut departments: Vec<_> = c
            .municipios
            .iter()
            .map(|m| &m.codigo_departamento)
            .collect();
        departments.sort();
        departments.dedup();
        for dep in departments {
            if dep == "25" {
                // Cundinamarca's capital is Bogotá, its own district (11).
                continue;
            }
            assert!(
                c.municipios
                    .iter()
                    .any(|m| &m.codigo_departamento == dep && m.capital),
                "department {dep} has no capital"
            );
        }
    }

    #[test]
    fn from_dir_reads_the_same_files() {
        let c = Contract::from_dir(&source_dir()).expect("contract from dir");
        assert_eq!(c.municipios.len(), Contract::embedded().municipios.len());
        let err = Contract::from_dir(Path::new("/nonexistent")).expect_err("missing dir");
        assert!(err.to_string().contains("administradoras.csv"), "{err}");
    }
}
