//! The contract's field rules, in the documented order: required fields and
//! conditions (VAL01), unknown fields, JSON types, lengths, enumerations and
//! patterns (VAL02), code lists (VAL03, VAL04), dates and each document
//! number against its type (VAL05), with the REQ, TYP, LEN and FMT deviations.

use chrono::NaiveDate;
use mss_contract::{CodeList, Contract, Format, Role};

use super::Rejection;
use super::body::{Body, Field, absent, text};
use crate::deviate::{Deviations, LenDeviation, PerService};

/// `YYYY-MM-DD`, exactly, as a real calendar date.
pub(super) fn date(s: &str) -> Option<NaiveDate> {
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
                    )
                    .on(name));
                }
            }
        }
    }
    if spec.closed
        && let Some(unknown) = &body.unknown
        && !dev.on(service, PerService::FmtUnknownFieldsIgnored)
    {
        return Err(
            Rejection::new(Role::BadField, format!("Campo no reconocido: {unknown}")).on(unknown),
        );
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
                )
                .on(name));
            }
            None => {
                return Err(Rejection::new(
                    Role::BadDocumentType,
                    format!("{name}: tipo de documento desconocido {value}"),
                )
                .on(name));
            }
        }
    }
    for (name, value) in with_list(CodeList::Administradoras) {
        if contract.administradora(value).is_none() {
            return Err(Rejection::new(
                Role::UnknownAdministrator,
                format!("{name}: administradora desconocida {value}"),
            )
            .on(name));
        }
    }
    let divipola: Vec<(&str, &str)> = with_list(CodeList::Divipola).collect();
    if let [(_, departamento), (campo, municipio)] = divipola[..]
        && contract.municipio(departamento, municipio).is_none()
        && !dev.has("RUL-VAL05")
    {
        return Err(Rejection::new(
            Role::UnknownDivipola,
            format!("Código DIVIPOLA desconocido {departamento}{municipio}"),
        )
        .on(campo));
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

pub(super) fn missing(name: &str) -> Rejection {
    Rejection::new(
        Role::MissingField,
        format!("Falta el campo obligatorio {name}"),
    )
    .on(name)
}

pub(super) fn bad(name: &str, what: &str) -> Rejection {
    Rejection::new(Role::BadField, format!("Campo {name} inválido: {what}")).on(name)
}
