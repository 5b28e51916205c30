//! The business-day calendar against the official holidays, and the retraction
//! window at the mock across a holiday Monday.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use mss_contract::Service;
use mss_harness::domain::{Novedad, calendar};
use mss_harness::generator::AcceptedAffiliation;

use crate::util::{TestMock, assert_envelope, date};

#[test]
fn holidays_2020_to_2030_match_the_official_table() {
    // tests/data/festivos_2020_2030.csv was produced independently from the
    // `holidays` package (Ley 51/1983, Ley 2578/2026), one row per date.
    let text = include_str!("data/festivos_2020_2030.csv");
    let official: BTreeSet<NaiveDate> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| date(l.split(',').next().expect("fecha")))
        .collect();
    let ours: BTreeSet<NaiveDate> = (2020..=2030)
        .flat_map(calendar::festivos)
        .map(|f| f.fecha)
        .collect();
    let missing: Vec<_> = official.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&official).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for d in &official {
        assert!(!calendar::is_business_day(*d));
    }
    assert!(official.len() > 190);
}

#[test]
fn every_year_1990_to_2100_has_its_fixed_and_moved_holidays() {
    for year in 1990..=2100 {
        let dates: Vec<NaiveDate> = calendar::festivos(year).iter().map(|f| f.fecha).collect();
        for (m, d) in [(1, 1), (5, 1), (7, 20), (8, 7), (12, 8), (12, 25)] {
            assert!(dates.contains(&NaiveDate::from_ymd_opt(year, m, d).expect("date")));
        }
        let easter = calendar::easter_sunday(year);
        assert_eq!(easter.weekday(), chrono::Weekday::Sun);
        for f in calendar::festivos(year) {
            let fixed = [(1, 1), (5, 1), (7, 20), (8, 7), (12, 8), (12, 25)]
                .contains(&(f.fecha.month(), f.fecha.day()));
            let holy = f.fecha == easter - chrono::Days::new(3)
                || f.fecha == easter - chrono::Days::new(2);
            assert!(
                fixed || holy || f.fecha.weekday() == chrono::Weekday::Mon,
                "{} {}",
                f.fecha,
                f.nombre
            );
        }
    }
}

/// Report an affiliation requested on `solicitud` and retract it on `retracto`.
async fn retract(
    t: &TestMock,
    token: &str,
    seed: u64,
    solicitud: NaiveDate,
    retracto: NaiveDate,
) -> (StatusCode, serde_json::Value) {
    let (mut affiliations, mut retractions) = t.generators(seed, "230301");
    let persona = affiliations.persona(solicitud, None).expect("persona");
    let a = affiliations.affiliation_of(&persona, Novedad::Afiliacion, solicitud);
    let (status, answer) = t
        .post(
            token,
            Service::Afiliacion,
            &serde_json::to_value(&a).expect("json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let accepted =
        AcceptedAffiliation::of(&a, answer["numeroTransaccion"].as_str().expect("numero"));
    let r = retractions.retraction_dated(&accepted, retracto, None);
    t.post(
        token,
        Service::Retracto,
        &serde_json::to_value(&r).expect("json"),
    )
    .await
}

#[tokio::test]
async fn fifth_business_day_accepted_sixth_rejected_across_a_holiday_monday() {
    // Friday 2025-01-03; Monday 2025-01-06 is Reyes (moved holiday). Business
    // days after it: 7, 8, 9, 10, 13 (5th), 14 (6th).
    let t = TestMock::new();
    let token = t.token(t.cred("230301")).await;
    let solicitud = date("2025-01-03");
    assert_eq!(
        calendar::add_business_days(solicitud, 5),
        date("2025-01-13")
    );
    let (status, answer) = retract(&t, &token, 1, solicitud, date("2025-01-13")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = retract(&t, &token, 2, solicitud, date("2025-01-14")).await;
    assert_envelope(status, &answer, "NEG11");
}

#[tokio::test]
async fn the_window_follows_the_mock_clock() {
    // Requested today; the mock's clock is moved to the 5th and then the 6th
    // business day, where a retraction dated that day is accepted, then refused.
    let t = TestMock::new();
    let today = t.today();
    let token = t.token(t.cred("230301")).await;
    let (mut affiliations, mut retractions) = t.generators(5, "230301");
    let mut accepted = Vec::new();
    for _ in 0..2 {
        let persona = affiliations.persona(today, None).expect("persona");
        let a = affiliations.affiliation_of(&persona, Novedad::Afiliacion, today);
        let (status, answer) = t.post_record(&token, Service::Afiliacion, &a).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        accepted.push(AcceptedAffiliation::of(
            &a,
            answer["numeroTransaccion"].as_str().expect("numero"),
        ));
    }
    for (n, expected) in [(5u32, None), (6, Some("NEG11"))] {
        let day = calendar::add_business_days(today, n);
        let offset = (day - t.today()).num_seconds();
        t.admin(
            Method::POST,
            "/__admin/clock",
            &format!(r#"{{"advance_seconds": {offset}}}"#),
        )
        .await;
        assert_eq!(t.today(), day);
        // The old token has expired on the way; a new one is needed.
        let token = t.token(t.cred("230301")).await;
        let r = retractions.retraction_dated(&accepted[(n - 5) as usize], day, None);
        let (status, answer) = t.post_record(&token, Service::Retracto, &r).await;
        match expected {
            None => assert_eq!(status, StatusCode::OK, "{answer}"),
            Some(codigo) => assert_envelope(status, &answer, codigo),
        }
    }
}
