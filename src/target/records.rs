//! What a target on this machine stored, for the reconciliation with what
//! the harness saw: the embedded mock's stats, or an `mss-mock`'s
//! `/__admin/stats`.

use std::time::Duration;

use serde_json::Value;

use crate::domain::Service;

/// Whether `url`'s host is this machine by name.
pub fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| crate::connect::is_local_host(&h))
}

/// Records accepted per service by a mock's stats.
pub fn accepted_of(stats: &Value) -> [u64; 2] {
    Service::ALL.map(|s| {
        stats["services"][s.name()]["accepted"]
            .as_u64()
            .unwrap_or(0)
    })
}

/// The accepted records of an `mss-mock` at `base_url` (`None` when the
/// target is not one: no `/__admin/stats`).
pub async fn remote_accepted(http: &reqwest::Client, base_url: &str) -> Option<[u64; 2]> {
    let url = format!("{}/__admin/stats", base_url.trim_end_matches('/'));
    let r = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    let stats: Value = r.json().await.ok()?;
    stats["services"].is_object().then(|| accepted_of(&stats))
}
