//! An affiliation as the generator drew it, before it owns any string: the one
//! source of both the [`Afiliacion`] struct and the JSON the load engine sends
//! (written straight into a buffer, byte for byte what `serde_json::to_vec` of
//! the struct gives — a test holds the two together), so the hot path does not
//! allocate two dozen strings per request.

use chrono::{Datelike, NaiveDate};
use mss_contract::{Administradora, Enumerations, Municipio};

use super::records::{Afiliacion, Persona};
use super::tables::ascii_lower;
use crate::domain::{Novedad, TipoAfiliado};

/// A phone number as drawn.
#[derive(Debug, Clone, Copy)]
pub(super) enum Telefono {
    /// `3` + two digits + seven digits.
    Movil(u32, u32),
    /// `60` + area code + seven digits.
    Fijo(u32, u32),
}

/// Everything of one affiliation, borrowed (from the generator, its contract
/// and the person) or by value.
#[derive(Debug)]
pub(super) struct Draft<'p> {
    pub radicado: u64,
    pub radicado_head: &'p str,
    pub admin: &'p Administradora,
    pub novedad: Novedad,
    pub persona: &'p Persona,
    pub primer_apellido: &'static str,
    pub segundo_apellido: Option<&'static str>,
    pub primer_nombre: &'static str,
    pub segundo_nombre: Option<&'static str>,
    pub origen: Option<&'p Administradora>,
    pub fecha: NaiveDate,
    pub fecha_efectividad: Option<NaiveDate>,
    pub municipio: &'p Municipio,
    /// Employer: document type, number and check digit.
    pub empleador: Option<(&'p str, u64, Option<u8>)>,
    pub autorizacion: &'p str,
    /// How the contract spells the enumerations.
    pub enumerations: &'p Enumerations,
    /// E-mail: numeric suffix and domain (the rest comes from the names).
    pub correo: Option<(Option<u32>, &'static str)>,
    pub telefono: Option<Telefono>,
}

/// Decimal digits of a number, on the stack.
#[derive(Debug)]
pub(super) struct Digits([u8; 20]);

impl Digits {
    pub fn new() -> Self {
        Digits([0; 20])
    }

    /// `n` in decimal, at least `width` digits (zero-padded).
    pub fn padded(&mut self, mut n: u64, width: usize) -> &str {
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 && self.0.len() - i >= width {
                break;
            }
        }
        // Only ASCII digits were written.
        std::str::from_utf8(&self.0[i..]).unwrap_or_default()
    }

    /// `n` in decimal.
    pub fn of(&mut self, n: u64) -> &str {
        self.padded(n, 1)
    }
}

fn push_digits(out: &mut Vec<u8>, n: u64, width: usize) {
    out.extend_from_slice(Digits::new().padded(n, width).as_bytes());
}

/// `YYYY-MM-DD`, as chrono writes a date of years 0–9999.
fn push_date(out: &mut Vec<u8>, d: NaiveDate) {
    push_digits(out, u64::from(d.year().unsigned_abs()), 4);
    out.push(b'-');
    push_digits(out, u64::from(d.month()), 2);
    out.push(b'-');
    push_digits(out, u64::from(d.day()), 2);
}

/// A JSON string, escaped as serde_json escapes it.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Never for the generator's data; kept exact all the same.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Writes `"key":` pairs with the commas between them.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        push_str(self.key(key), value);
    }

    fn date(&mut self, key: &str, value: NaiveDate) {
        let out = self.key(key);
        out.push(b'"');
        push_date(out, value);
        out.push(b'"');
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

impl Draft<'_> {
    fn tipo_afiliado(&self) -> TipoAfiliado {
        if self.empleador.is_some() {
            TipoAfiliado::Dependiente
        } else {
            TipoAfiliado::Independiente
        }
    }

    pub(super) fn radicado(&self) -> String {
        format!("{}{:010}", self.radicado_head, self.radicado)
    }

    fn correo(&self) -> Option<String> {
        self.correo.map(|(suffix, domain)| {
            let suffix = suffix.map(|n| n.to_string()).unwrap_or_default();
            format!(
                "{}.{}{suffix}@{domain}",
                ascii_lower(self.primer_nombre),
                ascii_lower(self.primer_apellido)
            )
        })
    }

    fn telefono(&self) -> Option<String> {
        self.telefono.map(|t| match t {
            Telefono::Movil(a, b) => format!("3{a:02}{b:07}"),
            Telefono::Fijo(a, b) => format!("60{a}{b:07}"),
        })
    }

    /// The affiliation with owned strings.
    pub fn to_afiliacion(&self) -> Afiliacion {
        let p = self.persona;
        Afiliacion {
            numero_radicado: self.radicado(),
            codigo_administradora: self.admin.codigo.clone(),
            tipo_novedad: self.enumerations.spelling(self.novedad).to_owned(),
            tipo_documento: p.tipo_documento.clone(),
            numero_documento: p.numero_documento.clone(),
            primer_apellido: self.primer_apellido.to_owned(),
            segundo_apellido: self.segundo_apellido.map(str::to_owned),
            primer_nombre: self.primer_nombre.to_owned(),
            segundo_nombre: self.segundo_nombre.map(str::to_owned),
            sexo: self.enumerations.spelling(p.sexo).to_owned(),
            fecha_nacimiento: p.fecha_nacimiento,
            codigo_administradora_origen: self.origen.map(|a| a.codigo.clone()),
            regimen_destino: self.enumerations.spelling(self.admin.regimen).to_owned(),
            fecha_solicitud: self.fecha,
            fecha_efectividad: self.fecha_efectividad,
            codigo_departamento: self.municipio.codigo_departamento.clone(),
            codigo_municipio: self.municipio.codigo_municipio.clone(),
            tipo_afiliado: self.enumerations.spelling(self.tipo_afiliado()).to_owned(),
            tipo_documento_empleador: self.empleador.map(|(t, _, _)| t.to_owned()),
            numero_documento_empleador: self.empleador.map(|(_, n, _)| n.to_string()),
            digito_verificacion: self
                .empleador
                .and_then(|(_, _, dv)| dv)
                .map(|d| d.to_string()),
            asesoria_doble: (self.novedad == Novedad::TrasladoRegimen)
                .then(|| self.enumerations.asesoria_doble().to_owned()),
            autorizacion_manejo_datos: self.autorizacion.to_owned(),
            correo_electronico: self.correo(),
            telefono: self.telefono(),
        }
    }

    /// The affiliation as compact JSON, fields in [`Afiliacion`]'s order.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let p = self.persona;
        let mut o = Object::new(out);
        {
            let buf = o.key("numeroRadicado");
            buf.push(b'"');
            buf.extend_from_slice(self.radicado_head.as_bytes());
            push_digits(buf, self.radicado, 10);
            buf.push(b'"');
        }
        o.str("codigoAdministradora", &self.admin.codigo);
        let e = self.enumerations;
        o.str("tipoNovedad", e.spelling(self.novedad));
        o.str("tipoDocumento", &p.tipo_documento);
        o.str("numeroDocumento", &p.numero_documento);
        o.str("primerApellido", self.primer_apellido);
        if let Some(s) = self.segundo_apellido {
            o.str("segundoApellido", s);
        }
        o.str("primerNombre", self.primer_nombre);
        if let Some(s) = self.segundo_nombre {
            o.str("segundoNombre", s);
        }
        o.str("sexo", e.spelling(p.sexo));
        o.date("fechaNacimiento", p.fecha_nacimiento);
        if let Some(a) = self.origen {
            o.str("codigoAdministradoraOrigen", &a.codigo);
        }
        o.str("regimenDestino", e.spelling(self.admin.regimen));
        o.date("fechaSolicitud", self.fecha);
        if let Some(d) = self.fecha_efectividad {
            o.date("fechaEfectividad", d);
        }
        o.str("codigoDepartamento", &self.municipio.codigo_departamento);
        o.str("codigoMunicipio", &self.municipio.codigo_municipio);
        o.str("tipoAfiliado", e.spelling(self.tipo_afiliado()));
        if let Some((tipo, nit, dv)) = self.empleador {
            o.str("tipoDocumentoEmpleador", tipo);
            o.str("numeroDocumentoEmpleador", Digits::new().of(nit));
            if let Some(dv) = dv {
                o.str("digitoVerificacion", Digits::new().of(u64::from(dv)));
            }
        }
        if self.novedad == Novedad::TrasladoRegimen {
            o.str("asesoriaDoble", e.asesoria_doble());
        }
        o.str("autorizacionManejoDatos", self.autorizacion);
        if let Some((suffix, domain)) = self.correo {
            let buf = o.key("correoElectronico");
            let start = buf.len();
            buf.push(b'"');
            push_lower(buf, self.primer_nombre);
            buf.push(b'.');
            push_lower(buf, self.primer_apellido);
            if let Some(n) = suffix {
                push_digits(buf, u64::from(n), 1);
            }
            buf.push(b'@');
            buf.extend_from_slice(domain.as_bytes());
            buf.push(b'"');
            debug_assert!(buf[start..].iter().all(|b| *b >= 0x20 && *b != b'\\'));
        }
        if let Some(t) = self.telefono {
            let buf = o.key("telefono");
            buf.push(b'"');
            match t {
                Telefono::Movil(a, b) => {
                    buf.push(b'3');
                    push_digits(buf, u64::from(a), 2);
                    push_digits(buf, u64::from(b), 7);
                }
                Telefono::Fijo(a, b) => {
                    buf.extend_from_slice(b"60");
                    push_digits(buf, u64::from(a), 1);
                    push_digits(buf, u64::from(b), 7);
                }
            }
            buf.push(b'"');
        }
        o.end();
    }
}

/// [`ascii_lower`] appended to `out`, without a temporary string.
fn push_lower(out: &mut Vec<u8>, name: &str) {
    if name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        out.extend_from_slice(ascii_lower(name).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::Digits;

    #[test]
    fn digits() {
        assert_eq!(Digits::new().of(0), "0");
        assert_eq!(Digits::new().of(901_999_999), "901999999");
        assert_eq!(Digits::new().padded(42, 10), "0000000042");
        assert_eq!(Digits::new().padded(u64::MAX, 3), "18446744073709551615");
    }
}
