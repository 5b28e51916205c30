//! Validation of report bodies: the contract's field rules first (required,
//! format, code lists, all read from `mss-contract`), then the stateless business
//! rules. What passes comes out as a compact typed request for the store, which
//! applies the stateful rules.
//!
//! The order of the checks, first failure wins, is documented in
//! `contract/README.md` ("Validation order"); the functions below follow it.

use chrono::NaiveDate;
use mss_contract::rules::{self, Sexo};
use mss_contract::{CodeList, Contract, Format, Regimen, ServiceSpec};
use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::deviate::{Deviations, JsonKind, LenDeviation};
use mss_contract::Role;

/// A refusal: the role of the envelope's `codigo` (its spelling and HTTP
/// status come from `errores.csv`) and the `mensaje`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The codigo's role in the contract.
    pub codigo: Role,
    /// Human-readable message, in Spanish like the ministry's.
    pub mensaje: String,
    /// An internal error outside the contract (only a deviation fakes one):
    /// answered 500 with a codigo the contract does not list.
    pub internal: bool,
}

impl Rejection {
    /// A refusal with the codigo of `role` and `mensaje`.
    pub fn new(codigo: Role, mensaje: impl Into<String>) -> Self {
        Rejection {
            codigo,
            mensaje: mensaje.into(),
            internal: false,
        }
    }

    /// An internal error (a 500 outside the contract).
    pub fn internal(mensaje: impl Into<String>) -> Self {
        Rejection {
            internal: true,
            ..Rejection::new(Role::MalformedBody, mensaje)
        }
    }
}

/// `tipoNovedad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Novedad {
    /// First affiliation.
    Afiliacion = 0,
    /// Change of regime (RPM ↔ RAIS).
    TrasladoRegimen = 1,
    /// Change of administrator within RAIS.
    TrasladoAdministradora = 2,
}

impl Novedad {
    /// The novelty `contract` spells `s` (`x-roles` of `tipoNovedad`).
    fn parse(contract: &Contract, s: &str) -> Option<Self> {
        Some(
            match contract.enumerations().parse::<mss_contract::Novedad>(s)? {
                mss_contract::Novedad::Afiliacion => Self::Afiliacion,
                mss_contract::Novedad::TrasladoRegimen => Self::TrasladoRegimen,
                mss_contract::Novedad::TrasladoAdministradora => Self::TrasladoAdministradora,
            },
        )
    }

    /// The protocol's spelling (the current contract's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Afiliacion => mss_contract::Novedad::Afiliacion,
            Self::TrasladoRegimen => mss_contract::Novedad::TrasladoRegimen,
            Self::TrasladoAdministradora => mss_contract::Novedad::TrasladoAdministradora,
        }
        .as_str()
    }

    /// From the stored byte.
    pub fn from_u8(b: u8) -> Self {
        match b {
            1 => Self::TrasladoRegimen,
            2 => Self::TrasladoAdministradora,
            _ => Self::Afiliacion,
        }
    }
}

/// A `ReportarAfiliaciontraslado` body that passed every stateless check.
#[derive(Debug)]
pub struct Affiliation<'a> {
    pub radicado: &'a str,
    pub administradora: u8,
    pub novedad: Novedad,
    pub tipo_documento: u8,
    pub numero_documento: &'a str,
    pub fecha_solicitud: NaiveDate,
    pub origen: Option<u8>,
}

/// A `ReportarRetractoAfiliacion` body that passed every stateless check.
#[derive(Debug)]
pub struct Retraction<'a> {
    pub radicado: &'a str,
    pub administradora: u8,
    pub tipo_documento: u8,
    pub numero_documento: &'a str,
    pub transaccion: &'a str,
    pub fecha_retracto: NaiveDate,
}

/// A field's value as the body carries it.
#[derive(Debug)]
pub enum Field<'a> {
    /// A JSON string (borrowed from the request when it has no escapes).
    Text(Cow<'a, str>),
    /// `null`: treated as absent.
    Null,
    /// Any other JSON type.
    Other(JsonKind),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Boolean))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other(JsonKind::Array))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other(JsonKind::Object))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The entries of a JSON object, in order; `Err(kind)` when it is no object.
struct Entries<'a>(Result<Vec<(Key<'a>, Field<'a>)>, &'static str>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(entry) = map.next_entry::<Key<'de>, Field<'de>>()? {
                    entries.push(entry);
                }
                Ok(Entries(Ok(entries)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entries(Err("un arreglo")))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Entries(Err("una cadena")))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Entries(Err("una cadena")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Entries(Err("null")))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Entries(Err("un booleano")))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A request body parsed against a service's field list: each contract field
/// found in O(1), unknown keys remembered for VAL02.
#[derive(Debug)]
pub struct Body<'a> {
    spec: &'a ServiceSpec,
    slots: Vec<Option<Field<'a>>>,
    unknown: Option<String>,
}

impl<'a> Body<'a> {
    /// Parse `bytes` as a JSON object for `spec` (VAL00 when it is none). When a
    /// key repeats, the last value wins, as in most JSON parsers.
    pub fn parse(spec: &'a ServiceSpec, bytes: &'a [u8]) -> Result<Self, Rejection> {
        let entries = match serde_json::from_slice::<Entries<'a>>(bytes) {
            Ok(Entries(Ok(entries))) => entries,
            Ok(Entries(Err(kind))) => {
                return Err(Rejection::new(
                    Role::MalformedBody,
                    format!("El cuerpo debe ser un objeto JSON, no {kind}"),
                ));
            }
            Err(e) => {
                return Err(Rejection::new(
                    Role::MalformedBody,
                    format!("JSON malformado: {}", e.to_string().replace('"', "'")),
                ));
            }
        };
        let mut slots: Vec<Option<Field<'a>>> = Vec::with_capacity(spec.fields.len());
        slots.resize_with(spec.fields.len(), || None);
        let mut unknown = None;
        for (Key(key), value) in entries {
            match spec.position(&key) {
                Some(i) => slots[i] = Some(value),
                None => {
                    if unknown.is_none() {
                        unknown = Some(key.chars().take(40).collect());
                    }
                }
            }
        }
        Ok(Body {
            spec,
            slots,
            unknown,
        })
    }

    /// Upper-case the text of field `name` when it is `lower` (the `ENUM-…`
    /// deviations).
    pub fn uppercase_if(&mut self, name: &str, lower: &str) {
        if let Some(i) = self.spec.position(name)
            && let Some(Field::Text(s)) = &self.slots[i]
            && s == lower
        {
            let upper = s.to_uppercase();
            self.slots[i] = Some(Field::Text(Cow::Owned(upper)));
        }
    }

    /// Upper-case every enumeration value that an `ENUM-…` deviation of `dev`
    /// lets through in lower case: what the mock does to a body before
    /// validating it.
    pub fn apply_enum_deviations(&mut self, dev: &Deviations) {
        if dev.is_empty() {
            return;
        }
        let spec = self.spec;
        for f in &spec.fields {
            for v in f.enumeration.iter().flatten() {
                if dev.of("ENUM", spec.service, &format!("{}-{v}", f.name)) {
                    self.uppercase_if(&f.name, &v.to_lowercase());
                }
            }
        }
    }

    /// The contract of this body's service.
    pub fn spec(&self) -> &'a ServiceSpec {
        self.spec
    }

    fn slot(&self, name: &str) -> Option<&Field<'a>> {
        self.spec
            .position(name)
            .and_then(|i| self.slots[i].as_ref())
    }
}

fn text<'b>(body: &'b Body<'_>, name: &str) -> Option<&'b str> {
    match body.slot(name) {
        Some(Field::Text(s)) => Some(s),
        _ => None,
    }
}

fn absent(body: &Body<'_>, name: &str) -> bool {
    matches!(body.slot(name), None | Some(Field::Null))
}

/// `YYYY-MM-DD`, exactly, as a real calendar date.
fn date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Field rules of the contract: VAL01, VAL02, VAL03, VAL04 (unknown codes), VAL05,
/// and each document number against its type.
pub fn check_fields<'s>(
    contract: &Contract,
    body: &Body<'s>,
    dev: &Deviations,
) -> Result<Vec<&'s str>, Rejection> {
    // Fields whose value a LEN deviation let through: later checks of the
    // same value (document number against its type, check digit) are waived too.
    let mut waived: Vec<&'s str> = Vec::new();
    let spec = body.spec;
    let service = spec.service;
    for field in spec.required() {
        match body.slot(&field.name) {
            None if dev.of("REQ", service, &field.name) => return Err(bad(&field.name, "ausente")),
            Some(Field::Null) if dev.of("TYP", service, "NULL") => {
                return Err(bad(&field.name, "null"));
            }
            None | Some(Field::Null) => return Err(missing(&field.name)),
            Some(_) => {}
        }
    }
    for cond in &spec.conditions {
        if let Some(v) = text(body, &cond.field)
            && cond.values.iter().any(|c| c == v)
        {
            for name in &cond.then_required {
                if absent(body, name) {
                    if body.slot(name).is_none() && dev.of("REQ", service, name) {
                        return Err(bad(name, "ausente"));
                    }
                    return Err(Rejection::new(
                        Role::MissingField,
                        format!("Falta el campo obligatorio {name} ({} = {v})", cond.field),
                    ));
                }
            }
        }
    }
    if spec.closed
        && let Some(unknown) = &body.unknown
        && !dev.of("FMT", service, "004")
    {
        return Err(Rejection::new(
            Role::BadField,
            format!("Campo no reconocido: {unknown}"),
        ));
    }
    for (field, slot) in spec.fields.iter().zip(&body.slots) {
        let value: &str = match slot {
            None | Some(Field::Null) => continue,
            Some(Field::Text(s)) => s,
            Some(Field::Other(kind)) => {
                if dev.of("TYP", service, kind.tag()) {
                    continue;
                }
                return Err(bad(&field.name, "debe ser una cadena de texto"));
            }
        };
        let chars = value.chars().count();
        match dev.length(
            service,
            &field.name,
            chars,
            field.min_length,
            field.max_length,
        ) {
            LenDeviation::None => {}
            LenDeviation::Accept => {
                waived.push(field.name.as_str());
                continue;
            }
            LenDeviation::Refuse => return Err(bad(&field.name, "longitud no admitida")),
        }
        if let Some(min) = field.min_length
            && chars < min
        {
            return Err(bad(&field.name, &format!("longitud mínima {min}")));
        }
        if let Some(max) = field.max_length
            && chars > max
        {
            return Err(bad(&field.name, &format!("longitud máxima {max}")));
        }
        if let Some(values) = &field.enumeration
            && !values.iter().any(|v| v == value)
        {
            return Err(bad(
                &field.name,
                &format!("valores permitidos: {}", values.join(", ")),
            ));
        }
        if let Some((source, regex)) = &field.pattern
            && !regex.is_match(value)
        {
            return Err(bad(&field.name, &format!("no cumple el formato {source}")));
        }
        if field.format == Some(Format::Date) && date(value).is_none() {
            return Err(bad(&field.name, "no es una fecha válida AAAA-MM-DD"));
        }
    }
    let with_list = |list: CodeList| {
        spec.fields
            .iter()
            .filter(move |f| f.code_list == Some(list))
            .filter_map(|f| text(body, &f.name).map(|v| (f.name.as_str(), v)))
    };
    for (name, value) in with_list(CodeList::TiposDocumento) {
        match contract.tipo_documento(value) {
            Some(t) if t.permitido_pensiones || dev.has("RUL-VAL03") => {}
            Some(t) => {
                return Err(Rejection::new(
                    Role::BadDocumentType,
                    format!(
                        "{name}: {} ({}) no es válido para pensiones",
                        t.codigo, t.significado
                    ),
                ));
            }
            None => {
                return Err(Rejection::new(
                    Role::BadDocumentType,
                    format!("{name}: tipo de documento desconocido {value}"),
                ));
            }
        }
    }
    for (name, value) in with_list(CodeList::Administradoras) {
        if contract.administradora(value).is_none() {
            return Err(Rejection::new(
                Role::UnknownAdministrator,
                format!("{name}: administradora desconocida {value}"),
            ));
        }
    }
    let divipola: Vec<&str> = with_list(CodeList::Divipola).map(|(_, v)| v).collect();
    if let [departamento, municipio] = divipola[..]
        && contract.municipio(departamento, municipio).is_none()
        && !dev.has("RUL-VAL05")
    {
        return Err(Rejection::new(
            Role::UnknownDivipola,
            format!("Código DIVIPOLA desconocido {departamento}{municipio}"),
        ));
    }
    if let (Some(tipo), Some(numero)) = (text(body, "tipoDocumento"), text(body, "numeroDocumento"))
        && let Some(t) = contract.tipo_documento(tipo)
        && !t.patron_numero.is_match(numero)
        && !waived.contains(&"numeroDocumento")
    {
        return Err(bad(
            "numeroDocumento",
            &format!(
                "no corresponde al tipo {tipo} ({})",
                t.patron_numero.as_str()
            ),
        ));
    }
    Ok(waived)
}

fn missing(name: &str) -> Rejection {
    Rejection::new(
        Role::MissingField,
        format!("Falta el campo obligatorio {name}"),
    )
}

fn bad(name: &str, what: &str) -> Rejection {
    Rejection::new(Role::BadField, format!("Campo {name} inválido: {what}"))
}

/// Everything after [`check_fields`] needs these fields; they are present and
/// well-formed once it passed, so a `None` here is a contract that makes a field
/// optional the code relies on: reported as VAL01 rather than a panic.
fn need<'b>(body: &'b Body<'_>, name: &str) -> Result<&'b str, Rejection> {
    text(body, name).ok_or_else(|| missing(name))
}

fn need_date(body: &Body<'_>, name: &str) -> Result<NaiveDate, Rejection> {
    date(need(body, name)?).ok_or_else(|| bad(name, "no es una fecha válida AAAA-MM-DD"))
}

fn index_of_admin(contract: &Contract, codigo: &str) -> Result<u8, Rejection> {
    contract
        .administradoras
        .iter()
        .position(|a| a.codigo == codigo)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| {
            Rejection::new(
                Role::UnknownAdministrator,
                format!("administradora desconocida {codigo}"),
            )
        })
}

fn index_of_tipo(contract: &Contract, codigo: &str) -> Result<u8, Rejection> {
    contract
        .tipos_documento
        .iter()
        .position(|t| t.codigo == codigo)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| {
            Rejection::new(
                Role::BadDocumentType,
                format!("tipo de documento desconocido {codigo}"),
            )
        })
}

fn own_administrator(
    contract: &Contract,
    administradora: u8,
    token_admin: u8,
) -> Result<(), Rejection> {
    if administradora == token_admin {
        return Ok(());
    }
    let name = |i: u8| {
        contract
            .administradoras
            .get(usize::from(i))
            .map(|a| a.codigo.as_str())
            .unwrap_or("?")
    };
    Err(Rejection::new(
        Role::NotEntitled,
        format!(
            "codigoAdministradora {} no es la administradora del token ({})",
            name(administradora),
            name(token_admin)
        ),
    ))
}

/// Validate a `ReportarAfiliaciontraslado` body up to the stateful rules.
pub fn affiliation<'a>(
    contract: &Contract,
    body: &'a Body<'_>,
    token_admin: u8,
    today: NaiveDate,
    dev: &Deviations,
) -> Result<Affiliation<'a>, Rejection> {
    let waived = check_fields(contract, body, dev)?;
    let novedad = Novedad::parse(contract, need(body, "tipoNovedad")?)
        .ok_or_else(|| bad("tipoNovedad", "valor desconocido"))?;
    let nacimiento = need_date(body, "fechaNacimiento")?;
    let fecha_solicitud = need_date(body, "fechaSolicitud")?;
    if fecha_solicitud > today {
        return Err(bad(
            "fechaSolicitud",
            &format!("no puede ser futura (hoy es {today})"),
        ));
    }
    if fecha_solicitud < rules::EARLIEST_REQUEST {
        return Err(bad(
            "fechaSolicitud",
            &format!(
                "anterior al sistema general de pensiones ({})",
                rules::EARLIEST_REQUEST
            ),
        ));
    }
    if nacimiento < rules::EARLIEST_BIRTH {
        return Err(bad(
            "fechaNacimiento",
            &format!("anterior a {}", rules::EARLIEST_BIRTH),
        ));
    }
    let min_age = rules::MIN_AGE_AT_REQUEST.saturating_add_signed(dev.shift("BND-EDAD"));
    if rules::age_on(nacimiento, fecha_solicitud) < min_age {
        return Err(bad(
            "fechaNacimiento",
            &format!("edad mínima {min_age} años en fechaSolicitud"),
        ));
    }
    if let Some(efectividad) = text(body, "fechaEfectividad").and_then(date) {
        let latest = fecha_solicitud
            .checked_add_months(chrono::Months::new(rules::MAX_MONTHS_TO_EFFECTIVE_DATE))
            .unwrap_or(NaiveDate::MAX);
        if efectividad < fecha_solicitud || efectividad > latest {
            return Err(bad(
                "fechaEfectividad",
                &format!(
                    "debe estar entre fechaSolicitud y {} meses después",
                    rules::MAX_MONTHS_TO_EFFECTIVE_DATE
                ),
            ));
        }
    }
    if let (Some(nit), Some(dv)) = (
        text(body, "numeroDocumentoEmpleador"),
        text(body, "digitoVerificacion"),
    ) && !waived.contains(&"numeroDocumentoEmpleador")
        && !waived.contains(&"digitoVerificacion")
        && rules::nit_check_digit(nit)
            .map(|d| d.to_string())
            .as_deref()
            != Some(dv)
    {
        return Err(bad(
            "digitoVerificacion",
            "no corresponde a numeroDocumentoEmpleador",
        ));
    }

    let administradora = index_of_admin(contract, need(body, "codigoAdministradora")?)?;
    let destino = &contract.administradoras[usize::from(administradora)];
    let regimen_destino = (contract.enumerations())
        .parse::<Regimen>(need(body, "regimenDestino")?)
        .ok_or_else(|| bad("regimenDestino", "valor desconocido"))?;
    if regimen_destino != destino.regimen && !dev.has("RUL-VAL04") {
        return Err(Rejection::new(
            Role::UnknownAdministrator,
            format!(
                "regimenDestino {regimen_destino} no concuerda con {} ({})",
                destino.nombre, destino.regimen
            ),
        ));
    }
    let origen = match novedad {
        Novedad::Afiliacion => None,
        Novedad::TrasladoRegimen | Novedad::TrasladoAdministradora => {
            let codigo = need(body, "codigoAdministradoraOrigen")?;
            let i = index_of_admin(contract, codigo)?;
            let origen = &contract.administradoras[usize::from(i)];
            let consistent = match novedad {
                Novedad::TrasladoRegimen => origen.regimen != destino.regimen,
                _ => origen.regimen == Regimen::Rais && destino.regimen == Regimen::Rais,
            };
            if !consistent {
                return Err(Rejection::new(
                    Role::UnknownAdministrator,
                    format!(
                        "{}: origen {} ({}) y destino {} ({}) no concuerdan con la novedad",
                        novedad.as_str(),
                        origen.nombre,
                        origen.regimen,
                        destino.nombre,
                        destino.regimen
                    ),
                ));
            }
            Some(i)
        }
    };
    if !dev.of("AUTH", mss_contract::Service::Afiliacion, "007") {
        own_administrator(contract, administradora, token_admin)?;
    }
    if novedad == Novedad::TrasladoAdministradora
        && origen == Some(administradora)
        && !dev.has("RUL-NEG05")
    {
        return Err(Rejection::new(
            Role::SameAdministrator,
            "Traslado a la misma administradora de origen",
        ));
    }
    if novedad == Novedad::TrasladoRegimen && !dev.has("RUL-NEG02") {
        let sexo = (contract.enumerations().parse::<Sexo>(need(body, "sexo")?))
            .ok_or_else(|| bad("sexo", "valor desconocido"))?;
        let edad = dev.age_on(nacimiento, fecha_solicitud);
        let limite = sexo
            .regime_transfer_age_limit()
            .saturating_add_signed(dev.shift("BND-NEG02"));
        if edad >= limite {
            return Err(Rejection::new(
                Role::PensionAge,
                format!(
                    "Traslado de régimen no permitido: {edad} años en fechaSolicitud; faltan {} años o menos para la edad de pensión ({})",
                    rules::YEARS_BEFORE_PENSION_WITHOUT_TRANSFER,
                    sexo.pension_age()
                ),
            ));
        }
    }
    Ok(Affiliation {
        radicado: need(body, "numeroRadicado")?,
        administradora,
        novedad,
        tipo_documento: index_of_tipo(contract, need(body, "tipoDocumento")?)?,
        numero_documento: need(body, "numeroDocumento")?,
        fecha_solicitud,
        origen,
    })
}

/// Validate a `ReportarRetractoAfiliacion` body up to the stateful rules.
pub fn retraction<'a>(
    contract: &Contract,
    body: &'a Body<'_>,
    token_admin: u8,
    today: NaiveDate,
    dev: &Deviations,
) -> Result<Retraction<'a>, Rejection> {
    check_fields(contract, body, dev)?;
    let fecha_retracto = need_date(body, "fechaRetracto")?;
    if fecha_retracto < rules::EARLIEST_REQUEST {
        return Err(bad(
            "fechaRetracto",
            &format!("anterior a {}", rules::EARLIEST_REQUEST),
        ));
    }
    if fecha_retracto > today {
        return Err(bad(
            "fechaRetracto",
            &format!("no puede ser futura (hoy es {today})"),
        ));
    }
    let administradora = index_of_admin(contract, need(body, "codigoAdministradora")?)?;
    if !dev.of("AUTH", mss_contract::Service::Retracto, "007") {
        own_administrator(contract, administradora, token_admin)?;
    }
    Ok(Retraction {
        radicado: need(body, "numeroRadicado")?,
        administradora,
        tipo_documento: index_of_tipo(contract, need(body, "tipoDocumento")?)?,
        numero_documento: need(body, "numeroDocumento")?,
        transaccion: need(body, "numeroTransaccionAfiliacion")?,
        fecha_retracto,
    })
}
