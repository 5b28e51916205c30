//! What the in-process mock benches (`mock`, `mock_state_memory`) share: a
//! mock with one client, a bearer token from its `/token`, a generator dated
//! by the mock's clock, and one valid affiliation posted through the router
//! (no socket). Each bench includes it with `mod in_process;`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mss_harness::generator::{AffiliationGenerator, GeneratorConfig};
use mss_mock::{App, ClientConfig, Mock, MockConfig};
use tower::ServiceExt;

/// The client's username and client_id.
const CLIENT: &str = "bench";

/// The administrator the client reports for: the contract's default one.
fn administradora() -> String {
    let contract = mss_contract::Contract::embedded();
    contract.default_administradora().codigo.clone()
}

/// A mock whose one client is `bench` with a random password (returned), its
/// configuration first changed by `configure`.
pub fn mock(configure: impl FnOnce(&mut MockConfig)) -> (Mock, String) {
    let password = format!("bench-{:x}", rand::random::<u64>());
    let mut config = MockConfig::with_clients(vec![ClientConfig {
        username: CLIENT.into(),
        password: password.clone(),
        client_id: CLIENT.into(),
        administradora: administradora(),
        services: None,
    }]);
    configure(&mut config);
    let mock = Mock::new(config, mss_contract::Contract::embedded().clone()).expect("mock");
    (mock, password)
}

/// A generator seeded with `seed` whose "today" is the mock's.
pub fn generator(mock: &Mock, seed: u64) -> AffiliationGenerator {
    let mut config =
        GeneratorConfig::new(mss_contract::Contract::embedded(), seed, &administradora());
    config.as_of = mock.clock().today();
    AffiliationGenerator::new(config).expect("generator")
}

/// The `authorization` header value of a token the mock grants for `password`.
pub async fn bearer(app: &App, password: &str) -> String {
    let form =
        format!("grant_type=password&username={CLIENT}&password={password}&client_id={CLIENT}");
    let req = Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let bytes = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .expect("body");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    format!("Bearer {}", v["access_token"].as_str().expect("token"))
}

/// Posts one affiliation (JSON `body`) and reads the answer, which must be 200.
pub async fn post_affiliation(app: &App, auth: &str, body: Vec<u8>) {
    let req = Request::post("/ReportarAfiliaciontraslado")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    drop(axum::body::to_bytes(resp.into_body(), 4096).await);
}
