//! The two report services, `ReportarAfiliaciontraslado` and
//! `ReportarRetractoAfiliacion`: authentication, the body's limits and media
//! type, field validation and the business rules (through `validate` and the
//! store), and the envelope of an accepted report, with the deviations that
//! bend each step.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use mss_contract::Service;

use crate::answer::{Envelope, declared_length, json_response, media_type_is};
use crate::codes::Role;
use crate::deviate::{Deviations, PerService};
use crate::refusal::Refusal;
use crate::router::Respelled;
use crate::state::{Mock, service_index};
use crate::validate::{self, Rejection};

/// Largest refused body read to its end before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// The `POST` route of `service` (`/ReportarAfiliaciontraslado` or
/// `/ReportarRetractoAfiliacion`).
pub(crate) fn route(service: Service) -> MethodRouter<Mock> {
    post(
        move |State(mock): State<Mock>,
              respelled: Option<Extension<Respelled>>,
              uri: Uri,
              headers: HeaderMap,
              body: Body| async move {
            mock.report(service, respelled.is_some(), &uri, &headers, body)
                .await
        },
    )
}

impl Mock {
    async fn report(
        &self,
        service: Service,
        respelled: bool,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, Refusal> {
        let dev = self.deviations();
        let id = match service {
            Service::Afiliacion => "RUT-005",
            Service::Retracto => "RUT-006",
        };
        if respelled && dev.has(id) {
            return Err(self.refuse(
                Role::UnknownRoute,
                format!("Ruta desconocida: {}", uri.path()),
            ));
        }
        match self.try_report(service, headers, body, &dev).await {
            Ok(numero) => {
                self.inner.stats.services[service_index(service)]
                    .accepted
                    .fetch_add(1, Ordering::Relaxed);
                Ok(self.accepted(&numero, &dev))
            }
            Err(rejection) => Err(self.reject(Some(service), rejection, &dev)),
        }
    }

    /// The envelope of an accepted report (SCH-001 drops its `mensaje`).
    fn accepted(&self, numero: &str, dev: &Deviations) -> Response {
        let status = self.status(Role::Stored);
        let body = Envelope {
            resultado: status.as_str(),
            codigo: self.inner.contract.codigo_of(Role::Stored),
            mensaje: (!dev.has("SCH-001")).then_some("Reporte recibido"),
            numero_transaccion: numero,
        }
        .to_vec();
        json_response(status, body)
    }

    async fn try_report(
        &self,
        service: Service,
        headers: &HeaderMap,
        body: Body,
        dev: &Deviations,
    ) -> Result<String, Rejection> {
        let client = self.authenticate(headers, service, dev)?;
        if !client.services[service_index(service)] && !dev.on(service, PerService::AuthAnyClient) {
            return Err(Rejection::new(
                Role::NotEntitled,
                format!(
                    "El cliente del token no está habilitado para {}",
                    service.name()
                ),
            ));
        }
        let limit = self.inner.config.max_body_bytes;
        let too_large = || {
            Rejection::new(
                Role::BodyTooLarge,
                format!("El cuerpo supera el máximo de {limit} bytes"),
            )
        };
        if declared_length(headers).is_some_and(|n| n > limit as u64) {
            // Read (and drop) what the client is still sending, up to a bound, so
            // that it gets the 413 rather than a connection reset mid-upload.
            let _ = axum::body::to_bytes(body, DRAIN_LIMIT).await;
            return Err(too_large());
        }
        if !media_type_is(headers, "application/json")
            && !dev.on(service, PerService::FmtAnyContentType)
        {
            return Err(Rejection::new(
                Role::MalformedBody,
                "Content-Type debe ser application/json",
            ));
        }
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        let contract = &*self.inner.contract;
        if dev.on(service, PerService::FuzNonUtf8Internal) && std::str::from_utf8(&bytes).is_err() {
            return Err(Rejection::internal("Error interno"));
        }
        let mut body = match validate::Body::parse(contract.service(service), &bytes) {
            Ok(body) => body,
            Err(mut r) => {
                if r.mensaje.starts_with("JSON malformado")
                    && dev.on(service, PerService::FmtMalformedAsBadField)
                {
                    r.codigo = Role::BadField;
                } else if r.mensaje.starts_with("El cuerpo debe ser")
                    && dev.on(service, PerService::FmtNotObjectAsMissing)
                {
                    r.codigo = Role::MissingField;
                }
                return Err(r);
            }
        };
        body.apply_enum_deviations(dev);
        let clock = &self.inner.clock;
        let today = clock.today();
        let received = u32::try_from(clock.now_unix()).unwrap_or(u32::MAX);
        match service {
            Service::Afiliacion => {
                let a = validate::affiliation(contract, &body, client.administradora, today, dev)?;
                let index = self.store().affiliation(&a, received, dev)?;
                Ok(self.transaction("AF", index))
            }
            Service::Retracto => {
                let r = validate::retraction(contract, &body, client.administradora, today, dev)?;
                let affiliation = self.affiliation_index(r.transaccion);
                let index = self.store().retraction(&r, affiliation, received, dev)?;
                Ok(self.transaction("RT", index))
            }
        }
    }
}
