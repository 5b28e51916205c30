//! The token service and authentication of the report services.

use axum::http::{Method, StatusCode};
use mss_contract::Service;
use serde_json::Value;

use crate::util::{TestMock, assert_envelope, form};

fn grant(cred: &crate::util::Cred) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "password".to_owned()),
        ("username", cred.username.clone()),
        ("password", cred.password.clone()),
        ("client_id", cred.client_id.clone()),
    ]
}

fn encode(pairs: &[(&'static str, String)]) -> String {
    form(
        &pairs
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn valid_grant_gives_a_bearer_token_with_expires_in() {
    let t = TestMock::new();
    let (status, body) = t.token_request(&encode(&grant(t.cred("230301")))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body["access_token"].as_str().is_some_and(|s| s.len() >= 32));
}

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let t = TestMock::new();
    let cred = t.cred("230301").clone();
    let with = |key: &'static str, value: &str| {
        let mut g = grant(&cred);
        for pair in &mut g {
            if pair.0 == key {
                pair.1 = value.to_owned();
            }
        }
        encode(&g)
    };
    for (form, error) in [
        (with("password", "wrong"), "invalid_grant"),
        (with("username", "nobody"), "invalid_grant"),
        (with("client_id", "unknown-client"), "invalid_client"),
        (
            with("grant_type", "client_credentials"),
            "unsupported_grant_type",
        ),
        ("username=a&password=b".to_owned(), "invalid_request"),
        (
            format!("{}&grant_type=password", encode(&grant(&cred))),
            "invalid_request",
        ),
    ] {
        let (status, body) = t.token_request(&form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(body["error_description"].is_string());
    }
    let (status, _, body) = t
        .call(
            Method::POST,
            "/token",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"], "invalid_request");
    let stats = t.admin(Method::GET, "/__admin/stats", "").await;
    assert_eq!(stats["token"]["rejected"], 7);
    assert_eq!(stats["token"]["issued"], 0);
}

async fn affiliation_with_auth(t: &TestMock, authorization: Option<&str>) -> (StatusCode, Value) {
    let (mut g, _) = t.generators(1, "230301");
    let body = serde_json::to_vec(&g.next_affiliation().expect("generator")).expect("json");
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    let (status, _, bytes) = t
        .call(Method::POST, Service::Afiliacion.path(), &headers, body)
        .await;
    (status, serde_json::from_slice(&bytes).expect("envelope"))
}

#[tokio::test]
async fn missing_garbage_and_expired_tokens_are_refused() {
    let t = TestMock::new();
    for auth in [
        None,
        Some("Bearer"),
        Some("Basic abc"),
        Some("Bearer not-a-token"),
    ] {
        let (status, body) = affiliation_with_auth(&t, auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_envelope(status, &body, "AUT01");
    }
    let token = t.token(t.cred("230301")).await;
    let (status, body) = affiliation_with_auth(&t, Some(&format!("BEARER {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Move the mock's clock past the TTL: the same token is now expired.
    let clock = t
        .admin(
            Method::POST,
            "/__admin/clock",
            r#"{"advance_seconds": 301}"#,
        )
        .await;
    assert_eq!(clock["offset_seconds"], 301);
    let (status, body) = affiliation_with_auth(&t, Some(&format!("Bearer {token}"))).await;
    assert_envelope(status, &body, "AUT02");
    t.assert_bad_request(Method::POST, "/__admin/clock", r#"{"advance": 1}"#)
        .await;
}

#[tokio::test]
async fn a_client_not_entitled_to_the_service_or_another_administrator_gets_403() {
    let t = TestMock::new();
    // Protección's retraction-only client calls the affiliation service.
    let token = t.token(t.cred_for("230201", Service::Retracto)).await;
    let (mut g, _) = t.generators(9, "230201");
    let body = serde_json::to_value(g.next_affiliation().expect("generator")).expect("json");
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_envelope(status, &answer, "AUT03");
    // Its affiliation client may.
    let token = t.token(t.cred_for("230201", Service::Afiliacion)).await;
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Porvenir's token reporting for Protección.
    let token = t.token(t.cred("230301")).await;
    let other = serde_json::to_value(g.next_affiliation().expect("generator")).expect("json");
    let (status, answer) = t.post(&token, Service::Afiliacion, &other).await;
    assert_envelope(status, &answer, "AUT03");
}
