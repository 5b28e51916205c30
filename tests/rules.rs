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
    let t = TestMock::new();
    let admin = "25-14"; // Colpensiones receives regime transfers from the AFPs.
    let token = t.token(t.cred(admin)).await;
    let (mut g, _) = t.generators(u64::from(age) * 10 + days_until_birthday, admin);
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
    t.post(
        &token,
        Service::Afiliacion,
        &serde_json::to_value(&a).expect("json"),
    )
    .await
}

#[tokio::test]
async fn woman_turning_47_on_the_request_day_is_refused_the_day_before_accepted() {
    let (status, answer) = transfer(Sexo::F, 47, 0).await;
    assert_envelope(status, &answer, "NEG02");
    let (status, answer) = transfer(Sexo::F, 47, 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn man_turning_52_on_the_request_day_is_refused_the_day_before_accepted() {
    let (status, answer) = transfer(Sexo::M, 52, 0).await;
    assert_envelope(status, &answer, "NEG02");
    let (status, answer) = transfer(Sexo::M, 52, 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
