//! The mock's run-time controls: token revocation, the global stall and the
//! latency profile.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use mss_contract::Service;
use mss_mock::{LatencyProfile, MockConfig};
use serde_json::Value;

use crate::util::{TestMock, assert_envelope};

#[tokio::test]
async fn revoked_tokens_are_refused_and_new_ones_work() {
    let admin = "230301";
    let (t, token, mut g, _) = TestMock::session(admin, 1).await;
    let body = serde_json::to_value(g.next_affiliation().expect("record")).expect("json");
    let revoked = t.admin(Method::POST, "/__admin/revoke-tokens", "").await;
    assert_eq!(revoked["revoked"], 1);
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_envelope(status, &answer, "AUT01");
    let token = t.token(t.cred(admin)).await;
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn latency_profile_is_set_read_and_checked() {
    let t = TestMock::new();
    let fixed = r#"{"distribution":"fixed","ms":60}"#;
    let set = t.admin(Method::POST, "/__admin/latency", fixed).await;
    assert_eq!(set["distribution"], "fixed");
    let got = t.admin(Method::GET, "/__admin/latency", "").await;
    assert_eq!(got["ms"], 60.0);
    let start = Instant::now();
    let (status, _) = t.token_request("grant_type=password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        start.elapsed() >= Duration::from_millis(60),
        "{:?}",
        start.elapsed()
    );
    // Admin calls are never delayed, and bad profiles are refused.
    for (body, codigo) in [
        (
            r#"{"distribution":"uniform","min_ms":9,"max_ms":3}"#,
            "VAL02",
        ),
        (r#"{"distribution":"gamma"}"#, "VAL00"),
    ] {
        let (status, _, answer) = t.call(Method::POST, "/__admin/latency", &[], body).await;
        let answer: Value = serde_json::from_slice(&answer).expect("envelope");
        assert_envelope(status, &answer, codigo);
    }
    let config = MockConfig::parse(
        "[latency]\ndistribution = \"lognormal\"\nmedian_ms = 20\nsigma = 0.5\ncap_ms = 500\n[[clients]]\nusername='u'\npassword='p'\nclient_id='c'\nadministradora='230301'",
        "x.toml",
        mss_contract::Contract::embedded(),
    )
    .expect("config with latency");
    assert_eq!(
        config.latency,
        LatencyProfile::Lognormal {
            median_ms: 20.0,
            sigma: 0.5,
            cap_ms: 500.0
        }
    );
    let bad = MockConfig::parse(
        "[latency]\ndistribution = \"fixed\"\nms = -1\n[[clients]]\nusername='u'\npassword='p'\nclient_id='c'\nadministradora='230301'",
        "x.toml",
        mss_contract::Contract::embedded(),
    )
    .expect_err("negative latency");
    assert!(bad.to_string().contains("latency"), "{bad}");
}

#[tokio::test]
async fn a_stall_holds_every_answer_including_those_in_flight() {
    let t = TestMock::new();
    t.admin(
        Method::POST,
        "/__admin/latency",
        r#"{"distribution":"fixed","ms":200}"#,
    )
    .await;
    let start = Instant::now();
    // In flight: its 200 ms are running when the stall begins.
    let in_flight = {
        let app = t.app.clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("grant_type=password"))
                .expect("request");
            app.oneshot(req).await.expect("infallible").status()
        })
    };
    // Evidence that it is in flight: the mock has counted the refusal (its
    // handler ran; the answer now waits out the 200 ms), and it is unanswered.
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.mock.stats()["token"]["rejected"].as_u64().unwrap_or(0) < 1 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the mock"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stall = t
        .admin(Method::POST, "/__admin/stall", r#"{"seconds": 1}"#)
        .await;
    assert!(
        !in_flight.is_finished(),
        "answered before the stall began: the test proves nothing ({:?})",
        start.elapsed()
    );
    assert!(
        stall["stalled_for_seconds"]
            .as_f64()
            .is_some_and(|s| s > 0.9)
    );
    assert_eq!(in_flight.await.expect("task"), StatusCode::BAD_REQUEST);
    let held = start.elapsed();
    assert!(held >= Duration::from_millis(1000), "{held:?}");
    // After the stall, answers take their profile's time again.
    let again = Instant::now();
    let (status, _) = t.token_request("grant_type=password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        again.elapsed() < Duration::from_millis(900),
        "{:?}",
        again.elapsed()
    );
    t.assert_bad_request(Method::POST, "/__admin/stall", r#"{"seconds": -1}"#)
        .await;
}

#[tokio::test]
async fn deviations_are_set_listed_checked_and_cleared_at_run_time() {
    let admin = "230301";
    let (t, token, mut g, _) = TestMock::session(admin, 3).await;
    let mut body = serde_json::to_value(g.next_affiliation().expect("record")).expect("json");
    body["primerApellido"] = "A".repeat(21).into();
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_envelope(status, &answer, "VAL02");

    let set = t
        .admin(
            Method::POST,
            "/__admin/deviations",
            r#"{"deviate":["len-afi-primerApellido-max+1"]}"#,
        )
        .await;
    assert_eq!(
        set["active"],
        serde_json::json!(["LEN-AFI-primerApellido-MAX+1"])
    );
    assert!(set["known"].as_array().is_some_and(|k| k.len() > 60));
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the deviation lets 21 characters through: {answer}"
    );

    let (status, _, answer) = t
        .call(
            Method::POST,
            "/__admin/deviations",
            &[],
            r#"{"deviate":["NOPE-1"]}"#,
        )
        .await;
    let answer: Value = serde_json::from_slice(&answer).expect("envelope");
    assert_envelope(status, &answer, "VAL02");
    assert!(
        answer["mensaje"]
            .as_str()
            .is_some_and(|m| m.contains("NOPE-1"))
    );

    let cleared = t.admin(Method::DELETE, "/__admin/deviations", "").await;
    assert_eq!(cleared["active"], serde_json::json!([]));
    body["numeroRadicado"] = "OTRO-RADICADO-1".into();
    let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
    assert_envelope(status, &answer, "VAL02");

    // Unknown ids in a configuration file are refused when the mock starts.
    let config = MockConfig::parse(
        "deviate = [\"NOPE-2\"]\n[[clients]]\nusername='u'\npassword='p'\nclient_id='c'\nadministradora='230301'",
        "x.toml",
        mss_contract::Contract::embedded(),
    )
    .expect("well-formed");
    let err = mss_mock::Mock::new(config, mss_contract::Contract::embedded().clone())
        .expect_err("unknown deviation");
    assert!(err.to_string().contains("NOPE-2"), "{err}");
}
