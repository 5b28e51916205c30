//! The embedded mock as a run's target, serving the plan's contract: one-off
//! credentials for every administrator of the contract, the scenario's `[target.mock]` settings, a
//! token cache per administrator, served from its own thread
//! ([`super::MockThread`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::MockThread;
use crate::engine::Target;
use crate::scenario::{MockSpec, RunPlan};
use crate::secret::Secret;
use crate::token::{Credentials, TokenCache, TokenPolicy};
use crate::usage::usage;

/// The scenario's `[target.mock]` settings applied to the embedded mock's
/// configuration.
pub fn apply_mock_settings(settings: &MockSpec, config: &mut mss_mock::MockConfig) {
    if let Some(ttl) = settings.token_ttl_seconds {
        config.token_ttl_seconds = ttl;
    }
    if let Some(latency) = settings.latency {
        config.latency = latency;
    }
    if let Some(n) = settings.max_records {
        config.max_records = n;
    }
    if let Some(n) = settings.max_fingerprints {
        config.max_fingerprints = n;
    }
    config.capacity.clone_from(&settings.capacity);
}

/// Start an embedded mock with `settings` and one-off credentials for every
/// administrator; the plan's own administrator's token serves both services,
/// the others' set up invalid cases.
pub fn start(
    plan: &RunPlan,
    settings: &MockSpec,
    http: &reqwest::Client,
    policy: TokenPolicy,
) -> anyhow::Result<(Target, MockThread)> {
    let mut clients = Vec::new();
    let mut creds = HashMap::new();
    for a in &plan.contract.administradoras {
        let password = format!("{:032x}", rand::random::<u128>());
        let client_id = format!("mss-harness-{}", a.codigo);
        clients.push(mss_mock::ClientConfig {
            username: format!("run-{}", a.codigo),
            password: password.clone(),
            client_id: client_id.clone(),
            administradora: a.codigo.clone(),
            services: None,
        });
        creds.insert(
            a.codigo.clone(),
            Credentials {
                username: format!("run-{}", a.codigo),
                password: Secret::new(password),
                client_id,
            },
        );
    }
    let mut config = mss_mock::MockConfig::with_clients(clients);
    apply_mock_settings(settings, &mut config);
    let mock = mss_mock::Mock::new(config, Arc::clone(&plan.contract))
        .map_err(|e| usage(format!("embedded mock: {e}")))?;
    let server = MockThread::start(mock)?;
    let token_url = format!("{}/token", server.base_url);
    let endpoint = crate::transport::Endpoint::new(
        &server.base_url,
        &crate::connect::ConnectArgs::default(),
        plan.http.connect_timeout,
    )
    .map_err(|e| usage(format!("embedded mock: {e:#}")))?;
    let mut caches = HashMap::new();
    for (admin, c) in &creds {
        let cache = TokenCache::new(http.clone(), token_url.clone(), c.clone(), policy)
            .over(endpoint.clone())
            .map_err(|e| usage(format!("embedded mock: {e:#}")))?;
        caches.insert(admin.clone(), Arc::new(cache));
    }
    let own = &plan.data.administradora;
    let mine = caches
        .remove(own)
        .ok_or_else(|| usage(format!("data.administradora {own} is not in the contract")))?;
    let target = Target {
        base_url: server.base_url.clone(),
        tokens: [mine.clone(), mine],
        others: caches,
        caps: None,
        // The embedded mock: plain HTTP on loopback.
        connect: crate::connect::ConnectArgs::default(),
    };
    Ok((target, server))
}
