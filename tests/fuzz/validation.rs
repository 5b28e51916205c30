//! Fuzz target 1a: the mock's validation called directly
//! (`validate::Body::parse`, `validate::affiliation`/`retraction`), the main
//! million-case target.

use std::fmt::Debug;

use super::bodies::*;
use super::fuzz;
use chrono::Days;
use mss_contract::{Contract, Service};
use mss_mock::Deviations;
use mss_mock::codes::Role;
use mss_mock::validate::{self, Rejection};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
// ---------------------------------------------------------------------------
// 1a. The mock's validation, called directly: the main million-case target.
// ---------------------------------------------------------------------------

/// Whose token the body comes with.
#[derive(Debug, Clone)]
pub(super) enum TokenAdmin {
    /// The administrator the body names (when it names a known one).
    Own,
    /// Any index, also past the list.
    Index(u8),
}

#[derive(Debug, Clone)]
pub(super) struct ValidationCase {
    service: Service,
    body: BodyInput,
    token_admin: TokenAdmin,
    /// Days from today to the mock's "today" (its clock moves a century either way).
    today_offset: i64,
    deviations: Vec<String>,
}

pub(super) fn validation_case() -> impl Strategy<Value = ValidationCase> {
    let today_offset = prop_oneof![
        6 => Just(0i64),
        1 => -36_600i64..36_600,
    ];
    let token_admin = prop_oneof![
        6 => Just(TokenAdmin::Own),
        1 => any::<u8>().prop_map(TokenAdmin::Index),
        1 => (0u8..8).prop_map(TokenAdmin::Index),
    ];
    (
        service(),
        body_input(),
        token_admin,
        today_offset,
        deviations(),
    )
        .prop_map(
            |(service, body, token_admin, today_offset, deviations)| ValidationCase {
                service,
                body,
                token_admin,
                today_offset,
                deviations,
            },
        )
}

/// A refusal names a code of the catalogue with a 4xx status, and says why.
pub(super) fn check_rejection(r: &Rejection) -> Result<(), TestCaseError> {
    prop_assert!(
        !r.internal && r.codigo != Role::Stored,
        "not a refusal of the catalogue: {:?}",
        r
    );
    let status = Contract::embedded().code(r.codigo).http_status;
    prop_assert!(
        (400..500).contains(&status),
        "{} has status {status}",
        r.codigo
    );
    prop_assert!(!r.mensaje.trim().is_empty(), "{} without mensaje", r.codigo);
    Ok(())
}

#[test]
pub(super) fn fuzz_mock_validation() {
    let contract = Contract::embedded();
    let real_today = mss_harness::domain::today_bogota();
    let seeds = seeds(real_today, |_| Some("0A1BAF000000000001".to_owned()));
    let admins = contract.administradoras.len();
    fuzz(
        "mock validation (validate::Body::parse, validate::affiliation/retraction)",
        1000,
        validation_case(),
        |case, tally| {
            let bytes = seeds.render(case.service, &case.body);
            let dev = Deviations::parse(contract, &case.deviations)
                .map_err(|e| TestCaseError::fail(format!("deviation ids: {e}")))?;
            let today = if case.today_offset < 0 {
                real_today.checked_sub_days(Days::new(case.today_offset.unsigned_abs()))
            } else {
                real_today.checked_add_days(Days::new(case.today_offset.unsigned_abs()))
            }
            .expect("within a century of today");
            let token_admin = match case.token_admin {
                TokenAdmin::Own => admin_index(&bytes).unwrap_or(0),
                TokenAdmin::Index(i) => i,
            };
            let spec = contract.service(case.service);
            let mut body = match validate::Body::parse(spec, &bytes) {
                Ok(body) => body,
                Err(r) => {
                    check_rejection(&r)?;
                    tally.count(Contract::embedded().codigo_of(r.codigo));
                    return Ok(());
                }
            };
            // What the mock does before validating, under ENUM deviations.
            body.apply_enum_deviations(&dev);
            let checked = match case.service {
                Service::Afiliacion => {
                    validate::affiliation(contract, &body, token_admin, today, &dev).map(|a| {
                        (
                            a.filing.administradora,
                            a.filing.tipo_documento,
                            a.fecha_solicitud,
                            a.filing.radicado.is_empty() || a.filing.numero_documento.is_empty(),
                            a.origen.is_none_or(|o| usize::from(o) < admins),
                        )
                    })
                }
                Service::Retracto => {
                    validate::retraction(contract, &body, token_admin, today, &dev).map(|r| {
                        (
                            r.filing.administradora,
                            r.filing.tipo_documento,
                            r.fecha_retracto,
                            r.filing.radicado.is_empty()
                                || r.filing.numero_documento.is_empty()
                                || r.transaccion.is_empty(),
                            true,
                        )
                    })
                }
            };
            match checked {
                Err(r) => {
                    check_rejection(&r)?;
                    tally.count(Contract::embedded().codigo_of(r.codigo));
                }
                Ok((admin, tipo, fecha, empty, origen_ok)) => {
                    let body = String::from_utf8_lossy(&bytes);
                    prop_assert!(usize::from(admin) < admins, "admin {admin}: {body}");
                    prop_assert!(
                        usize::from(tipo) < contract.tipos_documento.len(),
                        "tipo {tipo}: {body}"
                    );
                    prop_assert!(origen_ok, "origen out of the list: {body}");
                    prop_assert!(fecha <= today, "{fecha} after {today}: {body}");
                    if dev.is_empty() {
                        prop_assert!(!empty, "empty identifier accepted: {body}");
                        prop_assert_eq!(
                            admin,
                            token_admin,
                            "another administrator's body: {}",
                            body
                        );
                    }
                    tally.count("accepted");
                }
            }
            Ok(())
        },
    );
}
