//! Each invalid variant of the generator is rejected by the mock with exactly its
//! HTTP status and codigo (from contract/errores.csv), for an AFP and for
//! Colpensiones. Variants with several mutations (as the generator lists them)
//! are drawn until every mutation has been seen, and the test asserts that
//! they all were, and no other.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use mss_harness::generator::invalid::{CATALOGUE, InvalidGenerator};

use crate::util::{TestMock, assert_envelope};

async fn rejected_with_its_codigo(codigo: &str) {
    for admin in ["230301", "25-14"] {
        let t = TestMock::new();
        let (mut affiliations, mut retractions) = t.generators(77, admin);
        let mut cases = InvalidGenerator::new(&mut affiliations, &mut retractions);
        let listed: BTreeSet<String> = cases
            .mutations(codigo)
            .expect("mutations")
            .into_iter()
            .collect();
        let wanted = (!listed.is_empty()).then_some(listed.len());
        let mut seen = BTreeSet::new();
        for n in 0..400 {
            if n >= 12 && wanted.is_none_or(|w| seen.len() >= w) {
                break;
            }
            let case = cases.case(codigo).expect("case");
            assert_eq!(case.codigo, codigo);
            let (status, answer) = t.run_case(&case).await;
            assert_eq!(
                status,
                StatusCode::from_u16(case.http_status).expect("status"),
                "{admin} {codigo} ({}): {answer}\n{:#}",
                case.mutation,
                serde_json::to_value(&case).expect("json")
            );
            assert_envelope(status, &answer, codigo);
            seen.insert(case.mutation.clone());
        }
        if wanted.is_some() {
            assert_eq!(seen, listed, "{admin} {codigo}: mutations seen");
        }
    }
}

macro_rules! per_codigo {
    ($($name:ident => $codigo:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                rejected_with_its_codigo($codigo).await;
            }
        )*

        #[test]
        fn every_catalogue_entry_has_a_test() {
            let tested = [$($codigo),*];
            for kind in CATALOGUE {
                let codigo = kind.codigo(mss_contract::Contract::embedded());
                assert!(tested.contains(&codigo), "{codigo} has no test");
            }
        }
    };
}

per_codigo! {
    val01_required_field_missing => "VAL01",
    val02_bad_format => "VAL02",
    val03_document_type_not_for_pensions => "VAL03",
    val04_administrator_or_regime => "VAL04",
    val05_unknown_divipola => "VAL05",
    neg01_duplicate => "NEG01",
    neg02_too_close_to_pension_age => "NEG02",
    neg03_regime_transfer_within_five_years => "NEG03",
    neg04_switch_within_six_months => "NEG04",
    neg05_same_or_wrong_origin => "NEG05",
    neg10_unknown_affiliation => "NEG10",
    neg11_retraction_too_late => "NEG11",
    neg12_already_retracted => "NEG12",
}
