//! The age rule of regime transfers at the mock: refused from the day a woman
//! turns 47 (a man 52), accepted the day before.

use axum::http::StatusCode;
use chrono::{Days, Months};
use mss_contract::Service;
use mss_harness::domain::{Novedad, Sexo, rules};
use mss_harness::generator::Persona;

use crate::util::{TestMock, assert_envelope};

/// A regime transfer requested on 2026-06-15 by someone whose `age`-th birthday is
/// `days_until_birthday` days after it (0: that very day).
async fn transfer(
    sexo: Sexo,
    age: u32,
    days_until_birthday: u64,
) -> (StatusCode, serde_json::Value) {
    // Colpensiones receives regime transfers from the AFPs.
    let seed = u64::from(age) * 10 + days_until_birthday;
    let (t, token, mut g, _) = TestMock::session("25-14", seed).await;
    // A fixed past request day keeps the test independent of today's date.
    let fecha = crate::util::date("2026-06-15");
    let birthday = fecha + Days::new(days_until_birthday);
    let nacimiento = birthday
        .checked_sub_months(Months::new(12 * age))
        .expect("date");
    assert_eq!(rules::birthday(nacimiento, age), Some(birthday));
    let persona = Persona {
        sexo,
        fecha_nacimiento: nacimiento,
        ..g.persona(fecha, Some(30)).expect("persona")
    };
    let a = g.affiliation_of(&persona, Novedad::TrasladoRegimen, fecha);
    t.post_record(&token, Service::Afiliacion, &a).await
}

/// A transfer requested on the day `sexo` turns `age` is refused with
/// NEG02; one requested the day before, accepted.
async fn refused_on_the_birthday_accepted_the_day_before(sexo: Sexo, age: u32) {
    let (status, answer) = transfer(sexo, age, 0).await;
    assert_envelope(status, &answer, "NEG02");
    let (status, answer) = transfer(sexo, age, 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn woman_turning_47_on_the_request_day_is_refused_the_day_before_accepted() {
    refused_on_the_birthday_accepted_the_day_before(Sexo::F, 47).await;
}

#[tokio::test]
async fn man_turning_52_on_the_request_day_is_refused_the_day_before_accepted() {
    refused_on_the_birthday_accepted_the_day_before(Sexo::M, 52).await;
}

#[tokio::test]
async fn implausible_dates_are_refused_with_val02() {
    let admin = "230301";
    let (t, token, mut g, mut r) = TestMock::session(admin, 8).await;
    let today = t.today();
    let cases: [(&str, String); 5] = [
        ("fechaSolicitud", "0000-03-01".into()),
        ("fechaSolicitud", "1994-03-31".into()),
        ("fechaNacimiento", "1899-12-31".into()),
        // Ten years old on the request day.
        (
            "fechaNacimiento",
            (today.checked_sub_months(Months::new(120)).expect("date")).to_string(),
        ),
        ("fechaEfectividad", "9999-12-31".into()),
    ];
    for (field, value) in cases {
        let mut body = serde_json::to_value(g.next_affiliation().expect("record")).expect("json");
        body[field] = value.clone().into();
        let (status, answer) = t.post(&token, Service::Afiliacion, &body).await;
        assert_envelope(status, &answer, "VAL02");
        assert!(
            answer["mensaje"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{field}={value}: {answer}"
        );
    }
    let a = g.next_affiliation().expect("record");
    let (status, answer) = t.post_record(&token, Service::Afiliacion, &a).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let accepted = mss_harness::generator::AcceptedAffiliation::of(
        &a,
        answer["numeroTransaccion"].as_str().expect("numero"),
    );
    let old = r.retraction_dated(&accepted, crate::util::date("0000-03-03"), None);
    let (status, answer) = t.post_record(&token, Service::Retracto, &old).await;
    assert_envelope(status, &answer, "VAL02");
}

#[tokio::test]
async fn the_clock_refuses_to_leave_its_range() {
    use axum::http::Method;
    let t = TestMock::new();
    let (status, _, body) = t
        .call(
            Method::POST,
            "/__admin/clock",
            &[],
            format!(r#"{{"advance_seconds": {}}}"#, i64::MAX),
        )
        .await;
    let body: serde_json::Value = serde_json::from_slice(&body).expect("envelope");
    assert_envelope(status, &body, "VAL02");
    let clock = t.admin(Method::GET, "/__admin/clock", "").await;
    assert_eq!(clock["offset_seconds"], 0);
    assert_eq!(t.today(), mss_harness::domain::today_bogota());
}
