//! The records the generator produces and what a run keeps of them: the two
//! report bodies ([`Afiliacion`], [`Retracto`]) in the protocol's field order,
//! the person drawn ([`Persona`]), and the reference to an accepted
//! affiliation a retraction needs ([`AcceptedAffiliation`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::Sexo;

/// The field of a report the harness numbers, whatever a feeder's row says.
pub const NUMERO_RADICADO: &str = "numeroRadicado";
/// The field naming the reporting administrator, the run's.
pub const CODIGO_ADMINISTRADORA: &str = "codigoAdministradora";

/// A `ReportarAfiliaciontraslado` body, fields in the protocol's order. Its
/// enumerations (`tipoNovedad`, `sexo`, `regimenDestino`, `tipoAfiliado`, ...)
/// are spelled as the contract it was generated with spells them
/// (`Contract::enumerations`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Afiliacion {
    pub numero_radicado: String,
    pub codigo_administradora: String,
    pub tipo_novedad: String,
    pub tipo_documento: String,
    pub numero_documento: String,
    pub primer_apellido: String,
    pub segundo_apellido: Option<String>,
    pub primer_nombre: String,
    pub segundo_nombre: Option<String>,
    pub sexo: String,
    pub fecha_nacimiento: NaiveDate,
    pub codigo_administradora_origen: Option<String>,
    pub regimen_destino: String,
    pub fecha_solicitud: NaiveDate,
    pub fecha_efectividad: Option<NaiveDate>,
    pub codigo_departamento: String,
    pub codigo_municipio: String,
    pub tipo_afiliado: String,
    pub tipo_documento_empleador: Option<String>,
    pub numero_documento_empleador: Option<String>,
    pub digito_verificacion: Option<String>,
    pub asesoria_doble: Option<String>,
    pub autorizacion_manejo_datos: String,
    pub correo_electronico: Option<String>,
    pub telefono: Option<String>,
}

/// A `ReportarRetractoAfiliacion` body.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retracto {
    pub numero_radicado: String,
    pub codigo_administradora: String,
    pub tipo_documento: String,
    pub numero_documento: String,
    pub numero_transaccion_afiliacion: String,
    pub fecha_retracto: NaiveDate,
    pub observacion: Option<String>,
}

/// An affiliation the target accepted: what a retraction needs to refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedAffiliation {
    /// `numeroTransaccion` the target answered with.
    pub numero_transaccion: String,
    /// The administrator that reported it.
    pub codigo_administradora: String,
    /// The person's document type.
    pub tipo_documento: String,
    /// The person's document number.
    pub numero_documento: String,
    /// `fechaSolicitud` of the affiliation.
    pub fecha_solicitud: NaiveDate,
}

/// What [`AffiliationGenerator::next_affiliation_json`] drew: enough to refer
/// to the affiliation once the target accepts it.
#[derive(Debug, Clone)]
pub struct DrawnAffiliation {
    /// `numeroRadicado`.
    pub numero_radicado: String,
    /// The reporting administrator.
    pub codigo_administradora: String,
    /// The person.
    pub persona: Persona,
    /// `fechaSolicitud`.
    pub fecha_solicitud: NaiveDate,
}

impl DrawnAffiliation {
    /// The reference to it, accepted with `numero_transaccion`.
    pub fn accepted(&self, numero_transaccion: &str) -> AcceptedAffiliation {
        AcceptedAffiliation {
            numero_transaccion: numero_transaccion.to_owned(),
            codigo_administradora: self.codigo_administradora.clone(),
            tipo_documento: self.persona.tipo_documento.clone(),
            numero_documento: self.persona.numero_documento.clone(),
            fecha_solicitud: self.fecha_solicitud,
        }
    }
}

impl AcceptedAffiliation {
    /// The reference to `afiliacion`, accepted with `numero_transaccion`.
    pub fn of(afiliacion: &Afiliacion, numero_transaccion: &str) -> Self {
        AcceptedAffiliation {
            numero_transaccion: numero_transaccion.to_owned(),
            codigo_administradora: afiliacion.codigo_administradora.clone(),
            tipo_documento: afiliacion.tipo_documento.clone(),
            numero_documento: afiliacion.numero_documento.clone(),
            fecha_solicitud: afiliacion.fecha_solicitud,
        }
    }
}

/// One person as the generator drew them.
#[derive(Debug, Clone)]
pub struct Persona {
    /// Document type code.
    pub tipo_documento: String,
    /// Document number.
    pub numero_documento: String,
    /// Sex.
    pub sexo: Sexo,
    /// Birth date.
    pub fecha_nacimiento: NaiveDate,
}
