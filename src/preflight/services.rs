//! The service stages of preflight: one harmless call per service, refused by
//! design so that nothing real is reported — an affiliation without its
//! required fields (a validation refusal) and the retraction of an
//! affiliation that does not exist (a business refusal).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use hyper::header::HeaderValue;

use super::{Http, Stage, token};
use crate::credentials::CredentialSet;
use crate::domain::{Contract, Service};
use crate::generator::{AcceptedAffiliation, GeneratorConfig, RetractionGenerator};
use crate::transport::Slot;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Where the calls go and as whom.
pub(super) struct Caller<'a> {
    /// How the calls reach the target.
    pub http: &'a Http<'a>,
    /// The credentials.
    pub creds: &'a CredentialSet,
    /// The affiliation's and the retraction's client_id.
    pub clients: (&'a str, &'a str),
    /// The reporting administrator.
    pub administradora: &'a str,
    /// The contract the calls follow.
    pub contract: &'a Arc<Contract>,
}

/// Call both services with `tok` (the affiliation's access token; the
/// retraction gets its own when its client_id differs).
pub(super) async fn probe(
    afi: &mut Stage,
    ret: &mut Stage,
    caller: &Caller<'_>,
    slot: &mut Slot,
    tok: String,
) -> anyhow::Result<()> {
    let Caller {
        http,
        creds,
        clients: (afi_client, ret_client),
        administradora,
        contract,
    } = *caller;
    // A retraction of an affiliation that does not exist, and an
    // affiliation without its required fields: both must be refused.
    let mut config = GeneratorConfig::new(contract, 1, administradora);
    config.radicado_prefix = "MSSPREFLIGHT".into();
    let mut g = RetractionGenerator::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let accepted = AcceptedAffiliation {
        numero_transaccion: format!("NOEXISTE{:09}", rand::random::<u32>() % 1_000_000_000),
        codigo_administradora: administradora.to_owned(),
        // A type for pensions that takes this number (a cédula).
        tipo_documento: contract
            .tipos_documento
            .iter()
            .find(|t| t.permitido_pensiones && t.patron_numero.is_match("1000000001"))
            .map(|t| t.codigo.clone())
            .unwrap_or_default(),
        numero_documento: "1000000001".into(),
        fecha_solicitud: crate::domain::today_bogota(),
    };
    let retraction =
        serde_json::to_value(g.retraction_dated(&accepted, accepted.fecha_solicitud, None))?;
    let empty = json!({"codigoAdministradora": administradora});
    let mut ret_token = tok.clone();
    if ret_client != afi_client {
        // One client_id per service: the retraction needs its own token.
        if let Ok(r) = token::request(http, slot, creds, ret_client).await
            && let Ok(v) = serde_json::from_slice::<Value>(&r.body)
            && let Some(t) = v["access_token"].as_str()
        {
            ret_token = t.to_owned();
        }
    }
    for (stage, service, body, token, expected) in [
        (
            afi,
            Service::Afiliacion,
            &empty,
            &tok,
            "a validation refusal (VAL01)",
        ),
        (
            ret,
            Service::Retracto,
            &retraction,
            &ret_token,
            "a business refusal (NEG10)",
        ),
    ] {
        let t = Instant::now();
        let bearer = HeaderValue::try_from(format!("Bearer {token}"))?;
        let body = serde_json::to_vec(body)?;
        let r = http
            .post(slot, service.path(), JSON, Some(bearer), body.into())
            .await;
        match r {
            Err(e) => stage.done(false, t, format!("no answer: {e}"), Value::Null),
            Ok(answer) => {
                let status = answer.status.as_u16();
                let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let (timed, phases) = super::phases(&answer.phases);
                let codigo = v["codigo"].as_str().unwrap_or("").to_owned();
                let refused =
                    (400..500).contains(&status) && !matches!(status, 401 | 403 | 404 | 405);
                stage.done(
                    refused,
                    t,
                    if refused {
                        format!("{status} {codigo}: refused as intended, nothing reported; {timed}")
                    } else {
                        format!("{status} {codigo}: expected {expected}; {timed}")
                    },
                    json!({"status": status, "codigo": codigo, "mensaje": v["mensaje"], "phases": phases}),
                );
            }
        }
    }
    Ok(())
}
