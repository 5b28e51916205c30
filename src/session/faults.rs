//! A scenario's faults, installed where they are injected — the embedded
//! mock, or an `mss-mock` on this machine through `/__admin/faults` — when
//! the load starts, and cleared (with what was injected) when it ends.

use std::time::Duration;

use serde_json::Value;

use crate::scenario::RunPlan;
use crate::usage::usage;

/// Where a scenario's faults go: the embedded mock, or an `mss-mock` on this
/// machine through `/__admin/faults`.
#[derive(Clone)]
pub enum FaultTarget {
    /// The embedded mock.
    Embedded(mss_mock::Mock),
    /// An `mss-mock` on this machine, through `/__admin/faults`.
    Remote {
        /// The run's client.
        http: reqwest::Client,
        /// `/__admin/faults` of the target.
        url: String,
    },
}

impl FaultTarget {
    /// `None` when the scenario has no faults; an error when the target cannot
    /// take them (checked before any load).
    pub async fn new(
        plan: &RunPlan,
        mock: Option<&mss_mock::Mock>,
        http: &reqwest::Client,
        base_url: &str,
    ) -> anyhow::Result<Option<FaultTarget>> {
        if plan.faults.is_empty() {
            return Ok(None);
        }
        if let Some(m) = mock {
            return Ok(Some(FaultTarget::Embedded(m.clone())));
        }
        let url = format!("{}/__admin/faults", base_url.trim_end_matches('/'));
        let answer = http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status());
        match answer {
            Ok(s) if s.is_success() => Ok(Some(FaultTarget::Remote {
                http: http.clone(),
                url,
            })),
            Ok(s) => Err(usage(format!(
                "faults: the target does not take faults (GET {url} answered {s}); faults need an mss-mock"
            ))),
            Err(e) => Err(usage(format!(
                "faults: the target does not take faults (GET {url}: {})",
                crate::outcome::Outcome::of_transport(&e)
            ))),
        }
    }

    /// Install `specs`; offsets count from now.
    pub async fn install(&self, specs: &[mss_mock::FaultSpec]) -> Result<(), String> {
        match self {
            FaultTarget::Embedded(m) => m.set_faults(specs),
            FaultTarget::Remote { http, url } => {
                let r = http
                    .post(url.as_str())
                    .json(&specs)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| format!("POST {url}: {e}"))?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Err(format!("POST {url} answered {status}: {body}"))
                }
            }
        }
    }

    /// Clear the faults; the injections per kind.
    pub async fn clear(&self) -> Value {
        match self {
            FaultTarget::Embedded(m) => {
                let injected = m.faults().injected();
                let _ = m.set_faults(&[]);
                Value::Object(injected)
            }
            FaultTarget::Remote { http, url } => {
                let stats = url.replace("/__admin/faults", "/__admin/stats");
                let injected = match http
                    .get(&stats)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .ok()
                        .map(|v| v["faults_injected"].clone()),
                    Err(_) => None,
                };
                let _ = http
                    .delete(url.as_str())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                injected.unwrap_or(Value::Null)
            }
        }
    }
}
