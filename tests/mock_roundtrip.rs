//! Seeded affiliations and retractions against the mock: all accepted, all valid
//! against the contract's own JSON Schemas; state visible through the admin API.

use axum::http::{Method, StatusCode};
use mss_contract::Service;
use mss_harness::generator::AcceptedAffiliation;
use serde_json::Value;

use crate::util::{TestMock, schema_validator};

/// Post `record` to `service` after checking it against the service's
/// request `schema`: the mock must store it (200). Its answer.
async fn stored(
    t: &TestMock,
    token: &str,
    service: Service,
    record: &impl serde::Serialize,
    schema: &jsonschema::Validator,
    what: &str,
) -> Value {
    let body = serde_json::to_value(record).expect("json");
    if let Err(e) = schema.validate(&body) {
        panic!("{what} does not match the schema: {e}\n{body}");
    }
    let (status, answer) = t.post(token, service, &body).await;
    assert_eq!(status, StatusCode::OK, "{what}: {answer}\n{body}");
    answer
}

#[tokio::test]
async fn ten_thousand_affiliations_then_a_tenth_retracted_are_all_accepted_and_schema_valid() {
    // Arrange
    let admin = "230301";
    let (t, token, mut affiliations, mut retractions) = TestMock::session(admin, 20261125).await;
    let afiliacion_schema = schema_validator("ReportarAfiliaciontrasladoRequest");
    let retracto_schema = schema_validator("ReportarRetractoAfiliacionRequest");
    let envelope_schema = schema_validator("Envelope");

    // Act: 10,000 affiliations.
    let mut accepted = Vec::new();
    for i in 0..10_000 {
        let a = affiliations.next_affiliation().expect("generator");
        let what = format!("affiliation {i}");
        let answer = stored(
            &t,
            &token,
            Service::Afiliacion,
            &a,
            &afiliacion_schema,
            &what,
        )
        .await;
        assert!(envelope_schema.is_valid(&answer), "{answer}");
        let numero = answer["numeroTransaccion"]
            .as_str()
            .expect("numeroTransaccion");
        accepted.push(AcceptedAffiliation::of(&a, numero));
    }

    // Act: retract every tenth.
    for (i, a) in accepted.iter().step_by(10).enumerate() {
        let r = retractions.retraction(a).expect("window open");
        let what = format!("retraction {i}");
        let answer = stored(&t, &token, Service::Retracto, &r, &retracto_schema, &what).await;
        assert!(envelope_schema.is_valid(&answer), "{answer}");
    }

    // Assert: the admin API agrees.
    let stats = t.admin(Method::GET, "/__admin/stats", "").await;
    assert_eq!(
        stats["services"]["ReportarAfiliaciontraslado"]["accepted"], 10_000,
        "{stats}"
    );
    assert_eq!(
        stats["services"]["ReportarRetractoAfiliacion"]["accepted"], 1_000,
        "{stats}"
    );
    assert_eq!(
        stats["services"]["ReportarAfiliaciontraslado"]["rejected"],
        serde_json::json!({})
    );
    assert_eq!(stats["token"]["issued"], 1);

    let numbers: std::collections::HashSet<&str> = accepted
        .iter()
        .map(|a| a.numero_transaccion.as_str())
        .collect();
    assert_eq!(numbers.len(), 10_000, "numeroTransaccion is unique");
}

#[tokio::test]
async fn colpensiones_affiliations_and_retractions_are_accepted() {
    let admin = "25-14";
    let (t, token, mut affiliations, mut retractions) = TestMock::session(admin, 2027).await;
    let schema = schema_validator("ReportarAfiliaciontrasladoRequest");
    for i in 0..2_000 {
        let a = affiliations.next_affiliation().expect("generator");
        let what = format!("affiliation {i}");
        let answer = stored(&t, &token, Service::Afiliacion, &a, &schema, &what).await;
        if i % 10 == 0 {
            let accepted =
                AcceptedAffiliation::of(&a, answer["numeroTransaccion"].as_str().expect("numero"));
            let r = retractions.retraction(&accepted).expect("window open");
            let (status, answer) = t.post_record(&token, Service::Retracto, &r).await;
            assert_eq!(status, StatusCode::OK, "retraction {i}: {answer}");
        }
    }
}

#[tokio::test]
async fn records_are_paginated_json_lines_and_reset_forgets_them() {
    let admin = "25-14";
    let (t, token, mut affiliations, _) = TestMock::session(admin, 3).await;
    let mut radicados = Vec::new();
    for _ in 0..25 {
        let a = affiliations.next_affiliation().expect("generator");
        radicados.push(a.numero_radicado.clone());
        let (status, answer) = t.post_record(&token, Service::Afiliacion, &a).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, headers, body) = t
        .call(Method::GET, "/__admin/records?offset=10&limit=10", &[], "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-total-count"], "25");
    assert_eq!(headers["x-next-offset"], "20");
    let lines: Vec<Value> = String::from_utf8(body)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["numeroRadicado"], radicados[10].as_str());
    assert_eq!(lines[0]["codigoAdministradora"], "25-14");
    assert_eq!(lines[0]["servicio"], "ReportarAfiliaciontraslado");

    t.admin(Method::POST, "/__admin/reset", "").await;
    let stats = t.admin(Method::GET, "/__admin/stats", "").await;
    assert_eq!(
        stats["services"]["ReportarAfiliaciontraslado"]["accepted"],
        0
    );
    assert_eq!(stats["records"]["kept"], 0);
    // After a reset the same radicado is new again (and the token still works).
    let again = affiliations.next_affiliation().expect("generator");
    let (status, answer) = t.post_record(&token, Service::Afiliacion, &again).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    t.assert_bad_request(Method::GET, "/__admin/records?limit=abc", "")
        .await;
}

#[tokio::test]
async fn routes_are_case_insensitive_and_wrong_methods_get_405() {
    let admin = "230201";
    let (t, token, mut affiliations, _) = TestMock::session(admin, 4).await;
    let auth = format!("bEaReR {token}");
    for path in [
        "/ReportarAfiliaciontraslado",
        "/REPORTARAFILIACIONTRASLADO",
        "/reportarafiliacionTraslado",
    ] {
        let body =
            serde_json::to_vec(&affiliations.next_affiliation().expect("generator")).expect("json");
        let (status, _, answer) = t
            .call(
                Method::POST,
                path,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let (status, headers, body) = t
        .call(Method::GET, "/ReportarRetractoAfiliacion", &[], "")
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    let body: Value = serde_json::from_slice(&body).expect("envelope");
    crate::util::assert_envelope(status, &body, "RUT02");
    let (status, _, body) = t.call(Method::POST, "/ReportarOtraCosa", &[], "").await;
    let body: Value = serde_json::from_slice(&body).expect("envelope");
    crate::util::assert_envelope(status, &body, "RUT01");
}
